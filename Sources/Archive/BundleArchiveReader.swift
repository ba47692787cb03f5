internal import CArchive
internal import CAirlockShims
public import AirlockCore

/// Reads a bundle (an uncompressed pax tar) once, as a stream, entry by entry, with flat memory,
/// and refuses anything a bundle must not contain at the point it sees it.
///
/// Refused, with an `.archive` error naming the entry and the problem:
/// - entries other than regular files and directories (links, devices, FIFOs, sockets, and every
///   tar vendor type), setuid/setgid/sticky bits, bad paths (see `BundlePath`; `./` is refused),
///   duplicate paths;
/// - a pax `size` that disagrees with the ustar size field, or 8 GiB without a pax size (the
///   rule is written out on `TarEntryHeaders`), pax records other than the plain ones, more than
///   one extended header per entry, an extended header over `Limits.maxExtendedHeaderBytes`,
///   more than `Limits.maxEntries` entries;
/// - a truncated bundle ("bundle is truncated"), one that is not a tar, one compressed as a whole,
///   a missing end-of-archive marker, and anything but zero bytes after it (at most
///   `Limits.maxTrailingBytes`);
/// - entry data larger (or smaller) than the caller expects, and zstd entries that decode to more
///   (or fewer) bytes than expected: decoding stops after expected + 1 bytes.
///
/// libarchive parses the tar; this type keeps the raw bytes of recent input blocks so that, for
/// every entry, it can parse the header blocks itself (`archive_read_header_position`) and
/// require that libarchive's view and its own agree.
///
/// A refusal is final: every later call throws it again. Not `Sendable`: one reader belongs to
/// one task. All libarchive calls run under a thread-local UTF-8 locale.
public final class BundleArchiveReader {
    public struct Limits: Sendable, Hashable {
        /// Most entries a bundle may have.
        public var maxEntries: Int
        /// Largest pax extended header (its records), in bytes.
        public var maxExtendedHeaderBytes: Int
        /// Most zero bytes allowed after the end-of-archive marker (tar writers pad to a record).
        public var maxTrailingBytes: Int
        /// Bytes per `read(2)` from the bundle; three such buffers are kept.
        public var blockSize: Int

        public init(
            maxEntries: Int = 100_000, maxExtendedHeaderBytes: Int = 64 * 1024,
            maxTrailingBytes: Int = 1 << 20, blockSize: Int = 4 << 20
        ) {
            self.maxEntries = maxEntries
            self.maxExtendedHeaderBytes = maxExtendedHeaderBytes
            self.maxTrailingBytes = maxTrailingBytes
            self.blockSize = blockSize
        }
    }

    public let limits: Limits
    private let archive: ArchivePointer
    private let input: RawInput
    private var ownedDescriptor: Int32?
    private var state: State = .ready
    private var current: Current?
    private var entryCount = 0
    /// Where the next entry's first header block must start: 0, then the end of each entry's
    /// padded data. libarchive's `archive_read_header_position` must agree, and after a failure
    /// (when libarchive reports only `ARCHIVE_FATAL` there) this is where the diagnosis looks.
    private var nextHeaderOffset: Int64 = 0
    private var seenPaths = Set<String>()
    private var scratch: UnsafeMutableRawBufferPointer?

    private enum State {
        case ready
        case finished
        case failed(AirlockError)
    }

    private struct Current {
        let header: EntryHeader
        /// Data bytes handed out so far.
        var consumed: Int64 = 0
        /// Offset of the entry's first data byte in the bundle.
        let dataStart: Int64
        var dataEnd: Int64 { dataStart + Int64(TarEntryHeaders.roundUp(Int(header.size))) }
    }

