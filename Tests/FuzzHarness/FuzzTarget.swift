internal import Foundation

/// The parsers Airlock runs on bytes from outside, each as a fuzz target: one input in, the
/// same public entry production calls, and the checks that must hold whatever the input.
/// The libFuzzer executables of `Fuzz/` and the regression tests (`FuzzHarnessTests`, every
/// file under `Tests/Fuzz/Regressions/TARGET/`) both call `run`; `seeds()` is each target's
/// starting corpus, made by the real writers.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `Manifest.decode`: the signed manifest bytes of a bundle.
    case manifest
    /// `BundleSpec.parse`: a bundle spec (YAML, through StrictYAML).
    case spec
    /// `BundleArchiveReader`: a bundle's tar headers and entries (`TarEntryHeaders` beside
    /// libarchive). The first input byte is a flag: bit 0 set rewrites every ustar header
    /// block's checksum before reading, so mutations get past the checksum check.
    case tar
    /// `AuditRecord(line:)` and `AuditRecord.readersDisagree`: one audit log line.
    case audit
    /// `RequestTranslator.translate`: a completion request body. The first input byte picks
    /// the endpoint (even: chat, odd: completions).
    case request

    /// Runs one input.
    public func run(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
        switch self {
        case .manifest: ManifestFuzz.run(input)
        case .spec: SpecFuzz.run(input)
        case .tar: TarFuzz.run(input)
        case .audit: AuditFuzz.run(input)
        case .request: RequestFuzz.run(input)
        }
    }

    public func run(_ input: [UInt8]) -> FuzzOutcome {
        input.withUnsafeBufferPointer { run($0) }
    }

    /// Valid inputs built by the real writers (a few deliberately refused ones too), named.
    public func seeds() -> [(name: String, bytes: [UInt8])] {
        switch self {
        case .manifest: ManifestFuzz.seeds()
        case .spec: SpecFuzz.seeds()
        case .tar: TarFuzz.seeds()
        case .audit: AuditFuzz.seeds()
        case .request: RequestFuzz.seeds()
        }
    }

    /// Writes `seeds()` into `directory` (created if needed), one file each.
    public func writeSeeds(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for seed in seeds() {
            try Data(seed.bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent("seed-\(seed.name)"))
        }
    }
}

/// What one input did.
public enum FuzzOutcome: Equatable, Sendable, CustomStringConvertible {
    /// The parser accepted it, and everything that must hold of an accepted input held.
    case accepted
    /// The parser refused it with its typed error (`AirlockError`, or `OpenAIError` for the
    /// gateway); the message.
    case refused(String)
    /// A check failed: a bug (the fuzzer stops on it).
    case broken(String)

    public var description: String {
        switch self {
        case .accepted: "accepted"
        case .refused(let message): "refused: \(message)"
        case .broken(let problem): "BROKEN: \(problem)"
        }
    }
}
