public import AirlockCore
internal import Foundation

/// The signed description of a bundle: what it is, what it needs of the host, and every payload
/// file with its size, mode and SHA-256. Its exact bytes are what signers sign (DSSE), so
/// it is written once, deterministically (`encoded()`); a read manifest must re-encode to exactly its bytes.
public struct Manifest: Codable, Sendable, Equatable {
    /// `airlock-bundle/1`.
    public var format: String
    public var name: String
    public var version: String
    /// UTC, RFC 3339 seconds (`2026-11-29T08:00:00Z`); from `SOURCE_DATE_EPOCH` or the newest
    /// input file, so that the same inputs give the same bundle.
    public var created: String
    /// The base model: shipped (`path` set) or, in an adapter-only bundle, named by digest.
    public var base: BaseModel
    public var adapters: [Adapter]
    public var runtimes: [RuntimeVariant]
    public var service: ServiceSettings?
    /// Large files are also hashed in chunks of this many bytes (the last one shorter).
    public var chunkSize: UInt64
    /// Every payload file, in archive order.
    public var files: [FileEntry]

    public struct BaseModel: Codable, Sendable, Equatable {
        /// The bundle name the base model was shipped in.
        public var name: String
        /// `gguf` or `safetensors` (one file), or `hf` (a Hugging Face folder); absent in
        /// adapter-only bundles.
        public var format: String?
        /// The payload path (a folder, ending in `/`, for `hf`); absent in adapter-only bundles.
        public var path: String?
        /// `sha256:...` of the weights file, or of a folder's listing (`folderListing`): how
        /// adapters name the base they fit.
        public var digest: String

        public init(name: String, format: String?, path: String?, digest: String) {
            self.name = name
            self.format = format
            self.path = path
            self.digest = digest
        }
    }

    public struct Adapter: Codable, Sendable, Equatable {
        /// The model id clients use.
        public var name: String
        /// A GGUF file, or for `peft` a folder (ending in `/`).
        public var path: String
        /// `sha256:...` of the file, or of the folder's listing (`folderListing`).
        public var digest: String
        /// `sha256:...` of the base weights it fits.
        public var baseDigest: String
        /// Absent: a GGUF LoRA file. `peft`: a PEFT LoRA folder.
        public var format: String?
        /// A PEFT adapter's largest rank (from its weights, checked at build and verify).
        public var rank: Int?

        public init(name: String, path: String, digest: String, baseDigest: String, format: String? = nil, rank: Int? = nil) {
            self.name = name
            self.path = path
            self.digest = digest
            self.baseDigest = baseDigest
            self.format = format
            self.rank = rank
        }

        public var isFolder: Bool { path.hasSuffix("/") }
    }

    public struct RuntimeVariant: Codable, Sendable, Equatable {
        /// `cpu-generic`, `cpu-avx2`, `cpu-avx512`, `cuda12`, ...
        public var variant: String
        /// The folder (payload path prefix, ending in `/`) holding this variant's files.
        public var path: String
        /// The `llama-server` program inside it.
        public var executable: String
        /// What the host must have: CPU flags (`avx2`, `avx512f`) or `cuda>=12.2`-style needs.
        public var requires: [String]
        /// The inference engine: absent for llama-server, `vllm` for vLLM (whose `executable`
        /// is the launcher script the host's Python runs).
        public var engine: String?

        public init(variant: String, path: String, executable: String, requires: [String], engine: String? = nil) {
            self.variant = variant
            self.path = path
            self.executable = executable
            self.requires = requires
            self.engine = engine
        }

        /// The engine's name: `llama-server` or `vllm`.
        public var engineName: String { engine ?? RuntimeEngineName.llamaServer }
    }

    public struct ServiceSettings: Codable, Sendable, Equatable {
        public var context: Int?
        public var parallel: Int?
        /// The largest LoRA rank the runtime is started for (`max_lora_rank`); PEFT adapters
        /// above it are refused at build and at verify. Set from the adapters when a spec
        /// carrying PEFT adapters does not say.
        public var maxLoraRank: Int?

        public init(context: Int? = nil, parallel: Int? = nil, maxLoraRank: Int? = nil) {
            self.context = context
            self.parallel = parallel
            self.maxLoraRank = maxLoraRank
        }
    }

    public struct FileEntry: Codable, Sendable, Equatable {
        /// Relative, `/`-separated path inside the bundle and the installed tree.
        public var path: String
        /// Size of the installed (decoded) bytes.
        public var size: UInt64
        /// `0644` or `0755`, as an octal string.
        public var mode: String
        /// Hex SHA-256 of the installed bytes.
        public var sha256: String
        /// Hex SHA-256 of each `chunkSize` slice, for files larger than one chunk.
        public var chunks: [String]?
        /// `stored` (as is) or `zstd` (one zstd frame in the archive).
        public var encoding: Encoding
        /// Bytes the entry occupies in the archive (equals `size` when stored).
        public var storedSize: UInt64

