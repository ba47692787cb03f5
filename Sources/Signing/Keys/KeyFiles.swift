internal import AirlockCore

/// Reading and writing the small files keys and certificates live in, with POSIX calls so the
/// mode of a new file is right from the moment it exists.
enum KeyFiles {
    /// Key and certificate files are small; anything larger is not one.
    static let maximumSize = 1 << 20

    /// The whole content of a key or certificate file.
    static func contents(of path: String) throws(AirlockError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open \(path)", errno: errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("cannot read \(path)", errno: errno)
            }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
            guard bytes.count <= maximumSize else {
                throw AirlockError(.invalidInput, "\(path) is larger than \(maximumSize) bytes: not a key or certificate file")
            }
        }
    }

    /// Creates `path` with exactly `mode` (never wider, not even for a moment), writes `bytes`
    /// and flushes them to disk. Refuses a path that exists, a symbolic link included.
    static func create(_ path: String, mode: mode_t, bytes: [UInt8]) throws(AirlockError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST {
                throw AirlockError(.invalidInput, "\(path) already exists: refusing to overwrite it", cause: Errno(code))
            }
            throw .system("cannot create \(path)", errno: code)
        }
        var closed = false
        defer { if !closed { close(descriptor) } }
        // The umask can only have narrowed `mode`; set it exactly (0644 for a public key).
        guard fchmod(descriptor, mode) == 0 else { throw .system("cannot set the mode of \(path)", errno: errno) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("cannot write \(path)", errno: errno)
            }
            offset += count
        }
        guard fsync(descriptor) == 0 else { throw .system("cannot flush \(path) to disk", errno: errno) }
        closed = true
        guard close(descriptor) == 0 else { throw .system("cannot close \(path)", errno: errno) }
    }

    /// Flushes the folder holding `path`, so a file just created there survives a crash.
    static func syncFolder(of path: String) throws(AirlockError) {
        let folder: String
        if let slash = path.lastIndex(of: "/") {
            folder = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            folder = "."
        }
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("cannot open \(folder)", errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .system("cannot flush \(folder) to disk", errno: errno) }
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    static func remove(_ path: String) { _ = unlink(path) }
}
