import AirlockCore
import Foundation
import Runtime
import TestSupport
import Testing

/// The real `llama-server` on the generated demo model, over a Unix socket.
@Suite(.serialized) struct LlamaServerTests {
    static let prompt = "The claim was filed on"

    /// Starts the runtime on the demo model with both adapters loaded at scale 0.
    static func startDemoRuntime(in folder: TemporaryDirectory) throws -> RuntimeProcess<LlamaServerEngine> {
        let model = try TestEnvironment.demoModel()
        let configuration = LlamaServerEngine(
            executable: try TestEnvironment.llamaServer(), model: model.base,
            adapters: model.adapters.map { RuntimeAdapter(name: $0.name, path: $0.path) },
            socketPath: folder.file("runtime.sock"), contextSize: 512, parallel: 1, threads: 1)
        return try configuration.start(logPath: folder.file("runtime.log"), readinessTimeout: .seconds(30))
    }

    /// One completion at temperature 0 with exactly `adapter` applied (nil: the base alone).
    static func complete(_ server: RuntimeProcess<LlamaServerEngine>, adapter: String?) throws -> String {
        let lora = try server.configuration.loraField(applying: adapter)
        let body = #"{"prompt":"\#(prompt)","n_predict":16,"temperature":0,"cache_prompt":false,"lora":\#(lora)}"#
        let response = try server.client.post("/completion", json: body)
        try #require(response.status == 200, "HTTP \(response.status): \(response.text)")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return try #require(object?["content"] as? String)
    }

    @Test func adaptersAndBaseGiveThreeDifferentDeterministicAnswers() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let server = try Self.startDemoRuntime(in: folder)
        defer { server.stop() }

        let base = try Self.complete(server, adapter: nil)
        let claims = try Self.complete(server, adapter: "claims")
        let legal = try Self.complete(server, adapter: "legal")
        #expect(Set([base, claims, legal]).count == 3, "base: \(base)\nclaims: \(claims)\nlegal: \(legal)")
        for text in [base, claims, legal] { #expect(!text.isEmpty) }
        // The demo adapters steer the output layer towards fixed phrases (make_demo_model.py).
        #expect(claims.contains("Claim approved"), "\(claims)")
        #expect(legal.contains("Pursuant to Clause"), "\(legal)")

        // The same request twice gives the same answer, in any order.
        #expect(try Self.complete(server, adapter: "legal") == legal)
        #expect(try Self.complete(server, adapter: nil) == base)
        #expect(try Self.complete(server, adapter: "claims") == claims)
    }

    @Test func chatCompletionsWorkWithTheDemoChatTemplate() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let server = try Self.startDemoRuntime(in: folder)
        defer { server.stop() }

        func chat(_ adapter: String?) throws -> String {
            let lora = try server.configuration.loraField(applying: adapter)
            let body = #"{"messages":[{"role":"user","content":"Summarise claim 7."}],"max_tokens":12,"temperature":0,"lora":\#(lora)}"#
            let response = try server.client.post("/v1/chat/completions", json: body)
            try #require(response.status == 200, "HTTP \(response.status): \(response.text)")
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            let message = (object?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]
            return try #require(message?["content"] as? String)
        }
        let answers = try [nil, "claims", "legal"].map { try chat($0) }
        #expect(Set(answers).count == 3, "\(answers)")
    }

    @Test func readyQuicklyAndStopsCleanly() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let started = ContinuousClock.now
        let server = try Self.startDemoRuntime(in: folder)
        let readyAfter = ContinuousClock.now - started
        #expect(readyAfter < .seconds(10), "ready after \(readyAfter)")
        #expect(try server.client.get("/health").status == 200)
        let status = server.stop()
        #expect(status == 0 || status == 128 + SIGTERM, "exit status \(status)")
        #expect(!FileManager.default.fileExists(atPath: server.configuration.socketPath))
    }

    @Test func startFailureNamesTheCauseWithTheRuntimeLog() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try Data("not a gguf".utf8).write(to: folder.url.appendingPathComponent("broken.gguf"))
        let configuration = LlamaServerEngine(
            executable: try TestEnvironment.llamaServer(), model: folder.file("broken.gguf"),
            socketPath: folder.file("runtime.sock"), contextSize: 512)
        let error = #expect(throws: AirlockError.self) {
            try configuration.start(logPath: folder.file("runtime.log"), readinessTimeout: .seconds(30))
        }
        #expect(error?.description.contains("llama-server did not become ready") == true)
        #expect(error?.description.contains("exited before it was ready") == true, "\(String(describing: error))")
    }
}

/// `llama-server` reads `LLAMA_ARG_*` (and `LLAMA_API_KEY`) variables that switch on its shell and file tools, API
/// keys and more. Started through Airlock, none of them reaches it.
@Suite(.serialized) struct RuntimeEnvironmentTests {
    static let dangerous = ["LLAMA_ARG_TOOLS": "all", "LLAMA_API_KEY": "leaked-key", "LLAMA_ARG_ENDPOINT_SLOTS": "1"]

    @Test func llamaArgVariablesInOurEnvironmentHaveNoEffect() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        for (name, value) in Self.dangerous { setenv(name, value, 1) }
        defer { for name in Self.dangerous.keys { unsetenv(name) } }
        #expect(ProcessInfo.processInfo.environment["LLAMA_ARG_TOOLS"] == "all")

        let server = try LlamaServerTests.startDemoRuntime(in: folder)
        defer { server.stop() }
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(server.process.pid)/environ"))
        #expect(environ.isEmpty, "runtime environment: \(String(decoding: environ, as: UTF8.self))")
        #expect(try server.client.get("/tools").status == 403, "built-in tools must stay off")
        #expect(try server.client.get("/slots").status != 200, "slot monitoring must stay off")
        let answer = try server.client.post("/completion", json: #"{"prompt":"hi","n_predict":2,"lora":[{"id":0,"scale":0},{"id":1,"scale":0}]}"#)
        #expect(answer.status == 200, "no API key from the environment: \(answer.text)")
    }

    /// The control: the same variables handed to the runtime do take effect, so the test above
    /// can fail.
    @Test func theSameVariablesPassedOnDoTakeEffect() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let model = try TestEnvironment.demoModel()
        let configuration = LlamaServerEngine(
            executable: try TestEnvironment.llamaServer(), model: model.base,
            socketPath: folder.file("runtime.sock"), contextSize: 512)
        let child = try ChildProcess(
            executable: configuration.executable, arguments: configuration.arguments,
            environment: Self.dangerous, outputPath: folder.file("runtime.log"))
        defer { child.terminate() }
        let client = UnixSocketHTTPClient(socketPath: configuration.socketPath, timeout: .seconds(5))
        var ready = false
        for _ in 0..<1000 where !ready {
            ready = (try? client.get("/health"))?.status == 200
            if !ready { usleep(10_000) }
        }
        try #require(ready)
        let tools = try client.send("GET", "/tools", headers: ["Authorization": "Bearer leaked-key"])
        #expect(tools.status == 200)
        #expect(tools.text.contains("exec_shell_command"))
        #expect(try client.post("/completion", json: #"{"prompt":"hi","n_predict":2}"#).status == 401)
    }
}
