public import AirlockCore
public import BundleFormat
public import Signing
internal import Archive
public import Foundation

/// Where a spec's files go inside the bundle, and how each is encoded.
struct PlannedFile {
    let path: String
    let source: String
    let executable: Bool
    let encoding: EntryEncoding
}

/// Builds signed bundles (`airlock-pack build`): plans the payload from a spec, hashes every file
/// (chunks on every core), writes the manifest, one DSSE envelope per key, then the payload, into
/// a temporary file beside the output that is renamed into place only when complete.
///
/// The same spec and inputs give a byte-identical bundle: entries in a fixed order, fixed owner,
/// modes and times (see `BundleArchiveWriter`), and `created` from `SOURCE_DATE_EPOCH` or the
/// newest input file's modification time.
public enum BundleBuilder {
    /// Large files are also hashed in 4 MiB chunks: small enough that a verifier streaming the
    /// file can keep every core hashing with a few MiB of buffers (chunk k goes to core k mod N),
    /// large enough that a 70 GB model's manifest stays near 1 MB.
    public static let chunkSize: UInt64 = 4 << 20
    /// zstd level for runtime files (compressed once at build, decoded at every install).
    public static let runtimeCompressionLevel = 9

    public struct Result: Sendable {
        public let manifest: Manifest
        public let manifestBytes: [UInt8]
        public let signers: [String]
        public let bundleBytes: Int64
    }

    /// `chains[i]`, when present, is the certificate chain (PEM) of `keys[i]`.
    public static func build(
        spec: BundleSpec, keys: [PrivateKey], chains: [Int: [UInt8]] = [:], output: String, created: Date? = nil,
        progress: ProgressReporter? = nil
    ) throws(AirlockError) -> Result {
        try build(spec: spec, keys: keys, chains: chains, output: output, created: created, progress: progress) { spec throws(AirlockError) in try ModelChecks.check(spec: spec) }
    }

