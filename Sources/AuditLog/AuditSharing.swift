#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// A log folder that is setgid (`2770 root:airlock-serve`, from Airlock's tmpfiles.d entry) is
/// shared by root's `airlock` commands and the gateway's user: each file a writer creates there is
/// made group-writable (0660), whatever the process's umask, so the other can append to it. In
/// any other folder files keep 0640. Failing to change a file another user owns is expected and
/// ignored (its creator shared it already).
enum AuditSharing {
    static func share(_ descriptor: Int32, directory: String) {
        var folder = stat()
        guard stat(directory, &folder) == 0, folder.st_mode & S_ISGID != 0 else { return }
        _ = fchmod(descriptor, 0o660)
    }
}
