public import AirlockCore
internal import Foundation
internal import StrictYAML

/// The input of `airlock-pack build`: a YAML file naming the bundle, its base weights,
/// adapters, runtime variants and service settings. Paths are relative to the spec file.
///
/// ```yaml
/// name: claims-assistant
/// version: 1.4.0
/// base:     { path: models/base.gguf, format: gguf }
/// adapters:
///   - { name: claims, path: adapters/claims.gguf }
/// runtimes:
///   - { variant: cpu-avx2, path: runtime/cpu-avx2/, requires: [avx2] }
///   - { variant: cpu-generic, path: runtime/cpu-generic/ }
/// service:  { context: 4096, parallel: 4 }
/// ```
/// An adapter-only bundle has no runtimes and names its base by digest instead:
/// `base: { digest: sha256:..., name: claims-assistant }`.
public struct BundleSpec: Sendable, Equatable {
    public var name: BundleName
    public var version: SemanticVersion
    public var base: Base
    public var adapters: [Adapter]
    public var runtimes: [Runtime]
    public var service: Manifest.ServiceSettings?
    /// The folder the spec's relative paths start from.
    public var directory: String

    public enum Base: Sendable, Equatable {
        /// Ship these weights (`gguf` or `safetensors`).
        case file(path: String, format: String)
        /// Adapter-only: the base installed on the host, by digest.
        case reference(digest: String, name: String)
    }

    public struct Adapter: Sendable, Equatable {
        public var name: String
        /// Absolute path of the adapter file.
        public var path: String
    }

    public struct Runtime: Sendable, Equatable {
        public var variant: String
        /// Absolute path of the variant's folder.
        public var path: String
        /// The program inside the folder, relative to it (default `llama-server`).
        public var executable: String
        public var requires: [String]
    }

    /// Reads and checks a spec file: YAML shape, names, versions, and that every file exists.
    public static func load(path: String) throws(AirlockError) -> BundleSpec {
        let url = URL(fileURLWithPath: path)
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path: path, limit: StrictYAML.maximumBytes)
        } catch {
            throw AirlockError(.invalidInput, "cannot read the spec '\(path)'", cause: error)
        }
        return try parse(String(decoding: bytes, as: UTF8.self), directory: url.deletingLastPathComponent().path, origin: path)
    }

    /// Parses spec text whose relative paths start at `directory`.
    public static func parse(_ text: String, directory: String, origin: String = "spec") throws(AirlockError) -> BundleSpec {
        func refuse(_ why: String) -> AirlockError { AirlockError(.invalidInput, "\(origin): \(why)") }
        let raw = try StrictYAML.decode(RawSpec.self, from: text, origin: origin)
        func resolve(_ relative: String) -> String {
            relative.hasPrefix("/") ? relative : URL(fileURLWithPath: directory).appendingPathComponent(relative).standardized.path
        }
        func requireFile(_ path: String, _ what: String) throws(AirlockError) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw refuse("\(what) '\(path)' is not a file")
            }
        }

        let name = try BundleName(raw.name)
        let version = try SemanticVersion(raw.version)
        let base: Base
        switch (raw.base.path, raw.base.digest) {
        case let (path?, nil):
            let format = raw.base.format ?? (path.hasSuffix(".safetensors") ? "safetensors" : "gguf")
            guard format == "gguf" || format == "safetensors" else { throw refuse("base format '\(format)' is not gguf or safetensors") }
            let resolved = resolve(path)
            try requireFile(resolved, "base model")
            base = .file(path: resolved, format: format)
        case let (nil, digest?):
            guard Manifest.isDigest(digest) else { throw refuse("base digest '\(digest)' is not sha256: and 64 hex digits") }
            base = .reference(digest: digest, name: try BundleName(raw.base.name ?? "").rawValue)
        default:
            throw refuse("base needs either a path (to ship weights) or a digest and name (adapter-only)")
        }
        var adapters: [Adapter] = []
        for adapter in raw.adapters ?? [] {
            _ = try BundleName(adapter.name)
            guard !adapters.contains(where: { $0.name == adapter.name }) else { throw refuse("adapter '\(adapter.name)' is listed twice") }
            let resolved = resolve(adapter.path)
            try requireFile(resolved, "adapter")
            adapters.append(Adapter(name: adapter.name, path: resolved))
        }
        var runtimes: [Runtime] = []
        for runtime in raw.runtimes ?? [] {
            guard !runtime.variant.isEmpty, (try? BundleName(runtime.variant)) != nil else {
                throw refuse("runtime variant '\(runtime.variant)' must be lower-case letters, digits and '-'")
            }
            guard !runtimes.contains(where: { $0.variant == runtime.variant }) else { throw refuse("runtime '\(runtime.variant)' is listed twice") }
            let folder = resolve(runtime.path)
            let executable = runtime.executable ?? "llama-server"
            try requireFile(folder + "/" + executable, "runtime program")
            runtimes.append(Runtime(variant: runtime.variant, path: folder, executable: executable, requires: runtime.requires ?? []))
        }
        switch base {
        case .file:
            guard !runtimes.isEmpty else { throw refuse("a bundle that ships a base model needs at least one runtime") }
        case .reference:
            guard runtimes.isEmpty else { throw refuse("an adapter-only bundle cannot carry runtimes") }
            guard !adapters.isEmpty else { throw refuse("an adapter-only bundle needs at least one adapter") }
        }
        return BundleSpec(
            name: name, version: version, base: base, adapters: adapters, runtimes: runtimes,
            service: raw.service, directory: directory)
    }
}

private struct RawSpec: Decodable {
    var name: String
    var version: String
    var base: RawBase
    var adapters: [RawAdapter]?
    var runtimes: [RawRuntime]?
    var service: Manifest.ServiceSettings?

    struct RawBase: Decodable {
        var path: String?
        var format: String?
        var digest: String?
        var name: String?
    }

    struct RawAdapter: Decodable {
        var name: String
        var path: String
    }

    struct RawRuntime: Decodable {
        var variant: String
        var path: String
        var executable: String?
        var requires: [String]?
    }
}
