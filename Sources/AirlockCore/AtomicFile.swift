#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Replacing a file so that a reader, or a crash, sees either the old or the new contents,
/// never a mixture: temporary file beside it, fsync, rename, fsync of the folder.
public enum AtomicFile {
    /// Replaces the file at `path` with `bytes` (`mode`).
    ///
    /// The temporary file (`temporaryPath`) is created exclusively, after removing whatever
    /// had its name, so nothing planted there (a link, a hard link) is ever written through;
    /// the rename replaces the name `path`, never what a link there pointed to. With `owner`,
    /// the new file gets that user and group before it takes the name.
    public static func write(
        _ bytes: [UInt8], to path: String, mode: UInt32, owner: (user: UInt32, group: UInt32)? = nil
    ) throws(AirlockError) {
        let folder = Self.folder(of: path)
        try makeDirectories(folder, mode: 0o755)
        let temporary = temporaryPath(for: path)
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        guard descriptor >= 0 else { throw AirlockError.system("cannot create \(temporary)", errno: errno) }
        var failure: AirlockError?
        do throws(AirlockError) {
            try FileBytes.writeAll(descriptor: descriptor, bytes, path: temporary)
        } catch {
            failure = error
        }
        if failure == nil, let owner, fchown(descriptor, owner.user, owner.group) != 0 {
            failure = .system("cannot give \(temporary) the owner \(owner.user):\(owner.group)", errno: errno)
        }
        if failure == nil, fchmod(descriptor, mode_t(mode)) != 0 { failure = .system("cannot set the mode of \(temporary)", errno: errno) }
        if failure == nil, fsync(descriptor) != 0 { failure = .system("cannot flush \(temporary)", errno: errno) }
        close(descriptor)
        if failure == nil, rename(temporary, path) != 0 { failure = .system("cannot replace \(path)", errno: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        try syncDirectory(folder)
    }

    /// The one name a temporary file or link beside `path` has while it is being written:
    /// `PATH.tmp-PID`, so that doctor and a crashed run's clean-up know it.
    public static func temporaryPath(for path: String) -> String { path + ".tmp-\(getpid())" }

    /// Whether a folder entry is such a temporary file (or a `.new-PID` link of older builds).
    public static func isTemporary(name: String) -> Bool { name.contains(".tmp-") || name.contains(".new-") }

    /// Renames a finished temporary file over `path` and flushes the folder, so the new file
    /// survives a crash; the temporary file is removed when the rename fails.
    public static func commit(_ temporary: String, to path: String) throws(AirlockError) {
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw AirlockError.system("cannot move \(temporary) to \(path)", errno: code)
        }
        try syncDirectory(folder(of: path))
    }

    /// `mkdir -p` with `mode` for the folders it creates.
    public static func makeDirectories(_ path: String, mode: UInt32) throws(AirlockError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode_t(mode)) != 0 && errno != EEXIST {
                throw AirlockError.system("cannot create the folder \(current)", errno: errno)
            }
        }
    }

    /// A new, empty folder `PARENT/PREFIX.XXXXXX` (`mkdtemp`: mode 0700, a random name no other
    /// user can have made first, so nothing planted in a shared /tmp is followed).
    public static func makeTemporaryFolder(in parent: String, prefix: String) throws(AirlockError) -> String {
        var template = Array("\(parent)/\(prefix).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw AirlockError.system("cannot create a temporary folder under \(parent)", errno: errno)
        }
        return String(cString: made)
    }

    /// fsync of a folder, so that a rename or a new entry in it survives a crash.
    public static func syncDirectory(_ path: String) throws(AirlockError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw AirlockError.system("cannot open the folder \(path)", errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw AirlockError.system("cannot flush the folder \(path)", errno: errno) }
    }

    /// The folder holding `path` (`.` for a bare name, `/` for a top-level path).
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
