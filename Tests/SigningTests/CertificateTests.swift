import Foundation
import Signing
import TestSupport
import Testing

@Suite struct CertificateTests {
    @Test func readsTheFieldsOpenSSLWrote() throws {
        let pki = try TestPKI.get()
        #expect(pki.signer.subject == "CN=Airlock Test Signer")
        #expect(pki.signer.issuer == "CN=Airlock Test Intermediate")
        #expect(pki.root.subject == pki.root.issuer)
        #expect(pki.expired.notBefore == TestPKI.day("2020-01-01"))
        #expect(pki.expired.notAfter == TestPKI.day("2021-01-01"))
        #expect(abs(pki.signer.notBefore.timeIntervalSince(pki.created) + 3600) < 5)
        #expect(abs(pki.signer.notAfter.timeIntervalSince(pki.created) - 30 * 86400) < 5)

        // `sha256 Fingerprint=AB:CD:...` from the command line, the same digest here.
        let openSSLHex = pki.signerFingerprintFromOpenSSL.split(separator: "=").last.map {
            $0.replacingOccurrences(of: ":", with: "").lowercased()
        }
        #expect(pki.signer.fingerprint.hex == openSSLHex)
        #expect(pki.signer.fingerprint.description == "sha256:" + (openSSLHex ?? ""))
    }

    @Test func certifiedKeyIsTheSignersKey() throws {
        let pki = try TestPKI.get()
        let key = try pki.signer.publicKey
        #expect(key == pki.signerKey.publicKey)
        #expect(key.algorithm == .ecdsaP384)
        let message = Array("manifest".utf8)
        #expect(key.verify(signature: try pki.signerKey.sign(message), message: message))
    }

