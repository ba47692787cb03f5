import AirlockCore
import AuditLog
import Foundation
import TestSupport
import Testing

/// The audit log folder is the gateway user's to write too (3770 root:<gateway group>), so any
/// name in it may be a trap for root's writers: a symbolic link, a hard link to a file
/// elsewhere, or a FIFO, planted at a segment's name, the next segment's, the lock's, the
/// checkpoint copy's or its temporary name. Root's writers (every admin command opens the log;
/// `airlock-audit seal`; the install step that shares the log with the gateway; retention),
/// the verifier and the reader must leave a root-only file elsewhere exactly as it was, and
/// either carry on without the name (recording it) or stop with an `unsafe-file` error naming it.
@Suite struct AuditFolderLinkTests {
    enum Trap: String, CaseIterable, CustomTestStringConvertible {
        case symbolicLink, hardLink, fifo
        var testDescription: String { rawValue }
    }

    /// The names a root writer opens, as they stand once the log has some sealed segments.
    enum Name: String, CaseIterable, CustomTestStringConvertible {
        case activeSegment, nextSegment, sealedSegment, lock, checkpointCopy, checkpointTemporary
        var testDescription: String { rawValue }

        func file(in log: TestLog, segments: [Int]) -> String {
            switch self {
            case .activeSegment: AuditLayout.segmentName(segments.last!)
            case .nextSegment: AuditLayout.segmentName(segments.last! + 1)
            case .sealedSegment: AuditLayout.segmentName(segments[0])
            case .lock: AuditLayout.lockName
            case .checkpointCopy: AuditLayout.latestCheckpointName
            case .checkpointTemporary: AuditLayout.latestCheckpointName + ".tmp-\(getpid())"
            }
        }
    }

    /// A file only root may read or write, outside the log folder, and what "untouched" means.
    struct Secret {
        let path: String
        static let contents = "root only: must never hold audit records\n"

        init(in folder: TemporaryDirectory) throws {
            path = folder.file("secret")
            try Data(Self.contents.utf8).write(to: URL(fileURLWithPath: path))
            #expect(chown(path, 0, 0) == 0 && chmod(path, 0o600) == 0)
        }

        var facts: [Int] {
            var info = stat()
            guard stat(path, &info) == 0 else { return [] }
            return [Int(info.st_uid), Int(info.st_gid), Int(info.st_mode), Int(info.st_size), info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
        }

        var text: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<unreadable>" }
    }

    /// A log in the shared folder with several sealed segments, filled by root.
    func sharedLog() async throws -> TestLog {
        let log = try TestLog(segmentBytes: 1500)
        try FileManager.default.createDirectory(atPath: log.layout.directory, withIntermediateDirectories: true)
        #expect(chown(log.layout.directory, 0, 65534) == 0)
        #expect(chmod(log.layout.directory, 0o3770) == 0)
        for folder in [log.folder.path, log.folder.file("var"), log.folder.file("var/log")] { chmod(folder, 0o755) }
        try await log.fill(30)
        return log
    }

    func plant(_ trap: Trap, at path: String, pointingTo secret: Secret) throws {
        unlink(path)
        switch trap {
        case .symbolicLink: #expect(symlink(secret.path, path) == 0)
        case .hardLink: #expect(link(secret.path, path) == 0)
        case .fifo: #expect(mkfifo(path, 0o666) == 0)
        }
    }

    /// Runs one root step; returns its unsafe-file refusal, if it stopped with one. Any other
    /// error is a failure of the test.
    func step(_ what: String, _ body: () async throws -> Void) async -> AirlockError? {
        do {
            try await body()
            return nil
        } catch let error as AirlockError where error.reasonKind == .unsafeFile {
            return error
        } catch {
            Issue.record("\(what) failed with something other than an unsafe-file refusal: \(error)")
            return nil
        }
    }

