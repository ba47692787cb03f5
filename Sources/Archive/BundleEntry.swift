internal import AirlockCore

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
