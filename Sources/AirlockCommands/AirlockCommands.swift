public import ArgumentParser

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
            @Option(help: ArgumentHelp("Bundle names it may sign (patterns, comma-separated).", valueName: "PATTERN,..."))
            var names: String?
            func run() throws { throw notAvailable("airlock trust add") }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List trusted keys and CAs.")
            @OptionGroup var root: RootOptions
            @OptionGroup var output: OutputOptions
            func run() throws { throw notAvailable("airlock trust list") }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop trusting a key or CA.")
            @OptionGroup var root: RootOptions
            @Argument(help: "The key id shown by 'trust list'.")
            var id: String
            func run() throws { throw notAvailable("airlock trust remove") }
        }

        struct Threshold: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set how many distinct trusted signatures a bundle needs.")
            @OptionGroup var root: RootOptions
            @Argument(help: "The number of signatures (k of n).")
            var count: Int
            func run() throws { throw notAvailable("airlock trust threshold") }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a bundle's signatures against the trust policy and every byte against its manifest; writes nothing.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle file.")
        var bundle: String
        @OptionGroup var output: OutputOptions
        func run() throws { throw notAvailable("airlock verify") }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify and install a bundle atomically, make it current and (re)start its services.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle file.")
        var bundle: String
        @Flag(help: "Install and activate, but do not enable or start the services.")
        var noStart = false
        @Flag(help: "Allow a version not newer than the highest ever activated (audited).")
        var allowDowngrade = false
        func run() throws { throw notAvailable("airlock install") }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List installed bundles and versions.")
        @OptionGroup var root: RootOptions
        @OptionGroup var output: OutputOptions
        func run() throws { throw notAvailable("airlock list") }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what is installed and current, signers, runtime variant and service state.")
        @OptionGroup var root: RootOptions
        @OptionGroup var output: OutputOptions
        func run() throws { throw notAvailable("airlock status") }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an installed version current.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Argument(help: "The installed version to activate.")
        var version: String
        func run() throws { throw notAvailable("airlock activate") }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Go back to the previously activated version.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        func run() throws { throw notAvailable("airlock rollback") }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an installed version (never the current one without --force), or a whole bundle.")
        @OptionGroup var root: RootOptions
        @Argument(help: "The bundle name.")
        var name: String
        @Argument(help: "The version to remove (all versions if omitted).")
        var version: String?
        @Flag(help: "Also remove the current version, stopping its services.")
        var force = false
        func run() throws { throw notAvailable("airlock remove") }
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
            abstract: "Check the store's consistency and the rendered units; --repair clears leftovers of interrupted operations.")
        @OptionGroup var root: RootOptions
        @Flag(help: "Remove leftovers of interrupted operations.")
        var repair = false
        func run() throws { throw notAvailable("airlock doctor") }
    }
}
