import AirlockCore
import AuditLog
import Foundation
import TestSupport
import Testing

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

    /// A log in the folder tmpfiles.d makes (3770 root:<gateway group>), filled by root.
    func sharedLog() async throws -> TestLog {
        let log = try TestLog(segmentBytes: 1500)
        try FileManager.default.createDirectory(atPath: log.layout.directory, withIntermediateDirectories: true)
        #expect(chown(log.layout.directory, 0, 65534) == 0)
        #expect(chmod(log.layout.directory, 0o3770) == 0)
        for folder in [log.folder.path, log.folder.file("var"), log.folder.file("var/log")] { chmod(folder, 0o755) }
        try await log.fill(30)
        return log
    }

    /// Owner, group, mode, size and modification time: what "untouched" means.
    func facts(_ path: String) -> [Int] {
        var info = stat()
        guard lstat(path, &info) == 0 else { return [] }
        return [Int(info.st_uid), Int(info.st_gid), Int(info.st_mode), Int(info.st_size), info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
    }

    /// `airlock-audit seal`'s step, on the two states the gateway's writer leaves: a segment it
    /// created and sealed is its own (0440, which it can make writable again), and one root
    /// created that it sealed stays root's 0660 (it cannot chmod a file it does not own). Both
    /// become root's and read-only; nothing else is touched; a second run changes nothing.
    @Test func theSealStepHandsWhatTheGatewaySealedToRoot() async throws {
        let log = try await sharedLog()
        defer { log.remove() }
        let segments = try log.segments()
        try #require(segments.count >= 4)
        let own = log.segmentPath(segments[0])
        let rootCreated = log.segmentPath(segments[1])
        #expect(chown(own, 65534, 65534) == 0 && chmod(own, 0o440) == 0)
        #expect(chown(rootCreated, 0, 65534) == 0 && chmod(rootCreated, 0o660) == 0)
        #expect(try asGatewayUser("chmod 0640 '\(own)'").status == 0, "the gap: the gateway's user can make its sealed segment writable again")

        let others = [log.segmentPath(segments.last!), log.layout.lockPath, log.layout.latestCheckpointPath]
        let before = others.map(facts)
        let report = try AuditSeal.run(directory: log.layout.directory)
        #expect(report.changed == [segments[0], segments[1]].map(AuditLayout.segmentName))
        #expect(report.sealed == segments.dropLast().map(AuditLayout.segmentName))
        #expect(report.active == AuditLayout.segmentName(segments.last!))
        #expect(report.group == "nogroup" && report.failures.isEmpty)
        for number in segments.dropLast() {
            var info = stat()
            stat(log.segmentPath(number), &info)
            #expect(info.st_uid == 0 && info.st_gid == 65534 && info.st_mode & 0o7777 == 0o440, "segment \(number)")
        }
        #expect(others.map(facts) == before, "the active segment, the lock and the checkpoint file are untouched")
        #expect(try asGatewayUser("chmod 0640 '\(own)'").status != 0)
        #expect(try asGatewayUser("printf 'x\\n' >> '\(rootCreated)'").status != 0)
        #expect(try AuditSeal.run(directory: log.layout.directory).changed.isEmpty, "a second run has nothing to do")
        #expect(try log.verify().isIntact)
    }

    /// The gateway's user can create names in the folder: a sealed segment's name swapped for a
    /// symbolic link or a hard link to a file elsewhere is refused, and that file is not changed.
    @Test func theSealStepRefusesLinksInASegmentsName() async throws {
        let log = try await sharedLog()
        defer { log.remove() }
        let segments = try log.segments()
        try #require(segments.count >= 3)
        var victims: [String] = []
        for (index, hard) in [(0, false), (1, true)] {
            let victim = log.folder.file("victim-\(index)")
            try Data("secret\n".utf8).write(to: URL(fileURLWithPath: victim))
            #expect(chown(victim, 65534, 65534) == 0 && chmod(victim, 0o600) == 0)
            let name = log.segmentPath(segments[index])
            try FileManager.default.removeItem(atPath: name)
            #expect((hard ? link(victim, name) : symlink(victim, name)) == 0)
            victims.append(victim)
        }
        let before = victims.map(facts)
        let report = try AuditSeal.run(directory: log.layout.directory)
        #expect(report.failures.count == 2, "\(report)")
        #expect(report.failures.first?.contains("is a symbolic link") == true, "\(report.failures)")
        #expect(report.failures.last?.contains("hard links") == true, "\(report.failures)")
        #expect(report.changed.isEmpty)
        #expect(victims.map(facts) == before, "the files the links point to keep their owner and mode")
    }
}
