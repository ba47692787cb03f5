public import ArgumentParser

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
            abstract: "Check every record's chain and every checkpoint's signature; name the first damage.")
        @OptionGroup var root: RootOptions
        @Option(help: ArgumentHelp("A checkpoint kept off the host; prove nothing up to it changed.", valueName: "FILE"))
        var against: String?
        @OptionGroup var output: OutputOptions
        func run() throws { throw notAvailable("airlock-audit verify") }
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

    struct Checkpoint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the latest signed checkpoint, short enough to keep on paper or WORM media.")
        @OptionGroup var root: RootOptions
        func run() throws { throw notAvailable("airlock-audit checkpoint") }
    }
}
