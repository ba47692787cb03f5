#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// An exclusive `flock` on a lock file, held while a file beside it is read, changed and
/// rewritten (the trust policy, the clients file), so that concurrent commands run one after
/// another and none of their changes is lost. Locks belong to the open file description, so
/// two processes or two threads exclude each other. The lock file is opened without following
/// a link and must be a regular file.
public final class FileLock {
    private let descriptor: Int32

    public convenience init(path: String) throws(AirlockError) {
        guard let lock = try Self.acquire(path: path, wait: true) else { throw .system("cannot lock \(path)", errno: EWOULDBLOCK) }
        self.init(descriptor: lock)
    }

    private init(descriptor: Int32) { self.descriptor = descriptor }

    /// The lock if nobody holds it, nil at once if someone does (no waiting).
    public static func tryLock(path: String) throws(AirlockError) -> FileLock? {
        try acquire(path: path, wait: false).map { FileLock(descriptor: $0) }
    }

    /// The lock file's whole contents (what its holder wrote there, such as its pid).
    public func write(_ text: String) {
        _ = ftruncate(descriptor, 0)
        _ = try? FileBytes.writeAll(descriptor: descriptor, Array(text.utf8), path: "lock file")
    }

    /// What the holder of the lock at `path` wrote in it, if it can be read.
    public static func holder(path: String) -> String? {
        (try? FileBytes.readIfPresent(path: path, limit: 4096)).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) }
    }

    private static func acquire(path: String, wait: Bool) throws(AirlockError) -> Int32? {
        try AtomicFile.makeDirectories(AtomicFile.folder(of: path), mode: 0o755)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        guard descriptor >= 0 else {
            if errno == ELOOP {
                throw AirlockError(.refused, kind: .unsafeFile, "the lock file \(path) is a symbolic link: refused and left as it is")
            }
            throw .system("cannot open the lock file \(path)", errno: errno)
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_nlink == 1 else {
            close(descriptor)
            throw AirlockError(.refused, kind: .unsafeFile, "the lock file \(path) is not a plain file (a link, say): refused and left as it is")
        }
        while flock(descriptor, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK, !wait { return nil }
            throw .system("cannot lock \(path)", errno: code)
        }
        return descriptor
    }

    /// Unlocks (closing the descriptor releases the lock).
    public func release() { close(descriptor) }

    /// Runs `body` holding the lock at `path`.
    public static func holding<Result>(
        _ path: String, _ body: () throws(AirlockError) -> Result
    ) throws(AirlockError) -> Result {
        let lock = try FileLock(path: path)
        defer { lock.release() }
        return try body()
    }
}
