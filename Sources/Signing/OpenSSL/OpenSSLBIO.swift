internal import COpenSSL
internal import CAirlockShims
internal import AirlockCore

/// A memory `BIO`: bytes in, bytes out, freed with the wrapper.
final class OpenSSLMemoryBIO {
    let pointer: OpaquePointer

    init() throws(AirlockError) {
        guard let pointer = BIO_new(BIO_s_mem()) else { throw .openSSL("cannot allocate a memory BIO") }
        self.pointer = pointer
    }

    convenience init(_ bytes: [UInt8]) throws(AirlockError) {
        try self.init()
        guard !bytes.isEmpty else { return }
        guard bytes.count <= Int(Int32.max) else { throw AirlockError(.invalidInput, "input too large for a memory BIO") }
        let written = bytes.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(bytes.count) else { throw .openSSL("cannot fill a memory BIO") }
    }

    deinit { BIO_free(pointer) }

    /// How many bytes are left to read.
    var pendingCount: Int { Int(BIO_ctrl_pending(pointer)) }

    /// Everything left to read.
    func readAll() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: pendingCount)
        guard !bytes.isEmpty else { return [] }
        let count = bytes.withUnsafeMutableBytes { BIO_read(pointer, $0.baseAddress, Int32($0.count)) }
        return Array(bytes.prefix(max(0, Int(count))))
    }

    /// Everything left to read, as text.
    func readText() -> String { String(decoding: readAll(), as: UTF8.self) }
}

/// One `-----BEGIN LABEL-----` block of a PEM file, decoded.
struct PEMBlock {
    /// `PRIVATE KEY`, `PUBLIC KEY`, `CERTIFICATE`, `ENCRYPTED PRIVATE KEY`, ...
    let label: String
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED` marks a legacy encrypted key); usually empty.
    let headers: String
    let der: [UInt8]
}

/// PEM parsing by OpenSSL's own `PEM_read_bio`.
enum OpenSSLPEM {
    /// Every PEM block in `bytes`, in order; text between blocks is ignored, as OpenSSL does.
    /// Empty when there is no block at all; throws when a block is malformed.
    static func blocks(in bytes: [UInt8]) throws(AirlockError) -> [PEMBlock] {
        let bio = try OpenSSLMemoryBIO(bytes)
        var blocks: [PEMBlock] = []
        while startsAnotherBlock(bytes[(bytes.count - bio.pendingCount)...]) {
            var name: UnsafeMutablePointer<CChar>? = nil
            var header: UnsafeMutablePointer<CChar>? = nil
            var data: UnsafeMutablePointer<UInt8>? = nil
            var length = 0
            let ok = PEM_read_bio(bio.pointer, &name, &header, &data, &length) == 1
            defer {
                CAirlockShims_OPENSSL_free(name)
                CAirlockShims_OPENSSL_free(header)
                // The data may be a private key: wipe it before it goes back to the heap.
                CRYPTO_clear_free(data, length, nil, 0)
            }
            guard ok, let name, let header else {
                throw .openSSL("malformed PEM block \(blocks.count + 1)")
            }
            let der = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
            blocks.append(PEMBlock(label: String(cString: name), headers: String(cString: header), der: der))
        }
        return blocks
    }

    private static func startsAnotherBlock(_ rest: ArraySlice<UInt8>) -> Bool {
        let marker = Array("-----BEGIN ".utf8)
        guard rest.count >= marker.count else { return false }
        var index = rest.startIndex
        while index + marker.count <= rest.endIndex {
            if rest[index..<index + marker.count].elementsEqual(marker) { return true }
            index += 1
        }
        return false
    }

    /// `bytes` as one PEM block with 64-character lines, as OpenSSL writes it.
    static func encode(label: String, der: [UInt8]) -> [UInt8] {
        let text = Base64.encode(der)
        var lines = "-----BEGIN \(label)-----\n"
        var index = text.startIndex
        while index < text.endIndex {
            let end = text.index(index, offsetBy: 64, limitedBy: text.endIndex) ?? text.endIndex
            lines += text[index..<end] + "\n"
            index = end
        }
        lines += "-----END \(label)-----\n"
        return Array(lines.utf8)
    }
}
