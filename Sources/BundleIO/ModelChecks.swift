public import AirlockCore
public import BundleFormat
public import ModelFormats
internal import Signing

/// The model checks of a bundle (`ModelFormats`), run by `airlock-pack build` on the spec's
/// folders and again by `airlock verify` (and so `install`) on the bytes the bundle carries,
/// before anything is installed: a bundle built by an older or a modified builder, or signed by
/// hand, meets the same rules.
public enum ModelChecks {
    /// What the checks found: the base (when it is a Hugging Face folder) and each PEFT
    /// adapter's rank, by adapter name.
    public struct Findings: Sendable {
        public var base: HuggingFaceModel?
        public var adapters: [String: PEFTAdapter] = [:]
    }

    /// The spec's folders, read from disk.
    public static func check(spec: BundleSpec) throws(AirlockError) -> Findings {
        var findings = Findings()
        if case .file(let path, let format) = spec.base, format == ModelFormatName.huggingFace {
            findings.base = try HuggingFaceModel.check(try ModelFile.read(folder: path, what: "base model folder"), folder: path)
        }
        for adapter in spec.adapters where adapter.format == ModelFormatName.peft {
            let files = try ModelFile.read(folder: adapter.path, what: "adapter folder")
            findings.adapters[adapter.name] = try PEFTAdapter.check(
                files, folder: adapter.path, base: findings.base, maxRank: spec.service?.maxLoraRank)
        }
        if findings.base == nil, case .file = spec.base, !findings.adapters.isEmpty {
            throw AirlockError(.invalidInput, kind: .invalidModel, "PEFT adapters need a Hugging Face base (format: hf); this base is GGUF")
        }
        return findings
    }

    /// A collector for the head of payload file `entry`, when these checks read part of it.
    public static func headCollector(for entry: Manifest.FileEntry, manifest: Manifest) -> ModelHeadCollector? {
        guard let folder = modelFolder(of: entry.path, manifest: manifest) else { return nil }
        let collector = ModelHeadCollector(path: String(entry.path.dropFirst(folder.count)), size: entry.size)
        return collector.rule == .nothing ? nil : collector
    }

    /// The folder digests (`Manifest.folderListing`) a manifest states, recomputed from its own
    /// file list: checked before anything else of the payload, since adapters name their base by it.
    public static func checkFolderDigests(_ manifest: Manifest) throws(AirlockError) {
        func digest(_ folder: String) throws(AirlockError) -> String { "sha256:" + (try SHA256Hasher.hash(manifest.folderListing(folder))).hex }
        if let path = manifest.base.path, path.hasSuffix("/"), try digest(path) != manifest.base.digest {
            throw AirlockError(.invalidInput, kind: .invalidManifest, "manifest.json: the base digest does not match the listing of '\(path)'")
        }
        for adapter in manifest.adapters where adapter.isFolder {
            guard try digest(adapter.path) == adapter.digest else {
                throw AirlockError(
                    .invalidInput, kind: .invalidManifest, "manifest.json: adapter '\(adapter.name)' digest does not match the listing of '\(adapter.path)'")
            }
        }
    }

    /// The checks on the heads collected while verifying (`heads` by payload path).
    public static func check(manifest: Manifest, heads: [String: [UInt8]]) throws(AirlockError) -> Findings {
        func files(under folder: String) -> [ModelFile] {
            manifest.files.filter { $0.path.hasPrefix(folder) }.map { entry in
                ModelFile(path: String(entry.path.dropFirst(folder.count)), size: entry.size, head: heads[entry.path] ?? [])
            }
        }
        var findings = Findings()
        if let path = manifest.base.path, manifest.base.format == ModelFormatName.huggingFace {
            findings.base = try HuggingFaceModel.check(files(under: path), folder: String(path.dropLast()))
        }
        for adapter in manifest.adapters where adapter.format == ModelFormatName.peft {
            let found = try PEFTAdapter.check(
                files(under: adapter.path), folder: String(adapter.path.dropLast()), base: findings.base,
                maxRank: manifest.service?.maxLoraRank)
            guard found.rank == adapter.rank else {
                throw AirlockError(
                    .invalidInput, kind: .invalidModel,
                    "adapter '\(adapter.name)': the manifest says rank \(adapter.rank.map(String.init) ?? "none"), its weights have rank \(found.rank)")
            }
            findings.adapters[adapter.name] = found
        }
        return findings
    }

    /// The model folder (`base/`, `adapters/NAME/`) payload `path` belongs to, if its format is checked.
    static func modelFolder(of path: String, manifest: Manifest) -> String? {
        if let base = manifest.base.path, manifest.base.format == ModelFormatName.huggingFace, path.hasPrefix(base) { return base }
        return manifest.adapters.first { $0.format == ModelFormatName.peft && path.hasPrefix($0.path) }?.path
    }
}
