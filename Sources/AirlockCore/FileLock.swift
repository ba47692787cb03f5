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

    public init(path: String) throws(AirlockError) {
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
        while flock(descriptor, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let code = errno
            close(descriptor)
            throw .system("cannot lock \(path)", errno: code)
        }
        self.descriptor = descriptor
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
