import AirlockCore
import Foundation
import Signing
import TestSupport
import Testing

@Suite struct TrustPolicyTests {
    let manifest = Array(#"{"name":"claims-assistant","version":"1.4.0"}"#.utf8)

    func signed(_ keys: [PrivateKey], manifest: [UInt8]? = nil) throws -> [SignatureInput] {
        try keys.enumerated().map { index, key in
            SignatureInput(source: "signatures/\(index + 1).dsse.json", envelope: try DSSE.sign(payload: manifest ?? self.manifest, key: key))
        }
    }

    func policy(trusting keys: [PrivateKey], names: [String] = ["*"], threshold: Int = 1) throws -> TrustPolicy {
        var policy = TrustPolicy()
        for key in keys { try policy.add(key: key.publicKey, names: names) }
        try policy.setThreshold(threshold)
        return policy
    }

    @Test func oneTrustedSignatureIsEnoughByDefault() throws {
        let key = try PrivateKey.generate()
        let verdict = try policy(trusting: [key]).evaluate(manifest: manifest, name: "claims-assistant", signatures: signed([key]))
        #expect(verdict == .trusted([TrustedSigner(keyID: key.publicKey.keyID, via: "key", source: "signatures/1.dsse.json")]))
    }

    @Test func emptyPolicyTrustsNothing() throws {
        let key = try PrivateKey.generate(.ed25519)
        guard case .refused(let findings) = TrustPolicy().evaluate(manifest: manifest, name: "claims-assistant", signatures: try signed([key])) else {
            Issue.record("an empty policy trusted a bundle")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.first?.kind == .emptyPolicy)
        #expect(reasons == ["the trust policy trusts no key or CA (add one with 'airlock trust add')"])
    }

    @Test func untrustedKeyIsRefusedAndNamed() throws {
        let trusted = try PrivateKey.generate()
        let stranger = try PrivateKey.generate()
        let verdict = try policy(trusting: [trusted]).evaluate(manifest: manifest, name: "claims-assistant", signatures: signed([stranger]))
        guard case .refused(let findings) = verdict else {
            Issue.record("trusted a stranger")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.first?.kind == .untrustedSigner)
        #expect(reasons.first == "signatures/1.dsse.json: signed by untrusted key \(stranger.publicKey.keyID)")
    }

    @Test func trustedKeyNotAllowedForTheNameIsRefused() throws {
        let key = try PrivateKey.generate()
        let verdict = try policy(trusting: [key], names: ["legal-*"]).evaluate(
            manifest: manifest, name: "claims-assistant", signatures: signed([key]))
        guard case .refused(let findings) = verdict else {
            Issue.record("name rule ignored")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.first?.kind == .signerNotAllowed)
        #expect(reasons.first?.contains("may not sign bundle 'claims-assistant' (allowed: legal-*)") == true)
    }

    @Test func tooFewSignaturesForTheThreshold() throws {
        let a = try PrivateKey.generate()
        let b = try PrivateKey.generate(.ed25519)
        let policy = try policy(trusting: [a, b], threshold: 2)
        guard case .refused(let findings) = policy.evaluate(manifest: manifest, name: "claims-assistant", signatures: try signed([a])) else {
            Issue.record("one signature met a threshold of two")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.last?.kind == .thresholdNotMet)
        #expect(reasons.last == "1 trusted signature, the policy requires 2")
        guard case .trusted(let signers) = policy.evaluate(manifest: manifest, name: "claims-assistant", signatures: try signed([a, b])) else {
            Issue.record("two of two refused")
            return
        }
        #expect(Set(signers.map(\.keyID)) == [a.publicKey.keyID, b.publicKey.keyID])
    }

    @Test func sameSignerTwiceCountsOnce() throws {
        let a = try PrivateKey.generate()
        let b = try PrivateKey.generate()
        let policy = try policy(trusting: [a, b], threshold: 2)
        guard case .refused(let findings) = policy.evaluate(manifest: manifest, name: "claims-assistant", signatures: try signed([a, a])) else {
            Issue.record("one signer counted twice")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.contains { $0.kind == .duplicateSigner })
        #expect(reasons.contains { $0.contains("signed more than once and is counted once") })
    }

    @Test func signatureOverAnotherManifestIsRefused() throws {
        let key = try PrivateKey.generate()
        let other = Array(#"{"name":"claims-assistant","version":"9.9.9"}"#.utf8)
        let verdict = try policy(trusting: [key]).evaluate(manifest: manifest, name: "claims-assistant", signatures: signed([key], manifest: other))
        guard case .refused(let findings) = verdict else {
            Issue.record("accepted a signature over another manifest")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.first?.kind == .manifestMismatch)
        #expect(reasons.first == "signatures/1.dsse.json: signs a different manifest than the bundle's")
    }

    @Test func forgedSignatureBytesAreRefused() throws {
        let key = try PrivateKey.generate()
        var inputs = try signed([key])
        var bytes = Array(Data(base64Encoded: inputs[0].envelope.signatures[0].sig)!)
        bytes[bytes.count / 2] ^= 0x01
        inputs[0].envelope.signatures[0].sig = Data(bytes).base64EncodedString()
        guard case .refused(let findings) = try policy(trusting: [key]).evaluate(manifest: manifest, name: "claims-assistant", signatures: inputs)
        else {
            Issue.record("accepted a forged signature")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.first?.kind == .badSignature)
        #expect(reasons.first?.contains("does not verify") == true)
    }

    @Test func unknownPayloadTypeIsRefused() throws {
        let key = try PrivateKey.generate()
        let envelope = try DSSE.sign(payload: manifest, payloadType: "application/vnd.in-toto+json", key: key)
        let verdict = try policy(trusting: [key]).evaluate(
            manifest: manifest, name: "claims-assistant", signatures: [SignatureInput(source: "signatures/1.dsse.json", envelope: envelope)])
        guard case .refused(let findings) = verdict else {
            Issue.record("accepted another payload type")
            return
        }
        let reasons = findings.map(\.message)
        #expect(findings.first?.kind == .unknownPayloadType)
        #expect(reasons.first?.contains("unknown payload type") == true)
    }

    @Test(arguments: [
        ("claims-*", "claims-assistant", true), ("claims-*", "legal", false), ("*", "anything", true),
        ("claims-assistant", "claims-assistant", true), ("claims-assistant", "claims-assistant-2", false),
        ("*-assistant", "claims-assistant", true), ("c*s-a*t", "claims-assistant", true), ("c*x", "claims", false),
    ])
    func namePatterns(pattern: String, name: String, expected: Bool) {
        #expect(TrustPolicy.matches(pattern: pattern, name: name) == expected)
    }

    @Test func fileRoundTripAndOperatorRules() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let a = try PrivateKey.generate()
        let b = try PrivateKey.generate(.ed25519)
        var policy = TrustPolicy()
        try policy.add(key: a.publicKey, names: ["claims-*"])
        try policy.add(key: b.publicKey, names: ["*"])
        try policy.setThreshold(2)
        let path = folder.file("etc/airlock/trust.yaml")
        try policy.save(path: path)
        let loaded = try TrustPolicy.load(path: path)
        #expect(loaded == policy)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("# Airlock trust policy"))

        var changed = loaded
        #expect(throws: AirlockError.self) { try changed.add(key: a.publicKey, names: ["*"]) }  // already trusted
        #expect(throws: AirlockError.self) { try changed.setThreshold(3) }  // more than signers
        #expect(throws: AirlockError.self) { try changed.setThreshold(0) }
        #expect(throws: AirlockError.self) { try changed.remove(id: a.publicKey.keyID) }  // below threshold
        try changed.setThreshold(1)
        #expect(try changed.remove(id: String(a.publicKey.keyID.dropFirst(7).prefix(12))) == a.publicKey.keyID)
        #expect(changed.keys.map(\.id) == [b.publicKey.keyID])
        #expect(throws: AirlockError.self) { try changed.add(key: a.publicKey, names: ["Claims/../x"]) }
    }

    @Test func tamperedPolicyFileIsRefused() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let a = try PrivateKey.generate()
        let b = try PrivateKey.generate()
        var policy = TrustPolicy()
        try policy.add(key: a.publicKey, names: ["*"])
        let path = folder.file("trust.yaml")
        try policy.save(path: path)
        // Someone swaps the PEM under a trusted id.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let swapped = text.replacingOccurrences(
            of: String(decoding: a.publicKey.spkiPEM, as: UTF8.self).split(separator: "\n")[1],
            with: String(decoding: b.publicKey.spkiPEM, as: UTF8.self).split(separator: "\n")[1])
        try swapped.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: AirlockError.self) { try TrustPolicy.load(path: path) }
        #expect(try TrustPolicy.load(path: folder.file("missing.yaml")) == TrustPolicy())
    }

    @Test func concurrentUpdatesAreAllKept() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("etc/airlock/trust.yaml")
        let keys = try (0..<8).map { _ in try PrivateKey.generate(.ed25519).publicKey }
        await withTaskGroup(of: Void.self) { group in
            for key in keys {
                group.addTask {
                    _ = try? TrustPolicy.update(path: path) { (policy: inout TrustPolicy) throws(AirlockError) in
                        try policy.add(key: key, names: ["*"])
                    }
                }
            }
        }
        #expect(Set(try TrustPolicy.load(path: path).keys.map(\.id)) == Set(keys.map(\.keyID)))
    }

    @Test func aHandEditedKeyTheLoaderDoesNotKnowIsRefused() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        var policy = TrustPolicy()
        try policy.add(key: try PrivateKey.generate().publicKey, names: ["*"])
        let path = folder.file("trust.yaml")
        try policy.save(path: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "threshold:", with: "treshold:").write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try TrustPolicy.load(path: path)
            Issue.record("a policy with 'treshold:' was accepted")
        } catch {
            #expect(
                error.description.contains("missing key 'threshold' at the top level ('treshold' is given there: a misspelling of it?)"), "\(error)")
        }
    }

    // MARK: Revocation (issue 19, point 2)

    func refusal(_ verdict: TrustVerdict) -> [Reason] {
        if case .refused(let reasons) = verdict { return reasons }
        return []
    }

    @Test func aRevokedKeyCountsForNothingAndTheRefusalNamesTheRevocation() throws {
        let (alice, bob) = (try PrivateKey.generate(), try PrivateKey.generate())
        var policy = try policy(trusting: [alice, bob], threshold: 1)
        let revocation = try policy.revoke(pem: nil, id: String(alice.publicKey.keyID.dropFirst(7).prefix(8)), reason: "laptop stolen 2026-12-01")
        #expect(revocation.kind == .key && revocation.id == alice.publicKey.keyID)
        let reasons = refusal(policy.evaluate(manifest: manifest, name: "claims-assistant", signatures: try signed([alice])))
        #expect(reasons.first?.kind == .revoked, "\(reasons)")
        #expect(reasons.first?.message.contains("was revoked on \(revocation.revoked) (laptop stolen 2026-12-01)") == true, "\(reasons)")
        #expect(reasons.last?.kind == .thresholdNotMet)
        // Bob still counts; the two together count once.
        guard case .trusted(let signers) = policy.evaluate(manifest: manifest, name: "claims-assistant", signatures: try signed([alice, bob]))
        else {
            Issue.record("bob's signature no longer counts")
            return
        }
        #expect(signers.map(\.keyID) == [bob.publicKey.keyID])
        // It survives the file, and twice is refused.
        let reloaded = try TrustPolicy.parse(policy.yaml())
        #expect(reloaded.revoked == policy.revoked)
        #expect(throws: AirlockError.self) { var again = reloaded; _ = try again.revoke(pem: nil, id: alice.publicKey.keyID, reason: "again") }
    }

    @Test func revokingALeafAnIntermediateOrTheCARefusesEveryChainThroughIt() throws {
        let pki = try TestPKI.get()
        var base = TrustPolicy()
        try base.add(authority: pki.root, names: ["*"])
        let inputs = [
            SignatureInput(
                source: "signatures/1.dsse.json", envelope: try DSSE.sign(payload: manifest, key: pki.signerKey), chain: [pki.signer, pki.intermediate])
        ]
        guard case .trusted = base.evaluate(manifest: manifest, name: "claims-assistant", signatures: inputs) else {
            Issue.record("the chain is not trusted to begin with")
            return
        }
        for certificate in [pki.signer, pki.intermediate, pki.root] {
            var policy = base
            let revocation = try policy.revoke(pem: certificate.pem, id: nil, reason: "compromised")
            #expect(revocation.kind == .certificate && revocation.id == certificate.fingerprint.description)
            let reasons = refusal(policy.evaluate(manifest: manifest, name: "claims-assistant", signatures: inputs))
            #expect(reasons.first?.kind == .revoked && reasons.first?.message.contains(certificate.subject) == true, "\(reasons)")
        }
        // The leaf's key revoked by its id (as `airlock status` shows it): refused too.
        var byKey = base
        _ = try byKey.revoke(pem: nil, id: try pki.signer.publicKey.keyID, reason: "key compromised")
        #expect(refusal(byKey.evaluate(manifest: manifest, name: "claims-assistant", signatures: inputs)).first?.kind == .revoked)
    }

    @Test(arguments: ["", "two\nlines", String(repeating: "x", count: 501)])
    func aRevocationNeedsAOneLineReason(_ reason: String) throws {
        var policy = try policy(trusting: [try PrivateKey.generate()])
        #expect(throws: AirlockError.self) { _ = try policy.revoke(pem: nil, id: policy.keys[0].id, reason: reason) }
        #expect(policy.revoked.isEmpty)
    }

    @Test func anIdNoEntryHasIsRefusedUnlessItIsAFullKeyID() throws {
        var policy = try policy(trusting: [try PrivateKey.generate()])
        #expect(throws: AirlockError.self) { _ = try policy.revoke(pem: nil, id: "deadbeef", reason: "r") }
        #expect(throws: AirlockError.self) { _ = try policy.revoke(pem: nil, id: "not-hex!", reason: "r") }
        let other = "sha256:" + String(repeating: "ab", count: 32)
        #expect(try policy.revoke(pem: nil, id: other, reason: "a leaf key").id == other)
    }

    // MARK: Distinct anchors (issue 19, point 1)

    /// Two officers whose certificates one CA issued are one anchor: with threshold 2 they are
    /// not enough; an officer of that CA and a separately trusted key are.
    @Test func certificatesOfOneCACountOnceTowardsAThreshold() throws {
        let pki = try TestPKI.get()
        let other = try PrivateKey.generate()
        var policy = TrustPolicy()
        try policy.add(authority: pki.root, names: ["*"])
        try policy.add(key: other.publicKey, names: ["*"])
        try policy.setThreshold(2)
        func input(_ key: PrivateKey, _ chain: [Certificate], _ index: Int) throws -> SignatureInput {
            SignatureInput(source: "signatures/\(index).dsse.json", envelope: try DSSE.sign(payload: manifest, key: key), chain: chain)
        }
        let officers = [
            try input(pki.signerKey, [pki.signer, pki.intermediate], 1), try input(pki.secondSignerKey, [pki.secondSigner, pki.intermediate], 2),
        ]
        let reasons = refusal(policy.evaluate(manifest: manifest, name: "claims-assistant", signatures: officers))
        #expect(reasons.last?.kind == .thresholdNotMet, "\(reasons)")
        #expect(reasons.last?.message.contains("1 trusted signature, the policy requires 2 (2 signers, but certificates that chain to one trusted CA count once") == true, "\(reasons)")
        // Trusting the intermediate too does not make two anchors of one chain.
        var both = policy
        try both.add(authority: pki.intermediate, names: ["*"])
        #expect(refusal(both.evaluate(manifest: manifest, name: "claims-assistant", signatures: officers)).last?.kind == .thresholdNotMet)
        // One officer and the other key: two anchors.
        guard case .trusted(let signers) = policy.evaluate(
            manifest: manifest, name: "claims-assistant", signatures: [officers[0], try input(other, [], 2)])
        else {
            Issue.record("a CA's signer and a separate key did not meet threshold 2")
            return
        }
        #expect(signers.count == 2)
    }
}
