internal import AirlockCore
internal import BundleFormat
internal import Foundation

/// `BundleSpec.parse` on YAML text. The spec's relative paths start in a folder holding the
/// files the seeds name (empty files), so that accepted specs are reachable.
enum SpecFuzz {
    static func run(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
        let spec: BundleSpec
        do {
            spec = try BundleSpec.parse(String(decoding: input, as: UTF8.self), directory: folder, origin: "spec")
        } catch {
            return .refused(error.description)
        }
        var paths = spec.adapters.map(\.path) + spec.runtimes.map(\.path)
        if case .file(let path, _) = spec.base { paths.append(path) }
        guard paths.allSatisfy({ $0.hasPrefix("/") }) else { return .broken("an accepted spec has a relative path: \(paths)") }
        guard (try? BundleName(spec.name.rawValue)) != nil, (try? SemanticVersion(spec.version.description)) != nil else {
            return .broken("an accepted spec's name or version does not read back")
        }
        return .accepted
    }

    /// The files the seeds name, relative to `folder`.
    static let files = [
        "models/base.gguf", "models/base.safetensors", "adapters/claims.gguf", "adapters/legal.gguf",
        "runtime/cpu-avx2/llama-server", "runtime/cpu-generic/llama-server", "runtime/cuda12/bin/serve",
    ]

    /// Made once per process (the same empty files every time).
    static let folder: String = {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("airlock-fuzz-spec")
        for file in files {
            let url = root.appendingPathComponent(file)
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: Data()) }
        }
        return root.path
    }()

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let texts: [(String, String)] = [
            (
                "full",
                """
                name: claims-assistant          # [a-z0-9-]+
                version: 1.4.0
                base:     { path: models/base.gguf, format: gguf }
                adapters:
                  - { name: claims, path: adapters/claims.gguf }
                  - { name: legal, path: adapters/legal.gguf }
                runtimes:
                  - { variant: cpu-avx2, path: runtime/cpu-avx2/, requires: [avx2] }
                  - { variant: cpu-generic, path: runtime/cpu-generic/ }
                  - { variant: cuda12, path: runtime/cuda12, executable: bin/serve, requires: ["cuda>=12.2"] }
                service:  { context: 4096, parallel: 4 }

                """
            ),
            (
                "block-style",
                """
                name: claims-assistant
                version: "2.0.0-rc.1+build.5"
                base:
                  path: models/base.safetensors
                runtimes:
                  - variant: cpu-generic
                    path: runtime/cpu-generic/
                service:
                  context: 2048

                """
            ),
            (
                "adapter-only",
                """
                name: claims-extra
                version: 1.0.0
                base: { digest: \(digest), name: claims-assistant }
                adapters:
                  - { name: claims, path: adapters/claims.gguf }

                """
            ),
            (
                "misspelt-key",
                """
                name: claims-assistant
                version: 1.4.0
                base: { path: models/base.gguf }
                adaptors: []
                runtimes: [{ variant: cpu-generic, path: runtime/cpu-generic/ }]

                """
            ),
            ("anchor", "name: &n claims\nversion: 1.0.0\nbase: { path: models/base.gguf }\nadapters: [{ name: *n, path: adapters/claims.gguf }]\n"),
        ]
        return texts.map { ($0.0, Array($0.1.utf8)) }
    }
}
