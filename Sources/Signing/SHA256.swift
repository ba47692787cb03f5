internal import COpenSSL
public import AirlockCore

/// A streaming SHA-256 over OpenSSL's EVP interface (SHA-NI where the CPU has it).
///
/// Not `Sendable`: one hasher belongs to one task at a time.
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() throws(AirlockError) {
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("cannot allocate a digest context") }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw .openSSL("cannot start a SHA-256 digest")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) throws(AirlockError) {
        guard bytes.count > 0 else { return }
        guard EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1 else {
            throw .openSSL("SHA-256 update failed")
        }
    }

    public func update(_ bytes: some Sequence<UInt8>) throws(AirlockError) {
        let array = Array(bytes)
        guard !array.isEmpty else { return }
        let ok = array.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) == 1 }
        guard ok else { throw .openSSL("SHA-256 update failed") }
    }

    /// Finishes the digest; the hasher cannot be used afterwards.
    public func finalize() throws(AirlockError) -> Digest {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &output, &length) == 1, length == 32 else {
            throw .openSSL("SHA-256 finalisation failed")
        }
        return Digest(bytes: output)
    }

    /// Hashes `bytes` whole into `output` (32 bytes) and starts the next digest on the same
    /// context: no allocation and no algorithm lookup per input, for many short inputs in a row
    /// (the audit verifier hashes every line of the log).
    public func hashAndRestart(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(AirlockError) {
        precondition(output.count >= 32)
        var length: UInt32 = 0
        guard bytes.isEmpty || EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1,
            EVP_DigestFinal_ex(context, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) == 1,
            length == 32, EVP_DigestInit_ex(context, nil, nil) == 1
        else { throw .openSSL("SHA-256 failed") }
    }

    /// The digest of a whole byte string.
    public static func hash(_ bytes: some Sequence<UInt8>) throws(AirlockError) -> Digest {
        let hasher = try SHA256Hasher()
        try hasher.update(bytes)
        return try hasher.finalize()
    }
}

/// A SHA-256 digest, printed as `sha256:` and 64 lower-case hex digits.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String { "sha256:" + hex }
}
