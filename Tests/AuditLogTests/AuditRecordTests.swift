import AuditLog
import Foundation
import Signing
import TestSupport
import Testing

@Suite struct AuditRecordTests {
    @Test func canonicalLineHasSortedKeysNoSpacesAndOneNewline() throws {
        let record = AuditRecord(
            seq: 42, time: "2026-11-29T05:00:39.123Z", clock: .synchronized,
            actor: .local(user: "alice", uid: 1000), action: AuditAction.install.rawValue,
            target: AuditTarget(bundle: "claims-llm", version: "1.2.0"), outcome: .ok,
            details: ["zeta": "last", "alpha": "first \"quoted\"\n"],
            request: AuditRequest(tokensIn: 12, tokensOut: 40, latencyMilliseconds: 8, status: 200),
            prev: AuditRecord.genesisPrev)
        let expected =
            #"{"action":"bundle.install","actor":{"id":"alice","kind":"local","uid":1000},"clock":"synchronized","#
            + #""details":{"alpha":"first \"quoted\"\n","zeta":"last"},"outcome":"ok","#
            + #""prev":"0000000000000000000000000000000000000000000000000000000000000000","#
            + #""request":{"latency_ms":8,"status":200,"tokens_in":12,"tokens_out":40},"seq":42,"#
            + #""target":{"bundle":"claims-llm","version":"1.2.0"},"time":"2026-11-29T05:00:39.123Z"}"# + "\n"
        #expect(String(decoding: record.line, as: UTF8.self) == expected)
        #expect(try AuditRecord(line: record.line) == record)
    }

    @Test func absentOptionalsAreLeftOut() throws {
        let record = AuditRecord(
            seq: 1, time: "2026-11-29T05:00:39.123Z", clock: .unknown, actor: .client("sha256:ab"),
            action: AuditAction.request.rawValue, target: .none, outcome: .refused, prev: AuditRecord.genesisPrev)
        let text = String(decoding: record.line, as: UTF8.self)
        #expect(text.contains(#""actor":{"id":"sha256:ab","kind":"client"}"#))
        #expect(text.contains(#""target":{}"#))
        #expect(!text.contains("\"details\"") && !text.contains("\"request\"") && !text.contains(" "))
    }

    @Test func readsEscapesAndHandEditedLinesToo() throws {
        let record = AuditRecord(
            seq: 7, time: "2026-11-29T05:00:39.123Z", clock: .unsynchronized, actor: .local(user: "ünï \"q\"", uid: 0),
            action: AuditAction.policyLoaded.rawValue, target: AuditTarget(adapter: "legal"), outcome: .failed,
            details: ["tab": "a\tb", "control": "\u{01}\u{1f}", "back": "c:\\x", "cr": "\r\n"],
            request: AuditRequest(tokensIn: 0, status: 503, answerSHA256: "ff"), prev: String(repeating: "e", count: 64))
        #expect(try AuditRecord(line: record.line) == record)
        #expect(String(decoding: record.line, as: UTF8.self).contains(#""control":"\u0001\u001f""#))
        // Valid JSON but not the log's form (spaces, an unknown key): still read, so the chain judges it.
        let edited =
            #"{ "seq": 7, "time": "2026-11-29T05:00:39.123Z", "clock": "unknown", "extra": true, "#
            + #""actor": {"kind": "client", "id": "x"}, "action": "gateway.request", "target": {}, "#
            + #""outcome": "ok", "prev": "00" }"#
        let read = try AuditRecord(line: Array(edited.utf8))
        #expect(read.seq == 7 && read.actor == .client("x") && read.prev == "00")
        #expect(throws: (any Error).self) { try AuditRecord(line: Array(#"{"seq":1}"#.utf8)) }
        #expect(throws: (any Error).self) { try AuditRecord(line: Array("not json".utf8)) }
    }

    @Test func timesAreRFC3339UTCWithMilliseconds() {
        #expect(AuditTime.format(0) == "1970-01-01T00:00:00.000Z")
        #expect(AuditTime.format(1_795_953_639_123) == "2026-11-29T12:00:39.123Z")
        #expect(AuditTime.parse("2026-11-29T12:00:39.123Z") == 1_795_953_639_123)
        #expect(AuditTime.parse("2026-11-29T12:00:39Z") == nil)
        #expect(AuditTime.parse("2026-13-29T12:00:39.123Z") == nil)
    }

    @Test func actionsAreDistinctDottedNames() {
        let names = AuditAction.allCases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        #expect(names.allSatisfy { $0.contains(".") && $0 == $0.lowercased() })
        let event = AuditEvent.downgradeAllowed(by: .local(user: "root", uid: 0), bundle: "b", from: "2.0", to: "1.0", outcome: .ok)
        #expect(event.action == .downgradeAllowed && event.details == ["from": "2.0"] && event.target.version == "1.0")
    }

    @Test func clockStateComesFromTheTimesyncFlagFirst() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let flag = folder.file("synchronized")
        #expect(FileManager.default.createFile(atPath: flag, contents: Data()))
        #expect(SystemAuditClock(synchronizedFlag: flag).syncState() == .synchronized)
        // Without the flag, the kernel's adjtimex(2) state decides; any of the three is an answer.
        let kernel = SystemAuditClock(synchronizedFlag: folder.file("absent")).syncState()
        #expect([.synchronized, .unsynchronized, .unknown].contains(kernel))
        let now = SystemAuditClock().now()
        #expect(abs(now - Int64(Date().timeIntervalSince1970 * 1000)) < 5000)
    }

    @Test func checkpointRoundTripsThroughItsJSONForm() async throws {
        let log = try TestLog(segmentBytes: 1 << 20)
        defer { log.remove() }
        #expect(try await log.fill(5).count == 5)
        let checkpoint = try await log.writer().checkpoint()
        #expect(checkpoint.seq == 6)
        #expect(checkpoint.reason == "request")
        #expect(try AuditCheckpoint(json: checkpoint.json) == checkpoint)
        #expect(checkpoint.isSigned(by: try log.publicKey()))
        #expect(!checkpoint.isSigned(by: try PrivateKey.generate(.ecdsaP384).publicKey))
        #expect(throws: (any Error).self) { try AuditCheckpoint(json: Array("{\"seq\":1}".utf8)) }
    }
}
