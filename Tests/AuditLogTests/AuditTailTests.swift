import AirlockCore
@testable import AuditLog
import Foundation
import Testing

/// The end of the log against the newest record its writers sent to the journal (issue 16,
/// point 1). The journal itself is read in the systemd container (`ServiceContainerTests`); here
/// its answer is given, so each rule can be shown on its own.
@Suite struct AuditTailTests {
    /// A log of `count` records in one open segment, no checkpoint after them, and the journal
    /// entry its writer sent for the last one.
    static func openLog(_ count: Int) async throws -> (TestLog, AuditJournalHead) {
        let log = try TestLog(segmentBytes: 1 << 20, checkpointInterval: 1000)
        try await log.fill(count)
        let records = try log.records(1)
        let last = try #require(records.last)
        #expect(last.action != AuditAction.checkpoint.rawValue)
        return (log, AuditJournalHead(seq: last.seq, prev: last.prev, segment: "audit-000001.jsonl", time: last.time, uid: 990))
    }

    static func verify(_ log: TestLog, head: AuditJournalHead?) throws -> AuditVerdict {
        try AuditLogVerifier.verify(
            directory: log.layout.directory, publicKey: log.publicKey(),
            tail: head.map { .given(.journal(head: $0, entries: 8)) } ?? .none)
    }

    @Test func recordsCutFromTheOpenSegmentAfterTheLastCheckpointAreCaught() async throws {
        let (log, head) = try await Self.openLog(8)
        defer { log.remove() }
        #expect(try Self.verify(log, head: head).isIntact)

        var lines = try log.lines(1)
        let written = lines.count
        lines.removeLast(2)
        try log.write(1, lines: lines)
        // What issue 16 found: the chain and the checkpoints alone say intact, two records short.
        guard case .intact(let records, _, _) = try Self.verify(log, head: nil) else {
            Issue.record("the cut log should pass without the journal")
            return
        }
        #expect(records == written - 2)
        let damage = try #require(try Self.verify(log, head: head).damage)
        #expect(damage.kind == .truncatedTail, "\(damage)")
        #expect(damage.seq == head.seq - 1 && damage.line == written - 2, "\(damage)")
        #expect(damage.message.contains("the system journal received record \(head.seq)"), "\(damage)")
    }

    @Test func aLogRewrittenUnderTheJournalsNewestRecordIsEdited() async throws {
        let (log, head) = try await Self.openLog(8)
        defer { log.remove() }
        // Cut the last two and let a writer append two others: the length is back, the chain is
        // whole, but record `head.seq` is not the one the journal received.
        var lines = try log.lines(1)
        lines.removeLast(2)
        try log.write(1, lines: lines)
        try await log.fill(2)
        #expect(try Self.verify(log, head: nil).isIntact)
        let damage = try #require(try Self.verify(log, head: head).damage)
        #expect(damage.kind == .edited && damage.seq == head.seq, "\(damage)")
        #expect(damage.message.contains("not the one its writer sent"), "\(damage)")
    }

    @Test func aJournalThatSawLessThanTheLogIsNoDamage() async throws {
        // journald lost its newest entries (a crash before it wrote them): the log is longer
        // than the journal knows, which proves nothing wrong.
        let (log, _) = try await Self.openLog(8)
        defer { log.remove() }
        let records = try log.records(1)
        let earlier = records[records.count - 3]
        let head = AuditJournalHead(seq: earlier.seq, prev: earlier.prev, segment: "audit-000001.jsonl", time: earlier.time, uid: 0)
        #expect(try Self.verify(log, head: head).isIntact)
        let wrong = AuditJournalHead(seq: earlier.seq, prev: String(repeating: "f", count: 64), segment: "audit-000001.jsonl", time: earlier.time, uid: 0)
        #expect(try Self.verify(log, head: wrong).damage?.kind == .edited)
    }

    @Test func theJournalOfThisHostHoldsNothingOfAFreshLog() async throws {
        // The real reader on whatever journal this host has (none, unreadable, or one without
        // entries of this temporary log): never a head for it, always a reason.
        let (log, _) = try await Self.openLog(2)
        defer { log.remove() }
        let evidence = AuditJournal.head(ofLogIn: log.layout.directory, writers: [0, getuid()], since: nil)
        guard case .unproven(let reason) = evidence else {
            Issue.record("a head for a log the journal never saw: \(evidence)")
            return
        }
        #expect(!reason.isEmpty)
        let (verdict, tail) = try AuditLogVerifier.verifyReportingTail(
            directory: log.layout.directory, publicKey: log.publicKey(), tail: .journal)
        #expect(verdict.isIntact)
        #expect(tail == evidence)
    }
}
