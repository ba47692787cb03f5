#if canImport(Glibc)
internal import Glibc
#endif

/// Byte counts for people: `812 B`, `12.6 MiB`, `4.0 GiB` (binary units, one decimal).
public enum ByteCount {
    public static func text(_ count: some BinaryInteger) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
