public import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// Why a call to the runtime failed: it could not be reached at all (down, restarting: the
/// gateway answers 503 and waits for health), or it broke off mid-answer.
public enum RuntimeCallError: Error, Sendable, CustomStringConvertible {
    case unreachable(String)
    case brokeOff(String)

    public var description: String {
        switch self {
        case .unreachable(let reason): "the runtime cannot be reached (\(reason))"
        case .brokeOff(let reason): "the runtime broke off its answer (\(reason))"
        }
    }
}

/// HTTP/1.1 to `llama-server` over its Unix socket, streaming. Requests reuse idle keep-alive
/// connections on their event loop (`RuntimeConnectionPool`); a connection is closed at once
/// when the client goes away, the deadline passes or anything else cuts an answer short,
/// which is how the runtime learns to stop generating and free its slot.
public struct RuntimeClient: Sendable {
    public let socketPath: String
    let group: any EventLoopGroup
    let pool: RuntimeConnectionPool

    /// - Parameters:
    ///   - connectionLimit: the requests the runtime takes at once (its slots plus the backlog
    ///     the gateway lets wait inside it): the most connections kept open for them.
    ///   - keepIdleFor: how long an idle connection is kept for the next request (below the
    ///     runtime's own keep-alive timeout, llama-server's 5 s).
    ///   - connectTimeout: how long opening a connection may take before the runtime counts as
    ///     unreachable (a Unix socket accepts at once when anything listens).
    public init(
        socketPath: String, group: (any EventLoopGroup)? = nil, connectionLimit: Int = 8,
        keepIdleFor: TimeAmount = .seconds(2), connectTimeout: TimeAmount = .seconds(2)
    ) {
        self.socketPath = socketPath
        self.group = group ?? MultiThreadedEventLoopGroup.singleton
        self.pool = RuntimeConnectionPool(
            socketPath: socketPath, limit: connectionLimit, maxIdleAge: keepIdleFor, connectTimeout: connectTimeout)
    }

    /// Sends one request; `onHead` receives the status, `onBody` each piece of the body as it
    /// arrives. When either throws, or the task is cancelled, the connection is closed at once.
    /// `eventLoop` (the client connection's, for a forwarded request) carries the connection;
    /// nil takes one from the group. `keepAlive` false asks the runtime to close the connection
    /// after this answer (`Connection: close`); it may still go out on a kept connection.
    ///
    /// On an idle connection taken from the pool, a failure before any byte of the answer
    /// (the runtime closed it while idle, or is restarting) sends the request once more on a
    /// new connection: the runtime did not answer it, so nothing of it reached the caller.
    public func send(
        method: String, path: String, body: [UInt8]?, on eventLoop: (any EventLoop)? = nil, keepAlive: Bool = true,
        onHead: (Int) async throws -> Void,
        onBody: (ByteBuffer) async throws -> Void
    ) async throws {
        let loop = eventLoop ?? group.next()
        let request = Self.request(method: method, path: path, body: body, keepAlive: keepAlive)
        if let idle = pool.take(on: loop) {
            do {
                try await carry(request, on: idle, onHead: onHead, onBody: onBody)
                return
            } catch let failure as RuntimeConnectionFailure where !failure.bytesArrived && !Task.isCancelled {
                // Sent again below, on a new connection.
            } catch let failure as RuntimeConnectionFailure {
                throw failure.callError
            }
        }
        let connection = try await pool.open(on: loop)
        do {
            try await carry(request, on: connection, onHead: onHead, onBody: onBody)
        } catch let failure as RuntimeConnectionFailure {
            throw failure.callError
        }
    }

    /// Closes the kept connections idle for longer than a request would use them (the gateway
    /// calls it every second).
    public func closeStaleConnections() {
        pool.closeStale()
    }

    /// One whole answer (status and body), for small calls such as `/health`. Always on a new
    /// connection, closed after the answer: a health check then also proves that the runtime
    /// accepts connections, and it never takes a connection kept for requests.
    public func fetch(method: String = "GET", path: String, body: [UInt8]? = nil, limit: Int = 1 << 20) async throws -> (status: Int, body: [UInt8]) {
        var status = 0
        var collected: [UInt8] = []
        let connection = try await RuntimeConnection.connect(to: socketPath, on: group.next(), timeout: pool.connectTimeout)
        defer { connection.close() }
        do {
            _ = try await exchange(
                Self.request(method: method, path: path, body: body, keepAlive: false), on: connection,
                onHead: { code in status = code },
                onBody: { buffer in
                    guard collected.count + buffer.readableBytes <= limit else {
                        throw RuntimeCallError.brokeOff("the answer is larger than \(limit) bytes")
                    }
                    collected += buffer.readableBytesView
                })
        } catch let failure as RuntimeConnectionFailure {
            throw failure.callError
        }
        return (status, collected)
    }

    /// The request's parts: head, body, end (written in one batch).
    static func request(method: String, path: String, body: [UInt8]?, keepAlive: Bool) -> [HTTPClientRequestPart] {
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: "localhost")
        if !keepAlive { head.headers.add(name: "Connection", value: "close") }
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.count))
        }
        var parts: [HTTPClientRequestPart] = [.head(head)]
        if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        return parts
    }

    /// `exchange` on a pooled connection, which then goes back to the pool only if its answer
    /// ended cleanly (not cancelled, nothing thrown, still open, no `Connection: close` from
    /// the runtime); every other way out closes it.
    private func carry(
        _ request: [HTTPClientRequestPart], on connection: RuntimeConnection,
        onHead: (Int) async throws -> Void, onBody: (ByteBuffer) async throws -> Void
    ) async throws {
        let reusable: Bool
        do {
            reusable = try await exchange(request, on: connection, onHead: onHead, onBody: onBody)
        } catch {
            connection.close()
            throw error
        }
        // After the cancellation handler's scope: once outside it, a cancellation can no longer
        // close this connection while another request uses it.
        if reusable, !Task.isCancelled { pool.giveBack(connection) } else { connection.close() }
    }

    /// Sends `request` on `connection` and passes its answer on; true when the answer ended
    /// and the runtime keeps the connection open. Cancellation closes the connection at once.
    /// Throws what `onHead`/`onBody` throw, or a `RuntimeConnectionFailure`.
    private func exchange(
        _ request: [HTTPClientRequestPart], on connection: RuntimeConnection,
        onHead: (Int) async throws -> Void, onBody: (ByteBuffer) async throws -> Void
    ) async throws -> Bool {
        try await withTaskCancellationHandler {
            var keepAlive = false
            var sawHead = false
            for try await part in connection.start(request) {
                switch part {
                case .head(let response):
                    sawHead = true
                    keepAlive = response.isKeepAlive
                    try await onHead(Int(response.status.code))
                case .body(let buffer):
                    try await onBody(buffer)
                case .end:
                    return keepAlive
                }
            }
            // The stream ends without `.end` only when the task was cancelled.
            throw RuntimeConnectionFailure(cause: nil, bytesArrived: sawHead, headArrived: sawHead)
        } onCancel: {
            connection.close()
        }
    }
}
