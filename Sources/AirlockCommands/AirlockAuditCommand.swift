public import ArgumentParser
internal import AirlockCore
internal import AuditLog
internal import HostServices
internal import Foundation

/// `airlock-audit`: verifies, searches, exports and reports on the audit log.
public struct AirlockAuditCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "airlock-audit",
        abstract: "Verify, search, export and report on Airlock's tamper-evident audit log.",
        discussion: """
            Every request and every admin action is one record, chained to the one before and \
            covered by signed checkpoints. 'verify' proves nothing was changed or removed; \
            keep the output of 'checkpoint' off the host to prove it even against root.
            """,
        version: AirlockVersion.description,
        subcommands: [Verify.self, Search.self, Export.self, Report.self, Checkpoint.self, Retention.self, Seal.self, Benchmark.self]
    )

    @OptionGroup var root: RootOptions

    public init() {}

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record's chain and every checkpoint's signature; name the first damage.",
            discussion: """
                Exit status 0 only when the whole log is intact. With --against, the log must \
                also still contain, unchanged, everything up to a checkpoint you kept off the host \
                (printed earlier by 'airlock-audit checkpoint').

                The end of the log is compared with the system journal: every writer sends each \
                record to journald before anyone is told it was written, and the log's own \
                accounts cannot take an entry back. A log that ends before the newest record the \
                journal received (from root or the log folder's owner) is 'truncated-tail', even \
                in the open segment after the last checkpoint. Reading the system journal needs \
                root or the group systemd-journal (or adm); where it cannot be read, or holds no \
                entry of this log, verify says the end is not proven and judges it by the \
                checkpoints alone. --no-journal skips the comparison.
                """)
        @OptionGroup var root: RootOptions
        @Option(help: ArgumentHelp("A checkpoint kept off the host; prove nothing up to it changed.", valueName: "FILE"))
        var against: String?
        @Flag(help: "Do not compare the log's end with the system journal.")
        var noJournal = false
        @OptionGroup var output: OutputOptions

        struct Tail: Encodable {
            /// "journal" (proven up to `seq`), "unproven" (see `reason`) or "not-checked".
            var evidence: String
            var seq: UInt64?
            var time: String?
            var uid: UInt32?
            var entries: Int?
            var reason: String?

            init(_ evidence: AuditTailEvidence) {
                switch evidence {
                case .journal(let head, let entries):
                    self.evidence = "journal"
                    seq = head.seq
                    time = head.time
                    uid = head.uid
                    self.entries = entries
                case .unproven(let reason):
                    self.evidence = "unproven"
                    self.reason = reason
                case .notChecked:
                    self.evidence = "not-checked"
                }
            }

            var line: String {
                switch evidence {
                case "journal":
                    "end of the log: proven by the system journal, whose newest entry of this log is record \(seq ?? 0) (\(time ?? "")), "
                        + "among \(entries ?? 0) entries"
                case "unproven": "end of the log: NOT proven by the journal (\(reason ?? "")); judged by the checkpoints alone"
                default: "end of the log: not compared with the journal (--no-journal)"
                }
            }
        }

        struct Report: Encodable {
            var intact: Bool
            var records: Int?
            var lastSeq: UInt64?
            var lastCheckpoint: AuditCheckpoint?
            var tail: Tail
            var damage: String?
            var kind: String?
            var segment: String?
            var line: Int?
            var seq: UInt64?
        }

        func run() throws {
            let layout = AuditLayout(host: root.layout)
            guard FileManager.default.fileExists(atPath: layout.publicKeyPath) else {
                throw AirlockError(.invalidInput, "no audit log under \(layout.directory): nothing has been recorded yet")
            }
            let outside = try against.map { path throws(AirlockError) in try AuditCheckpoint(json: try readFile(path)) }
            let (verdict, evidence) = try AuditLogVerifier.verifyReportingTail(
                layout: layout, against: outside, tail: noJournal ? .none : .journal)
            let tail = Tail(evidence)
            switch verdict {
            case .intact(let records, let lastSeq, let checkpoint):
                if output.json {
                    try Output.json(Report(intact: true, records: records, lastSeq: lastSeq, lastCheckpoint: checkpoint, tail: tail))
                } else {
                    Output.line(
                        "intact: \(records) records, the last is number \(lastSeq); every record chains to the one before it and every checkpoint signature is valid"
                    )
                    if let checkpoint { Output.line("latest checkpoint: record \(checkpoint.seq) at \(checkpoint.time)") }
                    if outside != nil { Output.line("nothing up to the checkpoint kept off the host was changed or removed") }
                    Output.line(tail.line)
                }
            case .damaged(let damage):
                if output.json {
                    try Output.json(
                        Report(
                            intact: false, tail: tail, damage: damage.description, kind: damage.kind.rawValue, segment: damage.segment,
                            line: damage.line, seq: damage.seq))
                }
                throw AirlockError(.refused, "DAMAGED: \(damage.description)")
            }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find records by time, actor, action, adapter or outcome.",
            discussion: "The search itself is recorded in the audit log, with the local user who ran it.")
        @OptionGroup var root: RootOptions
        @OptionGroup var filters: QueryOptions
        @Flag(help: "Print matching records as JSON Lines, exactly as stored.") var json = false

        func run() async throws {
            let query = try filters.query()
            try await recordRead(verb: "search", query: query, layout: root.layout)
            var count = 0
            try AuditLogReader.forEach(directory: root.layout.auditDirectory) {
                (line: ArraySlice<UInt8>, record: AuditRecord) throws(AirlockError) -> Bool in
                guard query.matches(record) else { return true }
                count += 1
                if json {
                    Output.record(line)
                } else {
                    let target = [record.target.bundle, record.target.version, record.target.adapter].compactMap { $0 }.joined(separator: " ")
                    let reason = record.details?["reason"].map { "  (\($0))" } ?? ""
                    Output.line(
                        "\(record.seq)  \(record.time)  \(record.actor.id)  \(record.action)  \(target.isEmpty ? "-" : target)  \(record.outcome.rawValue)\(reason)"
                    )
                }
                return true
            }
            if !json { Output.line("\(count) record\(count == 1 ? "" : "s") found") }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export records for a time range with the checkpoint that covers them.",
            discussion: """
                jsonl: the records exactly as stored, continued up to and including the next signed \
                checkpoint, so someone outside can check the chain and its signature with the \
                host's audit public key. csv: one row per record in the range, for spreadsheets. \
                The export itself is recorded in the audit log.
                """)
        enum Format: String, ExpressibleByArgument, CaseIterable { case csv, jsonl }
        @OptionGroup var root: RootOptions
        @Option(help: "csv or jsonl.") var format: Format
        @OptionGroup var filters: QueryOptions
        @Option(help: ArgumentHelp("Write the export to FILE (atomically) instead of standard output.", valueName: "FILE"))
        var output: String?

        func run() async throws {
            let query = try filters.query()
            try await recordRead(verb: "export", query: query, layout: root.layout)
            // A fresh checkpoint after everything so far: the export always ends at a signature.
            let writer = try AuditLogWriter(host: root.layout)
            _ = try await writer.checkpoint()
            await writer.journalDrained()
            var bytes: [UInt8] = []
            func emit(_ text: some Sequence<UInt8>) {
                bytes.append(contentsOf: text)
                bytes.append(0x0A)
                if output == nil, bytes.count >= 1 << 20 { flush() }
            }
            func flush() {
                FileHandle.standardOutput.write(Data(bytes))
                bytes.removeAll(keepingCapacity: true)
            }
            if format == .csv { emit(Printable.escaped(AuditCSV.header, limit: .max).utf8) }
            var started = false
            var count = 0
            try AuditLogReader.forEach(directory: root.layout.auditDirectory) {
                (line: ArraySlice<UInt8>, record: AuditRecord) throws(AirlockError) -> Bool in
                let matches = query.matches(record)
                if matches { count += 1 }
                switch format {
                case .csv:
                    if matches { emit(Printable.escaped(AuditCSV.row(record), limit: .max).utf8) }
                    return true
                case .jsonl:
                    if matches {
                        started = true
                        emit(line)
                        return true
                    }
                    guard started else { return true }
                    // Past the range: continue to the next checkpoint, which signs the chain so far.
                    emit(line)
                    return record.action != "audit.checkpoint"
                }
            }
            guard let output else { return flush() }
            try AtomicFile.write(bytes, to: output, mode: 0o640)
            CommandMain.writeError("airlock-audit: wrote \(count) record\(count == 1 ? "" : "s") to \(output)")
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a self-contained HTML report: integrity verdict, activity, refusals, admin actions.",
            discussion:
                "One file, no scripts, nothing loaded from elsewhere: open it in any browser or print it. The report is itself recorded in the audit log."
        )
        @OptionGroup var root: RootOptions
        @Option(help: ArgumentHelp("The HTML file to write.", valueName: "FILE.html")) var output: String
        @Option(help: ArgumentHelp("Report on records from this time (UTC: 2026-11-01 or 2026-11-01T10:00:00Z).", valueName: "TIME")) var since:
            String?
        @Option(help: ArgumentHelp("Report on records until this time (UTC; a date alone means its end).", valueName: "TIME")) var until: String?

        func validate() throws {
            do throws(AirlockError) { _ = try range() } catch { throw ValidationError(error.message) }
        }

        func range() throws(AirlockError) -> AuditQuery {
            try QueryOptions.query(since: since, until: until)
        }

        func run() async throws {
            let host = root.layout
            let query = try range()
            try await recordRead(verb: "report", query: query, layout: host)
            let layout = AuditLayout(host: host)
            let (verdict, evidence) = try AuditLogVerifier.verifyReportingTail(layout: layout)
            let (text, intact): (String, Bool)
            switch verdict {
            case .intact(let records, let lastSeq, let checkpoint):
                let tail = Verify.Tail(evidence).line
                text =
                    "The whole log verifies: all \(records) lines (records and checkpoints) chain to one another and every checkpoint signature is valid (last line \(lastSeq)\(checkpoint.map { ", last checkpoint at \($0.seq)" } ?? ""))."
                    + " " + tail.prefix(1).uppercased() + tail.dropFirst() + "."
                intact = true
            case .damaged(let damage):
                text = damage.description
                intact = false
            }
            let described =
                since == nil && until == nil ? "all records" : "records from \(since ?? "the start") to \(until ?? "now") (UTC)"
            let page = AuditReportPage.html(
                verdict: text, intact: intact, tally: try AuditReportPage.tally(directory: layout.directory, query: query),
                generated: UTCTime.text(secondsSince1970: Int(Date().timeIntervalSince1970)), range: described)
            try AtomicFile.write(Array(page.utf8), to: output, mode: 0o644)
            Output.line("wrote \(output): integrity \(intact ? "intact" : "DAMAGED")")
            if !intact { throw AirlockError(.refused, "DAMAGED: \(text)") }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a checkpoint of the log as it is now and print it, short enough to keep on paper or WORM media.",
            discussion: """
                Keep the printed line somewhere the host's administrators cannot change (paper, \
                write-once media, another system). Later, 'airlock-audit verify --against FILE' \
                proves that nothing recorded up to it was removed or rewritten, even by root.
                """)
        @OptionGroup var root: RootOptions

        func run() async throws {
            let writer = try AuditLogWriter(host: root.layout)
            let checkpoint = try await writer.checkpoint()
            await writer.journalDrained()
            Output.line(String(decoding: checkpoint.json, as: UTF8.self).trimmingCharacters(in: .newlines))
        }
    }
}

