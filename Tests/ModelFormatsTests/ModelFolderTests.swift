import AirlockCore
import Foundation
import ModelFormats
import TestSupport
import Testing

/// Reads a folder and runs the base check, as `airlock-pack build` does.
func checkBase(_ folder: String) throws -> HuggingFaceModel {
    try HuggingFaceModel.check(try ModelFile.read(folder: folder, what: "base model folder"), folder: folder)
}

func checkAdapter(_ folder: String, base: String, maxRank: Int? = nil) throws -> PEFTAdapter {
    let model = try checkBase(base)
    return try PEFTAdapter.check(try ModelFile.read(folder: folder, what: "adapter folder"), folder: folder, base: model, maxRank: maxRank)
}

/// The refusal's kind and message, or nil when the check passed.
func refusal(_ body: () throws -> Void) -> (kind: String, message: String)? {
    do {
        try body()
        return nil
    } catch let error as AirlockError {
        return (error.reasonKind.rawValue, error.description)
    } catch {
        return ("unexpected", "\(error)")
    }
}

@Suite struct HuggingFaceFolderTests {
    @Test func aShardedFolderWithTokenizerAndTemplatePasses() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        let model = try checkBase(folder.path)
        #expect(model.architecture == "LlamaForCausalLM")
        #expect(model.shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        #expect(model.tensors.count == TinyHFModel.tensors.count)
        #expect(model.tensors["model.layers.1.self_attn.q_proj.weight"]?.shape == [TinyHFModel.hidden, TinyHFModel.hidden])
        #expect(model.tokenizer == "tokenizer.json")
        #expect(model.chatTemplate == "tokenizer_config.json")
    }

    @Test func aSingleFileFolderPasses() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path, shards: 1)
        #expect(try checkBase(folder.path).shards == ["model.safetensors"])
    }

    @Test(arguments: ["pytorch_model.bin", "training_args.bin", "model.pt", "consolidated.00.pth", "last.ckpt", "optimizer.PKL", "sub/weights.npy"])
    func pickleBasedWeightsAreRefusedByName(_ name: String) throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try FileManager.default.createDirectory(atPath: folder.file("sub"), withIntermediateDirectories: true)
        // A real pickle stream (protocol 2, the integer 1): loading it would run the unpickler.
        try Data([0x80, 0x02, 0x4B, 0x01, 0x2E]).write(to: URL(fileURLWithPath: folder.file(name)))
        let found = try #require(refusal { _ = try checkBase(folder.path) })
        #expect(found.kind == "unsafe-weights")
        #expect(found.message.contains(name))
        #expect(found.message.contains("pickle"))
    }

    @Test func aModelsOwnCodeIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try "import os\nos.system('id')\n".write(toFile: folder.file("modeling_evil.py"), atomically: false, encoding: .utf8)
        let found = try #require(refusal { _ = try checkBase(folder.path) })
        #expect(found.kind == "unsafe-weights")
        #expect(found.message.contains("modeling_evil.py"))
    }

    @Test func autoMapInTheConfigIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try #"{"architectures":["EvilForCausalLM"],"model_type":"evil","auto_map":{"AutoModelForCausalLM":"modeling_evil.EvilForCausalLM"}}"#
            .write(toFile: folder.file("config.json"), atomically: false, encoding: .utf8)
        let found = try #require(refusal { _ = try checkBase(folder.path) })
        #expect(found.kind == "invalid-model")
        #expect(found.message.contains("auto_map"))
    }

    @Test func anIndexNamingAMissingShardIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try FileManager.default.removeItem(atPath: folder.file("model-00002-of-00002.safetensors"))
        let found = try #require(refusal { _ = try checkBase(folder.path) })
        #expect(found.kind == "invalid-model")
        #expect(found.message.contains("names shard 'model-00002-of-00002.safetensors', which is missing"))
    }

    @Test func aShardTheIndexDoesNotListIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try SafetensorsFile.write(folder.file("model-00003-of-00002.safetensors"), tensors: [.init("model.extra.weight", "F32", [4, 4])])
        let found = try #require(refusal { _ = try checkBase(folder.path) })
        #expect(found.message.contains("shard 'model-00003-of-00002.safetensors' is not listed"))
    }

    @Test func aTensorInAShardTheIndexDoesNotPutThereIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        // The second shard gains a tensor (a smuggled replacement weight) the index never maps.
        var second = Array(TinyHFModel.tensors.suffix(from: (TinyHFModel.tensors.count + 1) / 2))
        second.append(.init("model.layers.0.self_attn.q_proj.weight", "F32", [TinyHFModel.hidden, TinyHFModel.hidden]))
        try SafetensorsFile.write(folder.file("model-00002-of-00002.safetensors"), tensors: second)
        let found = try #require(refusal { _ = try checkBase(folder.path) })
        #expect(found.message.contains("which model.safetensors.index.json does not list there"))
    }

    @Test func aMissingTokenizerIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try FileManager.default.removeItem(atPath: folder.file("tokenizer.json"))
        #expect(refusal { _ = try checkBase(folder.path) }?.message.contains("no tokenizer") == true)
    }

    @Test func aMissingChatTemplateIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try #"{"bos_token":"<s>","eos_token":"</s>"}"#.write(toFile: folder.file("tokenizer_config.json"), atomically: false, encoding: .utf8)
        #expect(refusal { _ = try checkBase(folder.path) }?.message.contains("no chat template") == true)
        // A template file beside it is enough.
        try "{{ messages[0]['content'] }}".write(toFile: folder.file("chat_template.jinja"), atomically: false, encoding: .utf8)
        #expect(try checkBase(folder.path).chatTemplate == "chat_template.jinja")
    }

    @Test func aLinkInTheFolderIsRefused() throws {
        let folder = try TemporaryDirectory("airlock-hf")
        defer { folder.remove() }
        try TinyHFModel.writeBase(folder.path)
        try FileManager.default.createSymbolicLink(atPath: folder.file("secrets.json"), withDestinationPath: "/etc/shadow")
        #expect(refusal { _ = try checkBase(folder.path) }?.message.contains("links and special files") == true)
    }
}

