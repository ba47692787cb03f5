/// Every action name the log knows, so producers cannot misspell one. The raw values are what
/// records store; they never change once released (add new cases instead).
public enum AuditAction: String, Sendable, CaseIterable {
    // Admin commands of `airlock`.
    case verify = "bundle.verify"
    case install = "bundle.install"
    case activate = "bundle.activate"
    case rollback = "bundle.rollback"
    case remove = "bundle.remove"
    case downgradeAllowed = "bundle.downgrade_allowed"
    case trustChange = "trust.change"
    case clientAdd = "client.add"
    case clientRevoke = "client.revoke"
    case policyLoaded = "policy.loaded"
    /// The Debian package installed, upgraded, removed or purged Airlock itself.
    case package = "airlock.package"
    // The gateway.
    case request = "gateway.request"
    case authenticationFailed = "gateway.auth_failed"
    // `airlock-audit` reading the log (search, export, report).
    case auditRead = "audit.read"
    /// `airlock-audit seal` handed sealed segments to root (only when it changed one).
    case seal = "audit.seal"
    // Written by the log itself, never by producers.
    case checkpoint = "audit.checkpoint"
    case recovered = "audit.recovered"
    /// Expired segments were removed by the retention policy (one record per segment).
    case retention = "audit.retention"
    /// A name in the log folder that is not a plain file (a planted link, say) was left alone.
    case unsafeFile = "audit.unsafe_file"
    /// The host audit key certified the gateway's own checkpoint key (`AuditKeyCertificate`).
    case keyCertified = "audit.key"

    /// Who may write a record of this action: the gateway (with its own key), root (with the
    /// host key: such a record must be followed by a checkpoint of the host key), or either
    /// (the log's own records).
    public enum Writer: Sendable { case gateway, root, either }

    public var writer: Writer { Self.writer(of: rawValue) }

    /// `writer` for an action as written in a record; an action this release does not know is
    /// root's (it must then be signed by root, so the gateway cannot invent one).
    static func writer(of action: String) -> Writer {
        switch action {
        case AuditAction.request.rawValue, AuditAction.authenticationFailed.rawValue, AuditAction.policyLoaded.rawValue: .gateway
        case AuditAction.checkpoint.rawValue, AuditAction.recovered.rawValue, AuditAction.unsafeFile.rawValue: .either
        default: .root
        }
    }
}

/// What a producer hands to `AuditLogWriter.append`: everything of a record except its place
/// in the log (`seq`, `time`, `clock`, `prev`), which the writer fills in.
///
/// Made only through the builders below, one per kind of event, so every record of one action
/// has the same shape.
public struct AuditEvent: Sendable, Equatable {
    public let action: AuditAction
    public let actor: AuditActor
    public let target: AuditTarget
    public let outcome: AuditOutcome
    public let details: [String: String]?
    public let request: AuditRequest?

    init(
        _ action: AuditAction, actor: AuditActor, target: AuditTarget = .none, outcome: AuditOutcome,
        details: [String: String]? = nil, request: AuditRequest? = nil
    ) {
        self.action = action
        self.actor = actor
        self.target = target
        self.outcome = outcome
        self.details = details.flatMap { $0.isEmpty ? nil : $0 }
        self.request = request
    }

    /// An admin command's record: what it did (`action`) to what (`target`), how it ended, and
    /// its details (a refusal's `reason` among them). `AdminAudit.run` writes every one.
    public static func admin(
        _ action: AuditAction, by actor: AuditActor, target: AuditTarget = .none, outcome: AuditOutcome,
        details: [String: String] = [:]
    ) -> AuditEvent {
        AuditEvent(action, actor: actor, target: target, outcome: outcome, details: details)
    }

    /// An older version than the active one was let in with `--allow-downgrade`.
    public static func downgradeAllowed(
        by actor: AuditActor, bundle: String, from active: String, to version: String, outcome: AuditOutcome
    ) -> AuditEvent {
        AuditEvent(
            .downgradeAllowed, actor: actor, target: AuditTarget(bundle: bundle, version: version), outcome: outcome,
            details: ["from": active])
    }

    /// A policy file (trust, egress, retention, audit text) was loaded; `digest` is its hex SHA-256.
    public static func policyLoaded(
        by actor: AuditActor, policy: String, digest: String, outcome: AuditOutcome, reason: String? = nil
    ) -> AuditEvent {
        var details = ["policy": policy, "sha256": digest]
        if let reason { details["reason"] = reason }
        return AuditEvent(.policyLoaded, actor: actor, outcome: outcome, details: details)
    }

    /// The log was read: `verb` is `search`, `export`, `report` or `verify`; `query` the filters.
    public static func auditRead(
        by actor: AuditActor, verb: String, query: String? = nil, outcome: AuditOutcome = .ok
    ) -> AuditEvent {
        var details = ["verb": verb]
        if let query { details["query"] = query }
        return AuditEvent(.auditRead, actor: actor, outcome: outcome, details: details)
    }

    /// `airlock-audit seal` handed these sealed segments to root (`root:<group>`, 0440); a run
    /// that changed nothing leaves no record. `failed` names what could not be changed.
    public static func seal(
        by actor: AuditActor, segments: [String], group: String, outcome: AuditOutcome = .ok, details: [String: String] = [:]
    ) -> AuditEvent {
        AuditEvent(
            .seal, actor: actor, outcome: outcome, details: details.merging(["segments": segments.joined(separator: " "), "group": group]) { $1 })
    }

    /// The host key certified `certificate`'s key for the gateway's checkpoints.
    public static func keyCertified(by actor: AuditActor, _ certificate: AuditKeyCertificate) -> AuditEvent {
        AuditEvent(.keyCertified, actor: actor, outcome: .ok, details: certificate.recordDetails)
    }

    /// One gateway request, answered, refused or failed.
    public static func request(
        by actor: AuditActor, bundle: String? = nil, version: String? = nil, adapter: String? = nil,
        outcome: AuditOutcome, request: AuditRequest, details: [String: String] = [:]
    ) -> AuditEvent {
        AuditEvent(
            .request, actor: actor, target: AuditTarget(bundle: bundle, version: version, adapter: adapter),
            outcome: outcome, details: details, request: request)
    }

    /// A request whose credentials did not authenticate; `presented` names what was offered
    /// (a key prefix, never the key).
    public static func authenticationFailed(
        presented: String, reason: String, request: AuditRequest? = nil
    ) -> AuditEvent {
        AuditEvent(
            .authenticationFailed, actor: .client(presented), outcome: .refused, details: ["reason": reason],
            request: request)
    }
}
