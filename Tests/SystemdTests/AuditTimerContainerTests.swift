import AirlockCore
import AuditLog
import Foundation
import Signing
import Synchronization
import Systemd
import TestSupport
import Testing

/// The audit timers and services as `airlock install` renders and enables them, under a real
/// systemd (252), in one container: a segment the gateway itself sealed (its own, 0440) becomes
/// root's when the seal service runs, recorded once; the retention service removes exactly the
/// expired whole segments of a log that reaches back 400 days, records each removal, and the log
/// still verifies; `airlock status` shows both timers as systemd sees them, and `airlock doctor`
/// flags a disabled or edited timer and `--repair` puts it back.
@Suite(.serialized) struct AuditTimerContainerTests {
    static let day: Int64 = 86_400_000

    /// A clock the test sets; each reading a millisecond after the one before.
    final class SetClock: AuditClock {
        let milliseconds: Mutex<Int64>
        init(_ start: Int64) { milliseconds = Mutex(start) }
        func set(_ time: Int64) { milliseconds.withLock { $0 = time } }
        func now() -> Int64 {
            milliseconds.withLock {
                $0 += 1
                return $0
            }
        }
        func syncState() -> ClockSyncState { .synchronized }
    }

    /// A log written on the host, one segment per entry of `daysAgo` (3 records each, written that
    /// many days before now), and its key. A segment is sealed by the first record of the next
    /// one, so segment k's seal is as old as segment k+1's records; the last is being written.
    static func log(in folder: String, daysAgo: [Int]) async throws -> AuditLayout {
        let now = Int64(Date().timeIntervalSince1970) * 1000
        let clock = SetClock(now - Int64(daysAgo[0]) * day)
        let layout = AuditLayout(directory: folder + "/log", keyPath: folder + "/key/audit-key.pem")
        let writer = try AuditLogWriter(layout: layout, options: AuditLogWriter.Options(journalSocket: nil), clock: clock)
        // As `install` leaves a host: the gateway's own key, certified by the host key first.
        let gatewayKey = try AuditKey.loadOrCreate(path: Self.gatewayKeyPath(layout))
        let certificate = try AuditKeyCertificate.certify(gatewayKey.publicKey, by: try PrivateKey.load(path: layout.keyPath))
        try await writer.append(.keyCertified(by: .local(user: "root", uid: 0), certificate))
        try FileManager.default.createDirectory(atPath: layout.rootDirectory, withIntermediateDirectories: true)
        try Data(certificate.json).write(to: URL(fileURLWithPath: layout.gatewayCertificatePath))
        for days in daysAgo {
            clock.set(now - Int64(days) * day)
            for index in 0..<3 {
                try await writer.append(.auditRead(by: .local(user: "root", uid: 0), verb: "search", query: "day=\(days) n=\(index)"))
            }
        }
        return layout
    }

    /// Replaces the container's log (the gateway stopped) with `log` and its key, as the gateway
    /// and root left it: sealed segments 0440, the last 0660; `root:airlock-serve`, except the
    /// segments in `gatewayOwns`, which are the gateway's own (it created them).
    static func replaceLog(_ container: SystemdContainer, with log: AuditLayout, gatewayOwns: [Int]) throws {
        try container.shell("rm -f /var/log/airlock/*").checked()
        let numbers = try FileManager.default.contentsOfDirectory(atPath: log.directory).compactMap(AuditLayout.segmentNumber).sorted()
        for number in numbers {
            let path = "/var/log/airlock/" + AuditLayout.segmentName(number)
            try container.copy(log.segmentPath(number), to: path, mode: number == numbers.last ? "0660" : "0440")
            let owner = gatewayOwns.contains(number) ? "airlock-serve:airlock-serve" : "root:airlock-serve"
            try container.exec(["chown", owner, path]).checked()
        }
        try container.copy(log.keyPath, to: "/var/lib/airlock/audit-key.pem", mode: "0600")
        try container.copy(log.publicKeyPath, to: "/var/lib/airlock/audit-key.pub.pem", mode: "0644")
        // Its gateway key and root's own audit state go with it (the gateway reads its key when it starts).
        try container.copy(gatewayKeyPath(log), to: "/var/lib/airlock/audit-gateway-key.pem", mode: "0600")
        try container.shell("rm -rf /var/lib/airlock/audit-root && mkdir -m 0700 /var/lib/airlock/audit-root").checked()
        try container.copy(log.gatewayCertificatePath, to: "/var/lib/airlock/audit-root/gateway-key.certified", mode: "0644")
        try container.copy(log.rootCheckpointPath, to: "/var/lib/airlock/audit-root/checkpoint.json", mode: "0644")
    }

