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

/// HTTP/1.1 to `llama-server` over its Unix socket, streaming: one connection per request
/// (`Connection: close`), so that closing it, when the client goes away or the deadline
/// passes, is how the runtime learns to stop generating and free its slot.
public struct RuntimeClient: Sendable {
    public let socketPath: String
    let group: any EventLoopGroup

    public init(socketPath: String, group: (any EventLoopGroup)? = nil) {
        self.socketPath = socketPath
        self.group = group ?? MultiThreadedEventLoopGroup.singleton
    }

    /// Sends one request; `onHead` receives the status, `onBody` each piece of the body as it
    /// arrives. When either throws, or the task is cancelled, the connection is closed at once.
    /// `eventLoop` (the client connection's, for a forwarded request) carries the connection;
    /// nil takes one from the group.
    public func send(
        method: String, path: String, body: [UInt8]?, on eventLoop: (any EventLoop)? = nil,
        onHead: (Int) async throws -> Void,
        onBody: (ByteBuffer) async throws -> Void
    ) async throws {
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: eventLoop ?? group.next())
                .connectTimeout(.seconds(2))
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw RuntimeCallError.unreachable("\(error)")
        }
        let underlying = channel.channel
        try await withTaskCancellationHandler {
            try await channel.executeThenClose { inbound, outbound in
                var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
                head.headers.add(name: "Host", value: "localhost")
                head.headers.add(name: "Connection", value: "close")
                if let body {
                    head.headers.add(name: "Content-Type", value: "application/json")
                    head.headers.add(name: "Content-Length", value: String(body.count))
                }
                var parts: [HTTPClientRequestPart] = [.head(head)]
                if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                parts.append(.end(nil))
                do {
                    // One batch: head and body leave in one write.
                    try await outbound.write(contentsOf: parts)
                } catch {
                    throw RuntimeCallError.unreachable("writing the request: \(error)")
                }
                var sawHead = false
                do {
                    for try await part in inbound {
                        switch part {
                        case .head(let response):
                            sawHead = true
                            try await onHead(Int(response.status.code))
                        case .body(let buffer):
                            try await onBody(buffer)
                        case .end:
                            return
                        }
                    }
                } catch let error as NIOCore.ChannelError {
                    throw sawHead ? RuntimeCallError.brokeOff("\(error)") : RuntimeCallError.unreachable("\(error)")
                } catch let error as NIOCore.IOError {
                    throw sawHead ? RuntimeCallError.brokeOff("\(error)") : RuntimeCallError.unreachable("\(error)")
                }
                throw sawHead ? RuntimeCallError.brokeOff("the connection closed before the answer ended")
                    : RuntimeCallError.unreachable("the connection closed without an answer")
            }
        } onCancel: {
            underlying.close(promise: nil)
        }
    }

    /// One whole answer (status and body), for small calls such as `/health`.
    public func fetch(method: String = "GET", path: String, body: [UInt8]? = nil, limit: Int = 1 << 20) async throws -> (status: Int, body: [UInt8]) {
        var status = 0
        var collected: [UInt8] = []
        try await send(
            method: method, path: path, body: body,
            onHead: { code in status = code },
            onBody: { buffer in
                guard collected.count + buffer.readableBytes <= limit else {
                    throw RuntimeCallError.brokeOff("the answer is larger than \(limit) bytes")
                }
                collected += buffer.readableBytesView
            })
        return (status, collected)
    }
}