extension AirlockAuditCommand {
    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove sealed log files older than the retention policy (ROOT/etc/airlock/audit.yaml).",
            discussion: """
                retention_days (default 396, never below 180): a sealed file whose every record is \
                older goes, whole, oldest first; the file being written never does. Each removal is \
                recorded first (audit.retention, with the file's seq range and its signed seal), so \
                'verify' accepts a log that now starts later, and still names any file removed \
                otherwise. airlock-audit-retention.timer (installed by 'airlock install') runs it \
                daily, as root; see its runs with 'journalctl -u airlock-audit-retention' and its \
                records with 'airlock-audit search --action audit.retention'.
                """)
        @OptionGroup var root: RootOptions
        @Flag(help: "Only print what would be removed.") var dryRun = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let host = root.layout
            let policyPath = AuditPolicy.path(host: host)
            let policy = try AuditPolicy.load(path: policyPath)
            guard FileManager.default.fileExists(atPath: host.auditDirectory) else {
                throw AirlockError(.invalidInput, "no audit log under \(host.auditDirectory): nothing has been recorded yet")
            }
            let writer = try AuditLogWriter(host: host)
            let report = try await writer.applyRetention(policy, by: AdminAudit.actor, dryRun: dryRun)
            await writer.journalDrained()
            if output.json {
                try Output.json(report)
                return
            }
            let verb = dryRun ? "would remove" : "removed"
            for segment in report.removed {
                Output.line("\(verb) \(segment.name): records \(segment.firstSeq)-\(segment.lastSeq), \(segment.firstTime) to \(segment.lastTime)")
            }
            if report.removed.isEmpty {
                Output.line("nothing to remove: every sealed file holds records newer than \(report.cutoff) (retention \(report.retentionDays) days)")
            }
            if let kept = report.kept { Output.line("kept: \(kept)") }
        }
    }
}

