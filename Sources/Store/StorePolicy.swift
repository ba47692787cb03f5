public import AirlockCore
internal import StrictYAML

/// The store's policy (`ROOT/etc/airlock/store.yaml`, example in `policies/store.yaml`).
public struct StorePolicy: Sendable, Equatable, Decodable {
    /// Installed versions kept per bundle (the current one and those activated most recently);
    /// older ones are removed after each install. At least 2, so a rollback target remains.
    public var keepVersions: Int

    public static let standard = StorePolicy(keepVersions: 3)

    public init(keepVersions: Int) { self.keepVersions = keepVersions }

    enum CodingKeys: String, CodingKey { case keepVersions = "keep_versions" }

    /// Reads the policy; a missing file is the standard policy.
    public static func load(path: String) throws(AirlockError) -> StorePolicy {
        guard let (policy, _) = try StrictYAML.load(StorePolicy.self, path: path) else { return .standard }
        guard policy.keepVersions >= 2 else {
            throw AirlockError(.invalidInput, "\(path): keep_versions must be at least 2, so that a rollback target remains")
        }
        return policy
    }
}
