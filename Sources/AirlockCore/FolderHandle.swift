#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// A folder opened once, whose entries are opened by name relative to its descriptor
/// (openat(2) with O_NOFOLLOW), never by path, and checked with fstat(2) before anything reads,
/// cuts, chowns or chmods them.
///
/// Use it for every file root opens in a folder another user can write (the audit log folder is
/// the gateway user's too): there, any name may have been replaced by a symbolic link, a hard
/// link to a file elsewhere, a FIFO or a folder, to make root write, truncate or hand over a
/// file it never meant to. An entry is used only when it is a regular file with one name, whose
/// owner is this process's user, root, the folder's owner, or (in a setgid folder) whose group
/// is the folder's; anything else is refused with `Reason.Kind.unsafeFile`, naming the entry
/// and what it is, and left as it is. Names with a `/` are refused: one folder, one level.
public final class FolderHandle: Sendable {
    /// The folder's path, for messages.
    public let path: String
    /// The folder's descriptor (O_DIRECTORY).
    public let descriptor: Int32
    private let owner: UInt32
    /// The folder's group.
    public let group: UInt32
    /// The folder's group when the folder is setgid (every entry made in it gets that group).
    public let sharedGroup: UInt32?

    /// Opens the folder at `path`; with `createMode`, creates it (and its parents) first if need be.
    public init(_ path: String, createMode: UInt32? = nil) throws(AirlockError) {
        if let createMode { try AtomicFile.makeDirectories(path, mode: createMode) }
        let opened = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard opened >= 0 else { throw .system("cannot open the folder \(path)", errno: errno) }
        var status = stat()
        guard fstat(opened, &status) == 0 else {
            let code = errno
            close(opened)
            throw .system("cannot examine the folder \(path)", errno: code)
        }
        self.path = path
        descriptor = opened
        owner = status.st_uid
        group = status.st_gid
        sharedGroup = status.st_mode & S_ISGID != 0 ? status.st_gid : nil
    }

    deinit { close(descriptor) }

