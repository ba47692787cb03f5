import AirlockCore
import BundleFormat
@testable import BundleIO
import Foundation
import ModelFormats
import Signing
import TestSupport
import Testing

/// The inputs of a Hugging Face + PEFT bundle served by vLLM: the tiny base, two adapters, a
/// runtime folder shaped like `airlock-pack runtime vllm`'s (a launcher and site-packages).
struct HFInputs {
    let folder: TemporaryDirectory
    let key: PrivateKey
    var policy: TrustPolicy

    init(maxLoraRank: Int? = nil) throws {
        folder = try TemporaryDirectory("airlock-hf-bundle")
        key = try PrivateKey.generate(.ed25519)
        policy = TrustPolicy()
        try policy.add(key: key.publicKey, names: ["claims-*"])
        let input = folder.file("input")
        try TinyHFModel.writeBase(input + "/models/tiny")
        try TinyHFModel.writeAdapter(input + "/adapters/claims", rank: 4)
        try TinyHFModel.writeAdapter(input + "/adapters/legal", rank: 8, targets: ["q_proj", "o_proj"])
        let runtime = input + "/runtime/vllm-cpu"
        try FileManager.default.createDirectory(atPath: runtime + "/site-packages/vllm", withIntermediateDirectories: true)
        try "#!/usr/bin/python3 -IB\nimport runpy\n".write(toFile: runtime + "/airlock-vllm.py", atomically: false, encoding: .utf8)
        chmod(runtime + "/airlock-vllm.py", 0o755)
        try "VERSION = '0.32.0'\n".write(toFile: runtime + "/site-packages/vllm/__init__.py", atomically: false, encoding: .utf8)
        let service = maxLoraRank.map { "service: { context: 256, parallel: 2, max_lora_rank: \($0) }" } ?? "service: { context: 256, parallel: 2 }"
        try """
            name: claims-assistant
            version: 2.0.0
            base: { path: models/tiny/, format: hf }
            adapters:
              - { name: claims, path: adapters/claims/, format: peft }
              - { name: legal, path: adapters/legal/, format: peft }
            runtimes:
              - { variant: vllm-cpu, path: runtime/vllm-cpu/, requires: [avx2] }
            \(service)
            """.write(toFile: input + "/bundle.yaml", atomically: false, encoding: .utf8)
    }

    var input: String { folder.file("input") }

    func spec() throws -> BundleSpec { try BundleSpec.load(path: folder.file("input/bundle.yaml")) }

    /// Builds the bundle, past the model checks when `checked` is false (as an older or modified builder would).
    func build(_ name: String = "bundle", checked: Bool = true, ranks: (claims: Int, legal: Int) = (4, 8)) throws -> String {
        let output = folder.file(name + ".airlock")
        let spec = try spec()
        if checked {
            _ = try BundleBuilder.build(spec: spec, keys: [key], output: output, created: Date(timeIntervalSince1970: 1_700_000_000))
        } else {
            _ = try BundleBuilder.build(
                spec: spec, keys: [key], chains: [:], output: output, created: Date(timeIntervalSince1970: 1_700_000_000), progress: nil
            ) { _ throws(AirlockError) in
                // What the adapters' configs say, taken on trust: no check ran.
                func said(_ rank: Int) -> PEFTAdapter {
                    PEFTAdapter(rank: rank, alpha: nil, targetModules: [], modules: [], baseModelName: nil)
                }
                return ModelChecks.Findings(base: nil, adapters: ["claims": said(ranks.claims), "legal": said(ranks.legal)])
            }
        }
        return output
    }
}

@Suite struct HuggingFaceBundleTests {
    @Test func anHFBaseWithPEFTAdaptersPacksVerifiesAndDescribesItself() throws {
        let inputs = try HFInputs()
        defer { inputs.folder.remove() }
        let bundle = try inputs.build()
        let verified = try #require(try BundleVerifier.verify(path: bundle, policy: inputs.policy).verified)
        let manifest = verified.manifest
        #expect(manifest.base.format == "hf")
        #expect(manifest.base.path == "base/")
        #expect(manifest.files.contains { $0.path == "base/config.json" && $0.encoding == .zstd })
        #expect(manifest.files.contains { $0.path == "base/model-00001-of-00002.safetensors" && $0.encoding == .stored })
        #expect(manifest.adapters.map(\.name) == ["claims", "legal"])
        #expect(manifest.adapters.map(\.format) == ["peft", "peft"])
        #expect(manifest.adapters.map(\.path) == ["adapters/claims/", "adapters/legal/"])
        #expect(manifest.adapters.map(\.rank) == [4, 8])
        #expect(manifest.service?.maxLoraRank == 8)  // set from the adapters: the spec did not say
        #expect(manifest.runtimes.first?.engine == "vllm")
        #expect(manifest.runtimes.first?.executable == "runtime/vllm-cpu/airlock-vllm.py")

        // The folder digest is what sha256sum gives for the folder's listing, as documented.
        let script = "cd '\(inputs.input)/models/tiny' && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum"
        let output = try ProcessResult.run("/bin/sh", ["-c", script]).checked().stdout
        #expect(manifest.base.digest == "sha256:" + output.prefix(64))
        #expect(manifest.adapters.allSatisfy { $0.baseDigest == manifest.base.digest })
    }

