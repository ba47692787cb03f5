import AirlockCore
import Foundation
import Gateway
import TestSupport
import Testing

@Suite struct GatewayLimitsTests {
    func load(_ text: String) throws -> GatewayLimits {
        let folder = try TemporaryDirectory("airlock-limits")
        defer { folder.remove() }
        try text.write(toFile: folder.file("gateway.yaml"), atomically: true, encoding: .utf8)
        return try GatewayLimits.load(path: folder.file("gateway.yaml"))
    }

    func refusal(_ text: String) -> String {
        do {
            _ = try load(text)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func readsTheLimitsAndKeepsDefaultsForTheRest() throws {
        let limits = try load("limits:\n  max_tokens: 512\n  request_deadline_s: 20\n")
        #expect(limits.maxTokens == 512 && limits.requestDeadline == .seconds(20))
        #expect(limits.queueLength == GatewayLimits().queueLength)
        #expect(try load("") == GatewayLimits())
        #expect(try GatewayLimits.load(path: "/nonexistent/gateway.yaml") == GatewayLimits())
    }

    @Test func refusesWhatItCannotUseNamingTheKey() {
        #expect(refusal("limits:\n  max_tokenz: 5\n").contains("unknown key 'max_tokenz' in 'limits' (did you mean 'max_tokens'?"))
        #expect(refusal("limit:\n  max_tokens: 5\n").contains("unknown key 'limit' at the top level (did you mean 'limits'?"))
        #expect(refusal("limits:\n  max_tokens: 0\n").contains("limit 'max_tokens' must be positive"))
        #expect(refusal("limits:\n  max_tokens: lots\n").contains("'limits.max_tokens' must be a whole number, not 'lots'"))
        #expect(refusal("limits:\n  max_tokens: 8\n  default_max_tokens: 9\n").contains("default_max_tokens (9) is above max_tokens (8)"))
        #expect(refusal("limits: [1]\n").contains("'limits' must be a mapping"))
    }
}
