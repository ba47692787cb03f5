import AirlockCore
import Foundation
import Runtime
import TestSupport
import Testing

@Suite struct ChildProcessTests {
    @Test func childGetsExactlyTheGivenEnvironment() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let emptyOutput = folder.file("empty.txt")
        let child = try ChildProcess(executable: "/usr/bin/env", arguments: [], outputPath: emptyOutput)
        #expect(try child.waitForExit(timeout: .seconds(10)) == 0)
        #expect(try String(contentsOfFile: emptyOutput, encoding: .utf8) == "")

        let givenOutput = folder.file("given.txt")
        let given = try ChildProcess(
            executable: "/usr/bin/env", arguments: [], environment: ["LANG": "C.UTF-8", "A": "1"], outputPath: givenOutput)
        #expect(try given.waitForExit(timeout: .seconds(10)) == 0)
        #expect(try String(contentsOfFile: givenOutput, encoding: .utf8) == "A=1\nLANG=C.UTF-8\n")
    }

    @Test func argumentsArePassedVerbatimWithoutAShell() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let output = folder.file("out.txt")
        let child = try ChildProcess(
            executable: "/usr/bin/printf", arguments: ["%s|", "a b", "$HOME", "; rm -rf /", "*"], outputPath: output)
        #expect(try child.waitForExit(timeout: .seconds(10)) == 0)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "a b|$HOME|; rm -rf /|*|")
    }

    /// A child that asks for a signal when its parent dies (as `airlock run` and `airlock-serve`
    /// do) keeps running when the thread that started it ends: Linux sends that signal when the
    /// spawning *thread* ends, so children are spawned from a thread that never does.
    @Test func aChildOutlivesTheThreadThatStartedIt() throws {
        let watcher = #"import ctypes, signal, sys, time; ctypes.CDLL(None).prctl(1, signal.SIGTERM); print("armed", flush=True); time.sleep(30)"#
        let folder = try TemporaryDirectory("airlock-child")
        let output = folder.file("out")
        let armed: @Sendable () -> Bool = { (try? String(contentsOfFile: output, encoding: .utf8))?.contains("armed") == true }
        let started = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var child: ChildProcess?
        // The starting thread ends only once the child has armed its signal (one armed later
        // would name whichever thread is its parent by then).
        let thread = Thread {
            child = try? ChildProcess(executable: "/usr/bin/python3", arguments: ["-c", watcher], outputPath: output)
            started.signal()
            let deadline = ContinuousClock.now + .seconds(20)
            while child != nil, ContinuousClock.now < deadline, !armed() { usleep(20_000) }
        }
        thread.start()
        started.wait()
        let process = try #require(child)
        defer { process.terminate(grace: .seconds(1)) }
        while !thread.isFinished { usleep(10_000) }
        #expect(armed(), "the child set its parent-death signal")
        // Give a signal from the thread's end time to arrive.
        usleep(500_000)
        #expect(process.isRunning, "the child was signalled when the thread that started it ended")
    }

    @Test func exitStatusAndSignalsAreReported() throws {
        let failing = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "exit 3"])
        #expect(try failing.waitForExit(timeout: .seconds(10)) == 3)
        let sleeper = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(sleeper.isRunning)
        sleeper.signal(SIGKILL)
        #expect(try sleeper.waitForExit(timeout: .seconds(10)) == 128 + SIGKILL)
        #expect(!sleeper.isRunning)
    }

    @Test func terminateEscalatesToKillAfterTheGracePeriod() throws {
        let stubborn = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "trap '' TERM; sleep 30"])
        usleep(200_000)  // let the shell install its trap
        let started = ContinuousClock.now
        #expect(stubborn.terminate(grace: .milliseconds(300)) == 128 + SIGKILL)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func refusesRelativeOrMissingExecutables() {
        #expect(throws: AirlockError.self) { try ChildProcess(executable: "env", arguments: []) }
        #expect(throws: AirlockError.self) { try ChildProcess(executable: "/nonexistent/llama-server", arguments: []) }
    }
}
