import AirlockCore
import Foundation
import Testing

/// Names planted where Airlock writes: a link at a temporary file's name, at a lock's, or in a
/// folder opened through `FolderHandle`, never gets written, truncated, chowned or chmoded through.
@Suite struct PlantedNameTests {
    struct Scratch {
        let path: String
        init() throws {
            var template = Array((NSTemporaryDirectory() + "/airlock-planted.XXXXXX").utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw AirlockError(.system, "mkdtemp failed")
            }
            path = String(cString: made)
        }
        func file(_ name: String) -> String { path + "/" + name }
        func remove() { try? FileManager.default.removeItem(atPath: path) }

        /// A file outside the folder under attack, and its facts (bytes, owner, mode, times).
        func secret() throws -> String {
            let secret = file("secret")
            try Data("root only\n".utf8).write(to: URL(fileURLWithPath: secret))
            chmod(secret, 0o600)
            return secret
        }
    }

    static func facts(_ path: String) -> [Int] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Array($0).reduce(0) { $0 &* 31 &+ Int($1) } } ?? -1
        return [Int(info.st_uid), Int(info.st_gid), Int(info.st_mode), Int(info.st_size), info.st_mtim.tv_sec, info.st_mtim.tv_nsec, bytes]
    }

    @Test(arguments: [false, true])
    func atomicWriteNeverWritesThroughItsTemporaryName(hard: Bool) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let secret = try scratch.secret()
        let before = Self.facts(secret)
        let target = scratch.file("clients.yaml")
        let temporary = AtomicFile.temporaryPath(for: target)
        #expect((hard ? link(secret, temporary) : symlink(secret, temporary)) == 0)
        try AtomicFile.write(Array("clients: []\n".utf8), to: target, mode: 0o640)
        #expect(Self.facts(secret) == before)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "clients: []\n")
        var info = stat()
        #expect(lstat(target, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && info.st_nlink == 1)
    }

    @Test func aLockFileThatIsALinkIsRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let secret = try scratch.secret()
        let before = Self.facts(secret)
        for (index, hard) in [false, true].enumerated() {
            let lock = scratch.file("trust.yaml.lock\(index)")
            #expect((hard ? link(secret, lock) : symlink(secret, lock)) == 0)
            #expect {
                try FileLock(path: lock).release()
            } throws: { ($0 as? AirlockError)?.reasonKind == .unsafeFile }
        }
        #expect(Self.facts(secret) == before)
    }

    @Test func folderHandleOpensOnlyPlainFilesAndSaysWhatElseItFound() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let secret = try scratch.secret()
        let before = Self.facts(secret)
        let folder = try FolderHandle(scratch.file("log"), createMode: 0o750)
        let plain = try folder.createFile("plain", .append, mode: 0o640)
        close(plain)
        #expect(symlink(secret, folder.path(of: "symlink")) == 0)
        #expect(link(secret, folder.path(of: "hardlink")) == 0)
        #expect(mkfifo(folder.path(of: "fifo"), 0o600) == 0)
        #expect(mkdir(folder.path(of: "folder"), 0o700) == 0)
        let expected = ["symlink": "a symbolic link", "hardlink": "2 names (hard links)", "fifo": "a FIFO", "folder": "a folder"]
        for (name, what) in expected {
            for access in [FolderHandle.Access.read, .readWrite, .append] {
                #expect {
                    if let opened = try folder.openFile(name, access) { close(opened) }
                } throws: { error in
                    let error = error as? AirlockError
                    return error?.reasonKind == .unsafeFile && error?.description.contains(what) == true
                        && error?.description.contains(folder.path(of: name)) == true
                }
                #expect(throws: AirlockError.self) {
                    close(try folder.createFile(name, access, mode: 0o640))
                }
            }
            #expect(throws: AirlockError.self) { _ = try folder.contents(of: name) }
        }
        // Exclusive creation refuses whatever is there, plain or not; names with a slash never open.
        #expect(throws: AirlockError.self) { close(try folder.createFile("plain", .append, mode: 0o640, exclusive: true)) }
        #expect(throws: AirlockError.self) { _ = try folder.openFile("../secret", .read) }
        #expect(throws: AirlockError.self) { _ = try folder.openFile("..", .read) }
        // Replacing goes through a fresh temporary file and a rename: a link at the name itself
        // is replaced, not followed.
        try folder.replace("symlink", with: Array("new\n".utf8), mode: 0o644)
        #expect(try folder.contents(of: "symlink") == Array("new\n".utf8))
        #expect(Self.facts(secret) == before)
        #expect(try folder.openFile("missing", .read) == nil)
    }
}
