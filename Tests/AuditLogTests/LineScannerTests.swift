@testable import AuditLog
import Foundation
import Testing

/// The verifier's fast line reader agrees with the full record parser on every line the writer
/// makes, and hands anything unusual to it.
@Suite struct LineScannerTests {
    static func lines() -> [[UInt8]] {
        var records = (0..<8).map { index in
            AuditRecord(
                seq: UInt64(index + 1), time: AuditTime.format(1_795_953_600_000 + Int64(index) * 86_399_999), clock: .synchronized,
                actor: .local(user: "alice", uid: 1000), action: AuditAction.install.rawValue,
                target: AuditTarget(bundle: "claims-llm", version: "1.\(index).0"), outcome: .ok, prev: AuditRecord.genesisPrev)
        }
        records[1].details = ["reason": "quote \" backslash \\ newline \n tab \t bell \u{07}", "seq": "7", "time": "x"]
        records[2].request = AuditRequest(tokensIn: 1, tokensOut: 2, latencyMilliseconds: 3, status: 200, promptSHA256: "ab")
        records[3].actor = .client("sha256:c1")
        records[3].clock = .unsynchronized
        records[3].outcome = .refused
        records[4].action = AuditAction.checkpoint.rawValue
        records[4].clock = .unknown
        records[5].action = AuditAction.retention.rawValue
        records[5].details = ["seal": #"{"action":"audit.checkpoint","seq":3}"#]
        records[6].target = .none
        records[6].outcome = .failed
        records[7].seq = UInt64.max
        records[7].prev = String(repeating: "f", count: 64)
        return records.map { Array($0.line.dropLast()) }
    }

    func slow(_ line: [UInt8]) throws -> LineFacts { LineScanner.facts(try AuditRecord(line: line)) }

    func fast(_ line: [UInt8]) -> LineFacts? { line.withUnsafeBufferPointer { LineScanner.facts($0) } }

    @Test func fastAndFullReadingsAgreeOnEveryKindOfLine() throws {
        for line in Self.lines() {
            let quick = try #require(fast(line), "the fast reader refused \(String(decoding: line, as: UTF8.self))")
            let full = try slow(line)
            #expect(quick.seq == full.seq && quick.prev == full.prev && quick.time == full.time)
            #expect(quick.kind == full.kind && quick.clock == full.clock)
        }
    }

    @Test func unusualLinesGoToTheFullParser() {
        let line = Self.lines()[0]
        let text = String(decoding: line, as: UTF8.self)
        let unusual = [
            text.replacingOccurrences(of: #""action""#, with: #""action" "#),  // whitespace
            text.replacingOccurrences(of: "{\"action\"", with: "{\"zzz\":\"1\",\"action\""),  // unknown key
            text.replacingOccurrences(of: "alice", with: "alicé"),  // non-ASCII
            text.replacingOccurrences(of: #""seq":1,"#, with: #""seq":01,"#),  // leading zero
            text.replacingOccurrences(of: #""kind":"local""#, with: #""kind":"admin""#),  // no such actor kind
            text.replacingOccurrences(of: ".000Z", with: "Z"),  // another time form
            String(text.dropLast()),  // unfinished
            // What no record reader reads as a record (found by fuzz-audit): the scanner must not take it either.
            text.replacingOccurrences(of: #""uid":1000"#, with: #""uid":4294967296"#),  // uid over 32 bits
            text.replacingOccurrences(of: #""uid":1000"#, with: #""uid":"1000""#),  // uid as a string
            text.replacingOccurrences(of: #""id":"alice","#, with: #""kind":"local","id":"alice","#),  // unsorted, twice
            text.replacingOccurrences(of: #""uid":1000"#, with: #""uid":1000,"zone":"x""#),  // unknown actor key
            text.replacingOccurrences(of: #""bundle":"claims-llm""#, with: #""bundle":7"#),  // target value not a string
        ]
        let request = String(decoding: Self.lines()[2], as: UTF8.self)
        for variant in [
            request.replacingOccurrences(of: #""status":200"#, with: #""status":65536"#),  // status over 16 bits
            request.replacingOccurrences(of: #""tokens_in":1"#, with: #""tokens_in":"1""#),  // count as a string
            request.replacingOccurrences(of: #""prompt_sha256":"ab""#, with: #""prompt_sha256":5"#),  // digest as a number
        ] {
            #expect(variant != request)
            #expect(fast(Array(variant.utf8)) == nil, "read fast: \(variant)")
            #expect(AuditRecord.readersDisagree(line: Array(variant.utf8)) == nil)
        }
        for variant in unusual {
            #expect(variant != text)
            #expect(fast(Array(variant.utf8)) == nil, "read fast: \(variant)")
        }
    }

    @Test func timeArithmeticMatchesTheCLibrary() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let milliseconds = Int64.random(in: 0...4_102_444_800_000, using: &generator)  // 1970 to 2100
            let text = Array(AuditTime.format(milliseconds).utf8)
            #expect(text.withUnsafeBufferPointer { LineScanner.parseTime($0) } == milliseconds)
        }
        // Out-of-range days normalize as timegm(3) does.
        let odd = Array("2026-02-31T10:00:60.500Z".utf8)
        #expect(odd.withUnsafeBufferPointer { LineScanner.parseTime($0) } == AuditTime.parse("2026-02-31T10:00:60.500Z"))
    }
}
