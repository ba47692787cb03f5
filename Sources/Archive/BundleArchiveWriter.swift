internal import CArchive
internal import CAirlockShims
public import AirlockCore

/// Writes a bundle: a pax tar (libarchive's `pax_restricted`), streamed to a file descriptor in
/// big blocks, memory flat whatever the file sizes.
///
/// Deterministic: entries in the order added; owner 0:0 with empty user and group names; mtime 0
/// and no atime, ctime or birthtime; directories 0755, files 0644 or 0755 (never setuid, setgid or
/// sticky); no xattrs, ACLs or flags; tar records of 10240 bytes, the last one padded with
/// zeros. The same inputs give byte-identical output.
///
/// A `.zstd` entry holds its file as one zstd frame: the file is compressed into an anonymous
/// scratch file first (a tar header needs the size up front), then copied in.
///
/// Any failure after an entry's header was written leaves the archive unusable: every later call
/// throws that failure, and the output is incomplete (the caller removes it). Not `Sendable`:
/// one writer belongs to one task.
public final class BundleArchiveWriter {
    public static let defaultBlockSize = 4 << 20

    /// Called with each block of a file's plain bytes as it is read, before it is written (hash
    /// here: these are exactly the bytes the reader gives back).
    public typealias Progress = (UnsafeRawBufferPointer) throws(AirlockError) -> Void

    private let archive: ArchivePointer
    /// Internal (not private) so tests can flush a lone header: see `writeHeader`.
    let sink: FileSink
    private let temporaryDirectory: String?
    private let blockSize: Int
    private let block: UnsafeMutableRawBufferPointer
    private var ownedDescriptor: Int32?
    private var state: State = .open
    private var paths = Set<String>()
    /// Every entry written so far, in order.
    public private(set) var entries: [WrittenEntry] = []

    private enum State {
        case open
        case finished
        case failed(AirlockError)
    }

    /// Writes to `fileDescriptor` (not closed by the writer). `.zstd` entries need
    /// `temporaryDirectory` for their scratch files.
    public convenience init(
        fileDescriptor: Int32, temporaryDirectory: String? = nil, blockSize: Int = defaultBlockSize
    ) throws(AirlockError) {
        try self.init(fileDescriptor: fileDescriptor, temporaryDirectory: temporaryDirectory, blockSize: blockSize, recordSize: 10240)
    }

    /// `recordSize`: libarchive's output blocking (tar's 10240-byte records; 0, only for tests
    /// that look at a lone header, passes each write straight through without padding).
    init(fileDescriptor: Int32, temporaryDirectory: String?, blockSize: Int, recordSize: Int32) throws(AirlockError) {
        guard blockSize >= 64 * 1024 else { throw AirlockError(.invalidInput, "writer block size \(blockSize) is under 64 KiB") }
        self.temporaryDirectory = temporaryDirectory
        self.blockSize = blockSize
        archive = try ArchivePointer(.write)
        sink = FileSink(fileDescriptor: fileDescriptor, bufferSize: blockSize)
        block = .allocate(byteCount: blockSize, alignment: 4096)
        let raw = archive.raw
        try withUTF8Locale { () throws(AirlockError) in
            try archive.check(archive_write_set_format_pax_restricted(raw), "libarchive cannot write pax tar")
            try archive.check(archive_write_set_bytes_per_block(raw, recordSize), "cannot set the tar record size")
            try archive.check(archive_write_set_bytes_in_last_block(raw, max(recordSize, 1)), "cannot set the last record's padding")
            try archive.open(writingTo: sink)
        }
    }

