public import ArgumentParser
internal import AirlockCore
internal import BundleIO
internal import Foundation
internal import Signing
internal import Store

/// `airlock`: verifies, installs and runs bundles on the air-gapped target host (as root).
public struct AirlockCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "airlock",
        abstract: "Verify, install, activate, roll back and run signed model bundles (on the target host).",
        discussion: """
            Run as root on the air-gapped host. --root DIR keeps every file Airlock touches \
            (config, store, audit log, units) under DIR, for demos and tests.
            """,
        version: AirlockVersion.description,
        subcommands: [
            Trust.self, Verify.self, Install.self, List.self, Status.self, Activate.self,
            Rollback.self, Remove.self, Run.self, Clients.self, Doctor.self,
        ]
    )

    @OptionGroup var root: RootOptions

    public init() {}

    struct Trust: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the trust policy: who may sign which bundles, and how many must.",
            subcommands: [Add.self, List.self, Remove.self, Threshold.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Trust a public key or a CA certificate.")
            @OptionGroup var root: RootOptions
            @Argument(help: ArgumentHelp("A public key (KEY.pub.pem) or CA certificate (CA.pem).", valueName: "PEM"))
            var file: String
            @Option(help: ArgumentHelp("Bundle names it may sign: patterns with '*', comma-separated (default: any name).", valueName: "PATTERN,..."))
            var names: String = "*"
            func run() throws {
                let layout = root.layout
                var policy = try TrustPolicy.load(path: layout.trustPolicy)
                let patterns = names.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
                let bytes = try readFile(file)
                if String(decoding: bytes, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") {
                    let certificate = try Certificate(pem: bytes)
                    try policy.add(authority: certificate, names: patterns)
                    try policy.save(path: layout.trustPolicy)
                    Output.line("trusted CA \(certificate.subject) \(certificate.fingerprint) for bundle names: \(patterns.joined(separator: ","))")
                } else {
                    let key = try PublicKey(pem: bytes)
                    try policy.add(key: key, names: patterns)
                    try policy.save(path: layout.trustPolicy)
                    Output.line("trusted key \(key.keyID) (\(key.algorithm.rawValue)) for bundle names: \(patterns.joined(separator: ","))")
                }
                if patterns == ["*"] { Output.line("note: it may sign any bundle name; restrict it with --names") }
            }

        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List trusted keys and CAs.")
            @OptionGroup var root: RootOptions
            @OptionGroup var output: OutputOptions

            struct Entry: Encodable {
                var id: String
                var kind: String
                var algorithm: String?
                var subject: String?
                var names: [String]
                var added: String
            }

            struct Listing: Encodable {
                var threshold: Int
                var signers: [Entry]
            }

            func run() throws {
                let policy = try TrustPolicy.load(path: root.layout.trustPolicy)
                let entries = policy.keys.map {
                    Entry(id: $0.id, kind: "key", algorithm: $0.algorithm.rawValue, subject: nil, names: $0.names, added: $0.added)
                } + policy.authorities.map {
                    Entry(id: $0.id, kind: "ca", algorithm: nil, subject: $0.subject, names: $0.names, added: $0.added)
                }
                if output.json {
                    try Output.json(Listing(threshold: policy.threshold, signers: entries))
                    return
                }
                Output.line("threshold: \(policy.threshold) signature\(policy.threshold == 1 ? "" : "s") from distinct trusted signers")
                if entries.isEmpty { Output.line("nothing is trusted yet: add a key with 'airlock trust add KEY.pub.pem'") }
                for entry in entries {
                    let what = entry.kind == "key" ? "key \(entry.algorithm ?? "")" : "CA  \(entry.subject ?? "")"
                    Output.line("\(entry.id)  \(what)  names: \(entry.names.joined(separator: ","))  added \(entry.added)")
                }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop trusting a key or CA.")
            @OptionGroup var root: RootOptions
            @Argument(help: "The id shown by 'trust list' (at least its first 8 hex digits).")
            var id: String
            func run() throws {
                var policy = try TrustPolicy.load(path: root.layout.trustPolicy)
                let removed = try policy.remove(id: id)
                try policy.save(path: root.layout.trustPolicy)
                Output.line("no longer trusted: \(removed)")
            }
        }

        struct Threshold: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set how many distinct trusted signatures a bundle needs.")
            @OptionGroup var root: RootOptions
            @Argument(help: "The number of signatures (k of n).")
            var count: Int
            func run() throws {
                var policy = try TrustPolicy.load(path: root.layout.trustPolicy)
                try policy.setThreshold(count)
                try policy.save(path: root.layout.trustPolicy)
                Output.line("bundles now need \(count) signature\(count == 1 ? "" : "s") from distinct trusted signers")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a bundle's signatures against the trust policy and every byte against its manifest; writes nothing.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle file.")
        var bundle: String
        @OptionGroup var output: OutputOptions
        @Flag(help: "Show progress even when standard error is not a terminal.")
        var progress = false

        struct Report: Encodable {
            var verified: Bool
            var bundle: String
            var name: String?
            var version: String?
            var signers: [TrustedSigner]?
            var files: Int?
            var bytes: UInt64?
            var stage: String?
            var reasons: [String]?
        }

        func run() throws {
            let policy = try TrustPolicy.load(path: root.layout.trustPolicy)
            let outcome = try BundleVerifier.verify(path: bundle, policy: policy, progress: ProgressReporter(force: progress))
            switch outcome {
            case .verified(let verified):
                let manifest = verified.manifest
                if output.json {
                    try Output.json(Report(
                        verified: true, bundle: bundle, name: manifest.name, version: manifest.version,
                        signers: verified.signers, files: verified.fileCount, bytes: verified.payloadBytes))
                } else {
                    Output.line("verified \(manifest.name) \(manifest.version): \(verified.fileCount) files, \(Output.bytes(verified.payloadBytes)), every byte matches the signed manifest")
                    for signer in verified.signers { Output.line("signed by \(signer.keyID) (\(signer.via))") }
                }
            case .refused(let refusal):
                if output.json {
                    try Output.json(Report(verified: false, bundle: bundle, stage: refusal.stage.rawValue, reasons: refusal.reasons))
                }
                throw AirlockError(.refused, "refused \(bundle): \(refusal.description)")
            }
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify and install a bundle atomically, make it current and (re)start its services.",
            discussion: """
                The bundle is read once: verified while it is extracted into a staging folder, \
                flushed, renamed into place read-only, and made current by switching one link. \
                Any failure leaves the previous version current and nothing of the new one behind. \
                Services are not built yet: --no-start is required for now.
                """)
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle file.")
        var bundle: String
        @Flag(help: "Install and activate, but do not enable or start the services.")
        var noStart = false
        @Flag(help: "Allow a version not newer than the highest ever activated (audited).")
        var allowDowngrade = false
        @Flag(help: "Show progress even when standard error is not a terminal.")
        var progress = false

        func run() throws {
            guard noStart else {
                throw AirlockError(.notImplemented, "starting services is not available in this build of Airlock yet: install with --no-start, and run it with 'airlock run' once that lands")
            }
            let layout = root.layout
            let policy = try TrustPolicy.load(path: layout.trustPolicy)
            let result = try BundleStore(layout: layout).install(
                bundle: bundle, policy: policy, allowDowngrade: allowDowngrade, progress: ProgressReporter(force: progress))
            Output.line("installed \(result.name) \(result.version) in \(layout.versionDirectory(name: result.name, version: result.version)) and made it current\(result.previous.map { " (was \($0))" } ?? "")")
            if let runtime = result.installed.runtime { Output.line("runtime: \(result.installed.runtimeReason ?? runtime)") }
            if result.downgradeAllowed { Output.line("note: installed although not newer than the highest version ever activated (--allow-downgrade)") }
            if !result.pruned.isEmpty { Output.line("removed older versions (store policy keep_versions): \(result.pruned.joined(separator: ", "))") }
            Output.line("services: not started (--no-start)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List installed bundles and versions.")
        @OptionGroup var root: RootOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let report = try StatusReport.make(BundleStore(layout: root.layout))
            if output.json { return try Output.json(report) }
            if report.bundles.isEmpty { Output.line("nothing installed") }
            for bundle in report.bundles {
                let versions = bundle.versions.map { $0.version == bundle.current ? "\($0.version) (current)" : $0.version }
                Output.line("\(bundle.name): \(versions.joined(separator: ", "))")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what is installed and current, signers, runtime variant and service state.")
        @OptionGroup var root: RootOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let report = try StatusReport.make(BundleStore(layout: root.layout))
            if output.json { return try Output.json(report) }
            if report.bundles.isEmpty { Output.line("nothing installed under \(root.layout.storeDirectory)") }
            for bundle in report.bundles {
                Output.line("\(bundle.name): current \(bundle.current ?? "none"), highest ever activated \(bundle.floor ?? "none")")
                for version in bundle.versions {
                    let mark = version.version == bundle.current ? "*" : " "
                    Output.line("  \(mark) \(version.version)  installed \(version.installedAt)  \(version.files) files, \(Output.bytes(version.bytes))")
                    Output.line("      runtime \(version.runtimeReason ?? version.runtime ?? "none (adapter-only: runs on its base's runtime)")")
                    Output.line("      signed by \(version.signers.joined(separator: ", "))")
                }
                Output.line("  services: not built yet")
            }
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an installed version current.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Argument(help: "The installed version to activate.")
        var version: String
        func run() throws {
            let previous = try BundleStore(layout: root.layout).activate(name: name, version: version)
            Output.line("\(name) \(version) is current\(previous.map { " (was \($0))" } ?? "")")
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Go back to the previously activated version.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        func run() throws {
            let (from, to) = try BundleStore(layout: root.layout).rollback(name: name)
            Output.line("rolled \(name) back from \(from) to \(to)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an installed version (never the current one without --force), or a whole bundle.",
            discussion: "The highest version ever activated is remembered: removing it does not let an older one back in.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Argument(help: "The version to remove (all versions if omitted).")
        var version: String?
        @Flag(help: "Also remove the current version.")
        var force = false
        func run() throws {
            let removed = try BundleStore(layout: root.layout).remove(name: name, version: version, force: force)
            Output.line("removed \(name) \(removed.joined(separator: ", "))")
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an installed bundle's runtime and gateway in the foreground, without systemd (Ctrl-C stops both).")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Option(help: ArgumentHelp("Address the gateway listens on.", valueName: "HOST:PORT"))
        var listen: String = "127.0.0.1:8080"
        func run() throws { throw notAvailable("airlock run") }
    }

    struct Clients: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage API clients: keys are stored only as salted hashes.",
            subcommands: [Add.self, List.self, Revoke.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a client and print its new API key, once, alone on stdout.")
            @OptionGroup var root: RootOptions
            @Argument(help: "The client's name.")
            var client: String
            @Option(help: ArgumentHelp("Adapters it may use (comma-separated).", valueName: "A,B"))
            var adapters: String?
            func run() throws { throw notAvailable("airlock clients add") }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List clients and their adapters.")
            @OptionGroup var root: RootOptions
            @OptionGroup var output: OutputOptions
            func run() throws { throw notAvailable("airlock clients list") }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a client's key (takes effect without a restart).")
            @OptionGroup var root: RootOptions
            @Argument(help: "The client's name.")
            var client: String
            func run() throws { throw notAvailable("airlock clients revoke") }
        }
    }

    struct Doctor: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the store's consistency and the rendered units; --repair clears leftovers of interrupted operations.",
            discussion: """
                Re-reads every installed tree and compares every byte with its signed manifest, \
                checks each 'current' link, and lists leftovers of interrupted installs. \
                --repair removes only leftovers; it never changes an installed tree.
                """)
        @OptionGroup var root: RootOptions
        @Flag(help: "Remove leftovers of interrupted operations.")
        var repair = false
        @OptionGroup var output: OutputOptions

        func run() throws {
            let findings = try BundleStore(layout: root.layout).doctor(repair: repair)
            if output.json {
                try Output.json(findings)
            } else {
                for finding in findings {
                    let action = repair && finding.repairable ? "removed" : finding.kind.rawValue
                    Output.line("\(action): \(finding.path): \(finding.detail)")
                }
                if findings.isEmpty { Output.line("store is consistent: every installed tree matches its signed manifest") }
            }
            let remaining = findings.filter { !(repair && $0.repairable) }
            if !remaining.isEmpty {
                let hint = remaining.allSatisfy(\.repairable) ? " (run 'airlock doctor --repair')" : ""
                throw AirlockError(.refused, "\(remaining.count) problem\(remaining.count == 1 ? "" : "s") found\(hint)")
            }
        }
    }
}
