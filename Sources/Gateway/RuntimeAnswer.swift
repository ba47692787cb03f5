internal import Signing

/// Splits the runtime's server-sent events into their `data:` payloads as bytes arrive (an
/// event may span reads; one read may hold several events).
struct ServerSentEvents {
    private var buffer: [UInt8] = []
    /// Largest event accepted; the runtime's are a few hundred bytes.
    let limit: Int

    init(limit: Int = 1 << 20) { self.limit = limit }

    /// The complete events' data so far.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws(RuntimeCallError) -> [[UInt8]] {
        buffer += bytes
        var events: [[UInt8]] = []
        var start = 0
        var index = 0
        while index + 1 < buffer.count {
            if buffer[index] == 0x0A, buffer[index + 1] == 0x0A {
                if let data = Self.data(of: buffer[start..<index]) { events.append(data) }
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        buffer.removeFirst(start)
        guard buffer.count <= limit else { throw .brokeOff("an event is larger than \(limit) bytes") }
        return events
    }

    /// The `data:` lines of one event, joined by newlines (SSE's rule); nil for none.
    private static func data(of event: ArraySlice<UInt8>) -> [UInt8]? {
        var result: [UInt8]?
        for line in event.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let prefix = Array("data:".utf8)
            guard line.starts(with: prefix) else { continue }
            var payload = line.dropFirst(prefix.count)
            if payload.first == 0x20 { payload = payload.dropFirst() }
            if result == nil { result = Array(payload) } else { result! += [0x0A] + payload }
        }
        return result
    }
}

/// What the gateway keeps of an answer while passing it on: the answer text's SHA-256, token
/// counts from the runtime's usage, and the rewriting of each piece for the client (the model
/// id the client named instead of the runtime's file path; no runtime timings; usage only
/// when asked for).
struct AnswerTracker {
    let model: String
    let endpoint: CompletionEndpoint
    private let hasher: SHA256Hasher?
    private(set) var tokensIn: UInt64?
    private(set) var tokensOut: UInt64?

    init(model: String, endpoint: CompletionEndpoint) {
        self.model = model
        self.endpoint = endpoint
        self.hasher = try? SHA256Hasher()
    }

    var answerSHA256: String? { (try? hasher?.finalize())?.hex }

    /// Rewrites one JSON answer or stream chunk; nil when the piece is to be left out (the
    /// usage-only chunk of a stream whose client did not ask for usage).
    mutating func rewrite(_ value: JSONValue, keepUsage: Bool) -> JSONValue? {
        guard case .object(let members) = value else { return value }
        var output: [(String, JSONValue)] = []
        var usageOnly = false
        for (key, member) in members {
            switch key {
            case "model": output.append((key, .string(model)))
            case "timings": continue
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

extension OpenAIError {
    /// The client-facing error for a runtime's non-200 answer: its 4xx are the request's fault
    /// (400 with the runtime's message, e.g. a prompt longer than the context), anything else
    /// is the runtime failing (503).
    static func fromRuntime(status: Int, body: [UInt8]) -> OpenAIError {
        let message = (try? JSONValue.parse(body))?["error"]?["message"]?.stringValue
            ?? String(decoding: body.prefix(300), as: UTF8.self)
        if (400..<500).contains(status) {
            return .invalid("the runtime refused the request: \(message)", code: "runtime_rejected")
        }
        return .unavailable("the runtime failed (HTTP \(status)): \(message)", code: "runtime_error")
    }
}
