public import ArgumentParser
internal import AirlockCore
internal import BundleIO
internal import Foundation
internal import Signing
internal import Store
internal import AuditLog
internal import HostServices
internal import Systemd

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
            Rollback.self, Remove.self, Run.self, Clients.self, Doctor.self, PackageEvent.self,
        ]
    )

    @OptionGroup var root: RootOptions

    public init() {}

    struct Trust: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the trust policy: who may sign which bundles, and how many must.",
            subcommands: [Add.self, List.self, Remove.self, Threshold.self, Revoke.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Trust a public key or a CA certificate.")
            @OptionGroup var root: RootOptions
            @Argument(help: ArgumentHelp("A public key (KEY.pub.pem) or CA certificate (CA.pem).", valueName: "PEM"))
            var file: String
            @Option(help: ArgumentHelp("Bundle names it may sign: patterns with '*', comma-separated (default: any name).", valueName: "PATTERN,..."))
            var names: String = "*"
            @OptionGroup var output: OutputOptions

            struct Trusted: Encodable {
                var trusted: String
                var names: [String]
            }

            func run() async throws {
                let layout = root.layout
                let patterns = names.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
                let (message, id) = try await AdminAudit.run(.trustChange, details: ["change": "add", "file": file], layout: layout) {
                    let (message, id) = try add(patterns: patterns, layout: layout)
                    return Audited((message, id), details: ["key": id, "names": patterns.joined(separator: ",")])
                }
                if output.json { return try Output.json(Trusted(trusted: id, names: patterns)) }
                Output.line(message)
                if patterns == ["*"] { Output.line("note: it may sign any bundle name; restrict it with --names") }
            }

            func add(patterns: [String], layout: AirlockCore.HostLayout) throws(AirlockError) -> (String, String) {
                var policy = try TrustPolicy.load(path: layout.trustPolicy)
                let bytes = try readFile(file)
                let added: TrustPolicy.Added
                do throws(AirlockError) {
                    added = try policy.add(pem: bytes, names: patterns)
                } catch {
                    throw AirlockError(error.code, kind: error.kind, "\(file): \(error.message)", cause: error.cause)
                }
                try policy.save(path: layout.trustPolicy)
                return ("trusted \(added.description) for bundle names: \(patterns.joined(separator: ","))", added.id)
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
                var revoked: [TrustPolicy.Revocation]
            }

            func run() throws {
                let policy = try TrustPolicy.load(path: root.layout.trustPolicy)
                let entries =
                    policy.keys.map {
                        Entry(id: $0.id, kind: "key", algorithm: $0.algorithm.rawValue, subject: nil, names: $0.names, added: $0.added)
                    }
                    + policy.authorities.map {
                        Entry(id: $0.id, kind: "ca", algorithm: nil, subject: $0.subject, names: $0.names, added: $0.added)
                    }
                if output.json {
                    try Output.json(Listing(threshold: policy.threshold, signers: entries, revoked: policy.revoked))
                    return
                }
                Output.line("threshold: \(policy.threshold) signature\(policy.threshold == 1 ? "" : "s") from distinct trusted signers")
                if entries.isEmpty { Output.line("nothing is trusted yet: add a key with 'airlock trust add KEY.pub.pem'") }
                for entry in entries {
                    let what = entry.kind == "key" ? "key \(entry.algorithm ?? "")" : "CA  \(entry.subject ?? "")"
                    let revoked = policy.revoked.contains { $0.id == entry.id } ? "  REVOKED" : ""
                    Output.line("\(entry.id)  \(what)  names: \(entry.names.joined(separator: ","))  added \(entry.added)\(revoked)")
                }
                for entry in policy.revoked {
                    let what = entry.kind == .key ? "key" : "certificate \(Printable.escaped(entry.subject ?? ""))"
                    Output.line("revoked \(entry.revoked): \(entry.id)  \(what)  (\(Printable.escaped(entry.reason)))")
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Revoke a key or a certificate: no signature by it, or through it, counts again.",
                discussion: """
                    WHAT is a PEM file (a public key, or a certificate: a signer's leaf, an \
                    intermediate or a CA), a full key id (sha256: and 64 hex digits, e.g. from \
                    'airlock status'), or the id of a trusted key or CA as 'airlock trust list' \
                    shows it (its first 8 or more hex digits). A revoked key is refused whether it \
                    is trusted directly or certified by a CA; a revoked certificate refuses every \
                    chain through it. 'airlock verify' and 'install' then refuse bundles that need \
                    it, naming the revocation; 'airlock status' flags installed versions it signed. \
                    A revocation is kept for good (there is no unrevoke) and recorded in the audit log.
                    """)
            @OptionGroup var root: RootOptions
            @Argument(help: ArgumentHelp("A PEM file, or a key or certificate id.", valueName: "WHAT"))
            var what: String
            @Option(help: ArgumentHelp("Why (one line, recorded with it and shown by 'trust list').", valueName: "TEXT"))
            var reason: String
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let layout = root.layout
                let isFile = FileManager.default.fileExists(atPath: what)
                let revocation = try await AdminAudit.run(.trustChange, details: ["change": "revoke", "target": what], layout: layout) {
                    let pem = isFile ? try readFile(what) : nil
                    let made: TrustPolicy.Revocation = try TrustPolicy.update(path: layout.trustPolicy) {
                        (policy: inout TrustPolicy) throws(AirlockError) -> TrustPolicy.Revocation in
                        try policy.revoke(pem: pem, id: isFile ? nil : what, reason: reason)
                    }
                    var details = ["kind": made.kind.rawValue, "key": made.id, "reason": made.reason]
                    if let key = made.key { details["certified_key"] = key }
                    return Audited(made, details: details)
                }
                if output.json { return try Output.json(revocation) }
                let described = revocation.kind == .key ? "key" : "certificate \(Printable.escaped(revocation.subject ?? ""))"
                Output.line("revoked \(described) \(revocation.id): no signature by it or through it counts from now on")
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop trusting a key or CA.")
            @OptionGroup var root: RootOptions
            @Argument(help: "The id shown by 'trust list' (at least its first 8 hex digits).")
            var id: String
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let layout = root.layout
                let removed = try await AdminAudit.run(.trustChange, details: ["change": "remove"], layout: layout) {
                    var policy = try TrustPolicy.load(path: layout.trustPolicy)
                    let removed = try policy.remove(id: id)
                    try policy.save(path: layout.trustPolicy)
                    return Audited(removed, details: ["key": removed])
                }
                if output.json { return try Output.json(["removed": removed]) }
                Output.line("no longer trusted: \(removed)")
            }
        }

        struct Threshold: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set how many distinct trusted signatures a bundle needs.")
            @OptionGroup var root: RootOptions
            @Argument(help: "The number of signatures (k of n).")
            var count: Int
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let layout = root.layout
                try await AdminAudit.run(.trustChange, details: ["change": "threshold", "threshold": String(count)], layout: layout) {
                    var policy = try TrustPolicy.load(path: layout.trustPolicy)
                    try policy.setThreshold(count)
                    try policy.save(path: layout.trustPolicy)
                    return Audited(())
                }
                if output.json { return try Output.json(["threshold": count]) }
                Output.line("bundles now need \(count) signature\(count == 1 ? "" : "s") from distinct trusted signers")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
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

        func run() async throws {
            let layout = root.layout
            let outcome = try await AdminAudit.run(
                .verify, target: AdminAudit.claimedTarget(ofBundle: bundle), details: ["file": bundle], layout: layout
            ) {
                let policy = try TrustPolicy.load(path: layout.trustPolicy)
                let outcome = try BundleVerifier.verify(path: bundle, policy: policy, progress: ProgressReporter(force: progress))
                switch outcome {
                case .verified(let verified):
                    return Audited(
                        outcome, target: AuditTarget(bundle: verified.manifest.name, version: verified.manifest.version),
                        details: ["signers": verified.signers.map(\.keyID).joined(separator: ",")])
                case .refused(let refusal):
                    return Audited(outcome, outcome: .refused, details: ["reason": refusal.description, "stage": refusal.stage.rawValue])
                }
            }
            switch outcome {
            case .verified(let verified):
                let manifest = verified.manifest
                if output.json {
                    try Output.json(
                        Report(
                            verified: true, bundle: bundle, name: manifest.name, version: manifest.version,
                            signers: verified.signers, files: verified.fileCount, bytes: verified.payloadBytes))
                } else {
                    Output.line(
                        "verified \(manifest.name) \(manifest.version): \(verified.fileCount) files, \(Output.bytes(verified.payloadBytes)) of payload, \(Output.bytes(verified.bundleBytes)) bundle file; every byte matches the signed manifest"
                    )
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

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify and install a bundle atomically, make it current and (re)start its services.",
            discussion: """
                The bundle is read once: verified while it is extracted into a staging folder, \
                flushed, renamed into place read-only, and made current by switching one link. \
                Any failure leaves the previous version current and nothing of the new one behind. \
                Then the bundle's systemd units (airlock-runtime@NAME.service, airlock-serve@NAME.service) \
                and the sysusers.d/tmpfiles.d entries they need are rendered into ROOT/etc, with the \
                host's audit timers (airlock-audit-seal.timer: sealed log files to root every 5 minutes; \
                airlock-audit-retention.timer: the retention policy, daily); with --root / they are \
                enabled and (re)started, unless --no-start. Under any other --root they are only \
                rendered. The gateway's address and client networks come from ROOT/etc/airlock/services.yaml.
                """)

        /// The audit timers, as `systemctl enable --now` takes them.
        static let timers = AuditTimer.allCases.map(\.timer).joined(separator: " ")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle file.")
        var bundle: String
        @Flag(help: "Install and activate, but do not enable or start the services.")
        var noStart = false
        @Flag(help: "Allow a version not newer than the highest ever activated (audited).")
        var allowDowngrade = false
        @Flag(help: "Show progress even when standard error is not a terminal.")
        var progress = false
        @Flag(help: "Check everything an install checks (signatures, every byte, downgrade, host) and write nothing.")
        var dryRun = false
        @Flag(help: "Install beside the current version without making it current (services untouched); 'airlock activate' switches later.")
        var noActivate = false
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if dryRun, noActivate { throw ValidationError("--dry-run writes nothing: --no-activate has nothing to do with it") }
        }

        /// What `--json` prints.
        struct Installed: Encodable {
            struct ServiceState: Encodable {
                var started: Bool
                var files: [String]
                var units: [String]
                var listen: String
            }
            var name: String
            var version: String
            var path: String
            var dryRun: Bool
            var activated: Bool
            /// The version before it (activated), or the one that stays current.
            var previous: String?
            var runtime: String?
            var downgradeAllowed: Bool
            var pruned: [String]
            /// nil for an adapter-only bundle (served by its base's services) or when they failed.
            var services: ServiceState?
            var servicesError: String?
        }

        func run() async throws {
            let layout = root.layout
            let (result, services, servicesError) = try await AdminAudit.run(
                .install, target: AdminAudit.claimedTarget(ofBundle: bundle), details: ["file": bundle], layout: layout
            ) {
                let policy = try TrustPolicy.load(path: layout.trustPolicy)
                let result = try BundleStore(layout: layout).install(
                    bundle: bundle, policy: policy, allowDowngrade: allowDowngrade, dryRun: dryRun, activate: !noActivate,
                    progress: ProgressReporter(force: progress))
                var details = ["signers": result.installed.signers.joined(separator: ","), "previous": result.previous ?? ""]
                if dryRun { details["dry_run"] = "true" }
                if noActivate { details["activated"] = "false" }
                if let runtime = result.installed.runtime { details["runtime"] = runtime }
                if result.downgradeAllowed { details["downgrade_allowed"] = "true" }
                if !result.pruned.isEmpty { details["pruned"] = result.pruned.joined(separator: ",") }
                // Services: an adapter-only bundle has none of its own (it is served by its base's).
                var services: Services.Outcome?
                var servicesError: AirlockError?
                if result.installed.runtime != nil, result.activated {
                    do throws(AirlockError) {
                        let plan = try ServicePlan.make(layout: layout, manifest: result.manifest, variant: result.installed.runtime)
                        services = try Services.install(plan: plan, layout: layout, start: !noStart)
                    } catch {
                        servicesError = error
                    }
                }
                details["services"] =
                    servicesError.map { "failed: \($0)" } ?? services.map { $0.started ? "started" : "rendered" }
                    ?? (result.activated ? "none (adapter-only)" : "untouched (not activated)")
                return Audited(
                    (result, services, servicesError), outcome: servicesError == nil ? .ok : .failed,
                    target: AuditTarget(bundle: result.name, version: result.version), details: details)
            }
            if output.json {
                try Output.json(
                    Installed(
                        name: result.name, version: result.version, path: layout.versionDirectory(name: result.name, version: result.version),
                        dryRun: result.dryRun, activated: result.activated, previous: result.previous, runtime: result.installed.runtime,
                        downgradeAllowed: result.downgradeAllowed,
                        pruned: result.pruned,
                        services: services.map { (outcome: Services.Outcome) -> Installed.ServiceState in
                            Installed.ServiceState(
                                started: outcome.started, files: outcome.files, units: [outcome.runtimeUnit, outcome.gatewayUnit],
                                listen: outcome.listen)
                        }, servicesError: servicesError.map { (error: AirlockError) -> String in error.description }))
                if let servicesError {
                    throw AirlockError(
                        .system, "\(result.name) \(result.version) is installed and current, but its services could not be set up",
                        cause: servicesError)
                }
                return
            }
            if result.dryRun {
                Output.line(
                    "dry run: \(result.name) \(result.version) would install\(result.previous.map { " over \($0)" } ?? ""): signatures, every byte and this host checked; nothing written"
                )
                if let runtime = result.installed.runtime { Output.line("runtime: \(result.installed.runtimeReason ?? runtime)") }
                return
            }
            if !result.activated {
                Output.line(
                    "installed \(result.name) \(result.version) in \(layout.versionDirectory(name: result.name, version: result.version)); not made current (--no-activate)\(result.previous.map { ": \($0) stays current" } ?? "")"
                )
                Output.line("services: untouched; 'airlock activate \(result.name) \(result.version)' makes it current and switches them")
                return
            }
            Output.line(
                "installed \(result.name) \(result.version) in \(layout.versionDirectory(name: result.name, version: result.version)) and made it current\(result.previous.map { " (was \($0))" } ?? "")"
            )
            if let runtime = result.installed.runtime { Output.line("runtime: \(result.installed.runtimeReason ?? runtime)") }
            if result.downgradeAllowed {
                Output.line(
                    "note: installed although not newer than the highest version ever activated (--allow-downgrade; recorded in the audit log)")
            }
            if !result.pruned.isEmpty { Output.line("removed older versions (store policy keep_versions): \(result.pruned.joined(separator: ", "))") }
            if let servicesError {
                throw AirlockError(
                    .system,
                    "\(result.name) \(result.version) is installed and current, but its services could not be set up (fix the cause, then 'airlock activate \(result.name) \(result.version)' renders them again)",
                    cause: servicesError)
            }
            guard let services else {
                Output.line("services: none of its own (an adapter-only bundle is served by its base's services)")
                return
            }
            Output.line("services: rendered \(services.files.joined(separator: ", "))")
            if services.started {
                Output.line(
                    "services: \(services.runtimeUnit) and \(services.gatewayUnit) (re)started; gateway on \(services.listen) (journalctl -u 'airlock-*@\(result.name)')"
                )
                Output.line("services: \(AuditTimer.seal.timer) enabled (hands sealed audit log files to root every 5 minutes)")
                Output.line("services: \(AuditTimer.retention.timer) enabled (removes audit log files older than the retention policy, daily)")
            } else if noStart {
                Output.line(
                    "services: not enabled or started (--no-start); start them with: systemctl enable --now \(services.gatewayUnit) \(Self.timers)")
            } else {
                Output.line(
                    "services: not started: --root is not / (to use these units on this host, copy them to /etc/systemd/system, run systemd-sysusers and systemd-tmpfiles --create on the two .conf files, then systemctl daemon-reload && systemctl enable --now \(services.gatewayUnit) \(Self.timers))"
                )
            }
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
            abstract: "Show what is installed and current, signers, runtime variant, service state and the audit timers.",
            discussion: """
                For each audit timer (airlock-audit-seal, airlock-audit-retention): enabled, active, \
                its last run and that run's result, and its next run, as systemd reports them (UTC; \
                only with --root /). 'airlock doctor' flags a timer that is off.
                """)
        @OptionGroup var root: RootOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            var report = try StatusReport.make(BundleStore(layout: root.layout), services: root.layout)
            report.auditTimers = AuditTimerServices.states(layout: root.layout)
            // What the trust policy has revoked since these versions were installed.
            let policy = try TrustPolicy.load(path: root.layout.trustPolicy)
            report.revokedSigners = report.bundles.flatMap { bundle in
                bundle.versions.flatMap { version in
                    version.signers.compactMap { key in
                        policy.revocation(ofKey: key).map {
                            StatusReport.RevokedSigner(
                                bundle: bundle.name, version: version.version, key: key, current: version.version == bundle.current,
                                revoked: $0.revoked, reason: $0.reason)
                        }
                    }
                }
            }
            if output.json { return try Output.json(report) }
            if report.bundles.isEmpty { Output.line("nothing installed under \(root.layout.storeDirectory)") }
            for bundle in report.bundles {
                Output.line("\(bundle.name): current \(bundle.current ?? "none"), highest ever activated \(bundle.floor ?? "none")")
                for version in bundle.versions {
                    let mark = version.version == bundle.current ? "*" : " "
                    Output.line(
                        "  \(mark) \(version.version)  installed \(version.installedAt)  \(version.files) files, \(Output.bytes(version.bytes))")
                    Output.line("      runtime \(version.runtimeReason ?? version.runtime ?? "none (adapter-only: runs on its base's runtime)")")
                    let signers = version.signers.map { key in
                        policy.revocation(ofKey: key).map { "\(key) (REVOKED \($0.revoked): \(Printable.escaped($0.reason)))" } ?? key
                    }
                    Output.line("      signed by \(signers.joined(separator: ", "))")
                }
                let states = bundle.services ?? []
                if !states.contains(where: \.rendered) { Output.line("  services: none rendered") }
                for state in states where state.rendered {
                    let systemd =
                        state.active.map { "\($0), \(state.enabled ?? "?"), \(state.restarts ?? 0) restarts" }
                        ?? "rendered (not managed: --root is not /)"
                    Output.line("  service \(state.unit): \(systemd)")
                }
            }
            for flagged in report.revokedSigners ?? [] {
                Output.line(
                    "WARNING: \(flagged.bundle) \(flagged.version)\(flagged.current ? " (current)" : "") was signed by \(flagged.key), "
                        + "revoked \(flagged.revoked): install a version signed by a key still trusted")
            }
            let timers = report.auditTimers ?? []
            if !timers.contains(where: \.rendered) {
                Output.line("audit timers: none rendered ('airlock install' renders them with a bundle's services)")
            }
            for timer in timers where timer.rendered {
                guard let enabled = timer.enabled else {
                    Output.line("audit timer \(timer.timer): rendered (not managed: --root is not /, or no systemd)")
                    continue
                }
                let last = timer.lastRun.map { "last run \($0)\(timer.lastResult.map { " (\($0))" } ?? "")" } ?? "not run yet"
                Output.line("audit timer \(timer.timer): \(enabled), \(timer.active ?? "?"); \(last); next run \(timer.nextRun ?? "none scheduled")")
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an installed version current.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Argument(help: "The installed version to activate.")
        var version: String
        @Flag(help: "Activate it even though the trust policy has since revoked keys it needs (recorded).")
        var allowRevokedSigner = false
        @OptionGroup var output: OutputOptions

        /// Refuses a version that no longer has the signatures the policy needs: its recorded
        /// signers minus those revoked since are fewer than the threshold.
        static func standingSigners(layout: AirlockCore.HostLayout, name: String, allow: Bool)
            throws(AirlockError) -> (InstalledVersion) throws(AirlockError) -> Void
        {
            let policy = try TrustPolicy.load(path: layout.trustPolicy)
            return { (installed: InstalledVersion) throws(AirlockError) in
                let revoked = installed.signers.filter { policy.revocation(ofKey: $0) != nil }
                let standing = installed.signers.count - revoked.count
                guard !revoked.isEmpty, standing < policy.threshold, !allow else { return }
                let which = revoked.map { key in "\(key) (revoked \(policy.revocation(ofKey: key)?.revoked ?? ""))" }
                throw AirlockError(
                    .refused, kind: .revoked,
                    "\(name) \(installed.version) was signed by \(which.joined(separator: ", ")): \(standing) of the \(policy.threshold) "
                        + "signature\(policy.threshold == 1 ? "" : "s") it needs still stand. Install a version signed by a key still "
                        + "trusted, or pass --allow-revoked-signer (recorded)")
            }
        }

        /// What `--json` prints after a switch of the current version.
        struct Switched: Encodable {
            var name: String
            var current: String
            var previous: String?
            var services: String?
        }

        func run() async throws {
            let layout = root.layout
            let (previous, services) = try await AdminAudit.run(
                .activate, target: AuditTarget(bundle: name, version: version), layout: layout
            ) {
                let permit = try Self.standingSigners(layout: layout, name: name, allow: allowRevokedSigner)
                let previous = try BundleStore(layout: layout).activate(name: name, version: version, permit: permit)
                let services = Result { () throws(AirlockError) -> String? in try Services.refresh(name: name, layout: layout) }
                var details = ["previous": previous ?? ""]
                if allowRevokedSigner { details["allow_revoked_signer"] = "true" }
                details["services"] = Self.servicesDetail(services)
                return Audited((previous, services), outcome: services.isFailure ? .failed : .ok, details: details)
            }
            if output.json {
                try Output.json(Switched(name: name, current: version, previous: previous, services: Self.servicesDetail(services)))
            } else {
                Output.line("\(name) \(version) is current\(previous.map { " (was \($0))" } ?? "")")
            }
            try Self.report(services, name: name, version: version, quiet: output.json)
        }

        static func servicesDetail(_ services: Result<String?, AirlockError>) -> String? {
            switch services {
            case .success(let message): message
            case .failure(let error): "failed: \(error)"
            }
        }

        /// Prints what happened to the services, or fails naming them (the switch itself stands).
        static func report(_ services: Result<String?, AirlockError>, name: String, version: String, quiet: Bool = false) throws(AirlockError) {
            switch services {
            case .success(let message): if let message, !quiet { Output.line(message) }
            case .failure(let error):
                throw AirlockError(.system, "\(name) \(version) is current, but its services could not be switched to it", cause: error)
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Go back to the previously activated version.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Flag(help: "Go back even though the trust policy has since revoked keys that version needs (recorded).")
        var allowRevokedSigner = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let layout = root.layout
            let (from, to, services) = try await AdminAudit.run(.rollback, target: AuditTarget(bundle: name), layout: layout) {
                let permit = try Activate.standingSigners(layout: layout, name: name, allow: allowRevokedSigner)
                let (from, to) = try BundleStore(layout: layout).rollback(name: name, permit: permit)
                let services = Result { () throws(AirlockError) -> String? in try Services.refresh(name: name, layout: layout) }
                var details = ["from": from]
                if allowRevokedSigner { details["allow_revoked_signer"] = "true" }
                details["services"] = Activate.servicesDetail(services)
                return Audited(
                    (from, to, services), outcome: services.isFailure ? .failed : .ok, target: AuditTarget(bundle: name, version: to),
                    details: details)
            }
            if output.json {
                try Output.json(Activate.Switched(name: name, current: to, previous: from, services: Activate.servicesDetail(services)))
            } else {
                Output.line("rolled \(name) back from \(from) to \(to)")
                Output.line("note: rollback goes to the version activated before the current one: running it again goes forward to \(from)")
            }
            try Activate.report(services, name: name, version: to, quiet: output.json)
        }
    }

    struct Remove: AsyncParsableCommand {
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
        @OptionGroup var output: OutputOptions

        struct Removed: Encodable {
            var name: String
            var removed: [String]
            var services: String?
        }

        func run() async throws {
            let layout = root.layout
            let (removed, services) = try await AdminAudit.run(
                .remove, target: AuditTarget(bundle: name, version: version), details: ["force": String(force)], layout: layout
            ) {
                let removed = try BundleStore(layout: layout).remove(name: name, version: version, force: force)
                // Without a current version nothing can be served: the services go too.
                let services =
                    BundleStore(layout: layout).current(name: name) != nil
                    ? .success(nil) : Result { () throws(AirlockError) -> String? in try Services.uninstall(name: name, layout: layout) }
                var details = ["removed": removed.joined(separator: ",")]
                details["services"] = Activate.servicesDetail(services)
                return Audited((removed, services), outcome: services.isFailure ? .failed : .ok, details: details)
            }
            if output.json {
                try Output.json(Removed(name: name, removed: removed, services: Activate.servicesDetail(services)))
            } else {
                Output.line("removed \(name) \(removed.joined(separator: ", "))")
            }
            switch services {
            case .success(let message): if let message, !output.json { Output.line(message) }
            case .failure(let error):
                throw AirlockError(.system, "removed \(name) \(removed.joined(separator: ", ")), but its services could not be removed", cause: error)
            }
        }
    }

    struct Doctor: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the store's consistency, the rendered units and the audit timers; --repair clears leftovers of interrupted operations.",
            discussion: """
                Re-reads every installed tree and compares every byte with its signed manifest, \
                checks each 'current' link, lists leftovers of interrupted installs, compares \
                each bundle's systemd units with what Airlock renders for its current version, and \
                the host's audit timers (airlock-audit-seal, airlock-audit-retention) with what \
                Airlock renders; on --root / each timer must also be enabled and active (timerOff). \
                --repair removes only leftovers, renders drifted units again (on --root /, \
                systemd reloads them and restarts what runs) and enables and starts the audit \
                timers; it never changes an installed tree.
                """)
        @OptionGroup var root: RootOptions
        @Flag(help: "Remove leftovers of interrupted operations, render drifted units again, enable and start the audit timers.")
        var repair = false
        @OptionGroup var output: OutputOptions

        /// `--json`: a summary and every finding.
        struct DoctorReport: Encodable {
            var consistent: Bool
            /// Findings `--repair` fixed (0 without it).
            var repaired: Int
            /// Findings left for the operator (the exit status is 1 when there are any).
            var remaining: Int
            var findings: [HostFinding]
        }

        func run() throws {
            let layout = root.layout
            let findings = try HostDoctor.run(layout: layout, repair: repair)
            if output.json {
                try Output.json(
                    DoctorReport(
                        consistent: findings.isEmpty, repaired: repair ? findings.filter(\.repairable).count : 0,
                        remaining: findings.filter { !(repair && $0.repairable) }.count, findings: findings))
            } else {
                for finding in findings {
                    let action = repair && finding.repairable ? finding.repairedAs : finding.kind.rawValue
                    Output.line("\(action): \(finding.path): \(finding.detail)")
                }
                if findings.isEmpty {
                    Output.line(
                        "store is consistent: every installed tree matches its signed manifest, every unit what Airlock renders (audit timers included)"
                    )
                }
            }
            let remaining = findings.filter { !(repair && $0.repairable) }
            if !remaining.isEmpty {
                let hint = remaining.allSatisfy(\.repairable) ? " (run 'airlock doctor --repair')" : ""
                throw AirlockError(.refused, "\(remaining.count) problem\(remaining.count == 1 ? "" : "s") found\(hint)")
            }
        }
    }
}
