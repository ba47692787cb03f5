import Foundation
import Runtime
import TestSupport
import Testing

/// A llama-server started by the test on the installed bundle's files, with at most one
/// adapter applied at its default scale: "the runtime asked directly with that adapter alone".
final class DirectRuntime {
    let process: ChildProcess
    let socket: String

    init(served: ServedBundle, adapter: String?, folder: TemporaryDirectory) throws {
        let tree = served.installedTree
        socket = folder.file("direct-\(adapter ?? "base").sock")
        var arguments = [
            "--model", tree + "/base/base.gguf", "--host", socket, "--ctx-size", "2048", "--parallel", "1",
            "--threads", "1", "--offline", "--no-ui", "--no-slots",
        ]
        if let adapter { arguments += ["--lora", tree + "/adapters/\(adapter)/\(adapter).gguf"] }
        process = try ChildProcess(
            executable: tree + "/runtime/cpu-generic/llama-server", arguments: arguments, environment: [:],
            outputPath: folder.file("direct-\(adapter ?? "base").log"))
        let probe = UnixSocketHTTPClient(socketPath: socket, timeout: .seconds(2))
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let health = try? probe.get("/health"), health.status == 200 { return }
            usleep(20_000)
        }
        throw TestSupportError("direct llama-server for \(adapter ?? "base") did not start")
    }

    deinit { process.terminate(grace: .seconds(2)) }

    /// The answer text for a chat or completion body (no `model`, no `lora`).
    func answer(path: String, body: String) throws -> String {
        let response = try UnixSocketHTTPClient(socketPath: socket).post(path, json: body)
        guard response.status == 200 else { throw TestSupportError("direct: \(response.status) \(response.text)") }
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let first = (object?["choices"] as? [[String: Any]])?.first
        return ((first?["message"] as? [String: Any])?["content"] as? String) ?? (first?["text"] as? String) ?? ""
    }
}

@Suite(.serialized) struct GatewayAnswerTests {
    static let prompts = ["Is water damage covered?", "Summarise clause 7.", "Hello"]

