#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One HTTP/1.1 response as a test reads it.
public struct HTTPTestResponse: Sendable, CustomStringConvertible {
    public let status: Int
    /// Header names lower-cased.
    public let headers: [String: String]
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as a JSON object (empty when it is not one).
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }
    /// The `error.code` of an OpenAI error body.
    public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    /// The `data:` payloads of a server-sent event stream.
    public var events: [String] {
        text.components(separatedBy: "\n\n").compactMap { event in
            event.hasPrefix("data: ") ? String(event.dropFirst(6)) : nil
        }
    }
    public var description: String { "HTTP \(status) \(headers) \(text.prefix(500))" }
}

public struct HTTPTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A blocking HTTP/1.1 client over TCP with full control of the bytes: tests send malformed,
/// truncated and slow requests, read streams piece by piece and hang up mid-answer.
public final class HTTPTestConnection {
    public let descriptor: Int32
    private var buffer: [UInt8] = []
    public var timeout: Duration

    public init(port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(30)) throws {
        self.timeout = timeout
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HTTPTestError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw HTTPTestError("connect to \(host):\(port): errno \(code)")
        }
    }

    deinit { Glibc.close(descriptor) }

    /// This end's port (what the server sees as the client's).
    public var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Closes the connection at once (a client hanging up).
    public func close() { shutdown(descriptor, Int32(SHUT_RDWR)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw HTTPTestError("send: errno \(errno)") }
            offset += written
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends a whole request.
    public func sendRequest(
        _ method: String, _ path: String, body: String? = nil, key: String? = nil, headers: [String: String] = [:]
    ) throws {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: gateway\r\n"
        if let key { head += "Authorization: Bearer \(key)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body {
            if headers["Content-Type"] == nil { head += "Content-Type: application/json\r\n" }
            head += "Content-Length: \(body.utf8.count)\r\n"
        }
        try send(head + "\r\n" + (body ?? ""))
    }

    /// Waits for more bytes; false when the peer closed the connection.
    private func fill() throws -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&poller, 1, milliseconds)
        guard ready > 0 else { throw HTTPTestError("no data within \(timeout)") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(descriptor, &chunk, chunk.count, 0)
        if count <= 0 { return false }
        buffer += chunk[0..<count]
        return true
    }

    private func line() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<index])
                buffer.removeFirst(index + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { throw HTTPTestError("connection closed") }
        }
    }

    private func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw HTTPTestError("connection closed") }
        }
        let result = Array(buffer[..<count])
        buffer.removeFirst(count)
        return result
    }

    /// Reads a response's status line and headers.
    public func readHead() throws -> (status: Int, headers: [String: String]) {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw HTTPTestError("bad status line '\(statusLine)'") }
        var headers: [String: String] = [:]
        while true {
            let header = try line()
            if header.isEmpty { break }
            guard let colon = header.firstIndex(of: ":") else { continue }
            headers[header[..<colon].lowercased()] = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    /// The next piece of a chunked body; nil at its end.
    public func nextChunk() throws -> [UInt8]? {
        let sizeLine = try line()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw HTTPTestError("bad chunk size '\(sizeLine)'")
        }
        if size == 0 {
            _ = try line()
            return nil
        }
        let chunk = try bytes(size)
        _ = try line()
        return chunk
    }

    /// Reads one whole response.
    public func readResponse() throws -> HTTPTestResponse {
        let (status, headers) = try readHead()
        var body: [UInt8] = []
        if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try bytes(length)
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while let chunk = try nextChunk() { body += chunk }
        }
        return HTTPTestResponse(status: status, headers: headers, body: body)
    }

    /// Whether the server closes the connection within `time` (reads and drops any bytes).
    public func closedByServer(within time: Duration) -> Bool {
        let saved = timeout
        timeout = time
        defer { timeout = saved }
        do {
            while try fill() { buffer.removeAll() }
            return true
        } catch {
            return false
        }
    }

    /// One request on a fresh connection.
    public static func request(
        port: Int, _ method: String, _ path: String, body: String? = nil, key: String? = nil, headers: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) throws -> HTTPTestResponse {
        let connection = try HTTPTestConnection(port: port, timeout: timeout)
        try connection.sendRequest(method, path, body: body, key: key, headers: headers)
        return try connection.readResponse()
    }
}
