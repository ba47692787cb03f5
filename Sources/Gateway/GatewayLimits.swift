public import AirlockCore
internal import Foundation
internal import Signing
internal import Yams

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

    private static let keys: Set<String> = [
        "max_body_bytes", "max_prompt_chars", "max_messages", "default_max_tokens", "max_tokens",
        "client_concurrency", "queue_length", "header_timeout_s", "body_timeout_s", "request_deadline_s",
        "drain_s", "max_connections",
    ]

    /// Reads `limits:` from the gateway config at `path`; defaults when the file is absent.
    /// Unknown keys, non-integers and values out of range are refused with the key named.
    public static func load(path: String) throws(AirlockError) -> GatewayLimits {
        try loadRecorded(path: path).limits
    }

    /// `load`, with the SHA-256 (hex) of exactly the bytes that were parsed, for the
    /// `policy.loaded` record; nil when the file is absent (defaults).
    public static func loadRecorded(path: String) throws(AirlockError) -> (limits: GatewayLimits, sha256: String?) {
        guard let data = FileManager.default.contents(atPath: path) else { return (GatewayLimits(), nil) }
        let bytes = Array(data)
        return (try parse(bytes, path: path), try SHA256Hasher.hash(bytes).hex)
    }

    static func parse(_ bytes: [UInt8], path: String) throws(AirlockError) -> GatewayLimits {
        var limits = GatewayLimits()
        let text = String(decoding: bytes, as: UTF8.self)
        let document: Any?
        do {
            document = try Yams.load(yaml: text)
        } catch {
            throw AirlockError(.invalidInput, "\(path) is not valid YAML: \(error)")
        }
        guard let top = document as? [String: Any] else {
            if document == nil { return limits }
            throw AirlockError(.invalidInput, "\(path) must be a mapping with a 'limits:' section")
        }
        for key in top.keys where key != "limits" {
            throw AirlockError(.invalidInput, "\(path): unknown key '\(key)' (known: limits)")
        }
        guard let section = top["limits"] else { return limits }
        guard let values = section as? [String: Any] else {
            throw AirlockError(.invalidInput, "\(path): 'limits' must be a mapping")
        }
        for (key, raw) in values {
            guard keys.contains(key) else {
                throw AirlockError(.invalidInput, "\(path): unknown limit '\(key)' (known: \(keys.sorted().joined(separator: ", ")))")
            }
            guard let value = raw as? Int, !(raw is Bool) else {
                throw AirlockError(.invalidInput, "\(path): limit '\(key)' must be a whole number")
            }
            guard value > 0 else { throw AirlockError(.invalidInput, "\(path): limit '\(key)' must be positive") }
            switch key {
            case "max_body_bytes": limits.maxBodyBytes = value
            case "max_prompt_chars": limits.maxPromptCharacters = value
            case "max_messages": limits.maxMessages = value
            case "default_max_tokens": limits.defaultMaxTokens = value
            case "max_tokens": limits.maxTokens = value
            case "client_concurrency": limits.clientConcurrency = value
            case "queue_length": limits.queueLength = value
            case "header_timeout_s": limits.headerTimeout = .seconds(value)
            case "body_timeout_s": limits.bodyTimeout = .seconds(value)
            case "request_deadline_s": limits.requestDeadline = .seconds(value)
            case "drain_s": limits.drainDeadline = .seconds(value)
            default: limits.maxConnections = value
            }
        }
        guard limits.defaultMaxTokens <= limits.maxTokens else {
            throw AirlockError(.invalidInput, "\(path): default_max_tokens (\(limits.defaultMaxTokens)) is above max_tokens (\(limits.maxTokens))")
        }
        return limits
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