    static func chatBody(_ prompt: String, model: String?, stream: Bool = false) -> String {
        let modelField = model.map { #""model":"\#($0)","# } ?? ""
        return #"{\#(modelField)"messages":[{"role":"user","content":"\#(prompt)"}],"max_tokens":16,"temperature":0,"stream":\#(stream)}"#
    }

    static func completionBody(_ prompt: String, model: String?, stream: Bool = false) -> String {
        let modelField = model.map { #""model":"\#($0)","# } ?? ""
        return #"{\#(modelField)"prompt":"\#(prompt)","max_tokens":16,"temperature":0,"stream":\#(stream)}"#
    }

    @Test func eachModelAnswersLikeTheRuntimeWithThatAdapterAloneAndModelsStayIsolated() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let key = served.keys["everything"]
        // Cold answers: one fresh runtime per model, the adapter alone at its own scale.
        var cold: [String: [String: String]] = [:]
        for (model, adapter) in [("claims-assistant", nil), ("claims", "claims"), ("legal", "legal")] as [(String, String?)] {
            let direct = try DirectRuntime(served: served, adapter: adapter, folder: folder)
            var answers: [String: String] = [:]
            for prompt in Self.prompts {
                answers["chat:" + prompt] = try direct.answer(path: "/v1/chat/completions", body: Self.chatBody(prompt, model: nil))
                answers["text:" + prompt] = try direct.answer(path: "/v1/completions", body: Self.completionBody(prompt, model: nil))
            }
            cold[model] = answers
        }
        #expect(cold["claims"]?["chat:Hello"]?.contains("Claim approved") == true)
        #expect(cold["legal"]?["chat:Hello"]?.contains("Pursuant to Clause 7(b)") == true)
        #expect(cold["claims"] != cold["claims-assistant"])

        // Through the gateway, alternating models on every request, whole and streamed.
        let order = ["claims", "legal", "claims-assistant", "claims", "claims-assistant", "legal", "legal", "claims"]
        for (index, model) in order.enumerated() {
            let prompt = Self.prompts[index % Self.prompts.count]
            let stream = index % 2 == 1
            let chat = try served.request("POST", "/v1/chat/completions", body: Self.chatBody(prompt, model: model, stream: stream), key: key)
            #expect(chat.status == 200)
            #expect(ServedBundle.answer(chat) == cold[model]?["chat:" + prompt], "chat \(model) stream=\(stream) '\(prompt)'")
            let text = try served.request("POST", "/v1/completions", body: Self.completionBody(prompt, model: model, stream: !stream), key: key)
            #expect(text.status == 200)
            #expect(ServedBundle.answer(text) == cold[model]?["text:" + prompt], "completion \(model) stream=\(!stream) '\(prompt)'")
        }

        // And concurrently: two slots busy with different adapters at once.
        let results = ConcurrentResults()
        let threads = (0..<4).map { index in  // the per-client limit is 4
            Thread {
                let model = order[index % order.count]
                let prompt = Self.prompts[index % Self.prompts.count]
                let response = try? served.request("POST", "/v1/chat/completions", body: Self.chatBody(prompt, model: model), key: key)
                results.add(model: model, prompt: prompt, answer: response.map(ServedBundle.answer) ?? "<failed>")
            }
        }
        threads.forEach { $0.start() }
        results.wait(count: threads.count)
        for result in results.all {
            #expect(result.answer == cold[result.model]?["chat:" + result.prompt], "concurrent \(result.model) '\(result.prompt)'")
        }
    }

    @Test func clientLeavingMidStreamFreesItsRuntimeSlotAtOnce() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let long = #"{"model":"legal","prompt":"Terms:","max_tokens":2000,"temperature":0,"stream":true}"#
        // Control: a whole long answer keeps a slot busy long enough to tell "freed at once" from
        // "queued behind the ghosts" (1.4-2 s on the 2-core machine; on a faster one less).
        let started = ContinuousClock.now
        let whole = try served.request("POST", "/v1/completions", body: long, key: key)
        let wholeTime = ContinuousClock.now - started
        #expect(whole.status == 200)
        try #require(wholeTime > .milliseconds(500), "the control answer took only \(wholeTime); the test would prove nothing")

        // Both slots (the bundle has 2) start long answers, whose clients hang up at once.
        var ghosts: [HTTPTestConnection] = []
        for _ in 0..<2 {
            let connection = try HTTPTestConnection(port: served.port)
            try connection.sendRequest("POST", "/v1/completions", body: long, key: key)
            #expect(try connection.readHead().status == 200)
            _ = try connection.nextChunk()
            ghosts.append(connection)
        }
        ghosts.forEach { $0.close() }
        // The next requests are not queued behind ghosts.
        let next = ContinuousClock.now
        let first = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 8), key: key)
        let second = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "legal", maxTokens: 8), key: key)
        let waited = ContinuousClock.now - next
        #expect(first.status == 200 && second.status == 200)
        // Queued behind ghosts, they would wait about a whole answer's time.
        #expect(waited < wholeTime / 2, "the next requests took \(waited) after the clients left (a whole answer takes \(wholeTime))")
        if wholeTime < .seconds(4) {  // a machine not saturated by other work
            #expect(waited < .seconds(1), "the next requests took \(waited) after the clients left")
        }
        print("whole long answer: \(wholeTime); two short requests after two hang-ups: \(waited)")
    }
}

final class ConcurrentResults: @unchecked Sendable {
    struct Result {
        let model: String
        let prompt: String
        let answer: String
    }
    private let condition = NSCondition()
    private var results: [Result] = []

    func add(model: String, prompt: String, answer: String) {
        condition.lock()
        results.append(Result(model: model, prompt: prompt, answer: answer))
        condition.broadcast()
        condition.unlock()
    }

    func wait(count: Int) {
        condition.lock()
        while results.count < count { _ = condition.wait(until: Date().addingTimeInterval(60)) }
        condition.unlock()
    }

    var all: [Result] {
        condition.lock()
        defer { condition.unlock() }
        return results
    }
}
