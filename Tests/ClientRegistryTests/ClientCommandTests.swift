import AirlockCore
import ArgumentParser
import ClientRegistry
import Foundation
import TestSupport
import Testing

@testable import AirlockCommands

/// `airlock clients add|list|revoke`, in-process and as the executable.
@Suite struct ClientCommandTests {
    // MARK: In-process

    @Test func addAndRevokeInProcessRecordOneAuditRecordEach() async throws {
        let host = try ClientHost()
        defer { host.remove() }
        let add = try #require(
            try AirlockCommand.parseAsRoot(
                ["--root", host.root.path, "clients", "add", "teller-app", "--adapters", "claims, legal"]) as? AirlockCommand.Clients.Add)
        let (key, added) = try await add.addClient(layout: host.layout)
        #expect(added.name == "teller-app" && added.adapters == ["claims", "legal"] && added.keyID == key.keyID)
        #expect(ClientRegistry(layout: host.layout).authenticate(authorizationHeader: bearer(key)).client?.name == "teller-app")

        var records = try host.auditRecords()
        #expect(records.count == 1)
        #expect(records.last?["action"] as? String == "client.add" && records.last?["outcome"] as? String == "ok")
        let details = records.last?["details"] as? [String: String]
        #expect(details?["client"] == "teller-app" && details?["adapters"] == "claims,legal" && details?["key"] == "alk_" + key.keyID)
        let log = try FileManager.default.contentsOfDirectory(atPath: host.layout.auditDirectory)
            .map { (try? String(contentsOfFile: host.layout.auditDirectory + "/" + $0, encoding: .utf8)) ?? "" }.joined()
        #expect(!log.contains(key.revealed), "the audit log holds the key")

