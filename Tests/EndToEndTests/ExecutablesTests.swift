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

    @Test func versionIsPrinted() throws {
        for executable in ["airlock-pack", "airlock", "airlock-serve", "airlock-audit"] {
            let result = try ProcessResult.run(TestEnvironment.executable(executable), ["--version"]).checked()
            #expect(result.stdout.hasPrefix("0."), "\(executable): \(result.stdout)")
        }
    }
}
