public import ArgumentParser
internal import AirlockCore
internal import BundleFormat
internal import BundleIO
internal import Foundation
internal import Signing

/// `airlock-pack`: builds, signs and inspects offline bundles on a connected build host.
public struct AirlockPackCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "airlock-pack",
        abstract: "Build, sign and inspect signed offline model bundles (on the build host).",
        discussion: """
            A bundle is one file holding base weights, LoRA adapters and the inference runtime, \
            with a manifest of every file's digest and signatures over it. Carry it across the \
            air gap and check it there with 'airlock verify'.

            Typical use:
              airlock-pack keygen --output release.pem
              airlock-pack build bundle.yaml --key release.pem --output claims-assistant-1.4.0.airlock
              airlock-pack sign claims-assistant-1.4.0.airlock --key security-officer.pem
              airlock-pack inspect claims-assistant-1.4.0.airlock
            """,
        version: AirlockVersion.description,
        subcommands: [Keygen.self, Build.self, Sign.self, Inspect.self, Runtime.self]
    )

    public init() {}

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a signing key pair (private key written 0600, public key beside it).",
            discussion: """
                Give the public key (KEY.pub.pem) to the sites that should trust your bundles \
                ('airlock trust add KEY.pub.pem'); keep the private key offline.
                """)

        enum Algorithm: String, ExpressibleByArgument, CaseIterable {
            case ecdsaP384 = "ecdsa-p384"
            case ed25519

            var signing: SignatureAlgorithm { self == .ed25519 ? .ed25519 : .ecdsaP384 }
        }

        @Option(help: "ecdsa-p384 (default; FIPS-approved) or ed25519 (where FIPS is not required).")
        var algorithm: Algorithm = .ecdsaP384

        @Option(help: ArgumentHelp("Where to write the private key; the public key goes to KEY.pub.pem.", valueName: "KEY.pem"))
        var output: String

        func run() throws {
            let key = try PrivateKey.generate(algorithm.signing)
            try key.write(privateTo: output)
            Output.line("wrote \(output) (private, mode 0600) and \(PrivateKey.publicKeyPath(forPrivateKeyAt: output))")
            Output.line("key id \(key.publicKey.keyID) (\(key.algorithm.rawValue))")
        }
    }

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a bundle from a spec file and sign it with one or more keys.",
            discussion: """
                Building the same spec from the same files twice gives byte-identical bundles; \
                the creation time comes from SOURCE_DATE_EPOCH or the newest input file.
                """)

        @Argument(help: ArgumentHelp("The bundle spec (YAML); paths in it are relative to it.", valueName: "SPEC.yaml"))
        var spec: String

        @Option(name: .customLong("key"), help: ArgumentHelp("A private key to sign with; repeat for co-signers.", valueName: "KEY.pem"))
        var keys: [String] = []

        @Option(help: ArgumentHelp("The bundle file to write.", valueName: "NAME-VERSION.airlock"))
        var output: String

        @Option(
            help: ArgumentHelp(
                "The signer's certificate and intermediates (PEM), for sites that trust a CA; needs exactly one --key.", valueName: "CHAIN.pem"))
        var chain: String?

        @Flag(help: "Show progress even when standard error is not a terminal.")
        var progress = false

        func validate() throws {
            guard !keys.isEmpty else { throw ValidationError("give at least one --key KEY.pem to sign the bundle with") }
            guard chain == nil || keys.count == 1 else {
                throw ValidationError("--chain goes with exactly one --key; add co-signers with 'airlock-pack sign'")
            }
        }

        func run() throws {
            let parsed = try BundleSpec.load(path: spec)
            let privateKeys = try keys.map { path throws(AirlockError) in try PrivateKey.load(path: path) }
            let chains = try chain.map { path throws(AirlockError) in [0: try readFile(path)] } ?? [:]
            let result = try BundleBuilder.build(
                spec: parsed, keys: privateKeys, chains: chains, output: output, progress: ProgressReporter(force: progress))
            let payload = result.manifest.files.reduce(UInt64(0)) { (sum: UInt64, file: Manifest.FileEntry) -> UInt64 in sum + file.size }
            Output.line(
                "built \(output): \(result.manifest.name) \(result.manifest.version), \(result.manifest.files.count) files, \(Output.bytes(payload)) of payload, \(Output.bytes(result.bundleBytes)) bundle file"
            )
            for signer in result.signers { Output.line("signed by \(signer)") }
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a co-signature to a bundle without rewriting its payload.")

        @Argument(help: "The bundle to co-sign.")
        var bundle: String

        @Option(help: ArgumentHelp("The private key to sign with.", valueName: "KEY.pem"))
        var key: String

        @Option(help: ArgumentHelp("The signer's certificate and intermediates (PEM), for sites that trust a CA.", valueName: "CHAIN.pem"))
        var chain: String?

        @Flag(help: "Show progress even when standard error is not a terminal.")
        var progress = false

        func run() throws {
            let privateKey = try PrivateKey.load(path: key)
            let chainBytes = try chain.map { path throws(AirlockError) in try readFile(path) }
            let result = try BundleCoSigner.sign(path: bundle, key: privateKey, chain: chainBytes, progress: ProgressReporter(force: progress))
            Output.line("co-signed \(bundle): \(result.name) \(result.version), now signed by:")
            for signer in result.signers { Output.line("  \(signer)") }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a bundle's manifest, files and signers (does not decide trust: use 'airlock verify').")

        @Argument(help: "The bundle to inspect.")
        var bundle: String

        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            var manifest: Manifest
            var signatures: [Signer]
            struct Signer: Encodable {
                var entry: String
                var keyID: String
                var certificate: String?
            }
        }

        func run() throws {
            let inspected = try BundleVerifier.inspect(path: bundle)
            let signers = inspected.signatures.flatMap { input in
                input.envelope.signatures.map {
                    Report.Signer(entry: input.source, keyID: $0.keyid, certificate: input.chain.first?.subject)
                }
            }
            if output.json {
                try Output.json(Report(manifest: inspected.manifest, signatures: signers))
                return
            }
            let manifest = inspected.manifest
            Output.line("\(manifest.name) \(manifest.version) (\(manifest.format), created \(manifest.created))")
            if let path = manifest.base.path {
                Output.line("base       \(path) (\(manifest.base.format ?? "?")) \(manifest.base.digest)")
            } else {
                Output.line("base       adapter-only: fits \(manifest.base.name) \(manifest.base.digest)")
            }
            for adapter in manifest.adapters {
                let kind = adapter.format.map { format in "\(format)\(adapter.rank.map { ", rank \($0)" } ?? "")" } ?? "gguf"
                Output.line("adapter    \(adapter.name): \(adapter.path) (\(kind))")
            }
            for runtime in manifest.runtimes {
                let needs = runtime.requires.isEmpty ? "any host" : runtime.requires.joined(separator: ", ")
                Output.line("runtime    \(runtime.variant): \(runtime.executable) (\(runtime.engineName); needs \(needs))")
            }
            if let rank = manifest.service?.maxLoraRank { Output.line("service    max_lora_rank \(rank)") }
            let total = manifest.files.reduce(UInt64(0)) { $0 + $1.size }
            Output.line("files      \(manifest.files.count), \(Output.bytes(total))")
            for signer in signers {
                Output.line("signature  \(signer.entry): \(signer.keyID)\(signer.certificate.map { " (\($0))" } ?? "")")
            }
            Output.line("(not verified: 'airlock verify' checks signatures against a trust policy and every byte)")
        }
    }
}

/// The bytes of a file named on the command line.
/// A small input file's bytes (a key, a certificate, a spec); the error says why it cannot be
/// read (missing, not permitted, a folder).
func readFile(_ path: String) throws(AirlockError) -> [UInt8] {
    var status = stat()
    if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
        throw AirlockError(.invalidInput, "cannot read '\(path)': it is a folder, not a file")
    }
    return try FileBytes.read(path: path, limit: 64 << 20)
}
