internal import CSystemd
public import AirlockCore

/// Reads entries of the local system journal with `sd-journal(3)`: the journal files journald
/// keeps under /var/log/journal (or /run/log/journal while it is volatile), written only by
/// journald itself, so what a service sent there cannot be taken back by that service.
///
/// Which files are readable depends on the caller: root and the groups `systemd-journal`, `adm`
/// and `wheel` see the system journal; anyone else sees none of it (`readableBytes` is then 0).
public struct JournalReader: ~Copyable {
    private let handle: OpaquePointer

    /// Opens the local system journal (not users' journals, not remote ones).
    public init() throws(AirlockError) {
        var journal: OpaquePointer?
        let result = sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM))
        guard result >= 0, let journal else {
            throw AirlockError.system("the system journal could not be opened (sd_journal_open)", errno: -result)
        }
        handle = journal
    }

    deinit { sd_journal_close(handle) }

    /// Bytes of journal files this process could open: 0 when it may read none (or there are none).
    public var readableBytes: UInt64 {
        var bytes: UInt64 = 0
        return sd_journal_get_usage(handle, &bytes) >= 0 ? bytes : 0
    }

    /// Calls `body` with the values of `fields` (absent ones left out) of every entry matching
    /// `matches`, oldest first. Matches on one field are alternatives; matches on different
    /// fields must all hold (`sd_journal_add_match(3)`). Returns how many entries matched.
    @discardableResult
    public func forEach(
        matching matches: [(field: String, value: String)], fields: [String],
        _ body: ([String: [UInt8]]) throws(AirlockError) -> Void
    ) throws(AirlockError) -> Int {
        sd_journal_flush_matches(handle)
        for match in matches {
            guard JournalSink.isValidFieldName(match.field) || match.field.hasPrefix("_") else {
                throw AirlockError(.invalidInput, "'\(match.field)' is not a journal field name")
            }
            let text = Array((match.field + "=" + match.value).utf8)
            let result = text.withUnsafeBytes { sd_journal_add_match(handle, $0.baseAddress, $0.count) }
            if result < 0 { throw AirlockError.system("journal match \(match.field) not accepted", errno: -result) }
        }
        var count = 0
        while true {
            let next = sd_journal_next(handle)
            if next < 0 { throw AirlockError.system("the system journal could not be read (sd_journal_next)", errno: -next) }
            if next == 0 { return count }
            count += 1
            var values: [String: [UInt8]] = [:]
            for field in fields {
                var data: UnsafeRawPointer?
                var length = 0
                guard sd_journal_get_data(handle, field, &data, &length) >= 0, let data else { continue }
                // `FIELD=value`: keep what follows the '='.
                let bytes = UnsafeRawBufferPointer(start: data, count: length)
                let skip = field.utf8.count + 1
                if bytes.count >= skip { values[field] = Array(bytes[skip...]) }
            }
            try body(values)
        }
    }
}
