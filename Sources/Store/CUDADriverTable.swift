/// A CUDA version as runtime requirements and the driver table spell it: `12`, `12.4`.
///
/// Encodes as the string `"12.4"`, so `--json` output reads the way people write it.
public struct CUDAVersion: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int = 0) {
        self.major = major
        self.minor = minor
    }

    /// `12` or `12.4`; nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
            parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) && $0.count <= 4 }),
            let major = Int(parts[0]), let minor = parts.count == 2 ? Int(parts[1]) : 0
        else { return nil }
        self.init(major: major, minor: minor)
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (a: CUDAVersion, b: CUDAVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let version = CUDAVersion(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a CUDA version: '\(text)'"))
        }
        self = version
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An NVIDIA driver version (`550.54.14`, `455.23`), compared number by number.
struct NVIDIADriverVersion: Comparable, Sendable, CustomStringConvertible {
    /// As the driver wrote it.
    let description: String
    let components: [Int]

    /// Two or three dot-separated numbers; nil for anything else.
    init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
            parts.allSatisfy({ !$0.isEmpty && $0.count <= 6 && $0.allSatisfy(\.isASCIIDigit) })
        else { return nil }
        description = String(text)
        components = parts.map { Int($0)! }
    }

    private var padded: [Int] { components + Array(repeating: 0, count: 3 - components.count) }

    static func < (a: NVIDIADriverVersion, b: NVIDIADriverVersion) -> Bool {
        a.padded.lexicographicallyPrecedes(b.padded)
    }

    static func == (a: NVIDIADriverVersion, b: NVIDIADriverVersion) -> Bool { a.padded == b.padded }
}

/// Which NVIDIA Linux driver a CUDA version needs.
///
/// Source: NVIDIA, "CUDA Toolkit Release Notes" (docs.nvidia.com/cuda/cuda-toolkit-release-notes),
/// section "CUDA Driver": Table 2, "CUDA Toolkit and Minimum Required Driver Version for CUDA
/// Minor Version Compatibility" (the floor of a whole major release), and Table 3, "CUDA Toolkit
/// and Corresponding Driver Versions" (the Linux x86_64 driver each GA release needs).
///
///     major floor (Table 2)   11.x >= 450.80.02    12.x >= 525.60.13    13.x >= 580.65.06
///     GA releases (Table 3)   11.0 450.51.05   11.1 455.23      11.2 460.27.03   11.3 465.19.01
///                             11.4 470.42.01   11.5 495.29.05   11.6 510.39.01   11.7 515.43.04
///                             11.8 520.61.05   12.0 525.60.13   12.1 530.30.02   12.2 535.54.03
///                             12.3 545.23.06   12.4 550.54.14   12.5 555.42.02   12.6 560.28.03
///                             12.8 570.26      12.9 575.51.03   13.0 580.65.06 (there is no 12.7)
///
/// Checked against two stored copies of NVIDIA's notes, for CUDA 13.2 and for 13.2
/// Update 2 (docs.nvidia.com/cuda/archive/13.2.2/cuda-toolkit-release-notes), read through the
/// project's reference search: every row above matches their Table 3 (GA rows; the "Update"
/// rows need newer drivers and are not used), and 12.7 has no row there either. Their Table 2
/// states the ranges coarsely, "12.x >= 525, < 580" and "11.x >= 450, < 525", with the footnote
/// that minor version compatibility across 11.x needs 450.80.02 (Linux): that confirms the 11.x
/// floor. For 12.x the table keeps 525.60.13, the 12.0 GA driver of Table 3 (no 12.x toolkit
/// shipped with an older one), which is at least as strict as ">= 525"; the exact "525.60.13" in
/// Table 2 of older (12.x) notes was not among the stored text, so it is not claimed from there.
/// NVIDIA's CUDA Compatibility guide ("Minor Version Compatibility", docs.nvidia.com/deploy/
/// cuda-compatibility) gives the same ranges and the same 450.80.02 note.
///
/// A requirement naming only the major (`cuda>=12`) needs the major's floor: under minor
/// version compatibility any 12.x build runs on it. One naming a minor (`cuda>=12.2`) needs that
/// release's own driver and never less than the floor, so a runtime that states a minor does
/// not lean on minor version compatibility (which leaves out PTX JIT compilation).
///
/// CUDA 13 (vLLM 0.32's CUDA build, issue 18): the 13.0 GA row, 580.65.06, is the driver CUDA
/// 13.0.0 shipped with; NVIDIA's Minor Version Compatibility guide gives the 13.x range as
/// ">= 580", so the floor is kept at the GA driver, as for 12.x. 13.1 and later minors are not
/// in the table (their rows were not among the stored notes): `cuda>=13.1` is refused as
/// unknown, not guessed, and `cuda>=14` too.
enum CUDADriverTable {
    static let majorFloors: [Int: String] = [11: "450.80.02", 12: "525.60.13", 13: "580.65.06"]

    static let releases: [(cuda: CUDAVersion, driver: String)] = [
        (CUDAVersion(major: 11, minor: 0), "450.51.05"),
        (CUDAVersion(major: 11, minor: 1), "455.23"),
        (CUDAVersion(major: 11, minor: 2), "460.27.03"),
        (CUDAVersion(major: 11, minor: 3), "465.19.01"),
        (CUDAVersion(major: 11, minor: 4), "470.42.01"),
        (CUDAVersion(major: 11, minor: 5), "495.29.05"),
        (CUDAVersion(major: 11, minor: 6), "510.39.01"),
        (CUDAVersion(major: 11, minor: 7), "515.43.04"),
        (CUDAVersion(major: 11, minor: 8), "520.61.05"),
        (CUDAVersion(major: 12, minor: 0), "525.60.13"),
        (CUDAVersion(major: 12, minor: 1), "530.30.02"),
        (CUDAVersion(major: 12, minor: 2), "535.54.03"),
        (CUDAVersion(major: 12, minor: 3), "545.23.06"),
        (CUDAVersion(major: 12, minor: 4), "550.54.14"),
        (CUDAVersion(major: 12, minor: 5), "555.42.02"),
        (CUDAVersion(major: 12, minor: 6), "560.28.03"),
        (CUDAVersion(major: 12, minor: 8), "570.26"),
        (CUDAVersion(major: 12, minor: 9), "575.51.03"),
        (CUDAVersion(major: 13, minor: 0), "580.65.06"),
    ]

    /// The driver a requirement needs: `minor == nil` for a major-only requirement (`cuda>=12`).
    /// Nil when the table does not know that CUDA version.
    static func minimumDriver(major: Int, minor: Int?) -> NVIDIADriverVersion? {
        guard let floor = majorFloors[major].flatMap({ NVIDIADriverVersion($0) }) else { return nil }
        guard let minor else { return floor }
        guard let release = releases.first(where: { $0.cuda == CUDAVersion(major: major, minor: minor) }),
            let driver = NVIDIADriverVersion(release.driver)
        else { return nil }
        return max(floor, driver)
    }

    /// The newest CUDA version in the table that a driver runs in full (its own minor's driver
    /// and the major's floor met); nil for a driver older than every entry.
    static func capability(of driver: NVIDIADriverVersion) -> CUDAVersion? {
        releases.last { release in
            guard let needed = minimumDriver(major: release.cuda.major, minor: release.cuda.minor) else { return false }
            return driver >= needed
        }?.cuda
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
