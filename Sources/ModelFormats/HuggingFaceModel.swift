public import AirlockCore

/// Rules every model and adapter folder meets before it goes into a bundle or onto a host.
public enum ModelFolderRules {
    /// Extensions of files whose loading runs code: Python's pickle (`torch.load` of `.bin`,
    /// `.pt`, `.pth`, `.ckpt`; joblib, dill; NumPy's `.npy`/`.npz` with objects), and the
    /// model's own Python code (`trust_remote_code`), compiled or not. Airlock never carries them.
    public static let pickleExtensions: Set<String> = ["bin", "pt", "pth", "ckpt", "pkl", "pickle", "joblib", "dill", "npy", "npz"]
    public static let codeExtensions: Set<String> = ["py", "pyc", "pyo", "so"]

    /// Refuses the first file of `files` whose format runs code when loaded.
    public static func refuseCode(_ files: [ModelFile], folder: String) throws(AirlockError) {
        for file in files {
            let name = file.path.split(separator: "/").last.map(String.init) ?? file.path
            guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { continue }
            let extension_ = name[name.index(after: dot)...].lowercased()
            let shown = Printable.escaped(folder + "/" + file.path)
            if pickleExtensions.contains(extension_) {
                throw AirlockError(
                    .invalidInput, kind: .unsafeWeights,
                    "'\(shown)' is pickle-based (.\(extension_)): loading it runs code; convert it to safetensors (or remove it) and build again")
            }
            if codeExtensions.contains(extension_) {
                throw AirlockError(
                    .invalidInput, kind: .unsafeWeights,
                    "'\(shown)' is code (.\(extension_)): Airlock never runs a model's own code (trust_remote_code); remove it and build again")
            }
        }
    }

    static func json(_ file: ModelFile, folder: String) throws(AirlockError) -> [(String, JSONValue)] {
        let shown = Printable.escaped(folder + "/" + file.path)
        guard let bytes = file.wholeBytes else {
            throw AirlockError(
                .invalidInput, kind: .invalidModel, "'\(shown)' is larger than the \(ModelFile.describingFileLimit >> 20) MiB Airlock reads")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes, maxDepth: 32) } catch {
            throw AirlockError(.invalidInput, kind: .invalidModel, "'\(shown)' is not valid JSON: \(error.description)")
        }
        guard case .object(let members) = value else {
            throw AirlockError(.invalidInput, kind: .invalidModel, "'\(shown)' is not a JSON object")
        }
        return members
    }
}

/// A Hugging Face model folder (`format: hf`), checked: `config.json` naming a built-in
/// architecture, weights only as safetensors (one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json`, each shard listed and each listed tensor in its shard), a
/// tokenizer and a chat template. Every tensor's name and shape is kept: adapters are checked
/// against them.
public struct HuggingFaceModel: Sendable, Equatable {
    public let architecture: String
    public let modelType: String
    /// The safetensors files holding the weights, in order.
    public let shards: [String]
    /// Every weight tensor, by name.
    public let tensors: [String: SafetensorsHeader.Tensor]
    /// `tokenizer.json` or `tokenizer.model`.
    public let tokenizer: String
    /// Where the chat template is (`tokenizer_config.json` or `chat_template.jinja`/`.json`).
    public let chatTemplate: String

    public static let indexFile = "model.safetensors.index.json"

