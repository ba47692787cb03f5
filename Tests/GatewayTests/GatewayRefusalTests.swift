import Foundation
import Synchronization
import TestSupport
import Testing

/// One gateway for the refusal suite (started once: installing and starting takes seconds),
/// with short timeouts so slow clients are dropped quickly.
enum RefusalGateway {
    private static let instance = Mutex<ServedBundle?>(nil)

    static let config = """
        limits:
          header_timeout_s: 2
          body_timeout_s: 2
          max_prompt_chars: 2000
        """

    static func shared() throws -> ServedBundle {
        try instance.withLock { served in
            if let served { return served }
            let started = try ServedBundle(
                clients: ["claims-app": ["claims"], "everything": ["*"], "revoked-app": ["*"]], gatewayConfig: config)
            served = started
            return started
        }
    }
}

/// A bad request: what is sent, and the status (and OpenAI error code) it must get.
struct BadRequest: CustomTestStringConvertible, Sendable {
    let name: String
    let method: String
    let path: String
    let body: String?
    /// Which client's key to send: a client name, or a literal header value with "header:".
    let key: String?
    let headers: [String: String]
    let status: Int
    let code: String?

    init(
        _ name: String, _ method: String = "POST", _ path: String = "/v1/chat/completions", body: String?, key: String? = "everything",
        headers: [String: String] = [:], status: Int, code: String? = nil
    ) {
        self.name = name
        self.method = method
        self.path = path
        self.body = body
        self.key = key
        self.headers = headers
        self.status = status
        self.code = code
    }

    var testDescription: String { name }
}

let goodMessages = #""messages":[{"role":"user","content":"Is water damage covered?"}]"#

