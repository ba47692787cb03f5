#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif
public import AirlockCore

/// One LoRA adapter the runtime loads at start, addressed per request by its position.
public struct RuntimeAdapter: Sendable, Equatable {
    /// The model id clients use (the adapter's name in the bundle).
    public var name: String
    /// The adapter's GGUF file.
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

/// Everything `llama-server` is started with. The argument list is explicit and complete:
/// nothing comes from the environment (the child's is empty), nothing enables the runtime's
/// tools, MCP, downloads, web UI, slot endpoints or property changes.
public struct LlamaServerConfiguration: Sendable, Equatable {
    /// The `llama-server` binary (absolute path).
    public var executable: String
    /// The base model (GGUF).
    public var model: String
    /// Adapters, loaded once at start with scale 0; requests pick theirs by index.
    public var adapters: [RuntimeAdapter]
    /// The Unix socket it listens on; must end in `.sock` (llama-server's rule for sockets).
    public var socketPath: String
    /// Total context (tokens), shared by the slots.
    public var contextSize: Int
    /// Concurrent request slots.
    public var parallel: Int
    /// CPU threads for generation and for prompt processing.
    public var threads: Int
    /// Requests the gateway may have waiting inside the runtime beyond its slots, so that a
    /// freed slot takes the next request at once instead of after a round trip through the
    /// gateway. Each request in the runtime, running or waiting, holds one of its HTTP threads.
    public var backlog: Int

    /// HTTP threads: one per request the gateway may have in the runtime, plus two for health
    /// checks and a spare (llama-server's own default, `max(parallel + 2, cores - 1)`, is sized
    /// for slots only).
    public var httpThreads: Int { parallel + backlog + 2 }

    public init(
        executable: String, model: String, adapters: [RuntimeAdapter] = [], socketPath: String,
        contextSize: Int = 2048, parallel: Int = 1, threads: Int = 1, backlog: Int = 0
    ) {
        self.executable = executable
        self.model = model
        self.adapters = adapters
        self.socketPath = socketPath
        self.contextSize = contextSize
        self.parallel = parallel
        self.threads = threads
        self.backlog = backlog
    }

    /// Refuses what llama-server would misread: adapter paths containing `,` or `:` (they
    /// split its `--lora-scaled` list), socket paths not ending in `.sock` (it would listen on
    /// TCP instead), non-positive sizes.
    public func validate() throws(AirlockError) {
        guard executable.hasPrefix("/") else {
            throw AirlockError(.invalidInput, "runtime executable '\(executable)' must be an absolute path")
        }
        guard socketPath.hasSuffix(".sock"), socketPath.hasPrefix("/") else {
            throw AirlockError(.invalidInput, "runtime socket '\(socketPath)' must be an absolute path ending in .sock")
        }
        for adapter in adapters where adapter.path.contains(",") || adapter.path.contains(":") {
            throw AirlockError(.invalidInput, "adapter path '\(adapter.path)' contains ',' or ':', which llama-server cannot parse")
        }
        guard Set(adapters.map(\.name)).count == adapters.count else {
            throw AirlockError(.invalidInput, "two adapters share a name")
        }
        guard contextSize > 0, parallel > 0, threads > 0, backlog >= 0 else {
            throw AirlockError(.invalidInput, "context size, parallel slots and threads must be positive, the backlog not negative")
        }
    }

    /// The exact arguments (after the executable's own path).
    public var arguments: [String] {
        var arguments = [
            "--model", model,
            "--host", socketPath,
            "--ctx-size", String(contextSize),
            "--parallel", String(parallel),
            "--threads", String(threads),
            "--threads-batch", String(threads),
            "--threads-http", String(httpThreads),
            "--offline",
            "--no-ui",
            "--no-slots",
        ]
        if !adapters.isEmpty {
            arguments += ["--lora-scaled", adapters.map { "\($0.path):0" }.joined(separator: ",")]
        }
        return arguments
    }

    /// The per-request `lora` field that applies exactly `adapter` (by name) at scale 1 and
    /// every other adapter at 0; `nil` selects the base model alone. Every id is always sent:
    /// llama-server treats an empty list as "use the global scales" and ignores unknown ids.
    public func loraField(applying adapter: String?) throws(AirlockError) -> String {
        if let adapter, !adapters.contains(where: { $0.name == adapter }) {
            throw AirlockError(.invalidInput, "no adapter named '\(adapter)' is loaded")
        }
        let entries = adapters.enumerated().map { index, candidate in
            "{\"id\":\(index),\"scale\":\(candidate.name == adapter ? 1 : 0)}"
        }
        return "[" + entries.joined(separator: ",") + "]"
    }
}

/// A running `llama-server`, started from a `LlamaServerConfiguration` and ready (its `/health`
/// answered 200) when `start` returns.
public final class LlamaServer: Sendable {
    public let configuration: LlamaServerConfiguration
    public let process: ChildProcess
    public let logPath: String?

    /// A client for the runtime's socket.
    public var client: UnixSocketHTTPClient { UnixSocketHTTPClient(socketPath: configuration.socketPath) }

    private init(configuration: LlamaServerConfiguration, process: ChildProcess, logPath: String?) {
        self.configuration = configuration
        self.process = process
        self.logPath = logPath
    }

    /// Starts the runtime with a cleared environment and waits until it is ready.
    /// A stale socket file at the path is removed first. If the runtime exits or is not ready
    /// within `readinessTimeout`, it is stopped and the error carries the end of its log.
    public static func start(
        _ configuration: LlamaServerConfiguration, logPath: String? = nil,
        readinessTimeout: Duration = .seconds(60)
    ) throws(AirlockError) -> LlamaServer {
        try configuration.validate()
        unlink(configuration.socketPath)
        let process = try ChildProcess(
            executable: configuration.executable, arguments: configuration.arguments,
            environment: [:], outputPath: logPath)
        let server = LlamaServer(configuration: configuration, process: process, logPath: logPath)
        do {
            try server.waitUntilReady(timeout: readinessTimeout)
        } catch {
            process.terminate(grace: .seconds(2))
            throw AirlockError(.process, "llama-server did not become ready", cause: error.appendingLog(of: server))
        }
        return server
    }

    /// Polls `/health` until it answers 200.
    public func waitUntilReady(timeout: Duration) throws(AirlockError) {
        let deadline = ContinuousClock.now + timeout
        let probe = UnixSocketHTTPClient(socketPath: configuration.socketPath, timeout: .seconds(2))
        while true {
            guard process.isRunning else {
                throw AirlockError(.process, "llama-server exited before it was ready")
            }
            if let response = try? probe.get("/health"), response.status == 200 { return }
            guard ContinuousClock.now < deadline else {
                throw AirlockError(.timeout, "llama-server was not ready within \(timeout)")
            }
            usleep(10_000)
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; removes the socket file.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) -> Int32 {
        let status = process.terminate(grace: grace)
        unlink(configuration.socketPath)
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
}

extension AirlockError {
    fileprivate func appendingLog(of server: LlamaServer) -> AirlockError {
        let tail = server.logTail()
        guard !tail.isEmpty else { return self }
        var copy = self
        copy.message += " (log \(server.logPath ?? "")):\n" + tail
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
