public import AirlockCore
internal import Systemd
internal import Dispatch
internal import Synchronization

/// The copy of every committed record in the system journal (journald), so records show up
/// where the site's log collection already looks (`journalctl SYSLOG_IDENTIFIER=airlock-audit`).
///
/// The file log stays the record of truth: entries are sent only after their records are on disk
/// (fdatasync done), and a journald failure never fails an append. They are sent by the
/// committer itself, in log order, before any appender is told its record was written: so every
/// record anyone was told of is in the journal, where the log's writers cannot take it back,
/// and `verify` can prove the log's end against it (`AuditJournal.head`). Failures are counted
/// (`status`) and reported once through `onFirstFailure`. (One datagram per record on journald's
/// socket; if journald stops reading, appends wait for it, as every service logging to it does.)
///
/// Each entry carries `MESSAGE` (one readable line), `PRIORITY` (6 ok, 4 refused or a recovery,
/// 3 failed), `SYSLOG_IDENTIFIER=airlock-audit`, and the record as fields:
/// `AIRLOCK_SEQ`, `AIRLOCK_TIME`, `AIRLOCK_CLOCK`, `AIRLOCK_ACTION`, `AIRLOCK_ACTOR`,
/// `AIRLOCK_ACTOR_KIND`, `AIRLOCK_ACTOR_UID`, `AIRLOCK_OUTCOME`, `AIRLOCK_TARGET_BUNDLE`,
/// `AIRLOCK_TARGET_VERSION`, `AIRLOCK_TARGET_ADAPTER`, `AIRLOCK_DETAIL_<KEY>` for each detail,
/// `AIRLOCK_TOKENS_IN`, `AIRLOCK_TOKENS_OUT`, `AIRLOCK_LATENCY_MS`, `AIRLOCK_STATUS`,
/// `AIRLOCK_PROMPT_SHA256`, `AIRLOCK_ANSWER_SHA256`, `AIRLOCK_REQUEST_ID`, `AIRLOCK_SOURCE`, `AIRLOCK_PREV` (the chain hash before it),
/// `AIRLOCK_CHAIN` (the hash of its own line: the next record's `prev`), `AIRLOCK_SEGMENT`,
/// `AIRLOCK_LOG` (the log folder's real path, telling one host's logs apart), and
/// `AIRLOCK_RECORD` (the exact line, so the journal copy can be compared with the file).
public final class AuditJournal: Sendable {
    /// What the journal copy has done so far.
    public struct Status: Sendable, Equatable {
        /// Entries journald took.
        public var sent: Int
        /// Entries that could not be sent (the records themselves are on disk regardless).
        public var failed: Int
        /// The first failure, as text.
        public var firstFailure: String?
    }

    /// One committed record waiting to be copied.
    struct Entry: Sendable {
        var line: [UInt8]
        var hash: String
        var segment: String
    }

    public static let syslogIdentifier = "airlock-audit"
    /// Where journald listens (`/run/systemd/journal/socket`).
    public static var defaultSocket: String { JournalSink.defaultSocket }

    private let sink: JournalSink
    /// `AIRLOCK_LOG` of every entry.
    let log: String
    private let queue = DispatchQueue(label: "airlock.audit.journal")
    private let state = Mutex(Status(sent: 0, failed: 0, firstFailure: nil))
    private let onFirstFailure: @Sendable (AirlockError) -> Void

    init(sink: JournalSink, log: String, onFirstFailure: @escaping @Sendable (AirlockError) -> Void) {
        self.sink = sink
        self.log = log
        self.onFirstFailure = onFirstFailure
    }

    public var status: Status { state.withLock { $0 } }

    /// Sends `entries` (in log order) and returns once journald has each (or it failed).
    func send(_ entries: [Entry]) {
        guard !entries.isEmpty else { return }
        queue.sync { [self] in
            for entry in entries { send(entry) }
        }
    }

    /// Sends, at priority 2 (critical), that the log itself refused to write (a link planted at
    /// the current segment's name, say): the one place such a refusal can still be recorded.
    func alert(_ error: AirlockError, folder: String) {
        let fields: [(name: String, value: String)] = [
            ("MESSAGE", Printable.escaped("audit log not written: " + error.description)),
            ("PRIORITY", "2"), ("SYSLOG_IDENTIFIER", Self.syslogIdentifier),
            ("AIRLOCK_ACTION", AuditAction.unsafeFile.rawValue), ("AIRLOCK_OUTCOME", AuditOutcome.refused.rawValue),
            ("AIRLOCK_DETAIL_FOLDER", Printable.escaped(folder)), ("AIRLOCK_LOG", Printable.escaped(log, limit: 4096)),
        ]
        // Sent before returning: the program that hit this is about to fail and may exit.
        queue.sync { [self] in
            do throws(AirlockError) {
                try sink.send(fields)
                state.withLock { $0.sent += 1 }
            } catch {
                state.withLock { $0.failed += 1 }
            }
        }
    }