let badRequests: [BadRequest] = [
    BadRequest("malformed JSON", body: #"{"model": "claims", "messages": [}"#, status: 400, code: "invalid_json"),
    BadRequest("truncated JSON", body: #"{"model":"claims","messages":[{"role":"user","content":"hi"}"#, status: 400, code: "invalid_json"),
    BadRequest("body is not an object", body: "[1, 2, 3]", status: 400, code: "invalid_json"),
    BadRequest("empty body", body: "", status: 400, code: "invalid_json"),
    BadRequest("duplicate member", body: #"{"model":"claims","model":"legal",\#(goodMessages)}"#, status: 400, code: "invalid_json"),
    BadRequest(
        "nesting too deep",
        body: "{\"model\":\"claims\",\"messages\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}", status: 400,
        code: "invalid_json"),
    BadRequest("model of the wrong type", body: #"{"model":5,\#(goodMessages)}"#, status: 400),
    BadRequest("messages of the wrong type", body: #"{"model":"claims","messages":"hi"}"#, status: 400),
    BadRequest("no messages", body: #"{"model":"claims","messages":[]}"#, status: 400),
    BadRequest("unknown role", body: #"{"model":"claims","messages":[{"role":"tool","content":"hi"}]}"#, status: 400),
    BadRequest(
        "image content",
        body: #"{"model":"claims","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/shadow"}}]}]}"#,
        status: 400),
    BadRequest(
        "tool calls in a message", body: #"{"model":"claims","messages":[{"role":"assistant","content":"x","tool_calls":[]}]}"#, status: 400,
        code: "unsupported_parameter"),
    BadRequest("unknown model", body: #"{"model":"gpt-4",\#(goodMessages)}"#, status: 404, code: "model_not_found"),
    BadRequest(
        "adapter not allowed for the key", body: #"{"model":"legal",\#(goodMessages)}"#, key: "claims-app", status: 404, code: "model_not_found"),
    BadRequest(
        "base model not allowed for the key", body: #"{"model":"claims-assistant",\#(goodMessages)}"#, key: "claims-app", status: 404,
        code: "model_not_found"),
    BadRequest("missing key", body: #"{"model":"claims",\#(goodMessages)}"#, key: nil, status: 401, code: "invalid_api_key"),
    BadRequest(
        "unknown key", body: #"{"model":"claims",\#(goodMessages)}"#,
        key: "header:Bearer alk_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", status: 401, code: "invalid_api_key"),
    BadRequest(
        "not a bearer key", body: #"{"model":"claims",\#(goodMessages)}"#, key: "header:Basic YWRtaW46YWRtaW4=", status: 401, code: "invalid_api_key"),
    BadRequest("negative max_tokens", body: #"{"model":"claims",\#(goodMessages),"max_tokens":-5}"#, status: 400),
    BadRequest("zero max_tokens", body: #"{"model":"claims",\#(goodMessages),"max_tokens":0}"#, status: 400),
    BadRequest("huge max_tokens", body: #"{"model":"claims",\#(goodMessages),"max_tokens":1000000000}"#, status: 400),
    BadRequest("max_tokens as a string", body: #"{"model":"claims",\#(goodMessages),"max_tokens":"16"}"#, status: 400),
    BadRequest("temperature out of range", body: #"{"model":"claims",\#(goodMessages),"temperature":7}"#, status: 400),
    BadRequest("stream as a string", body: #"{"model":"claims",\#(goodMessages),"stream":"yes"}"#, status: 400),
    BadRequest("several choices", body: #"{"model":"claims",\#(goodMessages),"n":3}"#, status: 400),
    BadRequest(
        "prompt longer than the limit", body: #"{"model":"claims","messages":[{"role":"user","content":"\#(String(repeating: "a", count: 2500))"}]}"#,
        status: 400, code: "prompt_too_long"),
    BadRequest(
        "runtime's lora field", body: #"{"model":"claims",\#(goodMessages),"lora":[{"id":1,"scale":1}]}"#, status: 400, code: "unsupported_parameter"),
    BadRequest(
        "runtime's tools", body: #"{"model":"claims",\#(goodMessages),"tools":[{"type":"function","function":{"name":"x"}}]}"#, status: 400,
        code: "unsupported_parameter"),
    BadRequest(
        "runtime's prompt cache", body: #"{"model":"claims",\#(goodMessages),"cache_prompt":true}"#, status: 400, code: "unsupported_parameter"),
    BadRequest("runtime's slot id", body: #"{"model":"claims",\#(goodMessages),"id_slot":0}"#, status: 400, code: "unsupported_parameter"),
    BadRequest(
        "runtime's grammar", body: #"{"model":"claims",\#(goodMessages),"grammar":"root ::= \"x\""}"#, status: 400, code: "unsupported_parameter"),
    BadRequest("completion prompt as tokens", "POST", "/v1/completions", body: #"{"model":"claims","prompt":[1,2,3]}"#, status: 400),
    BadRequest(
        "oversized body", body: #"{"model":"claims",\#(goodMessages),"user":"\#(String(repeating: "x", count: 1_100_000))"}"#, status: 413,
        code: "request_too_large"),
    BadRequest("wrong method", "GET", "/v1/chat/completions", body: nil, status: 405, code: "method_not_allowed"),
    BadRequest("wrong method on models", "DELETE", "/v1/models", body: nil, status: 405, code: "method_not_allowed"),
    BadRequest("runtime endpoint /props", "GET", "/props", body: nil, status: 404, code: "not_found"),
    BadRequest("runtime endpoint /slots", "POST", "/slots/0?action=save", body: #"{"filename":"x"}"#, status: 404, code: "not_found"),
    BadRequest("runtime endpoint /lora-adapters", "POST", "/lora-adapters", body: #"[{"id":0,"scale":1}]"#, status: 404, code: "not_found"),
    BadRequest("runtime endpoint /completion", "POST", "/completion", body: #"{"prompt":"hi"}"#, status: 404, code: "not_found"),
    BadRequest("path traversal", "GET", "/v1/../props", body: nil, status: 404, code: "not_found"),
]

@Suite(.serialized) struct GatewayRefusalTests {
    @Test(arguments: badRequests)
    func badRequestGetsItsStatus(_ bad: BadRequest) throws {
        let served = try RefusalGateway.shared()
        var headers = bad.headers
        var key: String?
        if let named = bad.key {
            if named.hasPrefix("header:") {
                headers["Authorization"] = String(named.dropFirst("header:".count))
            } else {
                key = served.keys[named]
            }
        }
        let response = try served.request(bad.method, bad.path, body: bad.body, key: key, headers: headers)
        #expect(response.status == bad.status, "\(bad.name): \(response)")
        if let code = bad.code { #expect(response.errorCode == code, "\(bad.name): \(response)") }
        let error = response.json["error"] as? [String: Any]
        #expect((error?["message"] as? String)?.isEmpty == false, "OpenAI error shape: \(response)")
        if bad.status == 405 { #expect(response.headers["allow"] != nil) }
        if bad.status == 401 { #expect(response.headers["www-authenticate"]?.hasPrefix("Bearer") == true) }
        // The gateway keeps serving.
        let answer = try served.request(
            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: served.keys["everything"])
        #expect(answer.status == 200, "after \(bad.name): \(answer)")
    }

    @Test func wrongSecretForAKnownKeyIsRefused() throws {
        let served = try RefusalGateway.shared()
        let real = try #require(served.keys["everything"])
        let forged = String(real.dropLast(4)) + (real.hasSuffix("AAAA") ? "BBBB" : "AAAA")
        let response = try served.request("GET", "/v1/models", key: forged)
        #expect(response.status == 401)
        #expect(response.errorCode == "invalid_api_key")
    }

    @Test func revokedKeyIsRefusedWithoutARestart() throws {
        let served = try RefusalGateway.shared()
        let key = try #require(served.keys["revoked-app"])
        #expect(try served.request("GET", "/v1/models", key: key).status == 200)
        try served.airlock(["clients", "revoke", "revoked-app"])
        // The registry re-reads clients.yaml at most every 250 ms.
        var status = 200
        let deadline = ContinuousClock.now + .seconds(3)
        while status == 200, ContinuousClock.now < deadline {
            status = try served.request("GET", "/v1/models", key: key).status
            if status == 200 { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(status == 401)
    }

    @Test func slowBodyIsDroppedWhileOthersAreServed() throws {
        let served = try RefusalGateway.shared()
        let slow = try HTTPTestConnection(port: served.port)
        try slow.send(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(served.keys["everything"]!)\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"model\":"
        )
        // Meanwhile another client is served.
        let other = try served.request(
            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: "legal", maxTokens: 4), key: served.keys["everything"])
        #expect(other.status == 200)
        // body_timeout_s is 2: the slow one is dropped soon after.
        let started = ContinuousClock.now
        #expect(slow.closedByServer(within: .seconds(6)))
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func slowHeadersAreDropped() throws {
        let served = try RefusalGateway.shared()
        let slow = try HTTPTestConnection(port: served.port)
        try slow.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        #expect(slow.closedByServer(within: .seconds(6)))
        let idle = try HTTPTestConnection(port: served.port)
        #expect(idle.closedByServer(within: .seconds(6)), "an idle connection is closed after header_timeout_s")
    }

    @Test func chunkedBodyOverTheLimitIsRefused() throws {
        let served = try RefusalGateway.shared()
        let connection = try HTTPTestConnection(port: served.port)
        try connection.send(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(served.keys["everything"]!)\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        let piece = String(repeating: "x", count: 65536)
        var refused: HTTPTestResponse?
        for _ in 0..<40 {
            do {
                try connection.send(String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n")
            } catch {
                break
            }
        }
        refused = try? connection.readResponse()
        #expect(refused?.status == 413, "\(String(describing: refused))")
    }

    @Test func clientDisconnectingMidStreamIsRecordedAndOthersAreServed() throws {
        let served = try RefusalGateway.shared()
        let connection = try HTTPTestConnection(port: served.port)
        try connection.sendRequest(
            "POST", "/v1/completions", body: #"{"model":"legal","prompt":"Terms:","max_tokens":1500,"temperature":0,"stream":true}"#,
            key: served.keys["everything"])
        let head = try connection.readHead()
        #expect(head.status == 200)
        _ = try connection.nextChunk()
        connection.close()
        let next = try served.request(
            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: served.keys["everything"])
        #expect(next.status == 200)
        // The dropped stream is in the audit log as a request the client abandoned (499).
        var found = false
        let deadline = ContinuousClock.now + .seconds(5)
        while !found, ContinuousClock.now < deadline {
            let records = try ProcessResult.run(
                TestEnvironment.executable("airlock-audit"), ["--root", served.root, "search", "--action", "gateway.request", "--json"]
            ).checked().stdout
            found = records.contains(#""status":499"#)
            if !found { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(found)
    }
}

/// What an investigator needs of each request (issue 16, point 4): the id the client sent (or
/// the gateway made) comes back in `X-Request-Id` and is in the record with the client's source
/// address and port; `airlock-audit search` finds the record by either.
@Suite struct RequestIdentityTests {
    static func records(_ served: ServedBundle, _ filters: [String]) throws -> [[String: Any]] {
        let out = try ProcessResult.run(
            TestEnvironment.executable("airlock-audit"), ["--root", served.root, "search", "--json"] + filters
        ).checked().stdout
        return try out.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test func theClientsRequestIDAndSourceRoundTripIntoTheRecord() throws {
        let served = try RefusalGateway.shared()
        let key = try #require(served.keys["claims-app"])
        let id = "case-4711/7f3a:b=+@x_y.z-\(UUID().uuidString)"
        let connection = try HTTPTestConnection(port: served.port)
        try connection.sendRequest(
            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key, headers: ["X-Request-Id": id])
        let response = try connection.readResponse()
        #expect(response.status == 200, "\(response)")
        #expect(response.headers["x-request-id"] == id)

        let found = try Self.records(served, ["--request-id", id])
        #expect(found.count == 1, "\(found)")
        let request = try #require(found.first?["request"] as? [String: Any])
        #expect(request["id"] as? String == id)
        #expect(request["source"] as? String == "127.0.0.1:\(connection.localPort)")
        #expect(request["status"] as? Int == 200)
        // The digest of the answer as sent: a disputed answer can be checked against it.
        let answer = try #require(request["answer_sha256"] as? String)
        #expect(answer.count == 64)
        let bySource = try Self.records(served, ["--source", "127.0.0.1:\(connection.localPort)"])
        #expect(bySource.contains { ($0["request"] as? [String: Any])?["id"] as? String == id })
        #expect(try Self.records(served, ["--source", "127.0.0.1"]).count >= 1)
    }

    @Test func withoutAnIDTheGatewayMakesOneAndSaysIt() throws {
        let served = try RefusalGateway.shared()
        let key = try #require(served.keys["claims-app"])
        var ids: [String] = []
        for _ in 0..<2 {
            let response = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
            #expect(response.status == 200)
            let id = try #require(response.headers["x-request-id"])
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit), "\(id)")
            ids.append(id)
            let found = try Self.records(served, ["--request-id", id])
            #expect(found.count == 1 && (found.first?["request"] as? [String: Any])?["id"] as? String == id)
        }
        #expect(ids[0] != ids[1])
        // Refusals carry one too, and are recorded under it.
        let refused = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims"), key: "sk-unknown")
        #expect(refused.status == 401)
        let id = try #require(refused.headers["x-request-id"])
        #expect(try Self.records(served, ["--request-id", id]).first?["action"] as? String == "gateway.auth_failed")
    }

    @Test(arguments: [
        String(repeating: "a", count: 129), "two words", "tab\there", "quote\"d", "ünïcode", "semi;colon", "<script>",
    ])
    func anUnacceptableRequestIDIsRefusedNamingTheRule(_ bad: String) throws {
        let served = try RefusalGateway.shared()
        let key = try #require(served.keys["claims-app"])
        let connection = try HTTPTestConnection(port: served.port)
        try connection.sendRequest(
            "POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key, headers: ["X-Request-Id": bad])
        let response = try connection.readResponse()
        #expect(response.status == 400, "\(response)")
        #expect(response.errorCode == "invalid_request_id")
        let given = try #require(response.headers["x-request-id"])
        #expect(given != bad && given.count == 32, "the gateway's own id, never the client's text back")
        let found = try Self.records(served, ["--request-id", given])
        #expect(found.count == 1 && found.first?["outcome"] as? String == "refused", "\(found)")
    }

    @Test func twoRequestIDsAreRefused() throws {
        let served = try RefusalGateway.shared()
        let key = try #require(served.keys["claims-app"])
        let connection = try HTTPTestConnection(port: served.port)
        let body = ServedBundle.chat(model: "claims", maxTokens: 4)
        try connection.send(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer \(key)\r\nX-Request-Id: one\r\n"
                + "X-Request-Id: two\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let response = try connection.readResponse()
        #expect(response.status == 400 && response.errorCode == "invalid_request_id", "\(response)")
    }
}
