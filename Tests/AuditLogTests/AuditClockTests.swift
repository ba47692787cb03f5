import AuditLog
import Foundation
import TestSupport
import Testing

/// The host clock's sync state, as records state it.
@Suite struct AuditClockTests {
    @Test func kernelStateComesFromAdjtimexThroughTheShim() throws {
        let folder = try TemporaryDirectory("airlock-clock")
        defer { folder.remove() }
        // No timesyncd flag: the kernel's adjtimex(2) decides. Read it independently too.
        let clock = SystemAuditClock(synchronizedFlag: folder.file("no-flag"))
        let probe = try ProcessResult.run(
            "/usr/bin/env",
            ["python3", "-c", "import ctypes; print(ctypes.CDLL(None).adjtimex(ctypes.create_string_buffer(512)))"]
        ).checked()
        let state = try #require(Int32(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(state >= 0, "adjtimex failed in the probe: \(probe)")
        #expect(clock.syncState() == (state == 5 ? .unsynchronized : .synchronized))
        // systemd-timesyncd's flag file wins.
        #expect(FileManager.default.createFile(atPath: folder.file("synchronized"), contents: Data()))
        #expect(SystemAuditClock(synchronizedFlag: folder.file("synchronized")).syncState() == .synchronized)
    }
}
