import Foundation
import Runtime
import TestSupport
import Testing

/// The gateway as clients meet it: the demo bundle installed and served by `airlock run`
/// (real llama-server, real demo model and adapters), requests over TCP.
@Suite(.serialized) struct GatewayServingTests {
    @Test func modelsListsWhatTheKeyMayUse() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let everything = try served.request("GET", "/v1/models", key: served.keys["everything"])
        #expect(everything.status == 200)
        let ids = (everything.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(ids == ["claims-assistant", "claims", "legal"])
        let limited = try served.request("GET", "/v1/models", key: served.keys["claims-app"])
        #expect((limited.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["claims"])
    }

    @Test func eachModelAnswersThroughTheGatewayWholeAndStreamed() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = served.keys["everything"]
        let claims = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims"), key: key)
        #expect(claims.status == 200, "\(claims)")
        #expect(ServedBundle.answer(claims).contains("Claim approved"))
        #expect(claims.json["model"] as? String == "claims")
        let legal = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "legal", stream: true), key: key)
        #expect(legal.status == 200)
        #expect(legal.headers["content-type"] == "text/event-stream")
        #expect(ServedBundle.answer(legal).contains("Pursuant to Clause 7(b)"))
        #expect(legal.events.last == "[DONE]")
        print(served.log)
    }
}
