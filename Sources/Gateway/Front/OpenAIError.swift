internal import AirlockCore
internal import Foundation
internal import Runtime

/// An error answered to a client in OpenAI's shape:
/// `{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}`, with the HTTP status
/// that goes with it. Messages name what is wrong and never echo secrets.
public struct OpenAIError: Error, Sendable, Equatable {
    public var status: Int
    public var type: String
    public var code: String
    public var message: String
    public var param: String?
    /// Extra response headers (`Retry-After`, `WWW-Authenticate`, `Allow`).
    public var headers: [(String, String)]

    public init(status: Int, type: String, code: String, message: String, param: String? = nil, headers: [(String, String)] = []) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers
    }

    public static func == (lhs: OpenAIError, rhs: OpenAIError) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message && lhs.param == rhs.param
    }

    /// The JSON body.
    public var body: [UInt8] {
        var error: [String: Any] = ["message": message, "type": type, "code": code]
        error["param"] = param ?? NSNull()
        let data = (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
        return Array(data)
    }

    // MARK: The errors the gateway answers with

    public static func invalid(_ message: String, param: String? = nil, code: String = "invalid_request") -> OpenAIError {
        OpenAIError(status: 400, type: "invalid_request_error", code: code, message: message, param: param)
    }

    public static func unauthorized(_ message: String) -> OpenAIError {
        OpenAIError(
            status: 401, type: "authentication_error", code: "invalid_api_key", message: message,
            headers: [("WWW-Authenticate", "Bearer realm=\"airlock\"")])
    }

    /// A model that does not exist here and one this key may not use get the same answer, so a
    /// key learns nothing about models beyond its own (`GET /v1/models` lists those); the audit
    /// record tells them apart. The echoed name is cut to 64 characters.
    public static func modelNotAvailable(_ model: String) -> OpenAIError {
        let shown = model.count > 64 ? String(model.prefix(64)) + "…" : model
        return OpenAIError(
            status: 404, type: "invalid_request_error", code: "model_not_found",
            message: "the model '\(shown)' does not exist here or this API key may not use it (GET /v1/models lists the models it may use)",
            param: "model")
    }

    /// A key that is right but lacks the right to this endpoint (never used for models: see
    /// `modelNotAvailable`).
    public static func forbidden(_ message: String) -> OpenAIError {
        OpenAIError(status: 403, type: "permission_error", code: "forbidden", message: message)
    }

    public static func notFound(path: String) -> OpenAIError {
        OpenAIError(status: 404, type: "invalid_request_error", code: "not_found", message: "no such endpoint: \(path)")
    }

    public static func methodNotAllowed(_ method: String, path: String, allowed: String) -> OpenAIError {
        OpenAIError(
            status: 405, type: "invalid_request_error", code: "method_not_allowed",
            message: "\(method) is not allowed on \(path) (use \(allowed))", headers: [("Allow", allowed)])
    }

    public static func requestTimeout(_ message: String) -> OpenAIError {
        OpenAIError(status: 408, type: "invalid_request_error", code: "request_timeout", message: message)
    }

    public static func tooLarge(limit: Int) -> OpenAIError {
        OpenAIError(
            status: 413, type: "invalid_request_error", code: "request_too_large",
            message: "the request body is larger than the limit of \(limit) bytes")
    }

    public static func busy(_ message: String, retryAfter: Int) -> OpenAIError {
        OpenAIError(
            status: 429, type: "rate_limit_error", code: "rate_limit_exceeded", message: message,
            headers: [("Retry-After", String(retryAfter))])
    }

    public static func unavailable(_ message: String, code: String = "service_unavailable", retryAfter: Int? = 1) -> OpenAIError {
        OpenAIError(
            status: 503, type: "server_error", code: code, message: message,
            headers: retryAfter.map { [("Retry-After", String($0))] } ?? [])
    }

    /// The engine's finished answer does not keep the `response_format` the client asked for
    /// (the gateway checks it before sending: `ResponseSchema`). Nothing of it is sent.
    public static func answerNotValid(_ problem: String) -> OpenAIError {
        OpenAIError(
            status: 502, type: "server_error", code: "answer_not_valid",
            message: "the engine's answer does not keep the requested response_format (\(problem)); it was not sent, retry or change the request")
    }

    public static func deadline(_ message: String) -> OpenAIError {
        OpenAIError(status: 504, type: "server_error", code: "timeout", message: message)
    }

    /// The answer while the audit log cannot be written: no request is served without its record.
    static var auditUnavailable: OpenAIError {
        .unavailable(
            "the audit log cannot be written, so no request is served until it can (see 'airlock-audit verify' and the gateway's log)",
            code: "audit_unavailable", retryAfter: 5)
    }
}

extension OpenAIError {
    /// The client-facing error for a runtime's non-200 answer: its 4xx are the request's fault
    /// (400 with the runtime's message, e.g. a prompt longer than the context), anything else
    /// is the runtime failing (503).
    static func fromRuntime(status: Int, body: [UInt8]) -> OpenAIError {
        let message =
            (try? JSONValue.parse(body))?["error"]?["message"]?.stringValue
            ?? String(decoding: body.prefix(300), as: UTF8.self)
        if (400..<500).contains(status) {
            return .invalid("the runtime refused the request: \(message)", code: "runtime_rejected")
        }
        return .unavailable("the runtime failed (HTTP \(status)): \(message)", code: "runtime_error")
    }
}
