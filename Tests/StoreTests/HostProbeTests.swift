import AirlockCore
import Foundation
import Store
import Testing

/// What the probe reads from a host tree, the CUDA driver table, and the facts as JSON.
@Suite struct HostProbeTests {
    @Test func readsFlagsOfTheFirstProcessorAndMemoryInBytes() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.cpus(HostText.avx2Flags, count: 8)
        try host.memory(totalKiB: 32_596_448, availableKiB: 27_310_080)

        let facts = try host.probe(freeDisk: 123_456_789)

        #expect(facts.cpuFlags.isSuperset(of: ["avx", "avx2", "fma", "f16c", "sse4_2", "pni"]))
        #expect(!facts.cpuFlags.contains("avx512f"))
        #expect(!facts.cpuFlags.contains("ept_x_only"), "the vmx flags line is not the flags line")
        #expect(facts.memoryTotalBytes == 32_596_448 * 1024)
        #expect(facts.memoryAvailableBytes == 27_310_080 * 1024)
        #expect(facts.freeDiskBytes == 123_456_789)
    }

    @Test func readsArm64FeaturesLine() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.write(
            "proc/cpuinfo",
            """
            processor\t: 0
            BogoMIPS\t: 243.75
            Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
            CPU implementer\t: 0x41
            CPU architecture: 8

            processor\t: 1
            BogoMIPS\t: 243.75
            Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
            CPU implementer\t: 0x41
            CPU architecture: 8

            """)
        #expect(try host.probe().cpuFlags.isSuperset(of: ["asimd", "asimddp", "fphp"]))
    }

    @Test func readsTheOpenKernelModulesDriverVersion() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.write(
            "proc/driver/nvidia/version",
            """
            NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build  (dvs-builder@U16-I3-B03-4-3)  Sat Aug 19 01:13:15 UTC 2023
            GCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04)

            """)
        let facts = try host.probe()
        #expect(facts.nvidiaDriverVersion == "535.104.05")
        #expect(facts.cudaCapability == CUDAVersion(major: 12, minor: 2))
    }

    @Test func unreadableDriverFileMeansNoDriverVersion() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.write("proc/driver/nvidia/version", "something else entirely\n")
        #expect(try host.probe().nvidiaDriverVersion == nil)
    }

    @Test func gpusAreListedInIndexOrderWithoutControlNodes() throws {
        let host = try FakeHost()
        defer { host.remove() }
        try host.nvidia(driver: "550.54.14", devices: 11)
        let gpus = try host.probe().gpus
        #expect(gpus.map(\.index) == Array(0...10))
        #expect(gpus.allSatisfy { $0.devicePath.hasPrefix(host.root + "/dev/nvidia") })
    }

    /// What a CUDA runtime's unit may open: the control nodes and every GPU, named as on the
    /// host; never nvidia-modeset (displays) or the MIG capability nodes.
    @Test func cudaDeviceNodesAreTheControlNodesAndEveryGPU() throws {
        let host = try FakeHost()
        defer { host.remove() }
        #expect(try HostProbe(root: host.root).cudaDeviceNodes() == [], "no GPU, no nodes")
        try host.nvidia(driver: "550.54.14", devices: 2)  // nvidiactl, nvidia-uvm, nvidia-modeset, nvidia0, nvidia1
        try host.touch("dev/nvidia-caps/nvidia-cap1")
        try host.touch("dev/nvidia10")
        #expect(
            try HostProbe(root: host.root).cudaDeviceNodes() == [
                "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia10",
            ])
        try host.touch("dev/nvidia-uvm-tools")
        #expect(
            try HostProbe(root: host.root).cudaDeviceNodes() == [
                "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia10",
            ])
        try FileManager.default.removeItem(atPath: host.directory.file("dev/nvidiactl"))
        #expect(try HostProbe(root: host.root).cudaDeviceNodes() == [], "without nvidiactl no GPU is usable")
    }

    @Test func aVariantNeedsAGPUWhenItAsksForOneOrForCUDA() {
        #expect(RuntimeRequirement.needsGPU(["gpu"]))
        #expect(RuntimeRequirement.needsGPU(["avx2", "cuda>=12.2"]))
        #expect(!RuntimeRequirement.needsGPU(["avx2", "memory>=16GiB"]))
        #expect(!RuntimeRequirement.needsGPU([]))
        #expect(!RuntimeRequirement.needsGPU(["cuda12"]), "an unknown entry is not a GPU (and is never chosen)")
    }

    @Test(arguments: [
        ("450.80.02", "11.0"), ("460.27.03", "11.2"), ("470.82.01", "11.4"), ("520.61.05", "11.8"),
        ("525.60.13", "12.0"), ("525.60.12", "11.8"), ("535.54.03", "12.2"), ("550.54.14", "12.4"),
        ("560.35.03", "12.6"), ("570.86.10", "12.8"), ("575.64.05", "12.9"), ("580.65.05", "12.9"), ("580.65.06", "13.0"),
    ])
    func cudaCapabilityFollowsTheDriverTable(driver: String, cuda: String) {
        let facts = HostFacts(
            cpuFlags: [], memoryTotalBytes: nil, memoryAvailableBytes: nil, gpus: [],
            nvidiaDriverVersion: driver, diskFolder: "/", freeDiskBytes: 0)
        #expect(facts.cudaCapability?.description == cuda)
    }

    @Test func driverOlderThanEveryTableEntryHasNoCUDA() {
        let facts = HostFacts(
            cpuFlags: [], memoryTotalBytes: nil, memoryAvailableBytes: nil, gpus: [],
            nvidiaDriverVersion: "440.33", diskFolder: "/", freeDiskBytes: 0)
        #expect(facts.cudaCapability == nil)
    }

    @Test func hostFactsJSONRoundTrips() throws {
        let facts = HostFacts(
            cpuFlags: ["avx2", "fma", "avx", "sse4_2"], memoryTotalBytes: 33_378_762_752,
            memoryAvailableBytes: 27_965_521_920,
            gpus: [.init(index: 0, devicePath: "/dev/nvidia0"), .init(index: 1, devicePath: "/dev/nvidia1")],
            nvidiaDriverVersion: "550.54.14", diskFolder: "/var/lib/airlock", freeDiskBytes: 412_316_860_416)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(facts)
        let text = String(decoding: data, as: UTF8.self)

        #expect(try JSONDecoder().decode(HostFacts.self, from: data) == facts)
        #expect(text.contains(#""cpuFlags":["avx","avx2","fma","sse4_2"]"#))
        #expect(text.contains(#""cudaCapability":"12.4""#))
        #expect(try encoder.encode(JSONDecoder().decode(HostFacts.self, from: data)) == data)

        let absent = HostFacts(
            cpuFlags: [], memoryTotalBytes: nil, memoryAvailableBytes: nil, gpus: [],
            nvidiaDriverVersion: nil, diskFolder: "/", freeDiskBytes: 0)
        let absentData = try encoder.encode(absent)
        #expect(String(decoding: absentData, as: UTF8.self).contains(#""nvidiaDriverVersion":null"#))
        #expect(try JSONDecoder().decode(HostFacts.self, from: absentData) == absent)
    }

    @Test func realHostProbeReportsCPUFlagsAndMemory() throws {
        let facts = try HostProbe().probe(storeFolder: NSTemporaryDirectory())

        #expect(!facts.cpuFlags.isEmpty)
        #expect((facts.memoryTotalBytes ?? 0) > 0)
        #expect((facts.memoryAvailableBytes ?? 0) > 0)
        #expect(facts.freeDiskBytes > 0)
        if !FileManager.default.fileExists(atPath: "/dev/nvidia0") {
            #expect(facts.gpus.isEmpty)
        }
    }
}
