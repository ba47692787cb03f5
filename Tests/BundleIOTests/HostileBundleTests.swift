import AirlockCore
import BundleFormat
import BundleIO
import Foundation
import Signing
import TestSupport
import Testing

/// Every hostile bundle is refused with one line naming the cause. Each case starts from a good
/// bundle and changes one thing.
@Suite struct HostileBundleTests {
    func refusal(_ operations: [[String: Any]], _ name: String = #function) throws -> String {
        let fixture = try BundleFixture()
        let path = try fixture.hostile(String(name.prefix { $0 != "(" }), operations)
        let refusal = try #require(try fixture.verify(path).refusal, "a hostile bundle verified")
        #expect(!refusal.description.contains("\n"))
        return refusal.description
    }

    /// Each class of hostile bundle is refused with its own kind, which `airlock verify --json`
    /// prints for scripts.
    @Test(
        arguments: [
            ("flip", [["op": "flip", "name": BundleFixture.base, "offset": 1000]], Reason.Kind.digestMismatch),
            ("extra", [["op": "add", "name": "runtime/cpu-generic/extra.so", "data": "surprise"]], .unlistedEntry),
            ("drop", [["op": "drop", "name": BundleFixture.adapter]], .missingEntry),
            ("dup", [["op": "dup", "name": BundleFixture.adapter]], .duplicateEntry),
            ("parent", [["op": "add", "name": "../../etc/cron.d/evil", "data": "x", "before": BundleFixture.base]], .unsafeEntry),
            ("absolute", [["op": "add", "name": "/etc/passwd", "data": "x", "before": BundleFixture.base]], .unsafeEntry),
            (
                "symlink", [["op": "add", "name": "base/link", "type": "symlink", "linkname": "/etc/shadow", "before": BundleFixture.base]],
                .unsafeEntry
            ),
            (
                "hardlink", [["op": "add", "name": "base/hard", "type": "hardlink", "linkname": "../../etc/shadow", "before": BundleFixture.base]],
                .unsafeEntry
            ),
            ("chr", [["op": "add", "name": "runtime/cpu-generic/mem", "type": "chr", "before": BundleFixture.base]], .unsafeEntry),
            ("fifo", [["op": "add", "name": "runtime/cpu-generic/pipe", "type": "fifo", "before": BundleFixture.base]], .unsafeEntry),
            ("setuid", [["op": "mode", "name": BundleFixture.runtime, "mode": 0o4755]], .unsafeEntry),
            ("grow", [["op": "grow", "name": BundleFixture.adapter, "extra": 4096]], .sizeMismatch),
            ("unsigned", [["op": "drop", "name": "signatures/1.dsse.json"]], .noSignature),
            ("not-first", [["op": "rename", "name": "manifest.json", "to": "README.txt"]], .notABundle),
        ] as [(String, [[String: any Sendable]], Reason.Kind)])
    func eachHostileClassHasItsKind(label: String, operations: [[String: any Sendable]], kind: Reason.Kind) throws {
        let fixture = try BundleFixture()
        let path = try fixture.hostile("kind-" + label, operations.map { $0.mapValues { $0 as Any } })
        let refusal = try #require(try fixture.verify(path).refusal, "a hostile bundle verified")
        #expect(refusal.kind == kind, "\(label): \(refusal.kind) \(refusal)")
    }