    /// `FOLDER/NAME`, for messages.
    public func path(of name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    public enum Access: Sendable {
        case read, readWrite
        /// Read and write, every write at the end (O_APPEND).
        case append

        var flags: Int32 {
            switch self {
            case .read: O_RDONLY
            case .readWrite: O_RDWR
            case .append: O_RDWR | O_APPEND
            }
        }
    }

    /// The size of the entry `name`, which must be a plain file (regular, one name; else the
    /// `unsafe-file` refusal), without opening it; nil when there is no such entry.
    public func plainFileSize(_ name: String) throws(AirlockError) -> Int64? {
        guard let status = try entryStatus(name) else { return nil }
        guard Self.isPlainFile(status) else { throw refusal(name, status) }
        return Int64(status.st_size)
    }

    /// Whether there is an entry `name`, of any kind (not followed).
    public func hasEntry(_ name: String) throws(AirlockError) -> Bool { try entryStatus(name) != nil }

    /// What a name in the folder is, without following it; nil when there is no such entry.
    func entryStatus(_ name: String) throws(AirlockError) -> stat? {
        try checkName(name)
        var status = stat()
        if fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0 { return status }
        if errno == ENOENT { return nil }
        throw .system("cannot examine \(path(of: name))", errno: errno)
    }

    /// Opens the existing entry `name` as a checked regular file; nil when there is none.
    public func openFile(_ name: String, _ access: Access) throws(AirlockError) -> Int32? {
        try checkName(name)
        let opened = openat(descriptor, name, access.flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        if opened < 0 {
            let code = errno
            if code == ENOENT { return nil }
            if Self.isNotAPlainFile(code) { throw refusal(name) }
            throw .system("cannot open \(path(of: name))", errno: code)
        }
        return try checked(opened, name: name)
    }

    /// What `openat` with O_NOFOLLOW | O_NONBLOCK says of a name that is a link, a folder, a
    /// FIFO or a device.
    private static func isNotAPlainFile(_ code: Int32) -> Bool {
        code == ELOOP || code == ENXIO || code == EISDIR || code == EWOULDBLOCK || code == ENODEV
    }

    /// `opened` once `check` accepted it (closed otherwise), blocking again.
    private func checked(_ opened: Int32, name: String) throws(AirlockError) -> Int32 {
        do throws(AirlockError) {
            try check(opened, name: name)
        } catch {
            close(opened)
            throw error
        }
        try clearNonBlocking(opened, name: name)
        return opened
    }

    /// Opens the entry `name`, creating it (regular, `mode`) when there is none. With
    /// `exclusive`, an entry already there, of any kind, is an error (EEXIST) instead.
    public func createFile(
        _ name: String, _ access: Access, mode: UInt32, exclusive: Bool = false
    ) throws(AirlockError) -> Int32 {
        try checkName(name)
        let flags = access.flags | O_CREAT | (exclusive ? O_EXCL : 0) | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
        let opened = openat(descriptor, name, flags, mode_t(mode))
        if opened < 0 {
            let code = errno
            if code == EEXIST, exclusive, let status = try entryStatus(name), !Self.isPlainFile(status) {
                throw refusal(name)
            }
            if !exclusive, Self.isNotAPlainFile(code) { throw refusal(name) }
            throw .system("cannot create \(path(of: name))", errno: code)
        }
        return try checked(opened, name: name)
    }

    /// The whole of the regular file `name` (at most `limit` bytes); nil when there is none.
    public func contents(of name: String, upTo limit: Int = 64 << 20) throws(AirlockError) -> [UInt8]? {
        guard let opened = try openFile(name, .read) else { return nil }
        defer { close(opened) }
        return try FileBytes.read(descriptor: opened, path: path(of: name), limit: limit)
    }

    /// Replaces `name` atomically with `bytes` (`mode`): a temporary entry created exclusively
    /// (so nothing planted at its name is written through), fsync, renameat over `name` (which
    /// replaces whatever the name was, never what it pointed to), fsync of the folder.
    public func replace(_ name: String, with bytes: [UInt8], mode: UInt32) throws(AirlockError) {
        let temporary = name + ".tmp-\(getpid())"
        if let status = try entryStatus(temporary) {
            // A crashed run of this process id, or something planted: the name is removed,
            // never written through (a folder there is left for a person to look at).
            guard status.st_mode & S_IFMT != S_IFDIR else { throw refusal(temporary, status) }
            try remove(temporary)
        }
        let opened = try createFile(temporary, .readWrite, mode: mode, exclusive: true)
        var failure: AirlockError?
        do throws(AirlockError) {
            try FileBytes.writeAll(descriptor: opened, bytes, path: path(of: temporary))
            if fchmod(opened, mode_t(mode)) != 0 { throw .system("cannot set the mode of \(path(of: temporary))", errno: errno) }
            if fsync(opened) != 0 { throw .system("cannot flush \(path(of: temporary))", errno: errno) }
        } catch {
            failure = error
        }
        close(opened)
        if failure == nil, renameat(descriptor, temporary, descriptor, name) != 0 {
            failure = .system("cannot replace \(path(of: name))", errno: errno)
        }
        if let failure {
            unlinkat(descriptor, temporary, 0)
            throw failure
        }
        try sync()
    }

    /// Removes the entry `name` (never what it points to); no error when there is none.
    public func remove(_ name: String) throws(AirlockError) {
        try checkName(name)
        guard unlinkat(descriptor, name, 0) == 0 || errno == ENOENT else {
            throw .system("cannot remove \(path(of: name))", errno: errno)
        }
    }

    /// The names in the folder (not `.` and `..`), in no particular order.
    public func names() throws(AirlockError) -> [String] {
        let copy = openat(descriptor, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0, let stream = fdopendir(copy) else {
            let code = errno
            throw .system("cannot list the folder \(path)", errno: code)
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// fsync of the folder, so a new, renamed or removed entry survives a crash.
    public func sync() throws(AirlockError) {
        guard fsync(descriptor) == 0 else { throw .system("cannot flush the folder \(path)", errno: errno) }
    }

    /// Checks an open descriptor of the entry `name`: a regular file, one name, an expected owner.
    public func check(_ opened: Int32, name: String) throws(AirlockError) {
        var status = stat()
        guard fstat(opened, &status) == 0 else { throw .system("cannot examine \(path(of: name))", errno: errno) }
        guard Self.isPlainFile(status) else { throw refusal(name, status) }
        guard isExpectedOwner(status) else {
            throw AirlockError(
                .refused, kind: .unsafeFile,
                "\(Printable.escaped(path(of: name))) belongs to user \(status.st_uid), group \(status.st_gid), "
                    + "not to this user, root or the folder's owner or group: refused and left as it is")
        }
    }

    /// The refusal for an entry that is not a plain regular file, saying what it is instead.
    public func refusal(_ name: String) -> AirlockError { refusal(name, nil) }

    func refusal(_ name: String, _ known: stat?) -> AirlockError {
        var what = "not a regular file"
        if let status = known ?? (try? entryStatus(name)) ?? nil {
            switch status.st_mode & S_IFMT {
            case S_IFLNK: what = "a symbolic link"
            case S_IFDIR: what = "a folder"
            case S_IFIFO: what = "a FIFO"
            case S_IFSOCK: what = "a socket"
            case S_IFCHR, S_IFBLK: what = "a device"
            case S_IFREG where status.st_nlink != 1: what = "a file with \(status.st_nlink) names (hard links)"
            default: break
            }
        }
        return AirlockError(
            .refused, kind: .unsafeFile,
            "\(Printable.escaped(path(of: name))) is \(what), not a file Airlock wrote: refused and left as it is "
                + "(something else put it there; remove it after looking at it)")
    }

    /// A regular file with exactly one name.
    static func isPlainFile(_ status: stat) -> Bool {
        status.st_mode & S_IFMT == S_IFREG && status.st_nlink == 1
    }

    private func isExpectedOwner(_ status: stat) -> Bool {
        status.st_uid == geteuid() || status.st_uid == 0 || status.st_uid == owner
            || (sharedGroup.map { status.st_gid == $0 } ?? false)
    }

    private func checkName(_ name: String) throws(AirlockError) {
        guard !name.isEmpty, name != ".", name != "..", !name.utf8.contains(0x2F), !name.utf8.contains(0) else {
            throw AirlockError(.invalidInput, "'\(Printable.escaped(name))' is not a single name in \(path)")
        }
    }

    private func clearNonBlocking(_ opened: Int32, name: String) throws(AirlockError) {
        let flags = fcntl(opened, F_GETFL)
        guard flags >= 0, fcntl(opened, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            let code = errno
            close(opened)
            throw .system("cannot set up \(path(of: name))", errno: code)
        }
    }
}
