public import ArgumentParser
internal import AirlockCore
internal import AuditLog
internal import HostServices
internal import Dispatch
internal import Foundation
internal import Gateway
internal import Signing
internal import Runtime

/// `airlock-serve`: the gateway service, started by its systemd unit or by `airlock run`.
public struct AirlockServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "airlock-serve",
        abstract: "Serve the OpenAI-compatible gateway in front of an installed bundle's runtime.",
        discussion: """
            Serves GET /v1/models, POST /v1/chat/completions and POST /v1/completions for the \
            current version of bundle NAME: the base model under the bundle's name and each \
            adapter under its own. Clients authenticate with keys from 'airlock clients add' \
            (ROOT/etc/airlock/clients.yaml, re-read when it changes); limits come from \
            ROOT/etc/airlock/gateway.yaml. The runtime (llama-server or vLLM) must be listening on \
            ROOT/run/airlock/NAME/runtime.sock: started by its systemd unit, or by \
            'airlock run NAME', which also starts this gateway with the same arguments. \
            Every request is recorded in the audit log before its answer completes. SIGTERM \
            stops accepting and lets answers in flight finish (up to drain_s).
            """,
        version: AirlockVersion.description
    )

    @OptionGroup var root: RootOptions

    @Argument(help: "The installed bundle to serve.")
    var name: String

    @Option(help: ArgumentHelp("Address to listen on.", valueName: "HOST:PORT"))
    var listen: String = "127.0.0.1:8080"

    public init() {}

    /// Runs the gateway's tasks on its event loops (`GatewayExecutor`): call first in `main`.
    public static func prepareProcess() {
        GatewayExecutor.takeOverConcurrency()
    }

    public func run() async throws {
        // Under systemd the parent is the manager; under `airlock run` the gateway must not
        // outlive its supervisor.
        ChildProcess.stopWhenParentExits(signal: SIGTERM)
        let layout = root.layout
        let address = try ListenAddress(listen)
        let plan = try ServicePlan.load(layout: layout, name: name)
        let (limits, limitsDigest) = try GatewayLimits.loadRecorded(path: layout.gatewayConfig)
        let audit = try AuditLogWriter(layout: Self.auditLayout(layout))
        let settings = GatewaySettings(host: address.host, port: address.port, limits: limits, catalog: plan.catalog, engine: plan.runtime)
        // The policies the gateway enforces are recorded as loaded: its limits now, the client
        // list at start and at every reload (its digest names exactly which bytes were parsed;
        // a reload that failed is recorded as failed: every key is refused until it is fixed).
        try await audit.append(Self.policyLoaded(path: layout.gatewayConfig, name: "gateway", sha256: limitsDigest))
        let authenticator = ClientRegistryAuthenticator(layout: layout) { reload, message in
            ServeLog.line("clients: \(message)")
            let event: AuditEvent
            switch reload {
            case .loaded(_, _, let sha256):
                event = Self.policyLoaded(path: layout.clients, name: "clients", sha256: sha256)
            case .failed(let error, let sha256):
                event = Self.policyLoaded(path: layout.clients, name: "clients", sha256: sha256, failure: error)
            }
            Task {
                do {
                    try await audit.append(event)
                } catch {
                    ServeLog.line("AUDIT LOG NOT WRITTEN: the clients policy load: \(error)")
                }
            }
        }
        let gateway = Gateway(settings: settings, authenticator: authenticator, audit: audit) { ServeLog.line($0) }
        let signals = ShutdownSignals { gateway.shutdown() }
        defer { signals.cancel() }
        try await gateway.run { bound in
            ServeLog.line("ready for requests on http://\(bound)")
        }
    }
}

extension AirlockServeCommand {
    /// A `policy.loaded` record for the file at `path`: the SHA-256 of the bytes the loader
    /// parsed, or `absent` (no file: defaults, or no clients); `failed` with the reason when
    /// the file could not be used.
    static func policyLoaded(path: String, name: String, sha256: String?, failure: AirlockError? = nil) -> AuditEvent {
        .policyLoaded(
            by: AdminAudit.serviceActor, policy: "\(name) (\(path))", digest: sha256 ?? "absent",
            outcome: failure == nil ? .ok : .failed, reason: failure?.message)
    }

    /// The gateway signs with its own key (`AuditGatewayKey`), never the host's: under its
    /// systemd unit it arrives as the credential `audit-key` (`LoadCredential=`, a copy only this
    /// service can read); under `airlock run` it is read in place. A host whose gateway key was
    /// never certified (a store laid out by hand) falls back to the host key.
    static func auditLayout(_ layout: HostLayout) -> AuditLayout {
        let host = AuditLayout(host: layout)
        if let directory = getenv("CREDENTIALS_DIRECTORY").map({ String(cString: $0) }), !directory.isEmpty,
            access(directory + "/audit-key", R_OK) == 0
        {
            return AuditLayout(directory: host.directory, keyPath: directory + "/audit-key", signer: .gateway)
        }
        guard AuditGatewayKey.isCertified(host: layout) else { return host }
        return AuditLayout(directory: host.directory, keyPath: AuditGatewayKey.path(host: layout), signer: .gateway)
    }
}

/// One line per event on standard error: journald stamps and files it under the unit.
enum ServeLog {
    static func line(_ text: String) {
        CommandMain.writeError("airlock-serve: " + text)
    }
}

/// SIGTERM and SIGINT start a graceful shutdown instead of killing the process.
final class ShutdownSignals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
