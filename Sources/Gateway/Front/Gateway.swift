internal import AirlockCore
public import AuditLog
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
public import Runtime
internal import Synchronization
internal import Systemd

/// What one gateway serves and how.
public struct GatewaySettings: Sendable {
    /// Address to listen on (`127.0.0.1`, `0.0.0.0`, `::`).
    public var host: String
    /// Port; 0 picks a free one (tests), reported through `onListening`.
    public var port: Int
    public var limits: GatewayLimits
    public var catalog: ModelCatalog
    /// The engine behind the gateway: its socket, its slots, and the backlog of requests let
    /// through to wait inside it beyond its slots (its next ones, taken the moment a slot
    /// frees); any more wait in the gateway's queue.
    public var engine: any InferenceEngine

    public init(host: String, port: Int, limits: GatewayLimits, catalog: ModelCatalog, engine: any InferenceEngine) {
        self.host = host
        self.port = port
        self.limits = limits
        self.catalog = catalog
        self.engine = engine
    }
}

/// The OpenAI-compatible gateway: authenticates each request, checks it against the API's shape
/// and the site's limits, waits for a runtime slot, forwards a rewritten request over the
/// runtime's Unix socket, streams the answer back as it comes, and writes the request's audit
/// record durably before the answer is complete. See Docs/architecture.md ("Gateway").
public final class Gateway: Sendable {
    public let settings: GatewaySettings
    let authenticator: any GatewayAuthenticator
    let audit: AuditLogWriter
    let translator: RequestTranslator
    let runtime: RuntimeClient
    let admission: Admission
    let health: RuntimeHealth
    let metrics = GatewayMetrics()
    let log: @Sendable (String) -> Void
    private let connections = Mutex(ConnectionTable())
    private let shutdownSignal = Mutex<ShutdownState>(ShutdownState())

    struct ConnectionTable {
        var nextID = 0
        var open: [Int: any Channel] = [:]
        var busy: Set<Int> = []
    }
    struct ShutdownState {
        var requested = false
        var serverChannel: (any Channel)?
    }

    /// - Parameter log: one line per lifecycle event and per request (journald under systemd).
    public init(
        settings: GatewaySettings, authenticator: any GatewayAuthenticator, audit: AuditLogWriter,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.settings = settings
        self.authenticator = authenticator
        self.audit = audit
        let engine = settings.engine
        self.translator = RequestTranslator(catalog: settings.catalog, limits: settings.limits, engine: engine)
        // Requests inside the runtime at once: its slots and the backlog waiting in it.
        let inRuntime = engine.slots + engine.backlog
        self.runtime = RuntimeClient(socketPath: engine.socketPath, connectionLimit: inRuntime)
        self.admission = Admission(
            slots: inRuntime, queueLength: settings.limits.queueLength,
            clientLimit: settings.limits.clientConcurrency)
        self.health = RuntimeHealth(client: runtime, path: engine.healthPath)
        self.log = log
    }

