internal import CSystemd
public import AirlockCore

/// Sends structured entries to the system journal with `sd_journal_sendv(3)`: one datagram per
/// entry on journald's socket, each field `NAME=value` (values may hold any bytes, newlines
/// included: libsystemd switches to the binary form for those).
///
/// `sd_journal_sendv` returns 0 when journald's socket does not exist (it drops the entry
/// silently), so whether journald is there is decided by the socket's presence
/// (`JournalSink.system()` is nil without it), and every other failure (nobody listening, the
/// socket's buffer full) is thrown.
public struct JournalSink: Sendable {
    /// Where journald listens for native-protocol entries.
    public static let defaultSocket = "/run/systemd/journal/socket"

    /// The socket whose presence said journald is there.
    public let socket: String

    private init(socket: String) { self.socket = socket }

    /// The system journal when journald's socket exists at `socket`; nil otherwise.
    /// (libsystemd always sends to `defaultSocket`: another path only changes the check.)
    public static func system(socket: String = defaultSocket) -> JournalSink? {
        var status = stat()
        guard stat(socket, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return nil }
        return JournalSink(socket: socket)
    }

    /// A journal field name journald accepts from a client: `A-Z`, `0-9` and `_`, not starting
    /// with `_` (those are journald's own, trusted fields) or a digit, at most 64 bytes.
    public static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, first != UInt8(ascii: "_"), !(0x30...0x39).contains(first)
        else { return false }
        return bytes.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "_") }
    }

    /// Sends one entry. `fields` should hold `MESSAGE`; names must pass `isValidFieldName`.
    public func send(_ fields: [(name: String, value: String)]) throws(AirlockError) {
        guard !fields.isEmpty else { throw AirlockError(.invalidInput, "a journal entry needs at least one field") }
        for field in fields where !Self.isValidFieldName(field.name) {
            throw AirlockError(.invalidInput, "'\(field.name)' is not a journal field name (A-Z, 0-9, _; not starting with _ or a digit)")
        }
        // One buffer holding every `NAME=value`, then an iovec per field pointing into it.
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = storage.count
            storage.append(contentsOf: field.name.utf8)
            storage.append(UInt8(ascii: "="))
            storage.append(contentsOf: field.value.utf8)
            ranges.append(start..<storage.count)
        }
        let result = storage.withUnsafeMutableBytes { raw -> Int32 in
            let vectors = ranges.map { range in
                iovec(iov_base: raw.baseAddress! + range.lowerBound, iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        if result < 0 { throw AirlockError.system("journald did not take the entry (sd_journal_sendv)", errno: -result) }
    }
}