        // A duplicate active name is refused, and recorded as refused.
        let again = try #require(
            try AirlockCommand.parseAsRoot(
                ["--root", host.root.path, "clients", "add", "teller-app", "--adapters", "claims"]) as? AirlockCommand.Clients.Add)
        await #expect(throws: AirlockError.self) { _ = try await again.addClient(layout: host.layout) }
        records = try host.auditRecords()
        #expect(records.count == 2 && records.last?["outcome"] as? String == "refused")
        #expect((records.last?["details"] as? [String: String])?["reason"]?.contains("already exists") == true)

        let revoke = try #require(
            try AirlockCommand.parseAsRoot(
                ["--root", host.root.path, "clients", "revoke", "teller-app"]) as? AirlockCommand.Clients.Revoke)
        let revoked = try await revoke.revokeClient(layout: host.layout)
        #expect(revoked.isRevoked && revoked.keyID == key.keyID)
        records = try host.auditRecords()
        #expect(records.count == 3 && records.last?["action"] as? String == "client.revoke" && records.last?["outcome"] as? String == "ok")
        if case .revoked = ClientRegistry(layout: host.layout).authenticate(authorizationHeader: bearer(key)) {
        } else {
            Issue.record("a revoked key still authenticates")
        }
    }

    @Test func addWithoutAdaptersIsRefusedWithAnExplanation() async throws {
        let host = try ClientHost()
        defer { host.remove() }
        let add = try #require(
            try AirlockCommand.parseAsRoot(
                ["--root", host.root.path, "clients", "add", "teller-app"]) as? AirlockCommand.Clients.Add)
        let error = await #expect(throws: AirlockError.self) { _ = try await add.addClient(layout: host.layout) }
        #expect(error?.code == .usage)
        #expect(error?.description.contains("--adapters is required") == true && error?.description.contains("'*'") == true)
        #expect(!FileManager.default.fileExists(atPath: host.clientsPath))
        #expect(try host.auditRecords().count == 1)
    }

    // MARK: The executable

    @Test func addListRevokeThroughTheExecutable() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let added = try host.airlock(["clients", "add", "teller-app", "--adapters", "claims,legal"])
        #expect(added.status == 0, "\(added)")
        // The key alone on stdout; the advice on stderr.
        let key = try #require(ClientKey(parsing: added.stdout.trimmingCharacters(in: .newlines)), "\(added.stdout)")
        #expect(added.stdout == key.revealed + "\n")
        #expect(added.stderr.contains("store this key now") && added.stderr.contains("alk_" + key.keyID))
        #expect(!added.stderr.contains(key.revealed))

        let json = try host.airlock(["clients", "add", "batch", "--adapters", "*", "--json"])
        #expect(json.status == 0, "\(json)")
        let issued = try #require(try JSONSerialization.jsonObject(with: json.output) as? [String: Any])
        let batchKey = try #require(ClientKey(parsing: issued["key"] as? String ?? ""))
        #expect(issued["client"] as? String == "batch" && issued["key_id"] as? String == "alk_" + batchKey.keyID)
        #expect(issued["adapters"] as? [String] == ["*"])

        let list = try host.airlock(["clients", "list"]).checked()
        #expect(list.stdout.contains("teller-app  alk_\(key.keyID)  models: claims,legal") && list.stdout.contains("active"))
        #expect(!list.stdout.contains(key.revealed) && !list.stdout.contains(batchKey.revealed))

        _ = try host.airlock(["clients", "revoke", "teller-app"]).checked()
        let listed = try host.airlock(["clients", "list", "--json"]).checked()
        let entries = try #require(try JSONSerialization.jsonObject(with: listed.output) as? [[String: Any]])
        #expect(entries.count == 2)
        #expect(entries[0]["name"] as? String == "teller-app" && entries[0]["revoked"] is String)
        #expect(
            entries[1]["name"] as? String == "batch" && entries[1]["revoked"] == nil && entries[1]["key_id"] as? String == "alk_" + batchKey.keyID)

        let registry = ClientRegistry(layout: host.layout)
        if case .revoked = registry.authenticate(authorizationHeader: bearer(key)) {} else { Issue.record("revoked key accepted") }
        #expect(registry.authenticate(authorizationHeader: bearer(batchKey)).client?.mayUse(model: "legal") == true)

        let text = try host.text()
        for secret in [key.revealed, batchKey.revealed, String(key.revealed.dropFirst(17)), String(batchKey.revealed.dropFirst(17))] {
            #expect(!text.contains(secret), "clients.yaml holds a key")
        }
        #expect(try permissions(host.clientsPath) == 0o640)
    }

    /// A model no installed bundle offers is most likely a typo: the client is added (a bundle
    /// may come later) with a warning naming the models that are there.
    @Test func addWarnsOfModelsNoInstalledBundleHas() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let added = try host.airlock(["clients", "add", "app", "--adapters", "clams,*"])
        #expect(added.status == 0, "\(added)")
        #expect(added.stderr.contains("warning: no installed bundle offers clams (installed models: none)"), "\(added.stderr)")
        let quiet = try host.airlock(["clients", "add", "all", "--adapters", "*"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("warning"), "\(quiet.stderr)")
    }

    @Test func refusalsExitNonZeroWithOneLineAndEachLeavesOneRecord() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let steps: [(arguments: [String], status: Int32, action: String, outcome: String, says: String)] = [
            (["clients", "add", "teller-app"], 64, "client.add", "refused", "--adapters is required"),
            (["clients", "add", "Teller App", "--adapters", "claims"], 1, "client.add", "refused", "client name 'Teller App' is not allowed"),
            (["clients", "add", "teller-app", "--adapters", "claims"], 0, "client.add", "ok", ""),
            (["clients", "add", "teller-app", "--adapters", "legal"], 1, "client.add", "refused", "a client named 'teller-app' already exists"),
            (["clients", "revoke", "nobody"], 1, "client.revoke", "refused", "no client named 'nobody'"),
            (["clients", "revoke", "teller-app"], 0, "client.revoke", "ok", ""),
            (["clients", "revoke", "teller-app"], 1, "client.revoke", "refused", "client 'teller-app' is already revoked"),
            (["clients", "add", "teller-app", "--adapters", "claims"], 0, "client.add", "ok", ""),
        ]
        for (index, step) in steps.enumerated() {
            let result = try host.airlock(step.arguments)
            #expect(result.status == step.status, "\(step.arguments): \(result)")
            if step.status != 0 {
                #expect(result.stdout.isEmpty)
                #expect(result.stderr.hasPrefix("airlock: ") && result.stderr.contains(step.says), "\(result.stderr)")
                #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(result.stderr)")
            }
            let records = try host.auditRecords()
            #expect(records.count == index + 1, "\(step.arguments) left \(records.count - index) records")
            #expect(records.last?["action"] as? String == step.action)
            #expect(records.last?["outcome"] as? String == step.outcome, "\(step.arguments)")
            #expect((records.last?["details"] as? [String: String])?["client"] == step.arguments[2])
        }
        let verified = try ProcessResult.run(TestEnvironment.executable("airlock-audit"), ["--root", host.root.path, "verify"])
        #expect(verified.status == 0, "\(verified)")
        // The re-added client has a new key; the file holds both entries, one revoked.
        #expect(try ClientsFile.load(path: host.clientsPath).clients.map(\.isRevoked) == [true, false])
    }

    @Test func concurrentAddsFromSeveralProcessesAreAllKept() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let count = 4
        let results = Collected<ProcessResult>()
        let path = host.root.path
        onThreads(count) { index in
            if let result = try? ProcessResult.run(
                TestEnvironment.executable("airlock"), ["--root", path, "clients", "add", "client-\(index)", "--adapters", "claims"])
            {
                results.append(result)
            }
        }
        #expect(results.all.count == count && results.all.allSatisfy { $0.status == 0 }, "\(results.all)")
        let file = try ClientsFile.load(path: host.clientsPath)
        #expect(Set(file.clients.map(\.name)) == Set((0..<count).map { "client-\($0)" }))
        let registry = ClientRegistry(layout: host.layout)
        for result in results.all {
            let key = try #require(ClientKey(parsing: result.stdout.trimmingCharacters(in: .newlines)))
            #expect(registry.authenticate(authorizationHeader: bearer(key)).client != nil)
        }
        #expect(try host.auditRecords().count == count)
    }

    @Test func helpTeachesTheKeyAndAdapters() throws {
        let help = try ProcessResult.run(TestEnvironment.executable("airlock"), ["clients", "add", "--help"]).checked()
        #expect(help.stdout.contains("once") && help.stdout.contains("--adapters") && help.stdout.contains("'*'"))
        #expect(help.stdout.contains("revoke the client and add"))
    }
}
