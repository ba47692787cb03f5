public import AirlockCore

/// One HTTP/1.1 response as read off the wire.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A small blocking HTTP/1.1 client over a Unix stream socket: one request per connection
/// (`Connection: close`), for the runtime's health checks and for tests. The gateway's
/// forwarding path uses its own streaming client.
public struct UnixSocketHTTPClient: Sendable {
    public let socketPath: String
    public var timeout: Duration

    public init(socketPath: String, timeout: Duration = .seconds(30)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// Sends one request and reads the whole response.
    public func send(
        _ method: String, _ path: String, body: [UInt8]? = nil,
        headers: [String: String] = [:]
    ) throws(AirlockError) -> HTTPResponse {
        let descriptor = try connect()
        defer { close(descriptor) }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request += "\(name): \(value)\r\n" }
        if let body {
            if headers.keys.contains(where: { $0.lowercased() == "content-type" }) == false {
                request += "Content-Type: application/json\r\n"
            }
            request += "Content-Length: \(body.count)\r\n"
        }
        request += "\r\n"
        try writeAll(descriptor, Array(request.utf8) + (body ?? []))
        return try Self.parse(readAll(descriptor))
    }

    /// `send` with a JSON body given as text.
    public func post(_ path: String, json: String) throws(AirlockError) -> HTTPResponse {
        try send("POST", path, body: Array(json.utf8))
    }

    public func get(_ path: String) throws(AirlockError) -> HTTPResponse { try send("GET", path) }

    private func connect() throws(AirlockError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw AirlockError(.invalidInput, "socket path '\(socketPath)' is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw AirlockError.system("cannot create a Unix socket", errno: errno) }
        var interval = timeval(
            tv_sec: Int(timeout.components.seconds),
            tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            throw AirlockError(.io, "cannot connect to \(socketPath)", cause: Errno(code))
        }
        return descriptor
    }

    private func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) throws(AirlockError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw AirlockError(.io, "cannot send to \(socketPath)", cause: Errno(errno))
            }
            offset += written
        }
    }

    private func readAll(_ descriptor: Int32) throws(AirlockError) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return received }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw AirlockError(.timeout, "no answer from \(socketPath) within \(timeout)")
                }
                throw AirlockError(.io, "cannot read from \(socketPath)", cause: Errno(errno))
            }
            received.append(contentsOf: buffer[..<count])
        }
    }

    /// Parses a complete HTTP/1.1 response (Content-Length, chunked, or read to close).
    static func parse(_ bytes: [UInt8]) throws(AirlockError) -> HTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headerEnd = bytes.firstRange(of: separator) else {
            throw AirlockError(.io, "malformed HTTP response: no end of headers in \(bytes.count) bytes")
        }
        let head = String(decoding: bytes[..<headerEnd.lowerBound], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw AirlockError(.io, "malformed HTTP status line")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
        }
        var body = Array(bytes[headerEnd.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = try decodeChunked(body)
        } else if let length = headers["content-length"].flatMap(Int.init), length <= body.count {
            body = Array(body.prefix(length))
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    private static func decodeChunked(_ bytes: [UInt8]) throws(AirlockError) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { break }
            let sizeText =
                String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
                .split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: " "), radix: 16) else {
                throw AirlockError(.io, "malformed chunk size '\(sizeText)'")
            }
            if size == 0 { return output }
            let start = lineEnd.upperBound
            guard start + size <= bytes.count else { throw AirlockError(.io, "truncated chunked body") }
            output.append(contentsOf: bytes[start..<start + size])
            index = start + size + 2
        }
        throw AirlockError(.io, "chunked body ended without its last chunk")
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice.removeFirst() }
        while let last = slice.last, characters.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
