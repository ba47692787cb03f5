internal import AirlockCore
internal import Signing

/// The POSIX calls the log makes, each returning or throwing an `AirlockError` that names the file.
enum AuditFiles {
    /// The segment numbers present in `folder`, ascending (other names are ignored).
    static func segmentNumbers(in folder: FolderHandle) throws(AirlockError) -> [Int] {
        try folder.names().compactMap(AuditLayout.segmentNumber(of:)).sorted()
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The audit log folder at `directory`, opened for reading; a missing folder is an error
    /// saying nothing has been recorded there.
    static func folder(_ directory: String) throws(AirlockError) -> FolderHandle {
        do throws(AirlockError) {
            return try FolderHandle(directory)
        } catch {
            if (error.cause as? Errno)?.code == ENOENT {
                throw AirlockError(.invalidInput, "no audit log under \(directory): nothing has been recorded yet")
            }
            throw error
        }
    }

    /// The size of the segment `name`: it must be a plain file (`FolderHandle`'s checks).
    static func size(of name: String, in folder: FolderHandle) throws(AirlockError) -> Int64 {
        guard let size = try folder.plainFileSize(name) else {
            throw .system("cannot examine \(folder.path(of: name))", errno: ENOENT)
        }
        return size
    }

    /// The log as it is at one instant: the segments and their sizes, and the latest
    /// checkpoint's bytes, noted under a shared flock of the writers' lock (when there is one),
    /// so a verify running beside a writer never sees half a flush. Segments only grow, so
    /// reading each up to its noted size later gives the same bytes. Every name is checked as
    /// `FolderHandle` does: a link or FIFO planted at a segment's name is refused, not read.
    static func snapshot(of folder: FolderHandle) throws(AirlockError) -> (segments: [(number: Int, size: Int64)], latest: [UInt8]?) {
        let lock = try folder.openFile(AuditLayout.lockName, .read)
        if let lock {
            while flock(lock, LOCK_SH) != 0 && errno == EINTR {}
        }
        defer {
            if let lock {
                flock(lock, LOCK_UN)
                close(lock)
            }
        }
        var segments: [(number: Int, size: Int64)] = []
        for number in try segmentNumbers(in: folder) {
            segments.append((number, try size(of: AuditLayout.segmentName(number), in: folder)))
        }
        return (segments, try folder.contents(of: AuditLayout.latestCheckpointName, upTo: 1 << 20))
    }

    /// The time of the log's first record (the first line of its first segment), in
    /// milliseconds; nil when there is none or it cannot be read as a record.
    static func firstRecordTime(in folder: FolderHandle) throws(AirlockError) -> Int64? {
        guard let number = try segmentNumbers(in: folder).first else { return nil }
        let name = AuditLayout.segmentName(number)
        guard let descriptor = try folder.openFile(name, .read) else { return nil }
        defer { close(descriptor) }
        let bytes = try read(descriptor, at: 0, count: 65536, path: folder.path(of: name))
        guard let end = bytes.firstIndex(of: 0x0A), let record = try? AuditRecord(line: Array(bytes[..<end])) else { return nil }
        return AuditTime.parse(record.time)
    }

    /// `count` bytes at `offset` (fewer only at the end of the file).
    static func read(_ descriptor: Int32, at offset: Int64, count: Int, path: String) throws(AirlockError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .system("cannot read \(path)", errno: errno)
            }
            if got == 0 { break }
            done += got
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }

    /// Writes all of `bytes` (an O_APPEND descriptor: one write(2) unless the kernel takes less).
    static func write(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(AirlockError) {
        var done = 0
        while done < bytes.count {
            let wrote = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + done, bytes.count - done)
            }
            if wrote < 0 {
                if errno == EINTR { continue }
                throw .system("cannot write the audit log segment \(path)", errno: errno)
            }
            done += wrote
        }
    }

    static func size(_ descriptor: Int32, path: String) throws(AirlockError) -> Int64 {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot examine \(path)", errno: errno) }
        return Int64(status.st_size)
    }

    /// The last line of the first `size` bytes of a file: its offset and bytes, `\n` included
    /// when it has one. Reads backwards in 64 KiB steps until the line's start is found.
    static func lastLine(_ descriptor: Int32, size: Int64, path: String) throws(AirlockError) -> (start: Int64, bytes: [UInt8]) {
        precondition(size > 0)
        let final = try read(descriptor, at: size - 1, count: 1, path: path)
        // The newline ending the last line is not the one before it.
        var searchEnd = final.first == 0x0A ? size - 1 : size
        var start: Int64 = 0
        search: while searchEnd > 0 {
            let chunkStart = max(0, searchEnd - 65536)
            let chunk = try read(descriptor, at: chunkStart, count: Int(searchEnd - chunkStart), path: path)
            if let newline = chunk.lastIndex(of: 0x0A) {
                start = chunkStart + Int64(newline) + 1
                break search
            }
            searchEnd = chunkStart
        }
        return (start, try read(descriptor, at: start, count: Int(size - start), path: path))
    }

    static func hash(_ line: [UInt8]) throws(AirlockError) -> String { try hash(line[...]) }

    static func hash(_ line: ArraySlice<UInt8>) throws(AirlockError) -> String {
        let hasher = try SHA256Hasher()
        let failure: AirlockError? = line.withUnsafeBytes { raw in
            do throws(AirlockError) {
                try hasher.update(raw)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
        return try hasher.finalize().hex
    }
}
