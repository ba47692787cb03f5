public import AirlockCore
public import Signing

/// A signed statement by the host audit key: "the log's record number `seq` in segment
/// `segment`, written at `time`, follows a record whose line hashes to `chain`".
///
/// Design: a checkpoint is itself a record of the log (action `audit.checkpoint`, its `prev` is
/// the chain hash, the key id, hex signature and reason in `details`), so it is chained like
/// any other record and a sealed segment visibly ends with one. The latest checkpoint is also
/// copied to `audit-checkpoint.json` beside the segments (so a log cut short before it is
/// caught without outside help) and can be printed and kept off the host, where even root
/// cannot reach it (`AuditLogVerifier.verify(…, against:)`).
///
/// The signature covers `airlock-audit-checkpoint/1\n` followed by the canonical JSON of
/// `{"chain","segment","seq","time"}`; ECDSA P-384 over SHA-384.
public struct AuditCheckpoint: Sendable, Equatable, Codable {
    /// The checkpoint record's own sequence number: every record before it is covered.
    public var seq: UInt64
    /// Hex SHA-256 of the line of record `seq - 1` (the checkpoint record's `prev`).
    public var chain: String
    /// The segment file holding the checkpoint record.
    public var segment: String
    /// The checkpoint record's time.
    public var time: String
    /// `sha256:…` id of the signing key.
    public var key: String
    /// Hex DER ECDSA signature over `signedBytes`.
    public var signature: String
    /// `interval` (every N records), `seal` (the last record of a rotated segment) or `request`.
    public var reason: String

    /// Where the signature goes, and its format version.
    public static let domain = "airlock-audit-checkpoint/1\n"

    /// The bytes the key signs.
    public var signedBytes: [UInt8] {
        var json = CanonicalJSON()
        json.bytes.append(contentsOf: Self.domain.utf8)
        json.object { json in
            json.field("chain", string: chain)
            json.field("segment", string: segment)
            json.field("seq", number: seq)
            json.field("time", string: time)
        }
        return json.bytes
    }

    /// Whether `publicKey` signed exactly this checkpoint.
    public func isSigned(by publicKey: PublicKey) -> Bool {
        guard key == publicKey.keyID, let signatureBytes = Hex.decode(signature) else { return false }
        return publicKey.verify(signature: signatureBytes, message: signedBytes)
    }

    static func sign(
        seq: UInt64, chain: String, segment: String, time: String, reason: String, key: PrivateKey
    ) throws(AirlockError) -> AuditCheckpoint {
        var checkpoint = AuditCheckpoint(
            seq: seq, chain: chain, segment: segment, time: time, key: key.publicKey.keyID, signature: "", reason: reason)
        checkpoint.signature = Hex.encode(try key.sign(checkpoint.signedBytes))
        return checkpoint
    }

    /// The checkpoint a `audit.checkpoint` record in `segment` states; nil for any other record,
    /// or one without the fields.
    init?(record: AuditRecord, segment: String) {
        guard record.action == AuditAction.checkpoint.rawValue, let details = record.details,
            let key = details["key"], let signature = details["signature"]
        else { return nil }
        self.init(
            seq: record.seq, chain: record.prev, segment: segment, time: record.time, key: key, signature: signature,
            reason: details["reason"] ?? "")
    }

    /// The `details` of the checkpoint's record.
    var recordDetails: [String: String] { ["key": key, "signature": signature, "reason": reason] }

    /// One line of canonical JSON: the content of `audit-checkpoint.json`, and the form to keep
    /// off the host.
    public var json: [UInt8] {
        var json = CanonicalJSON()
        json.object { json in
            json.field("chain", string: chain)
            json.field("key", string: key)
            json.field("reason", string: reason)
            json.field("segment", string: segment)
            json.field("seq", number: seq)
            json.field("signature", string: signature)
            json.field("time", string: time)
        }
        json.bytes.append(0x0A)
        return json.bytes
    }

    /// A checkpoint from the bytes `json` wrote (surrounding whitespace allowed).
    public init(json: [UInt8]) throws(AirlockError) {
        guard json.count < 64 * 1024 else { throw AirlockError(.invalidInput, "a checkpoint is a one-line JSON object, not \(json.count) bytes") }
        do {
            self = try JSONCoding.decode(AuditCheckpoint.self, from: json)
        } catch {
            throw AirlockError(.invalidInput, "not an audit checkpoint: \(DecodingErrorText.describe(error))")
        }
    }

    public init(
        seq: UInt64, chain: String, segment: String, time: String, key: String, signature: String, reason: String
    ) {
        self.seq = seq
        self.chain = chain
        self.segment = segment
        self.time = time
        self.key = key
        self.signature = signature
        self.reason = reason
    }
}

extension AuditCheckpoint {
    /// Root's latest checkpoint (`layout.rootCheckpointPath`, where the gateway cannot write);
    /// nil when root has signed none yet.
    public static func rootHead(_ layout: AuditLayout) throws(AirlockError) -> AuditCheckpoint? {
        try FileBytes.readIfPresent(path: layout.rootCheckpointPath, limit: 64 * 1024).map { bytes throws(AirlockError) in
            try AuditCheckpoint(json: bytes)
        }
    }
}

/// Lower-case hex, for signatures in records.
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String { Digest(bytes: bytes).hex }

    static func decode(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case 0x30...0x39: digit - 0x30
            case 0x61...0x66: digit - 0x61 + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
