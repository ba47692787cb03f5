public import AirlockCore
internal import AuditLog
internal import Foundation
internal import ClientRegistry
public import Store
public import Systemd
internal import Runtime
internal import StrictYAML

/// Where each bundle's gateway listens and which client networks it may talk with, from
/// `ROOT/etc/airlock/services.yaml` (optional; a bundle without an entry listens on
/// 127.0.0.1:8080 and serves local clients only):
/// ```yaml
/// claims-assistant:
///   listen: 10.20.0.5:8080
///   clients: [10.20.0.0/16, 192.168.7.0/24]
/// ```
public struct ServiceSettings: Equatable {
    public var listen: ListenAddress
    public var clients: [String]

    public static let defaultListen = "127.0.0.1:8080"

    public static func load(layout: HostLayout, name: String) throws(AirlockError) -> ServiceSettings {
        let path = layout.serviceSettings
        var settings = ServiceSettings(listen: try ListenAddress(defaultListen), clients: [])
        guard let data = FileManager.default.contents(atPath: path) else { return settings }
        // The one strict reader: duplicates, anchors and aliases are refused as in every file.
        guard let document = try StrictYAML.tree(from: String(decoding: data, as: UTF8.self), origin: path) else { return settings }
        guard let top = document.entries else {
            throw AirlockError(.invalidInput, "\(path) must map bundle names to their settings")
        }
        guard let entry = top.first(where: { $0.key == name })?.value else { return settings }
        guard let fields = entry.entries else {
            throw AirlockError(.invalidInput, "\(path): '\(name)' must be a mapping with listen: and clients:")
        }
        for field in fields where field.key != "listen" && field.key != "clients" {
            let hint = StrictYAML.nearest(field.key, among: ["clients", "listen"]).map { "did you mean '\($0)'? " } ?? ""
            throw AirlockError(.invalidInput, "\(path): '\(name)': unknown key '\(field.key)' (\(hint)known: listen, clients)")
        }
        if let listen = entry["listen"] {
            guard let text = listen.text else { throw AirlockError(.invalidInput, "\(path): '\(name).listen' must be HOST:PORT") }
            settings.listen = try ListenAddress(text)
        }
        if let clients = entry["clients"] {
            guard let list = clients.items, list.allSatisfy({ $0.text != nil }) else {
                throw AirlockError(.invalidInput, "\(path): '\(name).clients' must be a list of addresses or prefixes")
            }
            settings.clients = list.compactMap(\.text)
        }
        return settings
    }
}

/// The systemd side of `airlock install`: renders the bundle's units and, on a real host
/// (`--root /`), creates the service users, fixes the shared files' group, reloads systemd,
/// enables the gateway and (re)starts both services.
public enum Services {
    public struct Outcome {
        public var files: [String]
        public var started: Bool
        public var gatewayUnit: String
        public var runtimeUnit: String
        public var listen: String
    }

    public static func input(
        plan: ServicePlan, layout: HostLayout, settings: ServiceSettings, serve: String, devices: [String] = []
    ) -> ServiceUnitInput {
        var serveArguments = [plan.name, "--listen", settings.listen.description]
        if layout.root != "/" { serveArguments = ["--root", layout.root] + serveArguments }
        return ServiceUnitInput(
            name: plan.name, version: plan.version,
            runtimeExecutable: plan.runtime.executable, runtimeArguments: plan.runtime.arguments,
            versionDirectory: layout.versionDirectory(name: plan.name, version: plan.version),
            socketDirectory: plan.runDirectory,
            serveExecutable: serve, serveArguments: serveArguments,
            listenHost: settings.listen.host, listenPort: settings.listen.port, clientNetworks: settings.clients, devices: devices,
            // An engine this renderer has no sandbox for gets the strictest one (it then fails
            // to start rather than run loosened).
            engine: RuntimeSandbox(rawValue: plan.runtime.name) ?? .llamaServer, runtimeEnvironment: plan.runtime.environment,
            runtimeStateDirectory: plan.runtime.writableDirectory)
    }

    /// The files Airlock renders for the current version of `name` (its two units, then the
    /// shared files: sysusers.d, tmpfiles.d), and the gateway's address. `hostRoot` is where the
    /// device nodes of a GPU variant are looked up (`/`; a fake host tree in tests). The audit
    /// timers are the host's, not the bundle's: `AuditTimerServices`.
    public static func render(name: String, layout: HostLayout, hostRoot: String = "/") throws(AirlockError) -> ([RenderedFile], ServiceSettings) {
        try render(plan: try ServicePlan.load(layout: layout, name: name), layout: layout, hostRoot: hostRoot)
    }

