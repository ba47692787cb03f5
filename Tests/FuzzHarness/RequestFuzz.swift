internal import AirlockCore
internal import Gateway
internal import Runtime

/// `RequestTranslator.translate` on a request body, for the gateway's two generation endpoints,
/// with the default limits and a catalog of a base and two adapters. What an accepted request
/// forwards to the runtime must be one JSON object within the limits.
enum RequestFuzz {
    static let limits = GatewayLimits()
    static let translator: RequestTranslator? = {
        guard let catalog = try? ModelCatalog(bundle: "claims-assistant", version: "1.4.0", adapters: ["claims", "legal"]) else { return nil }
        let engine = LlamaServerEngine(
            executable: "/opt/llama-server", model: "/var/lib/airlock/base.gguf",
            adapters: [RuntimeAdapter(name: "claims", path: "/a/claims.gguf"), RuntimeAdapter(name: "legal", path: "/a/legal.gguf")],
            socketPath: "/run/airlock/runtime.sock")
        return RequestTranslator(catalog: catalog, limits: limits, engine: engine)
    }()

    static func run(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
        guard let selector = input.first else { return .refused("empty input") }
        guard let translator else { return .broken("the fuzz catalog is not valid") }
        let endpoint: CompletionEndpoint = selector & 1 == 0 ? .chat : .completions
        let request: CompletionRequest
        do {
            request = try translator.translate(endpoint, body: Array(input.dropFirst()))
        } catch {
            return .refused("\(error.status) \(error.code): \(error.message)")
        }
        guard case .object(let members)? = try? JSONValue.parse(request.runtimeBody) else {
            return .broken("the body forwarded to the runtime is not a JSON object")
        }
        guard Set(members.map(\.0)).count == members.count else { return .broken("the forwarded body names a field twice") }
        guard translator.catalog.contains(request.model), request.adapter == translator.catalog.adapter(for: request.model) else {
            return .broken("model '\(request.model)' accepted with adapter \(request.adapter ?? "none")")
        }
        guard (1...limits.maxTokens).contains(request.maxTokens), request.promptCharacters <= limits.maxPromptCharacters else {
            return .broken("accepted beyond the limits: \(request.maxTokens) tokens, \(request.promptCharacters) characters")
        }
        guard request.promptSHA256.utf8.count == 64 else { return .broken("prompt digest '\(request.promptSHA256)'") }
        return .accepted
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let chat: [(String, String)] = [
            (
                "chat",
                #"{"model":"claims","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Is hail damage covered?"}],"max_tokens":64,"temperature":0.2}"#
            ),
            (
                "chat-stream",
                #"{"model":"claims-assistant","messages":[{"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there \u00e9\ud83d\ude00"}],"name":"bob"}],"stream":true,"stream_options":{"include_usage":true},"stop":["\n\n","END"],"seed":-7,"n":1,"user":"u-1","top_p":1,"presence_penalty":-2,"frequency_penalty":1.5e0}"#
            ),
            (
                "chat-json",
                #"{ "model" : "legal", "messages" : [ { "role" : "assistant", "content" : "" } ], "response_format" : { "type" : "json_object" }, "max_completion_tokens" : 2048, "max_tokens" : 2048, "stop" : null }"#
            ),
            ("chat-unknown-model", #"{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}"#),
        ]
        let completions: [(String, String)] = [
            ("completion", #"{"model":"claims-assistant","prompt":"Once upon a time","max_tokens":16,"stream":false,"stop":"."}"#),
            ("completion-escapes", #"{"model":"legal","prompt":"tab\tquote\"slash\/nul\u0000","temperature":2,"stream":true}"#),
        ]
        return chat.map { ($0.0, [0] + Array($0.1.utf8)) } + completions.map { ($0.0, [1] + Array($0.1.utf8)) }
    }
}