    /// Reads from `fileDescriptor` (not closed by the reader) from its current position.
    public init(fileDescriptor: Int32, limits: Limits = Limits()) throws(AirlockError) {
        guard limits.blockSize >= 2 * (limits.maxExtendedHeaderBytes + 1536), limits.blockSize >= 64 * 1024 else {
            throw AirlockError(.invalidInput, "reader block size \(limits.blockSize) is too small for its extended-header limit")
        }
        self.limits = limits
        input = RawInput(fileDescriptor: fileDescriptor, blockSize: limits.blockSize)
        archive = try ArchivePointer(.read)
        archive.attach(input)
        let raw = archive.raw
        let input = self.input
        try withUTF8Locale { () throws(AirlockError) in
            // The tar format only, and no filter at all: a bundle is never compressed as a whole.
            try archive.check(archive_read_support_format_tar(raw), "libarchive cannot read tar")
            let opened = archive_read_open(
                raw, Unmanaged.passUnretained(input).toOpaque(), nil,
                { _, client, buffer in
                    guard let client, let buffer else { return -1 }
                    return Unmanaged<RawInput>.fromOpaque(client).takeUnretainedValue().fill(buffer)
                }, nil)
            // libarchive reads the first block and bids on the format here already.
            guard opened == ARCHIVE_OK else {
                throw diagnoseHeaderFailure(at: 0, previous: nil, libarchive: archive.failure("cannot open the bundle"))
            }
        }
    }

