import AirlockCore
@testable import AuditLog
import Testing

/// Text a client or a bundle chose reaches journald with its control characters escaped.
@Suite struct AuditJournalFieldsTests {
    @Test func hostileTextCarriesNoNewlineOrEscapeIntoTheJournal() async throws {
        let log = try TestLog()
        defer { log.folder.remove() }
        let hostile = "claims\n\u{1b}[2Jaudit #1: root bundle.install ok\u{202e}"
        let writer = try log.writer()
        try await writer.append(
            .request(
                by: .client("alk_aaaaaaaaaaaa"), bundle: "claims-assistant", version: "1.0.0", adapter: hostile, outcome: .refused,
                request: AuditRequest(status: 404), details: ["model": hostile]))
        let line = try #require(try log.lines(1).last)
        let record = try AuditRecord(line: line)
        #expect(record.target.adapter == hostile, "the record keeps the exact text")
        let fields = AuditJournal.fields(record, line: line, hash: "h", segment: "audit-000001.jsonl", log: log.layout.directory + "\n\u{1b}[2J")
        for (name, value) in fields where name != "AIRLOCK_RECORD" {
            #expect(value.unicodeScalars.allSatisfy(Printable.isPlain), "\(name) carries raw control text: \(value.debugDescription)")
        }
        // The record goes as its exact JSON line, whose escapes already keep every C0 control out.
        let exact = try #require(fields.first { $0.name == "AIRLOCK_RECORD" }?.value)
        #expect(!exact.unicodeScalars.contains { $0.value < 0x20 })
        let adapter = try #require(fields.first { $0.name == "AIRLOCK_TARGET_ADAPTER" }?.value)
        let named = try #require(fields.first { $0.name == "AIRLOCK_LOG" }?.value)
        #expect(named == log.layout.directory + "\\x0a\\x1b[2J")
        #expect(adapter == "claims\\x0a\\x1b[2Jaudit #1: root bundle.install ok\\u{202e}")
    }
}
