/// An API client the gateway has authenticated.
public struct ClientIdentity: Sendable {
    /// The client's name in clients.yaml.
    public let name: String
    /// The public part of its key (`alk_<id>`): what logs and the audit record show.
    public let keyID: String
    /// Whether the client may use a model id (an adapter, or the bundle name for the base).
    public let mayUse: @Sendable (String) -> Bool
    /// Whether it may read `GET /metrics`.
    public let readsMetrics: Bool

    public init(name: String, keyID: String, readsMetrics: Bool = false, mayUse: @escaping @Sendable (String) -> Bool) {
        self.name = name
        self.keyID = keyID
        self.readsMetrics = readsMetrics
        self.mayUse = mayUse
    }
}

/// The outcome of checking a request's `Authorization` header.
public enum AuthenticationOutcome: Sendable {
    case authenticated(ClientIdentity)
    /// `presented` is safe to record (a key id or `-`, never a secret); `reason` says why, for
    /// the audit record; the client is only told that the key was not accepted.
    /// `answer` replaces the standard 401 where another status fits better (429 while too many
    /// keys are being verified, 503 while the clients file is broken).
    case refused(presented: String, reason: String, answer: OpenAIError? = nil)
}

/// What checks API keys: the client registry in production (`ClientRegistryAuthenticator`).
public protocol GatewayAuthenticator: Sendable {
    /// `source` is the client's address (what the back-off is kept per), as the gateway saw it.
    func authenticate(authorization: String?, source: String) async -> AuthenticationOutcome
}
