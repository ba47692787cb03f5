public import AirlockCore
public import Signing
internal import Systemd
internal import Dispatch
internal import Synchronization

/// Appends records to the audit log, durably, in order, from any number of tasks and processes.
///
/// - Group commit: `append` queues the event and waits; one flusher takes everything queued,
///   writes it with one write(2) per segment and one fdatasync(2), then wakes every waiter.
///   While a flush is on disk, new events gather for the next one, so the number of records per
///   fsync grows with the load. An `append` that finds the writer idle commits on its own
///   thread instead (blocking it for the write and fdatasync), and the flusher takes over what
///   queued meanwhile: at low load a record costs no thread hand-off and wake-up each way
///   (gateway at concurrency 1: audit write median 0.10 → 0.05 ms with the log on tmpfs,
///   context switches per request 10.0 → 7.9; Docs/benchmarks.md).
/// - Cross-process: every flush holds `flock(LOCK_EX)` on `audit.lock` and, under it, checks that
///   the segment's size is what this writer last left; if not (another writer appended, or a new
///   segment appeared), it re-reads the tail for the last `seq` and chain hash. Segments are
///   opened `O_APPEND`. Two writers never interleave bytes or fork the chain.
/// - Recovery: an unfinished last line (no `\n`, or not a record) is cut off, and the next
///   record says so (`audit.recovered`, `details.discarded_bytes`).
/// - Rotation: before a record that would take the segment past `segmentBytes`, or when the UTC
///   day differs from the segment's last record's, the segment is sealed with a checkpoint
///   record and the next one is created. A checkpoint is also signed when `seq` reaches a
///   multiple of `checkpointInterval`, and after a record written `checkpointSeconds` or more
///   after the latest checkpoint. That is checked at append time, not by a thread of the
///   writer's own: a checkpoint with no record after the previous one would cover nothing new,
///   and short-lived writers (admin commands) could not keep a timer anyway. A long-running
///   writer calls `checkpointIfDue()` from its own timer to bound the unsigned tail in time.
/// - Failure: when the log cannot be written (disk full, read-only), the whole flush fails with
///   an `AirlockError` naming the segment, what was partly written is cut off again, and every
///   waiting `append` throws it, so the gateway can fail closed.
public final class AuditLogWriter: Sendable {
    public struct Options: Sendable {
        /// A segment is sealed before the record that would take it past this size.
        public var segmentBytes: Int64
        /// A checkpoint is signed at every `seq` that is a multiple of this.
        public var checkpointInterval: UInt64
        /// A checkpoint is also signed after a record written this many seconds or more after
        /// the latest checkpoint (checked at every append, and by `checkpointIfDue`).
        public var checkpointSeconds: Int64
        /// Where journald's socket is looked for: when it exists, every committed record is
        /// also sent to the journal (`AuditJournal`). nil: never.
        public var journalSocket: String?
        /// Told once, on the first record the journal did not take (the default writes one line
        /// to standard error); later failures are only counted (`journal?.status`).
        public var onJournalFailure: @Sendable (AirlockError) -> Void

        public init(
            segmentBytes: Int64 = 64 << 20, checkpointInterval: UInt64 = 1000, checkpointSeconds: Int64 = 300,
            journalSocket: String? = AuditJournal.defaultSocket,
            onJournalFailure: @escaping @Sendable (AirlockError) -> Void = AuditJournal.reportOnStandardError
        ) {
            self.segmentBytes = segmentBytes
            self.checkpointInterval = max(2, checkpointInterval)
            self.checkpointSeconds = max(1, checkpointSeconds)
            self.journalSocket = journalSocket
            self.onJournalFailure = onJournalFailure
        }
    }

    /// The files this writer appends to.
    public let layout: AuditLayout
    /// The journald copy; nil when journald was not there when the writer was opened.
    public let journal: AuditJournal?

    private enum Work: Sendable {
        case event(RecordTemplate), checkpoint, checkpointIfDue, checkpointIfAfter(UInt64)
        case retention(days: Int, actor: AuditActor, dryRun: Bool)
    }
    private struct Waiter: Sendable {
        let work: Work
        let continuation: CheckedContinuation<Result<Committed, AirlockError>, Never>
    }
    private struct Queue {
        var waiting: [Waiter] = []
        var flushing = false
    }
    struct Committed: Sendable {
        let seq: UInt64
        let checkpoint: AuditCheckpoint?
        var retention: AuditRetentionReport? = nil
    }

    private let queue = Mutex(Queue())
    private let engine: Mutex<SegmentEngine>
    private let flusher = DispatchQueue(label: "airlock.audit.flush")

