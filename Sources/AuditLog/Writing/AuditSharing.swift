internal import AirlockCore

/// Sealed segments are made read-only for everyone (0440) by whoever seals them, and handed to
/// root (`root:<folder's group>`) by a writer running as root: every `airlock` admin command
/// opens the log, and `airlock-audit seal` (airlock-audit-seal.timer, every 5 minutes) does only
/// that. With the folder's sticky bit (tmpfiles.d: 3770), the gateway's user can then neither
/// write, chmod, rename nor remove a sealed segment: it can only append to the active one. (A
/// segment the gateway sealed stays its own, read-only but chmod-able back, until then; `verify`
/// catches any rewrite either way.)
///
/// A log folder that is setgid (`3770 root:airlock-serve`, from Airlock's tmpfiles.d entry) is
/// shared by root's `airlock` commands and the gateway's user: each file a writer creates there is
/// made group-writable (0660), whatever the process's umask, so the other can append to it. In
/// any other folder files keep 0640. Failing to change a file another user owns is expected and
/// ignored (its creator shared it already).
enum AuditSharing {
    /// Makes the sealed segment `name` read-only and, when running as root, root's. Returns the
    /// refusal when the name is not a plain file (a planted link, say), which the caller
    /// records; any other failure is left for the seal step (and `verify` finds any rewrite).
    static func lockSealed(_ name: String, in folder: FolderHandle) -> AirlockError? {
        do throws(AirlockError) {
            _ = try lock(name, in: folder, rootWithGroup: geteuid() == 0 ? folder.group : nil)
            return nil
        } catch {
            return error.kind == .unsafeFile ? error : nil
        }
    }

    /// Makes the regular file `name` in `folder` 0440 and, given a group, `root:group`. It opens
    /// the name relative to the folder without following a link (`FolderHandle`), and changes
    /// the open file: the gateway's user can create names in the folder, and a segment it
    /// swapped for a symbolic link, a hard link to a file elsewhere, or a FIFO is refused rather
    /// than handed to root. Returns whether it changed anything, or nil when there is no such
    /// file (any more).
    static func lock(_ name: String, in folder: FolderHandle, rootWithGroup group: gid_t?) throws(AirlockError) -> Bool? {
        guard let descriptor = try folder.openFile(name, .read) else { return nil }
        defer { close(descriptor) }
        let path = folder.path(of: name)
        var file = stat()
        guard fstat(descriptor, &file) == 0 else { throw .system("cannot inspect \(path)", errno: errno) }
        var changed = false
        if let group, file.st_uid != 0 || file.st_gid != group {
            guard fchown(descriptor, 0, group) == 0 else { throw .system("cannot hand \(path) to root", errno: errno) }
            changed = true
        }
        if file.st_mode & 0o7777 != 0o440 {
            guard fchmod(descriptor, 0o440) == 0 else { throw .system("cannot make \(path) read-only (0440)", errno: errno) }
            changed = true
        }
        return changed
    }

    /// Makes a file the writer created in a setgid folder group-writable (0660).
    static func share(_ descriptor: Int32, in folder: FolderHandle) {
        guard folder.sharedGroup != nil else { return }
        _ = fchmod(descriptor, 0o660)
    }

    /// Hands the active segment and the lock (which root's commands may have created before the
    /// gateway's group existed) to `root:group`, 0660, so the gateway can append. Each is opened
    /// without following a link and checked first: a planted link is refused, never chowned.
    static func shareWithGroup(_ names: [String], in folder: FolderHandle, group: gid_t) throws(AirlockError) {
        for name in names {
            guard let descriptor = try folder.openFile(name, .read) else { continue }
            defer { close(descriptor) }
            guard fchown(descriptor, 0, group) == 0, fchmod(descriptor, 0o660) == 0 else {
                throw .system("cannot share \(folder.path(of: name)) with group \(group)", errno: errno)
            }
        }
    }
}
