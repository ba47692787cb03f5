import AuditLog
import Foundation
import Signing
import TestSupport
import Testing

/// Each test writes a log of several small segments, damages it the way an intruder (or a
/// failing disk) would, and checks that the verifier names the first bad record and the kind.
@Suite struct AuditTamperingTests {
    /// 60 events with 2 KiB segments and a checkpoint every 10 records: about a dozen segments.
    static func makeLog() async throws -> TestLog {
        let log = try TestLog()
        try await log.fill(60)
        return log
    }

    @Test func intactLogVerifies() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        let segments = try log.segments()
        #expect(segments.count >= 4)
        #expect(segments == Array(1...segments.count))
        let lines = try segments.flatMap { try log.lines($0) }
        guard case .intact(let records, let lastSeq, let lastCheckpoint) = try log.verify() else {
            Issue.record("not intact: \(try log.verify())")
            return
        }
        #expect(records == lines.count)
        #expect(lastSeq == UInt64(lines.count))
        #expect(lastCheckpoint != nil)
        // Every sealed segment ends with its seal, and every line is the canonical encoding.
        for number in segments.dropLast() {
            let last = try #require(try log.records(number).last)
            #expect(last.action == "audit.checkpoint" && last.details?["reason"] == "seal")
        }
        for line in lines { #expect(try AuditRecord(line: line).line == line) }
        // seq counts from 1 without a gap; prev is the hash of the line before.
        var prev = AuditRecord.genesisPrev
        for (index, line) in lines.enumerated() {
            let record = try AuditRecord(line: line)
            #expect(record.seq == UInt64(index + 1) && record.prev == prev)
            prev = try TestLog.hash(line)
        }
        // Checkpoints at every multiple of 10.
        let checkpoints = try lines.map { try AuditRecord(line: $0) }.filter { $0.action == "audit.checkpoint" }
        #expect(checkpoints.contains { $0.seq == 10 && $0.details?["reason"] == "interval" })
    }