    /// Returns once everything handed over before the call has been sent (or has failed); since
    /// `send` is synchronous, at once (kept for callers that wait before reading the journal).
    func drained() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { continuation.resume() }
        }
    }

    private func send(_ entry: Entry) {
        do throws(AirlockError) {
            let record = try AuditRecord(line: entry.line)
            try sink.send(Self.fields(record, line: entry.line, hash: entry.hash, segment: entry.segment, log: log))
            state.withLock { $0.sent += 1 }
        } catch {
            let first = state.withLock { status -> Bool in
                status.failed += 1
                if status.firstFailure != nil { return false }
                status.firstFailure = error.description
                return true
            }
            if first { onFirstFailure(error) }
        }
    }

    /// The journal fields of one record (see the type's documentation).
    static func fields(
        _ record: AuditRecord, line: [UInt8], hash: String, segment: String, log: String
    ) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", message(record)),
            ("PRIORITY", String(priority(record))),
            ("SYSLOG_IDENTIFIER", syslogIdentifier),
            ("AIRLOCK_SEQ", String(record.seq)),
            ("AIRLOCK_TIME", record.time),
            ("AIRLOCK_CLOCK", record.clock.rawValue),
            ("AIRLOCK_ACTION", record.action),
            ("AIRLOCK_ACTOR", record.actor.id),
            ("AIRLOCK_ACTOR_KIND", record.actor.kind.rawValue),
            ("AIRLOCK_OUTCOME", record.outcome.rawValue),
        ]
        if let uid = record.actor.uid { fields.append(("AIRLOCK_ACTOR_UID", String(uid))) }
        if let bundle = record.target.bundle { fields.append(("AIRLOCK_TARGET_BUNDLE", bundle)) }
        if let version = record.target.version { fields.append(("AIRLOCK_TARGET_VERSION", version)) }
        if let adapter = record.target.adapter { fields.append(("AIRLOCK_TARGET_ADAPTER", adapter)) }
        for (key, value) in (record.details ?? [:]).sorted(by: { $0.key < $1.key }) {
            fields.append((detailFieldName(key), value))
        }
        if let request = record.request {
            if let value = request.tokensIn { fields.append(("AIRLOCK_TOKENS_IN", String(value))) }
            if let value = request.tokensOut { fields.append(("AIRLOCK_TOKENS_OUT", String(value))) }
            if let value = request.latencyMilliseconds { fields.append(("AIRLOCK_LATENCY_MS", String(value))) }
            if let value = request.status { fields.append(("AIRLOCK_STATUS", String(value))) }
            if let value = request.promptSHA256 { fields.append(("AIRLOCK_PROMPT_SHA256", value)) }
            if let value = request.answerSHA256 { fields.append(("AIRLOCK_ANSWER_SHA256", value)) }
            if let value = request.id { fields.append(("AIRLOCK_REQUEST_ID", value)) }
            if let value = request.source { fields.append(("AIRLOCK_SOURCE", value)) }
        }
        fields.append(("AIRLOCK_PREV", record.prev))
        fields.append(("AIRLOCK_CHAIN", hash))
        fields.append(("AIRLOCK_SEGMENT", segment))
        fields.append(("AIRLOCK_LOG", log))
        let exact = line.last == 0x0A ? line.dropLast() : line[...]
        // Text from clients and bundles reaches these fields: each carries only what it meant,
        // with control and formatting characters escaped (`Printable`), so a model named with a
        // newline or ESC cannot forge a line of `journalctl` output or rewrite a terminal. The
        // record itself goes as its exact JSON line (JSON escapes them already).
        fields = fields.map { ($0.name, Printable.escaped($0.value, limit: 4096)) }
        fields.append(("AIRLOCK_RECORD", String(decoding: exact, as: UTF8.self)))
        return fields
    }

    /// `AIRLOCK_DETAIL_` and the key in upper case, anything but A-Z and 0-9 as `_`, at most 64 bytes.
    static func detailFieldName(_ key: String) -> String {
        var name = Array("AIRLOCK_DETAIL_".utf8)
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): name.append(byte - 0x20)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): name.append(byte)
            default: name.append(UInt8(ascii: "_"))
            }
        }
        return String(decoding: name.prefix(64), as: UTF8.self)
    }

    /// syslog priorities: 6 info for what went through, 4 warning for refusals and repairs,
    /// 3 error for failures.
    static func priority(_ record: AuditRecord) -> Int {
        switch record.outcome {
        case .failed: return 3
        case .refused: return 4
        case .ok: return record.action == AuditAction.recovered.rawValue ? 4 : 6
        }
    }

    /// `audit #42: alice (uid 1000) bundle.install claims-llm 1.2.0: refused (not installed)`
    static func message(_ record: AuditRecord) -> String {
        var text = "audit #\(record.seq): \(record.actor.id)"
        if let uid = record.actor.uid { text += " (uid \(uid))" }
        text += " " + record.action
        let target = [record.target.bundle, record.target.version, record.target.adapter.map { "adapter " + $0 }]
            .compactMap { $0 }
        if !target.isEmpty { text += " " + target.joined(separator: " ") }
        text += ": " + record.outcome.rawValue
        if let reason = record.details?["reason"] { text += " (\(reason))" }
        if let status = record.request?.status { text += " [HTTP \(status)]" }
        return text
    }

    /// Writes one line to standard error: the default report of the first failure.
    public static let reportOnStandardError: @Sendable (AirlockError) -> Void = { error in
        let line =
            "airlock: the journald copy of the audit log failed (\(error)); the file log is the record of truth "
            + "and is unaffected; further journald failures are only counted\n"
        _ = line.utf8CString.withUnsafeBufferPointer { buffer in write(2, buffer.baseAddress, buffer.count - 1) }
    }
}
