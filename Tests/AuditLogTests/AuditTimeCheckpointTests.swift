import AirlockCore
import AuditLog
import Foundation
import TestSupport
import Testing

/// Checkpoints every T seconds (`checkpointSeconds`), on the scripted clock: signed after the
/// first record written T seconds or more after the latest checkpoint, never for an idle log.
@Suite struct AuditTimeCheckpointTests {
    func log() throws -> TestLog {
        // Large segments and a far-off interval: only time makes checkpoints here.
        try TestLog(segmentBytes: 1 << 20, checkpointInterval: 1_000_000)
    }

    func checkpoints(_ log: TestLog) throws -> [AuditRecord] {
        try log.segments().flatMap { try log.records($0) }.filter { $0.action == "audit.checkpoint" }
    }

    @Test func recordAfterTSecondsIsFollowedByACheckpoint() async throws {
        let log = try log()
        defer { log.remove() }
        let writer = try log.writer()
        for index in 0..<3 { try await writer.append(TestLog.event(index)) }
        log.clock.move(by: 298_000)
        try await writer.append(TestLog.event(3))
        #expect(try checkpoints(log).isEmpty, "a checkpoint before 300 s had passed")

        log.clock.move(by: 2_000)
        let due = try await writer.append(TestLog.event(4))
        let first = try #require(try checkpoints(log).first)
        #expect(first.seq == due + 1 && first.details?["reason"] == "time")
        // The checkpoint covers every record before it: its chain is the hash of record `due`.
        let lines = try log.lines(1)
        #expect(first.prev == (try TestLog.hash(lines[Int(due) - 1])))

        // Idle for ten minutes: nothing is signed, since nothing new needs covering ...
        log.clock.move(by: 600_000)
        #expect(try await writer.checkpointIfDue() == nil)
        #expect(try checkpoints(log).count == 1)
        // ... and the timer counts from the checkpoint, not from the last record.
        let next = try await writer.append(TestLog.event(5))
        #expect(try checkpoints(log).map(\.seq) == [first.seq, next + 1])
        #expect(try log.verify().isIntact)
    }

    @Test func anotherWriterCountsFromTheLatestCheckpointOnDisk() async throws {
        let log = try log()
        defer { log.remove() }
        try await log.fill(2)
        log.clock.move(by: 301_000)
        try await log.fill(1)  // a new writer, like another process: signs after this record
        #expect(try checkpoints(log).count == 1)

        log.clock.move(by: 200_000)
        try await log.fill(1)
        #expect(try checkpoints(log).count == 1, "only 200 s after the checkpoint")
        log.clock.move(by: 100_000)
        try await log.fill(1)
        #expect(try checkpoints(log).count == 2)

        // Without the checkpoint copy, a writer counts from the segment's first record: at
        // most earlier than needed, never later.
        try FileManager.default.removeItem(atPath: log.layout.latestCheckpointPath)
        log.clock.move(by: 10_000)
        try await log.fill(1)
        #expect(try checkpoints(log).count == 3)
        #expect(try log.verify().isIntact)
    }

    @Test func checkpointIfDueCoversTheLastRecordsOfAQuietSpell() async throws {
        let log = try log()
        defer { log.remove() }
        let writer = try log.writer()
        let last = try await writer.append(TestLog.event(0))
        #expect(try await writer.checkpointIfDue() == nil, "not due yet")
        log.clock.move(by: 300_000)
        let checkpoint = try #require(try await writer.checkpointIfDue())
        #expect(checkpoint.seq == last + 1 && checkpoint.reason == "time")
        #expect(try await writer.checkpointIfDue() == nil, "nothing new to cover")
        #expect(try log.verify().isIntact)
    }
}
