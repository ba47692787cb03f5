public import AirlockCore
public import BundleFormat
public import BundleIO
public import Signing
public import Foundation

/// What the store remembers about one bundle name (`NAME/state.json`).
public struct BundleState: Codable, Sendable, Equatable {
    public var name: String
    /// The highest version ever activated: installs must go above it (unless allowed).
    public var floor: String?
    /// Versions in the order they were activated (most recent last).
    public var history: [String]
    public var installed: [String: InstalledVersion]

    public init(name: String) {
        self.name = name
        history = []
        installed = [:]
    }
}

/// One installed version's record.
public struct InstalledVersion: Codable, Sendable, Equatable {
    public var version: String
    public var installedAt: String
    public var signers: [String]
    public var files: Int
    public var bytes: UInt64
    /// The runtime variant chosen for this host, and why (nil for adapter-only bundles).
    public var runtime: String?
    public var runtimeReason: String?
}

/// The outcome of an install.
public struct InstallResult: Sendable {
    public let name: String
    public let version: String
    public let previous: String?
    public let installed: InstalledVersion
    public let downgradeAllowed: Bool
    /// Older versions removed by the store policy's `keep_versions`.
    public let pruned: [String]
    /// The verified manifest of what was installed (what the services are rendered from).
    public let manifest: Manifest
    /// Whether it was made current (`previous` is then the version before it; otherwise the
    /// version that stays current).
    public let activated: Bool
    /// Checked only: nothing was written.
    public let dryRun: Bool
}

/// The on-host store under `ROOT/var/lib/airlock`: installs verify while extracting into a
/// staging folder on the same file system, flush every file and folder, rename the finished
/// read-only tree into `NAME/VERSION`, then switch `NAME/current` atomically. Any failure before
/// the switch leaves the previous version current and untouched, and removes the staging folder.
/// One operation at a time per store (`.lock`).
public struct BundleStore: Sendable {
    public let layout: HostLayout
    /// Where the host probe reads `/proc` and `/dev` (tests point it at a fake host tree).
    public let hostRoot: String
    let space: any FileSystemSpace

    public init(layout: HostLayout, hostRoot: String = "/", space: any FileSystemSpace = StatvfsSpace()) {
        self.layout = layout
        self.hostRoot = hostRoot
        self.space = space
    }

    // MARK: Install

    /// `dryRun`: every check an install makes (signatures, every byte, downgrade, host), and
    /// nothing written. `activate: false`: installed beside the current version, which stays
    /// current (activate it later with `activate`).
    public func install(
        bundle path: String, policy: TrustPolicy, allowDowngrade: Bool = false, dryRun: Bool = false, activate: Bool = true,
        now: Date = Date(), progress: ProgressReporter? = nil
    ) throws(AirlockError) -> InstallResult {
        try AtomicFile.makeDirectories(layout.stagingDirectory, mode: 0o755)
        let lock = try StoreLock(path: layout.storeLock)
        defer { lock.release() }

        let sink = StagingSink(store: self, allowDowngrade: allowDowngrade, dryRun: dryRun, now: now)
        defer { if let staging = sink.staging { FileTree.removeTree(staging) } }
        let outcome = try BundleVerifier.verify(path: path, policy: policy, at: now, sink: sink, progress: progress)
        guard case .verified(let verified) = outcome else {
            if case .refused(let refusal) = outcome {
                throw AirlockError(.refused, kind: refusal.kind, "refused \(path): \(refusal.description)")
            }
            throw AirlockError(.refused, "refused \(path)")
        }
        let manifest = verified.manifest
        if dryRun, let record = sink.record {
            return InstallResult(
                name: manifest.name, version: manifest.version, previous: current(name: manifest.name), installed: record,
                downgradeAllowed: sink.downgradeUsed, pruned: [], manifest: manifest, activated: false, dryRun: true)
        }
        guard let staging = sink.staging, let record = sink.record else {
            throw AirlockError(.system, "internal error: the bundle verified but nothing was staged")
        }
        // The signed manifest goes beside the payload, for doctor and status.
        try FileTree.create(staging + "/" + manifestEntryName, bytes: verified.manifestBytes, mode: PayloadAccess.recordMode)
        try FileTree.create(staging + "/install.json", bytes: try Self.encode(record), mode: PayloadAccess.recordMode)
        CrashPoint.reach("install.staged")
        for folder in FileTree.directories(under: staging) {
            try PayloadAccess.seal(folder: folder, group: sink.group, isVersionFolder: folder == staging)
        }
        // Every file's data and every folder's entries on the disk before the rename below makes
        // the tree reachable: one syncfs(2) of the staging file system (Linux 5.8+ reports
        // write-back errors through it; a full disk found only now still refuses here).
        try FileTree.flushFileSystem(of: staging)
        CrashPoint.reach("install.synced")
        let bundleFolder = layout.bundleDirectory(name: manifest.name)
        try AtomicFile.makeDirectories(bundleFolder, mode: 0o755)
        let target = layout.versionDirectory(name: manifest.name, version: manifest.version)
        guard rename(staging, target) == 0 else { throw AirlockError.system("cannot move the new tree to \(target)", errno: errno) }
        sink.staging = nil
        try AtomicFile.syncDirectory(bundleFolder)
        try AtomicFile.syncDirectory(layout.stagingDirectory)
        CrashPoint.reach("install.renamed")

        // Recorded as installed first, then made current (the commit point), then the
        // activation recorded: `doctor` names and repairs a crash between any two of these.
        var state = try loadState(name: manifest.name)
        let previous = current(name: manifest.name)
        state.installed[manifest.version] = record
        try saveState(state)
        CrashPoint.reach("install.recorded")
        guard activate else {
            return InstallResult(
                name: manifest.name, version: manifest.version, previous: previous, installed: record,
                downgradeAllowed: sink.downgradeUsed, pruned: [], manifest: manifest, activated: false, dryRun: false)
        }
        try activateLocked(name: manifest.name, version: manifest.version, state: &state)
        let pruned = try prune(name: manifest.name, state: &state, keep: try StorePolicy.load(path: layout.storePolicy).keepVersions)
        return InstallResult(
            name: manifest.name, version: manifest.version, previous: previous, installed: record,
            downgradeAllowed: sink.downgradeUsed, pruned: pruned, manifest: manifest, activated: true, dryRun: false)
    }

