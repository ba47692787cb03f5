internal import AirlockCore
public import Runtime
internal import Signing

/// The two generation endpoints of the OpenAI API the gateway serves.
public enum CompletionEndpoint: String, Sendable, CaseIterable {
    case chat = "/v1/chat/completions"
    case completions = "/v1/completions"
}

/// A client request, checked and rewritten for the runtime: only fields the gateway knows and
/// allows are forwarded, with the token cap set by the gateway and the fields by which the
/// engine applies the adapter (`InferenceEngine.requestBody`; see Docs/architecture.md).
public struct CompletionRequest: Sendable {
    public let endpoint: CompletionEndpoint
    /// The model id the client named (the bundle name for the base, or an adapter name).
    public let model: String
    /// The adapter applied; nil for the base model.
    public let adapter: String?
    public let stream: Bool
    /// Whether the client asked for the usage chunk at the end of a stream.
    public let streamUsage: Bool
    public let maxTokens: Int
    /// Hex SHA-256 of the prompt as forwarded (the compact JSON of the messages, or the
    /// completion prompt's UTF-8).
    public let promptSHA256: String
    /// Characters of prompt text.
    public let promptCharacters: Int
    /// What the answer must be (`response_format`), checked again when it is finished.
    let format: AnswerFormat
    /// The exact body sent to the runtime.
    public let runtimeBody: [UInt8]
}

/// The `response_format` of a chat request: the engine generates under it, and the gateway
/// checks the finished answer before sending it (a whole answer) or its `[DONE]` (a stream).
enum AnswerFormat: Sendable {
    case text
    /// Valid JSON (OpenAI's JSON mode).
    case jsonObject
    case schema(ResponseSchema)

    /// Why a finished answer's text does not keep the format; nil when it does.
    func violation(ofText text: String) -> String? {
        switch self {
        case .text: return nil
        case .jsonObject:
            do {
                _ = try JSONValue.parse(Array(text.utf8), maxDepth: 256)
                return nil
            } catch {
                return "the answer is not valid JSON: \(error)"
            }
        case .schema(let schema): return schema.violation(ofText: text)
        }
    }
}

/// Checks request bodies against the API's shape and the site's limits, and writes the body
/// the runtime receives. Every refusal is a 400 (404 for an unknown model) naming the field.
public struct RequestTranslator: Sendable {
    public let catalog: ModelCatalog
    public let limits: GatewayLimits
    /// Writes the engine's part of the body: how it applies the adapter.
    public let engine: any InferenceEngine

    public init(catalog: ModelCatalog, limits: GatewayLimits, engine: any InferenceEngine) {
        self.catalog = catalog
        self.limits = limits
        self.engine = engine
    }

    static let commonFields: Set<String> = [
        "model", "stream", "stream_options", "max_tokens", "temperature", "top_p", "stop", "seed",
        "presence_penalty", "frequency_penalty", "user", "n",
    ]
    static let chatFields = commonFields.union(["messages", "max_completion_tokens", "response_format"])
    static let completionFields = commonFields.union(["prompt"])

