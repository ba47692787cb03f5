import AirlockCore
import AuditLog
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The gateway's user appends to the log but cannot rewrite what is sealed: sealed segments
/// are read-only and root's, in a setgid + sticky folder (as Airlock's tmpfiles.d entry makes it).
@Suite struct SealedSegmentTests {
    /// Runs `script` with `sh -c` as nobody:nogroup (uid/gid 65534), the folder's group.
    func asGatewayUser(_ script: String) throws -> ProcessResult {
        try ProcessResult.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", script])
    }

    @Test func theGatewayUserCanAppendButNotRewriteSealedSegments() async throws {
        let log = try TestLog(segmentBytes: 1500)
        defer { log.remove() }
        try FileManager.default.createDirectory(atPath: log.layout.directory, withIntermediateDirectories: true)
        // The folder as tmpfiles.d leaves it: 3770 root:<gateway group>; the path to it traversable.
        #expect(chown(log.layout.directory, 0, 65534) == 0)
        #expect(chmod(log.layout.directory, 0o3770) == 0)
        for folder in [log.folder.path, log.folder.file("var"), log.folder.file("var/log")] { chmod(folder, 0o755) }
        try await log.fill(30)
        _ = try log.writer()  // the next root writer hands sealed segments to root
        let segments = try log.segments()
        try #require(segments.count >= 3)
        let sealed = log.segmentPath(segments[0])
        let active = log.segmentPath(segments.last!)
        var info = stat()
        stat(sealed, &info)
        #expect(info.st_mode & 0o7777 == 0o440)
        #expect(info.st_uid == 0)

        #expect(try asGatewayUser("printf 'x\\n' >> '\(sealed)'").status != 0, "appending to a sealed segment")
        #expect(try asGatewayUser("chmod 0660 '\(sealed)'").status != 0, "making a sealed segment writable")
        #expect(try asGatewayUser("rm -f '\(sealed)'").status != 0, "removing a sealed segment")
        #expect(try asGatewayUser("mv '\(sealed)' '\(sealed).old'").status != 0, "renaming a sealed segment")
        #expect(FileManager.default.fileExists(atPath: sealed))
        // The active segment stays open to the group: the gateway appends there.
        #expect(try asGatewayUser("test -w '\(active)'").status == 0)
        guard case .intact = try log.verify() else {
            Issue.record("the log does not verify")
            return
        }
    }
}