    /// The same for a plan in hand (`install` passes the one of the version it just verified).
    public static func render(plan: ServicePlan, layout: HostLayout, hostRoot: String = "/") throws(AirlockError) -> ([RenderedFile], ServiceSettings)
    {
        let name = plan.name
        let settings = try ServiceSettings.load(layout: layout, name: name)
        let serve = try Executables.sibling("airlock-serve")
        let devices = try RuntimeDevices.nodes(for: plan, hostRoot: hostRoot)
        let files = try ServiceUnits.render(input(plan: plan, layout: layout, settings: settings, serve: serve, devices: devices), layout: layout)
        return (files, settings)
    }

    /// NAME from `.../airlock-runtime@NAME.service` or `.../airlock-serve@NAME.service`; nil
    /// for the shared files (sysusers.d, tmpfiles.d; their bundle's own units drift with them).
    public static func bundleName(ofUnitPath path: String) -> String? {
        let file = path.split(separator: "/").last.map(String.init) ?? ""
        for prefix in ["airlock-runtime@", "airlock-serve@"] where file.hasPrefix(prefix) && file.hasSuffix(".service") {
            return String(file.dropFirst(prefix.count).dropLast(".service".count))
        }
        return nil
    }

    /// `doctor`: every rendered unit of a bundle with a current version must be byte for byte
    /// what Airlock renders now; a unit missing beside its partner, edited, or left from another
    /// version is reported (`airlock activate NAME VERSION` renders it again).
    public static func bundlesWithUnits(layout: HostLayout, store: BundleStore) -> [String] {
        store.names().filter { name in
            [ServiceUnits.runtimeUnit(name), ServiceUnits.gatewayUnit(name)].contains {
                FileManager.default.fileExists(atPath: layout.unitDirectory + "/" + $0)
            }
        }
    }

    public static func drift(layout: HostLayout, store: BundleStore) -> [HostFinding] {
        var findings: [HostFinding] = []
        for name in bundlesWithUnits(layout: layout, store: store) {
            let units = [ServiceUnits.runtimeUnit(name), ServiceUnits.gatewayUnit(name)].map { layout.unitDirectory + "/" + $0 }
            guard let version = store.current(name: name) else {
                findings.append(
                    HostFinding(
                        kind: .unitDrift, path: units[1],
                        detail: "units of '\(name)', which has no current version: 'airlock remove \(name) --force' removes them"))
                continue
            }
            let expected: [RenderedFile]
            do {
                expected = try render(name: name, layout: layout, hostRoot: store.hostRoot).0
            } catch {
                findings.append(
                    HostFinding(kind: .unitDrift, path: units[1], detail: "cannot render the units of \(name) \(version) to compare: \(error)"))
                continue
            }
            for file in expected where !findings.contains(where: { $0.path == file.path }) {
                if let finding = drift(file, renderedFor: " for \(name) \(version)", fix: "'airlock activate \(name) \(version)' renders it again") {
                    findings.append(finding)
                }
            }
        }
        return findings
    }