    public func translate(_ endpoint: CompletionEndpoint, body: [UInt8]) throws(OpenAIError) -> CompletionRequest {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw .invalid("the request body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard case .object(let members) = document else {
            throw .invalid("the request body must be a JSON object, not \(document.typeName)", code: "invalid_json")
        }
        let allowed = endpoint == .chat ? Self.chatFields : Self.completionFields
        for (key, _) in members where !allowed.contains(key) {
            throw .invalid(
                "the field '\(key)' is not supported by this gateway (supported: \(allowed.sorted().joined(separator: ", ")))",
                param: key, code: "unsupported_parameter")
        }

        // The model, first: an unknown model is a 404 whatever else is wrong.
        guard let modelValue = document["model"] else { throw .invalid("'model' is required", param: "model") }
        guard case .string(let model) = modelValue else {
            throw .invalid("'model' must be a string, not \(modelValue.typeName)", param: "model")
        }
        guard catalog.contains(model) else { throw .modelNotAvailable(model) }

        var forward: [(String, JSONValue)] = []
        var promptText = 0
        let promptDigest: String
        switch endpoint {
        case .chat:
            let messages = try chatMessages(document["messages"])
            promptText = messages.characters
            forward.append(("messages", messages.value))
            promptDigest = Self.hex(messages.value.bytes)
        case .completions:
            guard let prompt = document["prompt"] else { throw .invalid("'prompt' is required", param: "prompt") }
            guard case .string(let text) = prompt else {
                throw .invalid("'prompt' must be a string, not \(prompt.typeName)", param: "prompt")
            }
            promptText = text.count
            forward.append(("prompt", .string(text)))
            promptDigest = Self.hex(Array(text.utf8))
        }
        guard promptText <= limits.maxPromptCharacters else {
            throw .invalid(
                "the prompt has \(promptText) characters; the limit is \(limits.maxPromptCharacters)",
                param: endpoint == .chat ? "messages" : "prompt", code: "prompt_too_long")
        }

        let stream = try boolean(document["stream"], "stream") ?? false
        var streamUsage = false
        if let options = document["stream_options"] {
            guard stream else { throw .invalid("'stream_options' is only allowed with 'stream': true", param: "stream_options") }
            guard case .object(let fields) = options else {
                throw .invalid("'stream_options' must be an object", param: "stream_options")
            }
            for (key, value) in fields {
                guard key == "include_usage" else {
                    throw .invalid("'stream_options.\(key)' is not supported", param: "stream_options", code: "unsupported_parameter")
                }
                streamUsage = try boolean(value, "stream_options.include_usage") ?? false
            }
        }

        let maxTokens = try tokens(document)
        forward.append(("max_tokens", .int(Int64(maxTokens))))
        if let temperature = try number(document["temperature"], "temperature", 0...2) { forward.append(("temperature", temperature)) }
        if let topP = try number(document["top_p"], "top_p", 0...1) { forward.append(("top_p", topP)) }
        if let penalty = try number(document["presence_penalty"], "presence_penalty", -2...2) { forward.append(("presence_penalty", penalty)) }
        if let penalty = try number(document["frequency_penalty"], "frequency_penalty", -2...2) { forward.append(("frequency_penalty", penalty)) }
        if let seed = document["seed"] {
            guard case .int = seed else { throw .invalid("'seed' must be an integer", param: "seed") }
            forward.append(("seed", seed))
        }
        if let stop = try stopSequences(document["stop"]) { forward.append(("stop", stop)) }
        if let n = document["n"] {
            guard case .int(1) = n else { throw .invalid("only 'n': 1 is supported", param: "n") }
        }
        if let user = document["user"] {
            guard case .string(let text) = user, text.utf8.count <= 256 else {
                throw .invalid("'user' must be a string of at most 256 bytes", param: "user")
            }
        }
        let format = try answerFormat(document["response_format"])
        switch format {
        case .text: break
        case .jsonObject: forward.append(("response_format", .object([("type", .string("json_object"))])))
        case .schema(let schema):
            // Both engines take OpenAI's form; strict, since they always enforce what they take.
            let member: JSONValue = .object([("name", .string(schema.name)), ("schema", schema.schema), ("strict", .bool(true))])
            forward.append(("response_format", .object([("type", .string("json_schema")), ("json_schema", member)])))
        }

        forward.append(("stream", .bool(stream)))
        if stream { forward.append(("stream_options", .object([("include_usage", .bool(true))]))) }
        let adapter = catalog.adapter(for: model)

        return CompletionRequest(
            endpoint: endpoint, model: model, adapter: adapter, stream: stream,
            streamUsage: streamUsage, maxTokens: maxTokens, promptSHA256: promptDigest,
            promptCharacters: promptText, format: format, runtimeBody: engine.requestBody(forward, adapter: adapter).bytes)
    }

    // MARK: Fields

    private func answerFormat(_ value: JSONValue?) throws(OpenAIError) -> AnswerFormat {
        guard let value else { return .text }
        let shapes = #"{"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}"#
        guard case .object(let fields) = value, let type = value["type"]?.stringValue else {
            throw .invalid("'response_format' must be \(shapes)", param: "response_format")
        }
        let expected: Set<String> = type == "json_schema" ? ["type", "json_schema"] : ["type"]
        guard Set(fields.map(\.0)) == expected, fields.count == expected.count else {
            throw .invalid("'response_format' must be \(shapes)", param: "response_format")
        }
        switch type {
        case "text": return .text
        case "json_object": return .jsonObject
        case "json_schema": return .schema(try ResponseSchema.parse(value["json_schema"]))
        default: throw .invalid("'response_format.type' is '\(type)'; it must be text, json_object or json_schema", param: "response_format")
        }
    }

