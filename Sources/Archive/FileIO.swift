internal import CArchive
internal import AirlockCore

/// Thin POSIX helpers: whole reads and writes that retry on `EINTR` and short counts.
enum POSIXIO {
    /// Reads until `buffer` is full or the end of the input; returns the count (0: end).
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        var filled = 0
        while filled < buffer.count {
            let got = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if got < 0 {
                if errno == EINTR { continue }
                return .failure(Errno(errno))
            }
            if got == 0 { break }
            filled += got
        }
        return .success(filled)
    }

    /// Writes all of `bytes`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Errno? {
        var done = 0
        while done < bytes.count {
            let wrote = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if wrote < 0 {
                if errno == EINTR { continue }
                return Errno(errno)
            }
            done += wrote
        }
        return nil
    }
}

/// A file opened for reading that must be a regular file (symbolic links are followed: a
/// model folder may link into a download cache). Closed in `deinit`.
final class SourceFile {
    let fd: Int32
    let path: String
    let size: Int64

    init(_ path: String) throws(AirlockError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("cannot open '\(path)'", errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .system("cannot stat '\(path)'", errno: code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw AirlockError(.invalidInput, "'\(path)' is not a regular file")
        }
        self.fd = fd
        self.path = path
        self.size = Int64(info.st_size)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit { close(fd) }

    /// Fills `buffer` from the current position (0: end of file).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(AirlockError) -> Int {
        switch POSIXIO.readFully(fd, into: buffer) {
        case .success(let count): return count
        case .failure(let error): throw AirlockError(.system, "cannot read '\(path)'", cause: error)
        }
    }
}

/// An anonymous scratch file: made with `mkstemp` in a folder and unlinked at once, so nothing
/// is left behind whatever happens. Closed in `deinit`.
final class ScratchFile {
    let fd: Int32

    init(in folder: String) throws(AirlockError) {
        var template = Array((folder + "/.airlock-scratch-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .system("cannot make a scratch file in '\(folder)'", errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    deinit { close(fd) }

    func rewind() throws(AirlockError) {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw .system("cannot rewind a scratch file", errno: errno) }
    }
}

/// Where a libarchive writer's output goes: a file descriptor, through a coalescing buffer so
/// that libarchive's 10 KiB records reach `write(2)` in blocks of several MiB.
final class FileSink: ArchiveIO {
    let fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    /// Bytes handed to `write(2)` so far plus those still buffered.
    private(set) var count: Int64 = 0
    var failure: AirlockError?
    private var abandoned = false

    init(fileDescriptor fd: Int32, bufferSize: Int) {
        self.fd = fd
        buffer = .allocate(byteCount: bufferSize, alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// Stops all output for good: libarchive, freed without a successful close, still writes an
    /// end-of-archive marker and flushes, and that must not reach the descriptor (which may be
    /// closed, or even reused, by then).
    func abandon() { abandoned = true }

    /// Takes bytes from libarchive; false after a write failed (the failure is parked).
    func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !abandoned else { return false }
        guard failure == nil else { return false }
        count += Int64(bytes.count)
        if used == 0 && bytes.count >= buffer.count { return emit(bytes) }
        var rest = bytes
        while !rest.isEmpty {
            let take = min(rest.count, buffer.count - used)
            (buffer.baseAddress! + used).copyMemory(from: rest.baseAddress!, byteCount: take)
            used += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if used == buffer.count {
                guard flush() else { return false }
            }
        }
        return true
    }

    /// Writes out what is buffered.
    func flush() -> Bool {
        guard !abandoned else { return false }
        guard failure == nil else { return false }
        guard used > 0 else { return true }
        let ok = emit(UnsafeRawBufferPointer(start: buffer.baseAddress, count: used))
        used = 0
        return ok
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let error = POSIXIO.writeAll(fd, bytes) {
            failure = AirlockError(.archive, "cannot write the archive", cause: error)
            return false
        }
        return true
    }
}

extension ArchivePointer {
    /// Opens a write object onto `sink` (write callback: `append`; close callback: `flush`).
    func open(writingTo sink: FileSink) throws(AirlockError) {
        attach(sink)
        let result = archive_write_open(
            raw, Unmanaged.passUnretained(sink).toOpaque(), nil,
            { _, client, bytes, length in
                guard let client, let bytes else { return -1 }
                let sink = Unmanaged<FileSink>.fromOpaque(client).takeUnretainedValue()
                return sink.append(UnsafeRawBufferPointer(start: bytes, count: length)) ? length : -1
            },
            { _, client in
                guard let client else { return ARCHIVE_FATAL }
                return Unmanaged<FileSink>.fromOpaque(client).takeUnretainedValue().flush() ? ARCHIVE_OK : ARCHIVE_FATAL
            })
        try check(result, "cannot open the archive for writing")
    }
}
