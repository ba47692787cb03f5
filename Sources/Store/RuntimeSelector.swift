internal import AirlockCore
public import BundleFormat

/// What installing and running a bundle takes of the host, estimated by the caller (for
/// example the payload size for disk, the weights' size × 1.2 for memory).
public struct ResourceNeeds: Sendable, Equatable, Codable {
    /// Free disk the install needs in the store folder.
    public var diskBytes: UInt64
    /// Memory the model needs to be available.
    public var memoryBytes: UInt64

    public init(diskBytes: UInt64, memoryBytes: UInt64) {
        self.diskBytes = diskBytes
        self.memoryBytes = memoryBytes
    }
}

/// The runtime variant picked for a host, and why; or why none can run.
public enum RuntimeChoice: Sendable, Equatable, Codable {
    /// A variant the selector passed over, and why.
    public struct Rejection: Sendable, Equatable, Codable {
        public var variant: String
        public var reason: String

        public init(variant: String, reason: String) {
            self.variant = variant
            self.reason = reason
        }
    }

    /// `variant` fits and is the most capable that does; `rejected` holds every other variant,
    /// in manifest order, each with its reason (one that fits too says what was preferred).
    case chosen(variant: String, reason: String, rejected: [Rejection])
    /// The host cannot take the bundle: too little disk or memory, or no variant fits (one
    /// reason per variant, each starting with its name).
    case refused(reasons: [String])
}

/// Picks the runtime variant that fits a host.
///
/// 1. Disk and memory first, whatever the variant: free disk in the store folder must cover
///    `needs.diskBytes`, available memory `needs.memoryBytes` (unknown available memory is a
///    refusal when any is needed). Either shortfall refuses, naming both numbers.
/// 2. A variant fits when the host meets every entry of its `requires`
///    (`RuntimeRequirement`'s grammar); an unknown entry means it does not fit.
/// 3. Of the variants that fit, the most capable wins: those that need a GPU (`gpu`, `cuda>=`)
///    first, then more CPU-flag requirements before fewer (`cpu-avx512` before `cpu-avx2`
///    before `cpu-generic`), then manifest order.
public enum RuntimeSelector {
    public static func choose(
        variants: [Manifest.RuntimeVariant], host: HostFacts, needs: ResourceNeeds
    ) -> RuntimeChoice {
        let shortfalls = resourceShortfalls(host: host, needs: needs)
        guard shortfalls.isEmpty else { return .refused(reasons: shortfalls) }
        guard !variants.isEmpty else { return .refused(reasons: ["the bundle offers no runtime variant"]) }

        let evaluations = variants.enumerated().map { evaluate($1, order: $0, host: host) }
        let fitting = evaluations.filter(\.fits).sorted(by: Evaluation.moreCapable)
        guard let best = fitting.first else {
            return .refused(reasons: evaluations.map { "\($0.name): " + $0.failures.joined(separator: "; ") })
        }
        let rejected = evaluations.filter { $0.order != best.order }.map { other in
            RuntimeChoice.Rejection(
                variant: other.name,
                reason: other.fits
                    ? "\(other.name): fits, but \(best.name) is more capable"
                    : "\(other.name): " + other.failures.joined(separator: "; ")
            )
        }
        let met = best.met.isEmpty ? ["no requirements"] : best.met
        return .chosen(
            variant: best.name,
            reason: (["\(best.name): the most capable variant that fits"] + met).joined(separator: "; "),
            rejected: rejected
        )
    }

    static func resourceShortfalls(host: HostFacts, needs: ResourceNeeds) -> [String] {
        var reasons: [String] = []
        if host.freeDiskBytes < needs.diskBytes {
            reasons.append(
                "needs \(ByteCount.text(needs.diskBytes)) of free disk in \(host.diskFolder), "
                    + "\(ByteCount.text(host.freeDiskBytes)) free")
        }
        if needs.memoryBytes > 0 {
            if let available = host.memoryAvailableBytes {
                if available < needs.memoryBytes {
                    reasons.append(
                        "needs \(ByteCount.text(needs.memoryBytes)) of available memory, "
                            + "\(ByteCount.text(available)) available")
                }
            } else {
                reasons.append(
                    "needs \(ByteCount.text(needs.memoryBytes)) of available memory; available memory "
                        + "unknown (no MemAvailable in /proc/meminfo)")
            }
        }
        return reasons
    }

    struct Evaluation {
        var name: String
        var order: Int
        var failures: [String] = []
        var met: [String] = []
        var needsGPU = false
        var cpuFlagCount = 0

