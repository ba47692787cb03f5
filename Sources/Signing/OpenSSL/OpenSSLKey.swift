internal import COpenSSL
internal import AirlockCore

/// An OpenSSL `EVP_PKEY` (a private key, or only its public half), freed with the wrapper.
///
/// `@unchecked Sendable`: once made the key is never changed, and OpenSSL 3 allows one key to
/// be used by several threads at once (each operation gets its own context).
final class OpenSSLKey: @unchecked Sendable {
    private let pointer: OpaquePointer

    private init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    // MARK: Making keys

    /// A fresh key pair from OpenSSL's default random generator.
    static func generate(_ algorithm: SignatureAlgorithm) throws(AirlockError) -> OpenSSLKey {
        let typeName = algorithm == .ecdsaP384 ? "EC" : "ED25519"
        guard let context = EVP_PKEY_CTX_new_from_name(nil, typeName, nil) else {
            throw .openSSL("cannot make a key generation context for \(algorithm)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw .openSSL("cannot start \(algorithm) key generation") }
        if algorithm == .ecdsaP384 {
            guard EVP_PKEY_CTX_set_group_name(context, "P-384") == 1 else { throw .openSSL("cannot select the P-384 curve") }
        }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw .openSSL("\(algorithm) key generation failed") }
        return OpenSSLKey(taking: key)
    }

    /// A private key from an unencrypted PKCS#8 `PrivateKeyInfo` (DER).
    static func privateKey(pkcs8 der: [UInt8]) throws(AirlockError) -> OpenSSLKey {
        let info = try decodeAll(der, "PKCS#8 private key") { d2i_PKCS8_PRIV_KEY_INFO(nil, &$0, $1) }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        guard let key = EVP_PKCS82PKEY(info) else { throw .openSSL("cannot decode the PKCS#8 private key") }
        return OpenSSLKey(taking: key)
    }

    /// A public key from a DER `SubjectPublicKeyInfo`.
    static func publicKey(spki der: [UInt8]) throws(AirlockError) -> OpenSSLKey {
        OpenSSLKey(taking: try decodeAll(der, "SubjectPublicKeyInfo") { d2i_PUBKEY(nil, &$0, $1) })
    }

    /// Runs a `d2i_` decoder over all of `der`; refuses bytes left over after the structure.
    private static func decodeAll(
        _ der: [UInt8], _ what: String,
        _ decode: (inout UnsafePointer<UInt8>?, Int) -> OpaquePointer?
    ) throws(AirlockError) -> OpaquePointer {
        let decoded: (OpaquePointer?, Int) = der.withUnsafeBufferPointer { buffer in
            guard let start = buffer.baseAddress else { return (nil, 0) }
            var cursor: UnsafePointer<UInt8>? = start
            let object = decode(&cursor, buffer.count)
            return (object, cursor.map { $0 - start } ?? 0)
        }
        guard let object = decoded.0 else { throw .openSSL("cannot decode the \(what)") }
        guard decoded.1 == der.count else {
            ERR_clear_error()
            throw AirlockError(.invalidInput, "the \(what) has \(der.count - decoded.1) bytes of trailing data")
        }
        return object
    }

    // MARK: What the key is

    /// OpenSSL's name for the key type: `EC`, `ED25519`, `RSA`, `ED448`, ...
    var typeName: String {
        EVP_PKEY_get0_type_name(pointer).map { String(cString: $0) } ?? "unknown"
    }

    /// The curve of an EC key as OpenSSL names it (`secp384r1`, `prime256v1`), or nil.
    var groupName: String? {
        var buffer = [CChar](repeating: 0, count: 80)
        var length = 0
        guard EVP_PKEY_get_group_name(pointer, &buffer, buffer.count, &length) == 1 else {
            ERR_clear_error()
            return nil
        }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The Airlock algorithm this key is for; refuses every other kind of key, naming it.
    func signatureAlgorithm() throws(AirlockError) -> SignatureAlgorithm {
        if EVP_PKEY_is_a(pointer, "ED25519") == 1 { return .ed25519 }
        let accepted = "Airlock signs only with ECDSA on P-384 (ecdsa-p384) or Ed25519 (ed25519)"
        if EVP_PKEY_is_a(pointer, "EC") == 1 {
            guard let group = groupName else {
                throw AirlockError(.invalidInput, "an ECDSA key with explicit curve parameters (no named curve): \(accepted)")
            }
            if group == "secp384r1" { return .ecdsaP384 }
            let known = ["prime256v1": "P-256", "secp521r1": "P-521", "secp256k1": "secp256k1", "secp224r1": "P-224"]
            let curve = known[group].map { "\($0) (\(group))" } ?? group
            throw AirlockError(.invalidInput, "an ECDSA key on curve \(curve): \(accepted)")
        }
        let kind = typeName.hasPrefix("RSA") ? "an \(typeName) key" : "a key of type \(typeName)"
        throw AirlockError(.invalidInput, "\(kind): \(accepted)")
    }

    // MARK: Encodings

    /// The DER `SubjectPublicKeyInfo` of the public half.
    func spkiDER() throws(AirlockError) -> [UInt8] {
        let length = i2d_PUBKEY(pointer, nil)
        guard length > 0 else { throw .openSSL("cannot encode the public key") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return i2d_PUBKEY(pointer, &cursor)
        }
        guard written == length else { throw .openSSL("cannot encode the public key") }
        return der
    }

    /// The private key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    func pkcs8PEM() throws(AirlockError) -> [UInt8] {
        let bio = try OpenSSLMemoryBIO()
        guard PEM_write_bio_PKCS8PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil) == 1 else {
            throw .openSSL("cannot encode the private key as PKCS#8")
        }
        return bio.readAll()
    }

