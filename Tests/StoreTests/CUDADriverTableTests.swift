import BundleFormat
import Foundation
import Store
import Testing

/// Every CUDA 12.x row of the driver table, and the major floors, against NVIDIA's release notes
/// (the rows and their source are on `CUDADriverTable`): a runtime that states the version runs
/// on a driver at the row's floor and is refused one step below it.
@Suite struct CUDADriverTableTests {
    /// (requirement, NVIDIA Linux x86_64 driver floor, a driver just below it).
    static let rows: [(String, String, String)] = [
        ("cuda>=12", "525.60.13", "525.60.12"),  // Table 2 (12.x), the 12.0 GA driver
        ("cuda>=11", "450.80.02", "450.80.01"),  // Table 2 (11.x), the footnoted 450.80.02
        ("cuda>=12.0", "525.60.13", "525.60.12"),
        ("cuda>=12.1", "530.30.02", "530.30.01"),
        ("cuda>=12.2", "535.54.03", "535.54.02"),
        ("cuda>=12.3", "545.23.06", "545.23.05"),
        ("cuda>=12.4", "550.54.14", "550.54.13"),
        ("cuda>=12.5", "555.42.02", "555.42.01"),
        ("cuda>=12.6", "560.28.03", "560.28.02"),
        ("cuda>=12.8", "570.26", "570.25"),
        ("cuda>=12.9", "575.51.03", "575.51.02"),
        ("cuda>=13", "580.65.06", "580.65.05"),  // the 13.0 GA driver (13.x ">= 580")
        ("cuda>=13.0", "580.65.06", "580.65.05"),
    ]

    static func host(driver: String) -> HostFacts {
        HostFacts(
            cpuFlags: [], memoryTotalBytes: 32 << 30, memoryAvailableBytes: 24 << 30,
            gpus: [.init(index: 0, devicePath: "/dev/nvidia0")], nvidiaDriverVersion: driver,
            diskFolder: "/var/lib/airlock", freeDiskBytes: 100 << 30)
    }

    @Test(arguments: rows)
    func theFloorIsAcceptedAndOneStepBelowIsRefused(requirement: String, floor: String, below: String) {
        let cuda = String(requirement.dropFirst("cuda>=".count))
        let variants: [Manifest.RuntimeVariant] = [.named("gpu", [requirement])]

        let atFloor = RuntimeSelector.choose(variants: variants, host: Self.host(driver: floor), needs: modestNeeds)
        #expect(atFloor.chosenVariant == "gpu", "\(requirement) on \(floor): \(atFloor)")

        let underFloor = RuntimeSelector.choose(variants: variants, host: Self.host(driver: below), needs: modestNeeds)
        #expect(underFloor.chosenVariant == nil, "\(requirement) on \(below)")
        #expect(underFloor.refusals == ["gpu: needs CUDA \(cuda) (NVIDIA driver >= \(floor)); driver \(below) found"])
    }

    @Test func aDriverRunsTheNewestReleaseWhoseRowItMeets() {
        for (requirement, floor, below) in Self.rows where requirement.contains(".") {
            let cuda = String(requirement.dropFirst("cuda>=".count))
            #expect(Self.host(driver: floor).cudaCapability?.description == cuda)
            #expect(Self.host(driver: below).cudaCapability?.description != cuda)
        }
    }

    @Test func thereIsNoCUDA127() {
        #expect(throws: (any Error).self) { try RuntimeRequirement(parsing: "cuda>=12.7") }
    }
}
