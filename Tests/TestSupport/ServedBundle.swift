import Foundation
import Runtime
import Synchronization

/// The demo bundle (generated tiny model, two adapters, the test llama-server), built and
/// signed once per test process with the real `airlock-pack`.
public enum DemoBundle {
    private static let built = Mutex<(bundle: String, publicKey: String)?>(nil)

    /// Lays out the demo bundle's inputs (model, adapters, test runtime, bundle.yaml) in
    /// `input`, as scripts/demo.sh does; returns the spec file's path.
    public static func stageInputs(in input: String) throws -> String {
        let model = try TestEnvironment.demoModel()
        try FileManager.default.createDirectory(atPath: input + "/model", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: input + "/runtime/cpu-generic", withIntermediateDirectories: true)
        for name in ["base.gguf", "claims.gguf", "legal.gguf"] {
            try FileManager.default.copyItem(atPath: model.folder.appendingPathComponent(name).path, toPath: input + "/model/" + name)
        }
        try FileManager.default.copyItem(atPath: try TestEnvironment.llamaServer(), toPath: input + "/runtime/cpu-generic/llama-server")
        try FileManager.default.copyItem(
            atPath: TestEnvironment.repositoryRoot.appendingPathComponent("bundle/demo/bundle.yaml").path, toPath: input + "/bundle.yaml")
        return input + "/bundle.yaml"
    }

    /// The bundle file and the public key that signed it.
    public static func shared() throws -> (bundle: String, publicKey: String, built: BuiltBundle) {
        let (bundle, publicKey) = try sharedFiles()
        return (bundle, publicKey, BuiltBundle(bundle: bundle, publicKey: publicKey, name: ServedBundle.bundleName))
    }

    static func sharedFiles() throws -> (bundle: String, publicKey: String) {
        try built.withLock { cached in
            if let cached { return cached }
            let folder = try TemporaryDirectory("airlock-demo-bundle")
            let spec = try stageInputs(in: folder.file("input"))
            let pack = TestEnvironment.executable("airlock-pack")
            try ProcessResult.run(pack, ["keygen", "--output", folder.file("release.pem")]).checked()
            let bundle = folder.file("claims-assistant-1.0.0.airlock")
            try ProcessResult.run(pack, ["build", spec, "--key", folder.file("release.pem"), "--output", bundle]).checked()
            cached = (bundle, folder.file("release.pub.pem"))
            return (bundle, folder.file("release.pub.pem"))
        }
    }
}

/// The vLLM demo bundle (bundle/demo-hf/bundle.yaml): the generated tiny Hugging Face model
/// and its two PEFT adapters (scripts/hf-model.sh) with the vLLM CPU runtime folder that
/// `airlock-pack runtime vllm` made from the pinned wheels (scripts/vllm-runtime.sh), built and
/// signed once per test process with the real `airlock-pack` (about 2.2 GB of payload: minutes).
public enum VLLMDemoBundle {
    private static let built = Mutex<BuiltBundle?>(nil)
    public static let name = "claims-assistant-hf"

    /// Lays out the inputs in `input` (the runtime folder hard-linked when it can be: 55,793
    /// files); returns the spec file's path.
    public static func stageInputs(in input: String) throws -> String {
        let runtime = try TestEnvironment.vllmRuntime()
        let model = try TestEnvironment.hfModel()
        try FileManager.default.createDirectory(atPath: input + "/runtime", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: input + "/model", withIntermediateDirectories: true)
        let linked = try ProcessResult.run("/bin/cp", ["-al", runtime, input + "/runtime/vllm-cpu"])
        if linked.status != 0 {
            try ProcessResult.run("/bin/rm", ["-rf", input + "/runtime/vllm-cpu"]).checked()
            try ProcessResult.run("/bin/cp", ["-a", runtime, input + "/runtime/vllm-cpu"]).checked()
        }
        for folder in ["base", "adapters"] {
            try FileManager.default.copyItem(atPath: model + "/" + folder, toPath: input + "/model/" + folder)
        }
        try FileManager.default.copyItem(
            atPath: TestEnvironment.repositoryRoot.appendingPathComponent("bundle/demo-hf/bundle.yaml").path, toPath: input + "/bundle.yaml")
        return input + "/bundle.yaml"
    }

