import AirlockCore
import AuditLog
import Foundation
import Synchronization
import Systemd
import TestSupport
import Testing

/// The audit seal timer and service as `airlock install` renders and enables them, under a real
/// systemd (252): a segment the gateway itself sealed (its own, 0440) becomes root's when the
/// timer's service runs, and that run is recorded once.
@Suite(.serialized) struct AuditSealContainerTests {
    /// Yesterday, a millisecond per reading: a log written with it makes the gateway's next
    /// record start a new day, so the gateway seals the segment itself.
    final class YesterdayClock: AuditClock {
        let milliseconds = Mutex((Int64(Date().timeIntervalSince1970) - 86_400) * 1000)
        func now() -> Int64 { milliseconds.withLock { $0 += 1; return $0 } }
        func syncState() -> ClockSyncState { .synchronized }
    }

    /// A log of a few of yesterday's records (one segment) and its key, written on the host.
    static func yesterdaysLog(in folder: TemporaryDirectory) async throws -> AuditLayout {
        let layout = AuditLayout(directory: folder.file("log"), keyPath: folder.file("key/audit-key.pem"))
        let writer = try AuditLogWriter(layout: layout, options: AuditLogWriter.Options(journalSocket: nil), clock: YesterdayClock())
        for index in 0..<3 { try await writer.append(.auditRead(by: .local(user: "root", uid: 0), verb: "search", query: "n=\(index)")) }
        return layout
    }

    static func owner(_ container: SystemdContainer, _ path: String) throws -> String {
        try container.exec(["stat", "-c", "%U %G %a", path]).checked().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aSegmentTheGatewaySealedIsRootsOnceTheSealServiceRuns() async throws {
        let folder = try TemporaryDirectory("airlock-seal-log")
        defer { folder.remove() }
        let yesterday = try await Self.yesterdaysLog(in: folder)
        try SystemdContainer.with(name: "airlock-test-audit-seal") { container in
            let airlock = try ServiceContainerTests.airlock(container)
            let audit = try container.executable("airlock-audit")
            let installed = try ServiceContainerTests.installDemo(container)
            #expect(installed.status == 0, "\(installed)")
            #expect(installed.stdout.contains("airlock-audit-seal.timer enabled"), "\(installed)")
            #expect(try container.exec(["systemctl", "is-enabled", ServiceUnits.auditSealTimer]).stdout == "enabled\n")
            #expect(try container.exec(["systemctl", "is-active", ServiceUnits.auditSealTimer]).stdout == "active\n")
            let key = try container.exec([airlock, "clients", "add", "app", "--adapters", "*"]).checked().stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)

            // The host's log becomes yesterday's (and its key), as the gateway had left it: the
            // segment its own (the gateway created it), appendable. No root command runs from here
            // until the seal service: any root writer would hand the segment over itself.
            let gateway = ServiceContainerTests.gatewayUnit
            try container.exec(["systemctl", "stop", gateway]).checked()
            let segment = "/var/log/airlock/" + AuditLayout.segmentName(1)
            try container.shell("rm -f /var/log/airlock/*").checked()
            try container.copy(yesterday.segmentPath(1), to: segment, mode: "0660")
            try container.copy(yesterday.keyPath, to: "/var/lib/airlock/audit-key.pem", mode: "0600")
            try container.copy(yesterday.publicKeyPath, to: "/var/lib/airlock/audit-key.pub.pem", mode: "0644")
            try container.exec(["chown", "airlock-serve:airlock-serve", segment]).checked()
            try container.exec(["systemctl", "start", gateway]).checked()

            // Today's first request: the gateway seals yesterday's segment and starts the next.
            #expect(try ServiceContainerTests.chat(container, key: key).0 == 200)
            let next = "/var/log/airlock/" + AuditLayout.segmentName(2)
            #expect(try Self.owner(container, segment) == "airlock-serve airlock-serve 440", "sealed by the gateway, still its own")
            #expect(try Self.owner(container, next) == "airlock-serve airlock-serve 660")

            try container.exec(["systemctl", "start", ServiceUnits.auditSealService]).checked()
            #expect(try Self.owner(container, segment) == "root airlock-serve 440")
            #expect(try Self.owner(container, next) == "airlock-serve airlock-serve 660", "the active segment is left as it is")
            let said = try container.exec(["journalctl", "-u", ServiceUnits.auditSealService, "-o", "cat", "--no-pager"]).checked().stdout
            #expect(said.contains("handed to root (root:airlock-serve, 0440): \(AuditLayout.segmentName(1))"), "\(said)")

            // Again: nothing to do, and nothing recorded; the one record of the change is there.
            try container.exec(["systemctl", "start", ServiceUnits.auditSealService]).checked()
            let again = try container.exec(["journalctl", "-u", ServiceUnits.auditSealService, "-o", "cat", "--no-pager"]).checked().stdout
            #expect(again.contains("nothing to do: the 1 sealed file is root's and read-only"), "\(again)")
            let records = try container.exec([audit, "search", "--action", "audit.seal"]).checked().stdout
            #expect(records.contains("1 record found"), "\(records)")
            try container.exec([audit, "verify"]).checked()

            let unit = "/etc/systemd/system/" + ServiceUnits.auditSealService
            let verified = try container.exec(["systemd-analyze", "verify", unit, "/etc/systemd/system/" + ServiceUnits.auditSealTimer])
            #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified)")
            let score = try ServiceContainerTests.exposure(container, unit)
            print("systemd-analyze security --offline=true: \(ServiceUnits.auditSealService) \(score)")
            #expect(score <= 1.2)
        }
    }
}
