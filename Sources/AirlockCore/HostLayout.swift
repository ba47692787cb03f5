#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Every on-host path Airlock uses, derived from one root.
///
/// `/` on a real host; a temporary folder in demos and tests (`--root DIR`), so nothing outside
/// it is touched. No other file spells these paths.
public struct HostLayout: Sendable, Equatable {
    /// The root every other path hangs off (`/` on a real host). Always absolute, no trailing `/`
    /// except for `/` itself.
    public let root: String

    /// A relative `root` is taken against the working directory: the runtime's command line and
    /// the rendered units need absolute paths.
    public init(root: String = "/") {
        var normalized = root
        if !normalized.isEmpty, !normalized.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: 4096)
            if getcwd(&buffer, buffer.count) != nil {
                let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                normalized = (cwd == "/" ? "" : cwd) + "/" + normalized
            }
        }
        while normalized.count > 1 && normalized.hasSuffix("/") { normalized.removeLast() }
        self.root = normalized.isEmpty ? "/" : normalized
    }

    private func under(_ relative: String) -> String {
        root == "/" ? "/" + relative : root + "/" + relative
    }

    /// `/etc/airlock`: trust policy and configuration.
    public var configDirectory: String { under("etc/airlock") }
    /// `/etc/airlock/trust.yaml`: who may sign which bundles.
    public var trustPolicy: String { under("etc/airlock/trust.yaml") }
    /// `/etc/airlock/store.yaml`: store policy (how many versions to keep).
    public var storePolicy: String { under("etc/airlock/store.yaml") }
    /// `/etc/airlock/clients.yaml`: API clients, keys stored hashed.
    public var clients: String { under("etc/airlock/clients.yaml") }
    /// `/etc/airlock/audit.yaml`: the audit log's policy (retention).
    public var auditPolicy: String { under("etc/airlock/audit.yaml") }
    /// `/etc/airlock/gateway.yaml`: the gateway's limits.
    public var gatewayConfig: String { under("etc/airlock/gateway.yaml") }
    /// `/run/airlock/NAME`: the runtime's socket (and, without systemd, its log) while it runs.
    public func runDirectory(name: String) -> String { under("run/airlock/" + name) }
    /// `/var/lib/airlock-runtime/NAME`: the runtime's own writable state (a vLLM runtime's
    /// caches), outside the root-owned store; the runtime's unit's `StateDirectory=`.
    public func runtimeStateDirectory(name: String) -> String { under("var/lib/airlock-runtime/" + name) }
    /// `/var/lib/airlock`: installed bundles, one folder per name.
    public var storeDirectory: String { under("var/lib/airlock") }
    /// `/var/log/airlock`: the audit log.
    public var auditDirectory: String { under("var/log/airlock") }
    /// Where rendered systemd units go (`/etc/systemd/system` on a real host).
    public var unitDirectory: String { under("etc/systemd/system") }
    /// `/etc/sysusers.d/airlock.conf`: the services' system users.
    public var sysusersFile: String { under("etc/sysusers.d/airlock.conf") }
    /// `/etc/tmpfiles.d/airlock.conf`: ownership and modes of the folders the services share.
    public var tmpfilesFile: String { under("etc/tmpfiles.d/airlock.conf") }
    /// `/etc/airlock/services.yaml`: where each bundle's gateway listens and whom it serves.
    public var serviceSettings: String { under("etc/airlock/services.yaml") }
    /// `/var/lib/airlock/audit-key.pem`: the host audit key (its gateway copy is a credential).
    public var auditKey: String { storeDirectory + "/audit-key.pem" }
    /// The gateway's own audit checkpoint key, certified by `auditKey` (its service's credential).
    public var gatewayAuditKey: String { storeDirectory + "/audit-gateway-key.pem" }
    /// Root's own audit state (root's latest checkpoint, the gateway key's certificate), 0700:
    /// the one folder of the store the audit timers may write.
    public var auditRootDirectory: String { storeDirectory + "/audit-root" }
    /// The group that may read installed weights, adapters and runtimes (files root-owned, 0440
    /// or 0550): only the runtime's service joins it (`SupplementaryGroups=`); the gateway and
    /// every other account cannot read them. Created by the rendered sysusers.d file.
    public static let weightsGroup = "airlock-weights"

    /// `/var/lib/airlock/.staging`: installs in progress (same file system as the store, so a
    /// finished tree is renamed into place).
    public var stagingDirectory: String { storeDirectory + "/.staging" }
    /// `/var/lib/airlock/.lock`: one install, activation or removal at a time.
    public var storeLock: String { storeDirectory + "/.lock" }

    /// `/var/lib/airlock/NAME`: every installed version of one bundle.
    public func bundleDirectory(name: String) -> String { storeDirectory + "/" + name }
    /// `/var/lib/airlock/NAME/VERSION`: one installed, read-only tree.
    public func versionDirectory(name: String, version: String) -> String {
        bundleDirectory(name: name) + "/" + version
    }
    /// `/var/lib/airlock/NAME/current`: the link switched atomically on activation.
    public func currentLink(name: String) -> String { bundleDirectory(name: name) + "/current" }
    /// `/var/lib/airlock/NAME/state.json`: activation history and the downgrade floor.
    public func bundleState(name: String) -> String { bundleDirectory(name: name) + "/state.json" }
}