    /// A `unitDrift` finding when the file at `file.path` is not byte for byte `file.contents`:
    /// missing, or the first line that differs as it is on disk; nil when it is the same.
    /// `renderedFor` completes "what Airlock renders", `fix` says how to render it again.
    public static func drift(_ file: RenderedFile, renderedFor: String, fix: String) -> HostFinding? {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            return HostFinding(kind: .unitDrift, path: file.path, detail: "missing; \(fix)")
        }
        let actual = String(decoding: data, as: UTF8.self)
        guard actual != file.contents else { return nil }
        let have = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let want = file.contents.split(separator: "\n", omittingEmptySubsequences: false)
        let line = Array(zip(have, want)).firstIndex { $0 != $1 } ?? min(have.count, want.count)
        let shown = line < have.count ? "'\(have[line])'" : "(end of file)"
        return HostFinding(
            kind: .unitDrift, path: file.path, detail: "differs from what Airlock renders\(renderedFor) at line \(line + 1): \(shown); \(fix)")
    }

    /// Renders and writes the units and the audit timers; starts them when `start` and the root is `/`.
    public static func install(name: String, layout: HostLayout, start: Bool) throws(AirlockError) -> Outcome {
        try install(plan: try ServicePlan.load(layout: layout, name: name), layout: layout, start: start)
    }

    /// `install(name:…)` for the plan of the version just installed.
    public static func install(plan: ServicePlan, layout: HostLayout, start: Bool) throws(AirlockError) -> Outcome {
        let name = plan.name
        let (bundleFiles, settings) = try render(plan: plan, layout: layout)
        let files = bundleFiles + (try AuditTimerServices.render(layout: layout))
        try write(files)
        let outcome = Outcome(
            files: files.map(\.path), started: false, gatewayUnit: ServiceUnits.gatewayUnit(name),
            runtimeUnit: ServiceUnits.runtimeUnit(name), listen: settings.listen.description)
        guard layout.root == "/" else { return outcome }
        guard start else {
            // Not started, but ready to start: users, the shared folders and the payload's group
            // exist, so the operator's `systemctl enable --now` later works without a reboot.
            if isBooted() {
                try prepareHost(layout: layout)
                try systemctl(["daemon-reload"])
            }
            return outcome
        }
        try requireSystemd()
        try prepareHost(layout: layout)
        try systemctl(["daemon-reload"])
        try systemctl(["enable", "--quiet", outcome.gatewayUnit])
        // One job for both: the runtime (After=) first, then the gateway, which reads the new
        // version's catalog at its start.
        try systemctl(["restart", outcome.runtimeUnit, outcome.gatewayUnit])
        try AuditTimerServices.enable()
        return Outcome(
            files: outcome.files, started: true, gatewayUnit: outcome.gatewayUnit, runtimeUnit: outcome.runtimeUnit, listen: outcome.listen)
    }

    /// Writes rendered files in place, atomically (0644; folders 0755 made as needed).
    public static func write(_ files: [RenderedFile]) throws(AirlockError) {
        for file in files {
            try AtomicFile.makeDirectories(AtomicFile.folder(of: file.path), mode: 0o755)
            try AtomicFile.write(Array(file.contents.utf8), to: file.path, mode: 0o644)
        }
    }

    /// After `activate` or `rollback`: units rendered before are rendered again for the new
    /// current version (they name its tree); on a real host systemd reloads them and restarts
    /// the services that were running. Returns what was done, or nil when the bundle has no units.
    /// A bundle whose units are missing (installed before services existed, or whose services
    /// failed to render) gets them now, unless its current version is adapter-only.
    public static func refresh(name: String, layout: HostLayout, force: Bool = false) throws(AirlockError) -> String? {
        let store = BundleStore(layout: layout)
        guard force || store.current(name: name).flatMap({ (try? store.loadState(name: name))?.installed[$0]?.runtime }) != nil
        else { return nil }
        let outcome = try install(name: name, layout: layout, start: false)
        guard layout.root == "/" else { return "services: units rendered again for the current version (not started: --root is not /)" }
        // The gateway unit names its own audit key: a host installed by an older release has
        // none yet (the unit would not start without it).
        try AuditGatewayKey.prepare(host: layout)
        try systemctl(["daemon-reload"])
        // try-restart: only what runs is restarted; stopped services stay stopped. The audit
        // timers are enabled here too, for hosts whose bundles were installed before they existed.
        try systemctl(["try-restart", outcome.runtimeUnit, outcome.gatewayUnit])
        try AuditTimerServices.enable()
        return "services: units rendered again for the current version; running services restarted"
    }

    /// After the current version was removed: the services stop, are disabled and their units
    /// deleted (the users, tmpfiles.d entries and the audit timers stay: other bundles use
    /// them, and the audit log outlives every bundle).
    public static func uninstall(name: String, layout: HostLayout) throws(AirlockError) -> String? {
        let units = [ServiceUnits.gatewayUnit(name), ServiceUnits.runtimeUnit(name)]
        let paths = units.map { layout.unitDirectory + "/" + $0 }
        guard paths.contains(where: { FileManager.default.fileExists(atPath: $0) }) else { return nil }
        if layout.root == "/" { try systemctl(["disable", "--now", "--quiet"] + units) }
        for path in paths where unlink(path) != 0 && errno != ENOENT {
            throw AirlockError.system("cannot remove \(path)", errno: errno)
        }
        if layout.root == "/" { try systemctl(["daemon-reload"]) }
        return "services: \(units.joined(separator: " and ")) stopped, disabled and removed"
    }

    /// What `status` shows for a bundle's units: whether they are rendered and, on a real host,
    /// their state as systemd sees it.
    public struct UnitState: Encodable, Equatable {
        public var unit: String
        public var rendered: Bool
        public var active: String?
        public var enabled: String?
        public var restarts: Int?
    }

    public static func states(name: String, layout: HostLayout) -> [UnitState] {
        [ServiceUnits.runtimeUnit(name), ServiceUnits.gatewayUnit(name)].map { unit in
            var state = UnitState(unit: unit, rendered: FileManager.default.fileExists(atPath: layout.unitDirectory + "/" + unit))
            guard layout.root == "/", state.rendered,
                let shown = try? capture("/usr/bin/systemctl", ["show", "-p", "Id,ActiveState,SubState,UnitFileState,NRestarts", unit]),
                let properties = SystemdView.units(shown)[unit]
            else { return state }
            state.active = properties["ActiveState"].map { active in properties["SubState"].map { "\(active) (\($0))" } ?? active }
            state.enabled = properties["UnitFileState"]
            state.restarts = properties["NRestarts"].flatMap { Int($0) }
            return state
        }
    }

    /// Users, the shared audit log and the files the gateway reads in place.
    public static func prepareHost(layout: HostLayout) throws(AirlockError) {
        try run("/usr/bin/systemd-sysusers", [layout.sysusersFile])
        // The clients file must exist in the gateway's group before anyone adds a client:
        // `airlock clients` keeps the owner and group of the file it rewrites.
        if !FileManager.default.fileExists(atPath: layout.clients) {
            try AtomicFile.makeDirectories(layout.configDirectory, mode: 0o755)
            try ClientsFile().save(path: layout.clients)
        }
        // The audit key and the log, created if need be, and the gateway's own key, certified
        // by the host key (its LoadCredential= needs it).
        _ = try AuditLogWriter(host: layout)
        try AuditGatewayKey.prepare(host: layout)
        try run("/usr/bin/systemd-tmpfiles", ["--create", layout.tmpfilesFile])
        // Sealed segments go to root:airlock-serve 0440; the active one and the lock, which root's
        // commands may have created before, become the gateway's group's to append to (0660).
        guard let group = getgrnam(ServiceUnits.gatewayUser)?.pointee.gr_gid else {
            throw AirlockError(.system, "group '\(ServiceUnits.gatewayUser)' does not exist after systemd-sysusers \(layout.sysusersFile)")
        }
        let sealed = try AuditSeal.run(directory: layout.auditDirectory)
        if let failure = sealed.failures.first { throw AirlockError(.system, failure) }
        try AuditSeal.shareWithGateway(directory: layout.auditDirectory, group: group, active: sealed.active)
        // Installed payloads go to the weights group, which only the runtime's service joins
        // (a first install ran before the group existed; older releases left them world-readable).
        guard let weights = getgrnam(HostLayout.weightsGroup)?.pointee.gr_gid else {
            throw AirlockError(.system, "group '\(HostLayout.weightsGroup)' does not exist after systemd-sysusers \(layout.sysusersFile)")
        }
        try PayloadAccess.grant(store: BundleStore(layout: layout), to: weights)
    }

    public static func systemctl(_ arguments: [String]) throws(AirlockError) {
        try requireSystemd()
        try run("/usr/bin/systemctl", arguments)
    }

    /// sd_booted(3)'s test: a host whose PID 1 is systemd has `/run/systemd/system`.
    public static func isBooted() -> Bool {
        var info = stat()
        return stat("/run/systemd/system", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Refuses on a host not booted with systemd.
    public static func requireSystemd() throws(AirlockError) {
        guard isBooted() else {
            throw AirlockError(
                .refused,
                "this host was not booted with systemd (/run/systemd/system is missing): install with --no-start, and serve with 'airlock run NAME'")
        }
    }

    /// Runs a system tool; a failure names the command and carries what it printed.
    public static func run(_ executable: String, _ arguments: [String]) throws(AirlockError) {
        _ = try capture(executable, arguments)
    }

    /// Runs a system tool and returns what it printed (standard output and error together); a
    /// failure names the command. Spawned like every child of Airlock (`ChildProcess`: explicit
    /// arguments and environment, no inherited descriptors); what it prints goes to a file in a
    /// fresh private folder (mkdtemp, 0700), read back and removed.
    public static func capture(_ executable: String, _ arguments: [String]) throws(AirlockError) -> String {
        let folder = try AtomicFile.makeTemporaryFolder(in: NSTemporaryDirectory(), prefix: "airlock-tool")
        let outputPath = folder + "/output"
        defer {
            unlink(outputPath)
            rmdir(folder)
        }
        let child = try ChildProcess(
            executable: executable, arguments: arguments,
            environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"],
            outputPath: outputPath)
        // systemctl restart waits for the services' start (TimeoutStartSec= 120 s at most).
        let status = try child.waitForExit(timeout: .seconds(600))
        let printed = String(decoding: (try? FileBytes.readIfPresent(path: outputPath, limit: 16 << 20)).flatMap { $0 } ?? [], as: UTF8.self)
        guard status == 0 else {
            let said = printed.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; ")
            throw AirlockError(
                .system,
                "'\(([executable] + arguments).joined(separator: " "))' failed (status \(status))\(said.isEmpty ? "" : ": " + said)")
        }
        return printed
    }
}

extension Result {
    public var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