    /// Opens and reads the bundle at `path` (closed when the reader goes).
    public convenience init(path: String, limits: Limits = Limits()) throws(AirlockError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("cannot open bundle '\(path)'", errno: errno) }
        do throws(AirlockError) {
            try self.init(fileDescriptor: fd, limits: limits)
        } catch {
            close(fd)
            throw error
        }
        ownedDescriptor = fd
    }

    deinit {
        scratch?.deallocate()
        if let ownedDescriptor { close(ownedDescriptor) }
    }

    // MARK: Entries

    /// The next entry's header, checked; nil after the end-of-archive marker (and the checks on
    /// what follows it). Unread data of the previous entry is read through and dropped.
    public func next() throws(AirlockError) -> EntryHeader? {
        try guarded { () throws(AirlockError) -> EntryHeader? in
            if case .finished = state { return nil }
            let previous = current
            current = nil
            var entry: OpaquePointer?
            let result = archive_read_next_header(archive.raw, &entry)
            let position = nextHeaderOffset
            if result == ARCHIVE_OK || result == ARCHIVE_EOF {
                let theirs = archive_read_header_position(archive.raw)
                guard theirs == position else {
                    throw AirlockError(.archive, "libarchive places entry \(entryCount + 1) at offset \(theirs), the reader at \(position)")
                }
            }
            if result == ARCHIVE_EOF {
                try checkEnd(at: position, after: previous)
                state = .finished
                return nil
            }
            guard result == ARCHIVE_OK, let entry else {
                throw diagnoseHeaderFailure(at: position, previous: previous, libarchive: archive.failure("cannot read the next bundle entry"))
            }
            entryCount += 1
            guard entryCount <= limits.maxEntries else {
                throw AirlockError(.archive, kind: .overLimit, "bundle has more than \(limits.maxEntries) entries")
            }
            let header = try check(entry, at: position)
            current = header
            nextHeaderOffset = header.dataEnd
            return header.header
        }
    }

    /// Copies the current entry's next bytes into `buffer`; 0 at the end of the entry.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(AirlockError) -> Int {
        try guarded { () throws(AirlockError) -> Int in
            let entry = try requireEntry()
            let got = archive_read_data(archive.raw, buffer.baseAddress, buffer.count)
            guard got >= 0 else { throw diagnoseDataFailure(entry, archive.failure("cannot read entry '\(entry.header.path)'")) }
            current?.consumed += Int64(got)
            return got
        }
    }

    /// Hands the current entry's stored bytes (from where earlier reads stopped) to `body` in
    /// chunks of at most `maxChunk` bytes, without copying; ends at the entry's declared size.
    public func readChunks(
        maxChunk: Int = 4 << 20, _ body: (UnsafeRawBufferPointer) throws(AirlockError) -> Void
    ) throws(AirlockError) {
        try guarded { () throws(AirlockError) in
            let entry = try requireEntry()
            var consumed = entry.consumed
            defer { current?.consumed = consumed }
            while true {
                var block: UnsafeRawPointer?
                var size = 0
                var offset: Int64 = 0
                let result = archive_read_data_block(archive.raw, &block, &size, &offset)
                if result == ARCHIVE_EOF { break }
                guard result == ARCHIVE_OK else {
                    throw diagnoseDataFailure(entry, archive.failure("cannot read entry '\(entry.header.path)'"))
                }
                guard offset == consumed else {
                    throw AirlockError(.archive, kind: .malformedArchive, "entry '\(entry.header.path)' has a hole at offset \(consumed)")
                }
                consumed += Int64(size)
                var rest = UnsafeRawBufferPointer(start: block, count: size)
                while !rest.isEmpty {
                    let take = min(rest.count, max(1, maxChunk))
                    try body(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                    rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                }
            }
            guard consumed == entry.header.size else {
                throw diagnoseDataFailure(
                    entry, AirlockError(.archive, "entry '\(entry.header.path)' ended after \(consumed) of \(entry.header.size) bytes"))
            }
        }
    }

    /// The current entry's bytes, for small entries held in memory (manifest, signatures):
    /// refused without reading when the entry is over `limit` bytes.
    public func readAll(limit: Int) throws(AirlockError) -> [UInt8] {
        let entry = try guarded { () throws(AirlockError) in try requireEntry() }
        guard entry.consumed == 0 else { throw fail(AirlockError(.archive, "entry '\(entry.header.path)' was already partly read")) }
        guard entry.header.size <= Int64(limit) else {
            throw fail(
                AirlockError(
                    .archive, kind: .overLimit,
                    "entry '\(entry.header.path)' is \(entry.header.size) bytes, over the limit of \(limit) for an entry held in memory"))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(entry.header.size))
        try readChunks { (chunk: UnsafeRawBufferPointer) throws(AirlockError) in bytes.append(contentsOf: chunk) }
        return bytes
    }

    /// Hands the current entry's plain bytes to `body`, checking them against the sizes the signed
    /// manifest declares: the stored size must be exactly `storedSize` (refused before any data is
    /// read otherwise), and a `.zstd` entry must decode to exactly `plainSize` bytes: decoding stops
    /// and refuses as soon as it has produced `plainSize + 1` bytes. For `.stored`, `plainSize` must
    /// equal `storedSize`.
    public func readDecoded(
        _ decoding: EntryDecoding, storedSize: Int64, plainSize: Int64, maxChunk: Int = 4 << 20,
        _ body: (UnsafeRawBufferPointer) throws(AirlockError) -> Void
    ) throws(AirlockError) {
        try guarded { () throws(AirlockError) in
            let entry = try requireEntry()
            let path = entry.header.path
            guard entry.consumed == 0 else { throw AirlockError(.archive, "entry '\(path)' was already partly read") }
            guard entry.header.kind == .file else { throw AirlockError(.archive, "entry '\(path)' is a directory, not a file") }
            if entry.header.size > storedSize {
                throw AirlockError(
                    .archive, kind: .sizeMismatch,
                    "entry '\(path)' is larger than expected: \(entry.header.size) bytes stored, \(storedSize) expected")
            }
            if entry.header.size < storedSize {
                throw AirlockError(
                    .archive, kind: .sizeMismatch,
                    "entry '\(path)' is smaller than expected: \(entry.header.size) bytes stored, \(storedSize) expected")
            }
            switch decoding {
            case .stored:
                guard plainSize == storedSize else {
                    throw AirlockError(
                        .archive, kind: .sizeMismatch,
                        "entry '\(path)' is stored, so its plain size \(plainSize) must equal its stored size \(storedSize)")
                }
                try readChunks(maxChunk: maxChunk, body)
            case .zstd:
                try decodeZstd(entry, plainSize: plainSize, maxChunk: maxChunk, body)
            }
        }
    }

    private func decodeZstd(
        _ entry: Current, plainSize: Int64, maxChunk: Int, _ body: (UnsafeRawBufferPointer) throws(AirlockError) -> Void
    ) throws(AirlockError) {
        let path = entry.header.path
        guard plainSize > 0 else {
            throw AirlockError(.archive, "entry '\(path)' is declared zstd with a plain size of 0 (empty files are stored)")
        }
        current?.consumed = entry.header.size  // the decoder takes the stored bytes from here on
        let buffer = scratchBuffer()
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<min(buffer.count, max(1, maxChunk))])
        var produced: Int64 = 0
        do throws(AirlockError) {
            let decoder = try ZstdDecoder(outer: archive, entryName: path)
            while true {
                // Never ask for more than one byte past what is expected.
                let want = Int(min(Int64(chunk.count), plainSize - produced + 1))
                let got = try decoder.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[..<want]))
                if got == 0 { break }
                produced += Int64(got)
                guard produced <= plainSize else {
                    throw AirlockError(
                        .archive, kind: .overLimit,
                        "entry '\(path)' decodes to more than the \(plainSize) bytes expected (refused as a decompression bomb after \(produced) bytes)"
                    )
                }
                try body(UnsafeRawBufferPointer(rebasing: chunk[..<got]))
            }
            guard produced == plainSize else {
                throw AirlockError(.archive, kind: .sizeMismatch, "entry '\(path)' decodes to \(produced) bytes, \(plainSize) expected")
            }
            guard decoder.consumed == entry.header.size else {
                throw AirlockError(
                    .archive, kind: .malformedArchive, "entry '\(path)' has \(entry.header.size - decoder.consumed) bytes after its zstd stream")
            }
        } catch {
            throw diagnoseDataFailure(entry, error)
        }
    }

    // MARK: Checks

    /// Both views of the entry (ours from the raw blocks, libarchive's) must pass and agree.
    private func check(_ entry: OpaquePointer, at position: Int64) throws(AirlockError) -> Current {
        let outcome = try TarEntryHeaders.parse(at: position, maxExtendedHeader: limits.maxExtendedHeaderBytes) { offset, count in
            input.bytes(at: offset, count: count)
        }
        guard case .entry(let raw) = outcome else {
            // libarchive read these bytes a moment ago; they must still be in the kept blocks.
            throw AirlockError(.archive, "bundle header at offset \(position) is no longer in the reader's buffers")
        }
        let isDirectory = raw.typeflag == UInt8(ascii: "5")
        var pathBytes = raw.pathBytes
        if isDirectory && pathBytes.count > 1 && pathBytes.last == UInt8(ascii: "/") { pathBytes.removeLast() }
        if let problem = BundlePath.problem(pathBytes) {
            throw AirlockError(.archive, kind: .unsafeEntry, "bundle entry '\(BundlePath.printable(raw.pathBytes))': \(problem)")
        }
        let path = String(decoding: pathBytes, as: UTF8.self)

        // libarchive's view.
        var theirs = archive_entry_pathname_utf8(entry).map { String(cString: $0) } ?? ""
        if isDirectory && theirs.count > 1 && theirs.hasSuffix("/") { theirs.removeLast() }
        guard theirs == path else {
            throw AirlockError(
                .archive, kind: .unsafeEntry, "bundle entry '\(path)': libarchive reads its name as '\(BundlePath.printable(Array(theirs.utf8)))'")
        }
        let type = archive_entry_filetype(entry)
        let expectedType = isDirectory ? CAirlockShims_AE_IFDIR() : CAirlockShims_AE_IFREG()
        guard type == expectedType, archive_entry_hardlink(entry) == nil, archive_entry_symlink(entry) == nil else {
            throw AirlockError(
                .archive, kind: .unsafeEntry,
                "bundle entry '\(path)' is \(Self.describe(type)) to libarchive: only regular files and directories are allowed")
        }
        guard archive_entry_mode(entry) & 0o7000 == 0 else {
            throw AirlockError(.archive, kind: .unsafeEntry, "bundle entry '\(path)' has setuid, setgid or sticky bits")
        }
        guard archive_entry_size_is_set(entry) != 0 || raw.size == 0, archive_entry_size(entry) == raw.size else {
            throw AirlockError(
                .archive, kind: .malformedArchive,
                "bundle entry '\(path)': libarchive reads its size as \(archive_entry_size(entry)), the headers say \(raw.size)")
        }
        guard seenPaths.insert(path).inserted else {
            throw AirlockError(.archive, kind: .duplicateEntry, "bundle entry '\(path)' appears twice")
        }
        let header = EntryHeader(path: path, kind: isDirectory ? .directory : .file, size: raw.size, permissions: raw.permissions)
        return Current(header: header, dataStart: position + Int64(raw.length))
    }

    /// At libarchive's end of archive: two zero blocks at `position`, then only zero bytes, at most
    /// `maxTrailingBytes`, to the end of the input.
    private func checkEnd(at position: Int64, after previous: Current?) throws(AirlockError) {
        let markerEnd = position + 1024
        guard input.ensure(upTo: markerEnd), let marker = input.bytes(at: position, count: 1024) else {
            if input.atEnd && input.position < markerEnd {
                let after = previous.map { " after entry '\($0.header.path)'" } ?? ""
                throw AirlockError(.archive, kind: .truncated, "bundle is truncated: it ends\(after) without the end-of-archive marker")
            }
            throw AirlockError(.archive, "the end-of-archive marker at offset \(position) is no longer in the reader's buffers")
        }
        guard marker.allSatisfy({ $0 == 0 }) else {
            throw AirlockError(
                .archive, kind: .trailingData,
                "bundle has data after a zero block at offset \(position) (trailing data after the end-of-archive marker)")
        }
        if let offset = try input.firstNonZero(from: markerEnd, limit: Int64(limits.maxTrailingBytes)) {
            throw AirlockError(.archive, kind: .trailingData, "bundle has trailing data after the end-of-archive marker (offset \(offset))")
        }
    }

    /// After libarchive failed on a header: truncated, compressed, not a tar, or a bad header.
    private func diagnoseHeaderFailure(at position: Int64, previous: Current?, libarchive: AirlockError) -> AirlockError {
        if let parked = input.failure { return parked }
        if let previous, input.atEnd, input.position < previous.dataEnd {
            return AirlockError(
                .archive, kind: .truncated,
                "bundle is truncated: entry '\(previous.header.path)' needs \(previous.header.size) bytes and the bundle ends \(previous.dataEnd - input.position) bytes short",
                cause: libarchive.cause)
        }
        // A file that is simply not a bundle (a text file, a zip, a truncated download) is named
        // as that, without the archive library's words for it.
        let notATar = AirlockError(
            .archive, kind: .notABundle, "not an Airlock bundle (a bundle is the signed .airlock file 'airlock-pack build' writes)")
        if entryCount == 0, position == 0 {
            // No tar header at all (no "ustar" magic where every bundle has it): not a bundle,
            // whatever libarchive thinks of it. A tar with a bad first header keeps its reason.
            _ = input.ensure(upTo: 262)
            if input.atEnd, input.position == 0 {
                return AirlockError(.archive, kind: .truncated, "the file is empty: not an Airlock bundle (an interrupted copy?)")
            }
            if input.bytes(at: 257, count: 5) != Array("ustar".utf8) { return notATar }
        }
        do throws(AirlockError) {
            let outcome = try TarEntryHeaders.parse(at: position, maxExtendedHeader: limits.maxExtendedHeaderBytes) { offset, count in
                _ = input.ensure(upTo: offset + Int64(count))
                return input.bytes(at: offset, count: count)
            }
            if case .needBytes(let end) = outcome, input.atEnd, input.position < end {
                return AirlockError(
                    .archive, kind: .truncated, "bundle is truncated: the header at offset \(position) is cut off", cause: libarchive.cause)
            }
        } catch {
            // Our own reason for refusing the header is more precise than libarchive's.
            return entryCount == 0 ? AirlockError(.archive, kind: .notABundle, notATar.message, cause: error) : error
        }
        return entryCount == 0 ? notATar : libarchive
    }

    /// After a data read failed: "bundle is truncated" when the input ended inside the entry.
    private func diagnoseDataFailure(_ entry: Current, _ error: AirlockError) -> AirlockError {
        if input.atEnd && input.position < entry.dataStart + entry.header.size {
            return AirlockError(
                .archive, kind: .truncated,
                "bundle is truncated: entry '\(entry.header.path)' needs \(entry.header.size) bytes and the bundle ends \(entry.dataStart + entry.header.size - input.position) bytes short",
                cause: error.cause)
        }
        return error
    }

    private static func describe(_ type: UInt32) -> String {
        switch type {
        case CAirlockShims_AE_IFREG(): "a regular file"
        case CAirlockShims_AE_IFDIR(): "a directory"
        case CAirlockShims_AE_IFLNK(): "a symbolic link"
        case CAirlockShims_AE_IFCHR(): "a character device"
        case CAirlockShims_AE_IFBLK(): "a block device"
        case CAirlockShims_AE_IFIFO(): "a FIFO"
        case CAirlockShims_AE_IFSOCK(): "a socket"
        default: "of unknown type \(String(type, radix: 8))"
        }
    }

    // MARK: State

    private func requireEntry() throws(AirlockError) -> Current {
        guard let current else { throw AirlockError(.archive, "no current entry: call next() first") }
        return current
    }

    /// Runs `body` under the UTF-8 locale; a refusal makes the reader failed for good.
    private func guarded<T>(_ body: () throws(AirlockError) -> T) throws(AirlockError) -> T {
        if case .failed(let error) = state { throw error }
        do throws(AirlockError) {
            return try withUTF8Locale(body)
        } catch {
            throw fail(error)
        }
    }

    private func fail(_ error: AirlockError) -> AirlockError {
        state = .failed(error)
        return error
    }

    private func scratchBuffer() -> UnsafeMutableRawBufferPointer {
        if let scratch { return scratch }
        let made = UnsafeMutableRawBufferPointer.allocate(byteCount: limits.blockSize, alignment: 4096)
        scratch = made
        return made
    }
}

