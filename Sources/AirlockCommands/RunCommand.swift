internal import ArgumentParser
internal import AirlockCore
internal import AuditLog
internal import HostServices
internal import Foundation
internal import Runtime
internal import Synchronization

/// Set by SIGINT/SIGTERM while `airlock run` supervises.
private let stopRequested = Atomic<Int32>(0)

extension AirlockCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an installed bundle's runtime and gateway in the foreground, without systemd (Ctrl-C stops both).",
            discussion: """
                Starts the bundle's runtime (llama-server, or vLLM on the host's Python; \
                explicit arguments, its own complete environment, a Unix socket under \
                ROOT/run/airlock/NAME) and the gateway, airlock-serve, \
                with the arguments the systemd units use. If the runtime dies it is restarted \
                (the gateway answers 503 meanwhile and resumes by itself); Ctrl-C or SIGTERM \
                stops the gateway (answers in flight finish) and then the runtime.
                """)
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Option(help: ArgumentHelp("Address the gateway listens on.", valueName: "HOST:PORT"))
        var listen: String = "127.0.0.1:8080"

        func run() async throws {
            let layout = root.layout
            let address = try ListenAddress(listen)
            let plan = try ServicePlan.load(layout: layout, name: name)
            try AtomicFile.makeDirectories(plan.runDirectory, mode: 0o750)
            // One `airlock run` per bundle: a second would take over the runtime's socket and,
            // when it stopped, leave the first gateway with none. Held until this process exits.
            let lockPath = plan.runDirectory + "/run.lock"
            guard let instance = try FileLock.tryLock(path: lockPath) else {
                let holder = FileLock.holder(path: lockPath).map { " (\($0.trimmingCharacters(in: .whitespacesAndNewlines)))" } ?? ""
                throw AirlockError(
                    .refused, "\(plan.name) is already being served by another 'airlock run'\(holder): stop it first (Ctrl-C, or kill its pid)")
            }
            defer { instance.release() }
            instance.write("pid \(getpid()), listening on \(listen)\n")
            if PortProbe.unixSocketAnswers(path: plan.runDirectory + "/runtime.sock") {
                throw AirlockError(
                    .refused,
                    "\(plan.name)'s runtime is already serving on \(plan.runDirectory)/runtime.sock (its systemd services?): stop them first (systemctl stop 'airlock-*@\(plan.name).service')"
                )
            }
            if let busy = PortProbe.whyNotFree(host: address.host, port: address.port) {
                throw AirlockError(.refused, "cannot serve \(plan.name) on \(listen): \(busy) (choose another with --listen HOST:PORT)")
            }
            let runtimeLog = plan.runDirectory + "/runtime.log"
            let serve = try Executables.sibling("airlock-serve")
            // The gateway signs its checkpoints with its own key, which the host key certifies.
            try AuditGatewayKey.prepare(host: layout)

            ChildProcess.stopWhenParentExits(signal: SIGTERM)
            for number in [SIGINT, SIGTERM] {
                signal(number) { caught in stopRequested.store(caught, ordering: .relaxed) }
            }
            Output.line("airlock run: starting \(plan.name) \(plan.version) (runtime log: \(runtimeLog))")
            var runtime = try plan.runtime.launch(logPath: runtimeLog)
            let gateway = try ChildProcess(
                executable: serve, arguments: ["--root", layout.root, plan.name, "--listen", listen],
                environment: [:], inheritOutput: true)
            Output.line("airlock run: runtime pid \(runtime.process.pid), gateway pid \(gateway.pid); Ctrl-C stops both")

            var backoff = Duration.milliseconds(250)
            while stopRequested.load(ordering: .relaxed) == 0 {
                if !gateway.isRunning {
                    runtime.stop()
                    let status = (try? gateway.waitForExit(timeout: .seconds(1))) ?? -1
                    throw AirlockError(.process, "the gateway (airlock-serve) exited with status \(status); the runtime was stopped")
                }
                if !runtime.process.isRunning {
                    Output.line("airlock run: the runtime exited; restarting it (the gateway answers 503 meanwhile)")
                    try? await Task.sleep(for: backoff)
                    do {
                        runtime = try plan.runtime.launch(logPath: runtimeLog)
                        backoff = .milliseconds(250)
                        Output.line("airlock run: runtime restarted (pid \(runtime.process.pid))")
                    } catch {
                        Output.line("airlock run: the runtime did not start again: \(error)")
                        backoff = min(backoff * 2, .seconds(10))
                    }
                    continue
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            Output.line("airlock run: stopping the gateway, then the runtime")
            gateway.signal(SIGTERM)
            _ = try? gateway.waitForExit(timeout: .seconds(40))
            _ = gateway.terminate(grace: .seconds(1))
            runtime.stop()
            Output.line("airlock run: stopped")
        }
    }
}