    // MARK: Signatures

    /// The digest each algorithm signs through: SHA-384 for ECDSA P-384, none for Ed25519
    /// (which hashes inside and signs the message itself).
    private static func digestName(_ algorithm: SignatureAlgorithm) -> String? {
        algorithm == .ecdsaP384 ? "SHA384" : nil
    }

    /// A signature over `message` (DER `ECDSA-Sig-Value` for P-384, 64 bytes for Ed25519).
    func sign(_ message: [UInt8], algorithm: SignatureAlgorithm) throws(AirlockError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("cannot allocate a signing context") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit_ex(context, nil, Self.digestName(algorithm), nil, nil, pointer, nil) == 1 else {
            throw .openSSL("cannot start an \(algorithm) signature")
        }
        // A valid pointer even for an empty message.
        let (input, count) = (message.isEmpty ? [0] : message, message.count)
        var length = 0
        let sized = input.withUnsafeBufferPointer { EVP_DigestSign(context, nil, &length, $0.baseAddress, count) }
        guard sized == 1, length > 0 else { throw .openSSL("cannot size an \(algorithm) signature") }
        var signature = [UInt8](repeating: 0, count: length)
        let signed = input.withUnsafeBufferPointer { bytes in
            signature.withUnsafeMutableBufferPointer {
                EVP_DigestSign(context, $0.baseAddress, &length, bytes.baseAddress, count)
            }
        }
        guard signed == 1, length <= signature.count else { throw .openSSL("\(algorithm) signing failed") }
        return Array(signature.prefix(length))
    }

    /// Whether `signature` is a valid signature over `message` by this key. Never throws: any
    /// failure, a malformed signature included, is `false` (and leaves no error queued).
    func verify(signature: [UInt8], message: [UInt8], algorithm: SignatureAlgorithm) -> Bool {
        defer { ERR_clear_error() }
        guard !signature.isEmpty, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit_ex(context, nil, Self.digestName(algorithm), nil, nil, pointer, nil) == 1 else {
            return false
        }
        let (input, count) = (message.isEmpty ? [0] : message, message.count)
        let result = input.withUnsafeBufferPointer { bytes in
            signature.withUnsafeBufferPointer {
                EVP_DigestVerify(context, $0.baseAddress, $0.count, bytes.baseAddress, count)
            }
        }
        return result == 1
    }
}
