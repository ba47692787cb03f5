import AirlockCore
import Foundation
import Systemd
import TestSupport
import Testing

/// `JournalSink` outside a container: when journald counts as present, and which field names
/// it refuses before sending anything. (Entries reaching a real journald: AuditJournalTests.)
@Suite struct JournalSinkTests {
    @Test func journaldIsThereOnlyWhenItsSocketIs() throws {
        let folder = try TemporaryDirectory("airlock-journal")
        defer { folder.remove() }
        #expect(JournalSink.system(socket: folder.file("absent")) == nil)
        #expect(FileManager.default.createFile(atPath: folder.file("file"), contents: Data()))
        #expect(JournalSink.system(socket: folder.file("file")) == nil, "a regular file is not journald's socket")
        // A real Unix datagram socket, bound by another process.
        try ProcessResult.run(
            "/usr/bin/env",
            ["python3", "-c", "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])", folder.file("socket")]
        ).checked()
        let sink = try #require(JournalSink.system(socket: folder.file("socket")))
        #expect(sink.socket == folder.file("socket"))
    }

    @Test func fieldNamesJournaldWouldDropAreRefused() throws {
        for name in ["MESSAGE", "AIRLOCK_SEQ", "A1", "X"] { #expect(JournalSink.isValidFieldName(name), "\(name)") }
        for name in ["", "_PID", "1ABC", "lower", "AIRLOCK-SEQ", "AIRLOCK SEQ", String(repeating: "A", count: 65)] {
            #expect(!JournalSink.isValidFieldName(name), "\(name)")
        }
        let folder = try TemporaryDirectory("airlock-journal")
        defer { folder.remove() }
        try ProcessResult.run(
            "/usr/bin/env",
            ["python3", "-c", "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])", folder.file("socket")]
        ).checked()
        let sink = try #require(JournalSink.system(socket: folder.file("socket")))
        do {
            try sink.send([("MESSAGE", "hello"), ("_PID", "1")])
            Issue.record("a trusted field name was sent")
        } catch {
            #expect(error.code == .invalidInput && error.description.contains("'_PID' is not a journal field name"))
        }
        #expect(throws: AirlockError.self) { try sink.send([]) }
    }
}
