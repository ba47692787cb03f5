public import AirlockCore

/// The models one gateway serves: the base model (named after its bundle) and each adapter
/// (by its name), in the order the runtime loaded the adapters.
public struct ModelCatalog: Sendable, Equatable {
    /// The bundle name: also the model id of the base model alone.
    public let bundle: String
    /// The installed version being served.
    public let version: String
    /// Adapter names, in the runtime's adapter order.
    public let adapters: [String]

    public init(bundle: String, version: String, adapters: [String]) throws(AirlockError) {
        guard !adapters.contains(bundle) else {
            throw AirlockError(.invalidInput, "an adapter may not be named like its bundle ('\(bundle)')")
        }
        guard Set(adapters).count == adapters.count else {
            throw AirlockError(.invalidInput, "two adapters share a name")
        }
        self.bundle = bundle
        self.version = version
        self.adapters = adapters
    }

    /// Every model id clients may name: the base first, then the adapters.
    public var models: [String] { [bundle] + adapters }

    public func contains(_ model: String) -> Bool { model == bundle || adapters.contains(model) }

    /// The adapter a model id selects; nil for the base model.
    public func adapter(for model: String) -> String? { model == bundle ? nil : model }
}
