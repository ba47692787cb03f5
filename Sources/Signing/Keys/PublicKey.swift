public import AirlockCore

/// A verification key: ECDSA P-384 or Ed25519, identified by its key id.
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    private let key: OpenSSLKey
    public let algorithm: SignatureAlgorithm
    /// The DER `SubjectPublicKeyInfo`, as OpenSSL encodes it (`openssl pkey -pubin -outform DER`).
    public let spkiDER: [UInt8]
    /// `sha256:` and the hex SHA-256 of `spkiDER`: names the key in envelopes, trust policies
    /// and audit records.
    public let keyID: String

    /// A key from a DER `SubjectPublicKeyInfo`; refuses every key that is not ECDSA P-384 or Ed25519.
    public init(spkiDER der: [UInt8]) throws(AirlockError) {
        key = try OpenSSLKey.publicKey(spki: der)
        algorithm = try key.signatureAlgorithm()
        spkiDER = try key.spkiDER()
        keyID = try SHA256Hasher.hash(spkiDER).description
    }

    /// A key from a PEM `-----BEGIN PUBLIC KEY-----` file's bytes (`KEY.pub.pem`). For the key
    /// of a certificate, use `Certificate.publicKey`.
    public init(pem: [UInt8]) throws(AirlockError) {
        let block = try PEMInput.singleBlock(pem, expecting: "PUBLIC KEY", kind: "public key")
        switch block.label {
        case "PUBLIC KEY":
            try self.init(spkiDER: block.der)
        case "RSA PUBLIC KEY":
            throw AirlockError(
                .invalidInput, "an RSA public key: Airlock verifies only ECDSA on P-384 (ecdsa-p384) or Ed25519 (ed25519)")
        case "CERTIFICATE":
            throw AirlockError(.invalidInput, "a certificate, not a bare public key (read it as a Certificate)")
        case let label where label.hasSuffix("PRIVATE KEY"):
            throw AirlockError(.invalidInput, "a private key where a public key belongs: give the .pub.pem file")
        default:
            throw AirlockError(.invalidInput, "a PEM block labelled '\(block.label)', not a public key ('PUBLIC KEY')")
        }
    }

    /// The key in the PEM file at `path`; errors name the file.
    public static func load(path: String) throws(AirlockError) -> PublicKey {
        let bytes = try KeyFiles.contents(of: path)
        do throws(AirlockError) {
            return try PublicKey(pem: bytes)
        } catch {
            throw AirlockError(error.code, "cannot use \(path) as a public key", cause: error)
        }
    }

    /// The key as PEM (`-----BEGIN PUBLIC KEY-----`), byte for byte what `openssl pkey -pubout` writes.
    public var spkiPEM: [UInt8] { OpenSSLPEM.encode(label: "PUBLIC KEY", der: spkiDER) }

    /// Whether `signature` is this key's signature over exactly `message`. A wrong, truncated
    /// or malformed signature is `false`; this never throws.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        key.verify(signature: signature, message: message, algorithm: algorithm)
    }

    public static func == (left: PublicKey, right: PublicKey) -> Bool { left.spkiDER == right.spkiDER }
    public func hash(into hasher: inout Hasher) { hasher.combine(spkiDER) }

    /// `ecdsa-p384 sha256:...`
    public var description: String { "\(algorithm) \(keyID)" }
}