    /// Opens (and if need be creates) the log in `layout.directory`, with the audit key at
    /// `layout.keyPath` (created, 0600, on first use). Repairs an unfinished last line and
    /// records the repair before returning.
    public init(
        layout: AuditLayout, options: Options = Options(), clock: any AuditClock = SystemAuditClock()
    ) throws(AirlockError) {
        self.layout = layout
        let folder = try FolderHandle(layout.directory, createMode: 0o750)
        let key = try AuditKey.loadOrCreate(path: layout.keyPath)
        journal = options.journalSocket.flatMap { JournalSink.system(socket: $0) }.map {
            AuditJournal(sink: $0, log: AuditJournal.logName(layout.directory), onFirstFailure: options.onJournalFailure)
        }
        let engine: SegmentEngine
        do throws(AirlockError) {
            engine = try SegmentEngine(
                layout: layout, folder: folder, options: options, clock: clock, key: key, journaling: journal != nil)
            _ = try engine.commit([]).get()
        } catch {
            if error.reasonKind == .unsafeFile { journal?.alert(error, folder: layout.directory) }
            throw error
        }
        // Every segment but the last is sealed: read-only, and root's when we are root. A name
        // that is not a plain file (a link planted there) is left alone and recorded.
        for number in try AuditFiles.segmentNumbers(in: folder).dropLast() {
            if let refusal = AuditSharing.lockSealed(AuditLayout.segmentName(number), in: folder) {
                engine.unsafeFiles.append(refusal)
            }
        }
        if !engine.unsafeFiles.isEmpty { _ = try engine.commit([]).get() }
        journal?.send(engine.takeJournalEntries())
        self.engine = Mutex(engine)
    }

    /// The log of the host under `host` (`HostLayout.auditDirectory`, `storeDirectory/audit-key.pem`).
    public convenience init(
        host: HostLayout, options: Options = Options(), clock: any AuditClock = SystemAuditClock()
    ) throws(AirlockError) {
        try self.init(layout: AuditLayout(host: host), options: options, clock: clock)
    }

    /// Appends one record and returns its `seq` once it is on disk (fdatasync done).
    @discardableResult
    public func append(_ event: AuditEvent) async throws(AirlockError) -> UInt64 {
        // Encoded here, on the appending task, so the flusher only stitches and hashes.
        try await submit(.event(RecordTemplate(event))).seq
    }

    /// `append` on the calling thread, for a writer no other task uses at the same time (a
    /// short-lived command's own): refused when it is busy.
    @discardableResult
    public func appendNow(_ event: AuditEvent) throws(AirlockError) -> UInt64 {
        let idle = queue.withLock { state -> Bool in
            guard !state.flushing else { return false }
            state.flushing = true
            return true
        }
        guard idle else { throw AirlockError(.system, "internal error: the audit log writer is busy") }
        return try commitOnCaller(.event(RecordTemplate(event))).get().seq
    }

    /// Signs a checkpoint now (`airlock-audit checkpoint`) and returns it once it is on disk.
    public func checkpoint() async throws(AirlockError) -> AuditCheckpoint {
        let committed = try await submit(.checkpoint)
        guard let checkpoint = committed.checkpoint else {
            throw AirlockError(.system, "the audit log wrote no checkpoint")
        }
        return checkpoint
    }

    /// Returns once every record committed so far has been handed to journald (or failed to
    /// be). Short-lived programs call it before exiting; the records are durable either way.
    public func journalDrained() async {
        await journal?.drained()
    }

    /// Signs a checkpoint when `checkpointSeconds` have passed since the latest one and records
    /// came after it; nil when none was due. Appends check this themselves; a long-running
    /// writer (the gateway) calls it from its own timer so that the last records before a
    /// quiet spell are covered within `checkpointSeconds` too.
    public func checkpointIfDue() async throws(AirlockError) -> AuditCheckpoint? {
        try await submit(.checkpointIfDue).checkpoint
    }

    /// Signs a checkpoint when the log holds records after `seq` (root's latest checkpoint);
    /// nil when it does not. `airlock-audit seal` calls it as root every 5 minutes, so every
    /// record the gateway wrote is under a checkpoint of the host key (kept where the gateway's
    /// user cannot write) within about 6 minutes, journal or not.
    public func checkpointIfRecords(after seq: UInt64) async throws(AirlockError) -> AuditCheckpoint? {
        try await submit(.checkpointIfAfter(seq)).checkpoint
    }

