public import AirlockCore

/// Where free disk space comes from: `statvfs` on a real host, a fixed number in tests (a fake
/// host tree cannot fake a file system's free space).
public protocol FileSystemSpace: Sendable {
    /// Bytes an unprivileged writer may still use in the file system holding `folder`, which
    /// exists.
    func freeBytes(inFolder folder: String) throws(AirlockError) -> UInt64
}

/// Free space by `statvfs(3)`: `f_bavail × f_frsize` (blocks left to non-root writers).
public struct StatvfsSpace: FileSystemSpace {
    public init() {}

    public func freeBytes(inFolder folder: String) throws(AirlockError) -> UInt64 {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { throw .system("cannot measure free space in '\(folder)'", errno: errno) }
        return UInt64(info.f_bavail) &* UInt64(info.f_frsize)
    }
}

/// Reads what the host offers a runtime, all from files under one root folder, the seam tests
/// point at a fake host tree:
///
/// - `proc/cpuinfo`: the `flags` line of the first processor (`Features` on arm64);
/// - `proc/meminfo`: `MemTotal` and `MemAvailable` (kB);
/// - `dev/nvidiactl` and `dev/nvidia0`, `dev/nvidia1`, ...: NVIDIA GPUs (any file type counts,
///   so a fake tree can use empty files; without `nvidiactl` no GPU is usable, so none counts);
/// - `proc/driver/nvidia/version`: the driver version;
///
/// and the free space of the store folder from `space`. A missing file is an absent fact (no
/// GPU, memory unknown), not an error; a file that exists but cannot be read is an error.
///
/// The root is the host's, not `--root`'s: `airlock --root DIR` moves the store, but `/proc`
/// and `/dev` stay the machine's own, so callers pass `HostLayout.storeDirectory` as the folder.
public struct HostProbe: Sendable {
    /// `/` on a real host; a folder laid out like one in tests.
    public let root: String
    public let space: any FileSystemSpace

    public init(root: String = "/", space: any FileSystemSpace = StatvfsSpace()) {
        self.root = HostLayout(root: root).root
        self.space = space
    }

    /// The facts of this host, with free space measured in `storeFolder` (an absolute path; its
    /// nearest existing parent when it does not exist yet, as before a first install).
    public func probe(storeFolder: String) throws(AirlockError) -> HostFacts {
        let cpuinfo = try readIfPresent("proc/cpuinfo")
        let meminfo = try readIfPresent("proc/meminfo")
        let memory = meminfo.map(Self.parseMeminfo) ?? [:]
        let driverText = try readIfPresent("proc/driver/nvidia/version")
        let diskFolder = Self.nearestExistingFolder(storeFolder)
        return HostFacts(
            cpuFlags: cpuinfo.map(Self.parseCPUFlags) ?? [],
            memoryTotalBytes: memory["MemTotal"],
            memoryAvailableBytes: memory["MemAvailable"],
            gpus: try gpus(),
            nvidiaDriverVersion: driverText.flatMap(Self.parseDriverVersion),
            diskFolder: diskFolder,
            freeDiskBytes: try space.freeBytes(inFolder: diskFolder),
            pythons: pythons()
        )
    }

    // MARK: Files under the root

    func path(_ relative: String) -> String { root == "/" ? "/" + relative : root + "/" + relative }

