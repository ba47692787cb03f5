public import Foundation
import Runtime

/// The outcome of running a program to completion: exit status and both outputs.
public struct ProcessResult: Sendable, CustomStringConvertible {
    public let command: [String]
    public let status: Int32
    /// Standard output as bytes, exactly as written.
    public let output: Data
    public let stderr: String

    /// Standard output as UTF-8 text.
    public var stdout: String { String(decoding: output, as: UTF8.self) }

    /// Runs `executable` with `arguments`, waits (at most `timeout`), and collects its output.
    /// `environment` nil inherits the test process's environment.
    ///
    /// Output goes through temporary files, not pipes: scripts that leave daemons behind (the
    /// systemd container) must not keep a test waiting for an end of file, and Foundation's
    /// `Process` was seen to hang waiting for such a script's exit.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: Data? = nil, timeout: Duration = .seconds(600)
    ) throws -> ProcessResult {
        let folder = try TemporaryDirectory("airlock-run")
        defer { folder.remove() }
        var inputPath: String?
        if let input {
            inputPath = folder.file("stdin")
            try input.write(to: URL(fileURLWithPath: folder.file("stdin")))
        }
        let child = try ChildProcess(
            executable: executable, arguments: arguments,
            environment: environment ?? ProcessInfo.processInfo.environment,
            outputPath: folder.file("stdout"), errorPath: folder.file("stderr"), inputPath: inputPath)
        let status: Int32
        do {
            status = try child.waitForExit(timeout: timeout)
        } catch {
            child.terminate(grace: .seconds(2))
            throw error
        }
        func read(_ name: String) -> Data {
            (try? Data(contentsOf: URL(fileURLWithPath: folder.file(name)))) ?? Data()
        }
        return ProcessResult(
            command: [executable] + arguments, status: status, output: read("stdout"),
            stderr: String(decoding: read("stderr"), as: UTF8.self))
    }

    /// Throws unless the program exited 0.
    @discardableResult
    public func checked() throws -> ProcessResult {
        guard status == 0 else { throw TestSupportError("failed: \(description)") }
        return self
    }

    public var description: String {
        "\(command.joined(separator: " ")) exited \(status)\nstdout: \(stdout)\nstderr: \(stderr)"
    }
}
