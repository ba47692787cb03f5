public import AirlockCore

/// An inference engine as Airlock runs it and speaks to it: its command line, where it
/// listens, how many requests it takes, which adapters it loaded, and what in a request body
/// and in an answer is its own. The gateway sees only this protocol; `LlamaServerEngine` is
/// the first implementation, and a second engine is a second conforming type beside it.
///
/// Every engine speaks the OpenAI-compatible HTTP API (`/v1/chat/completions`,
/// `/v1/completions`, server-sent events for streams) on a Unix socket; `RuntimeClient` sends
/// the requests, `RuntimeHealth` polls `healthPath`.
public protocol InferenceEngine: Sendable {
    /// The engine's name in logs and errors (`llama-server`).
    var name: String { get }
    /// The engine's binary (absolute path).
    var executable: String { get }
    /// The exact arguments after the executable's own path: what `start` runs and what a
    /// service unit's `ExecStart=` names.
    var arguments: [String] { get }
    /// The child's complete environment (nothing is inherited).
    var environment: [String: String] { get }
    /// The Unix socket it listens on.
    var socketPath: String { get }
    /// Requests it generates for at once.
    var slots: Int { get }
    /// Requests the gateway may have waiting inside it beyond its slots.
    var backlog: Int { get }
    /// The adapters it loads at start, in its order.
    var adapters: [RuntimeAdapter] { get }
    /// The path that answers 200 once the engine serves requests.
    var healthPath: String { get }
    /// Whether a connection may carry the next request after a streamed answer (false: the
    /// gateway asks for `Connection: close` on streams, so a connection about to close never
    /// goes back to the pool).
    var keepsConnectionAfterStream: Bool { get }

    /// How long it may take from start until `healthPath` answers 200.
    var startTimeout: Duration { get }

    /// The engine's own writable folder (its caches), or nil: it writes nothing.
    var writableDirectory: String? { get }

    /// Refuses a configuration the engine would misread.
    func validate() throws(AirlockError)

    /// Makes what the engine needs on disk before each start outside systemd (its unit's
    /// `StateDirectory=` and `PrivateTmp=` do it there). The default needs nothing.
    func prepare() throws(AirlockError)

    /// The request body the engine receives: the gateway's checked `fields` (in order), plus
    /// the engine's own that apply exactly `adapter` (nil: the base model alone).
    func requestBody(_ fields: [(String, JSONValue)], adapter: String?) -> JSONValue

    /// One whole answer or stream event as the client sees it: `model` (the id the client
    /// named) wherever the engine names its model, and nothing that only this engine reports.
    func clientAnswer(_ answer: JSONValue, model: String) -> JSONValue

    /// Starts the engine (`executable`, `arguments`, `environment` only) and returns once
    /// `healthPath` answers 200. The default suits an engine that is one child process.
    func start(logPath: String?, readinessTimeout: Duration) throws(AirlockError) -> RuntimeProcess<Self>
}

/// One LoRA adapter the runtime loads at start, addressed per request by its name or position.
public struct RuntimeAdapter: Sendable, Equatable {
    /// The model id clients use (the adapter's name in the bundle).
    public var name: String
    /// The adapter's file (or folder).
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

extension InferenceEngine {
    public var startTimeout: Duration { .seconds(60) }

    public var writableDirectory: String? { nil }

    public func prepare() throws(AirlockError) {}

    /// `start` with the engine's own `startTimeout`, for a caller that holds `any
    /// InferenceEngine` (`airlock run`).
    public func launch(logPath: String?) throws(AirlockError) -> any RunningRuntime {
        try start(logPath: logPath, readinessTimeout: startTimeout)
    }

    /// Starts the runtime with only its own environment and waits until it is ready. A stale
    /// socket file at the path is removed first. If the runtime exits or is not ready within
    /// `readinessTimeout`, it is stopped and the error carries the end of its log.
    public func start(logPath: String?, readinessTimeout: Duration) throws(AirlockError) -> RuntimeProcess<Self> {
        try startProcess(environment: environment, logPath: logPath, readinessTimeout: readinessTimeout)
    }

    /// `start`'s work with `environment` (an engine that adds a per-start value to its own
    /// calls this from its `start`); `cleanup` runs once the process has been stopped.
    public func startProcess(
        environment: [String: String], logPath: String?, readinessTimeout: Duration, cleanup: (@Sendable () -> Void)? = nil
    ) throws(AirlockError) -> RuntimeProcess<Self> {
        try validate()
        try prepare()
        unlink(socketPath)
        let process = try ChildProcess(executable: executable, arguments: arguments, environment: environment, outputPath: logPath)
        let server = RuntimeProcess(configuration: self, process: process, logPath: logPath, cleanup: cleanup)
        do {
            try server.waitUntilReady(timeout: readinessTimeout)
        } catch {
            server.stop(grace: .seconds(2))
            throw AirlockError(.process, "\(name) did not become ready", cause: server.appendingLog(to: error))
        }
        return server
    }
}
