import AirlockCore
import AuditLog
import Foundation
import TestSupport
import Testing

/// Retention: expired sealed segments go whole, oldest first, never the active one; each
/// removal is recorded first, so the log still verifies, while any other removal is caught.
@Suite struct AuditRetentionTests {
    static let day: Int64 = 86_400_000
    /// 2025-01-01T12:00:00.000Z
    static let start: Int64 = 1_735_732_800_000
    static let admin = AuditActor.local(user: "officer", uid: 0)

    /// One segment per UTC day for `days` days (3 records each); segment k is sealed on day k.
    static func makeLog(days: Int) async throws -> TestLog {
        let log = try TestLog(segmentBytes: 1 << 20, checkpointInterval: 1_000_000, clock: ScriptedClock(start: start))
        for _ in 0..<days {
            try await log.fill(3)
            log.clock.move(by: day)
        }
        #expect(try log.segments() == Array(1...days))
        return log
    }

    func retentionRecords(_ log: TestLog) throws -> [AuditRecord] {
        try log.segments().flatMap { try log.records($0) }.filter { $0.action == "audit.retention" }
    }

    @Test func expiredSegmentsGoWholeOldestFirstAndTheLogStillVerifies() async throws {
        let log = try await Self.makeLog(days: 8)
        defer { log.remove() }
        let before = try (1...3).map { try log.records($0) }
        let beforeLines = try (1...3).map { try log.lines($0) }
        // 180 days after day 3.5: segments sealed on days 1, 2 and 3 are past the cut-off.
        log.clock.set(Self.start + 183 * Self.day + Self.day / 2)
        let writer = try log.writer()

        let dry = try await writer.applyRetention(AuditPolicy(retentionDays: 180), by: Self.admin, dryRun: true)
        #expect(dry.removed.map(\.name) == ["audit-000001.jsonl", "audit-000002.jsonl", "audit-000003.jsonl"])
        #expect(try log.segments() == Array(1...8), "a dry run removes nothing")
        #expect(try retentionRecords(log).isEmpty, "a dry run records nothing")

        let report = try await writer.applyRetention(AuditPolicy(retentionDays: 180), by: Self.admin)
        #expect(report.removed == dry.removed)
        #expect(report.kept?.contains("audit-000004.jsonl") == true, "\(String(describing: report.kept))")
        let remaining = try log.segments()
        #expect(remaining.first == 4 && !remaining.contains(3))
        // One record per removed segment, naming it, its seq range, its last chain hash and seal.
        let records = try retentionRecords(log)
        #expect(records.map { $0.details?["segment"] } == ["audit-000001.jsonl", "audit-000002.jsonl", "audit-000003.jsonl"])
        for (index, record) in records.enumerated() {
            #expect(record.actor == Self.admin)
            #expect(record.details?["first_seq"] == String(before[index].first!.seq))
            #expect(record.details?["last_seq"] == String(before[index].last!.seq))
            #expect(record.details?["chain"] == (try TestLog.hash(beforeLines[index].last!)))
            #expect(record.details?["seal"].map { Array($0.utf8) + [0x0A] } == beforeLines[index].last!)
        }
        let verdict = try log.verify()
        #expect(verdict.isIntact, "\(verdict)")
        // The log goes on, and still verifies.
        try await log.fill(5)
        #expect(try log.verify().isIntact)
        // Running again removes nothing more (segment 4 was sealed on day 4, inside the period).
        let again = try await log.writer().applyRetention(AuditPolicy(retentionDays: 180), by: Self.admin)
        #expect(again.removed.isEmpty)
    }

    @Test func theActiveSegmentIsNeverRemoved() async throws {
        let log = try await Self.makeLog(days: 2)
        defer { log.remove() }
        log.clock.set(Self.start + 1000 * Self.day)
        let report = try await log.writer().applyRetention(AuditPolicy(retentionDays: 180), by: Self.admin)
        // Segment 2 was being written (its records are 998 days old, but it is not sealed).
        #expect(report.removed.map(\.name) == ["audit-000001.jsonl"])
        #expect(try log.segments().first == 2)
        #expect(try log.verify().isIntact)
    }

