#if canImport(Glibc)
internal import Glibc
#endif

/// Times as Airlock writes them in manifests, state files and policies: UTC, RFC 3339, whole
/// seconds (`2026-11-29T08:00:00Z`).
public enum UTCTime {
    public static func text(secondsSince1970 seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
