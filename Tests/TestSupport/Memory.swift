import Foundation
import Signing

/// Peak resident memory of this process so far, in bytes (getrusage's maxrss).
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

/// Resident memory of this process now, in bytes (Linux: `/proc/self/statm`).
public func currentResidentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

/// The SHA-256 (hex) of a file, read in 1 MiB pieces: comparing big files without holding them
/// in memory (other tests in this process assert that memory stays flat).
public func fileDigest(_ path: String) throws -> String {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    let hasher = try SHA256Hasher()
    while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
        try hasher.update(piece)
    }
    return try hasher.finalize().hex
}
