import Foundation
import TestSupport
import Testing

/// The vLLM path end to end (issue 18): the tiny Hugging Face model and two PEFT adapters packed
/// with the vLLM CPU runtime that `airlock-pack runtime vllm` made, verified, installed and
/// served by `airlock run` (the host's /usr/bin/python3.11 running the verified folder), asked
/// through the gateway with PyPI's `openai` client as an application would.
@Suite(.serialized) struct VLLMServingTests {
    @Test func theOpenAIClientGetsEachAdaptersOwnAnswerFromVLLMThroughTheGateway() throws {
        let python = try ProcessResult.run(TestEnvironment.script("openai-client.sh"), []).checked().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let bundle = try VLLMDemoBundle.shared()
        let served = try ServedBundle(bundle: bundle, readiness: .seconds(300))
        defer { served.stop() }
        let everything = try #require(served.keys["everything"])
        let limited = try #require(served.keys["claims-app"])
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/GatewayTests/Fixtures/vllm_client.py").path
        let environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": served.folder.path, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        ]
        let run = try ProcessResult.run(
            python, [script, "http://127.0.0.1:\(served.port)/v1", bundle.name, everything, limited],
            environment: environment, timeout: .seconds(600))
        #expect(run.status == 0, "\(run)\n\(served.log)")
        let result = try #require(try JSONSerialization.jsonObject(with: run.output) as? [String: Any], "\(run)")
        func object(_ name: String) -> [String: Any] { result[name] as? [String: Any] ?? [:] }

        #expect(result["models"] as? [String] == [bundle.name, "claims", "legal"], "\(result)")
        #expect(result["model_named"] as? String == "claims")

        // Each adapter changes the answer (temperature 0), and asking them interleaved on the one
        // engine gives exactly what each gives alone.
        let cold = try #require(result["cold"] as? [String: String], "\(result)")
        let answers = [bundle.name, "claims", "legal"].map { cold[$0] ?? "" }
        #expect(answers.allSatisfy { !$0.isEmpty }, "\(cold)")
        #expect(Set(answers).count == 3, "the base and the two adapters should answer differently: \(cold)")
        let interleaved = try #require(result["interleaved"] as? [String: [String]], "\(result)")
        for (model, again) in interleaved {
            #expect(again == [cold[model] ?? "?", cold[model] ?? "?"], "\(model): interleaved \(again), cold \(cold[model] ?? "")")
        }

        // Streamed like llama-server's: many chunks, the same text as the whole answer, usage.
        let stream = object("stream")
        #expect(stream["content"] as? String == cold["legal"], "\(stream)")
        #expect((stream["chunks"] as? Int ?? 0) > 2, "\(stream)")
        #expect(stream["models"] as? [String] == ["legal"], "\(stream)")
        #expect((stream["completion_tokens"] as? Int ?? 0) > 0, "\(stream)")

        let completion = object("completion")
        #expect(completion["model"] as? String == "claims", "\(completion)")
        #expect(completion["object"] as? String == "text_completion", "\(completion)")
        #expect(!(completion["text"] as? String ?? "").isEmpty, "\(completion)")

        // What a client sees is the OpenAI shape alone: nothing says which engine answered.
        #expect(result["answer_keys"] as? [String] == ["choices", "created", "id", "model", "object", "usage"], "\(result)")
        #expect(result["choice_keys"] as? [String] == ["finish_reason", "index", "message"], "\(result)")
        #expect(result["message_keys"] as? [String] == ["content", "role"], "\(result)")
        #expect(result["usage_keys"] as? [String] == ["completion_tokens", "prompt_tokens", "total_tokens"], "\(result)")
        #expect(stream["chunk_keys"] as? [String] == ["choices", "created", "id", "model", "object"], "\(stream)")
        #expect(completion["keys"] as? [String] == ["choices", "created", "id", "model", "object", "usage"], "\(completion)")

        // A key limited to one adapter sees only it, and the base model does not exist for it.
        #expect(result["limited_models"] as? [String] == ["claims"], "\(result)")
        #expect(object("limited_base")["not_found_error"] as? Bool == true, "\(object("limited_base"))")
        #expect(result["limited_claims"] as? String == cold["claims"], "\(result)")

        // Structured outputs on the same engine (the gateway's schema check behind xgrammar).
        let structured = try StructuredOutputs.ask(served, models: [bundle.name, "claims"])
        try StructuredOutputs.expectKept(structured, root: served.root)

        // Every request is in the audit log, which verifies.
        let audit = try ProcessResult.run(TestEnvironment.executable("airlock-audit"), ["--root", served.root, "search", "--action", "gateway", "--json"])
            .checked()
        #expect(audit.stdout.split(separator: "\n").count >= 12, "\(audit)")
        #expect(try ProcessResult.run(TestEnvironment.executable("airlock-audit"), ["--root", served.root, "verify"]).status == 0)
    }
}
