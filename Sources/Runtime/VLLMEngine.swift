public import AirlockCore
internal import Foundation

/// vLLM's OpenAI-compatible server as an `InferenceEngine`: the host's Python runs the launcher
/// of a verified runtime folder (made by `airlock-pack runtime vllm`) isolated (`-I`: no user site, no `PYTHON*` variables, no script folder on the path;
/// `-S`: not even Debian's dist-packages; `-B`: no bytecode written into the read-only store),
/// on a Unix socket (`--uds`), with the base and every adapter loaded at start
/// and nothing fetched: the environment is complete and switches every hub and telemetry
/// access off, and points every cache into the unit's own state folder.
///
/// `ServicePlan` builds it for a runtime variant whose engine is `vllm`; `airlock run` starts it
/// with `prepare()` first, the runtime's unit with the same arguments and environment (TMPDIR
/// then the unit's private /tmp, fresh at each start).
public struct VLLMEngine: InferenceEngine, Equatable {
    /// The host's interpreter (`/usr/bin/python3.11`: the ABI the runtime folder was built for).
    public var python: String
    /// The runtime folder's launcher (absolute path).
    public var launcher: String
    /// The base model's Hugging Face folder.
    public var model: String
    /// The id vLLM gives the base model (requests for the base name it).
    public var servedName: String
    /// PEFT adapter folders, loaded at start; requests pick theirs by name.
    public var adapters: [RuntimeAdapter]
    public var socketPath: String
    /// Context per request (tokens): `--max-model-len`.
    public var contextSize: Int
    /// Requests generated at once: `--max-num-seqs`.
    public var parallel: Int
    /// `--max-lora-rank`: the manifest's `max_lora_rank`, rounded up to a rank vLLM accepts.
    public var maxLoraRank: Int
    /// The unit's state folder: caches and configuration, nothing else.
    public var stateDirectory: String
    /// CPU threads for the CPU build (`OMP_NUM_THREADS`).
    public var threads: Int
    public var backlog: Int

    /// The ranks vLLM's `--max-lora-rank` accepts (0.32).
    public static let acceptedRanks = [1, 8, 16, 32, 64, 128, 256, 320, 512]

    public init(
        python: String, launcher: String, model: String, servedName: String, adapters: [RuntimeAdapter], socketPath: String,
        contextSize: Int, parallel: Int, maxLoraRank: Int, stateDirectory: String, threads: Int = 1, backlog: Int = 0
    ) {
        self.python = python
        self.launcher = launcher
        self.model = model
        self.servedName = servedName
        self.adapters = adapters
        self.socketPath = socketPath
        self.contextSize = contextSize
        self.parallel = parallel
        self.maxLoraRank = Self.acceptedRanks.first { $0 >= maxLoraRank } ?? maxLoraRank
        self.stateDirectory = stateDirectory
        self.threads = threads
        self.backlog = backlog
    }

    /// Start-up imports three interpreters' worth of torch and vLLM: 25-40 s on two cores
    /// (Docs/notes-vllm-runtime.md), so the margin is wide.
    public var startTimeout: Duration { .seconds(300) }

    /// The temporary folder: torch's rendezvous file and vLLM's ZeroMQ sockets go there, so it
    /// must be fresh at each start, its own, and short (a Unix socket's path has 107 bytes at
    /// most). Under the unit: its private /tmp. Under `airlock run`: a `mkdtemp` folder under
    /// /tmp (0700, a name no other user can take first), removed when the runtime stops.
    public static let temporaryDirectory = "/tmp"

    public var writableDirectory: String? { stateDirectory }

    public var name: String { "vllm" }
    public var executable: String { python }

    public var arguments: [String] {
        var arguments = [
            "-I", "-S", "-B", launcher,
            "--model", model,
            "--served-model-name", servedName,
            "--uds", socketPath,
            "--max-model-len", String(contextSize),
            "--max-num-seqs", String(parallel),
            // The gateway polls /health; one journal line per poll is noise (requests are
            // the audit log's, and vLLM does not log prompts unless --enable-log-requests).
            "--disable-uvicorn-access-log",
            // Structured outputs by xgrammar alone (not "auto", which falls back to other
            // backends per schema) and compact: no run of white space between JSON tokens, which
            // costs tokens and, on a weak model, runs to the token cap.
            "--structured-outputs-config", #"{"backend":"xgrammar","disable_any_whitespace":true}"#,
        ]
        if !adapters.isEmpty {
            arguments += ["--enable-lora", "--max-loras", String(adapters.count), "--max-lora-rank", String(maxLoraRank), "--lora-modules"]
            arguments += adapters.map { "\($0.name)=\($0.path)" }
        }
        return arguments
    }

