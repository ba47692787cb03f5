public import AirlockCore

/// A PEFT LoRA adapter folder (`format: peft`), checked on its own and against its base: a
/// LoRA `adapter_config.json`, weights only in `adapter_model.safetensors`, and for every module
/// an A and a B matrix whose shapes fit that module of the base (`lora_A` is rank × inputs,
/// `lora_B` outputs × rank) at a rank within the runtime's limit.
public struct PEFTAdapter: Sendable, Equatable {
    /// The largest rank of any module.
    public let rank: Int
    public let alpha: Double?
    /// Module names as `target_modules` lists them (`q_proj`, `v_proj`).
    public let targetModules: [String]
    /// The modules the weights adapt (`model.layers.0.self_attn.q_proj`), sorted.
    public let modules: [String]
    /// `base_model_name_or_path` as the training stack wrote it (informational only).
    public let baseModelName: String?

    public init(rank: Int, alpha: Double?, targetModules: [String], modules: [String], baseModelName: String?) {
        self.rank = rank
        self.alpha = alpha
        self.targetModules = targetModules
        self.modules = modules
        self.baseModelName = baseModelName
    }

    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"
    static let prefix = "base_model.model."

    /// `base` nil: an adapter whose base is not at hand (an adapter-only bundle): checked on its
    /// own only. `maxRank` nil: no limit set.
    public static func check(_ files: [ModelFile], folder: String, base: HuggingFaceModel?, maxRank: Int?) throws(AirlockError) -> PEFTAdapter {
        func refuse(_ why: String) -> AirlockError {
            AirlockError(.invalidInput, kind: .invalidModel, "PEFT adapter folder '\(Printable.escaped(folder))': \(why)")
        }
        try ModelFolderRules.refuseCode(files, folder: folder)
        let byPath = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        guard let configFile = byPath[configFile] else { throw refuse("\(Self.configFile) is missing") }
        let config = try ModelFolderRules.json(configFile, folder: folder)
        func field(_ name: String) -> JSONValue? { config.first { $0.0 == name }?.1 }

        guard case .string(let type)? = field("peft_type"), type == "LORA" else {
            throw refuse("peft_type is not LORA: only LoRA adapters can be served")
        }
        guard case .int(let configuredRank)? = field("r"), configuredRank >= 1, configuredRank <= 1 << 16 else {
            throw refuse("r (the LoRA rank) is missing or not a positive whole number")
        }
        var alpha: Double?
        switch field("lora_alpha") {
        case .int(let value)?: alpha = Double(value)
        case .double(let value)?: alpha = value
        default: break
        }
        var targets: [String] = []
        switch field("target_modules") {
        case .array(let items)?:
            for item in items {
                guard case .string(let name) = item, isModuleName(name) else { throw refuse("target_modules holds something that is not a module name") }
                targets.append(name)
            }
        case .string(let name)?:
            guard isModuleName(name) else {
                throw refuse("target_modules '\(Printable.escaped(name))' is a regular expression; list the module names instead")
            }
            targets = [name]
        default: break
        }
        guard !targets.isEmpty else { throw refuse("target_modules is missing or empty") }
        if case .bool(true)? = field("use_dora") { throw refuse("use_dora is set: DoRA adapters cannot be served by the engines Airlock runs") }
        switch field("modules_to_save") {
        case nil, .null?: break
        case .array(let items)? where items.isEmpty: break
        default: throw refuse("modules_to_save is set: an adapter that replaces whole modules cannot be served as LoRA")
        }
        var baseName: String?
        if case .string(let name)? = field("base_model_name_or_path") { baseName = name }

        // Weights: exactly adapter_model.safetensors.
        for file in files where file.path.lowercased().hasSuffix(".safetensors") && file.path != weightsFile {
            throw refuse("'\(Printable.escaped(file.path))' is not \(weightsFile): an adapter has one weights file")
        }
        guard let weights = byPath[weightsFile] else { throw refuse("\(weightsFile) is missing") }
        let header = try SafetensorsHeader(head: weights.head, fileSize: weights.size, file: folder + "/" + weightsFile)
        guard !header.tensors.isEmpty else { throw refuse("\(weightsFile) holds no tensor") }

        var pairs: [String: (a: SafetensorsHeader.Tensor?, b: SafetensorsHeader.Tensor?)] = [:]
        for tensor in header.tensors {
            let shown = Printable.escaped(tensor.name, limit: 160)
            guard tensor.name.hasPrefix(prefix) else { throw refuse("tensor '\(shown)' does not start with '\(prefix)'") }
            let rest = tensor.name.dropFirst(prefix.count)
            let module: String
            let isA: Bool
            if rest.hasSuffix(".lora_A.weight") {
                module = String(rest.dropLast(".lora_A.weight".count))
                isA = true
            } else if rest.hasSuffix(".lora_B.weight") {
                module = String(rest.dropLast(".lora_B.weight".count))
                isA = false
            } else {
                throw refuse("tensor '\(shown)' is not a LoRA matrix (MODULE.lora_A.weight or MODULE.lora_B.weight)")
            }
            guard ["F16", "BF16", "F32"].contains(tensor.dtype) else { throw refuse("tensor '\(shown)' is \(tensor.dtype), not a float type") }
            guard tensor.shape.count == 2 else { throw refuse("tensor '\(shown)' is not a matrix (shape \(tensor.shape))") }
            guard targets.contains(where: { module == $0 || module.hasSuffix("." + $0) }) else {
                throw refuse("tensor '\(shown)' adapts a module that target_modules does not list")
            }
            if isA { pairs[module, default: (nil, nil)].a = tensor } else { pairs[module, default: (nil, nil)].b = tensor }
        }

        var rank = 0
        let hasRankPattern: Bool = {
            if case .object(let items)? = field("rank_pattern") { return !items.isEmpty }
            return false
        }()
        for (module, pair) in pairs.sorted(by: { $0.key < $1.key }) {
            let shown = Printable.escaped(module, limit: 160)
            guard let a = pair.a, let b = pair.b else { throw refuse("module '\(shown)' has only one of lora_A and lora_B") }
            let moduleRank = a.shape[0]
            guard b.shape[1] == moduleRank, moduleRank >= 1 else {
                throw refuse("module '\(shown)': lora_A is \(a.shape) and lora_B is \(b.shape), whose ranks differ")
            }
            guard hasRankPattern || moduleRank == Int(configuredRank) else {
                throw refuse("module '\(shown)' has rank \(moduleRank) but \(Self.configFile) says r = \(configuredRank)")
            }
            if let maxRank, moduleRank > maxRank {
                throw refuse("module '\(shown)' has rank \(moduleRank), above the runtime's max_lora_rank \(maxRank)")
            }
            rank = max(rank, moduleRank)
            if let base {
                guard let weight = base.tensors[module + ".weight"] else {
                    throw refuse("module '\(shown)' does not exist in the base model (it has no tensor '\(shown).weight')")
                }
                guard weight.shape.count == 2 else { throw refuse("the base's '\(shown).weight' is not a matrix: it cannot take a LoRA") }
                let (outputs, inputs) = (weight.shape[0], weight.shape[1])
                guard a.shape[1] == inputs, b.shape[0] == outputs else {
                    throw refuse(
                        "module '\(shown)' does not fit the base: lora_A is \(a.shape) and lora_B \(b.shape), "
                            + "but the base's weight is \(weight.shape) (lora_A must be [rank, \(inputs)], lora_B [\(outputs), rank])")
                }
            }
        }
        if let base {
            for target in targets {
                guard base.tensors.keys.contains(where: { $0.hasSuffix("." + target + ".weight") }) else {
                    throw refuse("target module '\(Printable.escaped(target))' does not exist in the base architecture (\(Printable.escaped(base.architecture, limit: 80)))")
                }
            }
        }
        return PEFTAdapter(
            rank: rank, alpha: alpha, targetModules: targets, modules: pairs.keys.sorted(), baseModelName: baseName)
    }

    /// A plain module name: letters, digits, `_` and `.` (no regular expression).
    static func isModuleName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.utf8.allSatisfy { (97...122).contains($0) || (65...90).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 46 }
    }
}
