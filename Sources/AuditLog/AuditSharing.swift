#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Sealed segments are made read-only for everyone (0440) by whoever seals them, and handed to
/// root (`root:<folder's group>`) by the next writer running as root (every `airlock` admin
/// command opens the log). With the folder's sticky bit (tmpfiles.d: 3770), the gateway's user
/// can then neither write, chmod, rename nor remove a sealed segment: it can only append to the
/// active one. (A segment the gateway sealed stays its own, read-only but chmod-able back,
/// until the next root writer; `verify` catches any rewrite either way.)
///
/// A log folder that is setgid (`3770 root:airlock-serve`, from Airlock's tmpfiles.d entry) is
/// shared by root's `airlock` commands and the gateway's user: each file a writer creates there is
/// made group-writable (0660), whatever the process's umask, so the other can append to it. In
/// any other folder files keep 0640. Failing to change a file another user owns is expected and
/// ignored (its creator shared it already).
enum AuditSharing {
    /// Makes the segment at `path` read-only and, when running as root, root's.
    static func lockSealed(_ path: String, directory: String) {
        var folder = stat()
        var file = stat()
        guard stat(directory, &folder) == 0, lstat(path, &file) == 0, file.st_mode & S_IFMT == S_IFREG else { return }
        if geteuid() == 0, file.st_uid != 0 || file.st_gid != folder.st_gid {
            _ = chown(path, 0, folder.st_gid)
        }
        if file.st_mode & 0o7777 != 0o440 { _ = chmod(path, 0o440) }
    }

    static func share(_ descriptor: Int32, directory: String) {
        var folder = stat()
        guard stat(directory, &folder) == 0, folder.st_mode & S_ISGID != 0 else { return }
        _ = fchmod(descriptor, 0o660)
    }
}
