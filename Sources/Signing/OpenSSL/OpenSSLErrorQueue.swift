internal import COpenSSL
internal import AirlockCore

/// The messages OpenSSL left on this thread's error queue, oldest first.
///
/// The queue is per thread: drain it right after the failing call, before any `await`.
struct OpenSSLErrorQueue: Error, CustomStringConvertible, Sendable {
    let messages: [String]

    /// Empties this thread's queue into a value.
    static func drain() -> OpenSSLErrorQueue {
        var messages: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return OpenSSLErrorQueue(messages: messages)
    }

    var description: String { messages.isEmpty ? "OpenSSL gave no reason" : messages.joined(separator: "; ") }
}

extension AirlockError {
    /// An error for a failed OpenSSL call, carrying what OpenSSL said about it.
    static func openSSL(_ message: String, file: String = #fileID, line: Int = #line) -> AirlockError {
        AirlockError(.crypto, message, cause: OpenSSLErrorQueue.drain(), file: file, line: line)
    }
}