extension AirlockAuditCommand {
    struct Benchmark: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure durable appends and verify speed on a scratch log under --root DIR (never the host's log).",
            discussion: """
                Creates a new audit log under DIR (refused for / or where a log already exists), \
                measures the disk's write+fdatasync latency in the same folder as the baseline, then \
                durable appends by one appender and by many at once (group commit), and the time \
                'verify' takes once the log holds --verify-records records. Prints ratios against \
                the baseline.
                """)
        @OptionGroup var root: RootOptions
        @Option(help: "write+fdatasync pairs timed for the baseline.") var fsyncSamples = 300
        @Option(help: "Records appended by one appender, one at a time.") var single = 2000
        @Option(help: "Records appended by --appenders concurrent appenders.") var concurrent = 50000
        @Option(help: "Concurrent appenders.") var appenders = 64
        @Option(help: "Fill the log up to this many records, then time verify (0: skip).") var verifyRecords = 0
        @Flag(help: "Do not send the records to journald (where it runs): the baseline for what the journal copy costs.")
        var noJournal = false
        @OptionGroup var output: OutputOptions

        struct Result: Encodable {
            var fdatasyncMedianUs: Double
            var fdatasyncPerSecond: Double
            var singleAppendsPerSecond: Double
            var singleVersusFdatasync: Double
            var appenders: Int
            var concurrentAppendsPerSecond: Double
            var concurrentVersusFdatasync: Double
            var concurrentVersusSingle: Double
            var verifyRecords: Int?
            var verifySeconds: Double?
            var verifyRecordsPerSecond: Double?
            /// Whether the records went to journald too.
            var journal: Bool
        }

