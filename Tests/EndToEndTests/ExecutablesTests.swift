import Foundation
import TestSupport
import Testing

/// The four built executables, run as a user would run them.
@Suite struct ExecutablesTests {
    static let verbs: [(String, [String])] = [
        ("airlock-pack", ["keygen", "build", "sign", "inspect"]),
        ("airlock", ["trust", "verify", "install", "list", "status", "activate", "rollback", "remove", "run", "clients", "doctor"]),
        ("airlock-audit", ["verify", "search", "export", "report", "checkpoint", "seal"]),
    ]

    @Test(arguments: 0..<verbs.count)
    func helpListsEveryVerbOfTheContract(index: Int) throws {
        let (executable, verbs) = Self.verbs[index]
        let help = try ProcessResult.run(TestEnvironment.executable(executable), ["--help"]).checked()
        for verb in verbs {
            #expect(help.stdout.contains("\n  \(verb) "), "\(executable) --help does not list '\(verb)':\n\(help.stdout)")
        }
    }

    @Test func serveHelpExplainsHowItIsStarted() throws {
        let help = try ProcessResult.run(TestEnvironment.executable("airlock-serve"), ["--help"]).checked()
        #expect(help.stdout.contains("airlock run"))
        #expect(help.stdout.contains("--listen"))
    }

    @Test func refusedInstallExitsNonZeroWithOneLineNamingTheFile() throws {
        let root = try TemporaryDirectory("airlock-e2e-refused")
        defer { root.remove() }
        let result = try ProcessResult.run(
            TestEnvironment.executable("airlock"), ["--root", root.path, "install", root.file("claims-assistant-1.4.0.airlock")])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("airlock: ") && result.stderr.contains("claims-assistant-1.4.0.airlock"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: root.file("etc/systemd/system")), "a refused install rendered units")
    }

    @Test func usageErrorsExitWith64() throws {
        let result = try ProcessResult.run(TestEnvironment.executable("airlock-pack"), ["keygen", "--algorithm", "rsa", "--output", "k.pem"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("rsa"))
    }

    /// The exit status table (Docs/operator-guide.md "Exit statuses"): 64 only for a wrong
    /// command line, 1 for everything refused or failed, whatever the verb.
    @Test func everyVerbExitsByTheTable() throws {
        let root = try TemporaryDirectory("airlock-e2e-status")
        defer { root.remove() }
        let fixture = try BundleFixture()
        let tampered = root.file("tampered.airlock")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture.bundle)))
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: tampered))
        try ProcessResult.run(TestEnvironment.executable("airlock-pack"), ["keygen", "--output", root.file("k.pem")]).checked()
        let r = ["--root", root.path]
        let empty = root.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let cases: [(String, [String], Int32)] = [
            // Wrong command lines: 64.
            ("airlock", ["instal", "x.airlock"], 64),
            ("airlock", r + ["install"], 64),
            ("airlock", r + ["install", "x.airlock", "--no-such-option"], 64),
            ("airlock-pack", ["build", "spec.yaml", "--output", "x.airlock"], 64),
            ("airlock-audit", r + ["search", "--bogus"], 64),
            ("airlock", r + ["clients", "add", "app"], 64),
            // Refused or failed: 1.
            ("airlock", r + ["verify", root.file("missing.airlock")], 1),
            ("airlock", r + ["install", root.file("missing.airlock"), "--no-start"], 1),
            ("airlock", r + ["trust", "add", root.file("missing.pub.pem")], 1),
            ("airlock", r + ["trust", "threshold", "3"], 1),
            ("airlock", r + ["activate", "claims-assistant", "9.9.9"], 1),
            ("airlock", r + ["rollback", "claims-assistant"], 1),
            ("airlock", r + ["remove", "claims-assistant", "9.9.9"], 1),
            ("airlock", r + ["clients", "revoke", "nobody"], 1),
            ("airlock", r + ["run", "claims-assistant"], 1),
            ("airlock-pack", ["keygen", "--output", root.file("k.pem")], 1),
            ("airlock-pack", ["build", root.file("missing.yaml"), "--key", root.file("k.pem"), "--output", root.file("o.airlock")], 1),
            ("airlock-pack", ["sign", tampered, "--key", root.file("k.pem")], 1),
            ("airlock-pack", ["inspect", root.file("missing.airlock")], 1),
            ("airlock-audit", ["--root", empty, "verify"], 1),                      // no log yet
            ("airlock", ["--root", root.file("k.pem"), "status"], 64),                // a file, not a folder
        ]
        for (executable, arguments, status) in cases {
            let result = try ProcessResult.run(TestEnvironment.executable(executable), arguments)
            #expect(result.status == status, "\(executable) \(arguments.joined(separator: " ")): \(result)")
            #expect(!result.stderr.isEmpty, "\(executable) \(arguments): says nothing")
        }
    }

    @Test func versionIsPrinted() throws {
        for executable in ["airlock-pack", "airlock", "airlock-serve", "airlock-audit"] {
            let result = try ProcessResult.run(TestEnvironment.executable(executable), ["--version"]).checked()
            #expect(result.stdout.hasPrefix("0."), "\(executable): \(result.stdout)")
        }
    }
}