    /// The whole text of a file, or nil when it does not exist. Reads to the end rather than
    /// trusting the size: `/proc` files report 0 bytes.
    func readIfPresent(_ relative: String) throws(AirlockError) -> String? {
        let file = path(relative)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw .system("cannot open '\(file)'", errno: code)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw .system("cannot read '\(file)'", errno: errno)
            }
            if got == 0 { break }
            bytes += chunk[0..<got]
            if bytes.count > 16 << 20 { throw AirlockError(.invalidInput, "'\(file)' is larger than 16 MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func exists(_ relative: String) -> Bool {
        var info = stat()
        return stat(path(relative), &info) == 0
    }

    /// The names in the folder at `relative` (none when it does not exist).
    func entryNames(_ relative: String) throws(AirlockError) -> [String] {
        let folder = path(relative)
        guard let directory = opendir(folder) else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return [] }
            throw .system("cannot list '\(folder)'", errno: code)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) })
        }
        return names
    }

    /// `usr/bin/python3.N`: regular files (a link is followed) with an execute bit, sorted by
    /// minor version. Names only: nothing is run at probe time.
    func pythons() -> [String] {
        guard let names = try? entryNames("usr/bin") else { return [] }
        var found: [(minor: Int, name: String)] = []
        for name in names {
            guard let minor = RuntimeRequirement.pythonMinor(name) else { continue }
            var info = stat()
            guard stat(path("usr/bin/" + name), &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_mode & 0o111 != 0 else { continue }
            found.append((minor, name))
        }
        return found.sorted { $0.minor < $1.minor }.map(\.name)
    }

    /// `dev/nvidiaN` nodes, in index order, when `dev/nvidiactl` is there too.
    func gpus() throws(AirlockError) -> [HostFacts.GPU] {
        guard exists("dev/nvidiactl") else { return [] }
        var found: [HostFacts.GPU] = []
        for name in try entryNames("dev") {
            guard name.hasPrefix("nvidia"), let index = Self.deviceIndex(name.dropFirst("nvidia".count)) else { continue }
            found.append(HostFacts.GPU(index: index, devicePath: path("dev/" + name)))
        }
        return found.sorted { $0.index < $1.index }
    }

    /// The NVIDIA device nodes a CUDA runtime opens, by their names on the host (`/dev/...`), of
    /// those this host has: `nvidiactl`, `nvidia-uvm`, `nvidia-uvm-tools`, then every GPU's
    /// `nvidiaN` in index order. This is the set NVIDIA's container toolkit hands a container for
    /// compute; not `nvidia-modeset` (displays only), `nvidia-caps/` (MIG) or NVSwitch nodes.
    /// Empty when the host has no usable GPU (no `nvidiaN` beside `nvidiactl`).
    public func cudaDeviceNodes() throws(AirlockError) -> [String] {
        let gpus = try gpus()
        guard !gpus.isEmpty else { return [] }
        let control = ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"].filter { exists("dev/" + $0) }
        let nodes = gpus.compactMap { $0.devicePath.split(separator: "/").last.map(String.init) }
        return (control + nodes).map { "/dev/" + $0 }
    }

    /// The digits after `nvidia` in a GPU node's name (`nvidia0`); nil for `nvidiactl`,
    /// `nvidia-uvm`, `nvidia-modeset` and other control nodes.
    static func deviceIndex(_ suffix: Substring) -> Int? {
        guard !suffix.isEmpty, suffix.count <= 4, suffix.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(suffix)
    }

    static func nearestExistingFolder(_ folder: String) -> String {
        var candidate = folder
        while true {
            var info = stat()
            if stat(candidate, &info) == 0 { return candidate }
            guard let slash = candidate.lastIndex(of: "/") else { return "." }
            if slash == candidate.startIndex { return "/" }
            candidate = String(candidate[..<slash])
        }
    }

    // MARK: Parsing (static, so tests can feed text straight in)

    /// The flags of the first processor: the first `flags` (x86) or `Features` (arm64) line.
    static func parseCPUFlags(_ cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingWhitespace()
            guard key == "flags" || key == "Features" else { continue }
            return Set(line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        }
        return []
    }

    /// `Key:   123 kB` lines as bytes, by key.
    static func parseMeminfo(_ meminfo: String) -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in meminfo.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ")
            guard let number = fields.first.flatMap({ UInt64($0) }) else { continue }
            let multiplier: UInt64 = fields.count > 1 && fields[1] == "kB" ? 1024 : 1
            let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
            if !overflow { values[String(line[..<colon])] = bytes }
        }
        return values
    }

    /// The version in the `NVRM version:` line: the first word that is a driver version, e.g.
    /// `550.54.14` in `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 ...`
    /// (also the open kernel module's `... Open Kernel Module for x86_64  550.54.14  Release Build ...`).
    static func parseDriverVersion(_ text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("NVRM version:") }) else { return nil }
        return line.split(separator: " ").first { NVIDIADriverVersion($0) != nil }.map(String.init)
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