    // MARK: Activation

    /// Makes an installed version current (no downgrade floor: every installed version was
    /// verified when it was installed, and going back is an operator's decision).
    /// `permit` sees the version's record first (under the store lock) and may refuse it (a
    /// signer the trust policy revoked since, say).
    public func activate(
        name: String, version: String, permit: (InstalledVersion) throws(AirlockError) -> Void = { _ in }
    ) throws(AirlockError) -> String? {
        let lock = try StoreLock(path: layout.storeLock)
        defer { lock.release() }
        var state = try loadState(name: name)
        guard let record = state.installed[version], directoryExists(layout.versionDirectory(name: name, version: version)) else {
            throw AirlockError(
                .invalidInput, "\(name) \(version) is not installed (installed: \(state.installed.keys.sorted().joined(separator: ", ")))")
        }
        try permit(record)
        let previous = current(name: name)
        try activateLocked(name: name, version: version, state: &state)
        return previous
    }

    /// Goes back to the version activated before the current one. Returns (from, to).
    public func rollback(
        name: String, permit: (InstalledVersion) throws(AirlockError) -> Void = { _ in }
    ) throws(AirlockError) -> (from: String, to: String) {
        let lock = try StoreLock(path: layout.storeLock)
        defer { lock.release() }
        var state = try loadState(name: name)
        guard let current = current(name: name) else { throw AirlockError(.invalidInput, "\(name) has no current version") }
        let earlier = state.history.dropLast(state.history.last == current ? 1 : 0).reversed().first {
            $0 != current && state.installed[$0] != nil && directoryExists(layout.versionDirectory(name: name, version: $0))
        }
        guard let target = earlier else {
            throw AirlockError(.invalidInput, "\(name) has no earlier installed version to roll back to")
        }
        if let record = state.installed[target] { try permit(record) }
        try activateLocked(name: name, version: target, state: &state)
        return (current, target)
    }

    private func activateLocked(name: String, version: String, state: inout BundleState) throws(AirlockError) {
        CrashPoint.reach("activate.before-switch")
        try FileTree.switchLink(layout.currentLink(name: name), to: version)
        CrashPoint.reach("activate.switched")
        state.history.removeAll { $0 == version }
        state.history.append(version)
        if let candidate = try? SemanticVersion(version) {
            let floor = state.floor.flatMap { try? SemanticVersion($0) }
            if floor.map({ $0 < candidate }) ?? true { state.floor = version }
        }
        try saveState(state)
    }

    /// Removes installed versions beyond the `keep` most recently activated (never the current
    /// one); the floor stays.
    private func prune(name: String, state: inout BundleState, keep: Int) throws(AirlockError) -> [String] {
        let current = current(name: name)
        let kept = Set(state.history.suffix(keep) + (current.map { [$0] } ?? []))
        let doomed = state.installed.keys.filter { !kept.contains($0) }.sorted()
        for version in doomed {
            state.installed[version] = nil
            state.history.removeAll { $0 == version }
            try saveState(state)
            FileTree.removeTree(layout.versionDirectory(name: name, version: version))
        }
        return doomed
    }

