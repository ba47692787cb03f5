internal import ArgumentParser
internal import AirlockCore
internal import AuditLog

extension AirlockCommand {
    /// `airlock package-event`: the Debian package's maintainer scripts record what dpkg did to
    /// Airlock itself (installed, upgraded, removed) in the audit log, so the chain shows
    /// which release wrote which records. Hidden: only the package calls it.
    struct PackageEvent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "package-event",
            abstract: "Record what the Debian package did to Airlock itself (run by its maintainer scripts).",
            discussion: """
                The airlock package's postinst runs 'package-event configured --version NEW \
                [--previous OLD]', its prerm 'package-event removing --version OLD'. One \
                audit record (airlock.package) each; a record that cannot be written fails \
                the maintainer script, so dpkg says so instead of losing it.
                """,
            shouldDisplay: false)

        enum Event: String, ExpressibleByArgument, CaseIterable {
            case configured, removing
        }

        @OptionGroup var root: RootOptions
        @Argument(help: "configured (postinst) or removing (prerm).")
        var event: Event
        @Option(help: ArgumentHelp("The package version this event is about.", valueName: "VERSION"))
        var version: String
        @Option(help: ArgumentHelp("The version configured before (an upgrade or a downgrade).", valueName: "VERSION"))
        var previous: String?

        func run() async throws {
            var details = ["event": event.rawValue, "package_version": version, "binary_version": AirlockVersion.description]
            if let previous, !previous.isEmpty { details["previous_version"] = previous }
            let change: String
            switch event {
            case .configured: change = previous.map { $0.isEmpty ? "installed" : "upgraded from \($0) to \(version)" } ?? "installed"
            case .removing: change = "removed (state kept)"
            }
            details["change"] = change
            try await AdminAudit.run(.package, details: details, layout: root.layout) { Audited(()) }
            Output.line("airlock \(version): \(change); recorded in the audit log")
        }
    }
}
