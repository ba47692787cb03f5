public import AirlockCore

/// A signing key: ECDSA P-384 or Ed25519, held by OpenSSL.
///
/// Files hold it as unencrypted PKCS#8 PEM with mode 0600 (protected by the file system, not a
/// passphrase, so unattended builds can sign); the public half sits beside it as `KEY.pub.pem`.
public struct PrivateKey: Sendable {
    private let key: OpenSSLKey
    public let algorithm: SignatureAlgorithm
    /// The public half, for trust policies and verification.
    public let publicKey: PublicKey

    private init(key: OpenSSLKey) throws(AirlockError) {
        self.key = key
        algorithm = try key.signatureAlgorithm()
        publicKey = try PublicKey(spkiDER: key.spkiDER())
    }

    /// A new key pair (`airlock-pack keygen`).
    public static func generate(_ algorithm: SignatureAlgorithm = .default) throws(AirlockError) -> PrivateKey {
        try PrivateKey(key: OpenSSLKey.generate(algorithm))
    }

    /// A key from an unencrypted PKCS#8 PEM file's bytes (`-----BEGIN PRIVATE KEY-----`, as
    /// `openssl genpkey` writes). Refuses encrypted keys, legacy formats and every key that is
    /// not ECDSA P-384 or Ed25519, saying what it found.
    public init(pem: [UInt8]) throws(AirlockError) {
        let block = try PEMInput.singleBlock(pem, expecting: "PRIVATE KEY", kind: "private key")
        switch block.label {
        case "PRIVATE KEY":
            break
        case "ENCRYPTED PRIVATE KEY":
            throw AirlockError(
                .invalidInput,
                "an encrypted (password-protected) PKCS#8 private key: Airlock reads only unencrypted keys, "
                    + "protected by their file mode 0600 (decrypt with `openssl pkey -in KEY -out PLAIN.pem`)")
        case "RSA PRIVATE KEY":
            throw AirlockError(
                .invalidInput, "an RSA private key: Airlock signs only with ECDSA on P-384 (ecdsa-p384) or Ed25519 (ed25519)")
        case "EC PRIVATE KEY":
            throw AirlockError(
                .invalidInput,
                "an EC private key in the legacy SEC 1 format\(block.headers.contains("ENCRYPTED") ? ", encrypted" : ""): "
                    + "Airlock reads unencrypted PKCS#8 (convert with `openssl pkey -in KEY -out KEY.pkcs8.pem`)")
        case "PUBLIC KEY", "CERTIFICATE":
            throw AirlockError(.invalidInput, "a \(block.label.lowercased()), not a private key")
        default:
            throw AirlockError(
                .invalidInput, "a PEM block labelled '\(block.label)', not an unencrypted PKCS#8 private key ('PRIVATE KEY')")
        }
        try self.init(key: OpenSSLKey.privateKey(pkcs8: block.der))
    }

    /// The key in the PEM file at `path`; errors name the file.
    public static func load(path: String) throws(AirlockError) -> PrivateKey {
        let bytes = try KeyFiles.contents(of: path)
        do throws(AirlockError) {
            return try PrivateKey(pem: bytes)
        } catch {
            throw AirlockError(error.code, "cannot use \(path) as a private key", cause: error)
        }
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Secret: handle with care.
    public func pkcs8PEM() throws(AirlockError) -> [UInt8] { try key.pkcs8PEM() }

    /// A signature over `message`: ECDSA over its SHA-384 (DER `ECDSA-Sig-Value`, randomized,
    /// so two signatures of one message differ), or Ed25519 over the message itself (64 bytes).
    public func sign(_ message: [UInt8]) throws(AirlockError) -> [UInt8] {
        try key.sign(message, algorithm: algorithm)
    }

    /// Writes the private key to `path` (mode 0600 from the moment it exists, flushed to disk)
    /// and the public key to `publicKeyPath(forPrivateKeyAt: path)` (0644). Refuses to replace
    /// either file; after a failure neither is left behind.
    public func write(privateTo path: String) throws(AirlockError) {
        let publicPath = Self.publicKeyPath(forPrivateKeyAt: path)
        for existing in [path, publicPath] where KeyFiles.exists(existing) {
            throw AirlockError(.invalidInput, "\(existing) already exists: refusing to overwrite a key file")
        }
        try KeyFiles.create(path, mode: 0o600, bytes: pkcs8PEM())
        do throws(AirlockError) {
            try KeyFiles.create(publicPath, mode: 0o644, bytes: publicKey.spkiPEM)
            try KeyFiles.syncFolder(of: path)
        } catch {
            KeyFiles.remove(path)
            throw error
        }
    }

    /// Where the public half of the key at `path` goes: `KEY.pem` → `KEY.pub.pem`, any other
    /// name gets `.pub.pem` appended.
    public static func publicKeyPath(forPrivateKeyAt path: String) -> String {
        path.hasSuffix(".pem") ? String(path.dropLast(4)) + ".pub.pem" : path + ".pub.pem"
    }
}