    // MARK: Reading

    /// The version `NAME/current` points at.
    public func current(name: String) -> String? {
        FileTree.readLink(layout.currentLink(name: name))
    }

    /// Every bundle name with installed versions.
    public func names() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: layout.storeDirectory)) ?? []
        return entries.filter { !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: layout.bundleState(name: $0)) }.sorted()
    }

    public func loadState(name: String) throws(AirlockError) -> BundleState {
        let path = layout.bundleState(name: name)
        guard let data = FileManager.default.contents(atPath: path) else { return BundleState(name: name) }
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(BundleState.self, from: data)
        } catch {
            throw AirlockError(.invalidInput, "\(path) is damaged; run 'airlock doctor'")
        }
    }

    func saveState(_ state: BundleState) throws(AirlockError) {
        try AtomicFile.write(try Self.encode(state), to: layout.bundleState(name: state.name), mode: 0o644)
    }

    static func encode(_ value: some Encodable) throws(AirlockError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do { return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")] } catch {
            throw AirlockError(.system, "cannot encode store state")
        }
    }

    func directoryExists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// Receives the verified payload into a staging folder; refuses in `prepare` (nothing written)
/// when the version would go backwards, is installed already, or the host cannot run it.
final class StagingSink: PayloadSink, @unchecked Sendable {
    let store: BundleStore
    let allowDowngrade: Bool
    let now: Date
    var staging: String?
    var record: InstalledVersion?
    var downgradeUsed = false
    /// The group the payload is given (`PayloadAccess`).
    let group = PayloadAccess.group()
    /// The file being written, on a writer thread of its own (see `StagedFileWriter`).
    private var file: StagedFileWriter?
    /// A small file being received: its bytes are kept, and the file created and written whole
    /// at its end, on this thread (a writer thread and a 2 MiB buffer for each of a runtime
    /// folder's ~56,000 files of a few KiB cost more than the writing: Docs/benchmarks.md).
    private var small: (path: String, bytes: [UInt8])?
    /// Folders of the staging tree made so far (a runtime folder's files share a few thousand).
    private var madeFolders: Set<String> = []

    /// Files up to this size take the small path.
    static let smallFileLimit: UInt64 = 256 << 10

    /// Checks only: nothing is staged, every byte is still read and verified.
    let dryRun: Bool

    init(store: BundleStore, allowDowngrade: Bool, dryRun: Bool = false, now: Date) {
        self.store = store
        self.allowDowngrade = allowDowngrade
        self.dryRun = dryRun
        self.now = now
    }

    func prepare(manifest: Manifest, manifestBytes: [UInt8], signers: [TrustedSigner]) throws(AirlockError) {
        let layout = store.layout
        let name = manifest.name
        let version = try SemanticVersion(manifest.version)
        if store.directoryExists(layout.versionDirectory(name: name, version: manifest.version)) {
            throw AirlockError(.refused, "\(name) \(manifest.version) is already installed")
        }
        let state = try store.loadState(name: name)
        if let floorText = state.floor, let floor = try? SemanticVersion(floorText), !(floor < version) {
            guard allowDowngrade else {
                throw AirlockError(
                    .refused,
                    "\(name) \(manifest.version) is not newer than \(floorText), the highest version ever activated; installing it needs --allow-downgrade"
                )
            }
            downgradeUsed = true
        }
        if !manifest.shipsBase {
            let baseDigest = manifest.base.digest
            let bases = store.names().flatMap { other in
                ((try? store.loadState(name: other))?.installed.keys.map { (other, $0) }) ?? []
            }
            let found = bases.contains { other, installedVersion in
                guard
                    let data = FileManager.default.contents(
                        atPath: layout.versionDirectory(name: other, version: installedVersion) + "/" + manifestEntryName),
                    let baseManifest = try? Manifest.decode(Array(data))
                else { return false }
                return baseManifest.shipsBase && baseManifest.base.digest == baseDigest
            }
            guard found else {
                throw AirlockError(.refused, "adapter-only bundle \(name) fits base \(manifest.base.name) \(baseDigest), which is not installed")
            }
        }
        let payload = manifest.files.reduce(UInt64(0)) { $0 + $1.size }
        var runtime: String?
        var reason: String?
        let facts = try HostProbe(root: store.hostRoot, space: store.space).probe(storeFolder: layout.storeDirectory)
        let needs = ResourceNeeds(diskBytes: payload + payload / 20 + (1 << 20), memoryBytes: 0)
        if manifest.runtimes.isEmpty {
            if facts.freeDiskBytes < needs.diskBytes {
                throw AirlockError(
                    .refused,
                    "needs \(ByteCount.text(needs.diskBytes)) of free disk in \(layout.storeDirectory), \(ByteCount.text(facts.freeDiskBytes)) free")
            }
        } else {
            switch RuntimeSelector.choose(variants: manifest.runtimes, host: facts, needs: needs) {
            case .chosen(let variant, let why, _):
                runtime = variant
                reason = why
            case .refused(let reasons):
                throw AirlockError(.refused, "\(name) \(manifest.version) cannot run on this host: \(reasons.joined(separator: "; "))")
            }
        }
        record = InstalledVersion(
            version: manifest.version, installedAt: BundleStore.timestamp(now), signers: signers.map(\.keyID),
            files: manifest.files.count, bytes: payload, runtime: runtime, runtimeReason: reason)
        if dryRun { return }
        let folder = layout.stagingDirectory + "/\(name)-\(manifest.version).\(getpid())"
        FileTree.removeTree(folder)
        guard mkdir(folder, 0o700) == 0 else { throw AirlockError.system("cannot create the staging folder \(folder)", errno: errno) }
        staging = folder
        CrashPoint.reach("install.prepared")
    }

