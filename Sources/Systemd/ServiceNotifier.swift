internal import CSystemd
public import AirlockCore

/// Tells the service manager about this service's state (`sd_notify`): `READY=1` once it can
/// serve, `WATCHDOG=1` pings, `STOPPING=1`, `STATUS=...`.
///
/// Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op that returns `false`.
public struct ServiceNotifier: Sendable {
    public init() {}

    /// Sends `state` (newline-separated `KEY=VALUE` lines). Returns whether a manager was told.
    @discardableResult
    public func notify(_ state: String) throws(AirlockError) -> Bool {
        let result = sd_notify(0, state)
        if result < 0 { throw AirlockError.system("sd_notify(\(state)) failed", errno: -result) }
        return result > 0
    }

    public func ready(status: String? = nil) throws(AirlockError) {
        try notify(status.map { "READY=1\nSTATUS=\($0)" } ?? "READY=1")
    }

    public func watchdogPing() throws(AirlockError) { try notify("WATCHDOG=1") }

    public func stopping() throws(AirlockError) { try notify("STOPPING=1") }

    /// The watchdog interval the manager expects pings within (`WatchdogSec=`), if it set one
    /// for this process.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }
}
