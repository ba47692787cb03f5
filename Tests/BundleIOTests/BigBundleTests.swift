import AirlockCore
import BundleFormat
import BundleIO
import Foundation
import Signing
import TestSupport
import Testing

/// A weights file over 8 GiB (sparse on the build side, so cheap to make) signs, verifies,
/// and is refused once its last byte is flipped. It writes a 9 GiB bundle, so it runs when
/// `AIRLOCK_SLOW_TESTS=1` (scripts/test.sh and CI set it).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["AIRLOCK_SLOW_TESTS"] == "1"))
struct BigBundleTests {
    @Test func nineGiBWeightsSignVerifyAndFailOnceTheLastByteIsFlipped() throws {
        let folder = try TemporaryDirectory("airlock-big-bundle")
        defer { folder.remove() }
        let input = folder.file("input")
        try FileManager.default.createDirectory(atPath: input + "/runtime/cpu-generic", withIntermediateDirectories: true)
        let weights = input + "/base.gguf"
        let size: Int64 = (9 << 30) + 4099
        try ProcessResult.run("/usr/bin/truncate", ["-s", String(size), weights]).checked()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: weights))
        try handle.seek(toOffset: UInt64(size - 1))
        handle.write(Data([0x5A]))  // a known last byte
        try handle.close()
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: input + "/runtime/cpu-generic/llama-server"))
        chmod(input + "/runtime/cpu-generic/llama-server", 0o755)
        try Data(
            """
            name: big-model
            version: 1.0.0
            base: { path: base.gguf, format: gguf }
            runtimes:
              - { variant: cpu-generic, path: runtime/cpu-generic/ }
            """.utf8
        ).write(to: URL(fileURLWithPath: input + "/bundle.yaml"))

        let key = try PrivateKey.generate()
        let bundle = folder.file("big-model-1.0.0.airlock")
        _ = try BundleBuilder.build(spec: try BundleSpec.load(path: input + "/bundle.yaml"), keys: [key], output: bundle)
        try? FileManager.default.removeItem(atPath: weights)  // free the page cache and disk it holds
        var policy = TrustPolicy()
        try policy.add(key: key.publicKey, names: ["big-*"])

        let before = peakResidentBytes()
        guard case .verified(let verified) = try BundleVerifier.verify(path: bundle, policy: policy) else {
            Issue.record("a good 9 GiB bundle was refused")
            return
        }
        #expect(verified.manifest.files[0].size == UInt64(size))
        #expect(verified.manifest.files[0].chunks?.count == Int((UInt64(size) + BundleBuilder.chunkSize - 1) / BundleBuilder.chunkSize))
        #expect(peakResidentBytes() - before < 64 << 20, "memory grew with the bundle")

        // Flip the weights' last byte in place: find its offset with tarfile (headers only).
        let offset = try ProcessResult.run(
            "/usr/bin/python3",
            [
                "-c",
                """
                import sys, tarfile
                with tarfile.open(sys.argv[1], "r:") as t:
                    m = t.getmember("base/base.gguf")
                    print(m.offset_data + m.size - 1)
                """, bundle,
            ]
        ).checked().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: bundle))
        try file.seek(toOffset: try #require(UInt64(offset)))
        #expect(try file.read(upToCount: 1) == Data([0x5A]))
        try file.seek(toOffset: try #require(UInt64(offset)))
        file.write(Data([0x5B]))
        try file.close()
        guard case .refused(let refusal) = try BundleVerifier.verify(path: bundle, policy: policy) else {
            Issue.record("a 9 GiB bundle with its last weights byte flipped verified")
            return
        }
        #expect(refusal.description.hasPrefix("file 'base/base.gguf' does not match its signed digest (chunk 2304 of 2305)"), "\(refusal)")
    }
}