    @Test(arguments: Name.allCases, Trap.allCases)
    func rootWritersLeaveWhatAPlantedNamePointsToAlone(_ name: Name, _ trap: Trap) async throws {
        let log = try await sharedLog()
        defer { log.remove() }
        let secret = try Secret(in: log.folder)
        let before = secret.facts
        let segments = try log.segments()
        try #require(segments.count >= 3)
        let planted = name.file(in: log, segments: segments)
        let plantedPath = log.layout.directory + "/" + planted
        // The next segment's name is planted while a writer has the log open (planted before,
        // it would be the last segment, the active one, when the writer lists the folder).
        if name != .nextSegment { try plant(trap, at: plantedPath, pointingTo: secret) }

        var refusals: [String: AirlockError] = [:]
        // An admin command: opens the log (sealing what is sealed), appends enough to rotate.
        refusals["writer"] = await step("the writer") {
            let writer = try log.writer()
            if name == .nextSegment { try plant(trap, at: plantedPath, pointingTo: secret) }
            for index in 0..<12 { try await writer.append(TestLog.event(index)) }
            _ = try await writer.checkpoint()
        }
        refusals["seal"] = await step("airlock-audit seal") {
            let report = try AuditSeal.run(directory: log.layout.directory)
            if let failure = report.failures.first { throw AirlockError(.refused, kind: .unsafeFile, failure) }
            try AuditSeal.shareWithGateway(directory: log.layout.directory, group: 65534, active: report.active)
        }
        refusals["retention"] = await step("retention") {
            log.clock.move(by: 400 * 86_400_000)
            _ = try await log.writer().applyRetention(AuditPolicy(retentionDays: 180), by: TestLog.alice)
        }
        refusals["verify"] = await step("verify") { _ = try log.verify() }
        refusals["read"] = await step("the reader") {
            try AuditLogReader.forEach(directory: log.layout.directory) { _, _ in true }
        }

        #expect(secret.facts == before, "the root-only file changed (owner, mode, size or time)")
        #expect(secret.text == Secret.contents, "the root-only file holds \(secret.text.utf8.count) bytes of something else")
        for (step, refusal) in refusals {
            #expect(refusal.description.contains(planted), "\(step) refused without naming \(planted): \(refusal)")
        }
        switch name {
        case .activeSegment, .lock:
            // The log cannot go on without these: every root step that writes stops, naming them.
            #expect(refusals["writer"] != nil, "the writer went on with \(planted) planted")
        case .sealedSegment:
            // Left alone and recorded; the writer carries on.
            #expect(refusals["writer"] == nil)
            let recorded = try recordedUnsafeFiles(log)
            #expect(recorded.contains { $0.contains(planted) }, "no audit.unsafe_file record names \(planted): \(recorded)")
            #expect(refusals["seal"] != nil, "airlock-audit seal reported no failure for \(planted)")
        case .nextSegment:
            // The rotation cannot create the next segment through the trap: the writer stops.
            #expect(refusals["writer"] != nil, "the writer rotated into \(planted)")
        case .checkpointCopy, .checkpointTemporary:
            // A copy replaced by rename and a temporary made exclusively: nothing stops.
            #expect(refusals["writer"] == nil, "\(refusals["writer"].map(String.init(describing:)) ?? "")")
        }
    }

    func recordedUnsafeFiles(_ log: TestLog) throws -> [String] {
        var found: [String] = []
        for number in try log.segments() {
            for record in (try? log.records(number)) ?? [] where record.action == AuditAction.unsafeFile.rawValue {
                found.append(record.details?["error"] ?? "")
            }
        }
        return found
    }

    /// The install step (`AuditSeal.shareWithGateway`) chowns the lock and the active segment to
    /// the gateway's group and makes them 0660: through a link that would give the gateway's
    /// user a root-only file to write.
    @Test(arguments: Trap.allCases)
    func sharingWithTheGatewayNeverChownsThroughALink(_ trap: Trap) async throws {
        let log = try await sharedLog()
        defer { log.remove() }
        let secret = try Secret(in: log.folder)
        let before = secret.facts
        try plant(trap, at: log.layout.lockPath, pointingTo: secret)
        #expect(throws: AirlockError.self) {
            try AuditSeal.shareWithGateway(directory: log.layout.directory, group: 65534, active: nil)
        }
        #expect(secret.facts == before)
    }

    /// A stranger's regular file at a segment's name (not root's, not this user's, not in the
    /// folder's group) is refused too: it was not written by a writer of this log.
    @Test func aStrangersFileAtTheActiveSegmentIsRefused() async throws {
        let log = try await sharedLog()
        defer { log.remove() }
        let active = log.segmentPath(try log.segments().last!)
        #expect(chown(active, 12345, 12345) == 0)
        do {
            _ = try log.writer()
            Issue.record("the writer appended to a stranger's file")
        } catch let error as AirlockError {
            #expect(error.reasonKind == .unsafeFile)
            #expect(error.description.contains("belongs to user 12345"), "\(error)")
        }
    }
}
