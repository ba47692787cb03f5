import AirlockCore
import AuditLog
import Foundation
import Signing
import TestSupport
import Testing

/// Every admin command leaves exactly one audit record, refused ones included, and a compliance
/// officer can verify the log, keep a checkpoint off the host, and catch tampering.
@Suite struct AuditTrailTests {
    struct Host {
        let root: TemporaryDirectory
        var logDirectory: String { HostLayout(root: root.path).auditDirectory }

        func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
            try ProcessResult.run(TestEnvironment.executable(executable), ["--root", root.path] + arguments)
        }

        /// The records producers wrote (the log's own checkpoints and recoveries left out).
        func records() throws -> [[String: Any]] {
            let names = try FileManager.default.contentsOfDirectory(atPath: logDirectory).filter { $0.hasSuffix(".jsonl") }.sorted()
            var all: [[String: Any]] = []
            for name in names {
                let text = try String(contentsOfFile: logDirectory + "/" + name, encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                    if let action = record["action"] as? String, action != "audit.checkpoint", action != "audit.recovered" { all.append(record) }
                }
            }
            return all
        }
    }

    @Test func everyAdminCommandLeavesExactlyOneRecordAndTheLogVerifies() throws {
        let host = Host(root: try TemporaryDirectory("airlock-audit"))
        defer { host.root.remove() }
        let v1 = try BundleFixture(version: "1.4.0")
        let v2 = try BundleFixture(version: "1.5.0")
        try v1.release.publicKey.spkiPEM.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: host.root.file("v1.pub.pem"))) }
        try v2.release.publicKey.spkiPEM.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: host.root.file("v2.pub.pem"))) }

        let steps: [(arguments: [String], status: Int32, action: String, outcome: String)] = [
            (["verify", v1.bundle], 1, "bundle.verify", "refused"),  // nothing trusted yet
            (["trust", "add", host.root.file("v1.pub.pem"), "--names", "claims-*"], 0, "trust.change", "ok"),
            (["trust", "add", host.root.file("v2.pub.pem")], 0, "trust.change", "ok"),
            (["trust", "threshold", "5"], 1, "trust.change", "refused"),  // more than are trusted
            (["verify", v1.bundle], 0, "bundle.verify", "ok"),
            (["install", v2.bundle, "--no-start"], 0, "bundle.install", "ok"),
            (["install", v1.bundle, "--no-start"], 1, "bundle.install", "refused"),  // older than the floor
            (["install", v1.bundle, "--no-start", "--allow-downgrade"], 0, "bundle.install", "ok"),
            (["activate", "claims-assistant", "1.5.0"], 0, "bundle.activate", "ok"),
            (["rollback", "claims-assistant"], 0, "bundle.rollback", "ok"),
            (["remove", "claims-assistant", "1.4.0"], 1, "bundle.remove", "refused"),  // current
            (["remove", "claims-assistant", "1.5.0"], 0, "bundle.remove", "ok"),
            (["trust", "remove", String(v2.release.publicKey.keyID.dropFirst(7).prefix(12))], 0, "trust.change", "ok"),
        ]
        for (index, step) in steps.enumerated() {
            let result = try host.run("airlock", step.arguments)
            #expect(result.status == step.status, "\(step.arguments): \(result)")
            let records = try host.records()
            #expect(records.count == index + 1, "\(step.arguments) left \(records.count - index) records")
            #expect(records.last?["action"] as? String == step.action)
            #expect(records.last?["outcome"] as? String == step.outcome, "\(step.arguments): \(String(describing: records.last))")
            let actor = records.last?["actor"] as? [String: Any]
            #expect(actor?["kind"] as? String == "local" && actor?["id"] as? String == "root")
            // A bundle file's record names the bundle (refused ones: the name and version its
            // manifest claims), the file's path goes into the details.
            if ["bundle.install", "bundle.verify"].contains(step.action) {
                let target = records.last?["target"] as? [String: Any]
                let version = step.arguments[1] == v1.bundle ? "1.4.0" : "1.5.0"
                #expect(
                    target?["bundle"] as? String == "claims-assistant" && target?["version"] as? String == version,
                    "\(step.arguments): \(String(describing: target))")
                #expect((records.last?["details"] as? [String: String])?["file"] == step.arguments[1])
            }
        }
        let downgrade = try host.records()[7]["details"] as? [String: String]
        #expect(downgrade?["downgrade_allowed"] == "true")

        let verified = try host.run("airlock-audit", ["verify"])
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stdout.hasPrefix("intact: "))
    }

    @Test func aCheckpointKeptOffTheHostCatchesARewrittenLog() throws {
        let host = Host(root: try TemporaryDirectory("airlock-audit"))
        defer { host.root.remove() }
        let fixture = try BundleFixture()
        try fixture.release.publicKey.spkiPEM.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: host.root.file("k.pub.pem"))) }
        _ = try host.run("airlock", ["trust", "add", host.root.file("k.pub.pem")]).checked()
        _ = try host.run("airlock", ["verify", fixture.bundle]).checked()
        let checkpoint = try host.run("airlock-audit", ["checkpoint"]).checked()
        #expect(checkpoint.stdout.filter { $0 == "\n" }.count == 1)
        try Data(checkpoint.output).write(to: URL(fileURLWithPath: host.root.file("kept-off-host.json")))
        try host.run("airlock-audit", ["verify", "--against", host.root.file("kept-off-host.json")]).checked()

        // Someone turns the records' "ok" into "refused" in place.
        let segment = try FileManager.default.contentsOfDirectory(atPath: host.logDirectory).filter { $0.hasSuffix(".jsonl") }.sorted()[0]
        let path = host.logDirectory + "/" + segment
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let edited = text.replacingOccurrences(of: #""outcome":"ok""#, with: #""outcome":"refused""#)
        #expect(edited != text)
        try edited.write(toFile: path, atomically: false, encoding: .utf8)
        let damaged = try host.run("airlock-audit", ["verify", "--json"])
        #expect(damaged.status == 1)
        #expect(damaged.stderr.hasPrefix("airlock-audit: DAMAGED: "), "\(damaged)")
        let report = try JSONSerialization.jsonObject(with: damaged.output) as? [String: Any]
        #expect(report?["intact"] as? Bool == false)
        #expect(report?["kind"] as? String == "edited", "\(String(describing: report))")
    }

    /// Text a client chose (the model it asked for, a detail) reaches the officer three ways, and
    /// none of them lets it act: `search` shows escape sequences as visible `\x1b`, the CSV
    /// export neutralises cells a spreadsheet would run as formulas, and the JSON Lines export
    /// stays byte for byte what the log holds (so it still hashes to the chain).
    @Test func hostileTextIsShownNeverObeyed() async throws {
        let host = Host(root: try TemporaryDirectory("airlock-audit"))
        defer { host.root.remove() }
        let model = "=HYPERLINK(\"http://evil.example/\",\"x\")\u{1b}[2J\u{202e}gguf"
        let writer = try AuditLogWriter(host: HostLayout(root: host.root.path))
        try await writer.append(
            .request(
                by: .client("sha256:c1"), bundle: "claims-llm", version: "1.0.0", adapter: model, outcome: .refused,
                request: AuditRequest(tokensIn: 0, tokensOut: 0, latencyMilliseconds: 1, status: 404, promptSHA256: nil, answerSHA256: nil),
                details: ["reason": "+cmd|' /C calc'!A0", "note": "@SUM(1)\u{9b}31m"]))

        let search = try host.run("airlock-audit", ["search", "--action", "gateway.request"]).checked().stdout
        #expect(!search.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E || $0.value == 0x9B }, "\(search)")
        #expect(search.contains("\\x1b[2J") && search.contains("\\u{202e}"), "\(search)")

        let csv = try host.run("airlock-audit", ["export", "--format", "csv"]).checked().stdout
        let found = csv.split(separator: "\n").first { $0.contains("gateway.request") }
        let row = String(try #require(found))
        let unsafe = row.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x202E || $0.value == 0x9B }
        #expect(!unsafe, "\(row)")
        // Every cell that began with = + - @ now begins with a quote inside quotes.
        #expect(row.contains(#","'=HYPERLINK(""http://evil.example/"",""x"")\x1b[2J\u{202e}gguf","#), "\(row)")
        #expect(!row.contains(",=") && !row.contains(",+") && !row.contains(",@") && !row.contains(",-"), "\(row)")

        let jsonl = try host.run("airlock-audit", ["export", "--format", "jsonl"]).checked().output
        let stored = try Data(contentsOf: URL(fileURLWithPath: host.logDirectory + "/" + AuditLayout.segmentName(1)))
        let line = try #require(jsonl.split(separator: 0x0A).first { String(decoding: $0, as: UTF8.self).contains("gateway.request") })
        #expect(stored.range(of: Data(line) + Data([0x0A])) != nil, "the JSON Lines export changed the record's bytes")
    }

    /// `airlock-audit seal` hands sealed files to root, records that once (audit.seal), and a
    /// run with nothing to do records nothing; only root may run it.
    @Test func sealHandsSealedFilesToRootAndRecordsOnlyAChange() async throws {
        let host = Host(root: try TemporaryDirectory("airlock-audit"))
        defer { host.root.remove() }
        // The folder as tmpfiles.d makes it: 3770 root:<gateway group> (65534 here).
        try FileManager.default.createDirectory(atPath: host.logDirectory, withIntermediateDirectories: true)
        #expect(chown(host.logDirectory, 0, 65534) == 0 && chmod(host.logDirectory, 0o3770) == 0)
        // Several segments (small ones: the CLI's are 64 MiB), then two as the gateway leaves them.
        let writer = try AuditLogWriter(host: HostLayout(root: host.root.path), options: AuditLogWriter.Options(segmentBytes: 1500))
        for index in 0..<20 { try await writer.append(.auditRead(by: .local(user: "alice", uid: 1000), verb: "search", query: "n=\(index)")) }
        let names = try FileManager.default.contentsOfDirectory(atPath: host.logDirectory).filter { AuditLayout.segmentNumber(of: $0) != nil }
            .sorted()
        try #require(names.count >= 3)
        for name in names.prefix(2) {
            #expect(chown(host.logDirectory + "/" + name, 65534, 65534) == 0 && chmod(host.logDirectory + "/" + name, 0o440) == 0)
        }
        let before = try host.records().count

        let notRoot = try ProcessResult.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", TestEnvironment.executable("airlock-audit"), "--root", host.root.path, "seal"])
        #expect(notRoot.status == 1 && notRoot.stderr.contains("run it as root"), "\(notRoot)")

        let sealed = try host.run("airlock-audit", ["seal", "--json"]).checked()
        let report = try JSONSerialization.jsonObject(with: Data(sealed.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(report["changed"] as? [String] == Array(names.prefix(2)), "\(sealed.stdout)")
        #expect(report["active"] as? String == names.last)
        #expect((report["sealed"] as? [String])?.count == names.count - 1)
        for name in names.dropLast() {
            var info = stat()
            stat(host.logDirectory + "/" + name, &info)
            #expect(info.st_uid == 0 && info.st_mode & 0o7777 == 0o440, "\(name)")
        }
        var records = try host.records()
        #expect(records.count == before + 1)
        let record = try #require(records.last)
        #expect(record["action"] as? String == "audit.seal")
        #expect((record["details"] as? [String: String])?["segments"] == names.prefix(2).joined(separator: " "))

        let again = try host.run("airlock-audit", ["seal"]).checked()
        #expect(again.stdout.contains("nothing to do: the \(names.count - 1) sealed files are root's and read-only"), "\(again)")
        records = try host.records()
        #expect(records.count == before + 1, "a run that changed nothing records nothing")
        try host.run("airlock-audit", ["verify"]).checked()
    }

    /// Filters a search could never satisfy are a wrong command line (64), read nothing and
    /// record nothing; export takes the same filters and writes to --output.
    @Test func impossibleFiltersAreRefusedAndExportTakesSearchsFilters() throws {
        let host = Host(root: try TemporaryDirectory("airlock-audit"))
        defer { host.root.remove() }
        let fixture = try BundleFixture()
        _ = try host.run("airlock", ["verify", fixture.bundle])  // refused: nothing trusted
        _ = try host.run("airlock", ["clients", "add", "app", "--adapters", "claims"]).checked()
        let before = try host.records().count
        for arguments in [
            ["search", "--outcome", "refusd"], ["search", "--since", "2026-12-02", "--until", "2026-12-01"],
            ["search", "--since", "yesterday"], ["export", "--format", "csv", "--outcome", "maybe"],
        ] {
            let result = try host.run("airlock-audit", arguments)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stdout.isEmpty)
        }
        #expect(try host.records().count == before, "a refused search was recorded")

        let file = host.root.file("refused.csv")
        let exported = try host.run("airlock-audit", ["export", "--format", "csv", "--outcome", "refused", "--output", file]).checked()
        #expect(exported.stdout.isEmpty && exported.stderr.contains("wrote 1 record to \(file)"), "\(exported)")
        let rows = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 2 && rows[1].contains(",bundle.verify,"), "\(rows)")
        let adds = try host.run("airlock-audit", ["export", "--format", "jsonl", "--action", "client.add"]).checked()
        #expect(adds.stdout.contains("\"client.add\"") && !adds.stdout.contains("\"bundle.verify\""), "\(adds.stdout)")
    }

    @Test func searchAndExportFindRecordsAndAreThemselvesRecorded() throws {
        let host = Host(root: try TemporaryDirectory("airlock-audit"))
        defer { host.root.remove() }
        let fixture = try BundleFixture()
        try fixture.release.publicKey.spkiPEM.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: host.root.file("k.pub.pem"))) }
        _ = try host.run("airlock", ["verify", fixture.bundle])  // refused: nothing trusted
        _ = try host.run("airlock", ["trust", "add", host.root.file("k.pub.pem")]).checked()
        _ = try host.run("airlock", ["install", fixture.bundle, "--no-start"]).checked()
        _ = try host.run("airlock-audit", ["checkpoint"]).checked()

        let refused = try host.run("airlock-audit", ["search", "--outcome", "refused"]).checked()
        #expect(refused.stdout.contains("bundle.verify"))
        #expect(refused.stdout.hasSuffix("1 record found\n"), "\(refused.stdout)")
        let installs = try host.run("airlock-audit", ["search", "--action", "bundle", "--json"]).checked()
        let lines = installs.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.contains("\"action\":\"bundle.") })

        let today = String(UTCTime.text(secondsSince1970: Int(Date().timeIntervalSince1970)).prefix(10))
        let jsonl = try host.run("airlock-audit", ["export", "--format", "jsonl", "--since", today]).checked()
        #expect(
            jsonl.stdout.split(separator: "\n").last?.contains("\"action\":\"audit.checkpoint\"") == true, "the export ends at a signed checkpoint")
        let csv = try host.run("airlock-audit", ["export", "--format", "csv"]).checked()
        let rows = csv.stdout.split(separator: "\n")
        #expect(rows.first == "seq,time,clock,actor_kind,actor,action,bundle,version,adapter,outcome,tokens_in,tokens_out,latency_ms,status,request_id,source,prompt_sha256,answer_sha256,details")
        #expect(rows.contains { $0.contains(",bundle.install,claims-assistant,1.4.0,,ok,") })

        // Each read left a record naming the local user and the query.
        let reads = try host.records().filter { $0["action"] as? String == "audit.read" }
        #expect(reads.count == 4)

        let report = try host.run("airlock-audit", ["report", "--output", host.root.file("report.html")]).checked()
        #expect(report.stdout.contains("integrity intact"))
        let page = try String(contentsOfFile: host.root.file("report.html"), encoding: .utf8)
        #expect(page.contains("Integrity: INTACT"))
        #expect(page.contains("End of the log: "), "the page says whether the journal proves where the log ends")
        #expect(page.contains("Activity per day") && page.contains("<svg"))
        #expect(page.contains("bundle.verify") && page.contains("refused"))
        #expect(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"), "the page must be self-contained")
        #expect((reads.first?["details"] as? [String: String])?["query"] == "outcome=refused")
        #expect((reads.first?["actor"] as? [String: Any])?["id"] as? String == "root")
        try host.run("airlock-audit", ["verify"]).checked()

        // The page's counts add up to what verify counts, successful admin rows show their
        // details, and a range limits the page to it.
        let ranged = host.root.file("range.html")
        try host.run("airlock-audit", ["report", "--output", ranged, "--since", "2000-01-01", "--until", "2000-01-02"]).checked()
        let empty = try String(contentsOfFile: ranged, encoding: .utf8)
        #expect(empty.contains("from 0 records and 0 signed checkpoints") && empty.contains("records from 2000-01-01 to 2000-01-02"), "\(empty)")
        let whole = host.root.file("whole.html")
        try host.run("airlock-audit", ["report", "--output", whole]).checked()
        let text = try String(contentsOfFile: whole, encoding: .utf8)
        let counted = text.range(of: #"\((\d+) lines of the log"#, options: .regularExpression).map {
            String(text[$0].dropFirst().prefix { $0.isNumber })
        }
        // verify writes no record: it counts the log the page was made from.
        let verified = try host.run("airlock-audit", ["verify", "--json"]).checked()
        let verifiedLines = (try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [String: Any])?["records"] as? Int
        #expect(counted.flatMap { Int($0) } == verifiedLines, "\(String(describing: counted)) vs \(String(describing: verifiedLines))")
        #expect(text.contains("signers="), "a successful install's details are shown")
        #expect(text.contains("@media print") && text.contains("table-layout:fixed"))
        let backwards = try host.run("airlock-audit", ["report", "--output", ranged, "--since", "2026-12-02", "--until", "2026-12-01"])
        #expect(backwards.status == 64)
    }
}
