public import AirlockCore

/// `llama-server` (llama.cpp) as an `InferenceEngine`: everything it is started with, and how
/// a request names its adapter. The argument list is explicit and complete: nothing comes
/// from the environment (the child's is empty), nothing enables the runtime's tools, MCP,
/// downloads, web UI, slot endpoints or property changes.
public struct LlamaServerEngine: InferenceEngine, Equatable {
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
        return String(decoding: loraList(applying: adapter).bytes, as: UTF8.self)
    }

    /// `loraField` as JSON; a name that is no adapter (the base model's) applies none.
    func loraList(applying adapter: String?) -> JSONValue {
        .array(
            adapters.enumerated().map { index, candidate in
                .object([("id", .int(Int64(index))), ("scale", .int(candidate.name == adapter ? 1 : 0))])
            })
    }

    // MARK: InferenceEngine

    public var name: String { "llama-server" }

    /// Empty: `llama-server` reads `LLAMA_ARG_*` variables that can switch on its tools.
    public var environment: [String: String] { [:] }

    public var slots: Int { parallel }

    public var healthPath: String { "/health" }

    /// llama-server ends the connection after every streamed answer, although its head says
    /// keep-alive (b11434: cpp-httplib's chunked provider returns false once done).
    public var keepsConnectionAfterStream: Bool { false }

    /// `fields`, then `lora` naming every adapter (the chosen one at 1) and `cache_prompt:
    /// false`: llama.cpp's prompt cache has carried one adapter's state into another's request.
    public func requestBody(_ fields: [(String, JSONValue)], adapter: String?) -> JSONValue {
        .object(fields + [("lora", loraList(applying: adapter)), ("cache_prompt", .bool(false))])
    }

    /// The OpenAI shape alone (`OpenAIAnswerShape`): the model id the client named instead
    /// of the runtime's file path, no `timings` or `system_fingerprint` (llama-server's speed
    /// report and build id).
    public func clientAnswer(_ answer: JSONValue, model: String) -> JSONValue {
        OpenAIAnswerShape.normalized(answer, model: model)
    }
}
