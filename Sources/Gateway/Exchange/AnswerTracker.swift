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
    /// The answer text, kept only when its format is to be checked (`keepsText`).
    private(set) var text = ""
    private(set) var textOverflowed = false
    /// The last `finish_reason` the runtime gave.
    private(set) var finishReason: String?
    let keepsText: Bool

    /// The most answer text kept for the format check.
    static let textLimit = 4 << 20

    init(model: String, endpoint: CompletionEndpoint, engine: any InferenceEngine, keepsText: Bool = false) {
        self.model = model
        self.endpoint = endpoint
        self.engine = engine
        self.keepsText = keepsText
        self.hasher = try? SHA256Hasher()
    }

    /// Why the finished answer does not keep `format`; nil when it does, or when the runtime
    /// stopped at the token cap (a cut answer is the client's to judge: `finish_reason` says so).
    func violation(of format: AnswerFormat) -> String? {
        guard keepsText, finishReason != "length" else { return nil }
        if textOverflowed { return "the answer is longer than the \(Self.textLimit) bytes the gateway checks" }
        return format.violation(ofText: text)
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

    /// Adds a choice's text to the answer digest (and to the text kept).
    private mutating func absorb(_ choice: JSONValue) {
        if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
        let text: String?
        switch endpoint {
        case .chat: text = (choice["delta"] ?? choice["message"])?["content"]?.stringValue
        case .completions: text = choice["text"]?.stringValue
        }
        guard let text, !text.isEmpty else { return }
        try? hasher?.update(Array(text.utf8))
        if keepsText {
            if self.text.utf8.count + text.utf8.count <= Self.textLimit { self.text += text } else { textOverflowed = true }
        }
    }
}
