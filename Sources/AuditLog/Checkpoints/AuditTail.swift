internal import AirlockCore
internal import Systemd

/// The newest record of a log that its writers handed to journald, read back from the journal.
///
/// Every writer (root's commands and the gateway alike) sends each record to journald once it
/// is on disk and before anyone is told it was written (`AuditJournal`), tagged with the log it
/// belongs to (`AIRLOCK_LOG`, the log folder's real path). The journal's files are journald's:
/// the gateway's user can add entries but never take one back. So a log that ends before the
/// newest record the journal saw was cut, even in the open segment, after the last checkpoint.
public struct AuditJournalHead: Sendable, Equatable {
    /// The record's `seq`.
    public var seq: UInt64
    /// The chain hash before it (the record's `prev`).
    public var prev: String
    /// The segment it was written to.
    public var segment: String
    /// The record's time.
    public var time: String
    /// The journal's `_UID` of the entry: the writer's account, as the kernel told journald.
    public var uid: UInt32

    public init(seq: UInt64, prev: String, segment: String, time: String, uid: UInt32) {
        self.seq = seq
        self.prev = prev
        self.segment = segment
        self.time = time
        self.uid = uid
    }
}

/// Where `AuditLogVerifier` looks for the newest record the log's writers sent.
public enum AuditTailSource: Sendable {
    /// The local system journal (`AuditJournal.head`), counting entries from root, the log
    /// folder's owner and the gateway's account (`airlock-serve`).
    case journal
    /// Evidence already in hand (read on another host, or made by a test).
    case given(AuditTailEvidence)
    /// Nowhere: the end is judged by the checkpoints alone.
    case none
}

/// What proves, or does not, that a log ends where its writers stopped.
public enum AuditTailEvidence: Sendable, Equatable {
    /// The journal holds `entries` entries of this log; the newest record they name is `head`.
    case journal(head: AuditJournalHead, entries: Int)
    /// Nothing to compare the end with; `reason` says why (no journal, not readable by this
    /// account, no entries of this log). The log's end is then covered only by its checkpoints.
    case unproven(reason: String)
    /// The caller asked not to look (`--no-journal`).
    case notChecked

    public var head: AuditJournalHead? {
        if case .journal(let head, _) = self { return head }
        return nil
    }
}

extension AuditJournal {
    /// The `AIRLOCK_LOG` value of the log in `directory`: its real path.
    public static func logName(_ directory: String) -> String {
        guard let resolved = realpath(directory, nil) else { return directory }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The newest record of the log in `directory` that the system journal holds, counting only
    /// entries journald received from `writers` (uids: root and the log folder's owner) whose
    /// record time is not before `since` (the log's first record: entries of an older log that
    /// once lived in the same folder are not this one's). An entry another local account sent
    /// cannot count: journald stamps `_UID` from the kernel's credentials. An entry a writer's
    /// account forged can only claim more than was written (a false alarm), never less: the
    /// highest `seq` wins, wherever in the journal it is.
    public static func head(ofLogIn directory: String, writers: [UInt32], since: Int64?) -> AuditTailEvidence {
        let journal: JournalReader
        do throws(AirlockError) {
            journal = try JournalReader()
        } catch {
            return .unproven(reason: error.description)
        }
        if journal.readableBytes == 0 {
            return .unproven(
                reason: getuid() == 0
                    ? "this host has no system journal (journald is not running, or keeps no journal files)"
                    : "this account can read no system journal (run as root, or in group systemd-journal or adm)")
        }
        var matches: [(field: String, value: String)] = [
            ("SYSLOG_IDENTIFIER", syslogIdentifier), ("AIRLOCK_LOG", Printable.escaped(logName(directory), limit: 4096)),
        ]
        for uid in Set(writers).sorted() { matches.append(("_UID", String(uid))) }
        var best: AuditJournalHead?
        let count: Int
        do throws(AirlockError) {
            count = try journal.forEach(
                matching: matches, fields: ["AIRLOCK_SEQ", "AIRLOCK_PREV", "AIRLOCK_SEGMENT", "AIRLOCK_TIME", "_UID"]
            ) { fields in
                guard let seq = fields["AIRLOCK_SEQ"].flatMap({ UInt64(String(decoding: $0, as: UTF8.self)) }),
                    let prev = fields["AIRLOCK_PREV"].map({ String(decoding: $0, as: UTF8.self) }),
                    let segment = fields["AIRLOCK_SEGMENT"].map({ String(decoding: $0, as: UTF8.self) }),
                    let time = fields["AIRLOCK_TIME"].map({ String(decoding: $0, as: UTF8.self) }),
                    let uid = fields["_UID"].flatMap({ UInt32(String(decoding: $0, as: UTF8.self)) })
                else { return }
                if let since {
                    guard let milliseconds = AuditTime.parse(time), milliseconds >= since else { return }
                }
                if seq > best?.seq ?? 0 { best = AuditJournalHead(seq: seq, prev: prev, segment: segment, time: time, uid: uid) }
            }
        } catch {
            return .unproven(reason: error.description)
        }
        guard let best else {
            return .unproven(
                reason: "the system journal holds no entry of this log (\(logName(directory))): journald was not running "
                    + "when it was written, or its journal was volatile and the host restarted")
        }
        return .journal(head: best, entries: count)
    }
}
