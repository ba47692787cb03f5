#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import AirlockCore

/// An X.509 certificate, for sites whose signers hold keys certified by their own CA.
public struct Certificate: Sendable, Hashable, CustomStringConvertible {
    let certificate: OpenSSLCertificate
    /// The DER encoding.
    public let derBytes: [UInt8]
    /// RFC 2253 text, most specific first: `CN=Release Signing,O=Example`.
    public let subject: String
    public let issuer: String
    public let notBefore: Date
    public let notAfter: Date
    /// SHA-256 of `derBytes` (`sha256:...`, what `openssl x509 -fingerprint -sha256` shows).
    public let fingerprint: Digest

    /// A certificate from DER.
    public init(der: [UInt8]) throws(AirlockError) {
        certificate = try OpenSSLCertificate(der: der)
        derBytes = try certificate.der()
        subject = try certificate.subject()
        issuer = try certificate.issuer()
        notBefore = Date(timeIntervalSince1970: TimeInterval(try certificate.notBefore()))
        notAfter = Date(timeIntervalSince1970: TimeInterval(try certificate.notAfter()))
        fingerprint = try SHA256Hasher.hash(derBytes)
    }

    /// The one certificate of a PEM file (`-----BEGIN CERTIFICATE-----`).
    public init(pem: [UInt8]) throws(AirlockError) {
        let block = try PEMInput.singleBlock(pem, expecting: "CERTIFICATE", kind: "certificate")
        try self.init(block: block, number: 1)
    }

    private init(block: PEMBlock, number: Int) throws(AirlockError) {
        guard block.label == "CERTIFICATE" else {
            throw AirlockError(.invalidInput, "PEM block \(number) is labelled '\(block.label)', not 'CERTIFICATE'")
        }
        try self.init(der: block.der)
    }

    /// Every certificate of a PEM bundle, in file order (a chain file: leaf first, then the
    /// intermediates; or a set of CA certificates). Refuses any block that is not a certificate.
    public static func loadChain(pem: [UInt8]) throws(AirlockError) -> [Certificate] {
        let blocks = try PEMInput.blocks(pem, expecting: "CERTIFICATE", kind: "certificate")
        var certificates: [Certificate] = []
        for (index, block) in blocks.enumerated() {
            certificates.append(try Certificate(block: block, number: index + 1))
        }
        return certificates
    }

    /// Every certificate of the PEM file at `path`; errors name the file.
    public static func loadChain(path: String) throws(AirlockError) -> [Certificate] {
        let bytes = try KeyFiles.contents(of: path)
        do throws(AirlockError) {
            return try loadChain(pem: bytes)
        } catch {
            throw AirlockError(error.code, "cannot read certificates from \(path)", cause: error)
        }
    }

    /// The certified key; throws when it is not ECDSA P-384 or Ed25519 (a CA's own key may be
    /// anything OpenSSL verifies; only signers' keys must be Airlock's).
    public var publicKey: PublicKey {
        get throws(AirlockError) { try PublicKey(spkiDER: certificate.spkiDER()) }
    }

    /// False when a key usage extension is present without `digitalSignature`: such a key may
    /// not sign bundles.
    public var permitsDigitalSignature: Bool { certificate.permitsDigitalSignature }

    /// Whether its extended key usage names code signing (false too when it has none): only
    /// such a certificate may sign a bundle, not a TLS server's or a person's mail certificate
    /// from the same CA.
    public var permitsCodeSigning: Bool { certificate.codeSigningUsage == true }

    /// The certificate as PEM.
    public var pem: [UInt8] { OpenSSLPEM.encode(label: "CERTIFICATE", der: derBytes) }

    public static func == (left: Certificate, right: Certificate) -> Bool { left.derBytes == right.derBytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(derBytes) }

    public var description: String { "\(subject) (\(fingerprint))" }
}