@Suite struct SafetensorsHeaderTests {
    func check(header: String, data: Int, claimedLength: UInt64? = nil) throws -> String? {
        let folder = try TemporaryDirectory("airlock-st")
        defer { folder.remove() }
        try SafetensorsFile.write(folder.file("x.safetensors"), header: header, data: data, claimedLength: claimedLength)
        let file = try #require(try ModelFile.read(folder: folder.path, what: "folder").first)
        return refusal { _ = try SafetensorsHeader(head: file.head, fileSize: file.size, file: "x.safetensors") }?.message
    }

    let good = #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#

    @Test func aGoodHeaderReads() throws {
        #expect(try check(header: good, data: 16) == nil)
        #expect(try check(header: good + "   ", data: 16) == nil)  // padding spaces
    }

    @Test func aHeaderLongerThanTheFileIsRefused() throws {
        #expect(try check(header: good, data: 16, claimedLength: 1 << 20)?.contains("claims 1048576 bytes but the file holds") == true)
        #expect(try check(header: good, data: 16, claimedLength: 1 << 40)?.contains("at most 100000000") == true)
    }

    @Test func offsetsLeavingTheFileAreRefused() throws {
        #expect(try check(header: #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, data: 8)?.contains("ends at byte 16") == true)
    }

    @Test func overlapsGapsAndTrailingBytesAreRefused() throws {
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(try check(header: overlap, data: 12)?.contains("overlaps") == true)
        let gap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        #expect(try check(header: gap, data: 12)?.contains("gap of 4 bytes") == true)
        #expect(try check(header: good, data: 20)?.contains("4 bytes after the last tensor") == true)
    }

    @Test func aSizeThatDoesNotMatchTheShapeIsRefused() throws {
        let wrong = #"{"a":{"dtype":"F32","shape":[3,3],"data_offsets":[0,16]}}"#
        #expect(try check(header: wrong, data: 16)?.contains("needs 36 bytes but its data_offsets span 16") == true)
        let huge = #"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,16]}}"#
        #expect(try check(header: huge, data: 16)?.contains("too large") == true)
    }

    @Test func malformedHeadersAreRefused() throws {
        #expect(try check(header: "not json at all", data: 0)?.contains("does not start with '{'") == true)
        #expect(try check(header: #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#, data: 16)?.contains("not JSON") == true)
        #expect(try check(header: #"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}}"#, data: 1)?.contains("unknown dtype") == true)
        #expect(try check(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: 8)?.contains("malformed shape") == true)
        // Two readers could take either of a duplicated name: refused.
        let duplicate = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(try check(header: duplicate, data: 8)?.contains("not JSON") == true)
        #expect(try check(header: "{}", data: 0, claimedLength: 2) == nil)
    }
}