    @Test func changedFieldIsEdited() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        var lines = try log.lines(2)
        let index = try log.ordinaryLine(in: 2)
        let original = try AuditRecord(line: lines[index])
        var changed = original
        changed.outcome = original.outcome == .ok ? .refused : .ok
        lines[index] = changed.line
        try log.write(2, lines: lines)

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .edited)
        #expect(damage.segment == "audit-000002.jsonl" && damage.line == index + 1 && damage.seq == original.seq)
    }

    @Test func deletedRecordIsRemoved() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        var lines = try log.lines(3)
        let index = try log.ordinaryLine(in: 3)
        let deleted = try AuditRecord(line: lines[index])
        lines.remove(at: index)
        try log.write(3, lines: lines)

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .removed)
        #expect(damage.segment == "audit-000003.jsonl" && damage.line == index + 1 && damage.seq == deleted.seq)
    }

    @Test func forgedRecordWithCorrectLookingPrevIsInserted() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        var lines = try log.lines(2)
        let index = try log.ordinaryLine(in: 2)
        let before = try AuditRecord(line: lines[index])
        // The forger knows the format: seq one more, prev the hash of the line before it.
        let forged = AuditRecord(
            seq: before.seq + 1, time: before.time, clock: .synchronized, actor: .local(user: "mallory", uid: 0),
            action: AuditAction.clientAdd.rawValue, target: .none, outcome: .ok, details: ["client": "backdoor"],
            prev: try TestLog.hash(lines[index]))
        lines.insert(forged.line, at: index + 1)
        try log.write(2, lines: lines)

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .inserted)
        #expect(damage.segment == "audit-000002.jsonl" && damage.line == index + 2 && damage.seq == forged.seq)
    }

    @Test func swappedRecordsAreReordered() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        var lines = try log.lines(2)
        let index = try log.ordinaryLine(in: 2)
        let second = try AuditRecord(line: lines[index + 1])
        lines.swapAt(index, index + 1)
        try log.write(2, lines: lines)

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .reordered)
        #expect(damage.segment == "audit-000002.jsonl" && damage.line == index + 1 && damage.seq == second.seq)
    }

    @Test func cutOffTailIsTruncated() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try await log.fill(40)
        let kept = try await log.writer().checkpoint()
        let last = try #require(try log.segments().last)
        var lines = try log.lines(last)
        #expect(try AuditRecord(line: lines[lines.count - 1]).seq == kept.seq)
        lines.removeLast()
        try log.write(last, lines: lines)

        // Caught by the latest checkpoint beside the log...
        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .truncatedTail)
        #expect(damage.seq == kept.seq)
        // ...and, with that copy deleted too, by the one kept off the host.
        try FileManager.default.removeItem(atPath: log.layout.latestCheckpointPath)
        #expect(try log.verify().isIntact)
        let outside = try #require(try log.verify(against: kept).damage)
        #expect(outside.kind == .truncatedTail)
        #expect(outside.message.contains("seq \(kept.seq)"))
    }

    @Test func rewrittenLogDoesNotMatchTheCheckpointKeptOutside() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try await log.fill(12)
        let kept = try await log.writer().checkpoint()
        // Root rewrites the whole log from scratch with the same number of records.
        try FileManager.default.removeItem(atPath: log.layout.directory)
        let rewritten = try await TestLog.rewritten(log, count: 12)
        let damage = try #require(
            try AuditLogVerifier.verify(
                directory: log.layout.directory, publicKey: rewritten, against: kept
            ).damage)
        #expect(damage.kind == .checkpointForged)
        // With the real key, the rewritten log's own checkpoints are the forgeries.
        let real = try #require(try log.verify(against: kept).damage)
        #expect(real.kind == .checkpointForged)
    }

    @Test func removedMiddleSegmentIsMissing() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        try FileManager.default.removeItem(atPath: log.segmentPath(3))

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .segmentMissing)
        #expect(damage.segment == "audit-000003.jsonl" && damage.line == 0)
        let endOfTwo = try #require(try log.records(2).last)
        #expect(damage.seq == endOfTwo.seq + 1)
    }

    @Test func checkpointSignedByAnotherKeyIsForged() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        var lines = try log.lines(2)
        let index = lines.count - 1
        var seal = try AuditRecord(line: lines[index])
        #expect(seal.action == "audit.checkpoint")
        // A well-formed checkpoint over the same seq, chain, segment and time, by another key.
        let other = try PrivateKey.generate(.ecdsaP384)
        let statement = AuditCheckpoint(
            seq: seal.seq, chain: seal.prev, segment: "audit-000002.jsonl", time: seal.time,
            key: other.publicKey.keyID, signature: "", reason: "seal")
        seal.details = [
            "key": other.publicKey.keyID, "reason": "seal",
            "signature": Digest(bytes: try other.sign(statement.signedBytes)).hex,
        ]
        lines[index] = seal.line
        try log.write(2, lines: lines)

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .checkpointForged)
        #expect(damage.segment == "audit-000002.jsonl" && damage.line == index + 1 && damage.seq == seal.seq)
    }

    @Test func sealedSegmentWithoutItsCheckpointIsMissingOne() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        // Drop segment 2's seal and re-chain what follows (no key needed): still caught.
        var lines = try log.lines(2)
        lines.removeLast()
        try log.write(2, lines: lines)
        var later = try log.lines(3)
        var first = try AuditRecord(line: later[0])
        first.seq -= 1
        first.prev = try TestLog.hash(lines[lines.count - 1])
        later[0] = first.line
        try log.write(3, lines: later)

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .checkpointMissing)
        #expect(damage.segment == "audit-000002.jsonl" && damage.line == lines.count)
    }

    @Test func clockRolledBackBetweenRecords() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try await log.fill(20)
        log.clock.move(by: -3_600_000)
        let rolled = try await log.writer().append(TestLog.event(1))
        try await log.fill(5)

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .clockRolledBack)
        #expect(damage.seq == rolled)
        #expect(damage.message.contains("3599"))
        // Small steps back, within the tolerance, are not damage.
        let calm = try TestLog()
        defer { calm.remove() }
        try await calm.fill(5)
        calm.clock.move(by: -500)
        try await calm.fill(5)
        #expect(try calm.verify().isIntact)
    }

    @Test func unfinishedLastLineIsMalformedUntilTheWriterRecovers() async throws {
        let log = try await Self.makeLog()
        defer { log.remove() }
        let last = try #require(try log.segments().last)
        let handle = try #require(FileHandle(forWritingAtPath: log.segmentPath(last)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"action":"gateway.req"#.utf8))
        try handle.close()

        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .malformed && damage.segment == AuditLayout.segmentName(last))
    }
}

extension TestLog {
    /// Writes `count` events into `log`'s folder with a fresh key (as root could) and returns
    /// that key's public half.
    static func rewritten(_ log: TestLog, count: Int) async throws -> PublicKey {
        let forger = AuditLayout(directory: log.layout.directory, keyPath: log.folder.file("forger/audit-key.pem"))
        let writer = try AuditLogWriter(layout: forger, options: log.options, clock: log.clock)
        for index in 0..<count { try await writer.append(TestLog.event(index)) }
        return try AuditKey.publicKey(forger)
    }
}
