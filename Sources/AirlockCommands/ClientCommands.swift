internal import ArgumentParser
internal import AirlockCore
internal import AuditLog
internal import Foundation
internal import ClientRegistry
internal import HostServices

extension AirlockCommand {
    /// `airlock clients add|list|revoke`: the API clients the gateway lets in.
    struct Clients: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage API clients: who may call the gateway, and which models each may use.",
            discussion: """
                Clients live in /etc/airlock/clients.yaml (under --root DIR if given). Each has one \
                API key, stored only as a salted scrypt hash, and a list of the models it may use. \
                The gateway notices a changed file within a quarter of a second: adding and \
                revoking take effect without a restart. Every add and revoke, refused ones \
                included, is recorded in the audit log.
                """,
            subcommands: [Add.self, List.self, Revoke.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a client and print its new API key, once, alone on stdout.",
                discussion: """
                    The key (alk_<key id>_<secret>, 60 characters) is printed once and never \
                    again: only its hash is kept. Store it now, in the client's configuration or \
                    a secrets manager. A lost key cannot be recovered: revoke the client and add \
                    it again to issue a new one. Logs and audit records name a key by its id \
                    only (alk_<key id>).

                    --adapters is required and names the models the client may use, comma-separated: \
                    adapter names (claims,legal), a bundle's name for its base model \
                    (claims-assistant), or '*' for every model, including ones installed later.

                    --metrics lets the key read the gateway's GET /metrics (Prometheus text); no \
                    other key can. A monitoring system's key needs no models: give --metrics alone.

                    Examples:
                      airlock clients add teller-app --adapters claims
                      airlock clients add analytics --adapters claims-assistant,legal
                      KEY=$(airlock clients add batch-job --adapters '*')
                      airlock clients add prometheus --metrics
                    """)
            @OptionGroup var root: RootOptions
            @Argument(help: ArgumentHelp("The client's name (a-z, 0-9, '.', '_', '-'); audit records name the client by it.", valueName: "CLIENT"))
            var client: String
            @Option(
                help: ArgumentHelp(
                    "Required: the models it may use, comma-separated: adapter names, a bundle name for its base model, or '*' for all.",
                    valueName: "A,B"))
            var adapters: String?
            @Flag(help: "It may read GET /metrics (with no --adapters: a monitoring-only key).")
            var metrics = false
            @OptionGroup var output: OutputOptions

            struct Issued: Encodable {
                var client: String
                var keyId: String
                var key: String
                var adapters: [String]
                var metrics: Bool
                var created: String
            }

            var models: [String] {
                (adapters ?? "").split(separator: ",").map { (part: Substring) -> String in
                    String(part).trimmingCharacters(in: .whitespaces)
                }.filter { (model: String) -> Bool in !model.isEmpty }
            }

            func run() async throws {
                let (key, added) = try await addClient(layout: root.layout)
                if output.json {
                    try Output.json(
                        Issued(
                            client: added.name, keyId: added.presentedKeyID, key: key.revealed, adapters: added.adapters,
                            metrics: added.readsMetrics, created: added.created))
                } else {
                    Output.line(key.revealed)
                }
                let known = ServicePlan.installedModels(layout: root.layout)
                let unknown = added.adapters.filter { $0 != ClientsFile.allModels && !known.contains($0) }
                if !unknown.isEmpty {
                    CommandMain.writeError(
                        """
                        airlock: warning: no installed bundle offers \(unknown.joined(separator: ", ")) \
                        (installed models: \(known.isEmpty ? "none" : known.sorted().joined(separator: ", "))); \
                        the client may use \(unknown.count == 1 ? "it" : "them") once a bundle that has \(unknown.count == 1 ? "it" : "them") is installed
                        """)
                }
                CommandMain.writeError(
                    """
                    airlock: store this key now: it is shown only this once (only its hash is kept). \
                    Client '\(added.name)' (key id \(added.presentedKeyID)) may use: \
                    \(added.adapters.isEmpty ? "no model" : added.adapters.joined(separator: ", "))\(added.readsMetrics ? "; may read /metrics" : "")
                    """)
            }