    @Test func aTruncatedBundleAndAFileThatIsNoTarHaveTheirKinds() throws {
        let fixture = try BundleFixture()
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.bundle))
        let cut = try fixture.file("truncated.airlock", Array(data.prefix(data.count / 2)))
        let truncated = try fixture.verify(cut).refusal
        #expect(truncated?.kind == .truncated, "\(String(describing: truncated?.kind)) \(String(describing: truncated))")
        let noise = try fixture.file("noise.airlock", (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
        #expect(try fixture.verify(noise).refusal?.kind == .notABundle)
        let garbage = try fixture.hostile(
            "kind-garbage", [["op": "replace", "name": "manifest.json", "data_file": try fixture.file("g", Array("<html/>".utf8))]])
        #expect(try fixture.verify(garbage).refusal?.kind == .invalidManifest)
    }

    // MARK: Payload bytes

    @Test func flippedByteInTheBaseWeightsIsRefused() throws {
        #expect(
            try refusal([["op": "flip", "name": BundleFixture.base, "offset": 1000]])
                == "file 'base/base.gguf' does not match its signed digest: it was changed")
    }

    @Test func flippedByteInAnAdapterIsRefused() throws {
        #expect(
            try refusal([["op": "flip", "name": BundleFixture.adapter, "offset": 39_999]])
                == "file 'adapters/claims/claims.gguf' does not match its signed digest: it was changed")
    }

    @Test func flippedByteInTheCompressedRuntimeIsRefused() throws {
        let reason = try refusal([["op": "flip", "name": BundleFixture.runtime, "offset": 40]])
        #expect(reason.contains("runtime/cpu-generic/llama-server"), "\(reason)")
    }

    @Test func flippedLastByteOfTheLastFileIsRefused() throws {
        #expect(try refusal([["op": "flip", "name": BundleFixture.runtimeNote, "offset": 19]]).contains("NOTICE.txt"))
    }

    @Test func truncatedBundleIsRefused() throws {
        let fixture = try BundleFixture()
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.bundle))
        let cut = try fixture.file("truncated.airlock", Array(data.prefix(data.count / 2)))
        let reason = try #require(try fixture.verify(cut).refusal).description
        #expect(reason.contains("truncated"), "\(reason)")
    }

    // MARK: Entries

    @Test func entryNotInTheManifestIsRefused() throws {
        #expect(
            try refusal([["op": "add", "name": "runtime/cpu-generic/extra.so", "data": "surprise"]])
                == "entry 'runtime/cpu-generic/extra.so' is not in the manifest")
    }

    @Test func manifestEntryMissingFromTheArchiveIsRefused() throws {
        #expect(
            try refusal([["op": "drop", "name": BundleFixture.adapter]])
                == "manifest entry 'adapters/claims/claims.gguf' is missing from the bundle")
    }

    @Test func lastManifestEntryMissingIsRefused() throws {
        #expect(
            try refusal([["op": "drop", "name": BundleFixture.runtimeNote]])
                == "manifest entry 'runtime/cpu-generic/share/NOTICE.txt' is missing from the bundle")
    }

    @Test func duplicateEntryIsRefused() throws {
        let reason = try refusal([["op": "dup", "name": BundleFixture.adapter]])
        #expect(reason == "bundle entry 'adapters/claims/claims.gguf' appears twice", "\(reason)")
    }

    @Test func parentPathEntryIsRefused() throws {
        let reason = try refusal([["op": "add", "name": "../../etc/cron.d/evil", "data": "* * * * * root sh", "before": BundleFixture.base]])
        #expect(reason.contains("../../etc/cron.d/evil"), "\(reason)")
    }

    @Test func absolutePathEntryIsRefused() throws {
        let reason = try refusal([["op": "add", "name": "/etc/passwd", "data": "root::0:0::/:/bin/sh", "before": BundleFixture.base]])
        #expect(reason.contains("/etc/passwd"), "\(reason)")
    }

    @Test func symlinkPointingOutsideIsRefused() throws {
        let reason = try refusal([["op": "add", "name": "base/link", "type": "symlink", "linkname": "/etc/shadow", "before": BundleFixture.base]])
        #expect(reason.contains("base/link") && reason.contains("link"), "\(reason)")
    }

    @Test func hardLinkPointingOutsideIsRefused() throws {
        let reason = try refusal([
            ["op": "add", "name": "base/hard", "type": "hardlink", "linkname": "../../etc/shadow", "before": BundleFixture.base]
        ])
        #expect(reason.contains("base/hard"), "\(reason)")
    }

    @Test func characterDeviceIsRefused() throws {
        let reason = try refusal([["op": "add", "name": "runtime/cpu-generic/mem", "type": "chr", "before": BundleFixture.base]])
        #expect(reason.contains("runtime/cpu-generic/mem"), "\(reason)")
    }

    @Test func blockDeviceIsRefused() throws {
        let reason = try refusal([["op": "add", "name": "runtime/cpu-generic/sda", "type": "blk", "before": BundleFixture.base]])
        #expect(reason.contains("runtime/cpu-generic/sda"), "\(reason)")
    }

    @Test func fifoIsRefused() throws {
        let reason = try refusal([["op": "add", "name": "runtime/cpu-generic/pipe", "type": "fifo", "before": BundleFixture.base]])
        #expect(reason.contains("runtime/cpu-generic/pipe"), "\(reason)")
    }

    @Test func setuidRuntimeIsRefused() throws {
        let reason = try refusal([["op": "mode", "name": BundleFixture.runtime, "mode": 0o4755]])
        #expect(reason.contains("llama-server") && reason.contains("setuid"), "\(reason)")
    }

    @Test func setgidEntryIsRefused() throws {
        let reason = try refusal([["op": "mode", "name": BundleFixture.adapter, "mode": 0o2644]])
        #expect(reason.contains("claims.gguf") && reason.contains("setgid"), "\(reason)")
    }

    @Test func directoryEntryNotInTheManifestIsRefused() throws {
        #expect(
            try refusal([["op": "add", "name": "base/extra", "type": "dir", "mode": 0o755, "before": BundleFixture.base]])
                == "entry 'base/extra' is not in the manifest")
    }

    @Test func fileLargerThanItsManifestSaysIsRefused() throws {
        #expect(
            try refusal([["op": "grow", "name": BundleFixture.adapter, "extra": 4096]])
                == "entry 'adapters/claims/claims.gguf' is larger than expected: 44096 bytes stored, 40000 expected")
    }

    @Test func decompressionBombIsRefusedAfterTheDeclaredSize() throws {
        let fixture = try BundleFixture()
        // 256 MiB of zeros in one zstd frame of a few KiB, posing as the (small) runtime.
        let zeros = fixture.folder.file("zeros")
        try ProcessResult.run("/usr/bin/truncate", ["-s", "256M", zeros]).checked()
        try ProcessResult.run("/usr/bin/zstd", ["-q", "-19", zeros, "-o", zeros + ".zst"]).checked()
        let bomb = try fixture.hostile("bomb", [["op": "replace", "name": BundleFixture.runtime, "data_file": zeros + ".zst"]])
        let before = peakResidentBytes()
        let reason = try #require(try fixture.verify(bomb).refusal).description
        #expect(reason.contains("llama-server"), "\(reason)")
        #expect(peakResidentBytes() - before < 64 << 20, "memory grew while refusing a bomb")
    }

    // MARK: Manifest and signatures

    @Test func manifestChangedAfterSigningIsRefused() throws {
        let fixture = try BundleFixture()
        let (bytes, _) = try fixture.manifest()
        let edited = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"context\":2048", with: "\"context\":8192").utf8)
        #expect(edited != bytes)
        let path = try fixture.hostile("edited", [["op": "replace", "name": "manifest.json", "data_file": try fixture.file("m.json", edited)]])
        #expect(try fixture.verify(path).refusal?.reasons.first == "signatures/1.dsse.json: signs a different manifest than the bundle's")
    }

    @Test func signatureByAnUntrustedKeyIsRefused() throws {
        let fixture = try BundleFixture()
        let stranger = try PrivateKey.generate()
        let (bytes, _) = try fixture.manifest()
        let path = try fixture.hostile(
            "stranger",
            [
                [
                    "op": "replace", "name": "signatures/1.dsse.json",
                    "data_file": try fixture.file("s.json", try fixture.envelope(bytes, key: stranger)),
                ]
            ])
        #expect(try fixture.verify(path).refusal?.description == "signatures/1.dsse.json: signed by untrusted key \(stranger.publicKey.keyID)")
    }

    @Test func trustedKeyNotAllowedForThisNameIsRefused() throws {
        let fixture = try BundleFixture()
        var policy = TrustPolicy()
        try policy.add(key: fixture.release.publicKey, names: ["legal-*"])
        fixture.policy = policy
        #expect(try fixture.verify().refusal?.description.contains("may not sign bundle 'claims-assistant'") == true)
    }

    @Test func tooFewSignaturesForTheThresholdIsRefused() throws {
        let fixture = try BundleFixture()
        try fixture.policy.add(key: fixture.officer.publicKey, names: ["*"])
        try fixture.policy.setThreshold(2)
        #expect(try fixture.verify().refusal?.description == "1 trusted signature, the policy requires 2")
    }

    @Test func sameSignerTwiceCountsOnce() throws {
        let fixture = try BundleFixture()
        try fixture.policy.add(key: fixture.officer.publicKey, names: ["*"])
        try fixture.policy.setThreshold(2)
        let (bytes, _) = try fixture.manifest()
        let again = try fixture.file("again.json", try fixture.envelope(bytes, key: fixture.release))
        let path = try fixture.hostile(
            "twice",
            [
                ["op": "add", "name": "signatures/2.dsse.json", "data_file": again, "before": BundleFixture.base],
                ["op": "replace", "name": "signatures/2.dsse.json", "data_file": again],
            ])
        let refusal = try #require(try fixture.verify(path).refusal)
        #expect(refusal.reasons.contains { $0.contains("signed more than once and is counted once") })
        #expect(refusal.reasons.last == "1 trusted signature, the policy requires 2")
    }

    @Test func unknownSignatureTypeIsRefused() throws {
        let fixture = try BundleFixture()
        let (bytes, _) = try fixture.manifest()
        let other = try fixture.file("t.json", try fixture.envelope(bytes, key: fixture.release, type: "application/x-unknown-algorithm"))
        let path = try fixture.hostile("type", [["op": "replace", "name": "signatures/1.dsse.json", "data_file": other]])
        #expect(try fixture.verify(path).refusal?.description.contains("unknown payload type 'application/x-unknown-algorithm'") == true)
    }

    @Test func unsignedBundleIsRefused() throws {
        #expect(try refusal([["op": "drop", "name": "signatures/1.dsse.json"]]) == "the bundle carries no signature")
    }

    @Test func garbageSignatureEnvelopeIsRefused() throws {
        let fixture = try BundleFixture()
        let path = try fixture.hostile(
            "garbage-sig",
            [
                [
                    "op": "replace", "name": "signatures/1.dsse.json",
                    "data_file": try fixture.file("g.json", Array("{\"payload\": 12".utf8)),
                ]
            ])
        #expect(try fixture.verify(path).refusal?.description == "'signatures/1.dsse.json' is not a DSSE envelope")
    }

    @Test func tenMegabyteSignatureIsRefusedAtTheCap() throws {
        let fixture = try BundleFixture()
        let big = fixture.folder.file("big.json")
        try ProcessResult.run("/usr/bin/truncate", ["-s", "10M", big]).checked()
        let path = try fixture.hostile("big-sig", [["op": "replace", "name": "signatures/1.dsse.json", "data_file": big]])
        let before = peakResidentBytes()
        // The cap follows the manifest (its base64 size plus 1 MiB): a few KiB here.
        let refusal = try fixture.verify(path).refusal?.description ?? ""
        let limit = refusal.split(separator: " ").drop { $0 != "of" }.dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(refusal.contains("over the limit of"), "\(refusal)")
        #expect(limit > 1 << 20 && limit < (1 << 20) + (64 << 10), "\(refusal)")
        #expect(peakResidentBytes() - before < 64 << 20)
    }

    /// Each envelope under its cap, but nine of them: refused at eight envelopes' worth, before
    /// the ninth is parsed, so 32 copies of a large manifest are never held at once.
    @Test func manySignaturesAreRefusedAtTheirTotal() throws {
        let fixture = try BundleFixture()
        let payload = String(repeating: "A", count: 1 << 20)
        let envelope = #"{"payloadType":"application/vnd.airlock.manifest+json","payload":""# + payload + #"","signatures":[]}"#
        let adds: [[String: Any]] = (2...10).map { number in
            ["op": "add", "name": "signatures/\(number).dsse.json", "data": envelope, "before": "signatures/1.dsse.json"]
        }
        let path = try fixture.hostile("many-sigs", adds)
        let refusal = try fixture.verify(path).refusal?.description ?? ""
        #expect(refusal.contains("in all (eight envelopes' worth)"), "\(refusal)")
    }

    @Test func garbageManifestIsRefused() throws {
        let fixture = try BundleFixture()
        let path = try fixture.hostile(
            "garbage", [["op": "replace", "name": "manifest.json", "data_file": try fixture.file("g", Array("<html>not json</html>".utf8))]])
        #expect(try fixture.verify(path).refusal?.description.hasPrefix("manifest.json is not a valid manifest") == true)
    }

    @Test func deeplyNestedManifestIsRefused() throws {
        let fixture = try BundleFixture()
        let deep = Array((String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)).utf8)
        let path = try fixture.hostile("deep", [["op": "replace", "name": "manifest.json", "data_file": try fixture.file("d", deep)]])
        #expect(try fixture.verify(path).refusal?.description == "JSON nested deeper than 16 levels")
    }

    @Test func twoHundredMegabyteManifestIsRefusedWithoutReadingIt() throws {
        let fixture = try BundleFixture()
        let huge = fixture.folder.file("huge.json")
        try ProcessResult.run("/usr/bin/truncate", ["-s", "200M", huge]).checked()
        let path = try fixture.hostile("huge", [["op": "replace", "name": "manifest.json", "data_file": huge]])
        let before = peakResidentBytes()
        #expect(try fixture.verify(path).refusal?.description.contains("over the limit of 33554432") == true)
        #expect(peakResidentBytes() - before < 64 << 20, "memory grew with the manifest")
    }

    @Test func millionEntryManifestIsRefusedAtTheCap() throws {
        let fixture = try BundleFixture()
        var text = #"{"files":["#
        let entry = #"{"path":"x","size":0,"mode":"0644","sha256":"","encoding":"stored","stored_size":0},"#
        text += String(repeating: entry, count: 1_000_000)
        text += "{}]}"
        let path = try fixture.hostile(
            "million", [["op": "replace", "name": "manifest.json", "data_file": try fixture.file("million.json", Array(text.utf8))]])
        #expect(try fixture.verify(path).refusal?.description.contains("over the limit") == true)
    }

    @Test func firstEntryThatIsNotTheManifestIsRefused() throws {
        #expect(
            try refusal([["op": "rename", "name": "manifest.json", "to": "README.txt"]])
                == "the first entry is 'README.txt', not manifest.json: not an Airlock bundle")
    }

    @Test func notATarAtAllIsRefused() throws {
        let fixture = try BundleFixture()
        let path = try fixture.file("random.airlock", (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
        #expect(try fixture.verify(path).refusal != nil)
    }

    // MARK: Certificates

    func certificateRefusal(key: PrivateKey, chain: [UInt8], trusting root: Certificate) throws -> String {
        let fixture = try BundleFixture()
        let (bytes, _) = try fixture.manifest()
        var policy = TrustPolicy()
        try policy.add(authority: root, names: ["*"])
        fixture.policy = policy
        let path = try fixture.hostile(
            "cert",
            [
                ["op": "replace", "name": "signatures/1.dsse.json", "data_file": try fixture.file("c.json", try fixture.envelope(bytes, key: key))],
                ["op": "add", "name": "signatures/1.chain.pem", "data": String(decoding: chain, as: UTF8.self), "before": BundleFixture.base],
            ])
        return try #require(try fixture.verify(path).refusal).description
    }

    @Test func expiredCertificateIsRefused() throws {
        let pki = try TestPKI.get()
        let reason = try certificateRefusal(key: pki.expiredKey, chain: pki.expiredChainPEM, trusting: pki.root)
        #expect(reason.contains("Airlock Expired Signer") && reason.contains("expired"), "\(reason)")
    }

    @Test func notYetValidCertificateIsRefused() throws {
        let pki = try TestPKI.get()
        let reason = try certificateRefusal(key: pki.futureKey, chain: pki.futureChainPEM, trusting: pki.root)
        #expect(reason.contains("Airlock Future Signer") && reason.contains("not yet valid"), "\(reason)")
    }

    @Test func chainToAnUntrustedCAIsRefused() throws {
        let pki = try TestPKI.get()
        let reason = try certificateRefusal(key: pki.otherSignerKey, chain: pki.otherSignerChainPEM, trusting: pki.root)
        #expect(reason.contains("Other Signer") && reason.contains("trusted CA"), "\(reason)")
    }

    @Test func certificateForAnotherKeyIsRefused() throws {
        let pki = try TestPKI.get()
        let reason = try certificateRefusal(key: pki.futureKey, chain: pki.signerChainPEM, trusting: pki.root)
        #expect(reason.contains("but its certificate holds"), "\(reason)")
    }
}
