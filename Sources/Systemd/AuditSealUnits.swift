public import AirlockCore

extension ServiceUnits {
    /// The host's one timer that runs `airlock-audit seal` as root, and the service it starts
    /// (shared by every bundle, like the sysusers.d and tmpfiles.d files).
    public static let auditSealService = "airlock-audit-seal.service"
    public static let auditSealTimer = "airlock-audit-seal.timer"

    /// The seal service and its timer under `layout`; `auditExecutable` is `airlock-audit`
    /// (given `--root` when the root is not `/`).
    public static func auditSealUnits(auditExecutable: String, layout: HostLayout) throws(AirlockError) -> [RenderedFile] {
        let arguments = (layout.root == "/" ? [] : ["--root", layout.root]) + ["seal"]
        let values = [
            "EXEC_START": try SystemdQuoting.execLine(auditExecutable, arguments),
            "AUDIT_DIRECTORY": try SystemdQuoting.plainPath(layout.auditDirectory),
            "CONFIG_DIRECTORY": try SystemdQuoting.plainPath(layout.configDirectory),
            "STORE_DIRECTORY": try SystemdQuoting.plainPath(layout.storeDirectory),
            "AUDIT_KEY": try SystemdQuoting.plainPath(layout.auditKey),
        ]
        return [
            RenderedFile(
                path: layout.unitDirectory + "/" + auditSealService,
                contents: try fill(Templates.auditSealService, values, "airlock-audit-seal.service.in")),
            RenderedFile(
                path: layout.unitDirectory + "/" + auditSealTimer,
                contents: try fill(Templates.auditSealTimer, values, "airlock-audit-seal.timer.in")),
        ]
    }
}
