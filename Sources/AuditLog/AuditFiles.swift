#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif
internal import AirlockCore
internal import Signing

/// The POSIX calls the log makes, each returning or throwing an `AirlockError` that names the file.
enum AuditFiles {
    /// The segment numbers present in `directory`, ascending (other names are ignored).
    static func segmentNumbers(in directory: String) throws(AirlockError) -> [Int] {
        guard let stream = opendir(directory) else {
            throw .system("cannot list the audit log folder \(directory)", errno: errno)
        }
        defer { closedir(stream) }
        var numbers: [Int] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let number = AuditLayout.segmentNumber(of: name) { numbers.append(number) }
        }
        return numbers.sorted()
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The whole file, or its first `limit` bytes.
    static func contents(of path: String, upTo limit: Int64? = nil) throws(AirlockError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open \(path)", errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot examine \(path)", errno: errno) }
        let size = min(Int64(status.st_size), limit ?? Int64.max)
        return try read(descriptor, at: 0, count: Int(size), path: path)
    }

    /// The size of the file at `path`.
    static func size(of path: String) throws(AirlockError) -> Int64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .system("cannot examine \(path)", errno: errno) }
        return Int64(status.st_size)
    }

    /// The log as it is at one instant: the segments and their sizes, and the latest
    /// checkpoint's bytes, noted under a shared flock of the writers' lock (when there is one),
    /// so a verify running beside a writer never sees half a flush. Segments only grow, so
    /// reading each up to its noted size later gives the same bytes.
    static func snapshot(of directory: String) throws(AirlockError) -> (segments: [(number: Int, size: Int64)], latest: [UInt8]?) {
        let lock = open(directory + "/" + AuditLayout.lockName, O_RDONLY | O_CLOEXEC)
        if lock >= 0 {
            while flock(lock, LOCK_SH) != 0 && errno == EINTR {}
        }
        defer {
            if lock >= 0 {
                flock(lock, LOCK_UN)
                close(lock)
            }
        }
        var segments: [(number: Int, size: Int64)] = []
        for number in try segmentNumbers(in: directory) {
            segments.append((number, try size(of: directory + "/" + AuditLayout.segmentName(number))))
        }
        let latestPath = directory + "/" + AuditLayout.latestCheckpointName
        return (segments, exists(latestPath) ? try contents(of: latestPath) : nil)
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
