public import AirlockCore

/// The OpenAI shape of an answer or stream chunk, the same whichever engine answered: only the
/// fields the OpenAI API defines for chat and text completions, in the engine's order, with the
/// model id the client named. What an engine adds of its own (llama-server's `timings` and
/// `system_fingerprint` build id, vLLM's `stop_reason`, `token_ids`, `prompt_logprobs`,
/// `kv_transfer_params`, `metrics`, ...) and fields it sends as null are left out, so a client
/// cannot tell llama-server from vLLM, nor learn either's version.
public enum OpenAIAnswerShape {
    static let top: Set<String> = ["id", "object", "created", "model", "choices", "usage"]
    static let choice: Set<String> = ["index", "message", "delta", "text", "logprobs", "finish_reason"]
    static let message: Set<String> = ["role", "content", "tool_calls"]
    static let usage: Set<String> = ["prompt_tokens", "completion_tokens", "total_tokens"]

    public static func normalized(_ answer: JSONValue, model: String) -> JSONValue {
        guard case .object(let members) = answer else { return answer }
        return .object(
            members.compactMap { key, member -> (String, JSONValue)? in
                guard top.contains(key), member != .null else { return nil }
                switch key {
                case "model": return (key, .string(model))
                case "usage": return (key, keeping(member, usage))
                case "choices":
                    guard case .array(let choices) = member else { return (key, member) }
                    return (key, .array(choices.map(normalizedChoice)))
                default: return (key, member)
                }
            })
    }

    static func normalizedChoice(_ value: JSONValue) -> JSONValue {
        guard case .object(let members) = value else { return value }
        return .object(
            members.compactMap { key, member -> (String, JSONValue)? in
                // A stream chunk's `finish_reason` is null until the last: clients expect the key.
                guard choice.contains(key), member != .null || key == "finish_reason" else { return nil }
                if key == "message" || key == "delta" { return (key, keeping(member, message)) }
                return (key, member)
            })
    }

    static func keeping(_ value: JSONValue, _ names: Set<String>) -> JSONValue {
        guard case .object(let members) = value else { return value }
        return .object(members.filter { names.contains($0.0) && $0.1 != .null })
    }
}
