public import AirlockCore

/// A started engine, whatever its kind: what a supervisor (`airlock run`) watches and stops.
public protocol RunningRuntime: Sendable {
    var process: ChildProcess { get }
    /// SIGTERM, then SIGKILL after `grace`; removes the socket file.
    @discardableResult func stop(grace: Duration) -> Int32
}

extension RunningRuntime {
    @discardableResult public func stop() -> Int32 { stop(grace: .seconds(5)) }
}

/// A running engine, started from its configuration (`InferenceEngine.start`) and ready (its
/// health path answered 200) when `start` returns.
public final class RuntimeProcess<Engine: InferenceEngine>: RunningRuntime {
    public let configuration: Engine
    public let process: ChildProcess
    public let logPath: String?

    /// A client for the runtime's socket.
    public var client: UnixSocketHTTPClient { UnixSocketHTTPClient(socketPath: configuration.socketPath) }

    private let cleanup: (@Sendable () -> Void)?

    init(configuration: Engine, process: ChildProcess, logPath: String?, cleanup: (@Sendable () -> Void)? = nil) {
        self.configuration = configuration
        self.process = process
        self.logPath = logPath
        self.cleanup = cleanup
    }

    /// Polls the engine's health path until it answers 200.
    public func waitUntilReady(timeout: Duration) throws(AirlockError) {
        let deadline = ContinuousClock.now + timeout
        let probe = UnixSocketHTTPClient(socketPath: configuration.socketPath, timeout: .seconds(2))
        while true {
            guard process.isRunning else {
                throw AirlockError(.process, "\(configuration.name) exited before it was ready")
            }
            if let response = try? probe.get(configuration.healthPath), response.status == 200 { return }
            guard ContinuousClock.now < deadline else {
                throw AirlockError(.timeout, "\(configuration.name) was not ready within \(timeout)")
            }
            usleep(10_000)
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; removes the socket file.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) -> Int32 {
        let status = process.terminate(grace: grace)
        unlink(configuration.socketPath)
        cleanup?()
        return status
    }

    /// The last `lines` lines of the runtime's log, for error messages.
    public func logTail(lines: Int = 15) -> String {
        guard let logPath, let file = fopen(logPath, "r") else { return "" }
        defer { fclose(file) }
        var collected: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            collected.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            if collected.count > lines { collected.removeFirst() }
        }
        return collected.joined().trimmingSuffixNewlines()
    }

    /// `error` with the end of the runtime's log added to its message.
    func appendingLog(to error: AirlockError) -> AirlockError {
        let tail = logTail()
        guard !tail.isEmpty else { return error }
        var copy = error
        copy.message += " (log \(logPath ?? "")):\n" + tail
        return copy
    }
}

extension String {
    fileprivate func trimmingSuffixNewlines() -> String {
        var copy = self
        while copy.hasSuffix("\n") { copy.removeLast() }
        return copy
    }
}
