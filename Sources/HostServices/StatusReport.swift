public import AirlockCore
public import Store
internal import BundleFormat

/// What `airlock list` and `airlock status` report (also as JSON).
public struct StatusReport: Encodable {
    public struct Bundle: Encodable {
        public var name: String
        public var current: String?
        public var floor: String?
        public var history: [String]
        public var versions: [InstalledVersion]
        public var services: [Services.UnitState]?
    }

    public var bundles: [Bundle]
    /// The host's audit timers (`status` only).
    public var auditTimers: [AuditTimerServices.State]?
    /// Installed versions signed by a key the trust policy has since revoked (`status` only).
    public var revokedSigners: [RevokedSigner]?

    public struct RevokedSigner: Encodable, Sendable, Equatable {
        public var bundle: String
        public var version: String
        public var key: String
        public var current: Bool
        public var revoked: String
        public var reason: String

        public init(bundle: String, version: String, key: String, current: Bool, revoked: String, reason: String) {
            self.bundle = bundle
            self.version = version
            self.key = key
            self.current = current
            self.revoked = revoked
            self.reason = reason
        }
    }

    public static func make(_ store: BundleStore, services layout: HostLayout? = nil) throws -> StatusReport {
        var bundles: [Bundle] = []
        for name in store.names() {
            let state = try store.loadState(name: name)
            // A bundle whose every version was removed keeps its state (the floor), not a line.
            if state.installed.isEmpty, store.current(name: name) == nil { continue }
            // By version, oldest first (semantic order: 1.10.0 after 1.9.0).
            let versions = state.installed.values.sorted { left, right in
                switch (try? SemanticVersion(left.version), try? SemanticVersion(right.version)) {
                case (let l?, let r?): l < r
                default: left.version < right.version
                }
            }
            bundles.append(
                Bundle(
                    name: name, current: store.current(name: name), floor: state.floor, history: state.history, versions: versions,
                    services: layout.map { Services.states(name: name, layout: $0) }))
        }
        return StatusReport(bundles: bundles)
    }
}