    @Test func aRankAboveTheSpecsLimitIsRefusedAtBuildNamingTheAdapter() throws {
        let inputs = try HFInputs(maxLoraRank: 4)
        defer { inputs.folder.remove() }
        let error = try #require(throws: AirlockError.self) { _ = try inputs.build() }
        #expect(error.reasonKind == .invalidModel)
        #expect(error.description.contains("adapters/legal"))
        #expect(error.description.contains("above the runtime's max_lora_rank 4"))
        #expect(!FileManager.default.fileExists(atPath: inputs.folder.file("bundle.airlock")))
    }

    @Test func pickledWeightsAreRefusedAtBuild() throws {
        let inputs = try HFInputs()
        defer { inputs.folder.remove() }
        try Data([0x80, 0x02, 0x4B, 0x01, 0x2E]).write(to: URL(fileURLWithPath: inputs.input + "/models/tiny/pytorch_model.bin"))
        let error = try #require(throws: AirlockError.self) { _ = try inputs.build() }
        #expect(error.reasonKind == .unsafeWeights)
        #expect(error.description.contains("pytorch_model.bin"))
    }

    /// A bundle whose builder skipped the checks, signed by a trusted key: verify runs them on
    /// the bytes the bundle carries and refuses it before any install.
    @Test func verifyRunsTheModelChecksAgainOnTheBundlesBytes() throws {
        let inputs = try HFInputs()
        defer { inputs.folder.remove() }
        // An adapter trained for another base: lora_A takes 32 inputs where this base takes 16.
        var list: [SafetensorsFile.Tensor] = []
        for layer in 0..<TinyHFModel.layers {
            for target in ["q_proj", "v_proj"] {
                let module = "base_model.model.model.layers.\(layer).self_attn.\(target)"
                list.append(.init(module + ".lora_A.weight", "F32", [4, 32]))
                list.append(.init(module + ".lora_B.weight", "F32", [32, 4]))
            }
        }
        try SafetensorsFile.write(inputs.input + "/adapters/claims/adapter_model.safetensors", tensors: list)
        #expect(throws: AirlockError.self) { _ = try inputs.build("checked") }
        let bundle = try inputs.build("unchecked", checked: false)
        let refusal = try #require(try BundleVerifier.verify(path: bundle, policy: inputs.policy).refusal)
        #expect(refusal.stage == .model)
        #expect(refusal.kind == .invalidModel)
        #expect(refusal.description.contains("adapters/claims"))
        #expect(refusal.description.contains("does not fit the base"))
    }

    @Test func verifyRefusesPickleCarriedPastTheBuilder() throws {
        let inputs = try HFInputs()
        defer { inputs.folder.remove() }
        try Data([0x80, 0x02, 0x4B, 0x01, 0x2E]).write(to: URL(fileURLWithPath: inputs.input + "/models/tiny/training_args.bin"))
        let bundle = try inputs.build("unchecked", checked: false)
        let refusal = try #require(try BundleVerifier.verify(path: bundle, policy: inputs.policy).refusal)
        #expect(refusal.kind == .unsafeWeights)
        #expect(refusal.description.contains("base/training_args.bin"))
    }

    @Test func verifyRefusesAManifestWhoseRankIsNotTheWeights() throws {
        let inputs = try HFInputs()
        defer { inputs.folder.remove() }
        // A manifest claiming rank 2 for an adapter whose weights have rank 4 (a runtime started
        // for the claimed rank would fail, or worse, at the first request).
        let bundle = try inputs.build("unchecked", checked: false, ranks: (2, 8))
        let refusal = try #require(try BundleVerifier.verify(path: bundle, policy: inputs.policy).refusal)
        #expect(refusal.kind == .invalidModel)
        #expect(refusal.description.contains("the manifest says rank 2, its weights have rank 4"))
    }
}
