internal import AirlockCore
internal import CAirlockShims
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

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
    /// Makes the segment at `path` read-only and, when running as root, root's; what fails is
    /// left for the seal step (and `verify` finds any rewrite).
    static func lockSealed(_ path: String, directory: String) {
        var folder = stat()
        guard stat(directory, &folder) == 0 else { return }
        _ = try? lock(path, rootWithGroup: geteuid() == 0 ? folder.st_gid : nil)
    }

    /// Makes the regular file at `path` 0440 and, given a group, `root:group`. It works on a
    /// descriptor of the name itself (O_PATH | O_NOFOLLOW), never following a link: the gateway's
    /// user can create names in the folder, and a segment it swapped for a symbolic link, or a hard
    /// link to a file elsewhere, is refused rather than handed to root. Returns whether it changed
    /// anything, or nil when there is no such file (any more).
    static func lock(_ path: String, rootWithGroup group: gid_t?) throws(AirlockError) -> Bool? {
        let descriptor = CAirlockShims_open_path_nofollow(path)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw .system("cannot open \(path)", errno: errno)
        }
        defer { close(descriptor) }
        var file = stat()
        guard fstat(descriptor, &file) == 0 else { throw .system("cannot inspect \(path)", errno: errno) }
        guard file.st_mode & S_IFMT == S_IFREG else {
            throw AirlockError(.refused, "\(path) is not a regular file (a link, or something else in a segment's name): left as it is")
        }
        guard file.st_nlink == 1 else {
            throw AirlockError(.refused, "\(path) has \(file.st_nlink) names (hard links): left as it is")
        }
        var changed = false
        if let group, file.st_uid != 0 || file.st_gid != group {
            guard CAirlockShims_fchown_path_descriptor(descriptor, 0, group) == 0 else {
                throw .system("cannot hand \(path) to root", errno: errno)
            }
            changed = true
        }
        if file.st_mode & 0o7777 != 0o440 {
            guard CAirlockShims_fchmod_path_descriptor(descriptor, 0o440) == 0 else {
                throw .system("cannot make \(path) read-only (0440)", errno: errno)
            }
            changed = true
        }
        return changed
    }

    static func share(_ descriptor: Int32, directory: String) {
        var folder = stat()
        guard stat(directory, &folder) == 0, folder.st_mode & S_ISGID != 0 else { return }
        _ = fchmod(descriptor, 0o660)
    }
}
