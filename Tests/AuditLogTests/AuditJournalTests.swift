import AirlockCore
import AuditLog
import Foundation
import Synchronization
import TestSupport
import Testing

/// The journald copy of the log: the real journald of a booted systemd container receives every
/// record with its AIRLOCK_* fields, and a journal that is absent or failing never stops the file log.
@Suite(.serialized) struct AuditJournalTests {
    @Test func everyRecordOfTheExecutablesReachesJournaldWithItsFields() throws {
        let audit = TestEnvironment.executable("airlock-audit")
        let airlock = TestEnvironment.executable("airlock")
        try SystemdContainer.with(name: "airlock-test-journal") { container in
            let root = "/var/tmp/airlock-journal"
            // Three producers, three processes: a checkpoint, a refused admin command, a search.
            try container.exec([audit, "--root", root, "checkpoint"]).checked()
            let refused = try container.exec([airlock, "--root", root, "verify", "/nonexistent.airlock"])
            #expect(refused.status == 1, "\(refused)")
            try container.exec([audit, "--root", root, "search", "--action", "bundle"]).checked()

            let log = try container.exec(["/bin/cat", root + "/var/log/airlock/audit-000001.jsonl"]).checked().output
            let lines = log.split(separator: 0x0A).map { Array($0) }
            let records = try lines.map { try AuditRecord(line: $0) }
            #expect(records.count >= 3)
            #expect(records.contains { $0.action == "bundle.verify" && $0.outcome == .failed })

            // journald takes datagrams asynchronously: wait (bounded) until every record is there.
            var entries: [[String: Any]] = []
            for _ in 0..<50 {
                let json = try container.exec([
                    "journalctl", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=airlock-audit",
                ]).checked().stdout
                entries = try json.split(separator: "\n").map { line in
                    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                }
                if entries.count >= records.count { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            let tail = try container.exec(["journalctl", "-o", "short-precise", "--no-pager", "-n", "60"]).stdout
            #expect(
                entries.count == records.count,
                "journal tail:\n\(tail)\njournal has seqs \(entries.map { $0["AIRLOCK_SEQ"] as? String ?? "?" }) of \(records.map(\.seq))")
            let bySeq = Dictionary(entries.compactMap { entry in (entry["AIRLOCK_SEQ"] as? String).map { ($0, entry) } }) { a, _ in a }
            var prev = AuditRecord.genesisPrev
            for (line, record) in zip(lines, records) {
                let entry = try #require(bySeq[String(record.seq)], "record \(record.seq) is not in the journal")
                let hash = try TestLog.hash(line + [0x0A])
                #expect(entry["AIRLOCK_ACTION"] as? String == record.action)
                #expect(entry["AIRLOCK_ACTOR"] as? String == record.actor.id)
                #expect(entry["AIRLOCK_OUTCOME"] as? String == record.outcome.rawValue)
                #expect(entry["AIRLOCK_TIME"] as? String == record.time)
                #expect(entry["AIRLOCK_PREV"] as? String == prev)
                #expect(entry["AIRLOCK_CHAIN"] as? String == hash)
                #expect(entry["AIRLOCK_SEGMENT"] as? String == "audit-000001.jsonl")
                #expect(entry["AIRLOCK_RECORD"] as? String == String(decoding: line, as: UTF8.self))
                let message = try #require(entry["MESSAGE"] as? String)
                #expect(message.hasPrefix("audit #\(record.seq): \(record.actor.id)") && message.contains(record.action))
                let priority = record.outcome == .ok ? "6" : record.outcome == .refused ? "4" : "3"
                #expect(entry["PRIORITY"] as? String == priority)
                prev = hash
            }
            let failed = try #require(records.first { $0.action == "bundle.verify" })
            let entry = try #require(bySeq[String(failed.seq)])
            // A file that cannot be read names no bundle; its path is in the details.
            #expect(entry["AIRLOCK_TARGET_BUNDLE"] == nil)
            #expect(entry["AIRLOCK_DETAIL_FILE"] as? String == "/nonexistent.airlock")
            #expect((entry["AIRLOCK_DETAIL_REASON"] as? String)?.contains("/nonexistent.airlock") == true)
            #expect(entry["AIRLOCK_ACTOR_UID"] as? String == "0")
            let read = try #require(records.first { $0.action == "audit.read" })
            #expect(bySeq[String(read.seq)]?["AIRLOCK_DETAIL_QUERY"] as? String == "action=bundle")

            // journald stopped, its socket file left behind: sends fail (nobody listens), yet
            // the append succeeds, says so once on stderr, and the file log stays intact.
            try container.exec([
                "systemctl", "stop", "systemd-journald.service", "systemd-journald.socket",
                "systemd-journald-dev-log.socket", "systemd-journald-audit.socket",
            ]).checked()
            try container.exec(["/usr/bin/test", "-S", "/run/systemd/journal/socket"]).checked()
            let withoutJournald = try container.exec([audit, "--root", root, "checkpoint"])
            #expect(withoutJournald.status == 0, "\(withoutJournald)")
            #expect(withoutJournald.stderr.contains("the journald copy of the audit log failed"), "\(withoutJournald)")
            #expect(withoutJournald.stderr.components(separatedBy: "journald copy").count == 2, "reported once: \(withoutJournald)")
            let verified = try container.exec([audit, "--root", root, "verify"])
            #expect(verified.status == 0 && verified.stdout.hasPrefix("intact:"), "\(verified)")
        }
    }

    @Test func writerWorksWithoutJournald() async throws {
        let log = try TestLog()
        defer { log.remove() }
        // No socket at the path, and a path that exists but is no socket: no journal copy.
        let regularFile = log.folder.file("not-a-socket")
        #expect(FileManager.default.createFile(atPath: regularFile, contents: Data()))
        for socket in [log.folder.file("no-such-socket"), regularFile] {
            let failures = Mutex(0)
            var options = log.options
            options.journalSocket = socket
            options.onJournalFailure = { _ in failures.withLock { $0 += 1 } }
            let writer = try AuditLogWriter(layout: log.layout, options: options, clock: log.clock)
            #expect(writer.journal == nil)
            for index in 0..<5 { try await writer.append(TestLog.event(index)) }
            await writer.journalDrained()
            #expect(failures.withLock { $0 } == 0)
        }
        #expect(try log.verify().isIntact)
    }
}