        public enum Encoding: String, Codable, Sendable {
            case stored
            case zstd
        }

        public init(
            path: String, size: UInt64, mode: String, sha256: String, chunks: [String]?, encoding: Encoding,
            storedSize: UInt64
        ) {
            self.path = path
            self.size = size
            self.mode = mode
            self.sha256 = sha256
            self.chunks = chunks
            self.encoding = encoding
            self.storedSize = storedSize
        }

        public var isExecutable: Bool { mode == "0755" }
    }

    public init(
        name: String, version: String, created: String, base: BaseModel, adapters: [Adapter],
        runtimes: [RuntimeVariant], service: ServiceSettings?, chunkSize: UInt64, files: [FileEntry]
    ) {
        self.format = bundleFormatVersion
        self.name = name
        self.version = version
        self.created = created
        self.base = base
        self.adapters = adapters
        self.runtimes = runtimes
        self.service = service
        self.chunkSize = chunkSize
        self.files = files
    }

    /// Whether the bundle carries a base model and runtimes (false: adapter-only).
    public var shipsBase: Bool { base.path != nil }

    /// The files under `folder` (a payload path ending in `/`), as the text whose SHA-256 is that
    /// folder's digest: one line `HEX-SHA256  PATH-INSIDE-THE-FOLDER` per file, sorted bytewise by
    /// path, each ending in a newline, which is what `sha256sum` prints for those files, so
    /// `(cd base && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum`
    /// reproduces the digest from an installed tree.
    public func folderListing(_ folder: String) -> [UInt8] {
        var lines = files.filter { $0.path.hasPrefix(folder) }.map { (Array($0.path.utf8.dropFirst(folder.utf8.count)), $0.sha256) }
        lines.sort { $0.0.lexicographicallyPrecedes($1.0) }
        var text: [UInt8] = []
        for (path, sha256) in lines { text += Array(sha256.utf8) + [0x20, 0x20] + path + [0x0A] }
        return text
    }

