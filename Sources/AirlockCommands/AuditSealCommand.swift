internal import AirlockCore
internal import ArgumentParser
internal import AuditLog

extension AirlockAuditCommand {
    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand every sealed log file to root (root:GROUP, 0440) and sign what the gateway wrote since root's last checkpoint; airlock-audit-seal.timer runs it.",
            discussion: """
                The gateway seals the files it fills but cannot give them away: one it sealed stays \
                its own (read-only, but it could make it writable again) until a root writer takes \
                it. This makes every sealed file root's and read-only and changes nothing else (not \
                the file being appended to). When it changed a file it appends one audit.seal record \
                naming them. When records were written after root's latest checkpoint (the \
                gateway's), it signs a checkpoint with the host key (reason "timer"), kept also \
                where the gateway's user cannot write: so every record is under root's signature \
                within about 6 minutes, even where no journal proves the log's end. A run with \
                nothing to do records nothing. Runs as root only; airlock-audit-seal.timer \
                (installed by 'airlock install') runs it every 5 minutes.
                """)
        @OptionGroup var root: RootOptions
        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            var seal: AuditSeal.Report
            /// The host key's checkpoint this run signed; nil when nothing came after root's last.
            var checkpoint: AuditCheckpoint?

            func encode(to encoder: any Encoder) throws {
                try seal.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(checkpoint, forKey: .checkpoint)
            }
            enum Key: String, CodingKey { case checkpoint }
        }

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
            // Root's latest checkpoint; what came after it (the gateway's records) gets one now.
            // (One that cannot be read is as none: a new checkpoint replaces it.)
            let rootSeq = ((try? AuditCheckpoint.rootHead(AuditLayout(host: layout))) ?? nil)?.seq ?? 0
            let writer = try AuditLogWriter(host: layout)
            let signed = try await writer.checkpointIfRecords(after: rootSeq)
            await writer.journalDrained()
            if output.json {
                try Output.json(Report(seal: report, checkpoint: signed))
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
            if let signed, !output.json {
                Output.line("signed with the host key: checkpoint record \(signed.seq) over the records since root's last checkpoint (record \(rootSeq))")
            }
            if let first = report.failures.first {
                let count = report.failures.count
                throw AirlockError(.system, "\(count) sealed file\(count == 1 ? "" : "s") could not be handed to root: \(first)")
            }
        }
    }
}
