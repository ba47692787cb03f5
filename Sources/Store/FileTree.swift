internal import AirlockCore
internal import CAirlockShims

/// File-system steps of an install, each checked, each naming the path on failure.
enum FileTree {
    /// Writes all of `bytes` to `descriptor`.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(AirlockError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw AirlockError.system("cannot write \(path)", errno: errno)
            }
            offset += written
        }
    }

    /// Creates `path` for writing: never an existing file, never through a link, mode 0600 until
    /// the caller sets the final one. The caller closes the descriptor.
    static func createNew(_ path: String) throws(AirlockError) -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AirlockError.system("cannot create \(path)", errno: errno) }
        return descriptor
    }

    /// Writes all of `bytes` to `descriptor`.
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(AirlockError) {
        var failure: AirlockError?
        bytes.withUnsafeBytes { buffer in
            do throws(AirlockError) { try writeAll(descriptor, buffer, path: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// A new file (never an existing one, never through a link), written whole, mode set, flushed.
    static func create(_ path: String, bytes: [UInt8], mode: mode_t) throws(AirlockError) {
        let descriptor = try createNew(path)
        defer { close(descriptor) }
        try writeAll(descriptor, bytes, path: path)
        guard fchmod(descriptor, mode) == 0 else { throw AirlockError.system("cannot set the mode of \(path)", errno: errno) }
        guard fsync(descriptor) == 0 else { throw AirlockError.system("cannot flush \(path)", errno: errno) }
    }

    /// Flushes the whole file system holding `path` (syncfs(2)): every dirty file and folder on
    /// it, and the device's cache. For a tree of tens of thousands of new files this is one
    /// flush where an fsync of each is one flush each.
    static func flushFileSystem(of path: String) throws(AirlockError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw AirlockError.system("cannot open the folder \(path)", errno: errno) }
        defer { close(descriptor) }
        guard CAirlockShims_syncfs(descriptor) == 0 else { throw AirlockError.system("cannot flush the file system of \(path)", errno: errno) }
    }

    /// Every folder under `root` (itself included), deepest first.
    static func directories(under root: String) -> [String] {
        var found: [String] = []
        func walk(_ path: String) {
            guard let handle = opendir(path) else { return }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let child = path + "/" + name
                var status = stat()
                if lstat(child, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { walk(child) }
            }
            found.append(path)
        }
        walk(root)
        return found
    }

    /// Removes `path` and everything under it (making folders writable first), never following
    /// links. Missing is fine.
    static func removeTree(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        if status.st_mode & S_IFMT != S_IFDIR {
            unlink(path)
            return
        }
        chmod(path, 0o700)
        for name in names(in: path) { removeTree(path + "/" + name) }
        rmdir(path)
    }

    /// The names in folder `path` (without `.` and `..`); empty when it cannot be read.
    static func names(in path: String) -> [String] {
        guard let handle = opendir(path) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Points `link` at `target` atomically: a new link beside it, renamed over it, folder flushed.
    static func switchLink(_ link: String, to target: String) throws(AirlockError) {
        let temporary = AtomicFile.temporaryPath(for: link)
        unlink(temporary)
        guard symlink(target, temporary) == 0 else { throw AirlockError.system("cannot create the link \(temporary)", errno: errno) }
        guard rename(temporary, link) == 0 else {
            let code = errno
            unlink(temporary)
            throw AirlockError.system("cannot switch \(link) to \(target)", errno: code)
        }
        try AtomicFile.syncDirectory(AtomicFile.folder(of: link))
    }

    /// Where `link` points, or nil.
    static func readLink(_ link: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(link, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