/// The bundle's bytes as libarchive asks for them: whole blocks read from the descriptor into one
/// of three buffers in turn. libarchive uses only the newest; the two before it stay readable, so
/// the header blocks of the entry libarchive just parsed (at most an extended header plus two
/// blocks, far less than a block) can be read again raw.
final class RawInput: ArchiveIO {
    private let fd: Int32
    private let blockSize: Int
    private var slots: [UnsafeMutableRawBufferPointer]
    private var slotStart: [Int64] = [0, 0, 0]
    private var slotLength: [Int] = [0, 0, 0]
    private var newest = -1
    private var filled = 0
    /// Bytes read from the descriptor so far: the offset of the next block.
    private(set) var position: Int64 = 0
    private(set) var atEnd = false
    var failure: AirlockError?

    init(fileDescriptor: Int32, blockSize: Int) {
        fd = fileDescriptor
        self.blockSize = blockSize
        slots = (0..<3).map { _ in .allocate(byteCount: blockSize, alignment: 4096) }
    }

    deinit { slots.forEach { $0.deallocate() } }

    /// libarchive's read callback: the next block (0: end of input, -1: failure parked).
    func fill(_ buffer: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        if atEnd { return 0 }  // keep the kept blocks: libarchive may ask again at the end
        guard readBlock() else { return -1 }
        buffer.pointee = UnsafeRawPointer(slots[newest].baseAddress)
        return slotLength[newest]
    }

