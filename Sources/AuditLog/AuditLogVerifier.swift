public import AirlockCore
public import Signing
internal import Dispatch
internal import Synchronization
#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif

/// What `AuditLogVerifier.verify` found.
public enum AuditVerdict: Sendable, Equatable {
    /// Every record chains to the one before it, every checkpoint is signed by the audit key,
    /// every sealed segment ends with its checkpoint, and nothing is missing from the end.
    case intact(records: Int, lastSeq: UInt64, lastCheckpoint: AuditCheckpoint?)
    /// The first thing found wrong, walking from the first record.
    case damaged(AuditDamage)
}

/// The first bad record of a log and what is wrong with it.
public struct AuditDamage: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// A record's bytes changed: its hash no longer matches the next record's `prev` (or
        /// the checkpoint kept outside), or a record's own `seq`/`prev` was altered.
        case edited
        /// One or more records are gone: a gap in `seq`.
        case removed
        /// A record that was never written by the log: it repeats the `seq` of the record after
        /// it and both claim the same predecessor (`prev` copied to look right).
        case inserted
        /// Records are out of order: `seq` goes back, or jumps and the missing one follows.
        case reordered
        /// The log ends before a checkpoint the verifier knows of (`audit-checkpoint.json`, or
        /// one kept outside): records were cut off the end.
        case truncatedTail = "truncated-tail"
        /// A checkpoint's signature is not the audit key's (or the checkpoint lost its fields).
        case checkpointForged = "checkpoint-forged"
        /// A sealed segment (one followed by another) does not end with its seal checkpoint.
        case checkpointMissing = "checkpoint-missing"
        /// A record's time is earlier than the one before it by more than the tolerance.
        /// Treated as damage, not a warning: the order of events in time can no longer be
        /// trusted from the log alone; the `clock` field of the records says whether the host
        /// clock was synchronized.
        case clockRolledBack = "clock-rolled-back"
        /// A segment number is missing between the first and the last, or the log starts after
        /// 000001 and no `audit.retention` record accounts for the segments before it.
        case segmentMissing = "segment-missing"
        /// A line that is not a record (not JSON, unfinished, a bad time).
        case malformed
    }

    public var kind: Kind
    /// The segment file's name (`audit-000003.jsonl`), or `audit-checkpoint.json`.
    public var segment: String
    /// 1-based line in the segment; 0 when the damage is not one line (a missing segment).
    public var line: Int
    /// The `seq` of the bad record (for `removed`, the first missing one).
    public var seq: UInt64?
    public var message: String

    public init(kind: Kind, segment: String, line: Int, seq: UInt64?, message: String) {
        self.kind = kind
        self.segment = segment
        self.line = line
        self.seq = seq
        self.message = message
    }

    /// `edited: audit-000002.jsonl line 7 (seq 31): …`
    public var description: String {
        var text = "\(kind.rawValue): \(segment)"
        if line > 0 { text += " line \(line)" }
        if let seq { text += " (seq \(seq))" }
        return text + ": " + message
    }
}

/// Checks a whole audit log: the hash chain across every segment, every checkpoint's
/// signature, the seals of rotated segments, time order, and the end of the log against the
/// latest checkpoint (`audit-checkpoint.json`) and, when given, one kept off the host.
public enum AuditLogVerifier {
    /// Default tolerance for time going backwards between consecutive records.
    public static let defaultClockTolerance: Int64 = 1000

