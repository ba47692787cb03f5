import AirlockCore
import AuditLog
import Foundation
import Signing
import TestSupport
import Testing

@Suite struct AuditLogWriterTests {
    @Test func firstUseCreatesTheKeyWithMode0600AndTheFirstSegment() async throws {
        let log = try TestLog()
        defer { log.remove() }
        let seq = try await log.writer().append(TestLog.event(0))
        #expect(seq == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: log.layout.keyPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(FileManager.default.fileExists(atPath: log.layout.publicKeyPath))
        #expect(try log.segments() == [1])
        let record = try #require(try log.records(1).first)
        #expect(record.prev == AuditRecord.genesisPrev && record.clock == .synchronized)
        #expect(record.time == "2026-11-29T12:00:00.001Z" || record.time.hasPrefix("2026-11-29T12:00:00."))
        // The same key is used again, not replaced.
        let again = try await log.writer().append(TestLog.event(1))
        #expect(again == 2)
        #expect(try log.verify().isIntact)
    }

    @Test func tornWriteIsCutOffAndRecordedOnReopen() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try await log.fill(30)
        // What kill -9 in the middle of write(2) leaves: half a record, no newline.
        let last = try #require(try log.segments().last)
        let lineCountBefore = try log.lines(last).count
        let half = Array(TestLog.event(1).action.rawValue.utf8) + Array(#"{"action":"gateway.request","actor":{"id""#.utf8)
        let handle = try #require(FileHandle(forWritingAtPath: log.segmentPath(last)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(half))
        try handle.close()
        #expect(try log.verify().damage?.kind == .malformed)

        let writer = try log.writer()
        let records = try log.records(last)
        #expect(records.count == lineCountBefore + 1)
        let recovered = try #require(records.last)
        #expect(recovered.action == "audit.recovered")
        #expect(recovered.details?["discarded_bytes"] == String(half.count))
        #expect(recovered.details?["segment"] == AuditLayout.segmentName(last))
        try await writer.append(TestLog.event(2))
        #expect(try log.verify().isIntact)
    }

    @Test func lastLineThatIsNotJSONIsCutOffToo() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try await log.fill(3)
        let garbage = Array("\0\0\0\0 not a record\n".utf8)
        let handle = try #require(FileHandle(forWritingAtPath: log.segmentPath(1)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(garbage))
        try handle.close()