    static func gatewayKeyPath(_ log: AuditLayout) -> String { AtomicFile.folder(of: log.keyPath) + "/audit-gateway-key.pem" }

    static func owner(_ container: SystemdContainer, _ path: String) throws -> String {
        try container.exec(["stat", "-c", "%U %G %a", path]).checked().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func said(_ container: SystemdContainer, _ timer: AuditTimer) throws -> String {
        _ = try? container.exec(["journalctl", "--sync"])
        return try container.exec(["journalctl", "-u", timer.service, "-o", "cat", "--no-pager"]).checked().stdout
    }

    /// Whether the service's journal holds `text`, waiting up to 10 s for it: a failed run's
    /// last lines reach the journal through its stdout stream, after `systemctl start` returned.
    static func says(_ container: SystemdContainer, _ timer: AuditTimer, _ text: String) throws -> Bool {
        for _ in 0..<50 {
            if try said(container, timer).contains(text) { return true }
            usleep(200_000)
        }
        return false
    }

    static func segments(_ container: SystemdContainer) throws -> [String] {
        try container.exec(["ls", "/var/log/airlock"]).checked().stdout.split(separator: "\n").map(String.init).filter { $0.hasSuffix(".jsonl") }
    }

    @Test func theAuditTimersRunTheirServicesAndStatusAndDoctorWatchThem() async throws {
        let folder = try TemporaryDirectory("airlock-audit-timers")
        defer { folder.remove() }
        let yesterday = try await Self.log(in: folder.file("yesterday"), daysAgo: [1])
        // Sealed 399 and 397 days ago (past the default 396), 30 days ago and yesterday; the last
        // is being written.
        let old = try await Self.log(in: folder.file("old"), daysAgo: [400, 399, 397, 30, 1])
        try SystemdContainer.with(name: "airlock-test-audit-timers") { container in
            let installed = try ServiceContainerTests.installDemo(container)
            #expect(installed.status == 0, "\(installed)")
            for timer in AuditTimer.allCases {
                #expect(installed.stdout.contains("\(timer.timer) enabled"), "\(installed)")
                #expect(try container.exec(["systemctl", "is-enabled", timer.timer]).stdout == "enabled\n")
                #expect(try container.exec(["systemctl", "is-active", timer.timer]).stdout == "active\n")
            }
            try Self.sealHandsTheGatewaysSegmentToRoot(container, log: yesterday)
            try Self.retentionRemovesExactlyTheExpiredSegments(container, log: old)
            try Self.statusShowsAndDoctorRepairsTheTimers(container)

            var scores: [AuditTimer: Double] = [:]
            for timer in AuditTimer.allCases {
                let unit = "/etc/systemd/system/" + timer.service
                let verified = try container.exec(["systemd-analyze", "verify", unit, "/etc/systemd/system/" + timer.timer])
                #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified)")
                scores[timer] = try ServiceContainerTests.exposure(container, unit)
            }
            print(
                "systemd-analyze security --offline=true: \(AuditTimer.seal.service) \(scores[.seal]!), \(AuditTimer.retention.service) \(scores[.retention]!)"
            )
            #expect(scores[.seal]! <= 1.2)
            #expect(scores[.retention]! <= 0.6)
        }
    }

    /// Today's first request makes the gateway seal yesterday's segment (its own file); the seal
    /// service hands it to root and records that once.
    static func sealHandsTheGatewaysSegmentToRoot(_ container: SystemdContainer, log: AuditLayout) throws {
        let airlock = try ServiceContainerTests.airlock(container)
        let audit = try container.executable("airlock-audit")
        let key = try container.exec([airlock, "clients", "add", "app", "--adapters", "*"]).checked().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)

        // No root command runs from here until the seal service: any root writer would hand the
        // segment over itself.
        let gateway = ServiceContainerTests.gatewayUnit
        try container.exec(["systemctl", "stop", gateway]).checked()
        try Self.replaceLog(container, with: log, gatewayOwns: [1])
        try container.exec(["systemctl", "start", gateway]).checked()

        #expect(try ServiceContainerTests.chat(container, key: key).0 == 200)
        let segment = "/var/log/airlock/" + AuditLayout.segmentName(1)
        let next = "/var/log/airlock/" + AuditLayout.segmentName(2)
        #expect(try Self.owner(container, segment) == "airlock-serve airlock-serve 440", "sealed by the gateway, still its own")
        #expect(try Self.owner(container, next) == "airlock-serve airlock-serve 660")

        try container.exec(["systemctl", "start", AuditTimer.seal.service]).checked()
        #expect(try Self.owner(container, segment) == "root airlock-serve 440")
        #expect(try Self.owner(container, next) == "airlock-serve airlock-serve 660", "the active segment is left as it is")
        #expect(
            try Self.says(container, .seal, "handed to root (root:airlock-serve, 0440): \(AuditLayout.segmentName(1))"),
            "\((try? Self.said(container, .seal)) ?? "")")