    public static func check(_ files: [ModelFile], folder: String) throws(AirlockError) -> HuggingFaceModel {
        func refuse(_ why: String) -> AirlockError {
            AirlockError(.invalidInput, kind: .invalidModel, "Hugging Face model folder '\(Printable.escaped(folder))': \(why)")
        }
        try ModelFolderRules.refuseCode(files, folder: folder)
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })

        guard let configFile = byPath["config.json"] else { throw refuse("config.json is missing") }
        let config = try ModelFolderRules.json(configFile, folder: folder)
        guard case .array(let names)? = config.first(where: { $0.0 == "architectures" })?.1,
            case .string(let architecture)? = names.first, !architecture.isEmpty
        else { throw refuse("config.json names no architecture (\"architectures\": [\"LlamaForCausalLM\"])") }
        guard case .string(let modelType)? = config.first(where: { $0.0 == "model_type" })?.1, !modelType.isEmpty else {
            throw refuse("config.json has no model_type")
        }
        if config.contains(where: { $0.0 == "auto_map" }) {
            throw refuse("config.json has auto_map: the model needs its own Python code, which Airlock never runs")
        }

        // Weights: safetensors only, every one accounted for.
        let safetensors = files.filter { $0.path.lowercased().hasSuffix(".safetensors") }
        var headers: [String: SafetensorsHeader] = [:]
        for file in safetensors {
            headers[file.path] = try SafetensorsHeader(head: file.head, fileSize: file.size, file: folder + "/" + file.path)
        }
        var tensors: [String: SafetensorsHeader.Tensor] = [:]
        let shards: [String]
        if let indexFile = byPath[indexFile] {
            guard byPath["model.safetensors"] == nil else {
                throw refuse("both model.safetensors and \(Self.indexFile) are present: say which weights are meant")
            }
            let index = try ModelFolderRules.json(indexFile, folder: folder)
            guard case .object(let map)? = index.first(where: { $0.0 == "weight_map" })?.1, !map.isEmpty else {
                throw refuse("\(Self.indexFile) has no weight_map")
            }
            var listed: [String: Set<String>] = [:]
            for (tensor, value) in map {
                guard case .string(let shard) = value else { throw refuse("\(Self.indexFile) maps '\(Printable.escaped(tensor))' to no file") }
                guard byPath[shard] != nil, headers[shard] != nil else {
                    throw refuse("\(Self.indexFile) names shard '\(Printable.escaped(shard))', which is missing")
                }
                listed[shard, default: []].insert(tensor)
            }
            for file in safetensors where listed[file.path] == nil {
                throw refuse("shard '\(Printable.escaped(file.path))' is not listed in \(Self.indexFile)")
            }
            for (shard, names) in listed.sorted(by: { $0.key < $1.key }) {
                let inShard = headers[shard]!.byName
                for name in names.sorted() where inShard[name] == nil {
                    throw refuse("\(Self.indexFile) puts tensor '\(Printable.escaped(name))' in '\(Printable.escaped(shard))', which does not hold it")
                }
                for (name, tensor) in inShard {
                    guard names.contains(name) else {
                        throw refuse("'\(shard)' holds tensor '\(Printable.escaped(name))', which \(Self.indexFile) does not list there")
                    }
                    tensors[name] = tensor
                }
            }
            shards = listed.keys.sorted()
        } else {
            guard let single = headers["model.safetensors"] else {
                throw refuse(
                    safetensors.isEmpty
                        ? "no safetensors weights (model.safetensors, or shards with \(Self.indexFile))"
                        : "'\(Printable.escaped(safetensors[0].path))' is not model.safetensors and there is no \(Self.indexFile) listing it")
            }
            for file in safetensors where file.path != "model.safetensors" {
                throw refuse("'\(Printable.escaped(file.path))' is not listed: with one model.safetensors, no other safetensors file may be present")
            }
            for tensor in single.tensors { tensors[tensor.name] = tensor }
            shards = ["model.safetensors"]
        }
        guard !tensors.isEmpty else { throw refuse("the weights hold no tensor") }

        // What the chat API needs: a tokenizer and a chat template.
        guard let tokenizer = ["tokenizer.json", "tokenizer.model"].first(where: { byPath[$0].map { $0.size > 0 } ?? false }) else {
            throw refuse("no tokenizer (tokenizer.json or tokenizer.model)")
        }
        var template: String?
        if let file = byPath["tokenizer_config.json"] {
            let members = try ModelFolderRules.json(file, folder: folder)
            switch members.first(where: { $0.0 == "chat_template" })?.1 {
            case .string(let text)? where !text.isEmpty: template = "tokenizer_config.json"
            case .array(let items)? where !items.isEmpty: template = "tokenizer_config.json"
            default: break
            }
        }
        if template == nil, let file = byPath["chat_template.jinja"], file.size > 0 { template = "chat_template.jinja" }
        if template == nil, let file = byPath["chat_template.json"] {
            if case .string(let text)? = try ModelFolderRules.json(file, folder: folder).first(where: { $0.0 == "chat_template" })?.1,
                !text.isEmpty
            {
                template = "chat_template.json"
            }
        }
        guard let chatTemplate = template else {
            throw refuse("no chat template (chat_template in tokenizer_config.json, or chat_template.jinja): the chat API needs one")
        }
        return HuggingFaceModel(
            architecture: architecture, modelType: modelType, shards: shards, tensors: tensors, tokenizer: tokenizer,
            chatTemplate: chatTemplate)
    }
}
