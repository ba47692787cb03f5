import Foundation
import TestSupport
import Testing

/// `response_format: json_schema` through the gateway, asked with PyPI's `openai` client
/// (Tests/GatewayTests/Fixtures/structured_client.py), for either engine: every answer a client
/// gets keeps the schema by the client's own reading of it, an engine's answer that does not is
/// an error (never sent as if it did), and schemas no engine is sure to enforce are refused with
/// a 400 naming why.
enum StructuredOutputs {
    static func ask(_ served: ServedBundle, models: [String]) throws -> [String: Any] {
        let python = try ProcessResult.run(TestEnvironment.script("openai-client.sh"), []).checked().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try #require(served.keys["everything"])
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/GatewayTests/Fixtures/structured_client.py").path
        let environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": served.folder.path, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
        ]
        let run = try ProcessResult.run(
            python, [script, "http://127.0.0.1:\(served.port)/v1", key] + models, environment: environment, timeout: .seconds(900))
        #expect(run.status == 0, "\(run)\n\(served.log)")
        return try #require(try JSONSerialization.jsonObject(with: run.output) as? [String: Any], "\(run)")
    }

    /// What holds for either engine. Returns the answers that finished and kept the schema.
    @discardableResult
    static func expectKept(_ result: [String: Any], root: String) throws -> Int {
        let answers = try #require(result["answers"] as? [[String: Any]], "\(result)")
        #expect(answers.count >= 6, "\(result)")
        var kept = 0
        for answer in answers {
            if answer["status"] as? Int == 200 {
                // What the client got keeps the schema (a cut answer says "length" and is exempt).
                #expect(answer["problem"] is NSNull || answer["problem"] == nil, "an answer that breaks the schema reached the client: \(answer)")
                if answer["finish"] as? String == "stop", answer["problem"] is NSNull { kept += 1 }
            } else {
                // Anything else is the gateway withholding an engine's invalid answer, and saying so.
                #expect(answer["code"] as? String == "answer_not_valid", "\(answer)")
                #expect(answer["stream"] as? Bool == true || answer["status"] as? Int == 502, "\(answer)")
                #expect((answer["message"] as? String ?? "").contains("response_format"), "\(answer)")
            }
        }
        #expect(kept >= 1, "no answer finished under the schema: \(answers)")

        let jsonMode = result["json_mode"] as? [String: Any] ?? [:]
        if jsonMode["status"] as? Int == 200 {
            #expect(jsonMode["finish"] as? String != "stop" || jsonMode["valid"] as? Bool == true, "\(jsonMode)")
        } else {
            #expect(jsonMode["code"] as? String == "answer_not_valid", "\(jsonMode)")
        }

        let refusals = try #require(result["refusals"] as? [String: [String: Any]], "\(result)")
        let because = [
            "remote_ref": "nothing is fetched", "pattern": "'pattern'", "unknown_keyword": "'propertyOrder'",
            "recursive": "recursive", "number_bounds": "integers only",
        ]
        for (name, phrase) in because {
            let refusal = refusals[name] ?? [:]
            #expect(refusal["status"] as? Int == 400, "\(name): \(refusal)")
            #expect(refusal["code"] as? String == "unsupported_schema", "\(name): \(refusal)")
            #expect(refusal["param"] as? String == "response_format", "\(name): \(refusal)")
            #expect((refusal["message"] as? String ?? "").contains(phrase), "\(name): \(refusal)")
        }

        // Every request, answered or refused, is in the audit log, which verifies.
        let audit = TestEnvironment.executable("airlock-audit")
        let records = try ProcessResult.run(audit, ["--root", root, "search", "--action", "gateway", "--json"]).checked()
        #expect(records.stdout.split(separator: "\n").count >= answers.count + refusals.count + 1, "\(records)")
        #expect(try ProcessResult.run(audit, ["--root", root, "verify"]).status == 0)
        return kept
    }
}

@Suite(.serialized) struct StructuredOutputTests {
    @Test func jsonSchemaAnswersFromLlamaServerKeepTheSchemaAndUnenforceableSchemasAreRefused() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let result = try StructuredOutputs.ask(served, models: ["claims-assistant", "claims", "legal"])
        let kept = try StructuredOutputs.expectKept(result, root: served.root)
        // llama-server's grammar keeps JSON's rules for strings, so nothing it finishes is withheld.
        let answers = result["answers"] as? [[String: Any]] ?? []
        #expect(answers.allSatisfy { $0["status"] as? Int == 200 }, "\(answers)")
        #expect(kept * 2 >= answers.count, "most answers should finish within 400 tokens: \(answers)")
    }
}