    public static func verify(
        directory: String, publicKey: PublicKey, against outside: AuditCheckpoint? = nil,
        clockToleranceMilliseconds: Int64 = defaultClockTolerance
    ) throws(AirlockError) -> AuditVerdict {
        var walk = Walk(publicKey: publicKey, tolerance: clockToleranceMilliseconds)
        let snapshot = try AuditFiles.snapshot(of: directory)
        var expected: [(source: String, checkpoint: AuditCheckpoint)] = []
        if let latest = snapshot.latest {
            let name = AuditLayout.latestCheckpointName
            let checkpoint: AuditCheckpoint
            do throws(AirlockError) {
                checkpoint = try AuditCheckpoint(json: latest)
            } catch {
                return .damaged(AuditDamage(kind: .malformed, segment: name, line: 1, seq: nil, message: error.description))
            }
            expected.append((name, checkpoint))
        }
        if let outside { expected.append(("the checkpoint kept outside", outside)) }
        for (source, checkpoint) in expected where !checkpoint.isSigned(by: publicKey) {
            return .damaged(
                AuditDamage(
                    kind: .checkpointForged, segment: checkpoint.segment, line: 0, seq: checkpoint.seq,
                    message: "\(source) is not signed by the audit key \(publicKey.keyID)"))
        }
        walk.watched = Set(expected.map(\.checkpoint.seq))

        // A log whose oldest segments went by retention starts later: its first record is taken
        // on trust here, and must match the `audit.retention` record of the segment before it.
        let firstNumber = snapshot.segments.first?.number ?? 1
        walk.anchored = firstNumber > 1
        var previousNumber = firstNumber - 1
        // Reading, parsing and hashing a segment does not depend on the others: a few at a time
        // on all cores; the chain walk then takes them in order.
        let window = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
        var first = 0
        while first < snapshot.segments.count {
            let group = Array(snapshot.segments[first..<min(first + window, snapshot.segments.count)])
            let results = Mutex([Result<ParsedSegment, AirlockError>?](repeating: nil, count: group.count))
            DispatchQueue.concurrentPerform(iterations: group.count) { slot in
                let name = AuditLayout.segmentName(group[slot].number)
                let result = Result { () throws(AirlockError) -> ParsedSegment in
                    let bytes = try AuditFiles.contents(of: directory + "/" + name, upTo: group[slot].size)
                    return try ParsedSegment(name: name, bytes: bytes)
                }
                results.withLock { $0[slot] = result }
            }
            for (slot, result) in results.withLock({ $0 }).enumerated() {
                guard let result else { throw AirlockError(.system, "a segment was not read") }
                let number = group[slot].number
                if number != previousNumber + 1 {
                    return .damaged(
                        AuditDamage(
                            kind: .segmentMissing, segment: AuditLayout.segmentName(previousNumber + 1), line: 0,
                            seq: walk.lastSeq + 1,
                            message: "segment \(AuditLayout.segmentName(previousNumber + 1)) is missing before "
                                + AuditLayout.segmentName(number)))
                }
                previousNumber = number
                let sealed = first + slot < snapshot.segments.count - 1
                if let damage = walk.segment(try result.get(), sealed: sealed) { return .damaged(damage) }
            }
            first += window
        }
        if walk.anchored, let damage = walk.checkAnchor(removed: AuditLayout.segmentName(firstNumber - 1)) {
            return .damaged(damage)
        }
        for (source, checkpoint) in expected {
            // Signed before retention removed the segment holding it: nothing left to compare.
            if let start = walk.start, checkpoint.seq < start.seq { continue }
            guard walk.lastSeq >= checkpoint.seq else {
                let end = walk.last.map { "\($0.segment) line \($0.line)" } ?? "no records"
                return .damaged(
                    AuditDamage(
                        kind: .truncatedTail, segment: walk.last?.segment ?? checkpoint.segment,
                        line: walk.last?.line ?? 0, seq: walk.lastSeq + 1,
                        message: "the log ends at seq \(walk.lastSeq) (\(end)), before seq \(checkpoint.seq) "
                            + "signed in \(source) (\(checkpoint.segment))"))
            }
            guard let seen = walk.seen[checkpoint.seq], seen.prev == checkpoint.chain, seen.segment == checkpoint.segment,
                seen.time == checkpoint.time
            else {
                let location = walk.seen[checkpoint.seq]
                return .damaged(
                    AuditDamage(
                        kind: .edited, segment: location?.segment ?? checkpoint.segment, line: location?.line ?? 0,
                        seq: checkpoint.seq,
                        message: "the log up to seq \(checkpoint.seq) is not the one \(source) signed: it was rewritten"))
            }
        }
        return .intact(records: walk.records, lastSeq: walk.lastSeq, lastCheckpoint: walk.lastCheckpoint)
    }

    /// One segment's lines, parsed and hashed.
    struct ParsedSegment: Sendable {
        struct Line: Sendable {
            var number: Int
            var hash: String
            var record: AuditRecord?
        }
        var name: String
        var lines: [Line] = []
        /// Bytes after the last newline, if any: an unfinished line.
        var unfinished: Int?

