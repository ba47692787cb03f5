import AirlockCore
import ClientRegistry
import Foundation
import TestSupport

/// A scratch host root with helpers to add clients directly (one scrypt run each).
struct ClientHost {
    let root: TemporaryDirectory
    var layout: HostLayout { HostLayout(root: root.path) }
    var clientsPath: String { layout.clients }

    init() throws { root = try TemporaryDirectory("airlock-clients") }

    func remove() { root.remove() }

    /// Adds `name` through the file API; returns the key.
    @discardableResult
    func add(_ name: String, adapters: [String] = ["claims"]) throws -> ClientKey {
        try ClientsFile.update(path: clientsPath) { (file: inout ClientsFile) throws(AirlockError) -> ClientKey in
            try file.add(name: name, adapters: adapters, secondsSince1970: Int(Date().timeIntervalSince1970))
        }
    }

    func revoke(_ name: String) throws {
        try ClientsFile.update(path: clientsPath) { (file: inout ClientsFile) throws(AirlockError) in
            try file.revoke(name: name, secondsSince1970: Int(Date().timeIntervalSince1970))
        }
    }

    func text() throws -> String { try String(contentsOfFile: clientsPath, encoding: .utf8) }

    /// Runs `airlock --root ROOT ARGS...`.
    func airlock(_ arguments: [String]) throws -> ProcessResult {
        try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root.path] + arguments)
    }

    /// The audit records producers wrote (checkpoints and recoveries left out).
    func auditRecords() throws -> [[String: Any]] {
        let folder = layout.auditDirectory
        guard FileManager.default.fileExists(atPath: folder) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".jsonl") }.sorted()
        var all: [[String: Any]] = []
        for name in names {
            let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
            for line in text.split(separator: "\n") {
                let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                if let action = record["action"] as? String, action != "audit.checkpoint", action != "audit.recovered" { all.append(record) }
            }
        }
        return all
    }
}

func bearer(_ key: ClientKey) -> String { "Bearer " + key.revealed }

/// The permission bits of `path`.
func permissions(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? Int) ?? -1
}

/// Runs `body(index)` on `count` threads of their own at once (not the cooperative pool, which
/// has only as many threads as cores) and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

/// A Sendable box for results collected from threads.
final class Collected<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value] = []
    func append(_ value: Value) { lock.withLock { values.append(value) } }
    var all: [Value] { lock.withLock { values } }
}
