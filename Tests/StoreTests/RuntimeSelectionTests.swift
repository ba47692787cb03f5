import Foundation
import AirlockCore
import BundleFormat
import Store
import Testing

/// Fake host trees probed and matched against a bundle's runtime variants.
@Suite struct RuntimeSelectionTests {
    @Test func avx2HostPicksCPUAVX2OverGeneric() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags, count: 8)
        try host.memory(totalKiB: 32_596_448, availableKiB: 27_310_080)

        let choice = RuntimeSelector.choose(variants: typicalVariants, host: try host.probe(), needs: modestNeeds)

        #expect(choice.chosenVariant == "cpu-avx2")
        #expect(choice.reason == "cpu-avx2: the most capable variant that fits; CPU has avx2, fma, f16c")
        #expect(choice.rejection("cpu-avx512") == "cpu-avx512: CPU lacks avx512f, avx512bw")
        #expect(choice.rejection("cpu-generic") == "cpu-generic: fits, but cpu-avx2 is more capable")
        #expect(choice.rejected.map(\.variant) == ["cpu-generic", "cpu-avx512", "cuda12"])
    }

    /// A vLLM runtime folder runs on exactly the interpreter it was built for: Debian's
    /// `/usr/bin/python3.N`, a regular executable file (a link to one counts; a folder, a file
    /// without an execute bit, or another minor does not). Nothing is run to find out.
    @Test func aPythonRequirementNeedsThatInterpreterInUsrBin() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.memory(totalKiB: 32_596_448, availableKiB: 27_310_080)
        let variants = [Manifest.RuntimeVariant.named("vllm-cpu", ["avx2", "python3.11"])]

        let none = RuntimeSelector.choose(variants: variants, host: try host.probe(), needs: modestNeeds)
        #expect(none.chosenVariant == nil)
        #expect(none.refusals == ["vllm-cpu: needs Debian's /usr/bin/python3.11 (apt install python3.11); none found"])

        try host.write("usr/bin/python3.12", "#!")
        chmod(host.root + "/usr/bin/python3.12", 0o755)
        try host.write("usr/bin/python3.11", "not executable")
        try FileManager.default.createDirectory(atPath: host.root + "/usr/bin/python3.9", withIntermediateDirectories: true)
        let other = RuntimeSelector.choose(variants: variants, host: try host.probe(), needs: modestNeeds)
        #expect(other.refusals == ["vllm-cpu: needs Debian's /usr/bin/python3.11 (apt install python3.11); found /usr/bin/python3.12"])

        chmod(host.root + "/usr/bin/python3.11", 0o755)
        try FileManager.default.removeItem(atPath: host.root + "/usr/bin/python3.12")
        symlink("python3.11", host.root + "/usr/bin/python3.12")
        let facts = try host.probe()
        #expect(facts.pythons == ["python3.11", "python3.12"])
        let fits = RuntimeSelector.choose(variants: variants, host: facts, needs: modestNeeds)
        #expect(fits.chosenVariant == "vllm-cpu")
        #expect(fits.reason == "vllm-cpu: the most capable variant that fits; CPU has avx2; /usr/bin/python3.11")
        #expect(RuntimeRequirement.pythonPath(["avx2", "python3.11"]) == "/usr/bin/python3.11")
        for text in ["python3", "python3.", "python3.011", "python3.x", "python4.1", "python3.123"] {
            #expect(throws: AirlockError.self, "\(text)") { try RuntimeRequirement(parsing: text) }
        }
    }

    @Test func avx512HostPicksCPUAVX512() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx512Flags, count: 16)
        try host.memory(totalKiB: 65_530_020, availableKiB: 60_112_344)

        let choice = RuntimeSelector.choose(variants: typicalVariants, host: try host.probe(), needs: modestNeeds)

        #expect(choice.chosenVariant == "cpu-avx512")
        #expect(choice.rejection("cpu-avx2") == "cpu-avx2: fits, but cpu-avx512 is more capable")
        #expect(choice.rejection("cuda12")?.hasPrefix("cuda12: needs CUDA 12 (NVIDIA driver >= 525.60.13)") == true)
    }

    @Test func gpuWithCurrentDriverPicksCUDA12() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx512Flags)
        try host.memory(totalKiB: 131_858_200, availableKiB: 120_000_000)
        try host.nvidia(driver: "550.54.14", devices: 2)

        let facts = try host.probe()
        let choice = RuntimeSelector.choose(variants: typicalVariants, host: facts, needs: modestNeeds)

        #expect(facts.gpus.map(\.index) == [0, 1])
        #expect(facts.gpus.first?.devicePath == host.root + "/dev/nvidia0")
        #expect(facts.nvidiaDriverVersion == "550.54.14")
        #expect(facts.cudaCapability == CUDAVersion(major: 12, minor: 4))
        #expect(choice.chosenVariant == "cuda12")
        #expect(
            choice.reason
                == "cuda12: the most capable variant that fits; CPU has avx2; driver 550.54.14 >= 525.60.13 runs CUDA 12 on 2 NVIDIA GPUs")
        #expect(choice.rejection("cpu-avx512") == "cpu-avx512: fits, but cuda12 is more capable")
    }

    @Test func oldDriverFallsBackToTheBestCPUVariantAndNamesTheDriver() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.memory(totalKiB: 32_596_448, availableKiB: 27_310_080)
        try host.nvidia(driver: "470.82.01", devices: 1)

        let facts = try host.probe()
        let choice = RuntimeSelector.choose(variants: typicalVariants, host: facts, needs: modestNeeds)

        #expect(facts.cudaCapability == CUDAVersion(major: 11, minor: 4))
        #expect(choice.chosenVariant == "cpu-avx2")
        #expect(choice.rejection("cuda12") == "cuda12: needs CUDA 12 (NVIDIA driver >= 525.60.13); driver 470.82.01 found")
    }

    @Test func statedCUDAMinorNeedsThatReleasesDriver() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.memory(totalKiB: 32_596_448, availableKiB: 27_310_080)
        try host.nvidia(driver: "530.30.02", devices: 1)
        let variants: [Manifest.RuntimeVariant] = [.named("cuda12.2", ["cuda>=12.2"]), .named("cuda12", ["cuda>=12"])]

        let choice = RuntimeSelector.choose(variants: variants, host: try host.probe(), needs: modestNeeds)

        #expect(choice.chosenVariant == "cuda12")
        #expect(choice.rejection("cuda12.2") == "cuda12.2: needs CUDA 12.2 (NVIDIA driver >= 535.54.03); driver 530.30.02 found")
    }

    @Test func driverWithoutDeviceNodeMeansNoGPU() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.memory(totalKiB: 32_596_448, availableKiB: 27_310_080)
        try host.nvidia(driver: "550.54.14", devices: 0)

        let facts = try host.probe()
        let choice = RuntimeSelector.choose(variants: typicalVariants, host: facts, needs: modestNeeds)

        #expect(facts.gpus.isEmpty)
        #expect(facts.nvidiaDriverVersion == "550.54.14")
        #expect(choice.chosenVariant == "cpu-avx2")
        #expect(
            choice.rejection("cuda12")
                == "cuda12: needs CUDA 12 (NVIDIA driver >= 525.60.13); driver 550.54.14 found but no NVIDIA GPU device node")
    }

    @Test func gpuNodesWithoutTheControlNodeCountAsNone() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.write("proc/driver/nvidia/version", HostText.nvidiaVersion("550.54.14"))
        try host.touch("dev/nvidia0")

        #expect(try host.probe().gpus.isEmpty)
    }

    @Test func cudaOnlyBundleOnCPUHostIsRefusedSayingWhy() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx512Flags)
        try host.memory(totalKiB: 65_530_020, availableKiB: 60_112_344)

        let choice = RuntimeSelector.choose(
            variants: [.named("cuda12", ["cuda>=12"]), .named("gpu-any", ["gpu"])], host: try host.probe(), needs: modestNeeds)

        #expect(
            choice.refusals == [
                "cuda12: needs CUDA 12 (NVIDIA driver >= 525.60.13); no NVIDIA GPU or driver found",
                "gpu-any: needs an NVIDIA GPU; none found (no /dev/nvidiaN beside /dev/nvidiactl)",
            ])
    }

    @Test func unknownRequirementMeansTheVariantDoesNotFit() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx512Flags)
        try host.memory(totalKiB: 65_530_020, availableKiB: 60_112_344)
        let facts = try host.probe()

        let withFallback = RuntimeSelector.choose(
            variants: [.named("rocm6", ["rocm>=6"]), .named("cpu-avx2", ["avx2"])], host: facts, needs: modestNeeds)
        #expect(withFallback.chosenVariant == "cpu-avx2")
        #expect(withFallback.rejection("rocm6") == "rocm6: unknown requirement 'rocm>=6'")

        let alone = RuntimeSelector.choose(
            variants: [.named("cpu-fast", ["AVX2", "avx2"]), .named("cuda14", ["cuda>=14"])], host: facts, needs: modestNeeds)
        #expect(
            alone.refusals == [
                "cpu-fast: unknown requirement 'AVX2'",
                "cuda14: unknown requirement 'cuda>=14' (no NVIDIA driver minimum known for CUDA 14)",
            ])
    }

    @Test func shortDiskIsRefusedBeforeAnythingElse() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.memory(totalKiB: 32_596_448, availableKiB: 27_310_080)
        let facts = try host.probe(freeDisk: 4 << 30, storeFolder: host.root)

        let needs = ResourceNeeds(diskBytes: 13_207_024_435, memoryBytes: 1 << 30)  // 12.3 GiB
        let choice = RuntimeSelector.choose(
            variants: [.named("mystery", ["quantum"]), .named("cpu-generic")], host: facts, needs: needs)

        #expect(choice.refusals == ["needs 12.3 GiB of free disk in \(host.root), 4.0 GiB free"])
    }

    @Test func shortMemoryIsRefused() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.memory(totalKiB: 16_303_412, availableKiB: 3_355_443)  // 3.2 GiB available

        let needs = ResourceNeeds(diskBytes: 1 << 30, memoryBytes: 10 << 30)
        let choice = RuntimeSelector.choose(variants: typicalVariants, host: try host.probe(), needs: needs)

        #expect(choice.refusals == ["needs 10.0 GiB of available memory, 3.2 GiB available"])
    }

    @Test func statedMemoryMinimumIsCheckedAgainstTotalMemory() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags)
        try host.memory(totalKiB: 8_039_284, availableKiB: 6_500_000)  // 7.7 GiB
        let variants: [Manifest.RuntimeVariant] = [
            .named("cpu-big", ["avx2", "memory>=16GiB"]), .named("cpu-small", ["memory>=4GiB"]),
        ]

        let choice = RuntimeSelector.choose(variants: variants, host: try host.probe(), needs: modestNeeds)

        #expect(choice.chosenVariant == "cpu-small")
        #expect(choice.rejection("cpu-big") == "cpu-big: needs 16.0 GiB of memory; host has 7.7 GiB")
    }

    @Test func missingProcFilesAreAbsentFactsNotErrors() throws {
        let host = try FakeHost()  // an empty root: no proc/, no dev/
        defer { host.remove() }

        let facts = try host.probe()
        #expect(facts.cpuFlags.isEmpty)
        #expect(facts.memoryTotalBytes == nil)
        #expect(facts.memoryAvailableBytes == nil)
        #expect(facts.gpus.isEmpty)
        #expect(facts.nvidiaDriverVersion == nil)
        #expect(facts.cudaCapability == nil)

        // Nothing asked of memory: the generic variant still runs; the others say what is missing.
        let noMemoryNeeded = RuntimeSelector.choose(
            variants: typicalVariants, host: facts, needs: ResourceNeeds(diskBytes: 1 << 30, memoryBytes: 0))
        #expect(noMemoryNeeded.chosenVariant == "cpu-generic")
        #expect(noMemoryNeeded.rejection("cpu-avx2") == "cpu-avx2: CPU lacks avx2, fma, f16c")

        // Memory needed but unknown: refused, saying so.
        let memoryNeeded = RuntimeSelector.choose(variants: typicalVariants, host: facts, needs: modestNeeds)
        #expect(
            memoryNeeded.refusals
                == ["needs 6.0 GiB of available memory; available memory unknown (no MemAvailable in /proc/meminfo)"])
    }

    @Test func storeFolderNotYetMadeIsMeasuredAtItsNearestParent() throws {
        let host = try FakeHost()
        defer { host.remove() }
        let facts = try host.probe(storeFolder: host.root + "/var/lib/airlock")
        #expect(facts.diskFolder == host.root)
    }

    @Test func noVariantsIsARefusal() throws {
        let host = try FakeHost()
        defer { host.remove() }
        let choice = RuntimeSelector.choose(
            variants: [], host: try host.probe(), needs: ResourceNeeds(diskBytes: 0, memoryBytes: 0))
        #expect(choice.refusals == ["the bundle offers no runtime variant"])
    }
}

