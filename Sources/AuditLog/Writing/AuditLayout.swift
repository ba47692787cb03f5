public import AirlockCore

/// The audit log's file names, in one place.
///
/// ```
/// ROOT/var/log/airlock/audit-000001.jsonl     sealed segment (ends with its checkpoint)
/// ROOT/var/log/airlock/audit-000002.jsonl     current segment (appended to)
/// ROOT/var/log/airlock/audit.lock             flock(2) taken around every read-tail-and-append
/// ROOT/var/log/airlock/audit-checkpoint.json  copy of the latest signed checkpoint
/// ROOT/var/lib/airlock/audit-key.pem          host audit key, ECDSA P-384, 0600 (created at first use)
/// ROOT/var/lib/airlock/audit-key.pub.pem      its public half, what the verifier needs
/// ROOT/var/lib/airlock/audit-gateway-key.pem   the gateway's own checkpoint key (its credential)
/// ROOT/var/lib/airlock/audit-root/             root's own audit state (0700), out of the gateway's reach:
///                           checkpoint.json         the latest checkpoint root's writers signed
///                           gateway-key.certified   the gateway key's certificate, once it is in the log
/// ```
public struct AuditLayout: Sendable, Equatable {
    /// The folder holding the segments.
    public let directory: String
    /// The signing key's private PEM file (the host key, or the gateway's credential).
    public let keyPath: String
    /// Whose key `keyPath` is: root's writers keep `rootCheckpointPath` and sign after every
    /// record only root writes; the gateway does neither.
    public let signer: AuditSigner

    public init(directory: String, keyPath: String, signer: AuditSigner = .host) {
        self.directory = directory
        self.keyPath = keyPath
        self.signer = signer
    }

    /// The latest checkpoint of the host key, kept where only root writes (beside the host
    /// key): the verifier requires the log to reach it, so records cut off the end of the log
    /// by anyone who can write the log folder (the gateway's user) are caught.
    public var rootCheckpointPath: String { rootDirectory + "/checkpoint.json" }
    /// The gateway key's certificate (canonical JSON).
    public var gatewayCertificatePath: String { rootDirectory + "/gateway-key.certified" }
    /// `audit-root/` beside the key: root's own audit state (`HostLayout.auditRootDirectory`).
    public var rootDirectory: String { AtomicFile.folder(of: keyPath) + "/audit-root" }

    /// The layout under a host root: `HostLayout.auditDirectory` and `storeDirectory/audit-key.pem`.
    public init(host: HostLayout) {
        self.init(directory: host.auditDirectory, keyPath: host.storeDirectory + "/audit-key.pem")
    }

    /// `audit.lock`: every writer, in every process, holds its exclusive flock while appending;
    /// the verifier holds a shared one for the instant it notes the segments' sizes.
    public static let lockName = "audit.lock"
    /// `audit-checkpoint.json`: the latest checkpoint, replaced atomically each time one is signed.
    public static let latestCheckpointName = "audit-checkpoint.json"

    public var lockPath: String { directory + "/" + Self.lockName }
    public var latestCheckpointPath: String { directory + "/" + Self.latestCheckpointName }
    /// Where the public half of the audit key lies.
    public var publicKeyPath: String {
        keyPath.hasSuffix(".pem") ? String(keyPath.dropLast(4)) + ".pub.pem" : keyPath + ".pub.pem"
    }

    /// `audit-000042.jsonl` for segment 42.
    public static func segmentName(_ number: Int) -> String {
        let digits = String(number)
        return "audit-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".jsonl"
    }

    public func segmentPath(_ number: Int) -> String { directory + "/" + Self.segmentName(number) }

    /// The segment number of a file name in the form `segmentName` writes; nil for any other name.
    public static func segmentNumber(of name: String) -> Int? {
        guard name.hasPrefix("audit-"), name.hasSuffix(".jsonl") else { return nil }
        let digits = name.dropFirst(6).dropLast(6)
        guard digits.count >= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(digits), number > 0
        else { return nil }
        return segmentName(number) == name ? number : nil
    }
}
