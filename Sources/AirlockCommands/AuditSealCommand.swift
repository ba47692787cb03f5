internal import AirlockCore
internal import ArgumentParser
internal import AuditLog

extension AirlockAuditCommand {
    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand every sealed log file to root (root:GROUP, 0440); airlock-audit-seal.timer runs it.",
            discussion: """
                The gateway seals the files it fills but cannot give them away: one it sealed stays \
                its own (read-only, but it could make it writable again) until a root writer takes \
                it. This makes every sealed file root's and read-only and changes nothing else (not \
                the file being appended to). When it changed a file it appends one audit.seal record \
                naming them; a run with nothing to do records nothing. Runs as root only; \
                airlock-audit-seal.timer (installed by 'airlock install') runs it every 5 minutes.
                """)
        @OptionGroup var root: RootOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let layout = root.layout
            let report = try AuditSeal.run(directory: layout.auditDirectory)
            if !report.changed.isEmpty {
                let reason = report.failures.isEmpty ? [:] : ["reason": report.failures.joined(separator: "; ")]
                try await AdminAudit.record(
                    .seal(
                        by: AdminAudit.actor, segments: report.changed, group: report.group, outcome: report.failures.isEmpty ? .ok : .failed,
                        details: reason),
                    layout: layout)
            }
            if output.json {
                try Output.json(report)
            } else if !report.changed.isEmpty {
                Output.line("handed to root (root:\(report.group), 0440): \(report.changed.joined(separator: ", ")); recorded as audit.seal")
            } else if report.failures.isEmpty {
                let count = report.sealed.count
                Output.line(
                    count == 0
                        ? "nothing to do: no sealed file yet"
                        : "nothing to do: the \(count) sealed file\(count == 1 ? " is" : "s are") root's and read-only")
            }
            if let active = report.active, !output.json { Output.line("left as it is: \(active) (being appended to)") }
            if let first = report.failures.first {
                let count = report.failures.count
                throw AirlockError(.system, "\(count) sealed file\(count == 1 ? "" : "s") could not be handed to root: \(first)")
            }
        }
    }
}
