import Foundation
import TestSupport
import Testing

/// PyPI's `openai` client (pinned with every dependency by scripts/openai-client.sh) against the
/// gateway served by `airlock run`: what a site's applications will actually use.
@Suite(.serialized) struct OpenAIClientTests {
    @Test func pinnedOpenAIClientListsChatsStreamsAndSeesRefusals() throws {
        let python = try ProcessResult.run(TestEnvironment.script("openai-client.sh"), []).checked().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let served = try ServedBundle()
        defer { served.stop() }
        let everything = try #require(served.keys["everything"])
        let limited = try #require(served.keys["claims-app"])
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/GatewayTests/Fixtures/openai_client.py").path
        // A small environment: no proxy variables (httpx honours them) and no OPENAI_* settings.
        let environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": served.folder.path, "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        ]
        let run = try ProcessResult.run(
            python, [script, "http://127.0.0.1:\(served.port)/v1", everything, limited],
            environment: environment, timeout: .seconds(300))
        #expect(run.status == 0, "\(run)")
        let result = try #require(try JSONSerialization.jsonObject(with: run.output) as? [String: Any], "\(run)")
        func object(_ name: String) -> [String: Any] { result[name] as? [String: Any] ?? [:] }

        #expect(result["models"] as? [String] == ["claims-assistant", "claims", "legal"], "\(result)")

        let chat = object("chat")
        #expect((chat["content"] as? String)?.contains("Claim approved") == true, "\(chat)")
        #expect(chat["model"] as? String == "claims")
        #expect(chat["object"] as? String == "chat.completion")
        #expect(chat["role"] as? String == "assistant")
        #expect((chat["completion_tokens"] as? Int ?? 0) > 0, "\(chat)")

        let stream = object("stream")
        #expect((stream["content"] as? String)?.contains("Pursuant to Clause 7(b)") == true, "\(stream)")
        #expect((stream["chunks"] as? Int ?? 0) > 1, "a stream of one chunk was buffered: \(stream)")
        #expect((stream["completion_tokens"] as? Int ?? 0) > 0, "no usage chunk for include_usage: \(stream)")

        let completion = object("completion")
        #expect((completion["text"] as? String)?.contains("Claim approved") == true, "\(completion)")
        #expect(completion["model"] as? String == "claims", "\(completion)")
        #expect(completion["object"] as? String == "text_completion", "\(completion)")

        for name in ["wrong_key", "wrong_key_chat"] {
            #expect(object(name)["authentication_error"] as? Bool == true, "\(name): \(object(name))")
            #expect(object(name)["status"] as? Int == 401, "\(name): \(object(name))")
        }
        #expect(object("unknown_model")["not_found_error"] as? Bool == true, "\(object("unknown_model"))")
        #expect(object("unknown_model")["status"] as? Int == 404)

        #expect(result["limited_models"] as? [String] == ["claims"], "\(result)")
        // A model the key may not use looks exactly like one that does not exist.
        #expect(object("limited_other_adapter")["not_found_error"] as? Bool == true, "\(object("limited_other_adapter"))")
        #expect(object("limited_other_adapter")["status"] as? Int == 404)
    }
}
