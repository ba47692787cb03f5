public import AirlockCore
public import Store

/// One thing `airlock doctor` found: in the store (`StoreFinding`), in the rendered units, or
/// in the audit timers.
public struct HostFinding: Sendable, Encodable, Equatable {
    /// A store finding's kind (`StoreFinding.Kind`: damaged, brokenLink, leftover,
    /// unreadableState, unrecordedActivation) or one of the host's own; encoded as its name.
    public struct Kind: Sendable, Encodable, Equatable, CustomStringConvertible {
        public let rawValue: String

        public init(_ kind: StoreFinding.Kind) { rawValue = kind.rawValue }
        private init(host rawValue: String) { self.rawValue = rawValue }

        /// A systemd unit (or sysusers.d/tmpfiles.d file) differs from what Airlock renders
        /// for the current version: edited by hand, or rendered for another version or host.
        public static let unitDrift = Kind(host: "unitDrift")
        /// A host-wide audit timer (seal, retention) that systemd has not enabled, loaded or
        /// started: its job does not run by itself.
        public static let timerOff = Kind(host: "timerOff")

        public var description: String { rawValue }
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
    }

    public var kind: Kind
    public var path: String
    public var detail: String
    /// Whether `doctor --repair` fixes it (leftovers are removed, activations recorded, units
    /// rendered again, timers enabled; installed trees are never touched).
    public let repairable: Bool

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
        repairable = kind == .unitDrift || kind == .timerOff
    }

    init(_ finding: StoreFinding) {
        kind = Kind(finding.kind)
        path = finding.path
        detail = finding.detail
        repairable = finding.repairable
    }

    /// What `--repair` did about it, in words.
    public var repairedAs: String {
        switch kind {
        case .unitDrift: "rendered again"
        case .timerOff: "enabled and started"
        default: "removed"
        }
    }
}

/// `airlock doctor`: the store's check, the units' drift and the audit timers', and with
/// `repair` what can be fixed without touching an installed tree.
public enum HostDoctor {
    public static func run(layout: HostLayout, repair: Bool) throws(AirlockError) -> [HostFinding] {
        let store = BundleStore(layout: layout)
        let timers = AuditTimerServices.findings(layout: layout, store: store)
        let findings = try store.doctor(repair: repair).map(HostFinding.init) + Services.drift(layout: layout, store: store) + timers
        guard repair else { return findings }
        // Units are Airlock's own files: render them again for each bundle that drifted
        // (after a crash right after a switch they name the version before it).
        let timerPaths = Set(timers.map(\.path))
        let paths = findings.filter { $0.kind == .unitDrift && !timerPaths.contains($0.path) }.map(\.path)
        var drifted = Set(paths.compactMap { Services.bundleName(ofUnitPath: $0) })
        if paths.contains(where: { Services.bundleName(ofUnitPath: $0) == nil }),
            let any = Services.bundlesWithUnits(layout: layout, store: store).first
        {
            drifted.insert(any)  // a shared sysusers.d/tmpfiles.d file: any bundle renders it
        }
        for name in drifted.sorted() {
            if store.current(name: name) == nil {
                _ = try Services.uninstall(name: name, layout: layout)
            } else {
                _ = try Services.refresh(name: name, layout: layout, force: true)
            }
        }
        if !timers.isEmpty { try AuditTimerServices.repair(layout: layout) }
        return findings
    }
}