    /// Built once per test process; `AIRLOCK_TEST_VLLM_BUNDLE=BUNDLE:PUBLIC_KEY` names one built
    /// before (a shortcut while working on the tests; CI never sets it).
    public static func shared() throws -> BuiltBundle {
        try built.withLock { cached in
            if let cached { return cached }
            if let given = ProcessInfo.processInfo.environment["AIRLOCK_TEST_VLLM_BUNDLE"], case let parts = given.split(separator: ":"),
                parts.count == 2
            {
                let result = BuiltBundle(bundle: String(parts[0]), publicKey: String(parts[1]), name: name)
                cached = result
                return result
            }
            // One place, emptied first: a test run does not leave 660 MB behind in /tmp each time.
            let folder = TestEnvironment.cacheFolder("test-vllm-bundle")
            try? FileManager.default.removeItem(atPath: folder.path)
            try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
            let spec = try stageInputs(in: folder.file("input"))
            let pack = TestEnvironment.executable("airlock-pack")
            try ProcessResult.run(pack, ["keygen", "--output", folder.file("release.pem")]).checked()
            let bundle = folder.file("\(name)-1.0.0.airlock")
            try ProcessResult.run(pack, ["build", spec, "--key", folder.file("release.pem"), "--output", bundle], timeout: .seconds(1800))
                .checked()
            // The staged copy is not needed again (the bundle holds it).
            try? FileManager.default.removeItem(atPath: folder.file("input"))
            let result = BuiltBundle(bundle: bundle, publicKey: folder.file("release.pub.pem"), name: name)
            cached = result
            return result
        }
    }
}

/// A signed bundle file, the public key that signed it and the bundle's name.
public struct BuiltBundle: Sendable {
    public var bundle: String
    public var publicKey: String
    public var name: String
}

/// The demo bundle installed under a fresh `--root` and served by `airlock run` (the real
/// runtime and the real gateway, as separate processes), with API clients added through
/// `airlock clients add`. Tests talk to it over TCP like any client.
public final class ServedBundle: @unchecked Sendable {
    public let folder: TemporaryDirectory
    public var root: String { folder.file("root") }
    /// The gateway's port on 127.0.0.1.
    public private(set) var port = 0
    /// Keys by client name, as `clients add` printed them.
    public private(set) var keys: [String: String] = [:]
    private var supervisor: ChildProcess?
    public var logPath: String { folder.file("airlock-run.log") }

    public static let bundleName = "claims-assistant"
    /// The bundle served (the demo bundle's name unless another was given).
    public let name: String
    /// How long `airlock run` may take until the gateway serves (vLLM starts in 25-40 s).
    public let readiness: Duration

    /// The client `init` adds with the right to read `/metrics` and no model.
    public static let monitor = "monitor"

    /// Installs the demo bundle, writes `gatewayConfig` (YAML) if given, adds `clients`
    /// (name → models) and the metrics-only client `monitor`, and starts `airlock run` on a
    /// free port; returns once it answers.
    /// `prepare` runs on the empty root first (a test mounts a small file system there).
    public init(
        clients: [String: [String]] = ["claims-app": ["claims"], "everything": ["*"]], gatewayConfig: String? = nil,
        bundle: BuiltBundle? = nil, readiness: Duration = .seconds(60), prepare: ((String) throws -> Void)? = nil
    ) throws {
        folder = try TemporaryDirectory("airlock-served")
        try FileManager.default.createDirectory(atPath: folder.file("root"), withIntermediateDirectories: true)
        try prepare?(folder.file("root"))
        let demo = try bundle ?? DemoBundle.shared().built
        name = demo.name
        self.readiness = readiness
        try airlock(["trust", "add", demo.publicKey, "--names", "claims-*"])
        try airlock(["install", demo.bundle, "--no-start"])
        if let gatewayConfig {
            try FileManager.default.createDirectory(atPath: root + "/etc/airlock", withIntermediateDirectories: true)
            try gatewayConfig.write(toFile: root + "/etc/airlock/gateway.yaml", atomically: true, encoding: .utf8)
        }
        for (name, models) in clients.sorted(by: { $0.key < $1.key }) {
            try addClient(name, models: models)
        }
        try addClient(Self.monitor, models: [], metrics: true)
        try start()
    }

    /// Stops it and removes its folder (an installed vLLM bundle is 2.4 GB).
    deinit {
        stop()
        folder.remove()
    }

