internal import CArchive
internal import CAirlockShims
internal import AirlockCore

/// zstd's frame magic (little-endian 0xFD2FB528) and its skippable-frame range
/// (0x184D2A50...0x184D2A5F): a `.zstd` entry whose plain bytes start with either cannot be read
/// back, because libarchive would peel a second zstd layer off the decoded bytes.
enum ZstdMagic {
    static func starts(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        let word = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        return word == 0xFD2F_B528 || (word & 0xFFFF_FFF0) == 0x184D_2A50
    }

    static let levels = 1...19
}

/// Writes one zstd frame of a byte stream to a file descriptor, through libarchive (the "raw"
/// format, which adds nothing, under the zstd filter; no padding after the frame).
final class ZstdEncoder {
    private let archive: ArchivePointer
    private let sink: FileSink
    private var finished = false

    init(level: Int, fileDescriptor fd: Int32, bufferSize: Int) throws(AirlockError) {
        guard ZstdMagic.levels.contains(level) else {
            throw AirlockError(.invalidInput, "zstd level \(level) is outside \(ZstdMagic.levels)")
        }
        archive = try ArchivePointer(.write)
        sink = FileSink(fileDescriptor: fd, bufferSize: bufferSize)
        let raw = archive.raw
        try withUTF8Locale { () throws(AirlockError) in
            try archive.check(archive_write_set_format_raw(raw), "libarchive cannot write the raw format")
            try archive.check(archive_write_add_filter_zstd(raw), "libarchive cannot write zstd")
            try archive.check(
                archive_write_set_filter_option(raw, "zstd", "compression-level", String(level)),
                "libarchive refused zstd level \(level)")
            try archive.check(archive_write_set_bytes_per_block(raw, 0), "cannot set the block size")
            try archive.check(archive_write_set_bytes_in_last_block(raw, 1), "cannot turn off padding")
            try archive.open(writingTo: sink)
            guard let entry = archive_entry_new() else { throw AirlockError(.archive, "cannot allocate an entry") }
            defer { archive_entry_free(entry) }
            archive_entry_set_pathname(entry, "data")
            archive_entry_set_filetype(entry, CAirlockShims_AE_IFREG())
            archive_entry_set_perm(entry, 0o644)
            try archive.check(archive_write_header(raw, entry), "cannot start a zstd stream")
        }
    }

    deinit {
        if !finished { sink.abandon() }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(AirlockError) {
        guard !bytes.isEmpty else { return }
        let wrote = archive_write_data(archive.raw, bytes.baseAddress, bytes.count)
        guard try archive.check(wrote, "zstd compression failed") == bytes.count else {
            throw archive.failure("zstd compression took \(wrote) of \(bytes.count) bytes")
        }
    }

    /// Ends the frame and flushes; returns the compressed size.
    func finish() throws(AirlockError) -> Int64 {
        finished = true
        try archive.check(archive_write_close(archive.raw), "cannot finish the zstd stream")
        archive.markClosed()
        return sink.count
    }
}

/// Decodes the current entry of a bundle reader, which must be one zstd frame, as a stream: the
/// stored bytes are pulled from the outer archive (`archive_read_data_block`, no copy) only as
/// libarchive's zstd filter asks for them, so memory stays flat (zstd's window, at most 8 MiB at
/// the levels the writer allows and capped by libzstd at 128 MiB for any frame).
final class ZstdDecoder {
    private let archive: ArchivePointer
    private let source: EntrySource
    private let entryName: String

    /// Stored bytes handed to libarchive so far.
    var consumed: Int64 { source.consumed }

    init(outer: ArchivePointer, entryName: String) throws(AirlockError) {
        self.entryName = entryName
        source = EntrySource(outer: outer, entryName: entryName)
        archive = try ArchivePointer(.read)
        let raw = archive.raw
        archive.attach(source)
        try archive.check(archive_read_support_filter_zstd(raw), "libarchive cannot read zstd")
        try archive.check(archive_read_support_format_raw(raw), "libarchive cannot read the raw format")
        let opened = archive_read_open(
            raw, Unmanaged.passUnretained(source).toOpaque(), nil,
            { _, client, buffer in
                guard let client, let buffer else { return -1 }
                return Unmanaged<EntrySource>.fromOpaque(client).takeUnretainedValue().pull(buffer)
            }, nil)
        try archive.check(opened, "entry '\(entryName)' is not a valid zstd stream")
        var entry: OpaquePointer?
        try archive.check(archive_read_next_header(raw, &entry), "entry '\(entryName)' is not a valid zstd stream")
        // Exactly one zstd layer over libarchive's own pass-through: libarchive bids filters
        // again on decoded bytes, and a second layer would decode what is not ours to decode.
        guard archive_filter_count(raw) == 2, archive_filter_code(raw, 0) == ARCHIVE_FILTER_ZSTD else {
            throw AirlockError(
                .archive,
                "entry '\(entryName)' is not a single zstd stream (libarchive sees \(archive_filter_count(raw) - 1) compression layers)")
        }
    }

    /// Decodes into `buffer`; 0 at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(AirlockError) -> Int {
        let got = archive_read_data(archive.raw, buffer.baseAddress, buffer.count)
        return try archive.check(got, "cannot decode zstd entry '\(entryName)'")
    }
}

/// The decoder's input: the outer archive's current entry, block by block.
final class EntrySource: ArchiveIO {
    private let outer: ArchivePointer
    private let entryName: String
    private(set) var consumed: Int64 = 0
    var failure: AirlockError?

    init(outer: ArchivePointer, entryName: String) {
        self.outer = outer
        self.entryName = entryName
    }

    /// libarchive's read callback: the next block of the outer entry's stored bytes.
    func pull(_ buffer: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        var block: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        let result = archive_read_data_block(outer.raw, &block, &size, &offset)
        if result == ARCHIVE_EOF { return 0 }
        guard result == ARCHIVE_OK else {
            failure = outer.failure("cannot read entry '\(entryName)'")
            return -1
        }
        guard offset == consumed else {
            failure = AirlockError(.archive, "entry '\(entryName)' has a hole at offset \(consumed)")
            return -1
        }
        consumed += Int64(size)
        buffer.pointee = block
        return size
    }
}