    /// Serves until `shutdown()` (or SIGTERM, wired by the command): binds, reports the bound
    /// address, tells systemd READY=1 once the runtime first answers, pings the watchdog, and
    /// on shutdown stops accepting, lets in-flight answers finish up to the drain deadline and
    /// closes the rest.
    public func run(onListening: @Sendable (String) -> Void = { _ in }) async throws {
        let limits = settings.limits
        let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // TCP level: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET option 1, which is
                // SO_DEBUG (refused with EACCES to a non-root gateway, ending its accept loop).
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            ReadDeadlineHandler(
                                headerTimeout: .nanoseconds(Int64(limits.headerTimeout.inSeconds * 1e9)),
                                bodyTimeout: .nanoseconds(Int64(limits.bodyTimeout.inSeconds * 1e9))))
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch let error as IOError {
            // NIO's own text names its internal call (`bind(descriptor:ptr:bytes:)`): say what it means.
            let reason =
                switch error.errnoCode {
                case EADDRINUSE: "the address is in use by another program"
                case EADDRNOTAVAIL: "this host has no such address"
                case EACCES: "permission denied (ports below 1024 need privileges)"
                default: String(cString: strerror(error.errnoCode))
                }
            throw AirlockError(.system, "cannot listen on \(settings.host):\(settings.port): \(reason)")
        } catch {
            throw AirlockError(.system, "cannot listen on \(settings.host):\(settings.port): \(error)")
        }
        let alreadyStopping = shutdownSignal.withLock { state in
            state.serverChannel = server.channel
            return state.requested
        }
        if alreadyStopping { server.channel.close(promise: nil) }
        if let address = server.channel.localAddress, let host = address.ipAddress, let port = address.port {
            onListening(host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
        }
        log(
            "serving \(settings.catalog.bundle) \(settings.catalog.version) (models: \(settings.catalog.models.joined(separator: ", "))); runtime socket \(settings.engine.socketPath)"
        )

        var acceptFailure: (any Error)?
        await withTaskGroup(of: Void.self) { background in
            background.addTask { [self] in
                await health.poll { up, why in
                    self.log(
                        up
                            ? "runtime is answering on \(self.settings.engine.socketPath)"
                            : "runtime is not answering (\(why)); requests get 503 until it does")
                    if !up { self.metrics.runtimeLost() }
                    _ = try? ServiceNotifier().notify("STATUS=" + (up ? "serving" : "runtime not answering"))
                }
            }
            background.addTask { [self] in
                await health.waitUntilFirstUp()
                try? ServiceNotifier().ready(status: "serving \(settings.catalog.bundle) \(settings.catalog.version)")
            }
            background.addTask { [self] in
                // Records written just before a quiet spell get their signed checkpoint within
                // the log's checkpoint interval too, not only at the next request.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(30))
                    do {
                        _ = try await audit.checkpointIfDue()
                    } catch {
                        log("AUDIT LOG NOT WRITTEN: the periodic checkpoint failed: \(error)")
                    }
                }
            }
            background.addTask { [self] in
                // Runtime connections left idle after a burst are closed once past their age,
                // not at the runtime's own keep-alive timeout: each holds one of its threads.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    runtime.closeStaleConnections()
                }
            }
            background.addTask {
                let notifier = ServiceNotifier()
                guard let interval = notifier.watchdogInterval else { return }
                while !Task.isCancelled {
                    try? notifier.watchdogPing()
                    try? await Task.sleep(for: interval / 2)
                }
            }

