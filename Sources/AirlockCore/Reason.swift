/// One reason something was refused: a kind a script or a test matches (`--json` prints it as
/// `kind`), and the message a person reads. Kinds are stable strings; messages may be reworded.
public struct Reason: Sendable, Equatable, CustomStringConvertible {
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The kinds of refusal, one per cause a user would act on differently. The list with what
    /// each means is in Docs/architecture.md ("Refusal kinds").
    public struct Kind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // The file as an archive.
        /// Not an Airlock bundle at all (not a tar, compressed as a whole, no manifest first).
        public static let notABundle = Kind("not-a-bundle")
        /// A tar whose structure is broken or self-contradictory (headers, pax records, zstd).
        public static let malformedArchive = Kind("malformed-archive")
        /// The file ends before the archive does.
        public static let truncated = Kind("truncated")
        /// Bytes after the end-of-archive marker.
        public static let trailingData = Kind("trailing-data")
        /// A link, device, FIFO, setuid/setgid bit, `..` or absolute path, or a name that is not
        /// plain UTF-8: refused outright, never "made safe".
        public static let unsafeEntry = Kind("unsafe-entry")
        /// The same entry twice.
        public static let duplicateEntry = Kind("duplicate-entry")
        /// Larger, deeper or more numerous than the reader's limits (bombs).
        public static let overLimit = Kind("over-limit")
        /// `manifest.json` is not a valid manifest.
        public static let invalidManifest = Kind("invalid-manifest")

        // The signatures, against the trust policy.
        /// The bundle carries no signature.
        public static let noSignature = Kind("no-signature")
        /// A signature entry that is not a DSSE envelope this Airlock reads.
        public static let malformedSignature = Kind("malformed-signature")
        /// A signature over other bytes than this bundle's manifest.
        public static let manifestMismatch = Kind("manifest-mismatch")
        /// A DSSE payload type other than the manifest's.
        public static let unknownPayloadType = Kind("unknown-payload-type")
        /// Signed by a key (or a certificate of a CA) the policy does not trust.
        public static let untrustedSigner = Kind("untrusted-signer")
        /// A signature that does not verify with the key it names.
        public static let badSignature = Kind("bad-signature")
        /// A certificate chain that does not verify (expired, not yet valid, wrong usage).
        public static let certificateRefused = Kind("certificate-refused")
        /// A trusted signer whose name patterns do not cover this bundle's name.
        public static let signerNotAllowed = Kind("signer-not-allowed")
        /// One signer counted once, however many times it signed.
        public static let duplicateSigner = Kind("duplicate-signer")
        /// Fewer distinct trusted signatures than the policy's threshold.
        public static let thresholdNotMet = Kind("threshold-not-met")
        /// A signature by a key or through a certificate the trust policy revoked.
        public static let revoked = Kind("revoked")
        /// The policy trusts nothing yet.
        public static let emptyPolicy = Kind("empty-policy")

        // The payload, against the signed manifest.
        /// A file whose bytes do not match their signed SHA-256.
        public static let digestMismatch = Kind("digest-mismatch")
        /// A file whose size is not its signed size.
        public static let sizeMismatch = Kind("size-mismatch")
        /// An entry the manifest does not list.
        public static let unlistedEntry = Kind("unlisted-entry")
        /// A listed file missing from the bundle.
        public static let missingEntry = Kind("missing-entry")

        // The weights and adapters, checked at build and again at verify.
        /// Weights in a format whose loading runs code (pickle: `.bin`, `.pt`, `.pth`, `.ckpt`,
        /// ...) or a model's own Python code.
        public static let unsafeWeights = Kind("unsafe-weights")
        /// A model or adapter folder that is malformed or does not fit: a bad safetensors
        /// header, a shard missing or unlisted, an adapter that does not fit its base, a rank
        /// over the limit, no tokenizer or chat template.
        public static let invalidModel = Kind("invalid-model")

        // Files on the host.
        /// A name in a folder another user can write that is not a plain file Airlock wrote (a
        /// symbolic or hard link, a FIFO, a folder, a stranger's file): refused, left as it is.
        public static let unsafeFile = Kind("unsafe-file")

        // Anything else: the error's code decides.
        /// A refusal or error with no finer kind.
        public static let other = Kind("other")
    }
}
