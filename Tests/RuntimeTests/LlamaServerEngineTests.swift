import AirlockCore
import Runtime
import Testing

/// llama-server's side of the engine protocol: what it adds to a request body and what it
/// takes out of an answer, seen through `InferenceEngine` as the gateway sees it.
@Suite struct LlamaServerEngineTests {
    let engine: any InferenceEngine = LlamaServerEngine(
        executable: "/opt/airlock/runtime/llama-server", model: "/var/lib/airlock/x/1.0.0/base.gguf",
        adapters: [RuntimeAdapter(name: "claims", path: "/a/claims.gguf"), RuntimeAdapter(name: "legal", path: "/a/legal.gguf")],
        socketPath: "/run/airlock/x/runtime.sock", parallel: 3, backlog: 2)

    static func text(_ value: JSONValue) -> String { String(decoding: value.bytes, as: UTF8.self) }

    @Test func requestBodyKeepsTheFieldsAndAppliesOneAdapterWithoutThePromptCache() {
        let fields: [(String, JSONValue)] = [("prompt", .string("hi")), ("max_tokens", .int(4))]
        #expect(
            Self.text(engine.requestBody(fields, adapter: "legal"))
                == #"{"prompt":"hi","max_tokens":4,"lora":[{"id":0,"scale":0},{"id":1,"scale":1}],"cache_prompt":false}"#)
        #expect(
            Self.text(engine.requestBody(fields, adapter: nil))
                == #"{"prompt":"hi","max_tokens":4,"lora":[{"id":0,"scale":0},{"id":1,"scale":0}],"cache_prompt":false}"#)
    }

    @Test func clientAnswerNamesTheClientsModelAndDropsTimings() throws {
        let answer = try JSONValue.parse(
            Array(#"{"id":"c1","model":"/var/lib/airlock/x/1.0.0/base.gguf","choices":[],"timings":{"predicted_ms":3}}"#.utf8))
        #expect(Self.text(engine.clientAnswer(answer, model: "claims")) == #"{"id":"c1","model":"claims","choices":[]}"#)
        #expect(engine.clientAnswer(.array([.int(1)]), model: "claims") == .array([.int(1)]))
    }

    @Test func theGatewaysViewOfTheEngine() {
        #expect(engine.name == "llama-server")
        #expect(engine.slots == 3 && engine.backlog == 2)
        #expect(engine.healthPath == "/health")
        #expect(engine.environment.isEmpty)
        #expect(!engine.keepsConnectionAfterStream)
        #expect(engine.adapters.map(\.name) == ["claims", "legal"])
    }
}
