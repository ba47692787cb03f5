import AirlockCore
import ArgumentParser
import Testing

@testable import AirlockCommands

/// The spellings in DESIGN.md's command-line contract parse, and verbs not built yet refuse
/// plainly instead of pretending to succeed.
@Suite struct CommandLineContractTests {
    static let contract: [(any ParsableCommand.Type, [String])] = [
        (AirlockPackCommand.self, ["keygen", "--algorithm", "ed25519", "--output", "k.pem"]),
        (AirlockPackCommand.self, ["keygen", "--output", "k.pem"]),
        (AirlockPackCommand.self, ["build", "spec.yaml", "--key", "a.pem", "--key", "b.pem", "--output", "x-1.0.0.airlock"]),
        (AirlockPackCommand.self, ["sign", "x.airlock", "--key", "k.pem"]),
        (AirlockPackCommand.self, ["inspect", "x.airlock", "--json"]),
        (AirlockCommand.self, ["--root", "/tmp/r", "trust", "add", "k.pub.pem", "--names", "claims-*,legal"]),
        (AirlockCommand.self, ["trust", "list"]),
        (AirlockCommand.self, ["trust", "remove", "abc"]),
        (AirlockCommand.self, ["--root", "/tmp/r", "trust", "threshold", "2"]),
        (AirlockCommand.self, ["--root", "/tmp/r", "verify", "x.airlock", "--json"]),
        (AirlockCommand.self, ["install", "x.airlock", "--no-start", "--allow-downgrade"]),
        (AirlockCommand.self, ["list"]),
        (AirlockCommand.self, ["status", "--json"]),
        (AirlockCommand.self, ["activate", "claims-assistant", "1.4.0"]),
        (AirlockCommand.self, ["rollback", "claims-assistant"]),
        (AirlockCommand.self, ["remove", "claims-assistant", "1.3.0"]),
        (AirlockCommand.self, ["run", "claims-assistant", "--listen", "127.0.0.1:9000"]),
        (AirlockCommand.self, ["clients", "add", "teller-app", "--adapters", "claims,legal"]),
        (AirlockCommand.self, ["clients", "list"]),
        (AirlockCommand.self, ["clients", "revoke", "teller-app"]),
        (AirlockCommand.self, ["doctor"]),
        (AirlockAuditCommand.self, ["--root", "/tmp/r", "verify"]),
        (AirlockAuditCommand.self, ["search", "--actor", "teller-app", "--outcome", "refused"]),
        (AirlockAuditCommand.self, ["export", "--format", "csv"]),
        (AirlockAuditCommand.self, ["report", "--output", "r.html"]),
        (AirlockAuditCommand.self, ["checkpoint"]),
        (AirlockAuditCommand.self, ["--root", "/tmp/r", "seal", "--json"]),
    ]

    @Test(arguments: 0..<contract.count)
    func contractSpellingParses(index: Int) throws {
        let (root, arguments) = Self.contract[index]
        _ = try root.parseAsRoot(arguments)
    }

    /// Verbs of the contract that later issues build.
    static let unbuilt: [(any ParsableCommand.Type, [String])] = contract.filter { root, arguments in
        let built: Set<String> = [
            "keygen", "build", "sign", "inspect", "trust", "verify", "install", "list", "status", "activate", "rollback", "remove", "run", "clients",
            "doctor",
        ]
        let verb = arguments.first { !$0.hasPrefix("-") && !$0.hasPrefix("/") } ?? ""
        if ObjectIdentifier(root) == ObjectIdentifier(AirlockAuditCommand.self) {
            return !["verify", "checkpoint", "search", "export", "report", "seal"].contains(verb)
        }
        return !built.contains(verb)
    }

    @Test(arguments: 0..<unbuilt.count)
    func unbuiltVerbsRefuseWithoutPretending(index: Int) async throws {
        let (root, arguments) = Self.unbuilt[index]
        var command = try root.parseAsRoot(arguments)
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Issue.record("\(arguments) succeeded although it is not built")
        } catch let error as AirlockError {
            #expect(error.code == .notImplemented)
            #expect(CommandMain.exitStatus(for: error) == ExitStatus.notImplemented)
            #expect(error.description.contains("not available in this build"))
        }
    }

    @Test func rootOptionIsAcceptedBeforeAndAfterTheVerb() throws {
        let before = try AirlockCommand.parseAsRoot(["--root", "/tmp/before", "install", "b.airlock"])
        let after = try AirlockCommand.parseAsRoot(["install", "b.airlock", "--root", "/tmp/after"])
        #expect((before as? AirlockCommand.Install)?.root.layout.root == "/tmp/before")
        #expect((after as? AirlockCommand.Install)?.root.layout.root == "/tmp/after")
    }

    @Test func wrongUsageIsAUsageError() {
        #expect(throws: (any Error).self) { try AirlockPackCommand.parseAsRoot(["keygen", "--algorithm", "rsa", "--output", "k.pem"]) }
        #expect(throws: (any Error).self) { try AirlockCommand.parseAsRoot(["activate", "only-a-name"]) }
        #expect(throws: (any Error).self) { try AirlockAuditCommand.parseAsRoot(["export", "--format", "xml"]) }
    }
}
