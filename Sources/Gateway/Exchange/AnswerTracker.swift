internal import AirlockCore
internal import Runtime
internal import Signing

/// What the gateway keeps of an answer while passing it on: the answer text's SHA-256, token
/// counts from the runtime's usage, and the rewriting of each piece for the client (what the
/// engine rewrites, `InferenceEngine.clientAnswer`: the model id the client named, no engine
/// timings; usage only when asked for).
struct AnswerTracker {
    let model: String
    let endpoint: CompletionEndpoint
    let engine: any InferenceEngine
    private let hasher: SHA256Hasher?
    private(set) var tokensIn: UInt64?
    private(set) var tokensOut: UInt64?

    init(model: String, endpoint: CompletionEndpoint, engine: any InferenceEngine) {
        self.model = model
        self.endpoint = endpoint
        self.engine = engine
        self.hasher = try? SHA256Hasher()
    }

    var answerSHA256: String? { (try? hasher?.finalize())?.hex }

    /// Rewrites one JSON answer or stream chunk; nil when the piece is to be left out (the
    /// usage-only chunk of a stream whose client did not ask for usage).
    mutating func rewrite(_ value: JSONValue, keepUsage: Bool) -> JSONValue? {
        let answer = engine.clientAnswer(value, model: model)
        guard case .object(let members) = answer else { return answer }
        var output: [(String, JSONValue)] = []
        var usageOnly = false
        for (key, member) in members {
            switch key {
            case "usage":
                if case .int(let prompt)? = member["prompt_tokens"] { tokensIn = UInt64(max(0, prompt)) }
                if case .int(let completion)? = member["completion_tokens"] { tokensOut = UInt64(max(0, completion)) }
                if keepUsage { output.append((key, member)) }
            case "choices":
                if case .array(let choices) = member {
                    if choices.isEmpty { usageOnly = true }
                    for choice in choices { absorb(choice) }
                }
                output.append((key, member))
            default: output.append((key, member))
            }
        }
        if usageOnly, !keepUsage { return nil }
        return .object(output)
    }

    /// Adds a choice's text to the answer digest.
    private func absorb(_ choice: JSONValue) {
        let text: String?
        switch endpoint {
        case .chat: text = (choice["delta"] ?? choice["message"])?["content"]?.stringValue
        case .completions: text = choice["text"]?.stringValue
        }
        if let text, !text.isEmpty { try? hasher?.update(Array(text.utf8)) }
    }
}
