internal import CArchive
internal import CAirlockShims
internal import AirlockCore

/// What libarchive said about its last failure (`archive_error_string`, `archive_errno`): the
/// cause inside every `.archive` error that came from a libarchive call.
struct LibarchiveMessage: Error, CustomStringConvertible, Sendable {
    let text: String
    let errno: Int32

    var description: String { errno > 0 ? "libarchive: \(text) (errno \(errno))" : "libarchive: \(text)" }
}

/// The object a libarchive callback talks to (a file sink, the bundle's input, an entry being
/// decoded). A callback cannot throw: it parks the error here and returns -1, and the check of
/// the libarchive call that ran the callback throws the parked error instead of libarchive's.
protocol ArchiveIO: AnyObject {
    var failure: AirlockError? { get }
}

/// Owns one libarchive `struct archive *`, read or write, and frees it in `deinit`.
///
/// It also keeps the callback object alive (libarchive may call it until freed). A write object
/// that never finished is marked failed before it is freed, so libarchive does not pad the
/// unfinished entry with zeros up to its declared size (which it otherwise does, even for a
/// 50 GB entry).
final class ArchivePointer: @unchecked Sendable {
    enum Direction { case read, write }

    let raw: OpaquePointer
    let direction: Direction
    private(set) var io: (any ArchiveIO)?
    private var closed = false

    init(_ direction: Direction) throws(AirlockError) {
        let made: OpaquePointer? = direction == .read ? archive_read_new() : archive_write_new()
        guard let made else { throw AirlockError(.archive, "libarchive could not allocate an archive object") }
        raw = made
        self.direction = direction
    }

    deinit {
        withUTF8Locale {
            switch direction {
            case .read:
                archive_read_free(raw)
            case .write:
                if !closed { archive_write_fail(raw) }
                archive_write_free(raw)
            }
        }
    }

    /// Keeps `io` alive as long as this object and lets `check` see its parked failure.
    func attach(_ io: any ArchiveIO) { self.io = io }

    /// Records that `archive_write_close` succeeded (only then may `deinit` let libarchive close).
    func markClosed() { closed = true }

    /// The one place libarchive's return codes are checked. A result `>= 0` (`ARCHIVE_OK`,
    /// `ARCHIVE_EOF`, a byte count) is returned; anything else (`ARCHIVE_WARN`, `ARCHIVE_RETRY`,
    /// `ARCHIVE_FAILED`, `ARCHIVE_FATAL`) throws: a warning is a refusal too. The error is the
    /// callback's parked one if there is one, else `message` with libarchive's own text as the cause.
    @discardableResult
    func check(_ result: Int, _ message: @autoclosure () -> String) throws(AirlockError) -> Int {
        if result >= 0 { return result }
        throw failure(message())
    }

    @discardableResult
    func check(_ result: Int32, _ message: @autoclosure () -> String) throws(AirlockError) -> Int {
        try check(Int(result), message())
    }

    /// The error for a failed call: the callback's parked error, else libarchive's message.
    func failure(_ message: String, file: String = #fileID, line: Int = #line) -> AirlockError {
        if let parked = io?.failure { return parked }
        return AirlockError(.archive, message, cause: lastMessage, file: file, line: line)
    }

    /// libarchive's text for its last error.
    var lastMessage: LibarchiveMessage {
        let text = archive_error_string(raw).map { String(cString: $0) } ?? "no message"
        return LibarchiveMessage(text: text, errno: archive_errno(raw))
    }
}

/// Runs `body` with this thread's character-type locale set to `C.UTF-8` (see
/// `CAirlockShims_archive_use_utf8_locale`): every libarchive call that touches names runs in here.
func withUTF8Locale<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    let previous = CAirlockShims_archive_use_utf8_locale()
    defer { CAirlockShims_archive_restore_locale(previous) }
    return try body()
}
