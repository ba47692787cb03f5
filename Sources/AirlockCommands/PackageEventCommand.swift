internal import ArgumentParser
internal import AirlockCore
internal import AuditLog

extension AirlockCommand {
    /// `airlock package-event`: the Debian package's maintainer scripts record what dpkg did to
    /// Airlock itself (installed, upgraded, removed, purged) in the audit log, so the chain shows
    /// which release wrote which records. Hidden: only the package calls it.
    struct PackageEvent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "package-event",
            abstract: "Record what the Debian package did to Airlock itself (run by its maintainer scripts).",
            discussion: """
                The airlock package's postinst runs 'package-event configured --version NEW \
                [--previous OLD]', its prerm 'package-event removing --version OLD', its postrm \
                on purge 'package-event purging' (from the copy prerm kept). One \
                audit record (airlock.package) each; a record that cannot be written fails \
                the maintainer script, so dpkg says so instead of losing it.
                """,
            shouldDisplay: false)

        enum Event: String, ExpressibleByArgument, CaseIterable {
            case configured, removing, purging
        }

        @OptionGroup var root: RootOptions
        @Argument(help: "configured (postinst), removing (prerm) or purging (postrm purge).")
        var event: Event
        @Option(help: ArgumentHelp("The package version this event is about.", valueName: "VERSION"))
        var version: String
        @Option(help: ArgumentHelp("The version configured before (an upgrade or a downgrade).", valueName: "VERSION"))
        var previous: String?
        @Option(help: ArgumentHelp("What a purge removed and kept, in words (postrm purge).", valueName: "TEXT"))
        var purged: String?

        func run() async throws {
            var details = ["event": event.rawValue, "package_version": version, "binary_version": AirlockVersion.description]
            if let previous, !previous.isEmpty { details["previous_version"] = previous }
            let change: String
            switch event {
            case .configured:
                switch previous {
                case nil, "": change = "installed"
                case version: change = "reinstalled"
                case let previous?: change = "upgraded from \(previous) to \(version)"
                }
            case .removing: change = "removed (state kept)"
            case .purging: change = "purged: " + (purged ?? "the package's own files")
            }
            details["change"] = change
            try await AdminAudit.run(.package, details: details, layout: root.layout) { Audited(()) }
            Output.line("airlock \(version): \(change); recorded in the audit log")
        }
    }
}
