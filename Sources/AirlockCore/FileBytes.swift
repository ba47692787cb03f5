#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Reading a whole small file (a policy, a spec, a key) with the reason when it cannot be read.
public enum FileBytes {
    /// The file's bytes, or nil when nothing exists at `path`. Refuses anything but a regular
    /// file and anything larger than `limit` bytes, naming the file.
    public static func readIfPresent(path: String, limit: Int) throws(AirlockError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw AirlockError.system("cannot read \(path)", errno: errno)
        }
        defer { close(descriptor) }
        return try read(descriptor: descriptor, path: path, limit: limit)
    }

    /// The bytes of the open file `descriptor` (read from where it stands), named `path` in
    /// errors: a regular file of at most `limit` bytes.
    public static func read(descriptor: Int32, path: String, limit: Int) throws(AirlockError) -> [UInt8] {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw AirlockError.system("cannot read \(path)", errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw AirlockError(.invalidInput, "\(path) is not a regular file")
        }
        guard status.st_size <= limit else {
            throw AirlockError(.invalidInput, "\(path) is \(status.st_size) bytes, more than the \(limit) this file may have")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw AirlockError.system("cannot read \(path)", errno: errno)
            }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
            guard bytes.count <= limit else {
                throw AirlockError(.invalidInput, "\(path) grew past the \(limit) bytes this file may have while it was read")
            }
        }
    }

    /// Writes all of `bytes` to `descriptor` (named `path` in errors), retrying short writes.
    public static func writeAll(descriptor: Int32, _ bytes: [UInt8], path: String) throws(AirlockError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw AirlockError.system("cannot write \(path)", errno: errno)
            }
            offset += written
        }
    }

    /// The file's bytes; a missing file is an error naming it.
    public static func read(path: String, limit: Int) throws(AirlockError) -> [UInt8] {
        guard let bytes = try readIfPresent(path: path, limit: limit) else {
            throw AirlockError.system("cannot read \(path)", errno: ENOENT)
        }
        return bytes
    }
}
