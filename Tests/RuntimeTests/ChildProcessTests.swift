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