        func validate() throws {
            guard root.layout.root != "/" else {
                throw ValidationError("the benchmark writes a scratch log: give it --root DIR, a folder of its own, never /")
            }
            guard appenders >= 1, single >= 1, concurrent >= 1, fsyncSamples >= 1 else {
                throw ValidationError("--single, --concurrent, --appenders and --fsync-samples must be at least 1")
            }
        }

        func run() async throws {
            let layout = AuditLayout(host: root.layout)
            if FileManager.default.fileExists(atPath: layout.directory),
                try !FileManager.default.contentsOfDirectory(atPath: layout.directory).isEmpty
            {
                throw AirlockError(.refused, "\(layout.directory) already holds an audit log: the benchmark needs a new folder")
            }
            let writer = try AuditLogWriter(layout: layout, options: AuditLogWriter.Options(journalSocket: noJournal ? nil : AuditJournal.defaultSocket))
            let fsync = try AuditBenchmark.fdatasyncLatency(folder: layout.directory, samples: fsyncSamples)
            let event = AuditEvent.request(
                by: .client("sha256:bench"), bundle: "claims-assistant", version: "1.4.0", adapter: "claims", outcome: .ok,
                request: AuditRequest(
                    tokensIn: 812, tokensOut: 164, latencyMilliseconds: 930, status: 200,
                    promptSHA256: String(repeating: "a", count: 64), answerSHA256: String(repeating: "b", count: 64)))

            var started = ContinuousClock.now
            for _ in 0..<single { try await writer.append(event) }
            let singleRate = Double(single) / AuditBenchmark.seconds(since: started)

            started = ContinuousClock.now
            try await AuditBenchmark.append(event, count: concurrent, appenders: appenders, to: writer)
            let concurrentRate = Double(concurrent) / AuditBenchmark.seconds(since: started)

            var result = Result(
                fdatasyncMedianUs: fsync * 1e6, fdatasyncPerSecond: 1 / fsync, singleAppendsPerSecond: singleRate,
                singleVersusFdatasync: singleRate * fsync, appenders: appenders, concurrentAppendsPerSecond: concurrentRate,
                concurrentVersusFdatasync: concurrentRate * fsync, concurrentVersusSingle: concurrentRate / singleRate,
                journal: writer.journal != nil)
            if verifyRecords > 0 {
                var written = single + concurrent
                while written < verifyRecords {
                    let batch = min(100_000, verifyRecords - written)
                    try await AuditBenchmark.append(event, count: batch, appenders: max(appenders, 256), to: writer)
                    written += batch
                }
                let key = try AuditKey.publicKey(layout)
                started = ContinuousClock.now
                let verdict = try AuditLogVerifier.verify(directory: layout.directory, publicKey: key)
                let seconds = AuditBenchmark.seconds(since: started)
                guard case .intact(let records, _, _) = verdict else {
                    throw AirlockError(.refused, "the benchmark's own log does not verify: \(verdict)")
                }
                result.verifyRecords = records
                result.verifySeconds = seconds
                result.verifyRecordsPerSecond = Double(records) / seconds
            }
            if output.json {
                try Output.json(result)
                return
            }
            func number(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
            Output.line(result.journal ? "records also sent to journald (before each append returns)" : "no journald copy")
            Output.line("fdatasync baseline: median \(number(fsync * 1e6)) us = \(number(1 / fsync)) flushes/s")
            Output.line(
                "durable appends, one appender: \(number(singleRate)) records/s (\(number(result.singleVersusFdatasync, 2))x the fdatasync rate)")
            Output.line(
                "durable appends, \(appenders) appenders: \(number(concurrentRate)) records/s (\(number(result.concurrentVersusFdatasync, 1))x the fdatasync rate, \(number(result.concurrentVersusSingle, 1))x one appender)"
            )
            if let records = result.verifyRecords, let seconds = result.verifySeconds, let rate = result.verifyRecordsPerSecond {
                Output.line("verify: \(records) records in \(number(seconds, 2)) s = \(number(rate)) records/s")
            }
        }
    }
}

