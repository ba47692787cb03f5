import AirlockCore
import Runtime
import Testing

@Suite struct LlamaServerConfigurationTests {
    let configuration = LlamaServerEngine(
        executable: "/opt/airlock/runtime/llama-server", model: "/var/lib/airlock/x/1.0.0/base.gguf",
        adapters: [RuntimeAdapter(name: "claims", path: "/a/claims.gguf"), RuntimeAdapter(name: "legal", path: "/a/legal.gguf")],
        socketPath: "/run/airlock/x/runtime.sock", contextSize: 4096, parallel: 4, threads: 2)

    @Test func argumentsAreExplicitAndStartAdaptersAtZero() throws {
        try configuration.validate()
        let arguments = configuration.arguments
        #expect(
            arguments == [
                "--model", "/var/lib/airlock/x/1.0.0/base.gguf",
                "--host", "/run/airlock/x/runtime.sock",
                "--ctx-size", "4096", "--parallel", "4", "--threads", "2", "--threads-batch", "2",
                "--threads-http", "6", "--offline", "--no-ui", "--no-slots",
                "--lora-scaled", "/a/claims.gguf:0,/a/legal.gguf:0",
            ])
        for dangerous in ["--tools", "--mcp", "--props", "--slot-save-path", "--api-key", "--hf-repo", "--webui"] {
            #expect(!arguments.contains(dangerous))
        }
    }

    @Test func loraFieldNamesEveryAdapterExplicitly() throws {
        #expect(try configuration.loraField(applying: "legal") == #"[{"id":0,"scale":0},{"id":1,"scale":1}]"#)
        #expect(try configuration.loraField(applying: nil) == #"[{"id":0,"scale":0},{"id":1,"scale":0}]"#)
        #expect(throws: AirlockError.self) { try configuration.loraField(applying: "unknown") }
    }

    @Test(arguments: ["/a/with,comma.gguf", "/a/with:colon.gguf"])
    func refusesAdapterPathsTheRuntimeWouldSplit(path: String) {
        var bad = configuration
        bad.adapters[0].path = path
        #expect(throws: AirlockError.self) { try bad.validate() }
    }

    @Test func refusesATCPHostOrRelativeExecutable() {
        var tcp = configuration
        tcp.socketPath = "127.0.0.1"
        #expect(throws: AirlockError.self) { try tcp.validate() }
        var relative = configuration
        relative.executable = "llama-server"
        #expect(throws: AirlockError.self) { try relative.validate() }
    }
}