    /// Complete: nothing is inherited. The hub, telemetry and usage reports off; every cache in
    /// the state folder (vLLM, Hugging Face, XDG, Python's temporary files, HOME).
    public var environment: [String: String] {
        let state = stateDirectory
        return [
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
            "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "VLLM_DO_NOT_TRACK": "1",
            "HOME": state, "HF_HOME": state + "/hf", "VLLM_CACHE_ROOT": state + "/vllm-cache", "VLLM_CONFIG_ROOT": state + "/vllm-config",
            "XDG_CACHE_HOME": state + "/cache", "XDG_CONFIG_HOME": state + "/config", "TMPDIR": Self.temporaryDirectory,
            "OMP_NUM_THREADS": String(threads), "VLLM_CPU_KVCACHE_SPACE": "1",
            // Without it vLLM finds its own address by a UDP connect to 8.8.8.8.
            "VLLM_HOST_IP": "127.0.0.1",
            "PATH": "/usr/bin:/bin",
        ]
    }

    public var slots: Int { parallel }
    public var healthPath: String { "/health" }
    /// Not yet measured for vLLM's server: the gateway closes after a stream, the safe choice.
    public var keepsConnectionAfterStream: Bool { false }

    /// Refuses what vLLM would misread: relative paths, an adapter name or path holding `=`
    /// or white space (`--lora-modules NAME=PATH`), the served name colliding with an adapter.
    public func validate() throws(AirlockError) {
        for path in [python, launcher, model, socketPath, stateDirectory] where !path.hasPrefix("/") {
            throw AirlockError(.invalidInput, "vLLM path '\(path)' must be absolute")
        }
        for adapter in adapters {
            guard !adapter.name.contains("="), !(adapter.name + adapter.path).contains(where: \.isWhitespace), adapter.path.hasPrefix("/") else {
                throw AirlockError(.invalidInput, "adapter '\(adapter.name)' at '\(adapter.path)' cannot be named on vLLM's command line")
            }
        }
        guard Set(adapters.map(\.name) + [servedName]).count == adapters.count + 1 else {
            throw AirlockError(.invalidInput, "two models share a name (adapters and '\(servedName)')")
        }
        guard contextSize > 0, parallel > 0, threads > 0, backlog >= 0, Self.acceptedRanks.contains(maxLoraRank) else {
            throw AirlockError(
                .invalidInput, "context, parallel and threads must be positive, and max_lora_rank at most \(Self.acceptedRanks.last!)")
        }
    }

    /// The state folder (0700, made when missing; its caches are kept across starts: the
    /// model-info cache saves ~11 s).
    public func prepare() throws(AirlockError) {
        try AtomicFile.makeDirectories(stateDirectory, mode: 0o700)
    }

    /// Outside systemd: the engine's environment with TMPDIR a fresh private folder, removed
    /// again when the runtime is stopped.
    public func start(logPath: String?, readinessTimeout: Duration) throws(AirlockError) -> RuntimeProcess<Self> {
        let folder = try AtomicFile.makeTemporaryFolder(in: Self.temporaryDirectory, prefix: "airlock-vllm")
        var environment = environment
        environment["TMPDIR"] = folder
        let remove: @Sendable () -> Void = { try? FileManager.default.removeItem(atPath: folder) }
        do {
            return try startProcess(environment: environment, logPath: logPath, readinessTimeout: readinessTimeout, cleanup: remove)
        } catch {
            remove()
            throw error
        }
    }

    /// `fields` with `model` naming the adapter (or the base): vLLM picks the LoRA by model id.
    public func requestBody(_ fields: [(String, JSONValue)], adapter: String?) -> JSONValue {
        .object(fields.filter { $0.0 != "model" } + [("model", .string(adapter ?? servedName))])
    }

    /// The OpenAI shape alone (`OpenAIAnswerShape`): the model id the client named, nothing
    /// only vLLM reports.
    public func clientAnswer(_ answer: JSONValue, model: String) -> JSONValue {
        OpenAIAnswerShape.normalized(answer, model: model)
    }
}
