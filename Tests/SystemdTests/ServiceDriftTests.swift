import Foundation
import TestSupport
import Testing

/// `airlock doctor` reports a unit that no longer says what Airlock rendered, and `activate`
/// of the current version renders it again. Under a scratch `--root`, with the real executables.
@Suite struct ServiceDriftTests {
    @Test func doctorFindsAnEditedUnitAndActivateRestoresIt() throws {
        let demo = try DemoBundle.shared()
        let folder = try TemporaryDirectory("airlock-drift")
        defer { folder.remove() }
        let root = folder.file("root")
        func airlock(_ arguments: [String]) throws -> ProcessResult {
            try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root] + arguments)
        }
        try airlock(["trust", "add", demo.publicKey, "--names", "claims-*"]).checked()
        try airlock(["install", demo.bundle, "--no-start"]).checked()
        let clean = try airlock(["doctor"])
        #expect(clean.status == 0, "\(clean)")
        #expect(clean.stdout.contains("every unit what Airlock renders"))

        let unit = root + "/etc/systemd/system/airlock-runtime@claims-assistant.service"
        let rendered = try String(contentsOfFile: unit, encoding: .utf8)
        try rendered.replacingOccurrences(of: "PrivateNetwork=yes\n", with: "PrivateNetwork=no\n")
            .write(toFile: unit, atomically: true, encoding: .utf8)
        let drifted = try airlock(["doctor"])
        #expect(drifted.status == 1)
        #expect(drifted.stdout.contains("unitDrift: \(unit): differs from what Airlock renders for claims-assistant 1.0.0"), "\(drifted)")
        #expect(drifted.stdout.contains("'PrivateNetwork=no'"), "names the line: \(drifted)")
        #expect(!drifted.stdout.contains("airlock-serve@"), "only the edited unit: \(drifted)")
        let json = try airlock(["doctor", "--json"])
        #expect(json.stdout.contains("\"kind\":\"unitDrift\"") || json.stdout.contains("\"kind\" : \"unitDrift\""), "\(json)")

        try airlock(["activate", "claims-assistant", "1.0.0"]).checked()
        #expect(try String(contentsOfFile: unit, encoding: .utf8) == rendered)
        #expect(try airlock(["doctor"]).status == 0)

        // --repair renders drifted units again, shared files included.
        let users = root + "/etc/sysusers.d/airlock.conf"
        let usersText = try String(contentsOfFile: users, encoding: .utf8)
        try "u airlock-serve 0 - - -\n".write(toFile: users, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: unit)
        let found = try airlock(["doctor"])
        #expect(found.status == 1 && found.stdout.contains("unitDrift: \(users)") && found.stdout.contains("unitDrift: \(unit): missing"), "\(found)")
        let repaired = try airlock(["doctor", "--repair"])
        #expect(repaired.status == 0, "\(repaired)")
        #expect(repaired.stdout.contains("rendered again: \(unit)"))
        #expect(try String(contentsOfFile: unit, encoding: .utf8) == rendered)
        #expect(try String(contentsOfFile: users, encoding: .utf8) == usersText)
        #expect(try airlock(["doctor"]).status == 0)
    }
}
