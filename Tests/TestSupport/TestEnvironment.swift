import AirlockCore
public import Foundation

/// Where the real parts the tests need come from: the repository's scripts build or generate
/// them into `${XDG_CACHE_HOME:-$HOME/.cache}/airlock/` (see Docs/testing.md).
public enum TestEnvironment {
    /// The repository's root folder.
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/TestSupport/TestEnvironment.swift
        return url
    }()

    /// A script under `scripts/`.
    public static func script(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("scripts").appendingPathComponent(name).path
    }

    /// The folder holding the built executables (beside the test bundle), or `AIRLOCK_BIN_DIR`.
    public static var executablesDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["AIRLOCK_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" && !url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        if url.path == "/" { url = URL(fileURLWithPath: CommandLine.arguments[0]) }
        return url.deletingLastPathComponent()
    }

    /// The path of a built executable of this package.
    public static func executable(_ name: String) -> String {
        executablesDirectory.appendingPathComponent(name).path
    }

    /// The cached test `llama-server` built by `scripts/test-runtime.sh`. Fails (never skips)
    /// when it is missing: the README's test command builds it first.
    public static func llamaServer() throws -> String {
        let path = try ProcessResult.run(script("test-runtime.sh"), ["--path"]).checked().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestSupportError("no test runtime at \(path): run scripts/test-runtime.sh first (the README's test command does)")
        }
        return path
    }

    /// The demo model folder (`base.gguf` and its adapters), generated on first use by
    /// `scripts/demo-model.sh` and cached.
    public static func demoModel() throws -> DemoModel {
        let folder = try ProcessResult.run(script("demo-model.sh"), []).checked().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return DemoModel(folder: URL(fileURLWithPath: folder))
    }
}

/// The generated tiny demo model: a Llama-architecture base and two LoRA adapters.
public struct DemoModel: Sendable {
    public let folder: URL
    public var base: String { folder.appendingPathComponent("base.gguf").path }
    /// Adapter names and files, in the order the runtime loads them.
    public var adapters: [(name: String, path: String)] {
        Self.adapterNames.map { ($0, folder.appendingPathComponent("\($0).gguf").path) }
    }
    public static let adapterNames = ["claims", "legal"]
}

/// A test-support failure with a message.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A folder under the system's temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String
    public var url: URL { URL(fileURLWithPath: path) }

    public init(_ prefix: String = "airlock-test") throws {
        var template = Array((NSTemporaryDirectory() + "/\(prefix).XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSupportError("mkdtemp failed")
        }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
