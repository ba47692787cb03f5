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
///
/// What a Hugging Face training stack writes, served by vLLM:
///
/// ```yaml
/// base:     { path: models/qwen3/, format: hf }
/// adapters:
///   - { name: claims, path: adapters/claims/, format: peft }
/// runtimes:
///   - { variant: vllm-cpu, path: runtime/vllm-cpu/, requires: [avx512f, python3.11] }
/// service:  { context: 4096, parallel: 4, max_lora_rank: 16 }
/// ```
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
        /// Ship these weights: a `gguf` file, or an `hf` folder (absolute path, no trailing `/`).
        case file(path: String, format: String)
        /// Adapter-only: the base installed on the host, by digest.
        case reference(digest: String, name: String)
    }

    public struct Adapter: Sendable, Equatable {
        public var name: String
        /// Absolute path of the adapter file (GGUF) or folder (PEFT, no trailing `/`).
        public var path: String
        /// `gguf` (a file) or `peft` (a folder).
        public var format: String = ModelFormatName.gguf
    }

    public struct Runtime: Sendable, Equatable {
        public var variant: String
        /// Absolute path of the variant's folder.
        public var path: String
        /// The program inside the folder, relative to it (default `llama-server`; for vLLM
        /// `airlock-vllm.py`, the launcher of the runtime folder `airlock-pack runtime vllm` makes).
        public var executable: String
        public var requires: [String]
        /// `llama-server` or `vllm` (default: `vllm` for a variant named `vllm-...`).
        public var engine: String = RuntimeEngineName.llamaServer
    }

    /// The launcher a vLLM runtime folder holds (`airlock-pack runtime vllm`).
    public static let vllmLauncher = "airlock-vllm.py"

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
        func requireFolder(_ path: String, _ what: String) throws(AirlockError) -> String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw refuse("\(what) '\(path)' is not a folder")
            }
            var trimmed = path
            while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
            return trimmed
        }

        let name = try BundleName(raw.name)
        let version = try SemanticVersion(raw.version)
        let base: Base
        switch (raw.base.path, raw.base.digest) {
        case let (path?, nil):
            let format = raw.base.format ?? (path.hasSuffix("/") ? ModelFormatName.huggingFace : ModelFormatName.gguf)
            let resolved = resolve(path)
            switch format {
            case ModelFormatName.gguf:
                try requireFile(resolved, "base model")
                base = .file(path: resolved, format: format)
            case ModelFormatName.huggingFace:
                base = .file(path: try requireFolder(resolved, "Hugging Face model folder"), format: format)
            case ModelFormatName.safetensors:
                throw refuse("base format 'safetensors' (one file) cannot be served; give the Hugging Face folder with format: hf")
            default:
                throw refuse("base format '\(Printable.escaped(format, limit: 40))' is not gguf or hf")
            }
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
            let format = adapter.format ?? (adapter.path.hasSuffix("/") ? ModelFormatName.peft : ModelFormatName.gguf)
            switch format {
            case ModelFormatName.gguf:
                try requireFile(resolved, "adapter")
                adapters.append(Adapter(name: adapter.name, path: resolved, format: format))
            case ModelFormatName.peft:
                adapters.append(Adapter(name: adapter.name, path: try requireFolder(resolved, "PEFT adapter folder"), format: format))
            default:
                throw refuse("adapter '\(adapter.name)' format '\(Printable.escaped(format, limit: 40))' is not gguf or peft")
            }
        }
        var runtimes: [Runtime] = []
        for runtime in raw.runtimes ?? [] {
            guard !runtime.variant.isEmpty, (try? BundleName(runtime.variant)) != nil else {
                throw refuse("runtime variant '\(runtime.variant)' must be lower-case letters, digits and '-'")
            }
            guard !runtimes.contains(where: { $0.variant == runtime.variant }) else { throw refuse("runtime '\(runtime.variant)' is listed twice") }
            let folder = resolve(runtime.path)
            let engine = runtime.engine ?? (runtime.variant.hasPrefix("vllm") ? RuntimeEngineName.vllm : RuntimeEngineName.llamaServer)
            guard engine == RuntimeEngineName.llamaServer || engine == RuntimeEngineName.vllm else {
                throw refuse("runtime '\(runtime.variant)' engine '\(Printable.escaped(engine, limit: 40))' is not llama-server or vllm")
            }
            let executable = runtime.executable ?? (engine == RuntimeEngineName.vllm ? vllmLauncher : "llama-server")
            try requireFile(folder + "/" + executable, "runtime program")
            runtimes.append(
                Runtime(variant: runtime.variant, path: folder, executable: executable, requires: runtime.requires ?? [], engine: engine))
        }
        switch base {
        case .file:
            guard !runtimes.isEmpty else { throw refuse("a bundle that ships a base model needs at least one runtime") }
        case .reference:
            guard runtimes.isEmpty else { throw refuse("an adapter-only bundle cannot carry runtimes") }
            guard !adapters.isEmpty else { throw refuse("an adapter-only bundle needs at least one adapter") }
        }
        var service: Manifest.ServiceSettings?
        if let settings = raw.service {
            if let rank = settings.max_lora_rank, !(1...(1 << 16)).contains(rank) {
                throw refuse("service max_lora_rank \(rank) is outside 1 to 65536")
            }
            service = Manifest.ServiceSettings(context: settings.context, parallel: settings.parallel, maxLoraRank: settings.max_lora_rank)
        }
        return BundleSpec(
            name: name, version: version, base: base, adapters: adapters, runtimes: runtimes,
            service: service, directory: directory)
    }
}

private struct RawSpec: Decodable {
    var name: String
    var version: String
    var base: RawBase
    var adapters: [RawAdapter]?
    var runtimes: [RawRuntime]?
    var service: RawService?

    struct RawService: Decodable {
        var context: Int?
        var parallel: Int?
        var max_lora_rank: Int?
    }

    struct RawBase: Decodable {
        var path: String?
        var format: String?
        var digest: String?
        var name: String?
    }

    struct RawAdapter: Decodable {
        var name: String
        var path: String
        var format: String?
    }

    struct RawRuntime: Decodable {
        var variant: String
        var path: String
        var executable: String?
        var requires: [String]?
        var engine: String?
    }
}
