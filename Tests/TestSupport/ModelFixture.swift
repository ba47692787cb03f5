internal import Foundation

/// Writes safetensors files, tiny Hugging Face model folders and PEFT adapter folders for the
/// model-format checks: real files in the real formats (zero weights; the checks read headers
/// and configs, never numbers). Hostile variants are written by editing what these write, or
/// with `SafetensorsFile.write(header:data:)` directly.
public enum SafetensorsFile {
    public struct Tensor: Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]

        public init(_ name: String, _ dtype: String = "F32", _ shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }

        var bytes: Int { shape.reduce(1, *) * (["F16": 2, "BF16": 2, "F32": 4, "I64": 8, "U8": 1][dtype] ?? 4) }
    }

    /// A valid file: tensors laid out in order, no gaps.
    public static func write(_ path: String, tensors: [Tensor]) throws {
        var entries: [String] = []
        var offset = 0
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + tensor.bytes)]}")
            offset += tensor.bytes
        }
        try write(path, header: "{\"__metadata__\":{\"format\":\"pt\"}," + entries.joined(separator: ",") + "}", data: offset)
    }

    /// Any header text, then `data` zero bytes (the length prefix is the header's own length
    /// unless `claimedLength` says otherwise).
    public static func write(_ path: String, header: String, data: Int, claimedLength: UInt64? = nil) throws {
        var bytes: [UInt8] = []
        let length = claimedLength ?? UInt64(header.utf8.count)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8((length >> UInt64(shift)) & 0xFF)) }
        bytes += Array(header.utf8)
        bytes += [UInt8](repeating: 0, count: data)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// A tiny Llama-shaped Hugging Face folder and PEFT adapters for it.
public struct TinyHFModel: Sendable {
    public static let hidden = 16
    public static let intermediate = 32
    public static let layers = 2
    public static let vocabulary = 64

    /// The base's tensors (Llama names and shapes: weights are [outputs, inputs]).
    public static var tensors: [SafetensorsFile.Tensor] {
        var list = [SafetensorsFile.Tensor("model.embed_tokens.weight", "F32", [vocabulary, hidden])]
        for layer in 0..<layers {
            let p = "model.layers.\(layer)."
            for name in ["q_proj", "k_proj", "v_proj", "o_proj"] {
                list.append(.init(p + "self_attn.\(name).weight", "F32", [hidden, hidden]))
            }
            list.append(.init(p + "mlp.gate_proj.weight", "F32", [intermediate, hidden]))
            list.append(.init(p + "mlp.up_proj.weight", "F32", [intermediate, hidden]))
            list.append(.init(p + "mlp.down_proj.weight", "F32", [hidden, intermediate]))
            list.append(.init(p + "input_layernorm.weight", "F32", [hidden]))
            list.append(.init(p + "post_attention_layernorm.weight", "F32", [hidden]))
        }
        list.append(.init("model.norm.weight", "F32", [hidden]))
        list.append(.init("lm_head.weight", "F32", [vocabulary, hidden]))
        return list
    }

    /// Writes the base into `folder`: two shards and their index, config, tokenizer and template.
    public static func writeBase(_ folder: String, shards: Int = 2) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = """
            {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":\(hidden),"intermediate_size":\(intermediate),\
            "num_hidden_layers":\(layers),"num_attention_heads":2,"num_key_value_heads":2,"vocab_size":\(vocabulary),\
            "max_position_embeddings":256,"rms_norm_eps":1e-05,"torch_dtype":"float32"}
            """
        try config.write(toFile: folder + "/config.json", atomically: false, encoding: .utf8)
        try #"{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}"#.write(toFile: folder + "/tokenizer.json", atomically: false, encoding: .utf8)
        try #"{"bos_token":"<s>","eos_token":"</s>","chat_template":"{% for m in messages %}{{ m['content'] }}{% endfor %}"}"#
            .write(toFile: folder + "/tokenizer_config.json", atomically: false, encoding: .utf8)
        let all = tensors
        if shards == 1 {
            try SafetensorsFile.write(folder + "/model.safetensors", tensors: all)
            return
        }
        var map: [String] = []
        let perShard = (all.count + shards - 1) / shards
        for shard in 0..<shards {
            let name = String(format: "model-%05d-of-%05d.safetensors", shard + 1, shards)
            let part = Array(all[min(all.count, shard * perShard)..<min(all.count, (shard + 1) * perShard)])
            try SafetensorsFile.write(folder + "/" + name, tensors: part)
            map += part.map { "\"\($0.name)\":\"\(name)\"" }
        }
        try "{\"metadata\":{\"total_size\":0},\"weight_map\":{\(map.joined(separator: ","))}}"
            .write(toFile: folder + "/model.safetensors.index.json", atomically: false, encoding: .utf8)
    }

    /// Writes a LoRA adapter for the base into `folder`.
    public static func writeAdapter(
        _ folder: String, rank: Int = 4, targets: [String] = ["q_proj", "v_proj"], configRank: Int? = nil,
        extraConfig: String = ""
    ) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let targetList = targets.map { "\"\($0)\"" }.joined(separator: ",")
        try """
            {"peft_type":"LORA","task_type":"CAUSAL_LM","r":\(configRank ?? rank),"lora_alpha":\(2 * rank),"target_modules":[\(targetList)],\
            "base_model_name_or_path":"tiny-llama","bias":"none"\(extraConfig)}
            """.write(toFile: folder + "/adapter_config.json", atomically: false, encoding: .utf8)
        var list: [SafetensorsFile.Tensor] = []
        for layer in 0..<layers {
            for target in targets {
                let module = "base_model.model.model.layers.\(layer).self_attn.\(target)"
                list.append(.init(module + ".lora_A.weight", "F32", [rank, hidden]))
                list.append(.init(module + ".lora_B.weight", "F32", [hidden, rank]))
            }
        }
        try SafetensorsFile.write(folder + "/adapter_model.safetensors", tensors: list)
    }
}