    /// `modelChecks` is a seam for tests only: a bundle built past the checks (by an older or a
    /// modified builder) must still be refused at verify.
    static func build(
        spec: BundleSpec, keys: [PrivateKey], chains: [Int: [UInt8]], output: String, created: Date?,
        progress: ProgressReporter?, modelChecks: (BundleSpec) throws(AirlockError) -> ModelChecks.Findings
    ) throws(AirlockError) -> Result {
        guard !keys.isEmpty else { throw AirlockError(.invalidInput, "give at least one --key to sign the bundle with") }
        for (index, chain) in chains {
            guard keys.indices.contains(index) else { throw AirlockError(.invalidInput, "a certificate chain has no key") }
            try checkChain(chain, matches: keys[index])
        }
        guard Set(keys.map(\.publicKey.keyID)).count == keys.count else {
            throw AirlockError(.invalidInput, "the same key was given twice")
        }
        guard !FileManager.default.fileExists(atPath: output) else {
            throw AirlockError(.invalidInput, "'\(output)' already exists; choose another --output or remove it")
        }
        let findings = try modelChecks(spec)
        let plan = try plan(spec)
        let createdAt: Date
        if let created { createdAt = created } else { createdAt = try defaultCreated(plan) }
        let scratch = FileManager.default.temporaryDirectory.path

        // Compressed entries (runtime files, small) are compressed once ahead, for their stored size.
        var entries: [Manifest.FileEntry] = []
        for file in plan {
            let size = UInt64(try fileSize(file.source))
            var entry = Manifest.FileEntry(
                path: file.path, size: size, mode: file.executable ? "0755" : "0644",
                sha256: placeholderDigest,
                chunks: size > chunkSize ? Array(repeating: placeholderDigest, count: Int((size + chunkSize - 1) / chunkSize)) : nil,
                encoding: .stored, storedSize: size)
            if case .zstd = file.encoding {
                let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
                defer { close(null) }
                let written = try BundleArchiveWriter(fileDescriptor: null, temporaryDirectory: scratch)
                    .addFile(path: file.path, from: file.source, executable: file.executable, encoding: file.encoding)
                entry.encoding = written.encoding.decoding == .zstd ? .zstd : .stored
                entry.storedSize = UInt64(written.storedSize)
            }
            entries.append(entry)
        }

        // The head's exact size: digests are fixed-length hex, envelopes are padded to the
        // longest signature their algorithm can make, so placeholders measure it.
        let placeholder = try makeManifest(spec: spec, entries: entries, created: createdAt, findings: findings)
        let placeholderBytes = try placeholder.encoded()
        let reserved = try BundleArchiveWriter.headBytes(try headEntries(manifest: placeholderBytes, keys: keys, chains: chains)).count

        // One pass over the inputs: the payload is written behind the reserved head while it is
        // hashed (chunks on every core); then the signed head is written in front.
        let temporary = AtomicFile.temporaryPath(for: output)
        unlink(temporary)
        let descriptor = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AirlockError.system("cannot create '\(temporary)'", errno: errno) }
        var closed = false
        defer { if !closed { close(descriptor) } }
        do throws(AirlockError) {
            guard lseek(descriptor, off_t(reserved), SEEK_SET) == off_t(reserved) else {
                throw AirlockError.system("cannot seek in '\(temporary)'", errno: errno)
            }
            let writer = try BundleArchiveWriter(fileDescriptor: descriptor, temporaryDirectory: scratch)
            progress?.begin("packing", total: Int64(entries.reduce(0) { $0 + $1.size }))
            for index in plan.indices {
                let file = plan[index]
                let hasher = try ChunkHasher(chunkSize: chunkSize, wholeFile: true)
                let written = try writer.addFile(path: file.path, from: file.source, executable: file.executable, encoding: file.encoding) {
                    (block: UnsafeRawBufferPointer) throws(AirlockError) in
                    try hasher.update(block)
                    progress?.advance(by: Int64(block.count))
                }
                guard UInt64(written.storedSize) == entries[index].storedSize, UInt64(written.plainSize) == entries[index].size else {
                    throw AirlockError(.invalidInput, "'\(file.source)' changed while the bundle was built")
                }
                let digests = try hasher.finish()
                entries[index].sha256 = digests.whole?.hex ?? ""
                if entries[index].chunks != nil { entries[index].chunks = digests.chunks.map(\.hex) }
            }
            try writer.finish()
            progress?.end()

            let manifest = try makeManifest(spec: spec, entries: entries, created: createdAt, findings: findings)
            try manifest.validate()
            let manifestBytes = try manifest.encoded()
            guard manifestBytes.count == placeholderBytes.count else {
                throw AirlockError(.system, "internal error: the manifest changed length once its digests were filled in")
            }
            let head = try BundleArchiveWriter.headBytes(try headEntries(manifest: manifestBytes, keys: keys, chains: chains))
            guard head.count == reserved else {
                throw AirlockError(.system, "internal error: the signed head is \(head.count) bytes, \(reserved) were reserved")
            }
            var offset = 0
            while offset < head.count {
                let count = head[offset...].withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
                guard count > 0 else { throw AirlockError.system("cannot write the bundle head", errno: errno) }
                offset += count
            }
            guard fsync(descriptor) == 0 else { throw AirlockError.system("cannot flush '\(temporary)'", errno: errno) }
            closed = true
            guard close(descriptor) == 0 else { throw AirlockError.system("cannot close '\(temporary)'", errno: errno) }
            try AtomicFile.commit(temporary, to: output)
            return Result(
                manifest: manifest, manifestBytes: manifestBytes, signers: keys.map(\.publicKey.keyID),
                bundleBytes: try fileSize(output))
        } catch {
            unlink(temporary)
            throw error
        }
    }

    static let placeholderDigest = String(repeating: "0", count: 64)

    /// The head's entries: the manifest, then each key's envelope (and certificate chain).
    static func headEntries(
        manifest: [UInt8], keys: [PrivateKey], chains: [Int: [UInt8]]
    ) throws(AirlockError) -> [(path: String, bytes: [UInt8])] {
        var entries: [(path: String, bytes: [UInt8])] = [(manifestEntryName, manifest)]
        for (index, key) in keys.enumerated() {
            entries.append((BundleLayout.signaturePath(index + 1), try signedEnvelope(manifest, key: key)))
            if let chain = chains[index] { entries.append((BundleLayout.chainPath(index + 1), chain)) }
        }
        return entries
    }

    /// The DSSE envelope of `manifest` signed by `key`, as JSON padded with trailing spaces to the
    /// longest envelope that key's algorithm can produce (ECDSA's DER signatures vary by a few
    /// bytes), so that a bundle's head has a size known before it is signed.
    static func signedEnvelope(_ manifest: [UInt8], key: PrivateKey) throws(AirlockError) -> [UInt8] {
        var envelope = try DSSE.sign(payload: manifest, key: key)
        var bytes = try encode(envelope)
        let longest = key.algorithm == .ed25519 ? 64 : 104  // Ed25519; DER ECDSA P-384 at most 104
        envelope.signatures[0].sig = String(repeating: "A", count: (longest + 2) / 3 * 4)
        let padded = try encode(envelope).count
        guard bytes.count <= padded else { throw AirlockError(.crypto, "a signature came out longer than its algorithm allows") }
        bytes += Array(repeating: UInt8(ascii: " "), count: padded - bytes.count)
        return bytes
    }

    /// Refuses a chain whose leaf certificate does not hold `key`'s public key.
    static func checkChain(_ chain: [UInt8], matches key: PrivateKey) throws(AirlockError) {
        let certificates = try Certificate.loadChain(pem: chain)
        guard let leaf = certificates.first, (try? leaf.publicKey)?.keyID == key.publicKey.keyID else {
            throw AirlockError(.invalidInput, "the certificate chain's first certificate is not for key \(key.publicKey.keyID)")
        }
    }

    /// The payload, in archive order: base, adapters, then each runtime variant's files sorted.
    /// Folders (a Hugging Face base, PEFT adapters) keep their files' relative paths; weights are
    /// stored as they are, the rest of a model folder (tokenizer, configs) compressed.
    static func plan(_ spec: BundleSpec) throws(AirlockError) -> [PlannedFile] {
        var files: [PlannedFile] = []
        func addFolder(_ folder: String, as prefix: String, what: String) throws(AirlockError) {
            for relative in try FolderListing.regularFiles(under: folder, what: what) {
                let weights = relative.lowercased().hasSuffix(".safetensors")
                files.append(
                    PlannedFile(
                        path: prefix + relative, source: folder + "/" + relative, executable: false,
                        encoding: weights ? .stored : .zstd(level: runtimeCompressionLevel)))
            }
        }
        if case .file(let path, let format) = spec.base {
            if format == ModelFormatName.huggingFace {
                try addFolder(path, as: BundleLayout.baseFolder, what: "base model folder")
            } else {
                files.append(
                    PlannedFile(path: BundleLayout.basePath(fileName: lastComponent(path)), source: path, executable: false, encoding: .stored))
            }
        }
        for adapter in spec.adapters {
            if adapter.format == ModelFormatName.peft {
                try addFolder(adapter.path, as: BundleLayout.adapterFolder(name: adapter.name), what: "adapter folder")
            } else {
                files.append(
                    PlannedFile(
                        path: BundleLayout.adapterPath(name: adapter.name, fileName: lastComponent(adapter.path)),
                        source: adapter.path, executable: false, encoding: .stored))
            }
        }
        for runtime in spec.runtimes {
            for relative in try FolderListing.regularFiles(under: runtime.path, what: "runtime folder") {
                let source = runtime.path + "/" + relative
                files.append(
                    PlannedFile(
                        path: BundleLayout.runtimeFolder(variant: runtime.variant) + relative, source: source,
                        executable: isExecutable(source), encoding: .zstd(level: runtimeCompressionLevel)))
            }
        }
        return files
    }

    static func makeManifest(
        spec: BundleSpec, entries: [Manifest.FileEntry], created: Date, findings: ModelChecks.Findings
    ) throws(AirlockError) -> Manifest {
        var manifest = Manifest(
            name: spec.name.rawValue, version: spec.version.description, created: timestamp(created),
            base: .init(name: spec.name.rawValue, format: nil, path: nil, digest: ""), adapters: [], runtimes: [],
            service: spec.service, chunkSize: chunkSize, files: entries)
        func digest(of path: String) throws(AirlockError) -> String {
            guard path.hasSuffix("/") else { return "sha256:" + (entries.first { $0.path == path }?.sha256 ?? "") }
            return "sha256:" + (try SHA256Hasher.hash(manifest.folderListing(path))).hex
        }
        switch spec.base {
        case .file(let path, let format):
            let inBundle = format == ModelFormatName.huggingFace ? BundleLayout.baseFolder : BundleLayout.basePath(fileName: lastComponent(path))
            manifest.base = .init(name: spec.name.rawValue, format: format, path: inBundle, digest: try digest(of: inBundle))
        case .reference(let digest, let name):
            manifest.base = .init(name: name, format: nil, path: nil, digest: digest)
        }
        for adapter in spec.adapters {
            if adapter.format == ModelFormatName.peft {
                let inBundle = BundleLayout.adapterFolder(name: adapter.name)
                manifest.adapters.append(
                    Manifest.Adapter(
                        name: adapter.name, path: inBundle, digest: try digest(of: inBundle), baseDigest: manifest.base.digest,
                        format: ModelFormatName.peft, rank: findings.adapters[adapter.name]?.rank))
            } else {
                let inBundle = BundleLayout.adapterPath(name: adapter.name, fileName: lastComponent(adapter.path))
                manifest.adapters.append(
                    Manifest.Adapter(name: adapter.name, path: inBundle, digest: try digest(of: inBundle), baseDigest: manifest.base.digest))
            }
        }
        manifest.runtimes = spec.runtimes.map { runtime in
            let folder = BundleLayout.runtimeFolder(variant: runtime.variant)
            return Manifest.RuntimeVariant(
                variant: runtime.variant, path: folder, executable: folder + runtime.executable, requires: runtime.requires,
                engine: runtime.engine == RuntimeEngineName.llamaServer ? nil : runtime.engine)
        }
        // The runtime is started for the largest rank it must load, when the spec does not say.
        if let largest = findings.adapters.values.map(\.rank).max(), manifest.service?.maxLoraRank == nil {
            manifest.service = manifest.service ?? Manifest.ServiceSettings()
            manifest.service?.maxLoraRank = largest
        }
        return manifest
    }

    /// `SOURCE_DATE_EPOCH` if set (reproducible-builds convention), else the newest input's mtime.
    static func defaultCreated(_ plan: [PlannedFile]) throws(AirlockError) -> Date {
        if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] {
            guard let seconds = Int64(epoch), seconds >= 0 else {
                throw AirlockError(.invalidInput, "SOURCE_DATE_EPOCH '\(epoch)' is not a number of seconds")
            }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
        var newest: Int = 0
        for file in plan {
            var status = stat()
            if stat(file.source, &status) == 0 { newest = max(newest, status.st_mtim.tv_sec) }
        }
        return Date(timeIntervalSince1970: TimeInterval(newest))
    }

    static func timestamp(_ date: Date) -> String { UTCTime.text(secondsSince1970: Int(date.timeIntervalSince1970)) }

    static func encode(_ envelope: DSSEEnvelope) throws(AirlockError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(envelope)) } catch {
            throw AirlockError(.crypto, "cannot encode a signature envelope")
        }
    }

    static func isExecutable(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & 0o111 != 0
    }

    static func fileSize(_ path: String) throws(AirlockError) -> Int64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw AirlockError.system("cannot stat '\(path)'", errno: errno) }
        return Int64(status.st_size)
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// The bundle's internal layout: one place for every entry name.
public enum BundleLayout {
    public static func signaturePath(_ index: Int) -> String { "\(signaturesDirectory)/\(index).dsse.json" }
    public static func chainPath(_ index: Int) -> String { "\(signaturesDirectory)/\(index).chain.pem" }
    public static func basePath(fileName: String) -> String { "base/" + fileName }
    /// A Hugging Face base folder's files go under this folder.
    public static let baseFolder = "base/"
    /// A PEFT adapter folder's files go under this folder.
    public static func adapterFolder(name: String) -> String { "adapters/\(name)/" }
    public static func adapterPath(name: String, fileName: String) -> String { "adapters/\(name)/" + fileName }
    public static func runtimeFolder(variant: String) -> String { "runtime/\(variant)/" }
    /// At most this many signature entries (envelopes and chains).
    public static let maxSignatures = 32
    /// One envelope carries the manifest in base64 plus its signatures: at most that and 1 MiB.
    /// A vLLM runtime makes manifests of 13 MB (55,793 files), so the limit follows the
    /// manifest read just before instead of being fixed.
    public static func maxSignatureBytes(manifestBytes: Int) -> Int { 4 * ((manifestBytes + 2) / 3) + (1 << 20) }
    /// All signature entries together: eight envelopes' worth, so that a hostile bundle cannot
    /// make the verifier hold 32 full copies of a large manifest.
    public static func maxSignatureTotal(manifestBytes: Int) -> Int { 8 * maxSignatureBytes(manifestBytes: manifestBytes) }
}