@Suite struct PEFTAdapterTests {
    func folders() throws -> (TemporaryDirectory, String, String) {
        let folder = try TemporaryDirectory("airlock-peft")
        try TinyHFModel.writeBase(folder.file("base"))
        return (folder, folder.file("base"), folder.file("claims"))
    }

    @Test func anAdapterThatFitsPasses() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter, rank: 4)
        let checked = try checkAdapter(adapter, base: base, maxRank: 8)
        #expect(checked.rank == 4)
        #expect(checked.targetModules == ["q_proj", "v_proj"])
        #expect(checked.modules.count == 4)
    }

    @Test func aTargetModuleTheBaseLacksIsRefused() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter, rank: 4, targets: ["q_proj", "query_key_value"])
        let found = try #require(refusal { _ = try checkAdapter(adapter, base: base) })
        #expect(found.kind == "invalid-model")
        #expect(found.message.contains("does not exist in the base model"))
    }

    @Test func aShapeThatDoesNotFitTheBaseIsRefused() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter, rank: 4)
        // Trained for a model twice as wide: lora_A takes 32 inputs where the base's q_proj takes 16.
        var list: [SafetensorsFile.Tensor] = []
        for layer in 0..<TinyHFModel.layers {
            for target in ["q_proj", "v_proj"] {
                let module = "base_model.model.model.layers.\(layer).self_attn.\(target)"
                list.append(.init(module + ".lora_A.weight", "F32", [4, 32]))
                list.append(.init(module + ".lora_B.weight", "F32", [32, 4]))
            }
        }
        try SafetensorsFile.write(adapter + "/adapter_model.safetensors", tensors: list)
        let found = try #require(refusal { _ = try checkAdapter(adapter, base: base) })
        #expect(found.message.contains("does not fit the base"))
        #expect(found.message.contains("lora_A must be [rank, 16]"))
    }

    @Test func aRankAboveTheRuntimesLimitIsRefused() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter, rank: 16)
        let found = try #require(refusal { _ = try checkAdapter(adapter, base: base, maxRank: 8) })
        #expect(found.message.contains("has rank 16, above the runtime's max_lora_rank 8"))
    }

    @Test func aRankTheConfigDoesNotSayIsRefused() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter, rank: 8, configRank: 4)
        #expect(refusal { _ = try checkAdapter(adapter, base: base) }?.message.contains("has rank 8 but adapter_config.json says r = 4") == true)
    }

    @Test func notLoRAOrDoRAOrPickledAdaptersAreRefused() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter, extraConfig: #","use_dora":true"#)
        #expect(refusal { _ = try checkAdapter(adapter, base: base) }?.message.contains("use_dora") == true)
        try TinyHFModel.writeAdapter(adapter)
        try #"{"peft_type":"PREFIX_TUNING","r":4,"target_modules":["q_proj"]}"#
            .write(toFile: adapter + "/adapter_config.json", atomically: false, encoding: .utf8)
        #expect(refusal { _ = try checkAdapter(adapter, base: base) }?.message.contains("peft_type is not LORA") == true)
        try TinyHFModel.writeAdapter(adapter)
        try FileManager.default.removeItem(atPath: adapter + "/adapter_model.safetensors")
        try Data([0x80, 0x02, 0x4B, 0x01, 0x2E]).write(to: URL(fileURLWithPath: adapter + "/adapter_model.bin"))
        #expect(refusal { _ = try checkAdapter(adapter, base: base) }?.kind == "unsafe-weights")
    }

    @Test func aRegularExpressionForTargetModulesIsRefused() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter)
        try #"{"peft_type":"LORA","r":4,"target_modules":".*\\.(q|v)_proj"}"#
            .write(toFile: adapter + "/adapter_config.json", atomically: false, encoding: .utf8)
        #expect(refusal { _ = try checkAdapter(adapter, base: base) }?.message.contains("regular expression") == true)
    }

    @Test func aTensorThatIsNotALoRAMatrixIsRefused() throws {
        let (folder, base, adapter) = try folders()
        defer { folder.remove() }
        try TinyHFModel.writeAdapter(adapter)
        try SafetensorsFile.write(
            adapter + "/adapter_model.safetensors",
            tensors: [.init("base_model.model.model.layers.0.self_attn.q_proj.weight", "F32", [16, 16])])
        #expect(refusal { _ = try checkAdapter(adapter, base: base) }?.message.contains("is not a LoRA matrix") == true)
    }
}
