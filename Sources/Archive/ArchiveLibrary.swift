internal import CArchive

/// What the linked libarchive is and whether it can do what bundles need (pax tar, zstd both
/// ways). `airlock doctor` reports it; a host without zstd support cannot read bundles.
public struct ArchiveLibrary: Sendable, Equatable {
    /// `libarchive 3.6.2 zlib/1.2.13 ... libzstd/1.5.4`.
    public let version: String
    /// libarchive can write zstd-compressed entries' stream.
    public let canWriteZstd: Bool
    /// libarchive can read zstd.
    public let canReadZstd: Bool
    /// libarchive can write pax-restricted tar.
    public let canWritePax: Bool

    public static var current: ArchiveLibrary {
        ArchiveLibrary(
            version: String(cString: archive_version_details()),
            canWriteZstd: probeWriter { archive_write_add_filter_zstd($0) },
            canReadZstd: probeReader { archive_read_support_filter_zstd($0) },
            canWritePax: probeWriter { archive_write_set_format_pax_restricted($0) }
        )
    }

    private static func probeWriter(_ body: (OpaquePointer) -> Int32) -> Bool {
        guard let archive = archive_write_new() else { return false }
        defer { archive_write_free(archive) }
        return body(archive) == ARCHIVE_OK
    }

    private static func probeReader(_ body: (OpaquePointer) -> Int32) -> Bool {
        guard let archive = archive_read_new() else { return false }
        defer { archive_read_free(archive) }
        return body(archive) == ARCHIVE_OK
    }
}