    private func readBlock() -> Bool {
        guard failure == nil else { return false }
        let slot = (newest + 1) % 3
        switch POSIXIO.readFully(fd, into: slots[slot]) {
        case .failure(let error):
            failure = AirlockError(.archive, "cannot read the bundle", cause: error)
            return false
        case .success(let count):
            newest = slot
            filled = min(filled + 1, 3)
            slotStart[slot] = position
            slotLength[slot] = count
            if count < blockSize { atEnd = true }
            if position == 0, let kind = Self.wholeArchiveCompression(UnsafeRawBufferPointer(rebasing: slots[slot][..<count])) {
                failure = AirlockError(
                    .archive, kind: .notABundle, "bundle is compressed as a whole (\(kind)): only an uncompressed pax tar is accepted")
                return false
            }
            position += Int64(count)
            return true
        }
    }

    /// Reads more blocks (only once libarchive is done with the current one) until `end` is
    /// covered or the input ends; false if not covered.
    func ensure(upTo end: Int64) -> Bool {
        while position < end && !atEnd && failure == nil {
            guard readBlock() else { return false }
        }
        return position >= end
    }

    /// A copy of `count` bytes at `offset`, or nil if they are not all in the kept blocks.
    func bytes(at offset: Int64, count: Int) -> [UInt8]? {
        guard count >= 0, offset >= 0, offset + Int64(count) <= position else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var at = offset
        let end = offset + Int64(count)
        while at < end {
            guard let slot = (0..<3).first(where: { isKept($0) && slotStart[$0] <= at && at < slotStart[$0] + Int64(slotLength[$0]) }) else {
                return nil
            }
            let from = Int(at - slotStart[slot])
            let take = Int(min(end - at, Int64(slotLength[slot] - from)))
            result.append(contentsOf: UnsafeRawBufferPointer(rebasing: slots[slot][from..<(from + take)]))
            at += Int64(take)
        }
        return result
    }

