public import AirlockCore
public import BundleFormat
internal import Foundation
public import Gateway
public import Runtime
internal import Store

/// How an installed bundle is served: the runtime's exact command line and the models the
/// gateway offers, both derived here from the current version's signed manifest, so that
/// `airlock run`, `airlock-serve` and the systemd units agree on adapter order (the `lora` ids)
/// and slots by construction.
public struct ServicePlan {
    public let name: String
    public let version: String
    /// `LlamaServerEngine` or `VLLMEngine`, as the variant's `engine` says.
    public let runtime: any InferenceEngine
    public let catalog: ModelCatalog
    public let runDirectory: String
    /// The runtime variant chosen for this host at install (`cpu-avx2`, `cuda12`, ...), and
    /// whether it runs on an NVIDIA GPU (its unit then allows the CUDA device nodes).
    public let variant: String
    public let runsOnGPU: Bool

    /// Context per request when the bundle does not say (tokens).
    public static let defaultContext = 2048
    /// Parallel request slots when the bundle does not say.
    public static let defaultParallel = 2

    public static func load(layout: HostLayout, name: String) throws(AirlockError) -> ServicePlan {
        let store = BundleStore(layout: layout)
        guard let version = store.current(name: name) else {
            let installed = store.names()
            throw AirlockError(
                .refused,
                "'\(name)' is not installed under \(layout.storeDirectory)"
                    + (installed.isEmpty ? " (nothing is installed; see 'airlock install')" : " (installed: \(installed.joined(separator: ", ")))"))
        }
        let tree = layout.versionDirectory(name: name, version: version)
        guard let data = FileManager.default.contents(atPath: tree + "/" + manifestEntryName) else {
            throw AirlockError(.refused, "\(tree)/\(manifestEntryName) is missing; run 'airlock doctor'")
        }
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(Array(data))
        } catch {
            throw AirlockError(.refused, "\(tree)/\(manifestEntryName) cannot be read; run 'airlock doctor'", cause: error)
        }
        let state = try store.loadState(name: name)
        return try make(layout: layout, manifest: manifest, variant: state.installed[version]?.runtime)
    }

    /// The plan of an installed `manifest` whose runtime `variant` was chosen for this host at
    /// install (what `install` hands on: nothing is read back from the store).
    public static func make(layout: HostLayout, manifest: Manifest, variant variantName: String?) throws(AirlockError) -> ServicePlan {
        let name = manifest.name
        let version = manifest.version
        let tree = layout.versionDirectory(name: name, version: version)
        guard let basePath = manifest.base.path else {
            throw AirlockError(
                .refused, "'\(name)' is an adapter-only bundle; serve the bundle of its base model ('\(manifest.base.name)')")
        }
        guard let variantName, let variant = manifest.runtimes.first(where: { $0.variant == variantName }) else {
            throw AirlockError(.refused, "\(name) \(version) has no runtime chosen for this host; reinstall it or run 'airlock doctor'")
        }
        let context = manifest.service?.context ?? defaultContext
        let parallel = manifest.service?.parallel ?? defaultParallel
        let runDirectory = layout.runDirectory(name: name)
        // One core is left to the gateway and the host: on small hosts the engine's threads
        // spin-wait for a core and throughput collapses (docs: test environment).
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        let adapters = manifest.adapters.map { RuntimeAdapter(name: $0.name, path: tree + "/" + $0.path) }
        let runtime: any InferenceEngine
        switch variant.engineName {
        case RuntimeEngineName.llamaServer:
            runtime = LlamaServerEngine(
                executable: tree + "/" + variant.executable,
                model: tree + "/" + basePath,
                adapters: adapters,
                socketPath: runDirectory + "/runtime.sock",
                contextSize: context * parallel,
                parallel: parallel,
                threads: threads,
                // As many waiting as running: a slot that frees is refilled from inside the runtime.
                backlog: parallel)
        case RuntimeEngineName.vllm:
            guard let python = RuntimeRequirement.pythonPath(variant.requires) else {
                throw AirlockError(
                    .refused,
                    "\(name) \(version)'s vLLM runtime '\(variant.variant)' names no interpreter in its requires (python3.N); rebuild the bundle with a current airlock-pack")
            }
            // Folders as vLLM names them: no trailing `/` (the manifest's folder paths end in one).
            func folder(_ path: String) -> String { path.hasSuffix("/") ? String(path.dropLast()) : path }
            runtime = VLLMEngine(
                python: python,
                launcher: tree + "/" + variant.executable,
                model: folder(tree + "/" + basePath),
                servedName: name,
                adapters: adapters.map { RuntimeAdapter(name: $0.name, path: folder($0.path)) },
                socketPath: runDirectory + "/runtime.sock",
                contextSize: context,
                parallel: parallel,
                maxLoraRank: manifest.service?.maxLoraRank ?? manifest.adapters.compactMap(\.rank).max() ?? 8,
                stateDirectory: layout.runtimeStateDirectory(name: name),
                threads: threads,
                backlog: parallel)
        default:
            throw AirlockError(.refused, "\(name) \(version)'s runtime '\(variant.variant)' is \(variant.engineName), which this Airlock cannot serve")
        }
        try runtime.validate()
        let catalog = try ModelCatalog(bundle: name, version: version, adapters: manifest.adapters.map(\.name))
        return ServicePlan(
            name: name, version: version, runtime: runtime, catalog: catalog, runDirectory: runDirectory,
            variant: variant.variant, runsOnGPU: RuntimeRequirement.needsGPU(variant.requires))
    }
}

extension ServicePlan {
    /// Every model id the current versions installed under `layout` offer: each bundle's name
    /// (its base model) and its adapters' names. For warnings, not for decisions.
    public static func installedModels(layout: HostLayout) -> Set<String> {
        let store = BundleStore(layout: layout)
        var models: Set<String> = []
        for name in store.names() {
            guard let version = store.current(name: name),
                let data = FileManager.default.contents(atPath: layout.versionDirectory(name: name, version: version) + "/" + manifestEntryName),
                let manifest = try? Manifest.decode(Array(data))
            else { continue }
            models.insert(name)
            for adapter in manifest.adapters { models.insert(adapter.name) }
        }
        return models
    }
}

/// `HOST:PORT`, `[v6]:PORT` or `PORT` (on 127.0.0.1).
public struct ListenAddress: Sendable, Equatable {
    public let host: String
    public let port: Int

    public init(_ text: String) throws(AirlockError) {
        var host = "127.0.0.1"
        var portText = text
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw AirlockError(.invalidInput, "'\(text)' is not HOST:PORT") }
            portText = String(rest.dropFirst())
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw AirlockError(.invalidInput, "'\(text)' is not HOST:PORT (for example 127.0.0.1:8080)")
        }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

}