extension Manifest.RuntimeVariant {
    static func named(_ variant: String, _ requires: [String] = []) -> Manifest.RuntimeVariant {
        Manifest.RuntimeVariant(
            variant: variant, path: "runtime/\(variant)/", executable: "runtime/\(variant)/llama-server",
            requires: requires)
    }
}

/// The variants a typical bundle ships, in manifest order.
let typicalVariants: [Manifest.RuntimeVariant] = [
    .named("cpu-generic"),
    .named("cpu-avx2", ["avx2", "fma", "f16c"]),
    .named("cpu-avx512", ["avx512f", "avx512bw", "avx2", "fma", "f16c"]),
    .named("cuda12", ["cuda>=12", "avx2"]),
]

let modestNeeds = ResourceNeeds(diskBytes: 5 << 30, memoryBytes: 6 << 30)

extension RuntimeChoice {
    var chosenVariant: String? {
        if case .chosen(let variant, _, _) = self { return variant }
        return nil
    }
    var reason: String? {
        if case .chosen(_, let reason, _) = self { return reason }
        return nil
    }
    var rejected: [Rejection] {
        if case .chosen(_, _, let rejected) = self { return rejected }
        return []
    }
    var refusals: [String]? {
        if case .refused(let reasons) = self { return reasons }
        return nil
    }
    func rejection(_ variant: String) -> String? { rejected.first { $0.variant == variant }?.reason }
}
