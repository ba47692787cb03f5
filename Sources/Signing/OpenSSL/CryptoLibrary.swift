internal import COpenSSL

/// What the linked OpenSSL is, reported by `airlock doctor` and in verification output.
public struct CryptoLibrary: Sendable, Equatable {
    /// `OpenSSL 3.0.19 27 Jan 2026` or similar.
    public let version: String
    /// Whether the default properties ask for FIPS-approved algorithms (a validated FIPS
    /// provider is a site's own install; Debian ships none). Never claimed otherwise.
    public let fipsEnabled: Bool

    public static var current: CryptoLibrary {
        CryptoLibrary(
            version: String(cString: OpenSSL_version(OPENSSL_VERSION)),
            fipsEnabled: EVP_default_properties_is_fips_enabled(nil) == 1
        )
    }
}