        init(name: String, bytes: [UInt8]) throws(AirlockError) {
            self.name = name
            var start = 0
            var number = 0
            while start < bytes.count {
                guard let newline = bytes[start...].firstIndex(of: 0x0A) else {
                    unfinished = bytes.count - start
                    break
                }
                number += 1
                let line = bytes[start...newline]
                let record = line.withUnsafeBufferPointer { buffer in
                    RecordParser.record(UnsafeBufferPointer(rebasing: buffer.dropLast()))
                }
                lines.append(Line(number: number, hash: try AuditFiles.hash(line), record: record ?? (try? AuditRecord(line: line))))
                start = newline + 1
            }
        }
    }

    /// The chain walk's state from one record to the next, across segments.
    private struct Walk {
        struct Location {
            var segment: String
            var line: Int
            var seq: UInt64
            var prev: String
            var time: String
        }
        let publicKey: PublicKey
        let tolerance: Int64
        var prevHash = AuditRecord.genesisPrev
        var lastSeq: UInt64 = 0
        var lastTime: Int64?
        var records = 0
        var last: Location?
        var lastCheckpoint: AuditCheckpoint?
        var watched: Set<UInt64> = []
        var seen: [UInt64: Location] = [:]
        /// The log does not start at segment 1 (retention removed the oldest).
        var anchored = false
        /// Where an anchored log starts.
        var start: Location?
        /// What each `audit.retention` record says of the segment it removed, by segment name.
        var retentions: [String: (details: [String: String], location: Location)] = [:]

        init(publicKey: PublicKey, tolerance: Int64) {
            self.publicKey = publicKey
            self.tolerance = tolerance
        }

        mutating func segment(_ parsed: ParsedSegment, sealed: Bool) -> AuditDamage? {
            let name = parsed.name
            let lines = parsed.lines
            for (index, entry) in lines.enumerated() {
                guard let record = entry.record else {
                    return AuditDamage(kind: .malformed, segment: name, line: entry.number, seq: nil, message: "not an audit record")
                }
                if anchored, start == nil {
                    start = Location(segment: name, line: entry.number, seq: record.seq, prev: record.prev, time: record.time)
                    lastSeq = record.seq > 0 ? record.seq - 1 : 0
                    prevHash = record.prev
                }
                let next = index + 1 < lines.count ? lines[index + 1].record : nil
                if let damage = chain(record, segment: name, line: entry.number, next: next) { return damage }
                if record.action == AuditAction.retention.rawValue, let details = record.details, let removed = details["segment"] {
                    retentions[removed] = (
                        details, Location(segment: name, line: entry.number, seq: record.seq, prev: record.prev, time: record.time)
                    )
                }
                if record.action == AuditAction.checkpoint.rawValue {
                    guard let checkpoint = AuditCheckpoint(record: record, segment: name), checkpoint.isSigned(by: publicKey) else {
                        return AuditDamage(
                            kind: .checkpointForged, segment: name, line: entry.number, seq: record.seq,
                            message: "the checkpoint is not signed by the audit key \(publicKey.keyID)")
                    }
                    lastCheckpoint = checkpoint
                }
                guard let time = AuditTime.parse(record.time) else {
                    return AuditDamage(
                        kind: .malformed, segment: name, line: entry.number, seq: record.seq,
                        message: "'\(record.time)' is not an RFC 3339 UTC time with milliseconds")
                }
                if let lastTime, time < lastTime - tolerance {
                    return AuditDamage(
                        kind: .clockRolledBack, segment: name, line: entry.number, seq: record.seq,
                        message: "\(record.time) is \(lastTime - time) ms earlier than the record before it "
                            + "(clock \(record.clock.rawValue))")
                }
                lastTime = time
                prevHash = entry.hash
                lastSeq = record.seq
                records += 1
                let location = Location(segment: name, line: entry.number, seq: record.seq, prev: record.prev, time: record.time)
                if watched.contains(record.seq) { seen[record.seq] = location }
                last = location
            }
            if let unfinished = parsed.unfinished {
                return AuditDamage(
                    kind: .malformed, segment: name, line: lines.count + 1, seq: nil,
                    message: "the last line is unfinished (\(unfinished) bytes without a newline)")
            }
            if sealed {
                let end = lines.last?.record
                guard let end, end.action == AuditAction.checkpoint.rawValue, end.details?["reason"] == "seal" else {
                    return AuditDamage(
                        kind: .checkpointMissing, segment: name, line: lines.last?.number ?? 0, seq: end?.seq,
                        message: "a sealed segment must end with its seal checkpoint")
                }
            }
            return nil
        }