        var fits: Bool { failures.isEmpty }

        static func moreCapable(_ a: Evaluation, _ b: Evaluation) -> Bool {
            if a.needsGPU != b.needsGPU { return a.needsGPU }
            if a.cpuFlagCount != b.cpuFlagCount { return a.cpuFlagCount > b.cpuFlagCount }
            return a.order < b.order
        }
    }

    static func evaluate(_ variant: Manifest.RuntimeVariant, order: Int, host: HostFacts) -> Evaluation {
        var evaluation = Evaluation(name: variant.variant, order: order)
        var missingFlags: [String] = []
        var presentFlags: [String] = []
        for text in variant.requires {
            let requirement: RuntimeRequirement
            do throws(AirlockError) {
                requirement = try RuntimeRequirement(parsing: text)
            } catch {
                evaluation.failures.append(error.message)
                continue
            }
            evaluation.needsGPU = evaluation.needsGPU || requirement.needsGPU
            switch requirement {
            case .cpuFlag(let flag):
                evaluation.cpuFlagCount += 1
                if host.cpuFlags.contains(flag) { presentFlags.append(flag) } else { missingFlags.append(flag) }
            case .gpu:
                if host.gpus.isEmpty {
                    evaluation.failures.append("needs an NVIDIA GPU; none found (no /dev/nvidiaN beside /dev/nvidiactl)")
                } else {
                    evaluation.met.append(gpuCount(host))
                }
            case .cuda(let major, let minor):
                checkCUDA(major: major, minor: minor, host: host, into: &evaluation)
            case .python(let minor):
                let name = "python3.\(minor)"
                if host.pythons.contains(name) {
                    evaluation.met.append("/usr/bin/\(name)")
                } else {
                    let found = host.pythons.isEmpty ? "none found" : "found " + host.pythons.map { "/usr/bin/" + $0 }.joined(separator: ", ")
                    evaluation.failures.append("needs Debian's /usr/bin/\(name) (apt install \(name)); \(found)")
                }
            case .memory(let bytes):
                if let total = host.memoryTotalBytes {
                    if total >= bytes {
                        evaluation.met.append("\(ByteCount.text(total)) of memory")
                    } else {
                        evaluation.failures.append(
                            "needs \(ByteCount.text(bytes)) of memory; host has \(ByteCount.text(total))")
                    }
                } else {
                    evaluation.failures.append(
                        "needs \(ByteCount.text(bytes)) of memory; host memory unknown (no MemTotal in /proc/meminfo)")
                }
            }
        }
        if !missingFlags.isEmpty {
            evaluation.failures.insert("CPU lacks " + missingFlags.joined(separator: ", "), at: 0)
        }
        if !presentFlags.isEmpty {
            evaluation.met.insert("CPU has " + presentFlags.joined(separator: ", "), at: 0)
        }
        return evaluation
    }

    static func checkCUDA(major: Int, minor: Int?, host: HostFacts, into evaluation: inout Evaluation) {
        // The parser only lets through versions the table knows.
        guard let needed = CUDADriverTable.minimumDriver(major: major, minor: minor) else { return }
        let cuda = minor.map { "\(major).\($0)" } ?? "\(major)"
        let need = "needs CUDA \(cuda) (NVIDIA driver >= \(needed))"
        let driver = host.nvidiaDriverVersion.flatMap { NVIDIADriverVersion($0) }
        switch (host.gpus.isEmpty, driver) {
        case (true, nil):
            evaluation.failures.append("\(need); no NVIDIA GPU or driver found")
        case (true, let driver?):
            evaluation.failures.append("\(need); driver \(driver) found but no NVIDIA GPU device node")
        case (false, nil):
            let found =
                host.nvidiaDriverVersion.map { "unreadable driver version '\($0)'" }
                ?? "no NVIDIA driver found (no /proc/driver/nvidia/version)"
            evaluation.failures.append("\(need); \(found)")
        case (false, let driver?):
            if driver >= needed {
                evaluation.met.append("driver \(driver) >= \(needed) runs CUDA \(cuda) on \(gpuCount(host))")
            } else {
                evaluation.failures.append("\(need); driver \(driver) found")
            }
        }
    }

    static func gpuCount(_ host: HostFacts) -> String {
        host.gpus.count == 1 ? "1 NVIDIA GPU" : "\(host.gpus.count) NVIDIA GPUs"
    }
}
