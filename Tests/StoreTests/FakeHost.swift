import AirlockCore
import Foundation
import Store
import TestSupport

/// A folder laid out like a host's `/proc` and `/dev`, for `HostProbe(root:)`.
struct FakeHost {
    let directory: TemporaryDirectory
    var root: String { directory.path }

    init() throws {
        directory = try TemporaryDirectory("airlock-host")
    }

    func remove() { directory.remove() }

    /// Writes `text` at `relative` under the root, making the folders on the way.
    func write(_ relative: String, _ text: String) throws {
        let url = URL(fileURLWithPath: directory.file(relative))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// An empty file standing in for a device node (the probe checks names, not node types).
    func touch(_ relative: String) throws { try write(relative, "") }

    func cpus(_ flags: String, count: Int = 4) throws { try write("proc/cpuinfo", HostText.cpuinfo(flags: flags, processors: count)) }

    func memory(totalKiB: UInt64, availableKiB: UInt64) throws {
        try write("proc/meminfo", HostText.meminfo(totalKiB: totalKiB, availableKiB: availableKiB))
    }

    func nvidia(driver: String?, devices: Int) throws {
        if let driver {
            try write("proc/driver/nvidia/version", HostText.nvidiaVersion(driver))
        }
        if devices > 0 {
            try touch("dev/nvidiactl")
            try touch("dev/nvidia-uvm")
            try touch("dev/nvidia-modeset")
            for index in 0..<devices { try touch("dev/nvidia\(index)") }
        }
    }

    func probe(freeDisk: UInt64 = 500 << 30, storeFolder: String = "/var/lib/airlock") throws -> HostFacts {
        try HostProbe(root: root, space: FixedSpace(bytes: freeDisk)).probe(storeFolder: storeFolder)
    }
}

/// Free space without `statvfs`: the number the test says.
struct FixedSpace: FileSystemSpace {
    let bytes: UInt64
    func freeBytes(inFolder folder: String) throws(AirlockError) -> UInt64 { bytes }
}

/// Text shaped like the kernel's.
enum HostText {
    /// Flags of a Skylake-era laptop: AVX2 and FMA, no AVX-512.
    static let avx2Flags = """
        fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr \
        sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good \
        nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx est tm2 ssse3 \
        sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx \
        f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb invpcid_single pti ssbd ibrs ibpb stibp \
        tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid \
        mpx rdseed adx smap clflushopt intel_pt xsaveopt xsavec xgetbv1 xsaves dtherm ida arat pln pts \
        hwp hwp_notify hwp_act_window hwp_epp md_clear flush_l1d arch_capabilities
        """
    /// Flags of a Cascade Lake server: AVX-512 F/BW/VL/VNNI.
    static let avx512Flags = avx2Flags + " avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni"
    /// Flags of an old Atom-class CPU: SSE4.2, no AVX.
    static let sse42Flags = """
        fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 \
        ht syscall nx rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid pni pclmulqdq ssse3 \
        cx16 sse4_1 sse4_2 movbe popcnt aes rdrand lahf_lm 3dnowprefetch
        """

    /// A multi-processor `/proc/cpuinfo`, one block per logical CPU.
    static func cpuinfo(flags: String, processors: Int) -> String {
        (0..<processors).map { index in
            """
            processor\t: \(index)
            vendor_id\t: GenuineIntel
            cpu family\t: 6
            model\t\t: 85
            model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
            stepping\t: 7
            microcode\t: 0x5003604
            cpu MHz\t\t: 2100.000
            cache size\t: 28160 KB
            physical id\t: 0
            siblings\t: \(processors)
            core id\t\t: \(index / 2)
            cpu cores\t: \(max(1, processors / 2))
            apicid\t\t: \(index)
            initial apicid\t: \(index)
            fpu\t\t: yes
            fpu_exception\t: yes
            cpuid level\t: 22
            wp\t\t: yes
            flags\t\t: \(flags)
            vmx flags\t: vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority
            bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs taa itlb_multihit mmio_stale_data retbleed
            bogomips\t: 4200.00
            clflush size\t: 64
            cache_alignment\t: 64
            address sizes\t: 46 bits physical, 48 bits virtual
            power management:

            """
        }.joined(separator: "\n")
    }

    static func meminfo(totalKiB: UInt64, availableKiB: UInt64) -> String {
        """
        MemTotal:       \(totalKiB) kB
        MemFree:        \(availableKiB / 2) kB
        MemAvailable:   \(availableKiB) kB
        Buffers:          482112 kB
        Cached:          6021880 kB
        SwapCached:            0 kB
        Active:          9212424 kB
        Inactive:        4530756 kB
        SwapTotal:       2097148 kB
        SwapFree:        2097148 kB
        Dirty:               412 kB
        HugePages_Total:       0
        HugePages_Free:        0
        Hugepagesize:       2048 kB

        """
    }

    static func nvidiaVersion(_ driver: String) -> String {
        """
        NVRM version: NVIDIA UNIX x86_64 Kernel Module  \(driver)  Thu Feb 22 01:44:30 UTC 2024
        GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)

        """
    }
}
