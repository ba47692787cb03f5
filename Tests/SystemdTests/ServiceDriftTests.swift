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

    /// The audit timers are the host's: `status` lists them, `doctor` compares them with what
    /// Airlock renders (also once the last bundle is gone) and names a missing or edited one, and
    /// `--repair` renders them again without touching the bundle's units.
    @Test func doctorFindsAMissingOrEditedAuditTimerAndRepairRendersIt() throws {
        let demo = try DemoBundle.shared()
        let folder = try TemporaryDirectory("airlock-timer-drift")
        defer { folder.remove() }
        let root = folder.file("root")
        func airlock(_ arguments: [String]) throws -> ProcessResult {
            try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root] + arguments)
        }
        try airlock(["trust", "add", demo.publicKey, "--names", "claims-*"]).checked()
        #expect(try airlock(["status"]).stdout.contains("audit timers: none rendered"))
        let installed = try airlock(["install", demo.bundle, "--no-start"]).checked()
        #expect(
            installed.stdout.contains(
                "systemctl enable --now airlock-serve@claims-assistant.service airlock-audit-seal.timer airlock-audit-retention.timer"),
            "\(installed)")
        let status = try airlock(["status", "--json"]).checked()
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any] ?? [:]
        let timers = report["audit_timers"] as? [[String: Any]] ?? []
        #expect(timers.map { $0["timer"] as? String } == ["airlock-audit-seal.timer", "airlock-audit-retention.timer"], "\(status)")
        #expect(timers.allSatisfy { $0["rendered"] as? Bool == true && $0["enabled"] == nil }, "not managed under a scratch root: \(status)")
        #expect(try airlock(["status"]).stdout.contains("audit timer airlock-audit-retention.timer: rendered (not managed"))

        let units = root + "/etc/systemd/system/"
        let sealTimer = units + "airlock-audit-seal.timer"
        let rendered = try String(contentsOfFile: sealTimer, encoding: .utf8)
        // A host whose services were rendered before the retention timer existed, and an edit.
        for file in ["airlock-audit-retention.service", "airlock-audit-retention.timer"] { try FileManager.default.removeItem(atPath: units + file) }
        try rendered.replacingOccurrences(of: "OnUnitActiveSec=5min\n", with: "OnUnitActiveSec=1h\n").write(
            toFile: sealTimer, atomically: true, encoding: .utf8)
        let found = try airlock(["doctor"])
        #expect(found.status == 1, "\(found)")
        for file in ["airlock-audit-retention.service", "airlock-audit-retention.timer"] {
            #expect(found.stdout.contains("unitDrift: \(units + file): missing; 'airlock doctor --repair' renders it again"), "\(found)")
        }
        #expect(found.stdout.contains("unitDrift: \(sealTimer): differs from what Airlock renders at line "), "\(found)")
        #expect(found.stdout.contains("'OnUnitActiveSec=1h'"), "names the line: \(found)")
        #expect(
            found.stdout.split(separator: "\n").filter { $0.hasPrefix("unitDrift:") }.count == 3, "the bundle's own units did not drift: \(found)")

        let repaired = try airlock(["doctor", "--repair"])
        #expect(repaired.status == 0, "\(repaired)")
        #expect(repaired.stdout.contains("rendered again: \(sealTimer)"))
        #expect(try String(contentsOfFile: sealTimer, encoding: .utf8) == rendered)
        #expect(FileManager.default.fileExists(atPath: units + "airlock-audit-retention.timer"))
        #expect(try airlock(["doctor"]).status == 0)

        // Without any bundle the timers stay, and are still checked.
        try airlock(["remove", "claims-assistant", "--force"]).checked()
        #expect(FileManager.default.fileExists(atPath: sealTimer))
        try FileManager.default.removeItem(atPath: units + "airlock-audit-retention.timer")
        let alone = try airlock(["doctor"])
        #expect(alone.status == 1 && alone.stdout.contains("unitDrift: \(units)airlock-audit-retention.timer: missing"), "\(alone)")
        try airlock(["doctor", "--repair"]).checked()
        #expect(try airlock(["doctor"]).status == 0)
    }
}