        /// For a log that starts after segment `removed`: the chain's first `prev` and `seq` must
        /// be those an `audit.retention` record (itself chained) states for `removed`, whose seal
        /// line, kept in that record, is signed by the audit key.
        func checkAnchor(removed: String) -> AuditDamage? {
            guard let start else { return nil }
            guard let (details, location) = retentions[removed] else {
                return AuditDamage(
                    kind: .segmentMissing, segment: removed, line: 0, seq: start.seq > 0 ? start.seq - 1 : nil,
                    message: "the log starts at \(start.segment) (seq \(start.seq)), but no audit.retention record "
                        + "accounts for the removal of \(removed) and the segments before it")
            }
            let seal = Array((details["seal"] ?? "").utf8)
            let sealRecord = try? AuditRecord(line: seal)
            let sealHash = try? AuditFiles.hash(seal + [0x0A])
            let checkpoint = sealRecord.flatMap { AuditCheckpoint(record: $0, segment: removed) }
            guard let sealRecord, let checkpoint, checkpoint.reason == "seal", checkpoint.isSigned(by: publicKey),
                details["last_seq"] == String(sealRecord.seq), details["chain"] == sealHash
            else {
                return AuditDamage(
                    kind: .checkpointForged, segment: location.segment, line: location.line, seq: location.seq,
                    message: "the audit.retention record of \(removed) does not hold that segment's seal checkpoint "
                        + "signed by the audit key \(publicKey.keyID)")
            }
            guard sealRecord.seq + 1 == start.seq, sealHash == start.prev else {
                return AuditDamage(
                    kind: .edited, segment: start.segment, line: start.line, seq: start.seq,
                    message: "the first record left after retention does not follow \(removed) as its audit.retention "
                        + "record (\(location.segment) line \(location.line)) states: seq \(sealRecord.seq + 1) with prev "
                        + "\(sealHash ?? "?") expected")
            }
            return nil
        }

        /// Whether `record` follows the record before it; the damage, named at the first bad record, if not.
        func chain(_ record: AuditRecord, segment: String, line: Int, next: AuditRecord?) -> AuditDamage? {
            let expected = lastSeq + 1
            if record.seq == expected {
                if record.prev == prevHash { return nil }
                guard let last else {
                    return AuditDamage(
                        kind: .edited, segment: segment, line: line, seq: record.seq,
                        message: "the first record's prev is not 64 zeros")
                }
                return AuditDamage(
                    kind: .edited, segment: last.segment, line: last.line, seq: last.seq,
                    message: "the record's hash no longer matches the prev of seq \(record.seq) after it: it was changed")
            }
            if record.seq > expected {
                if record.prev == prevHash {
                    return AuditDamage(
                        kind: .edited, segment: segment, line: line, seq: record.seq,
                        message: "seq \(record.seq) follows seq \(lastSeq) with the right prev: its seq was changed")
                }
                if next?.seq == expected {
                    return AuditDamage(
                        kind: .reordered, segment: segment, line: line, seq: record.seq,
                        message: "seq \(record.seq) comes before seq \(expected)")
                }
                let missing = expected == record.seq - 1 ? "seq \(expected) is" : "seq \(expected) to \(record.seq - 1) are"
                return AuditDamage(
                    kind: .removed, segment: segment, line: line, seq: expected,
                    message: "\(missing) missing before seq \(record.seq)")
            }
            if let last, record.seq == last.seq, record.prev == last.prev {
                return AuditDamage(
                    kind: .inserted, segment: last.segment, line: last.line, seq: last.seq,
                    message: "this record was not written by the log: the next record has the same seq and prev")
            }
            return AuditDamage(
                kind: .reordered, segment: segment, line: line, seq: record.seq,
                message: "seq \(record.seq) comes after seq \(lastSeq)")
        }
    }
}
