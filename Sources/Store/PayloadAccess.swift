public import AirlockCore
internal import BundleFormat

/// Who may read an installed version's payload (weights, adapters, runtime): root, and the
/// group `HostLayout.weightsGroup`, which only the runtime's service joins. Nobody else: a
/// local account that could read the weights would get round every client's model rights.
///
/// | what | owner | mode |
/// | --- | --- | --- |
/// | `NAME/VERSION/` | root:root | 0555 (the gateway reads the manifest in it) |
/// | `manifest.json`, `install.json` | root:root | 0444 (names and digests, no weights) |
/// | payload folders (`base/`, `adapters/`, `runtime/…`) | root:weights | 0550 |
/// | payload files | root:weights | 0440, executables 0550 |
///
/// Where the group does not exist yet (the first install, before `systemd-sysusers` ran; a
/// `--root` tree for tests) the payload takes the installing user's group and the same modes;
/// `grant(to:)` hands every installed version to the group once it exists.
public enum PayloadAccess {
    /// The weights group's id, or the installing process's group when there is none.
    public static func group() -> UInt32 {
        getgrnam(HostLayout.weightsGroup)?.pointee.gr_gid ?? getegid()
    }

    static func fileMode(executable: Bool) -> mode_t { executable ? 0o550 : 0o440 }
    static let folderMode: mode_t = 0o550
    static let versionFolderMode: mode_t = 0o555
    /// The version folder's own files, written by the store, not the payload.
    static let recordMode: mode_t = 0o444

    /// Sets a payload file's group and mode through its descriptor.
    static func seal(descriptor: Int32, path: String, executable: Bool, group: gid_t) throws(AirlockError) {
        guard fchown(descriptor, uid_t.max, group) == 0 else {
            throw AirlockError.system("cannot give \(path) to group \(group)", errno: errno)
        }
        guard fchmod(descriptor, fileMode(executable: executable)) == 0 else {
            throw AirlockError.system("cannot set the mode of \(path)", errno: errno)
        }
    }

    /// Sets a payload folder's group and mode (the store's own folder: no other user can
    /// write into it, and nothing is followed).
    static func seal(folder: String, group: gid_t, isVersionFolder: Bool) throws(AirlockError) {
        if !isVersionFolder, fchownat(AT_FDCWD, folder, uid_t.max, group, AT_SYMLINK_NOFOLLOW) != 0 {
            throw AirlockError.system("cannot give \(folder) to group \(group)", errno: errno)
        }
        guard chmod(folder, isVersionFolder ? versionFolderMode : folderMode) == 0 else {
            throw AirlockError.system("cannot make \(folder) read-only", errno: errno)
        }
    }

    /// Hands every installed version of every bundle to `group` with the modes above (also
    /// tightening trees installed by earlier Airlock releases, whose payload was world-readable).
    /// Returns how many entries it changed.
    @discardableResult
    public static func grant(store: BundleStore, to group: UInt32) throws(AirlockError) -> Int {
        var changed = 0
        for name in store.names() {
            for version in try store.loadState(name: name).installed.keys.sorted() {
                let tree = store.layout.versionDirectory(name: name, version: version)
                guard store.directoryExists(tree) else { continue }
                changed += try grant(tree: tree, group: group)
            }
        }
        return changed
    }

    private static func grant(tree: String, group: gid_t) throws(AirlockError) -> Int {
        var changed = 0
        func visit(_ path: String, top: Bool) throws(AirlockError) {
            var status = stat()
            guard lstat(path, &status) == 0 else { throw AirlockError.system("cannot read \(path)", errno: errno) }
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                for name in FileTree.names(in: path) {
                    let child = path + "/" + name
                    if top, name == manifestEntryName || name == "install.json" {
                        guard chmod(child, recordMode) == 0 else { throw AirlockError.system("cannot set the mode of \(child)", errno: errno) }
                        continue
                    }
                    try visit(child, top: false)
                }
                let want = top ? versionFolderMode : folderMode
                if status.st_mode & 0o7777 != want || (!top && status.st_gid != group) { changed += 1 }
                try seal(folder: path, group: group, isVersionFolder: top)
            case S_IFREG:
                let executable = status.st_mode & 0o100 != 0
                guard status.st_gid != group || status.st_mode & 0o7777 != fileMode(executable: executable) else { return }
                guard fchownat(AT_FDCWD, path, uid_t.max, group, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw AirlockError.system("cannot give \(path) to group \(group)", errno: errno)
                }
                guard chmod(path, fileMode(executable: executable)) == 0 else {
                    throw AirlockError.system("cannot set the mode of \(path)", errno: errno)
                }
                changed += 1
            default:
                // A verified tree holds only folders and regular files; anything else was put
                // there by hand and is left for `airlock doctor` to report.
                return
            }
        }
        try visit(tree, top: true)
        return changed
    }
}
