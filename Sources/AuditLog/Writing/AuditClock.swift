internal import CAirlockShims
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Where the writer gets the time and the clock's synchronization state from: the system in
/// production, a scripted clock in tests (rolled back, moved to the next day).
public protocol AuditClock: Sendable {
    /// Milliseconds since the Unix epoch, UTC.
    func now() -> Int64
    /// Whether the host clock is synchronized right now.
    func syncState() -> ClockSyncState
}

/// The host's real-time clock. Synchronized when systemd-timesyncd has left its flag file
/// (`/run/systemd/timesync/synchronized`); otherwise the kernel's view from adjtimex(2):
/// `TIME_ERROR` (STA_UNSYNC and friends) is unsynchronized, any other state synchronized, and a
/// failed call unknown.
public struct SystemAuditClock: AuditClock {
    public let synchronizedFlag: String

    public init(synchronizedFlag: String = "/run/systemd/timesync/synchronized") {
        self.synchronizedFlag = synchronizedFlag
    }

    public func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    public func syncState() -> ClockSyncState {
        if access(synchronizedFlag, F_OK) == 0 { return .synchronized }
        return KernelClock.state()
    }
}

/// adjtimex(2) in read-only mode (`modes` 0), through the `CAirlockShims_adjtimex_state` shim.
enum KernelClock {
    static func state() -> ClockSyncState {
        let result = CAirlockShims_adjtimex_state()
        if result < 0 { return .unknown }
        return result == CAirlockShims_TIME_ERROR() ? .unsynchronized : .synchronized
    }
}

/// RFC 3339 UTC timestamps with milliseconds, the only form records carry.
public enum AuditTime {
    /// `2026-11-29T05:00:39.123Z` for `milliseconds` since the epoch.
    public static func format(_ milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds.quotientRoundingDown(1000))
        let millis = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
            + "T" + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
            + "." + pad(millis, 3) + "Z"
    }

    /// Milliseconds since the epoch for a timestamp in exactly the form `format` writes; nil otherwise.
    public static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            bytes[19] == UInt8(ascii: "."), bytes[23] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let millis = number(20..<23), (1...12).contains(month), (1...31).contains(day), hour < 24,
            minute < 60, second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Int64(timegm(&parts)) * 1000 + Int64(millis)
    }

    /// The UTC day number (days since the epoch) of `milliseconds`.
    static func day(_ milliseconds: Int64) -> Int64 { milliseconds.quotientRoundingDown(86_400_000) }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

extension Int64 {
    fileprivate func quotientRoundingDown(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && self < 0) ? quotient - 1 : quotient
    }
}