    func beginFile(_ entry: Manifest.FileEntry) throws(AirlockError) {
        if dryRun { return }
        CrashPoint.reach("install.file-begin")
        guard let staging else { throw AirlockError(.system, "internal error: no staging folder") }
        let path = staging + "/" + entry.path
        let folder = AtomicFile.folder(of: path)
        if !madeFolders.contains(folder) {
            try AtomicFile.makeDirectories(folder, mode: 0o755)
            madeFolders.insert(folder)
        }
        if entry.size <= Self.smallFileLimit {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(entry.size))
            small = (path, bytes)
            return
        }
        file = try StagedFileWriter(creating: path)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(AirlockError) {
        if dryRun { return }
        if small != nil {
            small!.bytes.append(contentsOf: bytes)
            CrashPoint.reach("install.file-data")
            return
        }
        guard let file else { throw AirlockError(.system, "internal error: no file is open") }
        try file.append(bytes)
        CrashPoint.reach("install.file-data")
    }

    /// Ends a file: all of it written and sealed (mode, group). Not flushed one by one: the
    /// whole staging tree is flushed at once before it is renamed into place (`FileTree.flushFileSystem`),
    /// which makes the same promise (nothing is current before every byte is on the disk) for
    /// one device flush instead of one per file.
    func endFile(_ entry: Manifest.FileEntry) throws(AirlockError) {
        if dryRun { return }
        if let small {
            self.small = nil
            let descriptor = try FileTree.createNew(small.path)
            defer { close(descriptor) }
            try FileTree.writeAll(descriptor, small.bytes, path: small.path)
            try PayloadAccess.seal(descriptor: descriptor, path: small.path, executable: entry.isExecutable, group: group)
            CrashPoint.reach("install.file-before-fsync")
            CrashPoint.reach("install.file-synced")
            return
        }
        guard let file else { throw AirlockError(.system, "internal error: no file is open") }
        defer { self.file = nil }  // closes it
        try file.drain()
        try PayloadAccess.seal(descriptor: file.descriptor, path: file.path, executable: entry.isExecutable, group: group)
        CrashPoint.reach("install.file-before-fsync")
        CrashPoint.reach("install.file-synced")
    }
}

extension BundleStore {
    static func timestamp(_ date: Date) -> String { UTCTime.text(secondsSince1970: Int(date.timeIntervalSince1970)) }
}

/// An exclusive lock on the store (flock): a second install waits for the first.
final class StoreLock: @unchecked Sendable {
    private var descriptor: Int32

    init(path: String) throws(AirlockError) {
        try AtomicFile.makeDirectories(AtomicFile.folder(of: path), mode: 0o755)
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        guard descriptor >= 0 else {
            if errno == ELOOP {
                throw AirlockError(.refused, kind: .unsafeFile, "the store lock \(path) is a symbolic link: refused and left as it is")
            }
            throw AirlockError.system("cannot open the store lock \(path)", errno: errno)
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1 else {
            close(descriptor)
            throw AirlockError(.refused, kind: .unsafeFile, "the store lock \(path) is not a plain file (a link, say): refused and left as it is")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                close(descriptor)
                throw AirlockError.system("cannot lock the store", errno: errno)
            }
            FileHandle.standardError.write(Data("airlock: waiting for another airlock operation on this store to finish\n".utf8))
            guard flock(descriptor, LOCK_EX) == 0 else {
                close(descriptor)
                throw AirlockError.system("cannot lock the store", errno: errno)
            }
        }
    }

    func release() {
        if descriptor >= 0 {
            flock(descriptor, LOCK_UN)
            close(descriptor)
            descriptor = -1
        }
    }

    deinit { release() }
}
