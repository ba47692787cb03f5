import AirlockCore
import Runtime
import Testing

@Suite struct VLLMEngineTests {
    func engine(rank: Int = 8, adapters: [RuntimeAdapter]? = nil) -> VLLMEngine {
        VLLMEngine(
            python: "/usr/bin/python3.11", launcher: "/var/lib/airlock/store/x/1.0.0/runtime/vllm-cpu/airlock-vllm.py",
            model: "/var/lib/airlock/store/x/1.0.0/base", servedName: "claims-assistant",
            adapters: adapters ?? [
                RuntimeAdapter(name: "claims", path: "/s/adapters/claims"), RuntimeAdapter(name: "legal", path: "/s/adapters/legal"),
            ],
            socketPath: "/run/airlock/x/runtime.sock", contextSize: 256, parallel: 2, maxLoraRank: rank, stateDirectory: "/var/lib/airlock/state/x")
    }

    @Test func theCommandLineIsIsolatedOnASocketWithEveryAdapterAtStart() throws {
        let vllm = engine(rank: 4)
        try vllm.validate()
        #expect(vllm.executable == "/usr/bin/python3.11")
        #expect(
            vllm.arguments == [
                "-I", "-S", "-B", "/var/lib/airlock/store/x/1.0.0/runtime/vllm-cpu/airlock-vllm.py",
                "--model", "/var/lib/airlock/store/x/1.0.0/base", "--served-model-name", "claims-assistant",
                "--uds", "/run/airlock/x/runtime.sock", "--max-model-len", "256", "--max-num-seqs", "2", "--disable-uvicorn-access-log",
                "--structured-outputs-config", #"{"backend":"xgrammar","disable_any_whitespace":true}"#,
                "--enable-lora", "--max-loras", "2", "--max-lora-rank", "8",  // 4 rounded up to a rank vLLM accepts
                "--lora-modules", "claims=/s/adapters/claims", "legal=/s/adapters/legal",
            ])
        #expect(!engine(adapters: []).arguments.contains("--enable-lora"))
    }

    @Test func theEnvironmentIsCompleteOfflineAndKeepsCachesInTheStateFolder() {
        let environment = engine().environment
        for key in ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "VLLM_NO_USAGE_STATS", "DO_NOT_TRACK"] { #expect(environment[key] == "1") }
        for key in ["HOME", "HF_HOME", "VLLM_CACHE_ROOT", "VLLM_CONFIG_ROOT", "XDG_CACHE_HOME"] {
            #expect(environment[key]?.hasPrefix("/var/lib/airlock/state/x") == true, "\(key)")
        }
        // The unit's private /tmp; `start` (airlock run) puts a fresh mkdtemp folder there instead.
        #expect(environment["TMPDIR"] == "/tmp")
        #expect(environment.keys.allSatisfy { !$0.hasPrefix("PYTHON") })
    }

    @Test func requestsNameTheAdapterAsTheModelAndAnswersNameWhatTheClientAsked() {
        let vllm = engine()
        let body = vllm.requestBody([("model", .string("smuggled")), ("messages", .array([]))], adapter: "legal")
        #expect(body == .object([("messages", .array([])), ("model", .string("legal"))]))
        #expect(vllm.requestBody([], adapter: nil) == .object([("model", .string("claims-assistant"))]))
        let answer = JSONValue.object([
            ("id", .string("chatcmpl-1")), ("model", .string("legal")), ("kv_transfer_params", .null), ("prompt_logprobs", .null),
            ("choices", .array([])),
        ])
        #expect(vllm.clientAnswer(answer, model: "legal") == .object([("id", .string("chatcmpl-1")), ("model", .string("legal")), ("choices", .array([]))]))
    }

    @Test func namesVLLMWouldMisreadAreRefused() {
        #expect(throws: AirlockError.self) { try engine(adapters: [RuntimeAdapter(name: "a=b", path: "/x")]).validate() }
        #expect(throws: AirlockError.self) { try engine(adapters: [RuntimeAdapter(name: "a", path: "/x y")]).validate() }
        #expect(throws: AirlockError.self) { try engine(adapters: [RuntimeAdapter(name: "claims-assistant", path: "/x")]).validate() }
        #expect(throws: AirlockError.self) { try engine(rank: 1024).validate() }
    }
}
