public import AirlockCore
internal import Foundation
internal import Signing
internal import StrictYAML

/// What any one request or client may cost, from `ROOT/etc/airlock/gateway.yaml` (`limits:`),
/// with defaults that suit a small site. Every limit answers with its own status: 413 for the
/// body, 400 for prompt and `max_tokens`, 429 (with `Retry-After`) for concurrency and the
/// queue, 408 or a closed connection for slow clients, 504 for the request deadline.
public struct GatewayLimits: Sendable, Equatable {
    /// Largest request body accepted (bytes).
    public var maxBodyBytes = 1 << 20
    /// Largest prompt: all message texts (or the completion prompt) together, in characters.
    public var maxPromptCharacters = 32_768
    /// Most chat messages in one request.
    public var maxMessages = 256
    /// `max_tokens` used when a request gives none.
    public var defaultMaxTokens = 256
    /// Largest `max_tokens` a request may ask for.
    public var maxTokens = 2048
    /// Requests one client may have in flight (queued or running) at once.
    public var clientConcurrency = 4
    /// Requests waiting for a runtime slot, all clients together; beyond it: 429.
    public var queueLength = 64
    /// A connection must deliver a request's headers within this time (also the keep-alive idle time).
    public var headerTimeout: Duration = .seconds(10)
    /// A request's body must arrive in full within this time after its headers.
    public var bodyTimeout: Duration = .seconds(30)
    /// A request is answered, or ended with 504, within this time.
    public var requestDeadline: Duration = .seconds(300)
    /// On SIGTERM, in-flight answers may finish for this long before the gateway exits.
    public var drainDeadline: Duration = .seconds(30)
    /// Open client connections at once; further ones are closed at once.
    public var maxConnections = 512

    public init() {}

    /// Reads `limits:` from the gateway config at `path`; defaults when the file is absent.
    /// Unknown keys, non-integers and values out of range are refused with the key named.
    public static func load(path: String) throws(AirlockError) -> GatewayLimits {
        try loadRecorded(path: path).limits
    }

    /// `load`, with the SHA-256 (hex) of exactly the bytes that were parsed, for the
    /// `policy.loaded` record; nil when the file is absent (defaults).
    public static func loadRecorded(path: String) throws(AirlockError) -> (limits: GatewayLimits, sha256: String?) {
        guard let bytes = try FileBytes.readIfPresent(path: path, limit: StrictYAML.maximumBytes) else { return (GatewayLimits(), nil) }
        return (try parse(bytes, path: path), try SHA256Hasher.hash(bytes).hex)
    }

    static func parse(_ bytes: [UInt8], path: String) throws(AirlockError) -> GatewayLimits {
        var limits = GatewayLimits()
        let file = try StrictYAML.decode(File.self, from: String(decoding: bytes, as: UTF8.self), origin: path)
        guard let values = file.limits else { return limits }
        func set(_ value: Int?, _ key: File.Limits.CodingKeys, _ apply: (Int) -> Void) throws(AirlockError) {
            guard let value else { return }
            guard value > 0 else { throw AirlockError(.invalidInput, "\(path): limit '\(key.rawValue)' must be positive") }
            apply(value)
        }
        try set(values.maxBodyBytes, .maxBodyBytes) { limits.maxBodyBytes = $0 }
        try set(values.maxPromptCharacters, .maxPromptCharacters) { limits.maxPromptCharacters = $0 }
        try set(values.maxMessages, .maxMessages) { limits.maxMessages = $0 }
        try set(values.defaultMaxTokens, .defaultMaxTokens) { limits.defaultMaxTokens = $0 }
        try set(values.maxTokens, .maxTokens) { limits.maxTokens = $0 }
        try set(values.clientConcurrency, .clientConcurrency) { limits.clientConcurrency = $0 }
        try set(values.queueLength, .queueLength) { limits.queueLength = $0 }
        try set(values.headerTimeout, .headerTimeout) { limits.headerTimeout = .seconds($0) }
        try set(values.bodyTimeout, .bodyTimeout) { limits.bodyTimeout = .seconds($0) }
        if let deadline = values.requestDeadline {
            // Seconds, fractions allowed (a deadline of 0.5 s suits a short classification call).
            guard deadline.isFinite, deadline >= 0.001, deadline <= 86_400 else {
                throw AirlockError(.invalidInput, "\(path): limit 'request_deadline_s' must be between 0.001 and 86400 seconds")
            }
            limits.requestDeadline = .milliseconds(Int64((deadline * 1000).rounded()))
        }
        try set(values.drainDeadline, .drainDeadline) { limits.drainDeadline = .seconds($0) }
        try set(values.maxConnections, .maxConnections) { limits.maxConnections = $0 }
        guard limits.defaultMaxTokens <= limits.maxTokens else {
            throw AirlockError(.invalidInput, "\(path): default_max_tokens (\(limits.defaultMaxTokens)) is above max_tokens (\(limits.maxTokens))")
        }
        return limits
    }
}

extension GatewayLimits {
    /// The gateway config file's shape: `limits:` and nothing else.
    private struct File: Decodable {
        var limits: Limits?

        struct Limits: Decodable {
            var maxBodyBytes, maxPromptCharacters, maxMessages, defaultMaxTokens, maxTokens: Int?
            var clientConcurrency, queueLength, headerTimeout, bodyTimeout: Int?
            var requestDeadline: Double?
            var drainDeadline, maxConnections: Int?

            enum CodingKeys: String, CodingKey {
                case maxBodyBytes = "max_body_bytes", maxPromptCharacters = "max_prompt_chars", maxMessages = "max_messages"
                case defaultMaxTokens = "default_max_tokens", maxTokens = "max_tokens"
                case clientConcurrency = "client_concurrency", queueLength = "queue_length"
                case headerTimeout = "header_timeout_s", bodyTimeout = "body_timeout_s", requestDeadline = "request_deadline_s"
                case drainDeadline = "drain_s", maxConnections = "max_connections"
            }
        }
    }
}

