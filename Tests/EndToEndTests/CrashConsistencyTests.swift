import AirlockCore
import Foundation
import Signing
import TestSupport
import Testing

/// `airlock install` and `airlock rollback` killed with SIGKILL at every step (the
/// `AIRLOCK_TEST_CRASH_AT` seam kills the process exactly as kill -9 would): before the commit
/// point the previous version stays current and intact, `doctor` names the leftovers and
/// `doctor --repair` clears them, and the same install then succeeds; after it, the new version
/// is current and `doctor --repair` completes the record.
@Suite struct CrashConsistencyTests {
    static let beforeCommit = [
        "install.prepared", "install.file-begin#1", "install.file-data#1", "install.file-before-fsync#1",
        "install.file-synced#1", "install.file-begin#2", "install.file-synced#2", "install.file-begin#3",
        "install.file-data#3", "install.file-before-fsync#4", "install.file-synced#4", "install.staged",
        "install.synced", "install.renamed", "install.recorded", "activate.before-switch",
    ]

    struct Host {
        let root: TemporaryDirectory
        let v1: BundleFixture
        let v2: BundleFixture

        init() throws {
            root = try TemporaryDirectory("airlock-crash")
            v1 = try BundleFixture(version: "1.4.0")
            v2 = try BundleFixture(version: "1.5.0")
            var policy = TrustPolicy()
            try policy.add(key: v1.release.publicKey, names: ["claims-*"])
            try policy.add(key: v2.release.publicKey, names: ["claims-*"])
            try policy.save(path: HostLayout(root: root.path).trustPolicy)
            try airlock(["install", v1.bundle, "--no-start"]).checked()
        }

        @discardableResult
        func airlock(_ arguments: [String], crashAt point: String? = nil) throws -> ProcessResult {
            var environment = ProcessInfo.processInfo.environment
            environment["AIRLOCK_TEST_CRASH_AT"] = point
            return try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root.path] + arguments, environment: environment)
        }

        var current: String? {
            try? FileManager.default.destinationOfSymbolicLink(atPath: HostLayout(root: root.path).currentLink(name: "claims-assistant"))
        }
    }

    @Test(arguments: beforeCommit)
    func installKilledBeforeTheSwitchLeavesThePreviousVersionAndRecovers(point: String) throws {
        let host = try Host()
        defer { host.root.remove() }
        let killed = try host.airlock(["install", host.v2.bundle, "--no-start"], crashAt: point)
        #expect(killed.status == 128 + SIGKILL, "\(point): \(killed)")
        #expect(host.current == "1.4.0", "\(point): the previous version is no longer current")

        let report = try host.airlock(["doctor", "--json"])
        let summary = try JSONSerialization.jsonObject(with: report.output) as? [String: Any] ?? [:]
        let findings = summary["findings"] as? [[String: Any]] ?? []
        #expect(summary["consistent"] as? Bool == false && summary["remaining"] as? Int == findings.count, "\(summary)")
        #expect(!findings.contains { $0["kind"] as? String == "damaged" }, "\(point): the current version was damaged: \(findings)")
        #expect(!findings.isEmpty, "\(point): doctor found no leftovers")
        #expect(findings.allSatisfy { $0["kind"] as? String == "leftover" }, "\(point): \(findings)")
        #expect(report.status == 1)
        try host.airlock(["doctor", "--repair"]).checked()
        try host.airlock(["doctor"]).checked()
        #expect(host.current == "1.4.0")

        let again = try host.airlock(["install", host.v2.bundle, "--no-start"])
        #expect(again.status == 0, "\(point): the same install did not succeed afterwards: \(again)")
        #expect(host.current == "1.5.0")
        try host.airlock(["doctor"]).checked()
    }

    @Test func installKilledRightAfterTheSwitchIsCompleteAndDoctorRecordsIt() throws {
        let host = try Host()
        defer { host.root.remove() }
        let killed = try host.airlock(["install", host.v2.bundle, "--no-start"], crashAt: "activate.switched")
        #expect(killed.status == 128 + SIGKILL)
        #expect(host.current == "1.5.0", "the switch is the commit point")
        let report = try host.airlock(["doctor"])
        #expect(report.status == 1)
        #expect(report.stdout.contains("unrecordedActivation"), "\(report)")
        try host.airlock(["doctor", "--repair"]).checked()
        try host.airlock(["doctor"]).checked()
        let rolled = try host.airlock(["rollback", "claims-assistant"]).checked()
        #expect(
            rolled.stdout == "rolled claims-assistant back from 1.5.0 to 1.4.0\n"
                + "note: rollback goes to the version activated before the current one: running it again goes forward to 1.5.0\n"
                + "services: units rendered again for the current version (not started: --root is not /)\n")
    }

    @Test func rollbackKilledBeforeOrAfterTheSwitchLeavesOneConsistentVersion() throws {
        let host = try Host()
        defer { host.root.remove() }
        try host.airlock(["install", host.v2.bundle, "--no-start"]).checked()

        let before = try host.airlock(["rollback", "claims-assistant"], crashAt: "activate.before-switch")
        #expect(before.status == 128 + SIGKILL)
        #expect(host.current == "1.5.0")
        try host.airlock(["doctor"]).checked()

        let after = try host.airlock(["rollback", "claims-assistant"], crashAt: "activate.switched")
        #expect(after.status == 128 + SIGKILL)
        #expect(host.current == "1.4.0")
        try host.airlock(["doctor", "--repair"]).checked()
        try host.airlock(["doctor"]).checked()
        let status = try host.airlock(["status", "--json"]).checked()
        let bundles = (try JSONSerialization.jsonObject(with: status.output) as? [String: Any])?["bundles"] as? [[String: Any]]
        #expect(bundles?.first?["history"] as? [String] == ["1.5.0", "1.4.0"])
        #expect(bundles?.first?["floor"] as? String == "1.5.0")
    }
}
