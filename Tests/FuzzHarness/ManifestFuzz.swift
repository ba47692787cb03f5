internal import AirlockCore
internal import BundleFormat

/// `Manifest.decode`, and what an accepted manifest must be: valid, and the one spelling of
/// itself (decoding what it encodes to gives it back).
enum ManifestFuzz {
    static func run(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
        let bytes = Array(input)
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(bytes)
        } catch {
            return .refused(error.description)
        }
        do {
            try manifest.validate()
            let encoded = try manifest.encoded()
            guard encoded == bytes else { return .broken("an accepted manifest re-encodes to other bytes") }
            guard try Manifest.decode(encoded) == manifest else { return .broken("an accepted manifest reads back differently") }
        } catch {
            return .broken("an accepted manifest fails again: \(error)")
        }
        return .accepted
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let digest = { (letter: Character) in String(repeating: letter, count: 64) }
        let base = Manifest.BaseModel(name: "claims-assistant", format: "gguf", path: "base/base.gguf", digest: "sha256:" + digest("a"))
        let full = Manifest(
            name: "claims-assistant", version: "1.4.0-rc.1+build.7", created: "2026-11-29T08:00:00Z", base: base,
            adapters: [
                .init(name: "claims", path: "adapters/claims.gguf", digest: "sha256:" + digest("b"), baseDigest: base.digest),
                .init(name: "legal", path: "adapters/legal.gguf", digest: "sha256:" + digest("c"), baseDigest: base.digest),
            ],
            runtimes: [
                .init(variant: "cpu-avx2", path: "runtime/cpu-avx2/", executable: "runtime/cpu-avx2/llama-server", requires: ["avx2"]),
                .init(variant: "cuda12", path: "runtime/cuda12/", executable: "runtime/cuda12/llama-server", requires: ["cuda>=12.2"]),
            ],
            service: .init(context: 4096, parallel: 4), chunkSize: 1 << 20,
            files: [
                .init(
                    path: "base/base.gguf", size: 3 << 20 | 5, mode: "0644", sha256: digest("a"),
                    chunks: [digest("1"), digest("2"), digest("3"), digest("4")], encoding: .stored, storedSize: 3 << 20 | 5),
                .init(path: "adapters/claims.gguf", size: 1000, mode: "0644", sha256: digest("b"), chunks: nil, encoding: .zstd, storedSize: 300),
                .init(path: "adapters/legal.gguf", size: 0, mode: "0644", sha256: digest("c"), chunks: nil, encoding: .stored, storedSize: 0),
                .init(
                    path: "runtime/cpu-avx2/llama-server", size: 77, mode: "0755", sha256: digest("d"), chunks: nil, encoding: .zstd, storedSize: 60),
                .init(
                    path: "runtime/cuda12/llama-server", size: 78, mode: "0755", sha256: digest("e"), chunks: nil, encoding: .stored, storedSize: 78),
                .init(path: "runtime/cuda12/libggml-ü.so", size: 9, mode: "0644", sha256: digest("f"), chunks: nil, encoding: .stored, storedSize: 9),
            ])
        let adapterOnly = Manifest(
            name: "claims-extra", version: "2.0.0", created: "2026-01-01T00:00:00Z",
            base: .init(name: "claims-assistant", format: nil, path: nil, digest: base.digest),
            adapters: [.init(name: "extra", path: "adapters/extra.gguf", digest: "sha256:" + digest("9"), baseDigest: base.digest)],
            runtimes: [], service: nil, chunkSize: 1 << 30,
            files: [.init(path: "adapters/extra.gguf", size: 12, mode: "0644", sha256: digest("9"), chunks: nil, encoding: .stored, storedSize: 12)])
        var seeds: [(name: String, bytes: [UInt8])] = []
        for (name, manifest) in [("full", full), ("adapter-only", adapterOnly)] {
            guard let bytes = try? manifest.encoded() else { continue }
            seeds.append((name, bytes))
        }
        return seeds
    }
}
