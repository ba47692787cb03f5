public import AirlockCore

/// How an entry's bytes are kept in the bundle. The bundle itself is an uncompressed tar; an
/// entry may hold its file as one zstd frame.
public enum EntryEncoding: Sendable, Hashable, CustomStringConvertible {
    /// The file's bytes as they are (model weights: they barely compress).
    case stored
    /// One zstd frame of the file, at `level` 1...19 (runtime binaries, metadata).
    case zstd(level: Int)

    /// How to read it back (the level is a writing matter only).
    public var decoding: EntryDecoding {
        switch self {
        case .stored: .stored
        case .zstd: .zstd
        }
    }

    public var description: String {
        switch self {
        case .stored: "stored"
        case .zstd(let level): "zstd-\(level)"
        }
    }
}

/// How an entry's stored bytes become the file's plain bytes, as the manifest records it.
public enum EntryDecoding: String, Sendable, Hashable, CaseIterable {
    case stored
    case zstd
}

/// What kind of entry: a bundle holds regular files and directories, nothing else.
public enum EntryKind: String, Sendable, Hashable {
    case file
    case directory
}

/// An entry as the reader found it, after every check passed.
public struct EntryHeader: Sendable, Hashable, CustomStringConvertible {
    /// Relative, `/`-separated, no trailing `/` (see `BundlePath`).
    public let path: String
    public let kind: EntryKind
    /// Bytes of data in the archive (the stored size; 0 for directories).
    public let size: Int64
    /// Permission bits (never setuid, setgid or sticky: those are refused).
    public let permissions: UInt16

    public var isExecutable: Bool { permissions & 0o111 != 0 }

    public var description: String { "\(kind) '\(path)' (\(size) bytes)" }
}

/// An entry as the writer wrote it: what the manifest needs to record.
public struct WrittenEntry: Sendable, Hashable {
    public let path: String
    public let kind: EntryKind
    /// The encoding actually used: an empty file is always `.stored` (a zstd frame of nothing is
    /// longer than nothing, and libarchive's raw reader cannot open an empty stream).
    public let encoding: EntryEncoding
    public let executable: Bool
    /// Bytes in the archive.
    public let storedSize: Int64
    /// Bytes of the file itself (what the caller hashed through `progress`).
    public let plainSize: Int64
}

/// The rules for an entry's path, shared by the writer (which refuses to write a bad one) and
/// the reader (which refuses to read past one).
///
/// A path is UTF-8, 1 to 255 bytes, relative and `/`-separated, with no empty, `.` or `..`
/// component, no leading or trailing `/`, and no NUL or control character (U+0000–U+001F,
/// U+007F). A `./` prefix is refused rather than normalised: a name has exactly one spelling,
/// so the comparison with the manifest is exact. (Directories are written with the trailing `/`
/// tar uses; the reader strips exactly that one before checking.)
public enum BundlePath {
    public static let maxBytes = 255

    /// Why `bytes` is not an acceptable path, or nil when it is.
    public static func problem(_ bytes: some BidirectionalCollection<UInt8>) -> String? {
        if bytes.isEmpty { return "the path is empty" }
        if bytes.count > maxBytes { return "the path is \(bytes.count) bytes, over the limit of \(maxBytes)" }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return "the path contains a NUL or control character" }
        guard String(validating: bytes, as: UTF8.self) != nil else { return "the path is not valid UTF-8" }
        if bytes.first == UInt8(ascii: "/") { return "the path is absolute" }
        if bytes.last == UInt8(ascii: "/") { return "the path ends with '/'" }
        for component in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if component.isEmpty { return "the path has an empty component" }
            if component.elementsEqual([UInt8(ascii: ".")]) { return "the path has a '.' component" }
            if component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) { return "the path has a '..' component" }
        }
        return nil
    }

    /// Throws an `.archive` error naming `path` unless it is acceptable.
    public static func validate(_ path: String) throws(AirlockError) {
        if let problem = problem(Array(path.utf8)) {
            throw AirlockError(.archive, "bad entry path '\(printable(Array(path.utf8)))': \(problem)")
        }
    }

    /// `bytes` for a message: valid UTF-8 with control characters escaped, at most 300 bytes.
    static func printable(_ bytes: [UInt8]) -> String {
        var text = ""
        for scalar in String(decoding: bytes.prefix(300), as: UTF8.self).unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f {
                text += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return bytes.count > 300 ? text + "…" : text
    }
}
