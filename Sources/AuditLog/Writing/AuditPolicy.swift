public import AirlockCore
internal import StrictYAML

/// The audit log's policy (`ROOT/etc/airlock/audit.yaml`, example in `policies/audit.yaml`).
public struct AuditPolicy: Sendable, Equatable, Decodable {
    /// Sealed segments whose every record is older than this many days are removed, whole, by
    /// `airlock-audit retention`. 396 days (13 months) by default; never below 180.
    public var retentionDays: Int

    /// 13 months: PCI DSS asks for 12, with a month's margin for the yearly audit.
    public static let defaultRetentionDays = 396
    /// CERT-In's 180 days, the shortest retention any regulation Airlock is used under allows.
    public static let minimumRetentionDays = 180

    public static let standard = AuditPolicy(retentionDays: defaultRetentionDays)

    public init(retentionDays: Int) { self.retentionDays = retentionDays }

    enum CodingKeys: String, CodingKey { case retentionDays = "retention_days" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        retentionDays = try container.decodeIfPresent(Int.self, forKey: .retentionDays) ?? Self.defaultRetentionDays
    }

    /// The policy file of the host under `host`.
    public static func path(host: HostLayout) -> String { host.auditPolicy }

    /// Reads the policy; a missing file is the standard policy (396 days). A retention below
    /// 180 days is refused, naming the file and the floor.
    public static func load(path: String) throws(AirlockError) -> AuditPolicy {
        guard let (policy, _) = try StrictYAML.load(AuditPolicy.self, path: path) else { return .standard }
        try policy.validate(source: path)
        return policy
    }

    /// Refuses a retention below `minimumRetentionDays`.
    public func validate(source: String = "the audit policy") throws(AirlockError) {
        guard retentionDays >= Self.minimumRetentionDays else {
            throw AirlockError(
                .refused,
                "\(source): retention_days is \(retentionDays), below the minimum of \(Self.minimumRetentionDays) days "
                    + "(CERT-In asks 180 days, PCI DSS 12 months): nothing is removed")
        }
    }
}
