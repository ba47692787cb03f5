/// The signature algorithms Airlock signs and verifies with. The raw values are the spellings
/// of the command line (`airlock-pack keygen --algorithm ...`) and of the trust policy.
public enum SignatureAlgorithm: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// ECDSA on NIST P-384 with SHA-384, DER-encoded signatures: the default, and approved in
    /// OpenSSL 3.0's FIPS provider.
    case ecdsaP384 = "ecdsa-p384"
    /// Ed25519 (RFC 8032, pure): for sites that do not require FIPS.
    case ed25519 = "ed25519"

    /// What `keygen` makes when no algorithm is named.
    public static let `default`: SignatureAlgorithm = .ecdsaP384

    public var description: String { rawValue }
}
