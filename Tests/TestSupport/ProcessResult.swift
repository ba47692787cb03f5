public import Foundation
import Synchronization

/// The outcome of running a program to completion: exit status and both outputs.
public struct ProcessResult: Sendable, CustomStringConvertible {
    public let command: [String]
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// Runs `executable` with `arguments`, waits, and collects its output.
    /// `environment` nil inherits the test process's environment.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: Data? = nil
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(input)
            try inputPipe.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        let errorData = Mutex<Data>(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            errorData.withLock { $0 = data }
            group.leave()
        }
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ProcessResult(
            command: [executable] + arguments, status: process.terminationStatus,
            stdout: String(decoding: outputData, as: UTF8.self),
            stderr: errorData.withLock { String(decoding: $0, as: UTF8.self) })
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
