public import AirlockCore
public import ClientRegistry

/// The gateway's authenticator over the host's clients.yaml (`ClientRegistry`): cached keys
/// are checked inline in microseconds; a key seen for the first time is verified (one scrypt,
/// tens of milliseconds) on a dispatch queue, never on the threads that serve requests, under
/// the registry's back-off per key id and per client address.
public struct ClientRegistryAuthenticator: GatewayAuthenticator {
    public let registry: ClientRegistry

    public init(registry: ClientRegistry) { self.registry = registry }

    /// The registry of `layout.clients`; `report` hears each (re)load, failed ones included,
    /// with a line for the log.
    public init(layout: HostLayout, report: @escaping @Sendable (ClientRegistry.Reload, String) -> Void) {
        registry = ClientRegistry(layout: layout) { reload in
            switch reload {
            case .loaded(let clients, let active, _):
                report(reload, "loaded \(layout.clients): \(active) active of \(clients) clients")
            case .failed(let error, _):
                report(reload, "\(layout.clients) cannot be used, so every key is refused until it is fixed: \(error)")
            }
        }
    }

    public func authenticate(authorization: String?, source: String) async -> AuthenticationOutcome {
        let verdict = await registry.authenticate(authorizationHeader: authorization, source: source)
        if let client = verdict.client {
            return .authenticated(
                ClientIdentity(name: client.name, keyID: client.presentedKeyID, readsMetrics: client.readsMetrics) { client.mayUse(model: $0) })
        }
        let presented = verdict.presentedKeyID ?? "-"
        switch verdict {
        case .busy:
            return .refused(
                presented: presented, reason: verdict.reason,
                answer: .busy("too many API keys are being verified right now; retry shortly", retryAfter: 1))
        case .throttled(_, let retryAfter):
            return .refused(
                presented: presented, reason: verdict.reason,
                answer: .busy("too many wrong API keys; retry in \(retryAfter) s", retryAfter: retryAfter))
        case .unavailable(let reason):
            return .refused(
                presented: presented, reason: "clients file unusable: \(reason)",
                answer: .unavailable(
                    "the gateway's client list cannot be read, so no key is accepted (operators: see the gateway's log)", code: "clients_unavailable")
            )
        default:
            var reason = verdict.reason
            if case .revoked(let client) = verdict { reason += " (client \(client.name))" }
            if case .wrongSecret(let client) = verdict { reason += " (client \(client.name))" }
            return .refused(presented: presented, reason: reason)
        }
    }
}