    @discardableResult
    public func airlock(_ arguments: [String]) throws -> ProcessResult {
        try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root] + arguments).checked()
    }

    /// Adds a client and remembers its key.
    public func addClient(_ name: String, models: [String], metrics: Bool = false) throws {
        let rights = (models.isEmpty ? [] : ["--adapters", models.joined(separator: ",")]) + (metrics ? ["--metrics"] : [])
        let added = try airlock(["clients", "add", name] + rights + ["--json"])
        let object = try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any]
        guard let key = object?["key"] as? String else { throw TestSupportError("no key in \(added.stdout)") }
        keys[name] = key
    }

    /// Starts `airlock run` on a port chosen by the kernel and waits until the gateway serves.
    ///
    /// Ready means that this bundle's gateway answers one of this bundle's keys: `/health`
    /// alone could be answered by another test's gateway that took the same port between
    /// `freePort()` and the bind (ours then exits on the bind, and starting again on a new
    /// port is tried, three times at most).
    public func start() throws {
        var lastLog = ""
        for _ in 1...3 {
            port = try Self.freePort()
            let arguments = ["--root", root, "run", name, "--listen", "127.0.0.1:\(port)"]
            let child = try ChildProcess(
                executable: TestEnvironment.executable("airlock"), arguments: arguments, environment: [:],
                outputPath: logPath)
            supervisor = child
            let probeKey = keys.values.sorted().first  // every key may ask /v1/models (a model-less one gets an empty list)
            let deadline = ContinuousClock.now + readiness
            while ContinuousClock.now < deadline, child.isRunning {
                if let health = try? HTTPTestConnection.request(port: port, "GET", "/health", timeout: .seconds(2)),
                    health.status == 200
                {
                    guard let probeKey else { return }
                    let models = try? HTTPTestConnection.request(port: port, "GET", "/v1/models", key: probeKey, timeout: .seconds(2))
                    if models?.status == 200 { return }
                }
                usleep(50_000)
            }
            lastLog = log
            stop()
            guard lastLog.contains("in use") else {
                throw TestSupportError(
                    child.isRunning ? "the gateway did not become ready within \(readiness):\n\(lastLog)" : "airlock run exited:\n\(lastLog)")
            }
        }
        throw TestSupportError("no free port for the gateway after three tries:\n\(lastLog)")
    }

    /// Ctrl-C's equivalent: SIGTERM to `airlock run`, which stops the gateway and the runtime.
    public func stop() {
        guard let supervisor else { return }
        supervisor.signal(SIGTERM)
        _ = try? supervisor.waitForExit(timeout: .seconds(45))
        supervisor.terminate(grace: .seconds(1))
        self.supervisor = nil
    }

    /// What `airlock run` and the gateway printed.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The pid `airlock run` printed last for the runtime (it changes when it is restarted).
    public var runtimePID: Int32? {
        let matches = log.components(separatedBy: "\n").compactMap { line -> Int32? in
            guard let range = line.range(of: "runtime pid ") ?? line.range(of: "runtime restarted (pid ") else { return nil }
            return Int32(line[range.upperBound...].prefix { $0.isNumber })
        }
        return matches.last
    }

    /// The gateway's pid, as `airlock run` printed it.
    public var gatewayPID: Int32? {
        guard let range = log.range(of: "gateway pid ") else { return nil }
        return Int32(log[range.upperBound...].prefix { $0.isNumber })
    }

    /// Open file descriptors of a process.
    public static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// The runtime's socket (to ask llama-server directly, bypassing the gateway).
    public var runtimeSocket: String { root + "/run/airlock/\(name)/runtime.sock" }

    /// The installed version's folder.
    public var installedTree: String { root + "/var/lib/airlock/\(name)/1.0.0" }

    /// A request on a fresh connection.
    public func request(
        _ method: String, _ path: String, body: String? = nil, key: String? = nil, headers: [String: String] = [:]
    ) throws -> HTTPTestResponse {
        try HTTPTestConnection.request(port: port, method, path, body: body, key: key, headers: headers)
    }

    /// `GET /metrics` with the monitor's key.
    public func metrics() throws -> HTTPTestResponse {
        try request("GET", "/metrics", key: keys[Self.monitor])
    }

    /// A chat request as JSON text.
    public static func chat(model: String, _ prompt: String = "Is water damage covered?", maxTokens: Int = 12, stream: Bool = false) -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(prompt)"}],"max_tokens":\#(maxTokens),"temperature":0,"stream":\#(stream)}"#
    }

    /// The answer text of a chat completion (whole or streamed).
    public static func answer(_ response: HTTPTestResponse) -> String {
        if response.headers["content-type"]?.hasPrefix("text/event-stream") == true {
            return response.events.compactMap { event -> String? in
                guard let object = try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any],
                    let choices = object["choices"] as? [[String: Any]], let first = choices.first
                else { return nil }
                return ((first["delta"] as? [String: Any])?["content"] as? String) ?? (first["text"] as? String)
            }.joined()
        }
        guard let choices = response.json["choices"] as? [[String: Any]], let first = choices.first else { return "" }
        return ((first["message"] as? [String: Any])?["content"] as? String) ?? (first["text"] as? String) ?? ""
    }

    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(descriptor, pointer, length) == 0 else { return -1 }
                return getsockname(descriptor, pointer, &length)
            }
        }
        guard bound == 0 else { throw TestSupportError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