    @Test func loadsAChainFileInOrder() throws {
        let pki = try TestPKI.get()
        let chain = try Certificate.loadChain(pem: pki.signerChainPEM)
        #expect(chain == [pki.signer, pki.intermediate])
        #expect(try Certificate(pem: pki.signer.pem) == pki.signer)
        #expect(refusal { _ = try Certificate(pem: pki.signerChainPEM) }?.contains("2 PEM blocks") == true)
        let key = try PrivateKey.generate()
        #expect(
            refusal { _ = try Certificate.loadChain(pem: pki.signer.pem + key.publicKey.spkiPEM) }?
                .contains("PEM block 2 is labelled 'PUBLIC KEY'") == true)
        #expect(refusal { _ = try Certificate.loadChain(pem: []) }?.contains("empty") == true)
    }

    @Test func chainToTheTrustedRootIsTrusted() throws {
        let pki = try TestPKI.get()
        let verdict = CertificateChainVerifier.verify(
            leaf: pki.signer, intermediates: [pki.intermediate], trustedRoots: [pki.otherRoot, pki.root], at: Date())
        #expect(verdict == .trusted(root: pki.root))
    }

    @Test func expiredCertificateIsRefused() throws {
        let pki = try TestPKI.get()
        let verdict = CertificateChainVerifier.verify(
            leaf: pki.expired, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: Date())
        #expect(verdict == .refused(reason: "certificate has expired: 'CN=Airlock Expired Signer'"))
    }

    @Test func validCertificateIsRefusedAfterItsNotAfter() throws {
        let pki = try TestPKI.get()
        let later = pki.signer.notAfter.addingTimeInterval(1)
        let verdict = CertificateChainVerifier.verify(
            leaf: pki.signer, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: later)
        #expect(verdict == .refused(reason: "certificate has expired: 'CN=Airlock Test Signer'"))
        // OpenSSL counts the notAfter second itself as expired (RFC 5280 says inclusive).
        #expect(
            CertificateChainVerifier.verify(
                leaf: pki.signer, intermediates: [pki.intermediate], trustedRoots: [pki.root],
                at: pki.signer.notAfter.addingTimeInterval(-1))
                == .trusted(root: pki.root))
        #expect(
            CertificateChainVerifier.verify(
                leaf: pki.signer, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: pki.signer.notAfter)
                != .trusted(root: pki.root))
    }

    @Test func notYetValidCertificateIsRefused() throws {
        let pki = try TestPKI.get()
        let verdict = CertificateChainVerifier.verify(
            leaf: pki.future, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: Date())
        #expect(verdict == .refused(reason: "certificate is not yet valid: 'CN=Airlock Future Signer'"))
        // The same certificate inside its validity period.
        #expect(
            CertificateChainVerifier.verify(
                leaf: pki.future, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: TestPKI.day("2030-06-01"))
                == .trusted(root: pki.root))
    }

    @Test func chainToAnUntrustedCAIsRefused() throws {
        let pki = try TestPKI.get()
        let verdict = CertificateChainVerifier.verify(leaf: pki.otherSigner, trustedRoots: [pki.root], at: Date())
        guard case .refused(let reason) = verdict else {
            Issue.record("a certificate from an untrusted CA was trusted")
            return
        }
        #expect(reason.hasPrefix("chain does not lead to a trusted CA"))
        #expect(reason.contains("unable to get local issuer certificate"))

        // Presenting the other root as an intermediate does not make it trusted.
        guard
            case .refused(let selfSigned) = CertificateChainVerifier.verify(
                leaf: pki.otherSigner, intermediates: [pki.otherRoot], trustedRoots: [pki.root], at: Date())
        else {
            Issue.record("an untrusted root passed off as an intermediate was trusted")
            return
        }
        #expect(selfSigned.hasPrefix("chain does not lead to a trusted CA"))
    }

    @Test func missingIntermediateIsRefused() throws {
        let pki = try TestPKI.get()
        let verdict = CertificateChainVerifier.verify(leaf: pki.signer, trustedRoots: [pki.root], at: Date())
        guard case .refused(let reason) = verdict else {
            Issue.record("a chain without its intermediate was trusted")
            return
        }
        #expect(reason.hasPrefix("chain does not lead to a trusted CA: no trusted issuer for 'CN=Airlock Test Signer'"))
    }

    @Test func trustingTheIntermediateAloneIsEnough() throws {
        let pki = try TestPKI.get()
        #expect(
            CertificateChainVerifier.verify(leaf: pki.signer, trustedRoots: [pki.intermediate], at: Date())
                == .trusted(root: pki.intermediate))
    }

    @Test func leafWithoutDigitalSignatureUsageIsRefused() throws {
        let pki = try TestPKI.get()
        #expect(!pki.keyAgreementOnly.permitsDigitalSignature)
        #expect(pki.signer.permitsDigitalSignature)
        let verdict = CertificateChainVerifier.verify(
            leaf: pki.keyAgreementOnly, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: Date())
        #expect(verdict == .refused(reason: "certificate 'CN=Airlock Key Agreement' may not sign: its key usage lacks digitalSignature"))
    }

    /// Any leaf the trusted CA issued is not a bundle signer: a TLS server's certificate and one
    /// without an extended key usage are refused, naming the rule.
    @Test func onlyCodeSigningCertificatesMaySign() throws {
        let pki = try TestPKI.get()
        #expect(pki.signer.permitsCodeSigning && !pki.tlsServer.permitsCodeSigning && !pki.withoutExtendedKeyUsage.permitsCodeSigning)
        let tls = CertificateChainVerifier.verify(leaf: pki.tlsServer, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: Date())
        #expect(
            tls == .refused(
                reason: "certificate 'CN=Airlock TLS Server' is not a code-signing certificate: it has an extended key usage without codeSigning (bundle signers need codeSigning, 1.3.6.1.5.5.7.3.3)"),
            "\(tls)")
        let bare = CertificateChainVerifier.verify(
            leaf: pki.withoutExtendedKeyUsage, intermediates: [pki.intermediate], trustedRoots: [pki.root], at: Date())
        guard case .refused(let reason) = bare else {
            Issue.record("a leaf without extended key usage was trusted")
            return
        }
        #expect(reason.contains("has no extended key usage") && reason.contains("CN=Airlock No EKU"), "\(reason)")
    }
}
