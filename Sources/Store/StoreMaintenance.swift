public import AirlockCore
internal import BundleFormat
internal import Foundation
internal import Signing

/// One thing the store's own check found (`HostDoctor` adds the units' and timers').
public struct StoreFinding: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// An installed tree no longer matches its signed manifest, or is missing.
        case damaged
        /// `current` points at nothing installed.
        case brokenLink
        /// A leftover of an interrupted operation (staging folder, temporary link or file).
        case leftover
        /// state.json cannot be read.
        case unreadableState
        /// `current` was switched but the activation was not recorded (a crash right after the
        /// switch): repair records it.
        case unrecordedActivation
    }

    public var kind: Kind
    public var path: String
    public var detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }
    /// Whether `doctor --repair` fixes it (leftovers are removed, activations recorded;
    /// installed trees are never touched).
    public var repairable: Bool { kind == .leftover || kind == .unrecordedActivation }
}

extension BundleStore {
    // MARK: Remove

    /// Removes one installed version, or (version nil) every version of `name`. The current
    /// version only with `force`. The downgrade floor is kept.
    public func remove(name: String, version: String?, force: Bool) throws(AirlockError) -> [String] {
        let lock = try StoreLock(path: layout.storeLock)
        defer { lock.release() }
        var state = try loadState(name: name)
        let current = current(name: name)
        let versions: [String]
        if let version {
            guard state.installed[version] != nil else {
                throw AirlockError(.invalidInput, "\(name) \(version) is not installed")
            }
            versions = [version]
        } else {
            guard !state.installed.isEmpty else { throw AirlockError(.invalidInput, "\(name) is not installed") }
            versions = state.installed.keys.sorted()
        }
        if let current, versions.contains(current), !force {
            throw AirlockError(.refused, "\(name) \(current) is current; activate another version first, or remove it with --force")
        }
        if let current, versions.contains(current) {
            unlink(layout.currentLink(name: name))
        }
        for removed in versions {
            state.installed[removed] = nil
            state.history.removeAll { $0 == removed }
            try saveState(state)
            FileTree.removeTree(layout.versionDirectory(name: name, version: removed))
        }
        try AtomicFile.syncDirectory(layout.bundleDirectory(name: name))
        return versions
    }

    // MARK: Doctor

    /// Checks the store: every installed tree against its signed manifest (every byte), every
    /// `current` link, and leftovers of interrupted operations. With `repair`, removes leftovers.
    public func doctor(repair: Bool) throws(AirlockError) -> [StoreFinding] {
        try AtomicFile.makeDirectories(layout.storeDirectory, mode: 0o755)
        let lock = try StoreLock(path: layout.storeLock)
        defer { lock.release() }
        var findings: [StoreFinding] = []
        let staging = layout.stagingDirectory
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? [] {
            findings.append(StoreFinding(kind: .leftover, path: staging + "/" + entry, detail: "staging folder of an interrupted install"))
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: layout.storeDirectory)) ?? [])
            .filter { !$0.hasPrefix(".") && directoryExists(layout.storeDirectory + "/" + $0) }.sorted()
        for name in names {
            let folder = layout.bundleDirectory(name: name)
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where AtomicFile.isTemporary(name: entry) {
                findings.append(StoreFinding(kind: .leftover, path: folder + "/" + entry, detail: "temporary file of an interrupted operation"))
            }
            var state: BundleState
            do { state = try loadState(name: name) } catch {
                findings.append(StoreFinding(kind: .unreadableState, path: layout.bundleState(name: name), detail: error.description))
                continue
            }
            let current = current(name: name)
            // Trees an install renamed into place but never recorded, or recorded but never made
            // current: the install did not reach its commit point (the link switch).
            let reserved: Set<String> = ["current", "state.json"]
            for entry in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            where !reserved.contains(entry) && !AtomicFile.isTemporary(name: entry) && entry != current {
                let tree = folder + "/" + entry
                guard directoryExists(tree) else { continue }
                let recorded = state.installed[entry] != nil
                let activated = state.history.contains(entry)
                if !recorded || !activated {
                    findings.append(
                        StoreFinding(
                            kind: .leftover, path: tree,
                            detail: recorded
                                ? "installed but never made current: an interrupted install"
                                : "tree not recorded in state.json: an interrupted install"))
                    if repair {
                        state.installed[entry] = nil
                        try saveState(state)
                    }
                }
            }
            if let current {
                if state.installed[current] == nil || !directoryExists(layout.versionDirectory(name: name, version: current)) {
                    findings.append(
                        StoreFinding(kind: .brokenLink, path: layout.currentLink(name: name), detail: "points at \(current), which is not installed"))
                } else if state.history.last != current {
                    findings.append(
                        StoreFinding(
                            kind: .unrecordedActivation, path: layout.bundleState(name: name),
                            detail: "\(current) is current but its activation was not recorded"))
                    if repair {
                        state.history.removeAll { $0 == current }
                        state.history.append(current)
                        if let candidate = try? SemanticVersion(current),
                            state.floor.flatMap({ try? SemanticVersion($0) }).map({ $0 < candidate }) ?? true
                        {
                            state.floor = current
                        }
                        try saveState(state)
                    }
                }
            }
            for version in state.installed.keys.sorted() where state.history.contains(version) || version == current {
                let tree = layout.versionDirectory(name: name, version: version)
                if let problem = Self.check(tree: tree) {
                    findings.append(StoreFinding(kind: .damaged, path: tree, detail: problem))
                }
            }
        }
        if repair {
            for finding in findings where finding.kind == .leftover { FileTree.removeTree(finding.path) }
        }
        return findings
    }

    /// Why `tree` does not match the manifest stored in it, or nil when every byte matches.
    static func check(tree: String) -> String? {
        guard let data = FileManager.default.contents(atPath: tree + "/" + manifestEntryName),
            let manifest = try? Manifest.decode(Array(data))
        else {
            return "the tree or its manifest.json is missing or unreadable"
        }
        let expected = Set(manifest.files.map(\.path) + [manifestEntryName, "install.json"])
        let present = Set(
            FileManager.default.subpaths(atPath: tree)?.filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: tree + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
            } ?? [])
        if let extra = present.subtracting(expected).sorted().first { return "'\(extra)' is not in the manifest" }
        for file in manifest.files {
            let path = tree + "/" + file.path
            guard let digests = try? Self.digests(of: path, chunkSize: manifest.chunkSize, size: file.size) else {
                return "'\(file.path)' is missing or unreadable"
            }
            guard digests == (file.chunks ?? [file.sha256]) else { return "'\(file.path)' does not match its signed digest" }
        }
        return nil
    }

    /// The file's chunk digests (one digest when it is a single chunk); nil if its size differs.
    static func digests(of path: String, chunkSize: UInt64, size: UInt64) throws(AirlockError) -> [String]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw AirlockError.system("cannot open \(path)", errno: errno) }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var digests: [String] = []
        var hasher = try SHA256Hasher()
        var inChunk: UInt64 = 0
        var total: UInt64 = 0
        while true {
            let want = Int(min(UInt64(buffer.count), chunkSize - inChunk))
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, want) }
            if count < 0 { throw AirlockError.system("cannot read \(path)", errno: errno) }
            if count == 0 { break }
            try hasher.update(buffer[..<count])
            inChunk += UInt64(count)
            total += UInt64(count)
            if inChunk == chunkSize {
                digests.append(try hasher.finalize().hex)
                hasher = try SHA256Hasher()
                inChunk = 0
            }
        }
        if inChunk > 0 || digests.isEmpty { digests.append(try hasher.finalize().hex) }
        return total == size ? digests : nil
    }
}
