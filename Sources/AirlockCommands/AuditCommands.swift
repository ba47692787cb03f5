public import ArgumentParser
internal import AirlockCore
internal import AuditLog
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
        subcommands: [Verify.self, Search.self, Export.self, Report.self, Checkpoint.self]
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
                """)
        @OptionGroup var root: RootOptions
        @Option(help: ArgumentHelp("A checkpoint kept off the host; prove nothing up to it changed.", valueName: "FILE"))
        var against: String?
        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            var intact: Bool
            var records: Int?
            var lastSeq: UInt64?
            var lastCheckpoint: AuditCheckpoint?
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
            let verdict = try AuditLogVerifier.verify(directory: layout.directory, publicKey: try AuditKey.publicKey(layout), against: outside)
            switch verdict {
            case .intact(let records, let lastSeq, let checkpoint):
                if output.json {
                    try Output.json(Report(intact: true, records: records, lastSeq: lastSeq, lastCheckpoint: checkpoint))
                } else {
                    Output.line("intact: \(records) records, the last is number \(lastSeq); every record chains to the one before it and every checkpoint signature is valid")
                    if let checkpoint { Output.line("latest checkpoint: record \(checkpoint.seq) at \(checkpoint.time)") }
                    if outside != nil { Output.line("nothing up to the checkpoint kept off the host was changed or removed") }
                }
            case .damaged(let damage):
                if output.json {
                    try Output.json(Report(
                        intact: false, damage: damage.description, kind: damage.kind.rawValue, segment: damage.segment,
                        line: damage.line, seq: damage.seq))
                }
                throw AirlockError(.refused, "DAMAGED: \(damage.description)")
            }
        }
    }

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find records by time, actor, action, adapter or outcome.")
        @OptionGroup var root: RootOptions
        @Option(help: ArgumentHelp("From this time (ISO 8601, UTC).", valueName: "TIME")) var since: String?
        @Option(help: ArgumentHelp("Until this time (ISO 8601, UTC).", valueName: "TIME")) var until: String?
        @Option(help: "Client key id or local user.") var actor: String?
        @Option(help: "Action, e.g. install or chat.completions.") var action: String?
        @Option(help: "Adapter (model id).") var adapter: String?
        @Option(help: "Outcome, e.g. ok or refused.") var outcome: String?
        @OptionGroup var output: OutputOptions
        func run() throws { throw notAvailable("airlock-audit search") }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export records for a time range with the checkpoint that covers them.")
        enum Format: String, ExpressibleByArgument, CaseIterable { case csv, jsonl }
        @OptionGroup var root: RootOptions
        @Option(help: "csv or jsonl.") var format: Format
        @Option(help: ArgumentHelp("From this time (ISO 8601, UTC).", valueName: "TIME")) var since: String?
        @Option(help: ArgumentHelp("Until this time (ISO 8601, UTC).", valueName: "TIME")) var until: String?
        func run() throws { throw notAvailable("airlock-audit export") }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a self-contained HTML report: integrity verdict, activity, refusals, admin actions.")
        @OptionGroup var root: RootOptions
        @Option(help: ArgumentHelp("The HTML file to write.", valueName: "FILE.html")) var output: String
        func run() throws { throw notAvailable("airlock-audit report") }
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
            Output.line(String(decoding: checkpoint.json, as: UTF8.self).trimmingCharacters(in: .newlines))
        }
    }
}