    /// The offset of the first non-zero byte from `offset` to the end of the input, or nil if all
    /// are zero; throws when more than `limit` bytes follow `offset`.
    func firstNonZero(from offset: Int64, limit: Int64) throws(AirlockError) -> Int64? {
        var at = offset
        while true {
            while at < position {
                guard let slot = (0..<3).first(where: { isKept($0) && slotStart[$0] <= at && at < slotStart[$0] + Int64(slotLength[$0]) }) else {
                    throw AirlockError(.archive, "the bytes after the end-of-archive marker are no longer in the reader's buffers")
                }
                let from = Int(at - slotStart[slot])
                let region = UnsafeRawBufferPointer(rebasing: slots[slot][from..<slotLength[slot]])
                if let index = region.firstIndex(where: { $0 != 0 }) { return at + Int64(index) }
                at += Int64(region.count)
            }
            guard position - offset <= limit else {
                throw AirlockError(.archive, kind: .trailingData, "bundle has more than \(limit) bytes after the end-of-archive marker")
            }
            if atEnd { return nil }
            guard readBlock() else { throw failure ?? AirlockError(.archive, "cannot read the bundle") }
        }
    }

    private func isKept(_ slot: Int) -> Bool {
        // The `filled` newest slots hold data; with fewer than three reads some are still empty.
        filled == 3 || (slot <= newest && slot > newest - filled)
    }

    /// The whole-file compression `bytes` starts with, if any (never for a valid tar header: a
    /// first entry may be named `BZh…`).
    static func wholeArchiveCompression(_ bytes: UnsafeRawBufferPointer) -> String? {
        if bytes.count >= 512 && TarEntryHeaders.checksumMatches(Array(bytes.prefix(512))) { return nil }
        let magics: [(String, [UInt8])] = [
            ("zstd", [0x28, 0xB5, 0x2F, 0xFD]), ("gzip", [0x1F, 0x8B]), ("xz", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]),
            ("bzip2", [0x42, 0x5A, 0x68]), ("lz4", [0x04, 0x22, 0x4D, 0x18]), ("lzip", [0x4C, 0x5A, 0x49, 0x50]),
            ("compress", [0x1F, 0x9D]),
        ]
        for (name, magic) in magics where bytes.count >= magic.count && bytes.prefix(magic.count).elementsEqual(magic) {
            return name
        }
        return nil
    }
}