    /// The manifest's one encoding: sorted keys, no insignificant white space, `/` unescaped,
    /// snake_case keys. The same manifest always gives the same bytes.
    public func encoded() throws(AirlockError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw AirlockError(.invalidInput, "cannot encode the manifest", cause: ManifestCodingError(text: "\(error)"))
        }
    }

    /// Parses manifest bytes from a bundle, within `limits`, and checks that it describes a
    /// bundle this version understands. Nothing about trust is decided here.
    public static func decode(_ bytes: [UInt8], limits: ManifestLimits = .standard) throws(AirlockError) -> Manifest {
        try JSONShape.check(bytes, maxBytes: limits.maxBytes, maxDepth: limits.maxDepth)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let manifest: Manifest
        do {
            manifest = try decoder.decode(Manifest.self, from: Data(bytes))
        } catch {
            throw AirlockError(
                .invalidInput, kind: .invalidManifest, "manifest.json is not a valid manifest",
                cause: ManifestCodingError(text: DecodingErrorText.describe(error)))
        }
        try manifest.validate(limits: limits)
        // One document, one spelling: what was signed must be exactly what `encoded()` writes
        // for what was read (no duplicate keys, no other order, spacing or escapes), so two
        // readers can never see two different manifests under one signature.
        guard try manifest.encoded() == bytes else {
            throw AirlockError(
                .invalidInput, kind: .invalidManifest,
                "manifest.json is not in its canonical form (sorted keys, each once, no white space): refused, since another reader could read it differently"
            )
        }
        return manifest
    }

    /// Structural rules every manifest must meet (names, versions, paths, sizes, references).
    public func validate(limits: ManifestLimits = .standard) throws(AirlockError) {
        func refuse(_ why: String) -> AirlockError { AirlockError(.invalidInput, kind: .invalidManifest, "manifest.json: \(why)") }
        guard format == bundleFormatVersion else {
            throw refuse("format '\(format)' is not supported (this Airlock reads \(bundleFormatVersion))")
        }
        _ = try BundleName(name)
        _ = try SemanticVersion(version)
        guard UTCTime.isValid(created) else {
            throw refuse("created '\(Printable.escaped(created, limit: 40))' is not a UTC time like 2026-11-29T08:00:00Z")
        }
        do throws(AirlockError) { _ = try BundleName(base.name) } catch { throw refuse("the base's \(error.message)") }
        if let format = base.format, !Self.isToken(format) {
            throw refuse("base format '\(Printable.escaped(format, limit: 40))' is not a-z, 0-9 and '-'")
        }
        if let service {
            guard (service.context ?? 1).isBetween(1, 1 << 24), (service.parallel ?? 1).isBetween(1, 1024),
                (service.maxLoraRank ?? 1).isBetween(1, 1 << 16)
            else {
                throw refuse("service settings out of range (context 1 to 16777216, parallel 1 to 1024, max_lora_rank 1 to 65536)")
            }
        }
        guard files.count <= limits.maxFiles else { throw refuse("\(files.count) files; at most \(limits.maxFiles) allowed") }
        guard chunkSize >= 1 << 20, chunkSize <= 1 << 30 else { throw refuse("chunk size \(chunkSize) is outside 1 MiB to 1 GiB") }
        var byPath: [String: FileEntry] = [:]
        byPath.reserveCapacity(files.count)
        var total: UInt64 = 0
        for file in files {
            if let problem = BundlePath.problem(Array(file.path.utf8)) {
                throw refuse("'\(BundlePath.printable(Array(file.path.utf8)))': \(problem)")
            }
            guard byPath.updateValue(file, forKey: file.path) == nil else { throw refuse("'\(file.path)' is listed twice") }
            // Sizes are read as 64-bit numbers and used as signed 64-bit file offsets: refuse
            // what cannot be one, and a total that would overflow, before any arithmetic.
            guard file.size <= Self.maximumFileSize, file.storedSize <= Self.maximumFileSize else {
                throw refuse("'\(file.path)' declares \(max(file.size, file.storedSize)) bytes, more than a file can have (\(Self.maximumFileSize))")
            }
            let (sum, overflow) = total.addingReportingOverflow(file.size)
            guard !overflow, sum <= Self.maximumFileSize else { throw refuse("the files' sizes add up to more than \(Self.maximumFileSize) bytes") }
            total = sum
            guard file.path != manifestEntryName, !file.path.hasPrefix(signaturesDirectory + "/") else {
                throw refuse("'\(file.path)' is a reserved name")
            }
            guard file.mode == "0644" || file.mode == "0755" else { throw refuse("'\(file.path)' has mode \(file.mode); only 0644 and 0755") }
            guard Self.isHexDigest(file.sha256) else { throw refuse("'\(file.path)' has a malformed sha256") }
            let expectedChunks = file.size <= chunkSize ? 0 : Int(file.size / chunkSize + (file.size % chunkSize == 0 ? 0 : 1))
            guard (file.chunks?.count ?? 0) == expectedChunks, file.chunks?.allSatisfy(Self.isHexDigest) ?? true else {
                throw refuse("'\(file.path)' should have \(expectedChunks) chunk digests")
            }
            if file.encoding == .stored, file.storedSize != file.size {
                throw refuse("'\(file.path)' is stored but its stored size differs from its size")
            }
        }
        guard Self.isDigest(base.digest) else { throw refuse("the base digest is malformed") }
        if let path = base.path {
            if path.hasSuffix("/") {
                guard base.format == ModelFormatName.huggingFace else { throw refuse("the base is a folder but its format is not hf") }
                guard files.contains(where: { $0.path.hasPrefix(path) }) else { throw refuse("the base folder '\(path)' holds no file") }
            } else {
                guard base.format != ModelFormatName.huggingFace else { throw refuse("an hf base must be a folder (a path ending in '/')") }
                guard let entry = byPath[path] else { throw refuse("the base model '\(path)' is not in the file list") }
                guard "sha256:" + entry.sha256 == base.digest else {
                    throw refuse("the base digest does not match the base file")
                }
            }
            guard !runtimes.isEmpty else { throw refuse("a bundle with a base model needs at least one runtime") }
        } else {
            guard runtimes.isEmpty else { throw refuse("an adapter-only bundle cannot carry runtimes") }
            guard !adapters.isEmpty else { throw refuse("an adapter-only bundle has no adapters") }
        }
        var adapterNames = Set<String>()
        for adapter in adapters {
            _ = try BundleName(adapter.name)
            guard adapterNames.insert(adapter.name).inserted, adapter.name != name else {
                throw refuse("adapter name '\(adapter.name)' is used twice or equals the bundle name")
            }
            switch adapter.format {
            case nil:
                guard let entry = byPath[adapter.path], "sha256:" + entry.sha256 == adapter.digest
                else { throw refuse("adapter '\(adapter.name)' does not match a file in the list") }
                guard adapter.rank == nil else { throw refuse("adapter '\(adapter.name)' is a GGUF file but names a rank") }
            case ModelFormatName.peft?:
                guard adapter.isFolder, files.contains(where: { $0.path.hasPrefix(adapter.path) }), Self.isDigest(adapter.digest) else {
                    throw refuse("adapter '\(adapter.name)' is peft but its path is not a folder of listed files")
                }
                guard let rank = adapter.rank, rank.isBetween(1, 1 << 16) else { throw refuse("adapter '\(adapter.name)' names no rank") }
                if let limit = service?.maxLoraRank, rank > limit {
                    throw refuse("adapter '\(adapter.name)' has rank \(rank), above max_lora_rank \(limit)")
                }
            case let other?:
                throw refuse("adapter '\(adapter.name)' has format '\(Printable.escaped(other, limit: 40))' (this Airlock reads GGUF files and peft folders)")
            }
            guard adapter.baseDigest == base.digest else { throw refuse("adapter '\(adapter.name)' fits another base") }
        }
        var variants = Set<String>()
        for runtime in runtimes {
            guard Self.isToken(runtime.variant) else {
                throw refuse("runtime variant '\(Printable.escaped(runtime.variant, limit: 80))' is not 1 to 64 of a-z, 0-9 and '-'")
            }
            guard variants.insert(runtime.variant).inserted else { throw refuse("runtime variant '\(runtime.variant)' twice") }
            for need in runtime.requires where !Self.isRequirement(need) {
                throw refuse(
                    "runtime '\(runtime.variant)' requires '\(Printable.escaped(need, limit: 80))': not 1 to 64 of a-z, 0-9 and . _ - + = < >")
            }
            guard runtime.path.hasSuffix("/"), runtime.executable.hasPrefix(runtime.path),
                let entry = byPath[runtime.executable], entry.isExecutable
            else { throw refuse("runtime '\(runtime.variant)' has no executable program at '\(runtime.executable)'") }
            if let engine = runtime.engine, engine != RuntimeEngineName.vllm {
                throw refuse("runtime '\(runtime.variant)' names engine '\(Printable.escaped(engine, limit: 40))' (this Airlock runs llama-server and vllm)")
            }
            if base.path != nil {
                let wants = runtime.engineName == RuntimeEngineName.vllm ? ModelFormatName.huggingFace : ModelFormatName.gguf
                guard base.format == wants else {
                    throw refuse("runtime '\(runtime.variant)' (\(runtime.engineName)) serves \(wants) weights; the base is \(base.format ?? "unknown")")
                }
                for adapter in adapters where (adapter.format == ModelFormatName.peft) != (wants == ModelFormatName.huggingFace) {
                    throw refuse("runtime '\(runtime.variant)' (\(runtime.engineName)) cannot load adapter '\(adapter.name)' (\(adapter.format ?? "gguf"))")
                }
            }
        }
    }

    /// The largest size a file, or all files together, may declare: 2^62 bytes (4 EiB), far
    /// beyond any model, and safe as a signed 64-bit offset after any sum of two.
    public static let maximumFileSize: UInt64 = 1 << 62

    /// 1 to 64 of a-z, 0-9 and '-' (variants, formats).
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == UInt8(ascii: "-") }
    }

    /// A host requirement: a CPU flag (`avx2`) or a need like `cuda>=12.2`.
    static func isRequirement(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || "._-+=<>".utf8.contains($0) }
    }

    static func isHexDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func isDigest(_ text: String) -> Bool {
        text.hasPrefix("sha256:") && isHexDigest(String(text.dropFirst(7)))
    }
}