    @Test func oldestSegmentsRemovedWithoutARecordAreCaught() async throws {
        let log = try await Self.makeLog(days: 5)
        defer { log.remove() }
        for number in [1, 2] { try FileManager.default.removeItem(atPath: log.segmentPath(number)) }
        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .segmentMissing)
        #expect(damage.segment == "audit-000002.jsonl")
        #expect(damage.message.contains("no audit.retention record"), "\(damage)")
    }

    @Test func afterARecordedRetentionAnyOtherRemovalIsStillCaught() async throws {
        let log = try await Self.makeLog(days: 8)
        defer { log.remove() }
        log.clock.set(Self.start + 183 * Self.day + Self.day / 2)
        _ = try await log.writer().applyRetention(AuditPolicy(retentionDays: 180), by: Self.admin)
        #expect(try log.verify().isIntact)
        let kept = log.folder.file("kept")
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
        for number in [4, 6] { try FileManager.default.copyItem(atPath: log.segmentPath(number), toPath: kept + "/\(number)") }

        // A middle segment.
        try FileManager.default.removeItem(atPath: log.segmentPath(6))
        let middle = try #require(try log.verify().damage)
        #expect(middle.kind == .segmentMissing && middle.segment == "audit-000006.jsonl", "\(middle)")
        try FileManager.default.copyItem(atPath: kept + "/6", toPath: log.segmentPath(6))
        #expect(try log.verify().isIntact)

        // The oldest one left, which no retention record names.
        try FileManager.default.removeItem(atPath: log.segmentPath(4))
        let oldest = try #require(try log.verify().damage)
        #expect(oldest.kind == .segmentMissing && oldest.segment == "audit-000004.jsonl", "\(oldest)")
    }

    @Test func aRemovalInterruptedHalfWayStillVerifies() async throws {
        let log = try await Self.makeLog(days: 6)
        defer { log.remove() }
        let kept = log.folder.file("kept")
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
        for number in [2, 3] { try FileManager.default.copyItem(atPath: log.segmentPath(number), toPath: kept + "/\(number)") }
        log.clock.set(Self.start + 183 * Self.day + Self.day / 2)
        _ = try await log.writer().applyRetention(AuditPolicy(retentionDays: 180), by: Self.admin)
        // As if the process died after the records and the first unlink(2).
        for number in [2, 3] { try FileManager.default.copyItem(atPath: kept + "/\(number)", toPath: log.segmentPath(number)) }
        #expect(try log.segments().first == 2)
        let verdict = try log.verify()
        #expect(verdict.isIntact, "\(verdict)")
    }

    @Test func aForgedRetentionRecordDoesNotAnchorTheLog() async throws {
        let log = try await Self.makeLog(days: 5)
        defer { log.remove() }
        log.clock.set(Self.start + 182 * Self.day + Self.day / 2)
        _ = try await log.writer().applyRetention(AuditPolicy(retentionDays: 180), by: Self.admin)
        let first = try #require(try log.segments().first)
        #expect(first == 3)
        // Swap the kept seal for another line (the retention record's own hash changes, so its
        // successor's prev is fixed up too, as a careful forger would; no key needed for that).
        let last = try #require(try log.segments().last)
        var lines = try log.lines(last)
        let index = try #require(try lines.firstIndex { try AuditRecord(line: $0).details?["segment"] == "audit-000002.jsonl" })
        var record = try AuditRecord(line: lines[index])
        record.details?["seal"] = String(decoding: try log.lines(first)[0].dropLast(), as: UTF8.self)
        lines[index] = record.line
        if index + 1 < lines.count {
            var next = try AuditRecord(line: lines[index + 1])
            next.prev = try TestLog.hash(lines[index])
            lines[index + 1] = next.line
        }
        try log.write(last, lines: lines)
        let damage = try #require(try log.verify().damage)
        #expect(damage.kind == .checkpointForged || damage.kind == .edited, "\(damage)")
    }

    @Test func policyBelow180DaysIsRefusedAndTheDefaultIs13Months() async throws {
        let folder = try TemporaryDirectory("airlock-audit-policy")
        defer { folder.remove() }
        #expect(try AuditPolicy.load(path: folder.file("none.yaml")).retentionDays == 396)
        try "retention_days: 200\n".write(toFile: folder.file("ok.yaml"), atomically: true, encoding: .utf8)
        #expect(try AuditPolicy.load(path: folder.file("ok.yaml")).retentionDays == 200)
        try "retention_days: 90\n".write(toFile: folder.file("short.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try AuditPolicy.load(path: folder.file("short.yaml"))
            Issue.record("a 90-day retention was accepted")
        } catch {
            #expect(error.description.contains("short.yaml") && error.description.contains("below the minimum of 180 days"))
        }
        try "retention_days: [1]\n".write(toFile: folder.file("bad.yaml"), atomically: true, encoding: .utf8)
        #expect(throws: AirlockError.self) { try AuditPolicy.load(path: folder.file("bad.yaml")) }
        // The writer refuses it too, before touching anything.
        let log = try await Self.makeLog(days: 3)
        defer { log.remove() }
        log.clock.set(Self.start + 1000 * Self.day)
        await #expect(throws: AirlockError.self) {
            try await log.writer().applyRetention(AuditPolicy(retentionDays: 179), by: Self.admin)
        }
        #expect(try log.segments() == [1, 2, 3])
    }

    @Test func retentionCommandOfTheExecutable() async throws {
        // A log from early 2025 under a host root; the executable runs on the real clock.
        let log = try await Self.makeLog(days: 4)
        defer { log.remove() }
        let audit = TestEnvironment.executable("airlock-audit")
        let root = log.folder.path
        let policy = log.folder.file("etc/airlock/audit.yaml")
        try FileManager.default.createDirectory(atPath: log.folder.file("etc/airlock"), withIntermediateDirectories: true)
        try "retention_days: 30\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let refused = try ProcessResult.run(audit, ["--root", root, "retention"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("audit.yaml: retention_days is 30, below the minimum of 180 days"), "\(refused)")

        try "retention_days: 396\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let dry = try ProcessResult.run(audit, ["--root", root, "retention", "--dry-run", "--json"]).checked()
        let report = try #require(try JSONSerialization.jsonObject(with: dry.output) as? [String: Any])
        let removed = try #require(report["removed"] as? [[String: Any]])
        #expect(removed.compactMap { $0["name"] as? String } == ["audit-000001.jsonl", "audit-000002.jsonl", "audit-000003.jsonl"])
        #expect(report["dry_run"] as? Bool == true && report["retention_days"] as? Int == 396)
        #expect(try log.segments() == [1, 2, 3, 4])

        let run = try ProcessResult.run(audit, ["--root", root, "retention"]).checked()
        #expect(run.stdout.contains("removed audit-000001.jsonl: records 1-"), "\(run)")
        #expect(try log.segments().first == 4)
        let verified = try ProcessResult.run(audit, ["--root", root, "verify"])
        #expect(verified.status == 0 && verified.stdout.hasPrefix("intact:"), "\(verified)")
    }
}
