/// What the host probe found: the facts a runtime variant's requirements are checked against,
/// and what `airlock doctor --json` prints. A fact the host did not show is nil (or empty),
/// never guessed.
public struct HostFacts: Sendable, Equatable, Codable {
    /// One NVIDIA GPU, known by its device node.
    public struct GPU: Sendable, Equatable, Codable {
        /// N in `/dev/nvidiaN`.
        public var index: Int
        /// The device node, as found (under the probe's root).
        public var devicePath: String

        public init(index: Int, devicePath: String) {
            self.index = index
            self.devicePath = devicePath
        }
    }

    /// The `flags` of the first processor in `/proc/cpuinfo` (`Features` on arm64).
    public var cpuFlags: Set<String>
    /// `MemTotal` of `/proc/meminfo`; nil when it is missing.
    public var memoryTotalBytes: UInt64?
    /// `MemAvailable` of `/proc/meminfo`; nil when it is missing.
    public var memoryAvailableBytes: UInt64?
    /// NVIDIA GPUs with a device node, in index order; empty without `/dev/nvidiactl`.
    public var gpus: [GPU]
    /// From `/proc/driver/nvidia/version` (`550.54.14`); nil when no NVIDIA driver is loaded.
    public var nvidiaDriverVersion: String? {
        didSet { cudaCapability = Self.cudaCapability(driver: nvidiaDriverVersion) }
    }
    /// The newest CUDA version the driver runs, by `CUDADriverTable`; nil without a driver.
    /// Derived from `nvidiaDriverVersion`, never set on its own.
    public private(set) var cudaCapability: CUDAVersion?
    /// The folder whose free space was measured (the store folder, or its nearest existing
    /// parent when it does not exist yet).
    public var diskFolder: String
    /// Free space in `diskFolder` for an unprivileged writer (`statvfs` `f_bavail`).
    public var freeDiskBytes: UInt64
    /// The host's Python interpreters a carried runtime can run on: `python3.N` regular,
    /// executable files in `/usr/bin` (Debian's), sorted (`python3.11`).
    public var pythons: [String]

    public init(
        cpuFlags: Set<String>, memoryTotalBytes: UInt64?, memoryAvailableBytes: UInt64?, gpus: [GPU],
        nvidiaDriverVersion: String?, diskFolder: String, freeDiskBytes: UInt64, pythons: [String] = []
    ) {
        self.cpuFlags = cpuFlags
        self.memoryTotalBytes = memoryTotalBytes
        self.memoryAvailableBytes = memoryAvailableBytes
        self.gpus = gpus
        self.nvidiaDriverVersion = nvidiaDriverVersion
        self.cudaCapability = Self.cudaCapability(driver: nvidiaDriverVersion)
        self.diskFolder = diskFolder
        self.freeDiskBytes = freeDiskBytes
        self.pythons = pythons
    }

    static func cudaCapability(driver: String?) -> CUDAVersion? {
        driver.flatMap { NVIDIADriverVersion($0) }.flatMap { CUDADriverTable.capability(of: $0) }
    }

    // Coded by hand: flags sorted, so the same host prints the same JSON; `cudaCapability`
    // written for readers but derived again when read, so it cannot disagree with the driver.

    enum CodingKeys: String, CodingKey {
        case cpuFlags, memoryTotalBytes, memoryAvailableBytes, gpus, nvidiaDriverVersion, cudaCapability
        case diskFolder, freeDiskBytes, pythons
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            cpuFlags: try container.decode(Set<String>.self, forKey: .cpuFlags),
            memoryTotalBytes: try container.decodeIfPresent(UInt64.self, forKey: .memoryTotalBytes),
            memoryAvailableBytes: try container.decodeIfPresent(UInt64.self, forKey: .memoryAvailableBytes),
            gpus: try container.decode([GPU].self, forKey: .gpus),
            nvidiaDriverVersion: try container.decodeIfPresent(String.self, forKey: .nvidiaDriverVersion),
            diskFolder: try container.decode(String.self, forKey: .diskFolder),
            freeDiskBytes: try container.decode(UInt64.self, forKey: .freeDiskBytes),
            pythons: try container.decodeIfPresent([String].self, forKey: .pythons) ?? []
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(cpuFlags.sorted(), forKey: .cpuFlags)
        try container.encode(memoryTotalBytes, forKey: .memoryTotalBytes)
        try container.encode(memoryAvailableBytes, forKey: .memoryAvailableBytes)
        try container.encode(gpus, forKey: .gpus)
        try container.encode(nvidiaDriverVersion, forKey: .nvidiaDriverVersion)
        try container.encode(cudaCapability, forKey: .cudaCapability)
        try container.encode(diskFolder, forKey: .diskFolder)
        try container.encode(freeDiskBytes, forKey: .freeDiskBytes)
        try container.encode(pythons, forKey: .pythons)
    }
}