    /// Removes the sealed segments whose every record is older than `policy.retentionDays`,
    /// whole and oldest first, never the segment being written, and records each removal
    /// first (`audit.retention`: the segment, its seq range, the hash of its seal line and the
    /// seal line itself, which is what lets `verify` accept a log that starts later). With
    /// `dryRun`, only says what would go. `actor` is who ran it.
    public func applyRetention(
        _ policy: AuditPolicy, by actor: AuditActor, dryRun: Bool = false
    ) async throws(AirlockError) -> AuditRetentionReport {
        try policy.validate()
        let committed = try await submit(.retention(days: policy.retentionDays, actor: actor, dryRun: dryRun))
        guard let report = committed.retention else { throw AirlockError(.system, "the retention run reported nothing") }
        return report
    }

    private func submit(_ work: Work) async throws(AirlockError) -> Committed {
        let idle = queue.withLock { state -> Bool in
            guard !state.flushing else { return false }
            state.flushing = true
            return true
        }
        if idle { return try commitOnCaller(work).get() }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Committed, AirlockError>, Never>) in
            let start = queue.withLock { state in
                state.waiting.append(Waiter(work: work, continuation: continuation))
                if state.flushing { return false }
                state.flushing = true
                return true
            }
            if start { flusher.async { self.drain() } }
        }
        return try result.get()
    }

    /// Commits `work` alone on the calling thread (the writer was idle and is now marked
    /// flushing), then hands whatever queued meanwhile to the flusher.
    private func commitOnCaller(_ work: Work) -> Result<Committed, AirlockError> {
        let outcome = commit([work])
        let more = queue.withLock { state -> Bool in
            if state.waiting.isEmpty {
                state.flushing = false
                return false
            }
            return true
        }
        if more { flusher.async { self.drain() } }
        return outcome.map { $0[0] }
    }

    /// Commits `works` (on the flusher, or on an appender that found the writer idle) and sends
    /// what became durable to the journal before the appenders are told (one committer at a
    /// time: `Queue.flushing`), so no record anyone was told of is missing from the journal.
    private func commit(_ works: [Work]) -> Result<[Committed], AirlockError> {
        let (outcome, durable) = engine.withLock { engine in
            (engine.commit(works), engine.takeJournalEntries())
        }
        journal?.send(durable)
        if case .failure(let error) = outcome, error.reasonKind == .unsafeFile {
            journal?.alert(error, folder: layout.directory)
        }
        return outcome
    }

    /// Runs on `flusher`: commits whatever is waiting until nothing is.
    private func drain() {
        while true {
            let batch = queue.withLock { state -> [Waiter] in
                if state.waiting.isEmpty {
                    state.flushing = false
                    return []
                }
                defer { state.waiting.removeAll(keepingCapacity: true) }
                return state.waiting
            }
            if batch.isEmpty { return }
            switch commit(batch.map(\.work)) {
            case .success(let committed):
                for (waiter, done) in zip(batch, committed) { waiter.continuation.resume(returning: .success(done)) }
            case .failure(let error):
                for waiter in batch { waiter.continuation.resume(returning: .failure(error)) }
            }
        }
    }

    /// The state of the chain and the open segment; used by one committer at a time (the flusher,
    /// or an appender that found the writer idle; `Queue.flushing` keeps them apart) or in `init`.
    private final class SegmentEngine {
        let layout: AuditLayout
        /// The log folder, every entry opened relative to it and checked (`FolderHandle`).
        let folder: FolderHandle
        let options: Options
        let clock: any AuditClock
        let key: PrivateKey
        /// Whether committed lines are kept for the journal copy.
        let journaling: Bool
        /// One SHA-256 context for every line this engine chains (no allocation per record).
        let hasher: SHA256Hasher
        /// Who the log's own records (checkpoints, recovery) name.
        let actor = AuditActor.local(user: "airlock", uid: UInt32(getuid()))
        let lock: Int32

        /// What the log ends with, as of the last time this writer held the lock.
        struct Tail {
            var segment: Int
            var size: Int64
            var lastSeq: UInt64
            var prev: String
            /// The UTC day of the segment's last record; nil for an empty segment.
            var day: Int64?
            /// The segment ends with its seal checkpoint: the next record opens a new one.
            var sealed: Bool
        }
        var tail: Tail?
        var descriptor: Int32 = -1
        var descriptorSegment = 0

        // The flush being built.
        var buffer: [UInt8] = []
        var latestCheckpoint: AuditCheckpoint?
        var discardedBytes: Int64 = 0
        /// Names found in the folder that are not plain files (`unsafe-file`), recorded as
        /// `audit.unsafe_file` by the next commit.
        var unsafeFiles: [AirlockError] = []
        var clockState = ClockSyncState.unknown
        /// Records only root writes were added since the last checkpoint (host signer only):
        /// the flush ends with a checkpoint of the host key over them.
        var rootRecordsUnsigned = false
        /// Whether root's records get that checkpoint: once the host key has certified a gateway
        /// key (from the `audit.key` record on, which the verifier holds the log to).
        var signsRootRecords = false
        /// The latest checkpoint's seq and time (ms): what `checkpointSeconds` counts from.
        var lastCheckpoint: (seq: UInt64, time: Int64) = (0, 0)
        /// Lines of the flush being built, for the journal (when `journaling`).
        var pendingJournal: [AuditJournal.Entry] = []
        /// Lines that are on disk, not yet handed to the journal.
        var durableJournal: [AuditJournal.Entry] = []

        init(
            layout: AuditLayout, folder: FolderHandle, options: Options, clock: any AuditClock, key: PrivateKey,
            journaling: Bool
        ) throws(AirlockError) {
            self.layout = layout
            self.folder = folder
            self.options = options
            self.clock = clock
            self.key = key
            self.journaling = journaling
            signsRootRecords = layout.signer == .host && AuditFiles.exists(layout.gatewayCertificatePath)
            hasher = try SHA256Hasher()
            let existed = try folder.hasEntry(AuditLayout.lockName)
            lock = try folder.createFile(AuditLayout.lockName, .readWrite, mode: 0o640)
            if !existed { AuditSharing.share(lock, in: folder) }
        }

        deinit {
            close(lock)
            if descriptor >= 0 { close(descriptor) }
        }

        func commit(_ works: [Work]) -> Result<[Committed], AirlockError> {
            do throws(AirlockError) {
                while flock(lock, LOCK_EX) != 0 {
                    guard errno == EINTR else { throw .system("cannot lock the audit log \(layout.lockPath)", errno: errno) }
                }
                defer { flock(lock, LOCK_UN) }
                buffer.removeAll(keepingCapacity: true)
                latestCheckpoint = nil
                clockState = clock.syncState()
                try refreshTail()
                if discardedBytes > 0 {
                    let segment = AuditLayout.segmentName(tail?.segment ?? 1)
                    try add(
                        RecordTemplate(
                            action: AuditAction.recovered.rawValue, actor: actor, target: .none, outcome: .ok,
                            details: ["discarded_bytes": String(discardedBytes), "segment": segment], request: nil))
                }
                let refusals = unsafeFiles
                unsafeFiles = []
                for refusal in refusals {
                    try add(
                        RecordTemplate(
                            action: AuditAction.unsafeFile.rawValue, actor: actor, target: .none, outcome: .refused,
                            details: ["folder": layout.directory, "error": refusal.description], request: nil))
                }
                var committed: [Committed] = []
                committed.reserveCapacity(works.count)
                for work in works {
                    switch work {
                    case .event(let template):
                        let seq = try add(template)
                        committed.append(Committed(seq: seq, checkpoint: nil))
                    case .checkpoint:
                        let checkpoint = try addCheckpoint(reason: "request")
                        committed.append(Committed(seq: checkpoint.seq, checkpoint: checkpoint))
                    case .retention(let days, let actor, let dryRun):
                        let report = try applyRetention(days: days, actor: actor, dryRun: dryRun)
                        committed.append(Committed(seq: tail?.lastSeq ?? 0, checkpoint: nil, retention: report))
                    case .checkpointIfAfter(let seq):
                        if let current = tail, current.lastSeq > seq {
                            let checkpoint = try addCheckpoint(reason: "timer")
                            committed.append(Committed(seq: checkpoint.seq, checkpoint: checkpoint))
                        } else {
                            committed.append(Committed(seq: tail?.lastSeq ?? 0, checkpoint: nil))
                        }
                    case .checkpointIfDue:
                        if checkpointDue(now: clock.now()) {
                            let checkpoint = try addCheckpoint(reason: "time")
                            committed.append(Committed(seq: checkpoint.seq, checkpoint: checkpoint))
                        } else {
                            committed.append(Committed(seq: tail?.lastSeq ?? 0, checkpoint: nil))
                        }
                    }
                }
                // What root writes is signed by root before the lock is let go: no other writer
                // (the gateway) can append between a root record and its checkpoint.
                if rootRecordsUnsigned { try addCheckpoint(reason: "root") }
                try flush()
                discardedBytes = 0
                if let latestCheckpoint {
                    // Best effort: the records are already durable; the copy only speeds up
                    // finding a cut-short log. A failure here shows on the next verify.
                    try? folder.replace(AuditLayout.latestCheckpointName, with: latestCheckpoint.json, mode: 0o644)
                    if layout.signer == .host {
                        // Root's own copy, where the gateway's user cannot write: a log cut
                        // before it fails verify (truncated-tail).
                        try? AtomicFile.makeDirectories(layout.rootDirectory, mode: 0o700)
                        try? AtomicFile.write(latestCheckpoint.json, to: layout.rootCheckpointPath, mode: 0o644)
                    }
                }
                return .success(committed)
            } catch {
                tail = nil
                buffer.removeAll(keepingCapacity: true)
                pendingJournal.removeAll()
                return .failure(error)
            }
        }

        /// The committed lines not yet handed to the journal (what an earlier flush of a
        /// failed commit put on disk included).
        func takeJournalEntries() -> [AuditJournal.Entry] {
            defer { durableJournal = [] }
            return durableJournal
        }

        /// Makes `tail` match the files: cheap when this writer was the last to append.
        func refreshTail() throws(AirlockError) {
            // Fast path, one fstat: the open segment is still linked, unsealed and exactly as
            // long as this writer left it. Every other writer appends to the last segment, and
            // a rotation first seals it (both change its size), so nothing else has been
            // written since and the folder need not be listed again.
            if let tail, descriptor >= 0, descriptorSegment == tail.segment, !tail.sealed {
                var status = stat()
                if fstat(descriptor, &status) == 0, status.st_nlink > 0, Int64(status.st_size) == tail.size { return }
            }
            let numbers = try AuditFiles.segmentNumbers(in: folder)
            let current = numbers.last ?? 1
            if descriptorSegment != current || descriptor < 0 {
                try openSegment(current, create: numbers.isEmpty)
            }
            let path = layout.segmentPath(current)
            let size = try AuditFiles.size(descriptor, path: path)
            if let tail, tail.segment == current, tail.size == size { return }
            try loadTail(segment: current, size: size, path: path)
            try loadLastCheckpoint()
        }

        /// Where the time since the last checkpoint counts from, after the tail was read from
        /// the files: the latest checkpoint copy (`audit-checkpoint.json`, written under the
        /// lock after every checkpoint) when it belongs to this log's past; otherwise the first
        /// record of the current segment (which follows the previous segment's seal), or now
        /// for an empty one. A stale copy only makes the next time checkpoint come earlier.
        func loadLastCheckpoint() throws(AirlockError) {
            guard let current = tail else { return }
            if let bytes = try? folder.contents(of: AuditLayout.latestCheckpointName, upTo: 64 * 1024),
                let latest = try? AuditCheckpoint(json: bytes), latest.seq <= current.lastSeq,
                let time = AuditTime.parse(latest.time)
            {
                lastCheckpoint = (latest.seq, time)
                return
            }
            guard current.size > 0 else {
                lastCheckpoint = (current.lastSeq, clock.now())
                return
            }
            let path = layout.segmentPath(current.segment)
            let head = try AuditFiles.read(descriptor, at: 0, count: Int(min(current.size, 64 * 1024)), path: path)
            let firstLine = head.prefix { $0 != 0x0A }
            if let first = try? AuditRecord(line: firstLine), first.seq > 0, let time = AuditTime.parse(first.time) {
                lastCheckpoint = (first.seq - 1, time)
            } else {
                lastCheckpoint = (current.lastSeq, clock.now())
            }
        }

        /// Reads the tail of segment `current` (of `size` bytes) from the file.
        func loadTail(segment current: Int, size: Int64, path: String) throws(AirlockError) {
            var size = size

            // Cut off an unfinished last line: no newline, or not a record. A crash leaves at
            // most one (a flush is one write(2); what a torn write leaves has no newline), so a
            // second bad line is damage for `verify` to name, and the writer refuses to go on.
            func record(_ line: [UInt8]) -> AuditRecord? {
                line.last == 0x0A ? try? AuditRecord(line: line) : nil
            }
            var last: AuditRecord?
            var lastLine: [UInt8] = []
            if size > 0 {
                let (start, line) = try AuditFiles.lastLine(descriptor, size: size, path: path)
                if let parsed = record(line) {
                    last = parsed
                    lastLine = line
                } else {
                    if start > 0 {
                        let (_, before) = try AuditFiles.lastLine(descriptor, size: start, path: path)
                        guard let parsed = record(before) else {
                            throw AirlockError(
                                .invalidInput,
                                "the audit log segment \(path) ends with more than one line that is not a record: "
                                    + "not appending (run `airlock-audit verify`)")
                        }
                        last = parsed
                        lastLine = before
                    }
                    guard ftruncate(descriptor, off_t(start)) == 0 else {
                        throw .system("cannot cut the unfinished last record off \(path)", errno: errno)
                    }
                    discardedBytes += size - start
                    size = start
                }
            }
            if discardedBytes > 0, fdatasync(descriptor) != 0 {
                throw .system("cannot flush \(path) to disk", errno: errno)
            }
            if let last {
                tail = Tail(
                    segment: current, size: size, lastSeq: last.seq, prev: try AuditFiles.hash(lastLine),
                    day: AuditTime.parse(last.time).map(AuditTime.day), sealed: Self.isSeal(last))
                return
            }
            // An empty segment continues the chain of the one before it.
            guard current > 1 else {
                tail = Tail(segment: current, size: 0, lastSeq: 0, prev: AuditRecord.genesisPrev, day: nil, sealed: false)
                return
            }
            let previousPath = layout.segmentPath(current - 1)
            guard let previous = try folder.openFile(AuditLayout.segmentName(current - 1), .read) else {
                throw .system("cannot continue the audit chain from \(previousPath)", errno: ENOENT)
            }
            defer { close(previous) }
            let previousSize = try AuditFiles.size(previous, path: previousPath)
            guard previousSize > 0 else {
                throw AirlockError(.invalidInput, "cannot continue the audit chain: \(previousPath) is empty")
            }
            let (_, line) = try AuditFiles.lastLine(previous, size: previousSize, path: previousPath)
            let record: AuditRecord
            do throws(AirlockError) {
                guard line.last == 0x0A else { throw AirlockError(.invalidInput, "its last line is unfinished") }
                record = try AuditRecord(line: line)
            } catch {
                throw AirlockError(.invalidInput, "cannot continue the audit chain from \(previousPath)", cause: error)
            }
            tail = Tail(
                segment: current, size: 0, lastSeq: record.seq, prev: try AuditFiles.hash(line), day: nil, sealed: false)
        }

        static func isSeal(_ record: AuditRecord) -> Bool {
            record.action == AuditAction.checkpoint.rawValue && record.details?["reason"] == "seal"
        }

        func openSegment(_ number: Int, create: Bool) throws(AirlockError) {
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
            let name = AuditLayout.segmentName(number)
            let opened: Int32
            if create {
                opened = try folder.createFile(name, .append, mode: 0o640)
                AuditSharing.share(opened, in: folder)
            } else {
                guard let existing = try folder.openFile(name, .append) else {
                    throw .system("cannot open the audit log segment \(layout.segmentPath(number))", errno: ENOENT)
                }
                opened = existing
            }
            descriptor = opened
            descriptorSegment = number
            if create { try folder.sync() }
        }

        /// Adds one record to the flush being built and returns its `seq`.
        @discardableResult
        func add(_ template: RecordTemplate) throws(AirlockError) -> UInt64 {
            let now = clock.now()
            let time = format(now)
            var line = try rotateIfNeeded(now: now) { tail in
                template.line(seq: tail.lastSeq + 1, time: time, clock: clockState, prev: tail.prev)
            }
            let seq = try append(&line, day: AuditTime.day(now))
            if layout.signer == .host, template.writer == .root, signsRootRecords || template.certifiesKey {
                rootRecordsUnsigned = true
                signsRootRecords = true
            }
            if (seq + 1) % options.checkpointInterval == 0 {
                try addCheckpoint(reason: "interval")
            } else if checkpointDue(now: now) {
                try addCheckpoint(reason: "time")
            }
            return seq
        }

        /// See `AuditLogWriter.applyRetention`. Runs under the lock, after `refreshTail`.
        func applyRetention(days: Int, actor: AuditActor, dryRun: Bool) throws(AirlockError) -> AuditRetentionReport {
            let now = clock.now()
            let cutoff = now - Int64(days) * 86_400_000
            let numbers = try AuditFiles.segmentNumbers(in: folder)
            var expired: [(segment: AuditRetentionReport.Segment, seal: [UInt8])] = []
            var kept: String?
            for number in numbers.dropLast() {
                let name = AuditLayout.segmentName(number)
                let path = layout.segmentPath(number)
                guard let file = try folder.openFile(name, .read) else {
                    throw .system("cannot open the audit log segment \(path)", errno: ENOENT)
                }
                defer { close(file) }
                let size = try AuditFiles.size(file, path: path)
                let seal = size > 0 ? try AuditFiles.lastLine(file, size: size, path: path).bytes : []
                guard seal.last == 0x0A, let sealRecord = try? AuditRecord(line: seal), Self.isSeal(sealRecord),
                    let sealTime = AuditTime.parse(sealRecord.time)
                else {
                    kept = "\(name) does not end with its seal checkpoint: nothing from it on is removed (run airlock-audit verify)"
                    break
                }
                guard sealTime < cutoff else {
                    kept = "\(name) and later segments hold records from within the last \(days) days"
                    break
                }
                let head = try AuditFiles.read(file, at: 0, count: Int(min(size, 64 * 1024)), path: path)
                guard let first = try? AuditRecord(line: head.prefix { $0 != 0x0A }) else {
                    kept = "\(name) does not start with a record: nothing from it on is removed (run airlock-audit verify)"
                    break
                }
                let segment = AuditRetentionReport.Segment(
                    name: name, firstSeq: first.seq, lastSeq: sealRecord.seq, firstTime: first.time,
                    lastTime: sealRecord.time, chain: try AuditFiles.hash(seal))
                expired.append((segment, seal))
            }
            if kept == nil, let last = numbers.last {
                kept = "\(AuditLayout.segmentName(last)) is the segment being written"
            }
            let report = AuditRetentionReport(
                retentionDays: days, cutoff: AuditTime.format(cutoff), dryRun: dryRun, removed: expired.map(\.segment),
                kept: kept)
            if dryRun || expired.isEmpty { return report }

            // The records first, durably: a crash before the files are gone leaves segments the
            // log says were removed, which verify still checks; never the other way round.
            for (segment, seal) in expired {
                try add(
                    RecordTemplate(
                        action: AuditAction.retention.rawValue, actor: actor, target: .none, outcome: .ok,
                        details: [
                            "segment": segment.name, "first_seq": String(segment.firstSeq),
                            "last_seq": String(segment.lastSeq), "chain": segment.chain,
                            "seal": String(decoding: seal.dropLast(), as: UTF8.self),
                            "retention_days": String(days), "cutoff": report.cutoff,
                        ], request: nil))
            }
            try flush()
            for (segment, _) in expired {
                try folder.remove(segment.name)
            }
            try folder.sync()
            return report
        }

        /// `checkpointSeconds` have passed since the latest checkpoint, and records came after it.
        func checkpointDue(now: Int64) -> Bool {
            guard let current = tail, current.lastSeq > lastCheckpoint.seq else { return false }
            return now - lastCheckpoint.time >= options.checkpointSeconds * 1000
        }

        @discardableResult
        func addCheckpoint(reason: String) throws(AirlockError) -> AuditCheckpoint {
            let now = clock.now()
            var checkpoint: AuditCheckpoint?
            var line = try rotateIfNeeded(now: now) { tail throws(AirlockError) in
                let signed = try AuditCheckpoint.sign(
                    seq: tail.lastSeq + 1, chain: tail.prev, segment: AuditLayout.segmentName(tail.segment),
                    time: AuditTime.format(now), reason: reason, key: key)
                checkpoint = signed
                return AuditRecord(
                    seq: signed.seq, time: signed.time, clock: clockState, actor: actor,
                    action: AuditAction.checkpoint.rawValue, target: .none, outcome: .ok,
                    details: signed.recordDetails, prev: signed.chain
                ).line
            }
            let seq = try append(&line, day: AuditTime.day(now))
            guard let checkpoint else { throw AirlockError(.crypto, "no checkpoint was signed") }
            latestCheckpoint = checkpoint
            lastCheckpoint = (seq, now)
            rootRecordsUnsigned = false
            return checkpoint
        }

        private var formatted: (milliseconds: Int64, text: String) = (-1, "")

        /// `AuditTime.format`, remembered for the millisecond most records of a flush share.
        func format(_ milliseconds: Int64) -> String {
            if formatted.milliseconds != milliseconds { formatted = (milliseconds, AuditTime.format(milliseconds)) }
            return formatted.text
        }

        /// The line `make` builds for the current tail, after sealing the segment first when
        /// the line would not fit, the day changed, or the segment is already sealed.
        func rotateIfNeeded(
            now: Int64, _ make: (Tail) throws(AirlockError) -> [UInt8]
        ) throws(AirlockError) -> [UInt8] {
            guard let current = tail else { throw AirlockError(.system, "the audit log's tail is unknown") }
            let line = try make(current)
            let used = current.size + Int64(buffer.count)
            let full = used > 0 && used + Int64(line.count) > options.segmentBytes
            let newDay = current.day.map { $0 != AuditTime.day(now) } ?? false
            guard current.sealed || full || newDay else { return line }
            if !current.sealed { try seal() }
            try flush()
            if let refusal = AuditSharing.lockSealed(AuditLayout.segmentName(current.segment), in: folder) {
                unsafeFiles.append(refusal)
            }
            try startNextSegment()
            guard let next = tail else { throw AirlockError(.system, "the audit log's tail is unknown") }
            return try make(next)
        }

        /// Appends the seal checkpoint to the buffer (it may go past `segmentBytes`).
        func seal() throws(AirlockError) {
            guard let current = tail else { return }
            let now = clock.now()
            let checkpoint = try AuditCheckpoint.sign(
                seq: current.lastSeq + 1, chain: current.prev, segment: AuditLayout.segmentName(current.segment),
                time: AuditTime.format(now), reason: "seal", key: key)
            var line = AuditRecord(
                seq: checkpoint.seq, time: checkpoint.time, clock: clockState, actor: actor,
                action: AuditAction.checkpoint.rawValue, target: .none, outcome: .ok,
                details: checkpoint.recordDetails, prev: checkpoint.chain
            ).line
            let seq = try append(&line, day: AuditTime.day(now))
            tail?.sealed = true
            latestCheckpoint = checkpoint
            lastCheckpoint = (seq, now)
            rootRecordsUnsigned = false
        }

        /// Hex SHA-256 of `line`, on the engine's one context.
        func lineHash(_ line: [UInt8]) throws(AirlockError) -> String {
            var digest = SIMD4<UInt64>.zero
            let failure: AirlockError? = line.withUnsafeBytes { bytes in
                withUnsafeMutableBytes(of: &digest) { output in
                    do throws(AirlockError) {
                        try hasher.hashAndRestart(bytes, into: output)
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            if let failure { throw failure }
            return ChainHash(words: digest).hex
        }

        @discardableResult
        func append(_ line: inout [UInt8], day: Int64) throws(AirlockError) -> UInt64 {
            guard var current = tail else { throw AirlockError(.system, "the audit log's tail is unknown") }
            buffer.append(contentsOf: line)
            current.lastSeq += 1
            current.prev = try lineHash(line)
            if journaling {
                pendingJournal.append(
                    AuditJournal.Entry(line: line, hash: current.prev, segment: AuditLayout.segmentName(current.segment)))
            }
            current.day = day
            tail = current
            return current.lastSeq
        }

        /// Writes the buffer to the current segment with one write(2), then fdatasync(2). On
        /// failure, cuts the segment back to where it was.
        func flush() throws(AirlockError) {
            guard !buffer.isEmpty, var current = tail else { return }
            let path = layout.segmentPath(current.segment)
            let before = current.size
            do throws(AirlockError) {
                try AuditFiles.write(descriptor, buffer, path: path)
                guard fdatasync(descriptor) == 0 else {
                    throw .system("cannot flush the audit log segment \(path) to disk", errno: errno)
                }
            } catch {
                _ = ftruncate(descriptor, off_t(before))
                throw AirlockError(
                    error.code, "the audit log cannot be written: \(buffer.count) bytes of records were not kept",
                    cause: error)
            }
            current.size += Int64(buffer.count)
            tail = current
            buffer.removeAll(keepingCapacity: true)
            if journaling {
                durableJournal += pendingJournal
                pendingJournal.removeAll()
            }
        }

        /// Creates the next segment, empty, continuing the chain.
        func startNextSegment() throws(AirlockError) {
            guard let current = tail else { return }
            let next = current.segment + 1
            let opened = try folder.createFile(AuditLayout.segmentName(next), .append, mode: 0o640, exclusive: true)
            AuditSharing.share(opened, in: folder)
            if descriptor >= 0 { close(descriptor) }
            descriptor = opened
            descriptorSegment = next
            try folder.sync()
            tail = Tail(segment: next, size: 0, lastSeq: current.lastSeq, prev: current.prev, day: nil, sealed: false)
        }
    }
}

/// What a retention run removed (or, for a dry run, would remove) and why it stopped where it did.
public struct AuditRetentionReport: Sendable, Equatable, Encodable {
    public struct Segment: Sendable, Equatable, Encodable {
        /// `audit-000001.jsonl`
        public var name: String
        public var firstSeq: UInt64
        /// The seq of its seal checkpoint, its last record.
        public var lastSeq: UInt64
        public var firstTime: String
        public var lastTime: String
        /// Hex SHA-256 of its seal line: the `prev` of the first record after it.
        public var chain: String
    }
    public var retentionDays: Int
    /// Segments whose every record is older than this went.
    public var cutoff: String
    public var dryRun: Bool
    /// Oldest first.
    public var removed: [Segment]
    /// Why the next segment stays.
    public var kept: String?
}

/// The host audit key: loaded, or created (ECDSA P-384, 0600, public half beside it) on first use.
public enum AuditKey {
    public static func loadOrCreate(path: String) throws(AirlockError) -> PrivateKey {
        if AuditFiles.exists(path) { return try PrivateKey.load(path: path) }
        try AtomicFile.makeDirectories(AtomicFile.folder(of: path), mode: 0o755)
        let key = try PrivateKey.generate(.ecdsaP384)
        do throws(AirlockError) {
            try key.write(privateTo: path)
            return key
        } catch {
            // Another writer created it first: use theirs.
            if AuditFiles.exists(path) { return try PrivateKey.load(path: path) }
            throw AirlockError(error.code, "cannot create the audit key \(path)", cause: error)
        }
    }

    /// The public half the verifier needs, from `AuditLayout.publicKeyPath`.
    public static func publicKey(_ layout: AuditLayout) throws(AirlockError) -> PublicKey {
        try PublicKey.load(path: layout.publicKeyPath)
    }
}