            /// Adds the client and records it (refusals too); returns the new key and entry.
            func addClient(layout: HostLayout) async throws -> (ClientKey, APIClient) {
                let models = self.models
                var known = ["client": client]
                if !models.isEmpty { known["adapters"] = models.joined(separator: ",") }
                if metrics { known["metrics"] = "true" }
                return try await AdminAudit.run(.clientAdd, details: known, layout: layout) {
                    let result = try add(models: models, layout: layout)
                    return Audited(result, details: ["key": result.1.presentedKeyID])
                }
            }

            private func add(models: [String], layout: HostLayout) throws(AirlockError) -> (ClientKey, APIClient) {
                guard adapters != nil || metrics else {
                    throw AirlockError(
                        .usage,
                        """
                        --adapters is required: name the models '\(client)' may use, comma-separated: adapter names \
                        (--adapters claims,legal), the bundle's name for its base model, or '*' for every model \
                        (or give --metrics alone for a key that only reads /metrics)
                        """)
                }
                let now = Int(Date().timeIntervalSince1970)
                return try ClientsFile.update(path: layout.clients) { (file: inout ClientsFile) throws(AirlockError) -> (ClientKey, APIClient) in
                    let key = try file.add(name: client, adapters: models, readsMetrics: metrics, secondsSince1970: now)
                    guard let added = file.activeClient(named: client) else {
                        throw AirlockError(.system, "client '\(client)' is missing right after it was added")
                    }
                    return (key, added)
                }
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List clients: name, key id, models, when added and when revoked.",
                discussion: "Shows key ids only (alk_<key id>): keys themselves are never stored.")
            @OptionGroup var root: RootOptions
            @OptionGroup var output: OutputOptions

            struct Entry: Encodable {
                var name: String
                var keyId: String
                var adapters: [String]
                var metrics: Bool
                var created: String
                var revoked: String?
            }

            func run() throws {
                let file = try ClientsFile.load(path: root.layout.clients)
                let entries: [Entry] = file.clients.map { (client: APIClient) -> Entry in
                    Entry(
                        name: client.name, keyId: client.presentedKeyID, adapters: client.adapters, metrics: client.readsMetrics,
                        created: client.created, revoked: client.revoked)
                }
                if output.json { return try Output.json(entries) }
                if entries.isEmpty { Output.line("no clients yet: add one with 'airlock clients add CLIENT --adapters A,B'") }
                for entry in entries {
                    let state = entry.revoked.map { (time: String) -> String in "revoked \(time)" } ?? "active"
                    let models = entry.adapters.isEmpty ? "-" : entry.adapters.joined(separator: ",")
                    Output.line(
                        "\(entry.name)  \(entry.keyId)  models: \(models)\(entry.metrics ? "  metrics" : "")  added \(entry.created)  \(state)")
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke a client's key (takes effect without a restart).",
                discussion: """
                    The entry stays in the file, marked revoked with the time, so audit records \
                    that name its key id can still be traced to it. A running gateway refuses the \
                    key within a quarter of a second. To give the client a new key, add it again.
                    """)
            @OptionGroup var root: RootOptions
            @Argument(help: ArgumentHelp("The client's name ('airlock clients list' shows them).", valueName: "CLIENT"))
            var client: String

            @OptionGroup var output: OutputOptions

            func run() async throws {
                let revoked = try await revokeClient(layout: root.layout)
                if output.json {
                    return try Output.json(["client": revoked.name, "key_id": revoked.presentedKeyID, "revoked": revoked.revoked ?? ""])
                }
                Output.line("revoked \(revoked.name) (key id \(revoked.presentedKeyID)) at \(revoked.revoked ?? "")")
            }

            /// Revokes the client and records it (refusals too); returns the revoked entry.
            func revokeClient(layout: HostLayout) async throws -> APIClient {
                try await AdminAudit.run(.clientRevoke, details: ["client": client], layout: layout) {
                    let now = Int(Date().timeIntervalSince1970)
                    let revoked = try ClientsFile.update(path: layout.clients) { (file: inout ClientsFile) throws(AirlockError) -> APIClient in
                        try file.revoke(name: client, secondsSince1970: now)
                    }
                    return Audited(revoked, details: ["key": revoked.presentedKeyID])
                }
            }
        }
    }
}
