#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The outcome of checking a signer's certificate chain: the trust anchor it leads to, or why not.
public enum ChainVerdict: Sendable, Equatable {
    /// The chain is valid at the time asked and ends at `root`, one of the trusted certificates.
    case trusted(root: Certificate)
    /// One line that says what is wrong: `certificate has expired: 'CN=...'`,
    /// `certificate is not yet valid: ...`, `chain does not lead to a trusted CA: ...`.
    case refused(reason: String)
}

/// Checks X.509 chains with OpenSSL's verifier, at a time the caller chooses.
public enum CertificateChainVerifier {
    /// Whether `leaf` chains through `intermediates` to one of `trustedRoots`, with every
    /// certificate valid at `time` and the leaf allowed to sign bundles: its key usage, if it has
    /// one, includes `digitalSignature`, and its extended key usage names `codeSigning` (a TLS
    /// server certificate the same CA issued may not sign). OpenSSL checks that every issuer is
    /// a CA (basic constraints) whose key usage, if it has one, allows `keyCertSign`. Any certificate in `trustedRoots` is an anchor, so a site
    /// may trust an intermediate CA alone. Revocation is not checked.
    public static func verify(
        leaf: Certificate, intermediates: [Certificate] = [], trustedRoots: [Certificate], at time: Date = Date()
    ) -> ChainVerdict {
        let outcome: OpenSSLChainOutcome
        do {
            outcome = try OpenSSLChainVerification.verify(
                leaf: leaf.certificate, intermediates: intermediates.map(\.certificate),
                anchors: trustedRoots.map(\.certificate), time: Int(time.timeIntervalSince1970.rounded(.down)))
        } catch {
            return .refused(reason: "chain verification failed: \(error)")
        }
        switch outcome {
        case .failed(let reason):
            return .refused(reason: reason)
        case .trusted(let anchorDER):
            guard let root = trustedRoots.first(where: { $0.derBytes == anchorDER }) else {
                return .refused(reason: "chain verification ended at a certificate that is not among the trusted ones")
            }
            guard leaf.permitsDigitalSignature else {
                return .refused(reason: "certificate '\(leaf.subject)' may not sign: its key usage lacks digitalSignature")
            }
            guard leaf.permitsCodeSigning else {
                let has = leaf.certificate.codeSigningUsage == nil ? "has no extended key usage" : "has an extended key usage without codeSigning"
                return .refused(
                    reason: "certificate '\(leaf.subject)' is not a code-signing certificate: it \(has) (bundle signers need codeSigning, 1.3.6.1.5.5.7.3.3)")
            }
            return .trusted(root: root)
        }
    }
}
