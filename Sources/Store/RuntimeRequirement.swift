public import AirlockCore

/// One entry of a runtime variant's `requires` list.
///
/// Grammar (no spaces, case matters):
///
///     requirement := cpu-flag | "gpu" | "cuda>=" major ["." minor] | "memory>=" amount unit
///                  | "python3." minor
///     cpu-flag    := a name from `knownCPUFlags`, spelled as /proc/cpuinfo spells it
///                    (`avx2`, `avx512f`, `sse4_2`; SSE3 is `pni`)
///     major, minor:= 1 to 4 digits; the CUDA version must be in `CUDADriverTable`
///     amount      := digits ["." digits]
///     unit        := "B" | "KiB" | "MiB" | "GiB" | "TiB"
///
/// - `avx2`: the host's CPU has that flag.
/// - `gpu`: the host has an NVIDIA GPU (a `/dev/nvidiaN` node beside `/dev/nvidiactl`).
/// - `cuda>=12`, `cuda>=12.2`: an NVIDIA GPU and a driver that runs that CUDA version
///   (the driver minimum comes from `CUDADriverTable`).
/// - `python3.11`: the host has Debian's interpreter `/usr/bin/python3.11` (a vLLM runtime
///   folder holds extension modules and bytecode for exactly that ABI, and runs on it).
/// - `memory>=16GiB`: the host has at least that much memory in all (`MemTotal`); what is
///   free now is the caller's `ResourceNeeds`.
///
/// Anything else is an unknown requirement, and a variant that has one does not fit: a
/// requirement this version of Airlock cannot check is never taken as met. CPU flags come from a
/// closed list so a typo (`avx-2`, `AVX2`, `cuda12`) reads as unknown rather than "CPU lacks it".
public enum RuntimeRequirement: Hashable, Sendable, CustomStringConvertible {
    case cpuFlag(String)
    case gpu
    /// `minor` nil: the major alone (`cuda>=12`).
    case cuda(major: Int, minor: Int?)
    case memory(atLeastBytes: UInt64)
    /// `python3.N`: N.
    case python(minor: Int)

    /// CPU flags a runtime build may depend on (what ggml's CPU backends dispatch on, x86-64
    /// and arm64), as `/proc/cpuinfo` names them.
    public static let knownCPUFlags: Set<String> = [
        // x86-64
        "sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "popcnt", "avx", "avx2", "fma", "f16c",
        "bmi1", "bmi2", "avx_vnni", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl",
        "avx512ifma", "avx512vbmi", "avx512_vbmi2", "avx512_vnni", "avx512_bitalg",
        "avx512_vpopcntdq", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
        // arm64 (the `Features` line)
        "fp", "asimd", "asimdhp", "asimddp", "fphp", "sve", "sve2", "i8mm", "bf16", "sme",
    ]

    /// Parses one `requires` entry; an unknown one throws `invalidInput` saying
    /// `unknown requirement 'x'` (and why, where there is more to say).
    public init(parsing text: String) throws(AirlockError) {
        if text == "gpu" {
            self = .gpu
        } else if Self.knownCPUFlags.contains(text) {
            self = .cpuFlag(text)
        } else if text.hasPrefix("cuda>=") {
            let number = text.dropFirst("cuda>=".count)
            guard let version = CUDAVersion(number) else { throw Self.unknown(text) }
            let minor = number.contains(".") ? version.minor : nil
            guard CUDADriverTable.minimumDriver(major: version.major, minor: minor) != nil else {
                throw Self.unknown(text, because: "no NVIDIA driver minimum known for CUDA \(number)")
            }
            self = .cuda(major: version.major, minor: minor)
        } else if let minor = Self.pythonMinor(text) {
            self = .python(minor: minor)
        } else if text.hasPrefix("memory>="), let bytes = Self.parseAmount(text.dropFirst("memory>=".count)) {
            self = .memory(atLeastBytes: bytes)
        } else {
            throw Self.unknown(text)
        }
    }

    /// As written in a manifest: `avx2`, `gpu`, `cuda>=12.2`, `memory>=16.0 GiB`.
    public var description: String {
        switch self {
        case .cpuFlag(let flag): flag
        case .gpu: "gpu"
        case .cuda(let major, let minor): minor.map { "cuda>=\(major).\($0)" } ?? "cuda>=\(major)"
        case .memory(let bytes): "memory>=\(ByteCount.text(bytes))"
        case .python(let minor): "python3.\(minor)"
        }
    }

    /// Whether a variant that `requires` these runs on an NVIDIA GPU (`gpu` or `cuda>=...`):
    /// its runtime unit is given the CUDA device nodes. Unknown entries do not count (a variant
    /// with one is never chosen).
    public static func needsGPU(_ requires: [String]) -> Bool {
        requires.contains { text in (try? RuntimeRequirement(parsing: text))?.needsGPU ?? false }
    }

    /// Whether the variant runs on a GPU (the selector tries those first).
    var needsGPU: Bool {
        switch self {
        case .gpu, .cuda: true
        case .cpuFlag, .memory, .python: false
        }
    }

    /// N of `python3.N` (1 to 2 digits, no leading zero); nil for anything else.
    static func pythonMinor(_ text: String) -> Int? {
        guard text.hasPrefix("python3.") else { return nil }
        let digits = text.dropFirst("python3.".count)
        guard (1...2).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), digits == "0" || !digits.hasPrefix("0") else { return nil }
        return Int(digits)
    }

    /// The interpreter a `python3.N` requirement names on the host.
    public static func pythonPath(_ requires: [String]) -> String? {
        for text in requires {
            if case .python(let minor)? = try? RuntimeRequirement(parsing: text) { return "/usr/bin/python3.\(minor)" }
        }
        return nil
    }

    private static func unknown(_ text: String, because detail: String? = nil) -> AirlockError {
        AirlockError(.invalidInput, "unknown requirement '\(text)'" + (detail.map { " (\($0))" } ?? ""))
    }

    /// `16GiB`, `1.5TiB`, `512MiB`, `4096B` as bytes; nil for anything else or above UInt64.
    static func parseAmount(_ text: Substring) -> UInt64? {
        let units: [(suffix: String, shift: Int)] = [("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40), ("B", 0)]
        guard let unit = units.first(where: { text.hasSuffix($0.suffix) }) else { return nil }
        let number = text.dropLast(unit.suffix.count)
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
            parts.allSatisfy({ !$0.isEmpty && $0.count <= 12 && $0.allSatisfy(\.isASCIIDigit) }),
            let whole = UInt64(parts[0])
        else { return nil }
        let scale = UInt64(1) << unit.shift
        let (wholeBytes, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        guard parts.count == 2 else { return wholeBytes }
        // The fraction in exact integers: digits × scale / 10^count, rounded down.
        let digits = parts[1]
        guard let fraction = UInt64(digits) else { return nil }
        var denominator: UInt64 = 1
        for _ in 0..<digits.count { denominator *= 10 }
        let fractionBytes = fraction.multipliedFullWidth(by: scale)
        let (quotient, _) = denominator.dividingFullWidth(fractionBytes)
        let (sum, sumOverflow) = wholeBytes.addingReportingOverflow(quotient)
        return sumOverflow ? nil : sum
    }
}
