import AirlockCore
public import BundleFormat
public import BundleIO
public import Foundation
public import Signing

/// A small, real bundle built by `BundleBuilder` from synthetic inputs, the keys that signed it,
/// and a trust policy that trusts the release key for `claims-*`; plus ways to make hostile
/// variants of it (`Fixtures/retar.py` rewrites the tar; nothing is committed as a binary).
public final class BundleFixture: @unchecked Sendable {
    public let folder: TemporaryDirectory
    public let release: PrivateKey
    public let officer: PrivateKey
    public let bundle: String
    public var policy: TrustPolicy

    /// Payload paths inside the bundle.
    public static let base = "base/base.gguf"
    public static let adapter = "adapters/claims/claims.gguf"
    public static let runtime = "runtime/cpu-generic/llama-server"
    public static let runtimeNote = "runtime/cpu-generic/share/NOTICE.txt"

    public init(baseBytes: Int = 3 << 20, signWithOfficer: Bool = false, version: String = "1.4.0", name: String = "claims-assistant") throws {
        folder = try TemporaryDirectory("airlock-bundle")
        release = try PrivateKey.generate(.ecdsaP384)
        officer = try PrivateKey.generate(.ed25519)
        try Self.writeInputs(in: folder, baseBytes: baseBytes, version: version, name: name)
        bundle = folder.file("\(name)-\(version).airlock")
        let spec = try BundleSpec.load(path: folder.file("input/bundle.yaml"))
        _ = try BundleBuilder.build(
            spec: spec, keys: signWithOfficer ? [release, officer] : [release], output: bundle,
            created: Date(timeIntervalSince1970: 1_700_000_000))
        policy = TrustPolicy()
        try policy.add(key: release.publicKey, names: ["claims-*"])
    }

    deinit { folder.remove() }

    public static func writeInputs(in folder: TemporaryDirectory, baseBytes: Int, version: String = "1.4.0", name: String = "claims-assistant") throws
    {
        let input = folder.file("input")
        try FileManager.default.createDirectory(atPath: input + "/runtime/cpu-generic/share", withIntermediateDirectories: true)
        // Fixed, incompressible bytes (xorshift), written in 1 MiB pieces so memory stays small.
        _ = FileManager.default.createFile(atPath: input + "/base.gguf", contents: nil)
        let weights = try FileHandle(forWritingTo: URL(fileURLWithPath: input + "/base.gguf"))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var remaining = baseBytes
        var block = [UInt64](repeating: 0, count: (1 << 20) / 8)
        while remaining > 0 {
            for index in block.indices {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                block[index] = state
            }
            let count = min(remaining, 1 << 20)
            block.withUnsafeBytes { weights.write(Data($0.prefix(count))) }
            remaining -= count
        }
        try weights.close()
        try Data(repeating: 7, count: 40_000).write(to: URL(fileURLWithPath: input + "/claims.gguf"))
        let program = input + "/runtime/cpu-generic/llama-server"
        try Data(("#!/bin/sh\necho runtime\n" + String(repeating: "# padding line\n", count: 2000)).utf8).write(to: URL(fileURLWithPath: program))
        chmod(program, 0o755)
        try Data("third-party notices\n".utf8).write(to: URL(fileURLWithPath: input + "/runtime/cpu-generic/share/NOTICE.txt"))
        try Data(
            """
            name: \(name)
            version: \(version)
            base: { path: base.gguf, format: gguf }
            adapters:
              - { name: claims, path: claims.gguf }
            runtimes:
              - { variant: cpu-generic, path: runtime/cpu-generic/ }
            service: { context: 2048, parallel: 2 }
            """.utf8
        ).write(to: URL(fileURLWithPath: input + "/bundle.yaml"))
    }

    /// Verifies `path` (the good bundle by default) against the fixture's policy.
    public func verify(_ path: String? = nil, at time: Date = Date()) throws -> Verification {
        try BundleVerifier.verify(path: path ?? bundle, policy: policy, at: time)
    }

    /// The good bundle rewritten by `Fixtures/retar.py` with `operations`.
    public func hostile(_ name: String, _ operations: [[String: Any]]) throws -> String {
        let output = folder.file(name + ".airlock")
        let ops = folder.file(name + ".ops.json")
        try JSONSerialization.data(withJSONObject: operations).write(to: URL(fileURLWithPath: ops))
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/BundleIOTests/Fixtures/retar.py").path
        try ProcessResult.run("/usr/bin/python3", [script, bundle, output, ops]).checked()
        return output
    }

    /// Writes `bytes` to a file in the fixture's folder and returns its path.
    public func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = folder.file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The good bundle's manifest bytes and manifest.
    public func manifest() throws -> (bytes: [UInt8], manifest: Manifest) {
        let inspected = try BundleVerifier.inspect(path: bundle)
        return (inspected.manifestBytes, inspected.manifest)
    }

    /// A DSSE envelope's JSON bytes for `payload`, signed by `key`.
    public func envelope(_ payload: [UInt8], key: PrivateKey, type: String = DSSE.manifestPayloadType) throws -> [UInt8] {
        let envelope = try DSSE.sign(payload: payload, payloadType: type, key: key)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(envelope))
    }
}

extension Verification {
    /// The refusal's reasons; records nothing and returns nil when verified.
    public var refusal: Refusal? {
        if case .refused(let refusal) = self { return refusal }
        return nil
    }

    public var verified: VerifiedBundle? {
        if case .verified(let bundle) = self { return bundle }
        return nil
    }
}
