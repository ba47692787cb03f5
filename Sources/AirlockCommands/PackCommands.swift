public import ArgumentParser

/// `airlock-pack`: builds, signs and inspects offline bundles on a connected build host.
public struct AirlockPackCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "airlock-pack",
        abstract: "Build, sign and inspect signed offline model bundles (on the build host).",
        discussion: """
            A bundle is one file holding base weights, LoRA adapters and the inference runtime, \
            with a manifest of every file's digest and signatures over it. Carry it across the \
            air gap and check it there with 'airlock verify'.
            """,
        version: AirlockVersion.description,
        subcommands: [Keygen.self, Build.self, Sign.self, Inspect.self]
    )

    public init() {}

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a signing key pair (private key written 0600, public key beside it).")

        enum Algorithm: String, ExpressibleByArgument, CaseIterable {
            case ecdsaP384 = "ecdsa-p384"
            case ed25519
        }

        @Option(help: "ecdsa-p384 (default; FIPS-approved) or ed25519 (where FIPS is not required).")
        var algorithm: Algorithm = .ecdsaP384

        @Option(help: ArgumentHelp("Where to write the private key; the public key goes to KEY.pub.pem.", valueName: "KEY.pem"))
        var output: String

        func run() throws { throw notAvailable("airlock-pack keygen") }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a bundle from a spec file and sign it with one or more keys.")

        @Argument(help: ArgumentHelp("The bundle spec (YAML); paths in it are relative to it.", valueName: "SPEC.yaml"))
        var spec: String

        @Option(name: .customLong("key"), help: ArgumentHelp("A private key to sign with; repeat for co-signers.", valueName: "KEY.pem"))
        var keys: [String] = []

        @Option(help: ArgumentHelp("The bundle file to write.", valueName: "NAME-VERSION.airlock"))
        var output: String

        func run() throws { throw notAvailable("airlock-pack build") }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a co-signature to a bundle without rewriting its payload.")

        @Argument(help: "The bundle to co-sign.")
        var bundle: String

        @Option(help: ArgumentHelp("The private key to sign with.", valueName: "KEY.pem"))
        var key: String

        func run() throws { throw notAvailable("airlock-pack sign") }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a bundle's manifest, files and signers (does not verify trust).")

        @Argument(help: "The bundle to inspect.")
        var bundle: String

        @OptionGroup var output: OutputOptions

        func run() throws { throw notAvailable("airlock-pack inspect") }
    }
}
