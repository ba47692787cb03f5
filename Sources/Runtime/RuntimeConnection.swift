internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// One HTTP/1.1 connection to the runtime's Unix socket that carries one request at a time,
/// kept open between requests when the runtime allows it (`RuntimeConnectionPool`).
///
/// A plain NIO channel rather than an `NIOAsyncChannel`: the latter's inbound sequence can be
/// iterated only once, so it cannot hand a second request its answer. `RuntimeResponseRelay`
/// passes each answer to the request in progress instead, through a stream made per request.
final class RuntimeConnection: Sendable {
    let channel: any Channel
    private let relay: NIOLoopBound<RuntimeResponseRelay>

    private init(channel: any Channel, relay: NIOLoopBound<RuntimeResponseRelay>) {
        self.channel = channel
        self.relay = relay
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Connects on `eventLoop`; throws `RuntimeCallError.unreachable` when the socket does not
    /// accept within `timeout` (the runtime is down or restarting).
    static func connect(
        to socketPath: String, on eventLoop: any EventLoop, timeout: TimeAmount
    ) async throws(RuntimeCallError) -> RuntimeConnection {
        do {
            return try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeout)
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let relay = RuntimeResponseRelay()
                        try channel.pipeline.syncOperations.addHandler(RuntimeBytesWatch(relay: relay))
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(relay)
                        return RuntimeConnection(channel: channel, relay: NIOLoopBound(relay, eventLoop: channel.eventLoop))
                    }
                }
        } catch {
            throw .unreachable("\(error)")
        }
    }

    /// Writes `request` (head, body and end in one batch: one flush, one `writev`) and returns
    /// its answer, part by part as it arrives. The stream ends after `.end`, or throws a
    /// `RuntimeConnectionFailure` when the connection fails or closes first.
    ///
    /// Its buffer is unbounded (the channel keeps reading while the request's task is busy
    /// passing earlier parts on): an answer is bounded by the gateway's `max_tokens` cap, and
    /// a whole one by `Exchange.answerLimit`, so what can pile up is bounded too.
    func start(_ request: [HTTPClientRequestPart]) -> AsyncThrowingStream<HTTPClientResponsePart, any Error> {
        let (answer, continuation) = AsyncThrowingStream.makeStream(of: HTTPClientResponsePart.self)
        let channel = self.channel
        let relay = self.relay
        let send: @Sendable () -> Void = {
            relay.value.begin(continuation)
            for part in request.dropLast() { channel.write(part, promise: nil) }
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { error in relay.value.writeFailed(error) }
            channel.writeAndFlush(request[request.count - 1], promise: written)
        }
        // A forwarded request's task runs on this loop already (`EventLoopTaskExecutor`).
        if channel.eventLoop.inEventLoop { send() } else { channel.eventLoop.execute(send) }
        return answer
    }

    /// Closes the connection at once: the runtime stops generating for it and frees its slot.
    func close() {
        channel.close(promise: nil)
    }
}

/// Why a connection ended a request's answer before its end. `cause` is the channel's error
/// (nil: the connection closed); `bytesArrived` whether any byte of this request's answer came
/// in (if none did and the connection had carried an earlier request, the runtime most likely
/// closed it while idle without reading this one, which can then be sent again).
struct RuntimeConnectionFailure: Error {
    var cause: (any Error)?
    var writing = false
    var bytesArrived: Bool
    var headArrived: Bool

    /// The failure as the gateway tells it apart: nothing of the answer came (`unreachable`, so
    /// the runtime is marked down until its health check answers), or it stopped part way.
    var callError: RuntimeCallError {
        let reason = cause.map { "\($0)" }
        if writing { return .unreachable("writing the request: \(reason ?? "the connection closed")") }
        if let cause, !(cause is ChannelError || cause is IOError) {
            // Not a connection problem but an answer that is not HTTP (as before the pool).
            return .brokeOff("\(cause)")
        }
        return headArrived
            ? .brokeOff(reason ?? "the connection closed before the answer ended")
            : .unreachable(reason ?? "the connection closed without an answer")
    }
}

/// Hands the answer arriving on a runtime connection to the request in progress (the stream
/// `RuntimeConnection.start` returned). Runs on the channel's event loop only.
final class RuntimeResponseRelay: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var answer: AsyncThrowingStream<HTTPClientResponsePart, any Error>.Continuation?
    /// Set by `RuntimeBytesWatch` for any byte read; cleared when a request begins.
    fileprivate var bytesArrived = false
    private var headArrived = false

    func begin(_ answer: AsyncThrowingStream<HTTPClientResponsePart, any Error>.Continuation) {
        self.answer = answer
        bytesArrived = false
        headArrived = false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let answer else {
            // An answer nobody asked for: the connection is out of step; nothing can use it.
            context.close(promise: nil)
            return
        }
        switch part {
        case .head:
            headArrived = true
            answer.yield(part)
        case .body:
            answer.yield(part)
        case .end:
            self.answer = nil
            answer.yield(part)
            answer.finish()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(RuntimeConnectionFailure(cause: error, bytesArrived: bytesArrived, headArrived: headArrived))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(RuntimeConnectionFailure(cause: nil, bytesArrived: bytesArrived, headArrived: headArrived))
        context.fireChannelInactive()
    }

    func writeFailed(_ error: any Error) {
        end(RuntimeConnectionFailure(cause: error, writing: true, bytesArrived: bytesArrived, headArrived: headArrived))
    }

    private func end(_ failure: RuntimeConnectionFailure) {
        guard let answer else { return }
        self.answer = nil
        answer.finish(throwing: failure)
    }
}

/// Notes, in front of the HTTP decoder, that bytes of an answer arrived: the decoder holds an
/// incomplete head back, and a request whose answer has begun must never be sent again.
final class RuntimeBytesWatch: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let relay: RuntimeResponseRelay

    init(relay: RuntimeResponseRelay) { self.relay = relay }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        relay.bytesArrived = true
        context.fireChannelRead(data)
    }
}
