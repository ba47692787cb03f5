internal import NIOCore
internal import NIOHTTP1

/// One HTTP/1.1 request as the gateway's reader hands it over: screened on its headers (route,
/// key, declared size) before any of its body was accepted.
struct IncomingRequest: Sendable {
    let head: HTTPRequestHead
    /// The request's path, without query or fragment.
    let path: String
    /// When its head arrived.
    let started: ContinuousClock.Instant
    let screened: Screened
    /// Its id: the client's `X-Request-Id`, or one the gateway made (`RequestID`); in the
    /// response's `X-Request-Id` and in the audit record.
    let id: String
    /// The client's address and port (`192.0.2.7:51234`, `[2001:db8::7]:51234`); nil when the
    /// socket gave none.
    let source: String?
    var body: [UInt8] = []

    /// The same request refused with `error` after its headers were accepted (`Screened.refusing`).
    func refused(_ error: OpenAIError) -> IncomingRequest {
        IncomingRequest(head: head, path: path, started: started, screened: screened.refusing(error), id: id, source: source)
    }
}

/// A request's id. A client's `X-Request-Id` is kept when it is one value of 1 to 128
/// characters from `A-Z a-z 0-9 . _ : @ / + = -` (UUIDs, ULIDs, base64, `req_…` all fit); any
/// other is refused (400 `invalid_request_id`), since an id quietly replaced could no longer be
/// matched with the client's own logs. Without one, the gateway makes one: 32 random hex digits.
enum RequestID {
    static let header = "X-Request-Id"
    static let maxLength = 128

    /// The id to use, and the refusal when the client's was not acceptable.
    static func of(_ headers: HTTPHeaders) -> (id: String, refusal: OpenAIError?) {
        let given = headers[canonicalForm: header]
        if given.isEmpty { return (make(), nil) }
        guard given.count == 1, let value = given.first.map(String.init), isAcceptable(value) else {
            return (
                make(),
                .invalid(
                    "X-Request-Id must be one value of 1 to \(maxLength) characters from A-Z a-z 0-9 . _ : @ / + = -",
                    param: "X-Request-Id", code: "invalid_request_id")
            )
        }
        return (value, nil)
    }

    static func isAcceptable(_ value: String) -> Bool {
        let bytes = value.utf8
        guard (1...maxLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "+"),
                UInt8(ascii: "="), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(32)
        for _ in 0..<2 {
            var word = generator.next() as UInt64
            for _ in 0..<16 {
                text.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `192.0.2.7:51234`, `[2001:db8::7]:51234`; nil for an address without IP and port.
    static func source(_ address: SocketAddress?) -> String? {
        guard let address, let ip = address.ipAddress, let port = address.port else { return nil }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }
}

/// What happens to a request on the strength of its headers alone.
enum Screened: Sendable {
    enum Route: Sendable, Equatable {
        case models
        case completion(CompletionEndpoint)
        case health
        case metrics
    }

    /// Its body is read and it is served on `route`; `client` is whose key it presented (nil
    /// on /health and /metrics, which take none).
    case accepted(Route, client: ClientIdentity?)
    /// Answered with `error` without reading its body (or the rest of it); `client` when its
    /// key had been accepted.
    case refused(OpenAIError, route: Route?, client: ClientIdentity?)
    /// Its API key was not accepted: answered with `error`; the audit record gets what was
    /// `presented` (a key id or `-`, never a secret) and why it failed (`reason`).
    case keyRefused(OpenAIError, route: Route, presented: String, reason: String)

    var route: Route? {
        switch self {
        case .accepted(let route, _), .keyRefused(_, let route, _, _): route
        case .refused(_, let route, _): route
        }
    }

    var client: ClientIdentity? {
        switch self {
        case .accepted(_, let client), .refused(_, _, let client): client
        case .keyRefused: nil
        }
    }

    /// The error the request is answered with unread; nil when it is accepted.
    var refusal: OpenAIError? {
        switch self {
        case .accepted: nil
        case .refused(let error, _, _), .keyRefused(let error, _, _, _): error
        }
    }

    /// An accepted request refused after all (its body was too large, or never arrived in
    /// full), for the same route and client.
    func refusing(_ error: OpenAIError) -> Screened { .refused(error, route: route, client: client) }
}

/// Writes one response on a connection: whole, or as a stream of chunks. Each call hands its
/// parts to the connection in one batch (one flush, one `write` system call for head and body
/// together): with TCP_NODELAY every separate flush would be a packet and an event-loop wakeup.
struct ResponseWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    let keepAlive: Bool
    /// The request's id, sent back in every response's `X-Request-Id`.
    let requestID: String
    /// The connection's event loop: the runtime connection made for this response is put on
    /// the same one, so that both legs of a request are served by one thread.
    let eventLoop: any EventLoop

    private func head(status: Int, headers: [(String, String)], length: Int?) -> HTTPResponseHead {
        var fields = HTTPHeaders(headers)
        if let length { fields.replaceOrAdd(name: "Content-Length", value: String(length)) }
        if !keepAlive { fields.replaceOrAdd(name: "Connection", value: "close") }
        fields.replaceOrAdd(name: RequestID.header, value: requestID)
        return HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: fields)
    }

    func send(status: Int, headers: [(String, String)], body: [UInt8]) async throws {
        var parts: [HTTPServerResponsePart] = [.head(head(status: status, headers: headers, length: body.count))]
        if !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
    }

    func send(_ error: OpenAIError) async throws {
        try await send(status: error.status, headers: [("Content-Type", "application/json")] + error.headers, body: error.body)
    }

    /// Starts a chunked answer; `first`, when given, goes out with the head.
    func startStream(status: Int, headers: [(String, String)], first: [UInt8]? = nil) async throws {
        var fields = headers
        fields.append(("Transfer-Encoding", "chunked"))
        var parts: [HTTPServerResponsePart] = [.head(head(status: status, headers: fields, length: nil))]
        if let first { parts.append(.body(.byteBuffer(ByteBuffer(bytes: first)))) }
        try await outbound.write(contentsOf: parts)
    }

    func write(_ bytes: [UInt8]) async throws {
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
    }

    func finish() async throws {
        try await outbound.write(.end(nil))
    }
}

/// Closes connections that are too slow: a request's headers must arrive within
/// `headerTimeout` of the connection opening or of the previous answer's end (which is also
/// the keep-alive idle time), and its body within `bodyTimeout` of its headers. A slow client
/// is dropped; it never holds a connection, a buffer or a runtime slot open.
final class ReadDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let headerTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(headerTimeout: TimeAmount, bodyTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, headerTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, headerTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, bodyTimeout)
        case .end:
            timer?.cancel()
            timer = nil
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, headerTimeout) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ amount: TimeAmount) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: amount) { channel.close(promise: nil) }
    }
}
