internal import NIOCore
internal import Synchronization

/// Runtime connections kept open between requests, per event loop: a request takes an idle
/// one on its own loop (a channel is bound to its loop) instead of paying for a new Unix
/// socket connection (channel, pipeline, event loop registration, nine system calls: about a
/// tenth of the gateway's CPU per proxied request in a profile at concurrency 1).
///
/// Only a connection whose answer ended cleanly, on the runtime's keep-alive, comes back
/// (`RuntimeClient.carry`); any other is closed, which is how the runtime learns to stop a
/// request. llama-server closes a connection after 5 s idle and after its 100th request;
/// idle ones older than `maxIdleAge` are not used, and one that closes while idle leaves.
///
/// Bounded by the runtime's threads: llama-server's HTTP server (cpp-httplib) serves each
/// connection on one thread for its whole life, idle keep-alive waits included (polling it
/// every 10 ms), and `LlamaServerEngine.httpThreads` has one thread per request the
/// gateway lets in (`limit`, slots plus backlog) plus two for health checks. So at most
/// `limit` connections are open for requests, busy or idle: opening one more closes the
/// oldest idle one (of any loop) first.
final class RuntimeConnectionPool: Sendable {
    let socketPath: String
    /// Most connections open at once, busy or idle (more are opened only when none is idle).
    let limit: Int
    /// Most idle connections one event loop keeps.
    static let idlePerLoop = 8
    /// Idle connections older than this are closed instead of used: llama-server closes
    /// them at 5 s, and a request sent as it does would have to be sent again (2 s in the
    /// gateway, `RuntimeClient`'s `keepIdleFor`).
    let maxIdleAge: TimeAmount
    /// How long opening a connection may take before the runtime counts as unreachable.
    let connectTimeout: TimeAmount

    private struct Idle {
        let connection: RuntimeConnection
        let since: NIODeadline
    }
    private struct State {
        /// Per event loop, oldest first.
        var idle: [ObjectIdentifier: [Idle]] = [:]
        /// Connections open for requests, busy or idle (one leaves when it closes or is evicted).
        var open: Set<ObjectIdentifier> = []

        /// Takes the idle connections on `loop` older than `maxIdleAge` out of the pool.
        mutating func removeStale(on loop: ObjectIdentifier, now: NIODeadline, maxIdleAge: TimeAmount) -> [RuntimeConnection] {
            guard let idle = self.idle[loop] else { return [] }
            let fresh = idle.firstIndex { now - $0.since <= maxIdleAge } ?? idle.endIndex
            guard fresh > 0 else { return [] }
            self.idle[loop] = Array(idle[fresh...])
            return idle[..<fresh].map(\.connection)
        }
    }
    private let state = Mutex(State())

    init(socketPath: String, limit: Int, maxIdleAge: TimeAmount, connectTimeout: TimeAmount) {
        self.socketPath = socketPath
        self.limit = max(1, limit)
        self.maxIdleAge = maxIdleAge
        self.connectTimeout = connectTimeout
    }

    /// The most recently used idle connection on `eventLoop`, or nil; closes the ones too old.
    func take(on eventLoop: any EventLoop) -> RuntimeConnection? {
        let now = NIODeadline.now()
        let (found, stale) = state.withLock { state -> (RuntimeConnection?, [RuntimeConnection]) in
            let loop = ObjectIdentifier(eventLoop)
            let stale = state.removeStale(on: loop, now: now, maxIdleAge: maxIdleAge)
            var found: RuntimeConnection?
            while found == nil, let last = state.idle[loop]?.popLast() {
                if last.connection.channel.isActive { found = last.connection }
            }
            return (found, stale)
        }
        for connection in stale { connection.close() }
        return found
    }

    /// Closes the idle connections older than `maxIdleAge`, on every loop: after a burst they
    /// would otherwise hold the runtime's threads until its own keep-alive timeout (5 s).
    func closeStale() {
        let now = NIODeadline.now()
        let stale = state.withLock { state in
            Array(state.idle.keys).flatMap { state.removeStale(on: $0, now: now, maxIdleAge: maxIdleAge) }
        }
        for connection in stale { connection.close() }
    }

    /// A new connection on `eventLoop`; when `limit` are open, the oldest idle one goes first.
    func open(on eventLoop: any EventLoop) async throws(RuntimeCallError) -> RuntimeConnection {
        let evicted = state.withLock { state -> RuntimeConnection? in
            guard state.open.count >= limit else { return nil }
            var oldest: (loop: ObjectIdentifier, since: NIODeadline)?
            for (loop, idle) in state.idle {
                if let first = idle.first, first.since < oldest?.since ?? .distantFuture { oldest = (loop, first.since) }
            }
            guard let oldest, let evicted = state.idle[oldest.loop]?.removeFirst().connection else { return nil }
            state.open.remove(ObjectIdentifier(evicted))
            return evicted
        }
        evicted?.close()
        let connection = try await RuntimeConnection.connect(to: socketPath, on: eventLoop, timeout: connectTimeout)
        state.withLock { _ = $0.open.insert(ObjectIdentifier(connection)) }
        connection.channel.closeFuture.whenComplete { [weak self] _ in self?.closed(connection) }
        return connection
    }

    /// Keeps `connection` (its answer ended cleanly) for the next request on its loop, or
    /// closes it when the loop keeps enough already or more than `limit` are open.
    func giveBack(_ connection: RuntimeConnection) {
        let now = NIODeadline.now()
        let kept = state.withLock { state in
            let loop = ObjectIdentifier(connection.eventLoop)
            guard state.open.count <= limit, state.idle[loop, default: []].count < Self.idlePerLoop, connection.channel.isActive else {
                return false
            }
            state.idle[loop, default: []].append(Idle(connection: connection, since: now))
            return true
        }
        if !kept { connection.close() }
    }

    private func closed(_ connection: RuntimeConnection) {
        state.withLock { state in
            state.open.remove(ObjectIdentifier(connection))
            let loop = ObjectIdentifier(connection.eventLoop)
            state.idle[loop]?.removeAll { $0.connection === connection }
        }
    }
}
