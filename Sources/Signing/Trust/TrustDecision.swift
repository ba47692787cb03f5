public import AirlockCore
public import Foundation

/// One signature envelope found in a bundle, with the certificate chain that came with it.
public struct SignatureInput: Sendable {
    /// Where it was found, for messages (`signatures/1.dsse.json`).
    public var source: String
    public var envelope: DSSEEnvelope
    /// Leaf first, then intermediates; empty for a plain key signature.
    public var chain: [Certificate]

    public init(source: String, envelope: DSSEEnvelope, chain: [Certificate] = []) {
        self.source = source
        self.envelope = envelope
        self.chain = chain
    }
}

/// A signer whose signature counted.
public struct TrustedSigner: Sendable, Equatable, Codable {
    public var keyID: String
    /// `key` (trusted directly) or the subject of the certificate and the CA it chains to.
    public var via: String
    public var source: String

    public init(keyID: String, via: String, source: String) {
        self.keyID = keyID
        self.via = via
        self.source = source
    }
}

/// The answer to "may this bundle be trusted": who signed, or every reason it may not.
public enum TrustVerdict: Sendable, Equatable {
    case trusted([TrustedSigner])
    /// Every reason, in the order found; the last names the threshold when it was not met.
    case refused([Reason])
}

extension TrustPolicy {
    /// Decides whether `manifest` (its exact bytes) of bundle `name` carries at least `threshold`
    /// valid signatures by distinct signers this policy trusts for that name, at `time`.
    public func evaluate(manifest: [UInt8], name: String, signatures: [SignatureInput], at time: Date = Date()) -> TrustVerdict {
        guard !keys.isEmpty || !authorities.isEmpty else {
            return .refused([Reason(.emptyPolicy, "the trust policy trusts no key or CA (add one with 'airlock trust add')")])
        }
        var reasons: [Reason] = []
        var signers: [TrustedSigner] = []
        // The trust entries each counted signer stands on (a key: itself; a certificate: every
        // trusted CA in its chain).
        var anchors: [Set<String>] = []
        for input in signatures {
            guard input.envelope.payloadType == DSSE.manifestPayloadType else {
                reasons.append(Reason(.unknownPayloadType, "\(input.source): unknown payload type '\(input.envelope.payloadType)'"))
                continue
            }
            guard let payload = try? input.envelope.payloadBytes(), payload == manifest else {
                reasons.append(Reason(.manifestMismatch, "\(input.source): signs a different manifest than the bundle's"))
                continue
            }
            guard !input.envelope.signatures.isEmpty else {
                reasons.append(Reason(.noSignature, "\(input.source): holds no signature"))
                continue
            }
            for signature in input.envelope.signatures {
                switch check(signature, in: input, name: name, at: time) {
                case .success(let (signer, standsOn)):
                    if signers.contains(where: { $0.keyID == signer.keyID }) {
                        reasons.append(Reason(.duplicateSigner, "\(input.source): signer \(signer.keyID) signed more than once and is counted once"))
                    } else {
                        signers.append(signer)
                        anchors.append(standsOn)
                    }
                case .failure(let reason):
                    reasons.append(Reason(reason.kind, "\(input.source): \(reason.text)"))
                }
            }
        }
        // A threshold counts distinct trust anchors: signers whose anchors overlap (two
        // certificates of one CA) count once together.
        let distinct = Self.distinctAnchorGroups(anchors)
        if distinct >= threshold { return .trusted(signers) }
        var counted = "\(distinct) trusted signature\(distinct == 1 ? "" : "s"), the policy requires \(threshold)"
        if distinct < signers.count {
            counted += " (\(signers.count) signers, but certificates that chain to one trusted CA count once: a threshold counts distinct trust anchors)"
        }
        return .refused(reasons + [Reason(.thresholdNotMet, counted)])
    }

    /// How many groups `anchors` falls into when sets that share an anchor are joined.
    static func distinctAnchorGroups(_ anchors: [Set<String>]) -> Int {
        var groups: [Set<String>] = []
        for set in anchors {
            var merged = set
            groups.removeAll { group in
                guard !group.isDisjoint(with: merged) else { return false }
                merged.formUnion(group)
                return true
            }
            groups.append(merged)
        }
        return groups.count
    }

    static func describe(_ revocation: Revocation) -> String {
        "was revoked on \(revocation.revoked) (\(revocation.reason))"
    }

    private struct Failure: Error {
        let kind: Reason.Kind
        let text: String
        init(_ kind: Reason.Kind, _ text: String) {
            self.kind = kind
            self.text = text
        }
    }

    private func check(
        _ signature: DSSEEnvelope.Signature, in input: SignatureInput, name: String, at time: Date
    ) -> Result<(TrustedSigner, Set<String>), Failure> {
        if let revocation = revocation(ofKey: signature.keyid) {
            let what = revocation.kind == .certificate ? "certificate \(revocation.subject ?? revocation.id) (key \(signature.keyid))" : "key \(signature.keyid)"
            return .failure(Failure(.revoked, "\(what) \(Self.describe(revocation))"))
        }
        if let leaf = input.chain.first {
            for certificate in input.chain {
                if let revocation = revocation(of: certificate) {
                    return .failure(Failure(.revoked, "certificate \(certificate.subject) \(Self.describe(revocation))"))
                }
            }
            let verdict = CertificateChainVerifier.verify(
                leaf: leaf, intermediates: Array(input.chain.dropFirst()),
                trustedRoots: authorities.map(\.certificate), at: time)
            guard case .trusted(let root) = verdict else {
                if case .refused(let why) = verdict { return .failure(Failure(.certificateRefused, "certificate \(leaf.subject): \(why)")) }
                return .failure(Failure(.untrustedSigner, "certificate \(leaf.subject) is not trusted"))
            }
            guard let key = try? leaf.publicKey else {
                return .failure(Failure(.certificateRefused, "certificate \(leaf.subject) has a key of an unsupported algorithm"))
            }
            guard key.keyID == signature.keyid else {
                return .failure(Failure(.badSignature, "signature names key \(signature.keyid) but its certificate holds \(key.keyID)"))
            }
            guard input.envelope.isValid(signature, by: key) else {
                return .failure(Failure(.badSignature, "signature by \(leaf.subject) does not verify"))
            }
            if let revocation = revocation(of: root) {
                return .failure(Failure(.revoked, "CA \(root.subject) \(Self.describe(revocation))"))
            }
            let authority = authorities.first { $0.certificate == root }
            guard let authority, Self.allows(authority.names, name: name) else {
                return .failure(Failure(.signerNotAllowed, "CA \(root.subject) may not sign bundle '\(name)'"))
            }
            let chain = input.chain + [root]
            let standsOn = Set(authorities.filter { entry in chain.contains(entry.certificate) }.map(\.id))
            return .success((TrustedSigner(keyID: key.keyID, via: "\(leaf.subject) (CA \(authority.subject))", source: input.source), standsOn))
        }
        guard let trusted = keys.first(where: { $0.id == signature.keyid }) else {
            return .failure(Failure(.untrustedSigner, "signed by untrusted key \(signature.keyid)"))
        }
        guard input.envelope.isValid(signature, by: trusted.publicKey) else {
            return .failure(Failure(.badSignature, "signature by key \(trusted.id) does not verify"))
        }
        guard Self.allows(trusted.names, name: name) else {
            return .failure(
                Failure(.signerNotAllowed, "key \(trusted.id) may not sign bundle '\(name)' (allowed: \(trusted.names.joined(separator: ",")))"))
        }
        return .success((TrustedSigner(keyID: trusted.id, via: "key", source: input.source), [trusted.id]))
    }
}
