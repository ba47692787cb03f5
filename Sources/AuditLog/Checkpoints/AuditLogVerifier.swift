public import AirlockCore
public import Signing
internal import Dispatch
internal import Systemd
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
        /// A record only root writes is not followed by a checkpoint of the host key (the
        /// gateway's key signed over it, or it is the log's last word): the gateway's user may
        /// have written it.
        case unattested = "unattested"
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

    /// The host's log as `layout` lays it out: the host key's public half, the gateway key's
    /// certificate and root's latest checkpoint beside it, when they are there.
    public static func verify(
        layout: AuditLayout, against outside: AuditCheckpoint? = nil, tail: AuditTailSource = .journal,
        clockToleranceMilliseconds: Int64 = defaultClockTolerance
    ) throws(AirlockError) -> AuditVerdict {
        try verifyReportingTail(layout: layout, against: outside, tail: tail, clockToleranceMilliseconds: clockToleranceMilliseconds)
            .verdict
    }

    /// `verify(layout:…)`, and what the log's end was compared with.
    public static func verifyReportingTail(
        layout: AuditLayout, against outside: AuditCheckpoint? = nil, tail: AuditTailSource = .journal,
        clockToleranceMilliseconds: Int64 = defaultClockTolerance
    ) throws(AirlockError) -> (verdict: AuditVerdict, tail: AuditTailEvidence) {
        let rootHead: AuditCheckpoint?
        do throws(AirlockError) {
            rootHead = try AuditCheckpoint.rootHead(layout)
        } catch {
            return (
                .damaged(AuditDamage(kind: .malformed, segment: layout.rootCheckpointPath, line: 1, seq: nil, message: error.description)),
                .notChecked
            )
        }
        return try verifyReportingTail(
            directory: layout.directory, publicKey: try AuditKey.publicKey(layout), against: outside,
            certificates: AuditGatewayKey.certificate(layout).map { [$0] } ?? [], rootHead: rootHead, tail: tail,
            clockToleranceMilliseconds: clockToleranceMilliseconds)
    }

    /// `certificates`: gateway keys the host key certified, known from outside the log (the
    /// log's own `audit.key` records are read as it goes); `rootHead`: the latest checkpoint of
    /// the host key that root's writers kept where the gateway cannot write.
    public static func verify(
        directory: String, publicKey: PublicKey, against outside: AuditCheckpoint? = nil,
        certificates: [AuditKeyCertificate] = [], rootHead: AuditCheckpoint? = nil, tail: AuditTailSource = .none,
        clockToleranceMilliseconds: Int64 = defaultClockTolerance
    ) throws(AirlockError) -> AuditVerdict {
        try verifyReportingTail(
            directory: directory, publicKey: publicKey, against: outside, certificates: certificates, rootHead: rootHead, tail: tail,
            clockToleranceMilliseconds: clockToleranceMilliseconds
        ).verdict
    }

    /// `verify(directory:…)`, and what the log's end was compared with.
    public static func verifyReportingTail(
        directory: String, publicKey: PublicKey, against outside: AuditCheckpoint? = nil,
        certificates: [AuditKeyCertificate] = [], rootHead: AuditCheckpoint? = nil, tail: AuditTailSource = .none,
        clockToleranceMilliseconds: Int64 = defaultClockTolerance
    ) throws(AirlockError) -> (verdict: AuditVerdict, tail: AuditTailEvidence) {
        var walk = Walk(publicKey: publicKey, tolerance: clockToleranceMilliseconds)
        for certificate in certificates where certificate.isSigned(by: publicKey) {
            walk.certified[certificate.publicKey.keyID] = certificate.publicKey
            walk.knownOutside = true
        }
        let folder = try AuditFiles.folder(directory)
        // Read before the snapshot: every record the journal names was on disk before it was
        // sent, so it is inside the snapshot taken next; records written meanwhile are not asked for.
        let evidence: AuditTailEvidence
        switch tail {
        case .none: evidence = .notChecked
        case .given(let given): evidence = given
        case .journal:
            // The log's writers: root's commands, the folder's owner, the gateway's account.
            var status = stat()
            var writers: [UInt32] = [0]
            if fstat(folder.descriptor, &status) == 0 { writers.append(UInt32(status.st_uid)) }
            if let account = getpwnam(ServiceUnits.gatewayUser) { writers.append(UInt32(account.pointee.pw_uid)) }
            let since = try AuditFiles.firstRecordTime(in: folder).map { $0 - clockToleranceMilliseconds }
            evidence = AuditJournal.head(ofLogIn: directory, writers: writers, since: since)
        }
        let verdict = try walkAndCheck(
            folder: folder, walk: &walk, publicKey: publicKey, outside: outside, rootHead: rootHead, head: evidence.head)
        return (verdict, evidence)
    }

    private static func walkAndCheck(
        folder: FolderHandle, walk: inout Walk, publicKey: PublicKey, outside: AuditCheckpoint?, rootHead: AuditCheckpoint?,
        head: AuditJournalHead?
    ) throws(AirlockError) -> AuditVerdict {
        let snapshot = try AuditFiles.snapshot(of: folder)
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
        if let rootHead {
            guard rootHead.isSigned(by: publicKey) else {
                return .damaged(
                    AuditDamage(
                        kind: .checkpointForged, segment: rootHead.segment, line: 0, seq: rootHead.seq,
                        message: "root's latest checkpoint is not signed by the host audit key \(publicKey.keyID)"))
            }
            expected.append(("root's latest checkpoint", rootHead))
        }
        // Signed by the host key, or (checked after the walk, which learns the certified keys)
        // by a gateway key it certified.
        var gatewaySigned: [(source: String, checkpoint: AuditCheckpoint)] = []
        for (source, checkpoint) in expected where !checkpoint.isSigned(by: publicKey) {
            gatewaySigned.append((source, checkpoint))
        }
        walk.watched = Set(expected.map(\.checkpoint.seq))
        if let head { walk.watched.insert(head.seq) }

        // A log whose oldest segments went by retention starts later: its first record is taken
        // on trust here, and must match the `audit.retention` record of the segment before it.
        let firstNumber = snapshot.segments.first?.number ?? 1
        walk.anchored = firstNumber > 1
        var previousNumber = firstNumber - 1
        // Reading, hashing, parsing and checking checkpoint signatures does not depend on the
        // order: a few segments at a time, each cut into pieces at line ends, on every core.
        // The chain walk then takes the lines in order, comparing numbers and hashes only.
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let window = max(2, cores)
        let buffers = (0..<window).map { _ in ReadBuffer() }
        var first = 0
        while first < snapshot.segments.count {
            let group = Array(snapshot.segments[first..<min(first + window, snapshot.segments.count)])
            let parsed = try parse(group, folder: folder, publicKey: publicKey, cores: cores, buffers: buffers)
            for (slot, segment) in parsed.enumerated() {
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
                if let damage = walk.segment(segment, sealed: sealed) { return .damaged(damage) }
            }
            first += window
        }
        if walk.anchored, let damage = walk.checkAnchor(removed: AuditLayout.segmentName(firstNumber - 1)) {
            return .damaged(damage)
        }
        if let damage = walk.finish() { return .damaged(damage) }
        for (source, checkpoint) in gatewaySigned where !(walk.certified[checkpoint.key].map { checkpoint.isSigned(by: $0) } ?? false) {
            return .damaged(
                AuditDamage(
                    kind: .checkpointForged, segment: checkpoint.segment, line: 0, seq: checkpoint.seq,
                    message: "\(source) is not signed by the audit key \(publicKey.keyID) nor by a gateway key it certified"))
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
            guard let seen = walk.seen[checkpoint.seq], seen.prev != nil, seen.prev == ChainHash(hex: checkpoint.chain),
                seen.segment == checkpoint.segment, seen.time != nil, seen.time == AuditTime.parse(checkpoint.time)
            else {
                let location = walk.seen[checkpoint.seq]
                return .damaged(
                    AuditDamage(
                        kind: .edited, segment: location?.segment ?? checkpoint.segment, line: location?.line ?? 0,
                        seq: checkpoint.seq,
                        message: "the log up to seq \(checkpoint.seq) is not the one \(source) signed: it was rewritten"))
            }
        }
        if let head, let damage = walk.checkJournalHead(head) { return .damaged(damage) }
        return .intact(records: walk.records, lastSeq: walk.lastSeq, lastCheckpoint: walk.lastCheckpoint)
    }

    /// One segment's lines, hashed and read.
    struct ParsedSegment: Sendable {
        var name: String
        var lines: [ParsedLine]
        /// Checkpoints, retention records and lines with a bad time, by index in `lines`: the
        /// whole record, and for a checkpoint the statement it makes and whether the audit key
        /// signed it (checked while parsing, in parallel).
        var special: [Int: Special]
        /// Bytes after the last newline, if any: an unfinished line.
        var unfinished: Int?
    }

    /// One line: its hash (newline included), and what the walk needs of it. A plain value, so
    /// arrays of them copy as bytes.
    struct ParsedLine: Sendable {
        var hash: ChainHash
        /// nil: not an audit record.
        var facts: LineFacts?
    }

    struct Special: Sendable {
        var record: AuditRecord
        var checkpoint: AuditCheckpoint?
        /// A checkpoint signed by the host key, or a certificate the host key signed.
        var signed: Bool
        var certificate: AuditKeyCertificate? = nil
    }

    /// Memory for reading segments, kept from one group of segments to the next, so that a
    /// long log is not read into fresh (kernel-zeroed) pages again and again.
    final class ReadBuffer: @unchecked Sendable {
        // Written only by `fill`, before the parsing threads read it; never resized while they do.
        private(set) var memory: UnsafeMutableRawBufferPointer
        private(set) var count = 0

        init() { memory = UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        deinit { memory.deallocate() }

        var bytes: UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: memory.baseAddress?.assumingMemoryBound(to: UInt8.self), count: count)
        }

        /// The first `size` bytes of the segment `name` (fewer if it is shorter).
        func fill(_ name: String, in folder: FolderHandle, size: Int64) throws(AirlockError) {
            let path = folder.path(of: name)
            let wanted = Int(size)
            if memory.count < wanted {
                memory.deallocate()
                memory = .allocate(byteCount: max(wanted, 1 << 20), alignment: 64)
            }
            guard let file = try folder.openFile(name, .read) else {
                throw .system("cannot open \(path)", errno: ENOENT)
            }
            defer { close(file) }
            var done = 0
            while done < wanted {
                let got = pread(file, memory.baseAddress! + done, wanted - done, off_t(done))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw .system("cannot read \(path)", errno: errno)
                }
                if got == 0 { break }
                done += got
            }
            count = done
        }
    }

    /// Reads the segments of `group` into `buffers` and parses them in pieces of at least
    /// 1 MiB, cut at line ends, spread over `cores` threads.
    static func parse(
        _ group: [(number: Int, size: Int64)], folder: FolderHandle, publicKey: PublicKey, cores: Int, buffers: [ReadBuffer]
    ) throws(AirlockError) -> [ParsedSegment] {
        var pieces: [(segment: Int, range: Range<Int>)] = []
        var unfinished: [Int?] = []
        for (index, segment) in group.enumerated() {
            let buffer = buffers[index]
            try buffer.fill(AuditLayout.segmentName(segment.number), in: folder, size: segment.size)
            let bytes = buffer.bytes
            var complete = bytes.count
            while complete > 0, bytes[complete - 1] != 0x0A { complete -= 1 }
            unfinished.append(complete < bytes.count ? bytes.count - complete : nil)
            let target = max(1 << 20, complete / cores + 1)
            var start = 0
            while start < complete {
                var end = min(complete, start + target)
                while end < complete, bytes[end - 1] != 0x0A { end += 1 }
                pieces.append((index, start..<end))
                start = end
            }
        }
        let results = Mutex([Result<([ParsedLine], [Int: Special]), AirlockError>?](repeating: nil, count: pieces.count))
        let work = pieces
        DispatchQueue.concurrentPerform(iterations: work.count) { slot in
            let piece = work[slot]
            let name = AuditLayout.segmentName(group[piece.segment].number)
            let bytes = buffers[piece.segment].bytes
            let result = Result { () throws(AirlockError) -> ([ParsedLine], [Int: Special]) in
                try parseLines(bytes, piece.range, segment: name, publicKey: publicKey)
            }
            results.withLock { $0[slot] = result }
        }
        var segments = group.enumerated().map { index, segment in
            ParsedSegment(name: AuditLayout.segmentName(segment.number), lines: [], special: [:], unfinished: unfinished[index])
        }
        for (slot, result) in results.withLock({ $0 }).enumerated() {
            guard let result else { throw AirlockError(.system, "a piece of the audit log was not read") }
            let (lines, special) = try result.get()
            let index = pieces[slot].segment
            let offset = segments[index].lines.count
            for (line, value) in special { segments[index].special[line + offset] = value }
            segments[index].lines += lines
        }
        return segments
    }

    /// Every complete line of `range` (which starts at a line's start and ends after a newline).
    static func parseLines(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, segment: String, publicKey: PublicKey
    ) throws(AirlockError) -> ([ParsedLine], [Int: Special]) {
        let hasher = try SHA256Hasher()
        var digest = SIMD4<UInt64>.zero
        var lines: [ParsedLine] = []
        var special: [Int: Special] = [:]
        lines.reserveCapacity(range.count / 256)
        guard let base = bytes.baseAddress else { return (lines, special) }
        var start = range.lowerBound
        while start < range.upperBound {
            guard let found = memchr(base + start, 0x0A, range.upperBound - start) else { break }
            let end = start + (UnsafeRawPointer(found) - UnsafeRawPointer(base + start))
            try withUnsafeMutableBytes(of: &digest) { output throws(AirlockError) in
                try hasher.hashAndRestart(UnsafeRawBufferPointer(start: base + start, count: end + 1 - start), into: output)
            }
            let text = UnsafeBufferPointer(start: base + start, count: end - start)
            var facts = LineScanner.facts(text)
            if facts == nil || facts?.kind != .record, let record = try? AuditRecord(line: text) {
                if facts == nil { facts = LineScanner.facts(record) }
                if facts?.kind != .record || facts?.time == nil {
                    let checkpoint = facts?.kind == .checkpoint ? AuditCheckpoint(record: record, segment: segment) : nil
                    let certificate = facts?.kind == .certificate ? AuditKeyCertificate(record: record) : nil
                    special[lines.count] = Special(
                        record: record, checkpoint: checkpoint,
                        signed: checkpoint?.isSigned(by: publicKey) ?? certificate?.isSigned(by: publicKey) ?? false,
                        certificate: certificate)
                }
            }
            lines.append(ParsedLine(hash: ChainHash(words: digest), facts: facts))
            start = end + 1
        }
        return (lines, special)
    }

    /// The chain walk's state from one record to the next, across segments.
    private struct Walk {
        struct Location {
            var segment: String
            var line: Int
            var seq: UInt64
            var prev: ChainHash?
            var time: Int64?
        }
        let publicKey: PublicKey
        let tolerance: Int64
        var prevHash = ChainHash.genesis
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
        /// Gateway keys the host key certified, by key id.
        var certified: [String: PublicKey] = [:]
        /// A certificate came from outside the log (`AuditLayout.gatewayCertificatePath`).
        var knownOutside = false
        /// An `audit.key` record was read: from there on every root record must be followed by
        /// a checkpoint of the host key.
        var sawCertificate = false
        /// A root record not yet followed by a checkpoint of the host key.
        var unsignedRoot: Location?
        /// The first breach of that rule before any certificate was read: it counts only for a
        /// log whose certificate went with segments retention removed.
        var earlyBreach: AuditDamage?

        init(publicKey: PublicKey, tolerance: Int64) {
            self.publicKey = publicKey
            self.tolerance = tolerance
        }

        mutating func segment(_ parsed: ParsedSegment, sealed: Bool) -> AuditDamage? {
            let name = parsed.name
            let lines = parsed.lines
            for index in lines.indices {
                let entry = lines[index]
                let number = index + 1
                guard let facts = entry.facts else {
                    return AuditDamage(kind: .malformed, segment: name, line: number, seq: nil, message: "not an audit record")
                }
                if anchored, start == nil {
                    start = Location(segment: name, line: number, seq: facts.seq, prev: facts.prev, time: facts.time)
                    lastSeq = facts.seq > 0 ? facts.seq - 1 : 0
                    prevHash = facts.prev ?? .genesis
                }
                let next = index + 1 < lines.count ? lines[index + 1].facts : nil
                if let damage = chain(facts, segment: name, line: number, next: next) { return damage }
                let here = Location(segment: name, line: number, seq: facts.seq, prev: facts.prev, time: facts.time)
                switch facts.kind {
                case .record:
                    if facts.writer == .gateway, let damage = breach(unsignedRoot, by: "a gateway record (seq \(facts.seq)) follows it") {
                        return damage
                    }
                case .certificate:
                    guard let special = parsed.special[index], special.signed, let certificate = special.certificate else {
                        return AuditDamage(
                            kind: .checkpointForged, segment: name, line: number, seq: facts.seq,
                            message: "the audit.key record is not a certificate signed by the audit key \(publicKey.keyID)")
                    }
                    certified[certificate.publicKey.keyID] = certificate.publicKey
                    if !sawCertificate {
                        sawCertificate = true
                        earlyBreach = nil
                    }
                case .checkpoint:
                    guard let special = parsed.special[index], let checkpoint = special.checkpoint else {
                        return AuditDamage(
                            kind: .checkpointForged, segment: name, line: number, seq: facts.seq,
                            message: "the checkpoint is not signed by the audit key \(publicKey.keyID)")
                    }
                    if special.signed {
                        unsignedRoot = nil
                    } else {
                        guard let gatewayKey = certified[checkpoint.key], checkpoint.isSigned(by: gatewayKey) else {
                            return AuditDamage(
                                kind: .checkpointForged, segment: name, line: number, seq: facts.seq,
                                message: "the checkpoint is not signed by the audit key \(publicKey.keyID) nor by a gateway key it certified")
                        }
                        if let damage = breach(unsignedRoot, by: "the gateway's key signed the checkpoint after it (seq \(facts.seq))") {
                            return damage
                        }
                    }
                    lastCheckpoint = checkpoint
                case .retention:
                    if let details = parsed.special[index]?.record.details, let removed = details["segment"] {
                        retentions[removed] = (
                            details, Location(segment: name, line: number, seq: facts.seq, prev: facts.prev, time: facts.time)
                        )
                    }
                }
                guard let time = facts.time else {
                    let text = parsed.special[index]?.record.time ?? "?"
                    return AuditDamage(
                        kind: .malformed, segment: name, line: number, seq: facts.seq,
                        message: "'\(text)' is not an RFC 3339 UTC time with milliseconds")
                }
                if let lastTime, time < lastTime - tolerance {
                    return AuditDamage(
                        kind: .clockRolledBack, segment: name, line: number, seq: facts.seq,
                        message: "\(AuditTime.format(time)) is \(lastTime - time) ms earlier than the record before it "
                            + "(clock \(facts.clock.rawValue))")
                }
                lastTime = time
                prevHash = entry.hash
                lastSeq = facts.seq
                records += 1
                if facts.writer == .root, facts.kind != .checkpoint { unsignedRoot = here }
                let location = Location(segment: name, line: number, seq: facts.seq, prev: facts.prev, time: time)
                if watched.contains(facts.seq) { seen[facts.seq] = location }
                last = location
            }
            if let unfinished = parsed.unfinished {
                return AuditDamage(
                    kind: .malformed, segment: name, line: lines.count + 1, seq: nil,
                    message: "the last line is unfinished (\(unfinished) bytes without a newline)")
            }
            if sealed {
                let end = lines.last
                guard let end, end.facts?.kind == .checkpoint, parsed.special[lines.count - 1]?.record.details?["reason"] == "seal"
                else {
                    return AuditDamage(
                        kind: .checkpointMissing, segment: name, line: lines.count, seq: end?.facts?.seq,
                        message: "a sealed segment must end with its seal checkpoint")
                }
            }
            return nil
        }

        /// The damage when a root record at `location` is not signed by root (nil when there is
        /// none), or nil while no certificate was seen (the breach is kept in `earlyBreach`).
        mutating func breach(_ location: Location?, by what: String) -> AuditDamage? {
            guard let location else { return nil }
            unsignedRoot = nil
            let damage = AuditDamage(
                kind: .unattested, segment: location.segment, line: location.line, seq: location.seq,
                message: "this record only root writes is not followed by a checkpoint of the host audit key "
                    + "\(publicKey.keyID): \(what); the gateway's user may have written or changed it")
            if sawCertificate { return damage }
            if earlyBreach == nil { earlyBreach = damage }
            return nil
        }

        /// At the end of the log: the last root record must be signed by root too, and a log
        /// whose certificate record went with retention is judged as one that had it.
        mutating func finish() -> AuditDamage? {
            if let damage = breach(unsignedRoot, by: "the log ends after it") { return damage }
            if anchored, knownOutside, !sawCertificate { return earlyBreach }
            return nil
        }

        /// At the end of the log: it must reach the newest record its writers sent to the system
        /// journal, and hold that record unchanged.
        func checkJournalHead(_ head: AuditJournalHead) -> AuditDamage? {
            // Older than the oldest record left: retention took it.
            if let start, head.seq < start.seq { return nil }
            let told = "the system journal received record \(head.seq) (\(head.segment), \(head.time)) from uid \(head.uid)"
            guard lastSeq >= head.seq else {
                let end = last.map { "\($0.segment) line \($0.line)" } ?? "no records"
                return AuditDamage(
                    kind: .truncatedTail, segment: last?.segment ?? head.segment, line: last?.line ?? 0, seq: lastSeq + 1,
                    message: "the log ends at seq \(lastSeq) (\(end)), but \(told): records were cut off the end")
            }
            guard let seen = seen[head.seq], seen.prev != nil, seen.prev == ChainHash(hex: head.prev), seen.segment == head.segment
            else {
                let location = seen[head.seq]
                return AuditDamage(
                    kind: .edited, segment: location?.segment ?? head.segment, line: location?.line ?? 0, seq: head.seq,
                    message: "the log up to seq \(head.seq) is not the one its writer sent: \(told) with another predecessor; "
                        + "it was rewritten")
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
            let signed = checkpoint.map { checkpoint in
                checkpoint.isSigned(by: publicKey) || (certified[checkpoint.key].map { checkpoint.isSigned(by: $0) } ?? false)
            }
            guard let sealRecord, let checkpoint, checkpoint.reason == "seal", signed == true,
                details["last_seq"] == String(sealRecord.seq), let sealHash, details["chain"] == sealHash
            else {
                return AuditDamage(
                    kind: .checkpointForged, segment: location.segment, line: location.line, seq: location.seq,
                    message: "the audit.retention record of \(removed) does not hold that segment's seal checkpoint "
                        + "signed by the audit key \(publicKey.keyID)")
            }
            guard sealRecord.seq + 1 == start.seq, start.prev != nil, ChainHash(hex: sealHash) == start.prev else {
                return AuditDamage(
                    kind: .edited, segment: start.segment, line: start.line, seq: start.seq,
                    message: "the first record left after retention does not follow \(removed) as its audit.retention "
                        + "record (\(location.segment) line \(location.line)) states: seq \(sealRecord.seq + 1) with prev "
                        + "\(sealHash) expected")
            }
            return nil
        }

        /// Whether a record follows the record before it; the damage, named at the first bad record, if not.
        func chain(_ record: LineFacts, segment: String, line: Int, next: LineFacts?) -> AuditDamage? {
            let expected = lastSeq &+ 1
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
            if let last, record.seq == last.seq, record.prev != nil, record.prev == last.prev {
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
