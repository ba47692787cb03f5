import AirlockCore
import BundleFormat
import BundleIO
import Foundation
import Signing
import TestSupport
import Testing

/// A good bundle verifies, and builds reproducibly.
@Suite struct GoodBundleTests {
    @Test func goodBundleVerifiesAndNamesItsSigner() throws {
        let fixture = try BundleFixture()
        let verified = try #require(try fixture.verify().verified)
        #expect(verified.manifest.name == "claims-assistant")
        #expect(verified.manifest.version == "1.4.0")
        #expect(verified.fileCount == 4)
        #expect(verified.signers.map(\.keyID) == [fixture.release.publicKey.keyID])
        #expect(verified.manifest.files.map(\.path) == [BundleFixture.base, BundleFixture.adapter, BundleFixture.runtime, BundleFixture.runtimeNote])
        #expect(verified.manifest.files.first { $0.path == BundleFixture.runtime }?.encoding == .zstd)
        #expect(verified.manifest.files.first { $0.path == BundleFixture.base }?.encoding == .stored)
        #expect(verified.manifest.adapters.first?.baseDigest == verified.manifest.base.digest)
    }

    @Test func buildingTheSameSpecTwiceGivesByteIdenticalBundles() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try BundleFixture.writeInputs(in: folder, baseBytes: 1 << 20)
        let key = try PrivateKey.generate(.ed25519)  // Ed25519 signatures are deterministic
        let spec = try BundleSpec.load(path: folder.file("input/bundle.yaml"))
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        _ = try BundleBuilder.build(spec: spec, keys: [key], output: folder.file("a.airlock"), created: created)
        _ = try BundleBuilder.build(spec: spec, keys: [key], output: folder.file("b.airlock"), created: created)
        let a = try Data(contentsOf: URL(fileURLWithPath: folder.file("a.airlock")))
        let b = try Data(contentsOf: URL(fileURLWithPath: folder.file("b.airlock")))
        #expect(a.count > 1 << 20)
        #expect(a == b)
    }

    @Test func coSignedBundleMeetsAThresholdOfTwo() throws {
        let fixture = try BundleFixture(signWithOfficer: true)
        try fixture.policy.add(key: fixture.officer.publicKey, names: ["*"])
        try fixture.policy.setThreshold(2)
        let verified = try #require(try fixture.verify().verified)
        #expect(Set(verified.signers.map(\.keyID)) == [fixture.release.publicKey.keyID, fixture.officer.publicKey.keyID])
    }

    @Test func fileSpanningSeveralChunksVerifiesAndAFlipNamesTheChunk() throws {
        let fixture = try BundleFixture(baseBytes: Int(BundleBuilder.chunkSize) * 2 + 12345)
        let verified = try #require(try fixture.verify().verified)
        #expect(verified.manifest.files[0].chunks?.count == 3)
        let hostile = try fixture.hostile("flip-chunk", [["op": "flip", "name": BundleFixture.base, "offset": Int(BundleFixture.chunkSize) + 5]])
        #expect(
            try fixture.verify(hostile).refusal?.description
                == "file 'base/base.gguf' does not match its signed digest (chunk 1 of 3): it was changed")
    }

    @Test func certificateSignedBundleVerifiesThroughATrustedCA() throws {
        let pki = try TestPKI.get()
        let fixture = try BundleFixture()
        let (manifestBytes, _) = try fixture.manifest()
        var policy = TrustPolicy()
        try policy.add(authority: pki.root, names: ["claims-*"])
        fixture.policy = policy
        let signed = try fixture.hostile(
            "pki",
            [
                [
                    "op": "replace", "name": "signatures/1.dsse.json",
                    "data_file": try fixture.file("pki.json", try fixture.envelope(manifestBytes, key: pki.signerKey)),
                ],
                [
                    "op": "add", "name": "signatures/1.chain.pem", "data": String(decoding: pki.signerChainPEM, as: UTF8.self),
                    "before": BundleFixture.base,
                ],
            ])
        let verified = try #require(try fixture.verify(signed).verified)
        #expect(verified.signers.first?.via.contains("Airlock Test Signer") == true)
    }
}

extension BundleFixture {
    static let chunkSize = BundleBuilder.chunkSize
}
