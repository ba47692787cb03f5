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

    /// The Debian package installs one program as /usr/bin/airlock and the other three names as
    /// links to it: each name must behave exactly like its own executable.
    @Test func theMultiCallProgramIsWhicheverNameStartsIt() throws {
        let folder = try TemporaryDirectory("airlock-multicall")
        defer { folder.remove() }
        let multicall = TestEnvironment.executable("airlock-multicall")
        for name in ["airlock", "airlock-pack", "airlock-serve", "airlock-audit"] {
            try FileManager.default.createSymbolicLink(atPath: folder.file(name), withDestinationPath: multicall)
            let linked = try ProcessResult.run(folder.file(name), ["--help"]).checked()
            let own = try ProcessResult.run(TestEnvironment.executable(name), ["--help"]).checked()
            #expect(linked.stdout == own.stdout, "\(name) through the multi-call program")
        }
        let audit = try ProcessResult.run(folder.file("airlock-audit"), ["verify", "--root", folder.file("root")])
        #expect(audit.status == 1 && audit.stderr.hasPrefix("airlock-audit: no audit log"), "\(audit)")
        try FileManager.default.createSymbolicLink(atPath: folder.file("airlockd"), withDestinationPath: multicall)
        let unknown = try ProcessResult.run(folder.file("airlockd"), ["--help"])
        #expect(unknown.status == 64 && unknown.stderr.contains("airlock, airlock-pack, airlock-serve, airlock-audit"), "\(unknown)")
    }

    /// The package's maintainer scripts record what dpkg did to Airlock itself, chained like
    /// every other record; the verb stays out of `--help` (only the package calls it).
    @Test func packageEventsAreAuditRecords() throws {
        let folder = try TemporaryDirectory("airlock-package-event")
        defer { folder.remove() }
        let airlock = TestEnvironment.executable("airlock")
        try ProcessResult.run(airlock, ["package-event", "configured", "--version", "0.1.0", "--previous", "", "--root", folder.path]).checked()
        try ProcessResult.run(airlock, ["package-event", "configured", "--version", "0.2.0", "--previous", "0.1.0", "--root", folder.path]).checked()
        try ProcessResult.run(airlock, ["package-event", "removing", "--version", "0.2.0", "--root", folder.path]).checked()
        let found = try ProcessResult.run(
            TestEnvironment.executable("airlock-audit"), ["search", "--action", "airlock.package", "--json", "--root", folder.path]
        ).checked()
        let changes = found.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (object["details"] as? [String: String])?["change"]
        }
        #expect(changes == ["installed", "upgraded from 0.1.0 to 0.2.0", "removed (state kept)"], "\(found.stdout)")
        try ProcessResult.run(TestEnvironment.executable("airlock-audit"), ["verify", "--root", folder.path]).checked()
        let help = try ProcessResult.run(airlock, ["--help"]).checked()
        #expect(!help.stdout.contains("package-event"))
        let wrong = try ProcessResult.run(airlock, ["package-event", "purged", "--version", "1", "--root", folder.path])
        #expect(wrong.status == 64, "\(wrong)")
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
            ("airlock-audit", ["--root", empty, "verify"], 1),  // no log yet
            ("airlock", ["--root", root.file("k.pem"), "status"], 64),  // a file, not a folder
        ]
        for (executable, arguments, status) in cases {
            let result = try ProcessResult.run(TestEnvironment.executable(executable), arguments)
            #expect(result.status == status, "\(executable) \(arguments.joined(separator: " ")): \(result)")
            #expect(!result.stderr.isEmpty, "\(executable) \(arguments): says nothing")
        }
    }

    /// Every verb that changes state answers `--json` with one object a script can read.
    @Test func stateChangingVerbsAnswerJSON() throws {
        let root = try TemporaryDirectory("airlock-e2e-json")
        defer { root.remove() }
        let v1 = try BundleFixture(version: "1.4.0")
        let v2 = try BundleFixture(version: "1.5.0")
        try Data(v1.release.publicKey.spkiPEM).write(to: URL(fileURLWithPath: root.file("v1.pub.pem")))
        try Data(v2.release.publicKey.spkiPEM).write(to: URL(fileURLWithPath: root.file("v2.pub.pem")))
        func json(_ arguments: [String]) throws -> [String: Any] {
            let result = try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root.path] + arguments + ["--json"]).checked()
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return try #require(object, "\(arguments): \(result.stdout)")
        }
        #expect((try json(["trust", "add", root.file("v1.pub.pem"), "--names", "claims-*"]))["trusted"] as? String == v1.release.publicKey.keyID)
        _ = try json(["trust", "add", root.file("v2.pub.pem")])
        #expect((try json(["trust", "threshold", "1"]))["threshold"] as? Int == 1)
        let first = try json(["install", v1.bundle, "--no-start"])
        #expect(first["name"] as? String == "claims-assistant" && first["version"] as? String == "1.4.0" && first["previous"] == nil, "\(first)")
        #expect((first["services"] as? [String: Any])?["started"] as? Bool == false, "\(first)")
        // A dry run checks and writes nothing; --no-activate installs beside the current version.
        let dry = try json(["install", v2.bundle, "--dry-run"])
        #expect(dry["dry_run"] as? Bool == true && dry["activated"] as? Bool == false && dry["previous"] as? String == "1.4.0", "\(dry)")
        #expect(!FileManager.default.fileExists(atPath: root.file("var/lib/airlock/claims-assistant/1.5.0")))
        let beside = try json(["install", v2.bundle, "--no-activate"])
        #expect(beside["activated"] as? Bool == false && beside["services"] == nil, "\(beside)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root.file("var/lib/airlock/claims-assistant/current"))) == "1.4.0")
        _ = try json(["activate", "claims-assistant", "1.5.0"])
        let activated = try json(["activate", "claims-assistant", "1.4.0"])
        #expect(activated["current"] as? String == "1.4.0" && activated["previous"] as? String == "1.5.0", "\(activated)")
        let failedDry = try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root.path, "install", v1.bundle, "--dry-run"])
        #expect(failedDry.status == 1 && failedDry.stderr.contains("already installed"), "\(failedDry)")
        let rolled = try json(["rollback", "claims-assistant"])
        #expect(rolled["current"] as? String == "1.5.0" && rolled["previous"] as? String == "1.4.0", "\(rolled)")
        #expect((try json(["remove", "claims-assistant", "1.4.0"]))["removed"] as? [String] == ["1.4.0"])
        _ = try json(["clients", "add", "app", "--adapters", "claims"])
        #expect((try json(["clients", "revoke", "app"]))["client"] as? String == "app")
        #expect(
            (try json(["trust", "remove", String(v2.release.publicKey.keyID.dropFirst(7).prefix(12))]))["removed"] as? String
                == v2.release.publicKey.keyID)
        let doctor = try json(["doctor"])
        #expect(doctor["consistent"] as? Bool == true && (doctor["findings"] as? [Any])?.isEmpty == true, "\(doctor)")
    }

    /// `list` orders versions as versions (1.10.0 after 1.9.0), and a bundle whose every
    /// version was removed is no longer listed.
    @Test func listSortsVersionsAndForgetsRemovedBundles() throws {
        let root = try TemporaryDirectory("airlock-e2e-list")
        defer { root.remove() }
        let newer = try BundleFixture(version: "1.10.0")
        let older = try BundleFixture(version: "1.9.0")
        try Data(newer.release.publicKey.spkiPEM).write(to: URL(fileURLWithPath: root.file("a.pub.pem")))
        try Data(older.release.publicKey.spkiPEM).write(to: URL(fileURLWithPath: root.file("b.pub.pem")))
        let airlock = TestEnvironment.executable("airlock")
        for arguments in [
            ["trust", "add", root.file("a.pub.pem")], ["trust", "add", root.file("b.pub.pem")],
            ["install", newer.bundle, "--no-start"], ["install", older.bundle, "--no-activate", "--allow-downgrade"],
        ] {
            try ProcessResult.run(airlock, ["--root", root.path] + arguments).checked()
        }
        let listed = try ProcessResult.run(airlock, ["--root", root.path, "list", "--json"]).checked()
        let bundles = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any]
        let versions = ((bundles?["bundles"] as? [[String: Any]])?.first?["versions"] as? [[String: Any]])?.compactMap { $0["version"] as? String }
        #expect(versions == ["1.9.0", "1.10.0"], "\(listed.stdout)")
        try ProcessResult.run(airlock, ["--root", root.path, "remove", "claims-assistant", "--force"]).checked()
        let empty = try ProcessResult.run(airlock, ["--root", root.path, "list"]).checked()
        #expect(empty.stdout == "nothing installed\n", "\(empty.stdout)")
    }

    /// Messages for people: a mistyped verb gets a suggestion, a file that is not a bundle is
    /// called that, and a file that cannot be read says why; no library internals.
    @Test func messagesSayWhatIsWrongInPlainWords() throws {
        let root = try TemporaryDirectory("airlock-e2e-messages")
        defer { root.remove() }
        try "just text\n".write(toFile: root.file("notes.txt"), atomically: true, encoding: .utf8)
        let airlock = TestEnvironment.executable("airlock")
        let typo = try ProcessResult.run(airlock, ["--root", root.path, "instal", root.file("notes.txt")])
        #expect(typo.status == 64 && typo.stderr.contains("'instal' is not a verb of 'airlock': did you mean 'install'?"), "\(typo)")
        let nested = try ProcessResult.run(airlock, ["clients", "revok", "app"])
        #expect(nested.status == 64 && nested.stderr.contains("did you mean 'revoke'?"), "\(nested)")
        let text = try ProcessResult.run(airlock, ["--root", root.path, "verify", root.file("notes.txt")])
        #expect(text.status == 1 && text.stderr.contains("not an Airlock bundle"), "\(text)")
        #expect(!text.stderr.contains("tar") && !text.stderr.contains("header"), "\(text.stderr)")
        let missing = try ProcessResult.run(airlock, ["--root", root.path, "trust", "add", root.file("nope.pem")])
        #expect(missing.status == 1 && missing.stderr.contains("No such file or directory"), "\(missing)")
        let notKey = try ProcessResult.run(airlock, ["--root", root.path, "trust", "add", root.file("notes.txt")])
        #expect(notKey.status == 1 && notKey.stderr.contains("notes.txt: no PEM public key"), "\(notKey)")
        for result in [typo, nested, text, missing, notKey] {
            #expect(!result.stderr.contains("DecodingError") && !result.stderr.contains("descriptor"), "\(result.stderr)")
        }
    }

    @Test func versionIsPrinted() throws {
        for executable in ["airlock-pack", "airlock", "airlock-serve", "airlock-audit"] {
            let result = try ProcessResult.run(TestEnvironment.executable(executable), ["--version"]).checked()
            #expect(result.stdout.hasPrefix("0."), "\(executable): \(result.stdout)")
        }
    }
}