/// Caps on what a manifest may be, so a hostile bundle cannot make parsing slow or large.
public struct ManifestLimits: Sendable {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxFiles: Int

    /// 32 MiB, nesting 16, 100,000 files (a file's entry takes about 240 bytes: a vLLM
    /// runtime of 55,793 files makes a 13 MB manifest).
    public static let standard = ManifestLimits(maxBytes: 32 << 20, maxDepth: 16, maxFiles: 100_000)
}

/// The spellings of model formats in specs and manifests.
public enum ModelFormatName {
    public static let gguf = "gguf"
    public static let safetensors = "safetensors"
    /// A Hugging Face model folder (config.json, tokenizer, safetensors weights).
    public static let huggingFace = "hf"
    /// A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors).
    public static let peft = "peft"
}

/// The engines a runtime variant may name.
public enum RuntimeEngineName {
    public static let llamaServer = "llama-server"
    public static let vllm = "vllm"
}

/// The bundle's first entry.
public let manifestEntryName = "manifest.json"
/// Signature envelopes live under this folder: `signatures/1.dsse.json`, ...
public let signaturesDirectory = "signatures"

struct ManifestCodingError: Error, CustomStringConvertible, Sendable {
    let text: String
    var description: String { text }
}

private extension Int {
    func isBetween(_ low: Int, _ high: Int) -> Bool { self >= low && self <= high }
}
