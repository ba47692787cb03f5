public import AirlockCore
internal import Synchronization
internal import CAirlockShims

/// A child process started with an explicit argument list and an explicit (by default empty)
/// environment, never a shell and never the parent's environment.
///
/// The runtime reads `LLAMA_ARG_*` variables that can switch on shell and file tools, model
/// downloads and MCP proxies; starting it through this type is what keeps those out of reach.
/// The child gets its own process group, default signal dispositions, an empty signal mask,
/// `/dev/null` as standard input and no other inherited file descriptors.
public final class ChildProcess: @unchecked Sendable {
    /// The process id.
    public let pid: Int32
    /// What was run, for messages.
    public let executable: String

    private let state = Mutex<ExitState>(.running)

    private enum ExitState: Sendable {
        case running
        case exited(Int32)
        case signalled(Int32)
    }

    /// Starts `executable` (an absolute path; no `PATH` search) with exactly `arguments` and
    /// `environment`. Standard output goes to `outputPath` (appended, created 0600) or to
    /// `/dev/null`; standard error to `errorPath`, or wherever standard output goes. Standard
    /// input comes from `inputPath` or `/dev/null`. With `inheritOutput`, standard output and
    /// error stay this process's own (a foreground child such as the gateway under `airlock run`).
    public init(
        executable: String, arguments: [String], environment: [String: String] = [:],
        outputPath: String? = nil, errorPath: String? = nil, inputPath: String? = nil,
        workingDirectory: String? = nil, inheritOutput: Bool = false
    ) throws(AirlockError) {
        guard executable.hasPrefix("/") else {
            throw AirlockError(.invalidInput, "executable '\(executable)' must be an absolute path")
        }
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath ?? "/dev/null", O_RDONLY, 0)
        if !inheritOutput {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
            if let errorPath {
                posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            } else {
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            }
        }
        CAirlockShims_posix_spawn_file_actions_addclosefrom_np(&actions, 3)
        if let workingDirectory { CAirlockShims_posix_spawn_file_actions_addchdir_np(&actions, workingDirectory) }

        var allSignals = sigset_t()
        var noSignals = sigset_t()
        sigfillset(&allSignals)
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = [executable] + arguments
        let envp = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let result = SpawnerThread.shared.run {
            withCStrings(argv) { argvPointers in
                withCStrings(envp) { envPointers in
                    posix_spawn(&pid, executable, &actions, &attributes, argvPointers, envPointers)
                }
            }
        }
        guard result == 0 else {
            throw AirlockError.system("cannot start \(executable)", errno: result)
        }
        self.pid = pid
        self.executable = executable
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = try? waitForExit(timeout: .seconds(5))
        }
    }

    /// Asks the kernel to send this process `signal` when its parent exits, so that a
    /// foreground supervisor (`airlock run`) never outlives the shell or test that started it.
    /// (The kernel's "parent" is the thread that spawned the process: `ChildProcess` spawns
    /// from a thread that never ends, `SpawnerThread`.)
    public static func stopWhenParentExits(signal: Int32) {
        _ = CAirlockShims_set_parent_death_signal(signal)
    }

    /// Whether the process has not been seen to exit yet (reaps it if it has).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Sends `signal` to the process (not to its group).
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits until the process exits; returns its exit status, or 128 + signal number when a
    /// signal ended it (as shells report it).
    @discardableResult
    public func waitForExit(timeout: Duration) throws(AirlockError) -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = reap(blocking: false) { return status }
            guard ContinuousClock.now < deadline else {
                throw AirlockError(.timeout, "\(executable) (pid \(pid)) did not exit within \(timeout)")
            }
            usleep(5_000)
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    @discardableResult
    public func terminate(grace: Duration = .seconds(5)) -> Int32 {
        signal(SIGTERM)
        if let status = try? waitForExit(timeout: grace) { return status }
        signal(SIGKILL)
        return (try? waitForExit(timeout: .seconds(10))) ?? 128 + SIGKILL
    }

    private func reap(blocking: Bool) -> Int32? {
        state.withLock { state -> Int32? in
            switch state {
            case .exited(let code): return code
            case .signalled(let number): return 128 + number
            case .running: break
            }
            var status: Int32 = 0
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            guard result == pid else { return nil }
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros: decode by hand.
            let termination = status & 0x7f
            if termination == 0 {
                let code = (status >> 8) & 0xff
                state = .exited(code)
                return code
            }
            state = .signalled(termination)
            return 128 + termination
        }
    }
}

/// Calls `body` with a NULL-terminated C array of C strings made from `strings`.
private func withCStrings<Result>(
    _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result
) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}

/// The one thread every `ChildProcess` is spawned from, which never ends. Linux sends a child's
/// parent-death signal (PR_SET_PDEATHSIG, which `airlock run` and `airlock-serve` set on
/// themselves) when the *thread* that spawned it ends, not when its process does; Swift's
/// concurrency pool retires idle threads, and a gateway spawned from one by `airlock run` was
/// told to stop in the middle of a test run (its log: "shutting down", status 0).
private final class SpawnerThread: @unchecked Sendable {
    static let shared = SpawnerThread()

    private let request = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    /// One caller at a time hands the thread its job.
    private let callers = Mutex(())
    /// Set by the caller holding `callers`, run and cleared by the thread.
    private var job: (() -> Void)?

    private init() {
        sem_init(request, 0, 0)
        sem_init(done, 0, 0)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<SpawnerThread>.fromOpaque(context!).takeUnretainedValue().serve()
            }, context)
        precondition(created == 0, "cannot start the thread that spawns child processes (error \(created))")
        pthread_detach(thread)
    }

    private func serve() -> Never {
        while true {
            while sem_wait(request) != 0 {}  // only EINTR
            job?()
            job = nil
            sem_post(done)
        }
    }

    /// Runs `body` on the spawner thread and returns what it returned.
    func run<T>(_ body: () -> T) -> T {
        var result: T?
        withoutActuallyEscaping(body) { body in
            callers.withLock { _ in
                job = { result = body() }
                sem_post(request)
                while sem_wait(done) != 0 {}  // only EINTR
            }
        }
        return result!
    }
}
