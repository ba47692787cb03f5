public import AirlockCore
internal import Foundation
public import Store
public import Systemd

/// The host side of the audit timers (`AuditTimer`: seal, retention): rendered and enabled with
/// every bundle's services (`Services.install`), shown by `status`, checked and repaired by
/// `doctor`. They belong to the host, not to a bundle: they stay when the last bundle goes.
public enum AuditTimerServices {
    /// Every audit timer's service and timer, as Airlock renders them under `layout`.
    public static func render(layout: HostLayout) throws(AirlockError) -> [RenderedFile] {
        try ServiceUnits.auditUnits(auditExecutable: try Executables.sibling("airlock-audit"), layout: layout)
    }

    /// On a host booted with systemd, after a daemon-reload: every timer enabled and started.
    public static func enable() throws(AirlockError) {
        try Services.systemctl(["enable", "--now", "--quiet"] + AuditTimer.allCases.map(\.timer))
    }

    /// What `status` shows of one timer: whether it is rendered and, on a real host, systemd's
    /// view of it.
    public struct State: Encodable, Equatable {
        public var timer: String
        public var service: String
        public var rendered: Bool
        /// `UnitFileState`: enabled, disabled, ...
        public var enabled: String?
        /// `ActiveState (SubState)`: `active (waiting)` between runs.
        public var active: String?
        /// The latest start of its service systemd knows of (by the timer, kept across reboots
        /// for the retention timer, or by hand since boot), UTC.
        public var lastRun: String?
        /// When the timer starts it next, UTC; nil when nothing is scheduled.
        public var nextRun: String?
        /// The service's `Result` after its latest run since boot (`success`, `exit-code`, ...).
        public var lastResult: String?
    }

    public static func states(layout: HostLayout) -> [State] {
        let rendered = AuditTimer.allCases.map {
            State(timer: $0.timer, service: $0.service, rendered: FileManager.default.fileExists(atPath: layout.unitDirectory + "/" + $0.timer))
        }
        guard layout.root == "/", rendered.contains(where: \.rendered), (try? Services.requireSystemd()) != nil else { return rendered }
        let units = AuditTimer.allCases.flatMap { [$0.timer, $0.service] }
        let shown = (try? Services.capture("/usr/bin/systemctl", ["show", "-p", SystemdView.properties.joined(separator: ",")] + units)) ?? ""
        let listed =
            (try? Services.capture("/usr/bin/systemctl", ["list-timers", "--all", "--output=json"] + AuditTimer.allCases.map(\.timer))) ?? ""
        return SystemdView(show: shown, timerList: listed, clock: .now).states(rendered)
    }

    /// `doctor`: once services were rendered on this host (a bundle's units, or an audit timer's
    /// own files), every audit timer's files must be byte for byte what Airlock renders and, on a
    /// host booted with systemd, every timer enabled and active.
    public static func findings(layout: HostLayout, store: BundleStore) -> [HostFinding] {
        let expected: [RenderedFile]
        do {
            expected = try render(layout: layout)
        } catch {
            let path = layout.unitDirectory + "/" + AuditTimer.seal.timer
            return [HostFinding(kind: .unitDrift, path: path, detail: "cannot render the audit timers to compare: \(error)")]
        }
        guard
            expected.contains(where: { FileManager.default.fileExists(atPath: $0.path) })
                || !Services.bundlesWithUnits(layout: layout, store: store).isEmpty
        else { return [] }
        var findings = expected.compactMap { Services.drift($0, renderedFor: "", fix: "'airlock doctor --repair' renders it again") }
        for state in states(layout: layout) where state.enabled != nil {
            let path = layout.unitDirectory + "/" + state.timer
            guard !findings.contains(where: { $0.path == path }), let problem = SystemdView.problem(state) else { continue }
            findings.append(HostFinding(kind: .timerOff, path: path, detail: problem + "; 'airlock doctor --repair' enables and starts it"))
        }
        return findings
    }

    /// `doctor --repair`: renders every timer's files again and, on a host booted with systemd,
    /// reloads them and enables and starts every timer.
    public static func repair(layout: HostLayout) throws(AirlockError) {
        try Services.write(try render(layout: layout))
        guard layout.root == "/", (try? Services.requireSystemd()) != nil else { return }
        try Services.systemctl(["daemon-reload"])
        try enable()
    }
}

