public import AirlockCore

/// The models one gateway serves: the base model (named after its bundle) and each adapter
/// (by its name), in the order the runtime loaded the adapters, which is their `lora` id.
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

    /// The per-request `lora` field: every loaded adapter listed, the chosen one at 1 and all
    /// others at 0 (llama-server applies its global scales when the list is empty and ignores
    /// unknown ids silently, so every id is always sent).
    public func loraField(for model: String) -> JSONValue {
        .array(adapters.enumerated().map { index, name in
            .object([("id", .int(Int64(index))), ("scale", .int(name == model ? 1 : 0))])
        })
    }
}