    private func chatMessages(_ value: JSONValue?) throws(OpenAIError) -> (value: JSONValue, characters: Int) {
        guard let value else { throw .invalid("'messages' is required", param: "messages") }
        guard case .array(let items) = value else {
            throw .invalid("'messages' must be an array, not \(value.typeName)", param: "messages")
        }
        guard !items.isEmpty else { throw .invalid("'messages' must not be empty", param: "messages") }
        guard items.count <= limits.maxMessages else {
            throw .invalid("'messages' has \(items.count) entries; the limit is \(limits.maxMessages)", param: "messages")
        }
        var normalized: [JSONValue] = []
        var characters = 0
        for (index, item) in items.enumerated() {
            let where_ = "messages[\(index)]"
            guard case .object(let fields) = item else { throw .invalid("'\(where_)' must be an object", param: "messages") }
            for (key, _) in fields where !["role", "content", "name"].contains(key) {
                throw .invalid("'\(where_).\(key)' is not supported (role, content and name are)", param: "messages", code: "unsupported_parameter")
            }
            guard let role = item["role"]?.stringValue, ["system", "user", "assistant"].contains(role) else {
                throw .invalid("'\(where_).role' must be \"system\", \"user\" or \"assistant\"", param: "messages")
            }
            let text: String
            switch item["content"] {
            case .string(let content)?: text = content
            case .array(let parts)?:
                var joined = ""
                for part in parts {
                    guard case .object(let partFields) = part, partFields.count == 2, part["type"]?.stringValue == "text",
                        let partText = part["text"]?.stringValue
                    else {
                        throw .invalid(
                            "'\(where_).content' parts must be {\"type\": \"text\", \"text\": ...}; only text is supported", param: "messages")
                    }
                    joined += partText
                }
                text = joined
            default:
                throw .invalid("'\(where_).content' must be a string or an array of text parts", param: "messages")
            }
            characters += text.count
            var message: [(String, JSONValue)] = [("role", .string(role)), ("content", .string(text))]
            if let name = item["name"] {
                guard case .string = name else { throw .invalid("'\(where_).name' must be a string", param: "messages") }
                message.append(("name", name))
            }
            normalized.append(.object(message))
        }
        return (.array(normalized), characters)
    }

    private func tokens(_ document: JSONValue) throws(OpenAIError) -> Int {
        var requested: Int64?
        for key in ["max_tokens", "max_completion_tokens"] {
            guard let value = document[key] else { continue }
            guard case .int(let count) = value else {
                throw .invalid("'\(key)' must be an integer, not \(value.typeName)", param: key)
            }
            guard count >= 1 else { throw .invalid("'\(key)' must be at least 1 (got \(count))", param: key) }
            guard count <= Int64(limits.maxTokens) else {
                throw .invalid("'\(key)' is \(count); the limit on this gateway is \(limits.maxTokens)", param: key)
            }
            if let requested, requested != count {
                throw .invalid("'max_tokens' and 'max_completion_tokens' disagree", param: key)
            }
            requested = count
        }
        return requested.map { Int($0) } ?? limits.defaultMaxTokens
    }

    private func boolean(_ value: JSONValue?, _ name: String) throws(OpenAIError) -> Bool? {
        guard let value else { return nil }
        guard case .bool(let flag) = value else { throw .invalid("'\(name)' must be true or false, not \(value.typeName)", param: name) }
        return flag
    }

    private func number(_ value: JSONValue?, _ name: String, _ range: ClosedRange<Double>) throws(OpenAIError) -> JSONValue? {
        guard let value else { return nil }
        let number: Double
        switch value {
        case .int(let integer): number = Double(integer)
        case .double(let double): number = double
        default: throw .invalid("'\(name)' must be a number, not \(value.typeName)", param: name)
        }
        guard range.contains(number) else {
            throw .invalid("'\(name)' must be between \(range.lowerBound) and \(range.upperBound) (got \(number))", param: name)
        }
        return value
    }

    private func stopSequences(_ value: JSONValue?) throws(OpenAIError) -> JSONValue? {
        guard let value else { return nil }
        switch value {
        case .null: return nil
        case .string(let text) where !text.isEmpty && text.count <= 64: return .array([value])
        case .array(let items) where items.count <= 4:
            for item in items {
                guard case .string(let text) = item, !text.isEmpty, text.count <= 64 else {
                    throw .invalid("'stop' entries must be non-empty strings of at most 64 characters", param: "stop")
                }
            }
            return value
        default: throw .invalid("'stop' must be a string or an array of at most 4 strings", param: "stop")
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        (try? SHA256Hasher.hash(bytes).hex) ?? ""
    }
}