/// What systemd says of the audit timers and their services: `systemctl show` for states and
/// results, `systemctl list-timers --output=json` for the next and last runs (in microseconds
/// since the epoch, also for the seal timer, whose schedule counts from boot). Pure, so the
/// tests feed it what systemd 252 printed.
public struct SystemdView {
    public static let properties = ["Id", "LoadState", "UnitFileState", "ActiveState", "SubState", "Result", "ExecMainStartTimestampMonotonic"]

    /// The two clocks at one instant, in microseconds: systemd stamps a service's start on the
    /// monotonic clock only (numerically).
    public struct Clock: Sendable {
        public var realtime: Int64
        public var monotonic: Int64

        public static var now: Clock {
            var real = timespec()
            var mono = timespec()
            clock_gettime(CLOCK_REALTIME, &real)
            clock_gettime(CLOCK_MONOTONIC, &mono)
            return Clock(
                realtime: Int64(real.tv_sec) * 1_000_000 + Int64(real.tv_nsec) / 1000,
                monotonic: Int64(mono.tv_sec) * 1_000_000 + Int64(mono.tv_nsec) / 1000)
        }
    }

    /// Properties by unit (`Id`).
    public var units: [String: [String: String]] = [:]
    /// (last, next) run by timer, in microseconds since the epoch; nil: none.
    public var runs: [String: (last: Int64?, next: Int64?)] = [:]
    public var clock: Clock

    public init(show: String, timerList: String, clock: Clock) {
        self.clock = clock
        units = Self.units(show)
        let rows = (try? JSONSerialization.jsonObject(with: Data(timerList.utf8))) as? [[String: Any]] ?? []
        for row in rows {
            guard let unit = row["unit"] as? String else { continue }
            func time(_ key: String) -> Int64? { (row[key] as? NSNumber).map(\.int64Value).flatMap { $0 > 0 ? $0 : nil } }
            runs[unit] = (time("last"), time("next"))
        }
    }

    /// `systemctl show -p Id,...` of one or more units: each unit's properties by its `Id`.
    public static func units(_ show: String) -> [String: [String: String]] {
        var units: [String: [String: String]] = [:]
        for block in show.components(separatedBy: "\n\n") {
            var properties: [String: String] = [:]
            for line in block.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2 { properties[String(parts[0])] = String(parts[1]) }
            }
            if let id = properties["Id"] { units[id] = properties }
        }
        return units
    }

    /// `rendered` filled in with what systemd says of each timer and its service.
    public func states(_ rendered: [AuditTimerServices.State]) -> [AuditTimerServices.State] {
        rendered.map { state in
            guard state.rendered, let timer = units[state.timer] else { return state }
            var state = state
            let service = units[state.service] ?? [:]
            // A timer systemd has not loaded (no daemon-reload since its file appeared) has no
            // UnitFileState: its LoadState (`not-found`) says why.
            state.enabled = timer["LoadState"] == "loaded" ? timer["UnitFileState"] : timer["LoadState"]
            state.active = timer["ActiveState"].map { active in timer["SubState"].map { "\(active) (\($0))" } ?? active }
            let triggered = runs[state.timer]?.last
            let started = service["ExecMainStartTimestampMonotonic"].flatMap { Int64($0) }.flatMap {
                $0 > 0 ? clock.realtime - (clock.monotonic - $0) : nil
            }
            state.lastRun = [triggered, started].compactMap { $0 }.max().map(Self.text)
            state.nextRun = runs[state.timer]?.next.map(Self.text)
            state.lastResult = started == nil ? nil : service["Result"]
            return state
        }
    }

    /// Why `doctor` flags a timer systemd reports on: not loaded, not enabled, or not active (then
    /// nothing is scheduled until the next boot); nil when it is fine.
    public static func problem(_ state: AuditTimerServices.State) -> String? {
        guard let enabled = state.enabled else { return nil }
        if enabled != "enabled" { return "not enabled (\(enabled)): its service does not run by itself" }
        guard let active = state.active, active.hasPrefix("active") else {
            return "enabled but not active (\(state.active ?? "unknown")): nothing runs it until the next boot"
        }
        return nil
    }

    public static func text(_ microseconds: Int64) -> String { UTCTime.text(secondsSince1970: Int(microseconds / 1_000_000)) }
}