            acceptFailure = await withDiscardingTaskGroup { connectionsGroup -> (any Error)? in
                var failure: (any Error)?
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            connectionsGroup.addTask { await self.serve(connection) }
                        }
                    }
                } catch {
                    log("stopped accepting connections: \(error)")
                    failure = error
                }
                // Accepting has ended (shutdown): drain, then close what is left.
                closeIdleConnections()
                connectionsGroup.addTask { [self] in
                    try? await Task.sleep(for: limits.drainDeadline)
                    let remaining = connections.withLock { Array($0.open.values) }
                    if !remaining.isEmpty { log("drain deadline passed; closing \(remaining.count) connection(s)") }
                    for channel in remaining { channel.close(promise: nil) }
                }
                await waitForConnectionsToClose()
                connectionsGroup.cancelAll()
                return failure
            }
            background.cancelAll()
        }
        log("stopped")
        // Accepting ended by itself, not by shutdown(): exit with a failure so that the service
        // manager (Restart=on-failure) or `airlock run` starts a new gateway.
        if let acceptFailure, !isShuttingDown {
            throw AirlockError(.system, "the gateway stopped accepting connections: \(acceptFailure)")
        }
    }

    /// Stops accepting; in-flight answers may finish (up to `drainDeadline`); idle
    /// keep-alive connections are closed at once.
    public func shutdown() {
        let server: (any Channel)? = shutdownSignal.withLock { state in
            state.requested = true
            return state.serverChannel
        }
        _ = try? ServiceNotifier().stopping()
        log("shutting down: no new connections; finishing answers in flight")
        server?.close(promise: nil)
        closeIdleConnections()
    }

    private var isShuttingDown: Bool { shutdownSignal.withLock { $0.requested } }

    private func closeIdleConnections() {
        let idle = connections.withLock { table in table.open.filter { !table.busy.contains($0.key) }.map(\.value) }
        for channel in idle { channel.close(promise: nil) }
    }

    private func waitForConnectionsToClose() async {
        while connections.withLock({ !$0.open.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    var openConnections: Int { connections.withLock { $0.open.count } }

    // MARK: One connection

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let channel = connection.channel
        let (id, admitted) = connections.withLock { table -> (Int, Bool) in
            table.nextID += 1
            guard table.open.count < settings.limits.maxConnections else { return (table.nextID, false) }
            table.open[table.nextID] = channel
            return (table.nextID, true)
        }
        guard admitted else {
            channel.close(promise: nil)
            return
        }
        defer {
            connections.withLock {
                $0.open[id] = nil
                _ = $0.busy.remove(id)
            }
        }
        let remote = channel.remoteAddress
        // Everything this connection does runs on its event loop (`EventLoopTaskExecutor`).
        let executor = EventLoopTaskExecutor(channel.eventLoop)
        await withTaskExecutorPreference(executor) {
            await serve(connection, id: id, remote: remote, executor: executor)
        }
    }

    private func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, id: Int, remote: SocketAddress?,
        executor: EventLoopTaskExecutor
    ) async {
        let channel = connection.channel
        try? await connection.executeThenClose { inbound, outbound in
            let (requests, continuation) = AsyncStream<IncomingRequest>.makeStream()
            let inFlight = InFlightTask()
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    if await self.read(inbound, remote: remote, into: continuation) == .clientGone {
                        // The client closed (or broke) the connection: stop its answer in flight.
                        inFlight.cancel()
                    }
                    continuation.finish()
                }
                for await request in requests {
                    connections.withLock { _ = $0.busy.insert(id) }
                    // A request refused on its headers left its body unread: the connection ends.
                    let keepAlive = request.head.isKeepAlive && request.screened.refusal == nil && !isShuttingDown
                    let writer = ResponseWriter(outbound: outbound, keepAlive: keepAlive, requestID: request.id, eventLoop: channel.eventLoop)
                    let task = Task(executorPreference: executor) { await self.respond(to: request, remote: remote, writer: writer) }
                    inFlight.set(task)
                    await task.value
                    inFlight.set(nil)
                    connections.withLock { _ = $0.busy.remove(id) }
                    if !keepAlive || isShuttingDown { break }
                }
                // Lingering close: end our side, and let the reader drain what the client still
                // sends (briefly), so that its unread body does not make the kernel reset the
                // connection before the client has read the answer.
                try? await channel.close(mode: .output)
                group.addTask { try? await Task.sleep(for: .seconds(2)) }
                _ = await group.next()
                channel.close(promise: nil)
                group.cancelAll()
            }
        }
    }

    /// Reads requests off the connection: each is screened on its headers (route, key,
    /// declared length) before its body is accepted; a refused one is handed on at once and
    /// reading stops (the connection closes after the refusal).
    enum ReadEnd { case clientGone, refused }

    /// Largest body drained (and dropped) after a refusal before the connection is closed.
    static let drainLimit = 16 << 20

    private func read(
        _ inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>, remote: SocketAddress?,
        into continuation: AsyncStream<IncomingRequest>.Continuation
    ) async -> ReadEnd {
        // The request accepted on its headers whose body is arriving.
        var pending: IncomingRequest?
        let limit = settings.limits.maxBodyBytes
        var refused = false
        var drained = 0
        do {
            for try await part in inbound {
                if refused {
                    // A refusal was handed on; what follows is dropped, within bounds.
                    if case .body(let buffer) = part { drained += buffer.readableBytes }
                    if drained > Self.drainLimit { break }
                    continue
                }
                switch part {
                case .head(let requestHead):
                    let started = ContinuousClock.now
                    let path = String(requestHead.uri.prefix { $0 != "?" && $0 != "#" })
                    let (id, badID) = RequestID.of(requestHead.headers)
                    var screened = await screen(requestHead, path: path, remote: remote)
                    if let badID, screened.refusal == nil { screened = .refused(badID, route: screened.route, client: screened.client) }
                    let request = IncomingRequest(
                        head: requestHead, path: path, started: started, screened: screened, id: id, source: RequestID.source(remote))
                    if request.screened.refusal != nil {
                        continuation.yield(request)
                        refused = true
                        continue
                    }
                    pending = request
                case .body(let buffer):
                    // Counted through `pending` in place: a copy of it would make each append copy the body.
                    guard let received = pending?.body.count else { continue }
                    guard received + buffer.readableBytes <= limit else {
                        if let request = pending { continuation.yield(request.refused(.tooLarge(limit: limit))) }
                        pending = nil
                        refused = true
                        continue
                    }
                    pending?.body += buffer.readableBytesView
                case .end:
                    guard let request = pending else { continue }
                    continuation.yield(request)
                    pending = nil
                }
            }
        } catch {
            // A broken connection ends like a closed one.
        }
        if let request = pending {
            // Headers came, the body never finished: the client left or was too slow.
            await recordDropped(
                request.refused(
                    .requestTimeout(
                        "the request body did not arrive in full within \(settings.limits.bodyTimeout) (or the client closed the connection)")))
        }
        return refused ? .refused : .clientGone
    }

    // MARK: Screening on headers

    static let apiRoutes: [String: (method: HTTPMethod, route: Screened.Route)] = [
        "/v1/models": (.GET, .models),
        "/v1/chat/completions": (.POST, .completion(.chat)),
        "/v1/completions": (.POST, .completion(.completions)),
    ]

    /// `/health` needs no key (it says only whether the runtime answers). Every other route
    /// needs a client's key; `/metrics` (request counts per model, queue depth) one whose client
    /// may read it (`metrics: true` in clients.yaml), whoever connects, loopback included: any
    /// local account can reach a loopback port.
    private func screen(_ head: HTTPRequestHead, path: String, remote: SocketAddress?) async -> Screened {
        let entry: (method: HTTPMethod, route: Screened.Route)
        switch path {
        case "/health":
            guard head.method == .GET else {
                return .refused(.methodNotAllowed(head.method.rawValue, path: path, allowed: "GET"), route: .health, client: nil)
            }
            return .accepted(.health, client: nil)
        case "/metrics":
            entry = (.GET, .metrics)
        default:
            guard let known = Self.apiRoutes[path] else { return .refused(.notFound(path: path), route: nil, client: nil) }
            entry = known
        }
        guard head.method == entry.method else {
            return .refused(.methodNotAllowed(head.method.rawValue, path: path, allowed: entry.method.rawValue), route: entry.route, client: nil)
        }
        if isShuttingDown { return .refused(.unavailable("the gateway is shutting down", code: "shutting_down"), route: entry.route, client: nil) }
        switch await authenticator.authenticate(authorization: head.headers.first(name: "Authorization"), source: Self.sourceName(remote)) {
        case .refused(let presented, let reason, let answer):
            metrics.authenticationFailed()
            return .keyRefused(
                answer ?? .unauthorized("the API key was not accepted (send 'Authorization: Bearer <key>' with a key from 'airlock clients add')"),
                route: entry.route, presented: presented, reason: reason)
        case .authenticated(let client):
            if entry.route == .metrics, !client.readsMetrics {
                return .refused(
                    .forbidden("this API key may not read /metrics ('airlock clients add NAME --metrics' makes one that may)"), route: .metrics,
                    client: client)
            }
            if let declared = head.headers.first(name: "Content-Length").flatMap({ Int($0) }), declared > settings.limits.maxBodyBytes {
                return .refused(.tooLarge(limit: settings.limits.maxBodyBytes), route: entry.route, client: client)
            }
            return .accepted(entry.route, client: client)
        }
    }

    /// The client's address without its port, what back-off is kept per (`-` when unknown).
    static func sourceName(_ address: SocketAddress?) -> String {
        switch address {
        case .v4(let v4)?: return v4.host
        case .v6(let v6)?: return v6.host
        case .unixDomainSocket?: return "unix"
        default: return "-"
        }
    }
}

/// The answer a connection is working on, so that the connection's reader can cancel it when
/// the client goes away.
private final class InFlightTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func set(_ newValue: Task<Void, Never>?) { task.withLock { $0 = newValue } }
    func cancel() { task.withLock { $0?.cancel() } }
}