/// Reading the log is itself recorded: who searched or exported, and what they asked for.
func recordRead(verb: String, query: AuditQuery, layout: HostLayout) async throws(AirlockError) {
    guard FileManager.default.fileExists(atPath: layout.auditDirectory) else {
        throw AirlockError(.invalidInput, "no audit log under \(layout.auditDirectory): nothing has been recorded yet")
    }
    let text = query.description
    try await AdminAudit.record(.auditRead(by: AdminAudit.actor, verb: verb, query: text.isEmpty ? nil : text), layout: layout)
}

/// The filters `search` and `export` share, checked before anything is read: a time that is
/// not UTC, `--since` after `--until`, an outcome other than ok, refused or failed are usage
/// errors (exit 64).
struct QueryOptions: ParsableArguments {
    enum Outcome: String, ExpressibleByArgument, CaseIterable { case ok, refused, failed }

    @Option(help: ArgumentHelp("From this time (UTC: 2026-11-29 or 2026-11-29T10:00:00Z).", valueName: "TIME")) var since: String?
    @Option(help: ArgumentHelp("Until this time (UTC; a date alone means its end).", valueName: "TIME")) var until: String?
    @Option(help: "Client key id or local user name.") var actor: String?
    @Option(help: "Action, e.g. bundle.install, or a prefix such as bundle.") var action: String?
    @Option(help: "Adapter (model id).") var adapter: String?
    @Option(help: "Outcome: ok, refused or failed.") var outcome: Outcome?
    @Option(help: ArgumentHelp("A gateway request's id (the X-Request-Id its client sent or was answered with).", valueName: "ID"))
    var requestId: String?
    @Option(help: ArgumentHelp("Gateway requests from this address (192.0.2.7, 2001:db8::7) or address:port.", valueName: "ADDRESS"))
    var source: String?

    func validate() throws {
        do throws(AirlockError) { _ = try query() } catch { throw ValidationError(error.message) }
    }

    func query() throws(AirlockError) -> AuditQuery {
        var query = try Self.query(since: since, until: until, actor: actor, action: action, adapter: adapter, outcome: outcome?.rawValue)
        query.requestID = requestId
        query.source = source
        return query
    }

    static func query(
        since: String?, until: String?, actor: String? = nil, action: String? = nil, adapter: String? = nil, outcome: String? = nil
    ) throws(AirlockError) -> AuditQuery {
        func time(_ text: String?, option: String, endOfDay: Bool) throws(AirlockError) -> Int64? {
            guard let text else { return nil }
            do { return try AuditQuery.time(text, endOfDay: endOfDay) } catch {
                throw AirlockError(.usage, "--\(option): \(error.message)")
            }
        }
        let from = try time(since, option: "since", endOfDay: false)
        let to = try time(until, option: "until", endOfDay: true)
        if let from, let to, from > to {
            throw AirlockError(.usage, "--since \(since ?? "") is after --until \(until ?? ""): nothing could match")
        }
        return AuditQuery(since: from, until: to, actor: actor, action: action, adapter: adapter, outcome: outcome)
    }
}
