internal import AirlockCore
internal import Store

/// What `airlock list` and `airlock status` report (also as JSON).
struct StatusReport: Encodable {
    struct Bundle: Encodable {
        var name: String
        var current: String?
        var floor: String?
        var history: [String]
        var versions: [InstalledVersion]
        var services: [Services.UnitState]?
    }

    var bundles: [Bundle]
    /// The host's audit timers (`status` only).
    var auditTimers: [AuditTimerServices.State]?

    static func make(_ store: BundleStore, services layout: HostLayout? = nil) throws -> StatusReport {
        var bundles: [Bundle] = []
        for name in store.names() {
            let state = try store.loadState(name: name)
            let versions = state.installed.values.sorted { $0.installedAt < $1.installedAt || ($0.installedAt == $1.installedAt && $0.version < $1.version) }
            bundles.append(Bundle(
                name: name, current: store.current(name: name), floor: state.floor, history: state.history, versions: versions,
                services: layout.map { Services.states(name: name, layout: $0) }))
        }
        return StatusReport(bundles: bundles)
    }
}
