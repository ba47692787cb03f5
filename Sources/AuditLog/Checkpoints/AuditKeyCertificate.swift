public import AirlockCore
public import Signing

/// Who signs the log's checkpoints, and with which key.
///
/// Root's writers (every `airlock` admin command, `airlock-audit`, the seal and retention
/// timers) sign with the host audit key (`/var/lib/airlock/audit-key.pem`, root-only). The
/// gateway signs with a key of its own (`audit-gateway-key.pem`, handed to its service as a
/// credential), which the host key certifies once in the log itself (an `audit.key` record).
/// So a compromised gateway holds no key that speaks for root: records only root writes
/// (`AuditAction.writer == .root`) must each be followed by a checkpoint of the host key,
/// which the verifier enforces from the first certification on.
public enum AuditSigner: String, Sendable {
    /// The host audit key: root's writers.
    case host
    /// The gateway's key, certified by the host key.
    case gateway
}

/// The host key's statement "this public key signs checkpoints for the gateway", kept as the
/// details of an `audit.key` record: `role`, `key` (its `sha256:` id), `public_key` (base64 of
/// its SubjectPublicKeyInfo DER), `certified_by` and `signature` (hex, over
/// `airlock-audit-key/1\n` and the canonical JSON of `{"key","public_key","role"}`).
public struct AuditKeyCertificate: Sendable, Equatable {
    public var role: String
    public var publicKey: PublicKey
    public var certifiedBy: String
    public var signature: String

    public static let domain = "airlock-audit-key/1\n"

    public init(role: String, publicKey: PublicKey, certifiedBy: String, signature: String) {
        self.role = role
        self.publicKey = publicKey
        self.certifiedBy = certifiedBy
        self.signature = signature
    }

    static func signedBytes(role: String, publicKey: PublicKey) -> [UInt8] {
        var json = CanonicalJSON()
        json.bytes.append(contentsOf: domain.utf8)
        json.object { json in
            json.field("key", string: publicKey.keyID)
            json.field("public_key", string: Base64.encode(publicKey.spkiDER))
            json.field("role", string: role)
        }
        return json.bytes
    }

    /// The host key's certificate of `key` for `role`.
    public static func certify(
        _ key: PublicKey, role: String = AuditSigner.gateway.rawValue, by host: PrivateKey
    ) throws(AirlockError) -> AuditKeyCertificate {
        let signature = try host.sign(signedBytes(role: role, publicKey: key))
        return AuditKeyCertificate(role: role, publicKey: key, certifiedBy: host.publicKey.keyID, signature: Hex.encode(signature))
    }

    /// Whether `host` signed exactly this certificate.
    public func isSigned(by host: PublicKey) -> Bool {
        guard certifiedBy == host.keyID, let bytes = Hex.decode(signature) else { return false }
        return host.verify(signature: bytes, message: Self.signedBytes(role: role, publicKey: publicKey))
    }

    var recordDetails: [String: String] {
        [
            "role": role, "key": publicKey.keyID, "public_key": Base64.encode(publicKey.spkiDER),
            "certified_by": certifiedBy, "signature": signature,
        ]
    }

    /// The certificate an `audit.key` record states; nil when its fields are missing or wrong.
    init?(record: AuditRecord) {
        guard record.action == AuditAction.keyCertified.rawValue, let details = record.details else { return nil }
        self.init(details: details)
    }

    init?(details: [String: String]) {
        guard let role = details["role"], let keyID = details["key"], let encoded = details["public_key"],
            let certifiedBy = details["certified_by"], let signature = details["signature"],
            let der = Base64.decode(encoded), let key = try? PublicKey(spkiDER: der), key.keyID == keyID
        else { return nil }
        self.init(role: role, publicKey: key, certifiedBy: certifiedBy, signature: signature)
    }
}

/// The gateway's own checkpoint key: created by root, certified in the log by the host key,
/// handed to the gateway's service (`LoadCredential=`).
public enum AuditGatewayKey {
    /// `audit-gateway-key.pem` beside the host key (root-only, 0600).
    public static func path(host layout: HostLayout) -> String { layout.gatewayAuditKey }

    /// The gateway's key, created and certified if need be (root only: the host key signs).
    /// The certificate goes into the log (`audit.key`, followed by a checkpoint of the host
    /// key) and, once it is there, into `AuditLayout.gatewayCertificatePath`. Returns the key's id.
    @discardableResult
    public static func prepare(host layout: HostLayout) throws(AirlockError) -> String {
        let audit = AuditLayout(host: layout)
        let key = try AuditKey.loadOrCreate(path: path(host: layout))
        let host = try AuditKey.loadOrCreate(path: audit.keyPath)
        // Certified already, by this host key (a new host key certifies the gateway key again).
        if let known = certificate(audit), known.publicKey == key.publicKey, known.isSigned(by: host.publicKey) {
            return known.publicKey.keyID
        }
        let certificate = try AuditKeyCertificate.certify(key.publicKey, by: host)
        let writer = try AuditLogWriter(layout: audit)
        try writer.appendNow(.keyCertified(by: .local(user: "root", uid: 0), certificate))
        try AtomicFile.makeDirectories(audit.rootDirectory, mode: 0o700)
        try AtomicFile.write(certificate.json, to: audit.gatewayCertificatePath, mode: 0o644)
        return key.publicKey.keyID
    }

    /// The certificate kept beside the host key, if any (not checked here: the verifier does).
    public static func certificate(_ layout: AuditLayout) -> AuditKeyCertificate? {
        guard let bytes = try? FileBytes.readIfPresent(path: layout.gatewayCertificatePath, limit: 64 * 1024) else { return nil }
        return try? AuditKeyCertificate(json: bytes)
    }

    /// Whether the key exists and its certificate is in the log: the gateway may sign with it.
    public static func isCertified(host layout: HostLayout) -> Bool {
        certificate(AuditLayout(host: layout)) != nil && AuditFiles.exists(path(host: layout))
    }
}

extension AuditKeyCertificate {
    /// One line of canonical JSON (the record's details).
    public var json: [UInt8] {
        var json = CanonicalJSON()
        json.object { json in
            for (field, value) in recordDetails.sorted(by: { $0.key < $1.key }) { json.field(field, string: value) }
        }
        return json.bytes + [0x0A]
    }

    public init(json bytes: [UInt8]) throws(AirlockError) {
        let details: [String: String]
        do {
            details = try JSONCoding.decode([String: String].self, from: bytes)
        } catch {
            throw AirlockError(.invalidInput, "not a gateway key certificate: \(DecodingErrorText.describe(error))")
        }
        guard let certificate = AuditKeyCertificate(details: details) else {
            throw AirlockError(.invalidInput, "the gateway key certificate lacks a field or holds a wrong key")
        }
        self = certificate
    }
}