        // Again: nothing to do, and nothing recorded; the one record of the change is there.
        try container.exec(["systemctl", "start", AuditTimer.seal.service]).checked()
        #expect(
            try Self.says(container, .seal, "nothing to do: the 1 sealed file is root's and read-only"), "\((try? Self.said(container, .seal)) ?? "")"
        )
        let records = try container.exec([audit, "search", "--action", "audit.seal"]).checked().stdout
        #expect(records.contains("1 record found"), "\(records)")
        try container.exec([audit, "verify"]).checked()

        // The gateway answers once more: the next run signs over its record with the host key,
        // and root's own copy of the latest checkpoint (out of the gateway's reach) is that one.
        #expect(try ServiceContainerTests.chat(container, key: key).0 == 200)
        try container.exec(["systemctl", "start", AuditTimer.seal.service]).checked()
        #expect(try Self.says(container, .seal, "signed with the host key: checkpoint record"), "\((try? Self.said(container, .seal)) ?? "")")
        let rootCopy = try container.exec(["cat", "/var/lib/airlock/audit-root/checkpoint.json"]).checked().stdout
        let active = try #require(try Self.segments(container).last)
        let last = try container.shell("tail -n 1 /var/log/airlock/\(active)").checked().stdout
        let checkpoint = try AuditCheckpoint(json: Array(rootCopy.utf8))
        #expect(checkpoint.reason == "timer" && last.contains("\"seq\":\(checkpoint.seq),"), "\(rootCopy)\n\(last)")
        try container.exec([audit, "verify"]).checked()
    }

    /// The service reads the policy (`/etc/airlock/audit.yaml`): one below 180 days fails the
    /// run and removes nothing; 398 days removes segment 1 (sealed 399 days ago); without a policy
    /// (396 days) segment 2 (sealed 397 days ago, still the gateway's own) goes too, and segment 3
    /// (sealed 30 days ago) and later stay. The service appends its records to the gateway's
    /// active segment (through the log's group), which, a day old, it seals first: root's by the
    /// next seal run.
    static func retentionRemovesExactlyTheExpiredSegments(_ container: SystemdContainer, log: AuditLayout) throws {
        let audit = try container.executable("airlock-audit")
        try container.exec(["systemctl", "stop", ServiceContainerTests.gatewayUnit]).checked()
        try Self.replaceLog(container, with: log, gatewayOwns: [2, 5])
        #expect(try Self.segments(container) == (1...5).map(AuditLayout.segmentName))
        let policy = "/etc/airlock/audit.yaml"

        try container.write("retention_days: 30\n", to: policy)
        let refused = try container.exec(["systemctl", "start", AuditTimer.retention.service])
        #expect(refused.status != 0, "\(refused)")
        #expect(try Self.says(container, .retention, "retention_days is 30, below the minimum of 180 days"))
        #expect(try Self.segments(container) == (1...5).map(AuditLayout.segmentName), "a refused policy removes nothing")

        try container.write("retention_days: 398\n", to: policy)
        try container.exec(["systemctl", "start", AuditTimer.retention.service]).checked()
        #expect(try Self.segments(container) == (2...6).map(AuditLayout.segmentName), "398 days: only segment 1 is expired")
        #expect(
            try Self.says(container, .retention, "kept: \(AuditLayout.segmentName(2)) and later segments hold records from within the last 398 days"))

        try container.exec(["rm", policy]).checked()
        try container.exec(["systemctl", "start", AuditTimer.retention.service]).checked()
        #expect(try Self.segments(container) == (3...6).map(AuditLayout.segmentName), "exactly the expired whole segments went")
        let kept = "kept: \(AuditLayout.segmentName(3)) and later segments hold records from within the last 396 days"
        #expect(try Self.says(container, .retention, kept), "\((try? Self.said(container, .retention)) ?? "")")
        let said = try Self.said(container, .retention)
        for name in [1, 2].map(AuditLayout.segmentName) { #expect(said.contains("removed \(name): records "), "\(said)") }

        try container.exec(["systemctl", "start", AuditTimer.seal.service]).checked()
        for number in 3...5 {
            #expect(try Self.owner(container, "/var/log/airlock/" + AuditLayout.segmentName(number)) == "root airlock-serve 440")
        }
        let records = try container.exec([audit, "search", "--action", "audit.retention", "--json"]).checked().stdout
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.map { ($0["details"] as? [String: String])?["segment"] } == [1, 2].map(AuditLayout.segmentName), "\(records)")
        #expect(records.map { ($0["details"] as? [String: String])?["retention_days"] } == ["398", "396"])
        let verified = try container.exec([audit, "verify"])
        #expect(verified.status == 0 && verified.stdout.contains("intact: "), "\(verified)")

        // Again: nothing more to remove.
        try container.exec(["systemctl", "start", AuditTimer.retention.service]).checked()
        #expect(try Self.says(container, .retention, "nothing to remove: every sealed file holds records newer than"))
        #expect(try Self.segments(container).first == AuditLayout.segmentName(3))
    }

    /// Both timers as systemd sees them; a disabled and an edited one are flagged, and repaired.
    static func statusShowsAndDoctorRepairsTheTimers(_ container: SystemdContainer) throws {
        let airlock = try ServiceContainerTests.airlock(container)
        let status = try container.exec([airlock, "status", "--json"]).checked()
        let report = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any] ?? [:]
        let timers = report["audit_timers"] as? [[String: Any]] ?? []
        #expect(timers.map { $0["timer"] as? String } == AuditTimer.allCases.map(\.timer), "\(status)")
        for timer in timers {
            #expect(timer["enabled"] as? String == "enabled", "\(timer)")
            #expect(timer["active"] as? String == "active (waiting)", "\(timer)")
            #expect((timer["next_run"] as? String)?.hasSuffix("Z") == true, "\(timer)")
            #expect((timer["last_run"] as? String)?.hasSuffix("Z") == true, "both services ran: \(timer)")
            #expect(timer["last_result"] as? String == "success", "\(timer)")
        }
        let text = try container.exec([airlock, "status"]).checked().stdout
        #expect(text.contains("audit timer airlock-audit-retention.timer: enabled, active (waiting); last run "), "\(text)")
        #expect(
            text.contains("service \(ServiceContainerTests.gatewayUnit): inactive (dead), enabled, 0 restarts"),
            "stopped for the log's replacement: \(text)")
        #expect(try container.exec([airlock, "doctor"]).status == 0)

        let sealTimer = "/etc/systemd/system/" + AuditTimer.seal.timer
        let retentionTimer = "/etc/systemd/system/" + AuditTimer.retention.timer
        let rendered = try container.exec(["cat", sealTimer]).checked().stdout
        try container.exec(["systemctl", "disable", "--now", AuditTimer.retention.timer]).checked()
        try container.write(rendered.replacingOccurrences(of: "OnUnitActiveSec=5min\n", with: "OnUnitActiveSec=1h\n"), to: sealTimer)
        let found = try container.exec([airlock, "doctor"])
        #expect(found.status == 1, "\(found)")
        #expect(found.stdout.contains("timerOff: \(retentionTimer): not enabled (disabled): its service does not run by itself"), "\(found)")
        #expect(found.stdout.contains("unitDrift: \(sealTimer): differs from what Airlock renders at line "), "\(found)")
        #expect(
            try container.exec([airlock, "status"]).checked().stdout.contains("audit timer \(AuditTimer.retention.timer): disabled, inactive (dead)"))

        let repaired = try container.exec([airlock, "doctor", "--repair"])
        #expect(repaired.status == 0, "\(repaired)")
        #expect(repaired.stdout.contains("enabled and started: \(retentionTimer)"), "\(repaired)")
        #expect(repaired.stdout.contains("rendered again: \(sealTimer)"), "\(repaired)")
        #expect(try container.exec(["cat", sealTimer]).checked().stdout == rendered)
        #expect(
            try ServiceContainerTests.show(container, AuditTimer.seal.timer, "TimersMonotonic").contains("OnUnitActiveUSec=5min"),
            "systemd reloaded it")
        for timer in AuditTimer.allCases {
            #expect(try container.exec(["systemctl", "is-enabled", timer.timer]).stdout == "enabled\n")
            #expect(try container.exec(["systemctl", "is-active", timer.timer]).stdout == "active\n")
        }
        let clean = try container.exec([airlock, "doctor"])
        #expect(clean.status == 0, "\(clean)")
    }
}
