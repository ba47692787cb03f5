import AirlockCore
import AuditLog
import Foundation
import TestSupport
import Testing

/// Faults of whole processes, not simulated in-process: a writer killed with SIGKILL in the
/// middle of heavy writing, and a writer whose clock was set back (libfaketime).
@Suite(.serialized) struct AuditProcessTests {
    static var audit: String { TestEnvironment.executable("airlock-audit") }

    /// Every line of every segment, the unfinished tail (bytes after the last newline) apart.
    static func lines(_ layout: AuditLayout) throws -> (complete: [[UInt8]], unfinished: [UInt8]) {
        let names = try FileManager.default.contentsOfDirectory(atPath: layout.directory)
            .compactMap(AuditLayout.segmentNumber(of:)).sorted()
        var complete: [[UInt8]] = []
        var unfinished: [UInt8] = []
        for number in names {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: layout.segmentPath(number))))
            var parts = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
            unfinished = parts.removeLast()
            complete += parts.map { $0 + [0x0A] }
        }
        return (complete, unfinished)
    }

    @Test(arguments: [1, 2, 3])
    func killNineOfAWriterInTheMiddleOfHeavyWriting(round: Int) throws {
        let root = try TemporaryDirectory("airlock-audit-kill")
        defer { root.remove() }
        let layout = AuditLayout(host: HostLayout(root: root.path))
        // The benchmark verb is the heavy writer: 256 appenders, many records per flush. Killed
        // once the log holds round × 1 MB, so each round stops it at another point.
        let script = """
            "$1" --root "$2" benchmark --fsync-samples 1 --single 1 --concurrent 100000000 --appenders 256 >/dev/null 2>&1 &
            writer=$!
            for i in $(seq 1200); do
              size=$(cat "$2"/var/log/airlock/audit-*.jsonl 2>/dev/null | wc -c)
              [ "$size" -ge "$3" ] && break
              kill -0 $writer 2>/dev/null || { echo "the writer exited by itself"; exit 1; }
              sleep 0.05
            done
            kill -KILL $writer
            wait $writer
            echo "status $?"
            """
        let killed = try ProcessResult.run("/bin/bash", ["-c", script, "kill-test", Self.audit, root.path, String(round << 20)])
        #expect(killed.stdout == "status 137\n", "\(killed)")

        let before = try Self.lines(layout)
        #expect(before.complete.count > 1000, "the writer was killed before heavy writing began")
        // What a kill can leave: whole records, then at most one unfinished line.
        let records = try before.complete.map { try AuditRecord(line: $0) }
        #expect(records.map(\.seq) == Array(1...UInt64(records.count)))
        #expect(!before.unfinished.contains(0x0A))

        // The next writer (another process) cuts the unfinished line off and says so.
        try ProcessResult.run(Self.audit, ["--root", root.path, "checkpoint"]).checked()
        let after = try Self.lines(layout)
        #expect(after.unfinished.isEmpty)
        #expect(Array(after.complete.prefix(before.complete.count)) == before.complete, "a complete record was lost")
        let added = try after.complete.dropFirst(before.complete.count).map { try AuditRecord(line: $0) }
        if before.unfinished.isEmpty {
            #expect(!added.contains { $0.action == "audit.recovered" })
        } else {
            let recovered = try #require(added.first)
            #expect(recovered.action == "audit.recovered")
            #expect(recovered.details?["discarded_bytes"] == String(before.unfinished.count))
        }
        let verified = try ProcessResult.run(Self.audit, ["--root", root.path, "verify"])
        #expect(verified.status == 0 && verified.stdout.hasPrefix("intact:"), "\(verified)")
    }

    @Test func clockSetBackInAnotherProcessIsCaught() throws {
        let faketime = "/usr/bin/faketime"
        guard FileManager.default.isExecutableFile(atPath: faketime) else {
            Issue.record("this test needs Debian's faketime (scripts/setup-host.sh installs it)")
            return
        }
        let root = try TemporaryDirectory("airlock-audit-clock")
        defer { root.remove() }
        let layout = AuditLayout(host: HostLayout(root: root.path))
        for _ in 0..<2 { try ProcessResult.run(Self.audit, ["--root", root.path, "checkpoint"]).checked() }
        #expect(try ProcessResult.run(Self.audit, ["--root", root.path, "verify"]).status == 0)
        // The same executable with its clock an hour behind: libfaketime shifts clock_gettime(2).
        try ProcessResult.run(faketime, ["-f", "-1h", Self.audit, "--root", root.path, "checkpoint"]).checked()
        try ProcessResult.run(Self.audit, ["--root", root.path, "checkpoint"]).checked()

        let records = try Self.lines(layout).complete.map { try AuditRecord(line: $0) }
        let times = records.map { AuditTime.parse($0.time) ?? 0 }
        let rolled = try #require(times.indices.dropFirst().first { times[$0] < times[$0 - 1] - 3_000_000 })
        let verified = try ProcessResult.run(Self.audit, ["--root", root.path, "verify"])
        #expect(verified.status == 1)
        #expect(
            verified.stderr.contains("DAMAGED: clock-rolled-back: ") && verified.stderr.contains("(seq \(records[rolled].seq))"),
            "\(verified)")
    }
}