    /// Creates `path` (refusing to replace an existing file) and writes to it; `finish()` syncs
    /// and closes it. Scratch files go to `temporaryDirectory`, by default the output's folder.
    public convenience init(
        path: String, temporaryDirectory: String? = nil, blockSize: Int = defaultBlockSize
    ) throws(AirlockError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system("cannot create bundle '\(path)'", errno: errno) }
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        do throws(AirlockError) {
            try self.init(fileDescriptor: fd, temporaryDirectory: temporaryDirectory ?? folder, blockSize: blockSize, recordSize: 10240)
        } catch {
            close(fd)
            throw error
        }
        ownedDescriptor = fd
    }

    deinit {
        block.deallocate()
        if case .finished = state {} else { sink.abandon() }
        if let ownedDescriptor { close(ownedDescriptor) }
    }

    // MARK: Entries

    /// A small entry from memory (manifest, signatures).
    @discardableResult
    public func addData(path: String, bytes: [UInt8], executable: Bool = false) throws(AirlockError) -> WrittenEntry {
        try guarded { () throws(AirlockError) in
            try claim(path)
            try writeHeader(path: path, kind: .file, size: Int64(bytes.count), executable: executable)
            let failure = bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> AirlockError? in
                do throws(AirlockError) { try writeData(buffer) } catch { return error }
                return nil
            }
            if let failure { throw failure }
            return record(
                WrittenEntry(
                    path: path, kind: .file, encoding: .stored, executable: executable,
                    storedSize: Int64(bytes.count), plainSize: Int64(bytes.count)))
        }
    }

    /// A directory entry (mode 0755).
    @discardableResult
    public func addDirectory(path: String) throws(AirlockError) -> WrittenEntry {
        try guarded { () throws(AirlockError) in
            try claim(path)
            try writeHeader(path: path, kind: .directory, size: 0, executable: true)
            return record(WrittenEntry(path: path, kind: .directory, encoding: .stored, executable: true, storedSize: 0, plainSize: 0))
        }
    }

    /// The file at `sourcePath` (a regular file; links are followed), read once in blocks of
    /// `blockSize` bytes, each handed to `progress` as read. With `.zstd`, the entry holds one
    /// zstd frame of the file; an empty file is always stored. The file must not change while it
    /// is read (its size is checked before and after).
    @discardableResult
    public func addFile(
        path: String, from sourcePath: String, executable: Bool = false, encoding: EntryEncoding = .stored,
        progress: Progress = { _ in }
    ) throws(AirlockError) -> WrittenEntry {
        try guarded { () throws(AirlockError) in
            try BundlePath.validate(path)
            if case .zstd(let level) = encoding, !ZstdMagic.levels.contains(level) {
                throw AirlockError(.invalidInput, "zstd level \(level) is outside \(ZstdMagic.levels)")
            }
            guard !paths.contains(path) else { throw AirlockError(.archive, "entry '\(path)' is added twice") }
            let source = try SourceFile(sourcePath)
            let written: WrittenEntry
            switch encoding {
            case .zstd(let level) where source.size > 0:
                written = try addCompressed(path: path, source: source, level: level, executable: executable, progress: progress)
            case .stored, .zstd:
                written = try addStored(path: path, source: source, executable: executable, progress: progress)
            }
            try claim(path)
            return record(written)
        }
    }

    /// The reader's current entry, copied byte for byte as it is stored (a zstd frame stays the
    /// same frame): how a co-signature is added without re-encoding the payload.
    @discardableResult
    public func copyEntry(from reader: BundleArchiveReader, header: EntryHeader) throws(AirlockError) -> WrittenEntry {
        try guarded { () throws(AirlockError) in
            guard header.kind == .file else { throw AirlockError(.archive, "only files are copied; '\(header.path)' is a directory") }
            try claim(header.path)
            try writeHeader(path: header.path, kind: .file, size: header.size, executable: header.isExecutable)
            try reader.readChunks(maxChunk: blockSize) { (chunk: UnsafeRawBufferPointer) throws(AirlockError) in try writeData(chunk) }
            return record(
                WrittenEntry(
                    path: header.path, kind: .file, encoding: .stored, executable: header.isExecutable,
                    storedSize: header.size, plainSize: header.size))
        }
    }

    /// Ends the archive (end-of-archive marker, padding) and flushes it; for a writer made with a
    /// path, syncs and closes the file. Returns every entry written.
    @discardableResult
    public func finish() throws(AirlockError) -> [WrittenEntry] {
        try guarded { () throws(AirlockError) in
            headerWritten = true  // a failed close leaves libarchive unusable
            try archive.check(archive_write_close(archive.raw), "cannot finish the bundle")
            archive.markClosed()
            if let fd = ownedDescriptor {
                ownedDescriptor = nil
                let synced = fsync(fd) == 0 ? 0 : errno
                let closed = close(fd) == 0 ? 0 : errno
                if synced != 0 { throw .system("cannot sync the bundle", errno: synced) }
                if closed != 0 { throw .system("cannot close the bundle", errno: closed) }
            }
            state = .finished
            return entries
        }
    }

    /// Bytes of archive produced so far.
    public var bytesWritten: Int64 { sink.count }

    // MARK: Internals

    private func addStored(
        path: String, source: SourceFile, executable: Bool, progress: Progress
    ) throws(AirlockError) -> WrittenEntry {
        try writeHeader(path: path, kind: .file, size: source.size, executable: executable)
        var total: Int64 = 0
        while true {
            let got = try source.read(into: block)
            if got == 0 { break }
            total += Int64(got)
            guard total <= source.size else { throw changed(source, total) }
            let chunk = UnsafeRawBufferPointer(rebasing: block[..<got])
            try progress(chunk)
            try writeData(chunk)
        }
        guard total == source.size else { throw changed(source, total) }
        return WrittenEntry(
            path: path, kind: .file, encoding: .stored, executable: executable, storedSize: total, plainSize: total)
    }

    private func addCompressed(
        path: String, source: SourceFile, level: Int, executable: Bool, progress: Progress
    ) throws(AirlockError) -> WrittenEntry {
        guard let folder = temporaryDirectory else {
            throw AirlockError(.invalidInput, "zstd entry '\(path)' needs a temporary directory for its scratch file")
        }
        // Compress into the scratch file: nothing reaches the archive yet, so a failure here
        // leaves the writer usable.
        let scratch = try ScratchFile(in: folder)
        let encoder = try ZstdEncoder(level: level, fileDescriptor: scratch.fd, bufferSize: blockSize)
        var plain: Int64 = 0
        while true {
            let got = try source.read(into: block)
            if got == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: block[..<got])
            if plain == 0 && ZstdMagic.starts(chunk) {
                throw AirlockError(.invalidInput, "'\(source.path)' is itself zstd data: store it (.stored) rather than compress it again")
            }
            plain += Int64(got)
            guard plain <= source.size else { throw changed(source, plain) }
            try progress(chunk)
            try encoder.write(chunk)
        }
        guard plain == source.size else { throw changed(source, plain) }
        let stored = try encoder.finish()
        try scratch.rewind()

        try writeHeader(path: path, kind: .file, size: stored, executable: executable)
        var copied: Int64 = 0
        while true {
            let got: Int
            switch POSIXIO.readFully(scratch.fd, into: block) {
            case .success(let count): got = count
            case .failure(let error): throw AirlockError(.system, "cannot read the scratch file of '\(path)'", cause: error)
            }
            if got == 0 { break }
            copied += Int64(got)
            try writeData(UnsafeRawBufferPointer(rebasing: block[..<got]))
        }
        guard copied == stored else {
            throw AirlockError(.archive, "the scratch file of '\(path)' holds \(copied) bytes, \(stored) were written")
        }
        return WrittenEntry(
            path: path, kind: .file, encoding: .zstd(level: level), executable: executable, storedSize: stored, plainSize: plain)
    }

    private func changed(_ source: SourceFile, _ seen: Int64) -> AirlockError {
        AirlockError(.archive, "'\(source.path)' changed while being read: \(source.size) bytes at the start, \(seen) read")
    }

    /// Validates a path and reserves it (entries are unique).
    private func claim(_ path: String) throws(AirlockError) {
        try BundlePath.validate(path)
        guard paths.insert(path).inserted else { throw AirlockError(.archive, "entry '\(path)' is added twice") }
    }

    private func record(_ entry: WrittenEntry) -> WrittenEntry {
        entries.append(entry)
        return entry
    }

    /// Writes an entry's header. Internal (not private) so tests can look at the header bytes
    /// libarchive writes for sizes too big to write out (9 GiB, 65 GiB): a writer with
    /// `recordSize` 0, the header, `sink.flush()`, then drop the writer, which abandons the entry
    /// without padding it.
    func writeHeader(path: String, kind: EntryKind, size: Int64, executable: Bool) throws(AirlockError) {
        guard let entry = archive_entry_new() else { throw AirlockError(.archive, "cannot allocate an entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, path)
        archive_entry_set_filetype(entry, kind == .directory ? CAirlockShims_AE_IFDIR() : CAirlockShims_AE_IFREG())
        archive_entry_set_perm(entry, kind == .directory || executable ? 0o755 : 0o644)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, 0, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        headerWritten = true
        try archive.check(archive_write_header(archive.raw, entry), "cannot write the header of '\(path)'")
    }

    private func writeData(_ bytes: UnsafeRawBufferPointer) throws(AirlockError) {
        guard !bytes.isEmpty else { return }
        let wrote = archive_write_data(archive.raw, bytes.baseAddress, bytes.count)
        guard try archive.check(wrote, "cannot write entry data") == bytes.count else {
            throw archive.failure("libarchive took \(wrote) of \(bytes.count) bytes")
        }
    }

    /// Set once an entry's header went out: from then on a failure breaks the archive.
    private var headerWritten = false

    /// Runs `body` under the UTF-8 locale. A failure after a header was written fails the writer.
    private func guarded<T>(_ body: () throws(AirlockError) -> T) throws(AirlockError) -> T {
        switch state {
        case .failed(let error): throw error
        case .finished: throw AirlockError(.archive, "the bundle writer is already finished")
        case .open: break
        }
        headerWritten = false
        do throws(AirlockError) {
            return try withUTF8Locale(body)
        } catch {
            if headerWritten || sink.failure != nil { state = .failed(error) }
            throw error
        }
    }
}
