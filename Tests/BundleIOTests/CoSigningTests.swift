import AirlockCore
import BundleFormat
import BundleIO
import Foundation
import Signing
import TestSupport
import Testing

@Suite struct CoSigningTests {
    @Test func coSigningEqualsBuildingWithBothKeysByteForByte() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try BundleFixture.writeInputs(in: folder, baseBytes: 2 << 20)
        let spec = try BundleSpec.load(path: folder.file("input/bundle.yaml"))
        let first = try PrivateKey.generate(.ed25519)  // deterministic signatures
        let second = try PrivateKey.generate(.ed25519)
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        _ = try BundleBuilder.build(spec: spec, keys: [first], output: folder.file("cosigned.airlock"), created: created)
        _ = try BundleBuilder.build(spec: spec, keys: [first, second], output: folder.file("both.airlock"), created: created)

        let result = try BundleCoSigner.sign(path: folder.file("cosigned.airlock"), key: second)
        #expect(result.signers == [first.publicKey.keyID, second.publicKey.keyID])
        let cosigned = try Data(contentsOf: URL(fileURLWithPath: folder.file("cosigned.airlock")))
        let both = try Data(contentsOf: URL(fileURLWithPath: folder.file("both.airlock")))
        #expect(cosigned == both, "co-signing must only add the signature entry")
    }

    @Test func coSignedBundleMeetsAThresholdOfTwo() throws {
        let fixture = try BundleFixture()
        _ = try BundleCoSigner.sign(path: fixture.bundle, key: fixture.officer)
        try fixture.policy.add(key: fixture.officer.publicKey, names: ["claims-*"])
        try fixture.policy.setThreshold(2)
        let verified = try #require(try fixture.verify().verified)
        #expect(verified.signers.count == 2)
    }

    @Test func refusesToCoSignATamperedBundleAndLeavesItAlone() throws {
        let fixture = try BundleFixture()
        let tampered = try fixture.hostile("tampered", [["op": "flip", "name": BundleFixture.adapter, "offset": 3]])
        let before = try Data(contentsOf: URL(fileURLWithPath: tampered))
        let error = #expect(throws: AirlockError.self) { try BundleCoSigner.sign(path: tampered, key: fixture.officer) }
        #expect(error?.description.contains("does not match its signed digest") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: tampered)) == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.folder.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    @Test func refusesTheSameSignerTwice() throws {
        let fixture = try BundleFixture()
        let error = #expect(throws: AirlockError.self) { try BundleCoSigner.sign(path: fixture.bundle, key: fixture.release) }
        #expect(error?.description.contains("is already signed by") == true)
    }

    @Test func coSigningWithACertificateChainVerifiesThroughTheCA() throws {
        let pki = try TestPKI.get()
        let fixture = try BundleFixture()
        _ = try BundleCoSigner.sign(path: fixture.bundle, key: pki.signerKey, chain: pki.signerChainPEM)
        try fixture.policy.add(authority: pki.root, names: ["claims-*"])
        try fixture.policy.setThreshold(2)
        let verified = try #require(try fixture.verify().verified)
        #expect(verified.signers.map(\.via).contains { $0.contains("Airlock Test Signer") && $0.contains("Airlock Test Root") })
    }

    @Test func refusesAChainThatIsNotTheSignersKey() throws {
        let pki = try TestPKI.get()
        let fixture = try BundleFixture()
        let error = #expect(throws: AirlockError.self) {
            try BundleCoSigner.sign(path: fixture.bundle, key: fixture.officer, chain: pki.signerChainPEM)
        }
        #expect(error?.description.contains("is not for key") == true)
    }
}
