public import AirlockCore

/// The host's audit timers, shared by every bundle (like the sysusers.d and tmpfiles.d files):
/// each starts a oneshot service that runs one `airlock-audit` command as root.
public enum AuditTimer: String, CaseIterable, Sendable {
    /// `airlock-audit seal`, every 5 minutes: hands the segments the gateway sealed to root.
    case seal
    /// `airlock-audit retention`, daily: removes the segments older than the retention policy.
    case retention

    /// `airlock-audit-seal.service`
    public var service: String { "airlock-audit-\(rawValue).service" }
    /// `airlock-audit-seal.timer`
    public var timer: String { "airlock-audit-\(rawValue).timer" }

    var templates: (service: String, timer: String) {
        switch self {
        case .seal: (Templates.auditSealService, Templates.auditSealTimer)
        case .retention: (Templates.auditRetentionService, Templates.auditRetentionTimer)
        }
    }
}

extension ServiceUnits {
    /// The service and timer of `timer` under `layout`; `auditExecutable` is `airlock-audit`
    /// (given `--root` when the root is not `/`).
    public static func auditUnits(_ timer: AuditTimer, auditExecutable: String, layout: HostLayout) throws(AirlockError) -> [RenderedFile] {
        let arguments = (layout.root == "/" ? [] : ["--root", layout.root]) + [timer.rawValue]
        let values = [
            "EXEC_START": try SystemdQuoting.execLine(auditExecutable, arguments),
            "AUDIT_DIRECTORY": try SystemdQuoting.plainPath(layout.auditDirectory),
            "CONFIG_DIRECTORY": try SystemdQuoting.plainPath(layout.configDirectory),
            "STORE_DIRECTORY": try SystemdQuoting.plainPath(layout.storeDirectory),
            "AUDIT_KEY": try SystemdQuoting.plainPath(layout.auditKey),
            "AUDIT_ROOT_DIRECTORY": try SystemdQuoting.plainPath(layout.auditRootDirectory),
            "AUDIT_POLICY": try SystemdQuoting.plainPath(layout.auditPolicy),
        ]
        let templates = timer.templates
        return [
            RenderedFile(path: layout.unitDirectory + "/" + timer.service, contents: try fill(templates.service, values, timer.service + ".in")),
            RenderedFile(path: layout.unitDirectory + "/" + timer.timer, contents: try fill(templates.timer, values, timer.timer + ".in")),
        ]
    }

    /// Every audit timer's service and timer, in `AuditTimer.allCases` order.
    public static func auditUnits(auditExecutable: String, layout: HostLayout) throws(AirlockError) -> [RenderedFile] {
        var files: [RenderedFile] = []
        for timer in AuditTimer.allCases { files += try auditUnits(timer, auditExecutable: auditExecutable, layout: layout) }
        return files
    }
}