        _ = try log.writer()
        let records = try log.records(1)
        #expect(records.map(\.seq) == [1, 2, 3, 4])
        #expect(records[3].action == "audit.recovered" && records[3].details?["discarded_bytes"] == String(garbage.count))
        #expect(try log.verify().isIntact)
    }

    @Test func twoBadLastLinesAreDamageNotSomethingToCutAway() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try await log.fill(3)
        let handle = try #require(FileHandle(forWritingAtPath: log.segmentPath(1)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("garbage\n{\"half".utf8))
        try handle.close()
        let size = try FileManager.default.attributesOfItem(atPath: log.segmentPath(1))[.size] as? NSNumber

        #expect(throws: AirlockError.self) { _ = try log.writer() }
        // Nothing was cut: the evidence stays for verify.
        #expect(try FileManager.default.attributesOfItem(atPath: log.segmentPath(1))[.size] as? NSNumber == size)
    }

    @Test func concurrentTasksAndTwoWritersNeverInterleaveOrForkTheChain() async throws {
        let log = try TestLog(segmentBytes: 16 * 1024, checkpointInterval: 50)
        defer { log.remove() }
        // Two writers on one folder stand in for the gateway and an admin command: separate
        // locks' open file descriptions, separate caches of the tail.
        let writers = [try log.writer(), try log.writer()]
        let perTask = 150
        let seqs = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<8 {
                let writer = writers[task % 2]
                group.addTask {
                    var seqs: [UInt64] = []
                    for index in 0..<perTask { seqs.append(try await writer.append(TestLog.event(task * perTask + index))) }
                    return seqs
                }
            }
            var all: [UInt64] = []
            for try await part in group { all += part }
            return all
        }
        #expect(seqs.count == 8 * perTask)
        #expect(Set(seqs).count == seqs.count)
        // Every line a whole record, seq 1...n, each prev the hash of the line before.
        let lines = try log.segments().flatMap { try log.lines($0) }
        #expect(try log.segments().count >= 3)
        var prev = AuditRecord.genesisPrev
        for (index, line) in lines.enumerated() {
            let record = try AuditRecord(line: line)
            #expect(record.seq == UInt64(index + 1) && record.prev == prev)
            prev = try TestLog.hash(line)
        }
        let events = try lines.map { try AuditRecord(line: $0) }.filter { $0.action != "audit.checkpoint" }
        #expect(events.count == 8 * perTask)
        #expect(Set(seqs) == Set(events.map(\.seq)))
        guard case .intact(let records, _, _) = try log.verify() else {
            Issue.record("not intact: \(try log.verify())")
            return
        }
        #expect(records == lines.count)
    }

    @Test func verifyBesideBusyWritersSeesWholeFlushesOnly() async throws {
        let log = try TestLog(segmentBytes: 8 * 1024, checkpointInterval: 25)
        defer { log.remove() }
        let writers = [try log.writer(), try log.writer()]
        let publicKey = try log.publicKey()
        let directory = log.layout.directory
        let verdicts = try await withThrowingTaskGroup(of: [AuditVerdict].self) { group in
            for task in 0..<4 {
                let writer = writers[task % 2]
                group.addTask {
                    for index in 0..<150 { try await writer.append(TestLog.event(index)) }
                    return []
                }
            }
            group.addTask {
                var verdicts: [AuditVerdict] = []
                for _ in 0..<15 { verdicts.append(try AuditLogVerifier.verify(directory: directory, publicKey: publicKey)) }
                return verdicts
            }
            var all: [AuditVerdict] = []
            for try await part in group { all += part }
            return all
        }
        #expect(verdicts.count == 15)
        for verdict in verdicts { #expect(verdict.isIntact, "\(verdict)") }
        #expect(try log.verify().isIntact)
    }

    @Test func newUTCDayStartsANewSegment() async throws {
        let clock = ScriptedClock(start: 1_795_996_799_000)  // 2026-11-29T23:59:59.000Z
        let log = try TestLog(segmentBytes: 1 << 20, clock: clock)
        defer { log.remove() }
        try await log.fill(3)
        clock.move(by: 2000)
        try await log.fill(3)
        #expect(try log.segments() == [1, 2])
        let first = try log.records(1)
        #expect(first.last?.details?["reason"] == "seal")
        #expect(try log.records(2).allSatisfy { $0.time.hasPrefix("2026-11-30") })
        #expect(try log.verify().isIntact)
    }

    @Test func writeFailureIsAnAirlockErrorSoTheGatewayCanFailClosed() async throws {
        let log = try TestLog()
        defer { log.remove() }
        // The log folder on a file system of its own, 256 KiB, filled to the last page by
        // another file: a full disk, as the writer meets it (write(2) fails with ENOSPC).
        try FileManager.default.createDirectory(atPath: log.layout.directory, withIntermediateDirectories: true)
        try #require(
            try ProcessResult.run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", log.layout.directory]).status == 0,
            "mounting a small tmpfs (the tests run as root)")
        defer { _ = try? ProcessResult.run("/usr/bin/umount", ["-l", log.layout.directory]) }
        try await log.fill(30)
        let writer = try log.writer()
        let filler = log.layout.directory + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0x55, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        close(fd)
        var failure: AirlockError?
        for index in 0..<200 {
            do {
                try await writer.append(TestLog.event(index))
            } catch {
                failure = error
                break
            }
        }
        let error = try #require(failure, "200 appends succeeded on a full disk")
        #expect(error.code == .system)
        #expect(error.description.contains("the audit log cannot be written"), "\(error)")
        #expect(error.description.contains("No space left on device"), "\(error)")
        // Once the disk has room again, the log continues where it was, unbroken.
        unlink(filler)
        try await writer.append(TestLog.event(1))
        #expect(try log.verify().isIntact)
    }

    @Test func durableThroughputOfConcurrentAppends() async throws {
        let folder = try TemporaryDirectory("airlock-audit-bench")
        defer { folder.remove() }
        let layout = AuditLayout(directory: folder.file("log"), keyPath: folder.file("audit-key.pem"))
        let writer = try AuditLogWriter(layout: layout)
        let count = 10_000
        let event = TestLog.event(1)

        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<count { group.addTask { try await writer.append(event) } }
            try await group.waitForAll()
        }
        let all = ContinuousClock.now - started
        let seconds = Double(all.components.seconds) + Double(all.components.attoseconds) / 1e18

        let sequentialCount = 2_000
        let sequentialStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for _ in 0..<(sequentialCount / 8) { try await writer.append(event) } }
            }
            try await group.waitForAll()
        }
        let eight = ContinuousClock.now - sequentialStart
        let eightSeconds = Double(eight.components.seconds) + Double(eight.components.attoseconds) / 1e18
        print(
            "audit log: \(count) concurrent durable appends in \(String(format: "%.3f", seconds)) s = "
                + "\(Int(Double(count) / seconds)) records/s; 8 tasks appending one at a time: "
                + "\(Int(Double(sequentialCount) / eightSeconds)) records/s")
        let verifyStart = ContinuousClock.now
        let verdict = try AuditLogVerifier.verify(directory: layout.directory, publicKey: AuditKey.publicKey(layout))
        let verifying = ContinuousClock.now - verifyStart
        guard case .intact(let records, _, _) = verdict else {
            Issue.record("the benchmark's log is not intact: \(verdict)")
            return
        }
        let verifySeconds = Double(verifying.components.seconds) + Double(verifying.components.attoseconds) / 1e18
        print(
            "audit log: verified \(records) records in \(String(format: "%.3f", verifySeconds)) s = \(Int(Double(records) / verifySeconds)) records/s"
        )
        #expect(records >= count + sequentialCount)
    }
}
