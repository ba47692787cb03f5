import Foundation
import NIOCore
import NIOPosix
import Runtime
import Synchronization
import TestSupport
import Testing

/// `RuntimeClient`'s keep-alive connections, against a stand-in runtime that counts the
/// connections it accepts and answers as each test needs: reuse, what is never reused
/// (cancelled, failed, `Connection: close`, too old), the one retry on a connection the
/// runtime dropped while idle and no retry once an answer began, event loops and the limit.
@Suite(.serialized) struct RuntimeConnectionPoolTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    static var loops: [any EventLoop] { Array(group.makeIterator()) }

    struct Failure: Error {}

    /// A client that keeps idle connections for five minutes and gives a connection a minute to
    /// open: what these tests check must not depend on how quickly a loaded machine runs them
    /// (a full test run once held this process up for over 5 s; the age limit has a test of
    /// its own).
    static func client(_ runtime: FakeRuntime, limit: Int = 8) -> RuntimeClient {
        RuntimeClient(
            socketPath: runtime.path, group: group, connectionLimit: limit, keepIdleFor: .minutes(5),
            connectTimeout: .seconds(60))
    }

    /// One whole answer through `send` on `loop`.
    static func get(_ client: RuntimeClient, on loop: any EventLoop) async throws -> (status: Int, body: String) {
        var status = 0
        var body: [UInt8] = []
        try await client.send(
            method: "POST", path: "/completion", body: Array("{}".utf8), on: loop,
            onHead: { status = $0 }, onBody: { body += $0.readableBytesView })
        return (status, String(decoding: body, as: UTF8.self))
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let runtime = try FakeRuntime { request in .answer("answer \(request.number)") }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        let loop = Self.loops[0]
        for number in 1...3 {
            let answer = try await Self.get(client, on: loop)
            #expect(answer.status == 200 && answer.body == "answer \(number)")
        }
        #expect(runtime.accepted == 1)
        #expect(runtime.requests.count == 3)
        #expect(runtime.requests.allSatisfy { !$0.head.lowercased().contains("connection: close") })
    }

    @Test func anAnswerSayingConnectionCloseEndsTheConnection() async throws {
        let runtime = try FakeRuntime { _ in .answer("last", close: true) }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        for _ in 1...2 { #expect(try await Self.get(client, on: Self.loops[0]).body == "last") }
        #expect(runtime.accepted == 2)
    }

    @Test func aCancelledRequestClosesItsConnectionAtOnceAndItIsNotReused() async throws {
        let runtime = try FakeRuntime { request in
            // Ten minutes of tokens: still streaming when the test acts, however loaded the run.
            request.connection == 1 ? .stream(chunks: 60_000, every: .milliseconds(10)) : .answer("next")
        }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        let loop = Self.loops[0]
        let bodies = Counter()
        let task = Task {
            try await client.send(
                method: "POST", path: "/completion", body: [], on: loop, onHead: { _ in },
                onBody: { _ in bodies.add() })
        }
        #expect(await eventually { bodies.value > 0 }, "the answer began")
        task.cancel()
        #expect(await (try? task.value) == nil, "a cancelled request does not end as answered")
        let cancelled = ContinuousClock.now
        // At once, in a quiet run (measured below); the bound here allows for a loaded full test
        // run in this process. The one-second requirement is checked end to end, gateway process
        // and real llama-server, by aClientLeavingMidStreamClosesItsRuntimeConnection.
        #expect(await eventually(within: .seconds(10)) { runtime.closedByClient.contains(1) }, "the runtime sees the connection closed")
        print("the runtime saw the cancelled request's connection close after \(ContinuousClock.now - cancelled)")
        #expect(try await Self.get(client, on: loop).body == "next")
        #expect(runtime.accepted == 2)
    }

    @Test func aCallerThatThrowsClosesTheConnection() async throws {
        let runtime = try FakeRuntime { request in
            // Ten minutes of tokens: still streaming when the test acts, however loaded the run.
            request.connection == 1 ? .stream(chunks: 60_000, every: .milliseconds(10)) : .answer("next")
        }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        let loop = Self.loops[0]
        await #expect(throws: Failure.self) {
            try await client.send(method: "POST", path: "/completion", body: [], on: loop, onHead: { _ in }, onBody: { _ in throw Failure() })
        }
        #expect(await eventually(within: .seconds(10)) { runtime.closedByClient.contains(1) })
        #expect(try await Self.get(client, on: loop).body == "next")
        #expect(runtime.accepted == 2)
    }

    /// The runtime closed a kept connection as the next request went out (its keep-alive
    /// timeout): that request was not answered, so it goes again on a new connection.
    @Test func aKeptConnectionTheRuntimeDroppedUnansweredIsRetriedOnceOnANewOne() async throws {
        let runtime = try FakeRuntime { request in request.number == 2 ? .hangUp : .answer("on \(request.connection)") }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        let loop = Self.loops[0]
        #expect(try await Self.get(client, on: loop).body == "on 1")
        #expect(try await Self.get(client, on: loop).body == "on 2")
        #expect(runtime.accepted == 2)
        #expect(runtime.requests.map(\.connection) == [1, 1, 2])
    }

    @Test func noRetryOnceAnyByteOfTheAnswerArrived() async throws {
        let runtime = try FakeRuntime { request in request.number == 2 ? .partialHead : .answer("first") }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        let loop = Self.loops[0]
        #expect(try await Self.get(client, on: loop).body == "first")
        await #expect(throws: RuntimeCallError.self) { _ = try await Self.get(client, on: loop) }
        #expect(runtime.requests.count == 2, "sent once: \(runtime.requests)")
        #expect(runtime.accepted == 1)
    }

    @Test func aNewConnectionThatFailsIsNotRetriedAndTheRuntimeIsUnreachable() async throws {
        let runtime = try FakeRuntime { _ in .hangUp }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        do {
            _ = try await Self.get(client, on: Self.loops[0])
            Issue.record("answered")
        } catch let error as RuntimeCallError {
            guard case .unreachable = error else {
                Issue.record("\(error)")
                return
            }
        }
        #expect(runtime.accepted == 1)
        runtime.stop()
        do {
            _ = try await Self.get(client, on: Self.loops[0])
            Issue.record("answered with nothing listening")
        } catch let error as RuntimeCallError {
            guard case .unreachable = error else {
                Issue.record("\(error)")
                return
            }
        }
    }

    @Test func aKeptConnectionTheRuntimeClosedLeavesThePool() async throws {
        let runtime = try FakeRuntime { request in .answer("on \(request.connection)") }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        let loop = Self.loops[0]
        #expect(try await Self.get(client, on: loop).body == "on 1")
        #expect(await eventually { runtime.closeIdle() == 1 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await Self.get(client, on: loop).body == "on 2")
        #expect(runtime.requests.map(\.connection) == [1, 2], "no request went to the closed connection")
    }

    /// Past its idle age, a kept connection is closed rather than used (taken), and the
    /// gateway's once-a-second sweep (`closeStaleConnections`) closes the ones nobody took
    /// and leaves the younger ones. (Waiting longer than planned only makes them older.)
    @Test func idleConnectionsPastTheirAgeAreClosedNotUsed() async throws {
        let runtime = try FakeRuntime { request in .answer("on \(request.connection)") }
        defer { runtime.stop() }
        let client = RuntimeClient(
            socketPath: runtime.path, group: Self.group, keepIdleFor: .milliseconds(300), connectTimeout: .seconds(60))
        let (first, second) = (Self.loops[0], Self.loops[1])
        #expect(try await Self.get(client, on: first).body == "on 1")
        #expect(try await Self.get(client, on: second).body == "on 2")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await Self.get(client, on: first).body == "on 3")
        #expect(await eventually { runtime.closedByClient.contains(1) })
        try await Task.sleep(for: .milliseconds(500))
        client.closeStaleConnections()
        #expect(await eventually { runtime.closedByClient.contains(2) && runtime.closedByClient.contains(3) })
        // A sweep leaves connections younger than the age alone.
        let keeping = Self.client(runtime)
        #expect(try await Self.get(keeping, on: first).body == "on 4")
        keeping.closeStaleConnections()
        #expect(try await Self.get(keeping, on: first).body == "on 4")
        #expect(runtime.accepted == 4)
    }

    @Test func connectionsStayOnTheirEventLoopWithinTheLimit() async throws {
        let runtime = try FakeRuntime { request in .answer("on \(request.connection)") }
        defer { runtime.stop() }
        let (first, second) = (Self.loops[0], Self.loops[1])
        let two = Self.client(runtime, limit: 2)
        for _ in 1...2 {
            #expect(try await Self.get(two, on: first).body == "on 1")
            #expect(try await Self.get(two, on: second).body == "on 2")
        }
        #expect(runtime.accepted == 2)
        // With room for one, a request on the other loop closes the idle one first.
        let one = Self.client(runtime, limit: 1)
        #expect(try await Self.get(one, on: first).body == "on 3")
        #expect(try await Self.get(one, on: second).body == "on 4")
        #expect(await eventually { runtime.closedByClient.contains(3) })
        #expect(try await Self.get(one, on: second).body == "on 4")
    }

    @Test func healthChecksTakeANewConnectionEachTime() async throws {
        let runtime = try FakeRuntime { _ in .answer(#"{"status":"ok"}"#) }
        defer { runtime.stop() }
        let client = Self.client(runtime)
        for _ in 1...2 {
            let answer = try await client.fetch(path: "/health")
            #expect(answer.status == 200 && answer.body == Array(#"{"status":"ok"}"#.utf8))
        }
        #expect(runtime.accepted == 2)
        #expect(runtime.requests.allSatisfy { $0.head.lowercased().contains("connection: close") })
    }
}

/// Through the gateway, with the real llama-server: its end of each connection to its socket
/// is read from /proc/net/unix (accepted Unix sockets carry the listening socket's path).
@Suite(.serialized) struct RuntimeConnectionReuseTests {
    /// llama-server's connected sockets, by inode.
    static func runtimeConnections(_ served: ServedBundle) -> Set<String> {
        let socket = served.runtimeSocket.replacingOccurrences(of: "//", with: "/")
        guard let table = try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8) else { return [] }
        return Set(
            table.split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: " ")
                guard fields.count >= 8, fields[5] == "03", fields[7].replacingOccurrences(of: "//", with: "/") == socket else { return nil }
                return String(fields[6])
            })
    }

    /// The connections present in three looks 30 ms apart: a health check's own connection
    /// (opened and closed within a millisecond, once a second) is left out.
    static func lastingRuntimeConnections(_ served: ServedBundle) -> Set<String> {
        var lasting = runtimeConnections(served)
        for _ in 0..<2 {
            Thread.sleep(forTimeInterval: 0.03)
            lasting.formIntersection(runtimeConnections(served))
        }
        return lasting
    }

    @Test func requestsOnOneClientConnectionShareOneRuntimeConnection() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let connection = try HTTPTestConnection(port: served.port)
        var seen: [Set<String>] = []
        for model in ["claims", "legal", "claims-assistant"] {
            try connection.sendRequest("POST", "/v1/chat/completions", body: ServedBundle.chat(model: model, maxTokens: 4), key: key)
            #expect(try connection.readResponse().status == 200)
            seen.append(Self.lastingRuntimeConnections(served))
        }
        #expect(seen.allSatisfy { $0.count == 1 } && Set(seen).count == 1, "llama-server's connections after each request: \(seen)")
        // A stream ends its connection: llama-server closes it after every streamed answer.
        try connection.sendRequest("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "legal", maxTokens: 4, stream: true), key: key)
        #expect(try connection.readResponse().status == 200)
        #expect(Self.lastingRuntimeConnections(served).isEmpty)
    }

    @Test func aClientLeavingMidStreamClosesItsRuntimeConnection() throws {
        let served = try ServedBundle()
        defer { served.stop() }
        let key = try #require(served.keys["everything"])
        let long = #"{"model":"legal","prompt":"Terms:","max_tokens":2000,"temperature":0,"stream":true}"#
        let connection = try HTTPTestConnection(port: served.port)
        try connection.sendRequest("POST", "/v1/completions", body: long, key: key)
        #expect(try connection.readHead().status == 200)
        _ = try connection.nextChunk()
        let busy = Self.lastingRuntimeConnections(served)
        try #require(busy.count == 1, "\(busy)")
        connection.close()
        let left = ContinuousClock.now
        var closed = false
        while !closed, ContinuousClock.now - left < .seconds(1) {
            closed = Self.runtimeConnections(served).isDisjoint(with: busy)
            if !closed { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(closed, "llama-server still holds the connection 1 s after the client left")
        print("llama-server closed the connection \(ContinuousClock.now - left) after the client left")
        let next = try served.request("POST", "/v1/chat/completions", body: ServedBundle.chat(model: "claims", maxTokens: 4), key: key)
        #expect(next.status == 200)
        let after = Self.lastingRuntimeConnections(served)
        #expect(after.count == 1 && after.isDisjoint(with: busy), "\(after) after, \(busy) before")
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}

/// Polls `condition` every 10 ms until it holds or `within` passes.
/// Waits for `condition` (polling every 10 ms) up to `within`, then answers it once more. The
/// default is long: it is for things that must happen, not for how fast (a test that times
/// something passes its own bound), and a full test run can hold this process up for seconds.
func eventually(within: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A stand-in for llama-server on a Unix socket (blocking sockets, a thread per connection,
/// keep-alive like it), answering each request as the test says and counting what it sees.
final class FakeRuntime: @unchecked Sendable {
    enum Reply: Sendable {
        /// 200 with this body; `close` adds `Connection: close` and closes after it.
        case answer(String, close: Bool = false)
        /// 200, chunked, one small chunk every `every` (a long generation); stops when a write fails.
        case stream(chunks: Int, every: Duration)
        /// Closes the connection without a byte.
        case hangUp
        /// Sends the status line only, then closes.
        case partialHead
    }
    struct Request: Sendable {
        let connection: Int
        /// 1 for the first request on its connection.
        let number: Int
        let head: String
    }

    let folder: TemporaryDirectory
    let path: String
    private let listener: Int32
    private let reply: @Sendable (Request) -> Reply
    private let lock = NSLock()
    private var acceptedCount = 0
    private var seen: [Request] = []
    private var waiting: [Int: Int32] = [:]
    private var open: [Int: Int32] = [:]
    private var closedByUs: Set<Int> = []
    private var closedByPeer: Set<Int> = []

    init(reply: @escaping @Sendable (Request) -> Reply) throws {
        self.reply = reply
        folder = try TemporaryDirectory("airlock-fake-runtime")
        path = folder.file("runtime.sock")
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw TestSupportError("socket path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw TestSupportError("cannot listen on \(path): errno \(errno)") }
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var accepted: Int { locked { acceptedCount } }
    var requests: [Request] { locked { seen } }
    /// Connections whose other end (the client) closed them.
    var closedByClient: Set<Int> { locked { closedByPeer } }

    /// Closes every connection waiting for its next request, as a keep-alive timeout does;
    /// returns how many.
    @discardableResult
    func closeIdle() -> Int {
        locked {
            for (connection, descriptor) in waiting {
                closedByUs.insert(connection)
                shutdown(descriptor, Int32(SHUT_RDWR))
            }
            return waiting.count
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        locked {
            for (connection, descriptor) in open {
                closedByUs.insert(connection)
                shutdown(descriptor, Int32(SHUT_RDWR))
            }
        }
        unlink(path)
    }

    deinit {
        Glibc.close(listener)
        folder.remove()
    }

    private func acceptLoop() {
        while true {
            let descriptor = accept(listener, nil, nil)
            if descriptor < 0 {
                if errno == EINTR { continue }
                return
            }
            let connection = locked {
                acceptedCount += 1
                open[acceptedCount] = descriptor
                return acceptedCount
            }
            let thread = Thread { [self] in serve(descriptor, connection: connection) }
            thread.start()
        }
    }

    private func serve(_ descriptor: Int32, connection: Int) {
        defer {
            locked { open[connection] = nil }
            Glibc.close(descriptor)
        }
        var buffer: [UInt8] = []
        var number = 0
        while true {
            locked { waiting[connection] = descriptor }
            let head = Self.readRequest(descriptor, &buffer)
            let byUs = locked {
                waiting[connection] = nil
                return closedByUs.contains(connection)
            }
            guard let head, !byUs else {
                if !byUs { locked { _ = closedByPeer.insert(connection) } }
                return
            }
            number += 1
            let request = Request(connection: connection, number: number, head: head)
            locked { seen.append(request) }
            switch reply(request) {
            case .answer(let body, let close):
                let text =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                    + (close ? "Connection: close\r\n" : "Keep-Alive: timeout=5, max=100\r\n") + "\r\n" + body
                guard Self.write(descriptor, text), !close else { return }
            case .stream(let chunks, let every):
                guard Self.write(descriptor, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n") else {
                    return
                }
                for _ in 0..<chunks {
                    guard Self.write(descriptor, "6\r\ntoken \r\n") else {
                        locked { _ = closedByPeer.insert(connection) }
                        return
                    }
                    Thread.sleep(forTimeInterval: every.inSeconds)
                }
                guard Self.write(descriptor, "0\r\n\r\n") else { return }
            case .hangUp:
                return
            case .partialHead:
                _ = Self.write(descriptor, "HTTP/1.1 200 OK\r\n")
                return
            }
        }
    }

    /// The next request's head (its body, by Content-Length, is read and dropped); nil at EOF.
    private static func readRequest(_ descriptor: Int32, _ buffer: inout [UInt8]) -> String? {
        let end = Array("\r\n\r\n".utf8)
        var chunk = [UInt8](repeating: 0, count: 4096)
        func fill() -> Bool {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
        var headEnd: Int?
        while headEnd == nil {
            if let range = buffer.firstRange(of: end) { headEnd = range.upperBound } else if !fill() { return nil }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd!)
        let length =
            head.split(separator: "\r\n").compactMap { line -> Int? in
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }.first ?? 0
        while buffer.count < length { if !fill() { return nil } }
        buffer.removeFirst(length)
        return head
    }

    private static func write(_ descriptor: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}

extension Duration {
    fileprivate var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
