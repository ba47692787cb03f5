import AirlockCore
import BundleFormat
import BundleIO
import Foundation
import Signing
import Store
import Systemd
import TestSupport
import Testing

@testable import AirlockCommands
@testable import HostServices

/// The runtime unit follows the variant chosen at install: one that runs on an NVIDIA GPU gets
/// exactly the NVIDIA device nodes the host has (the seam: a fake host tree, since this machine
/// has no GPU); on a host that lost them, rendering is refused with the way back.
@Suite struct RuntimeDevicesTests {
    @Test func aGPUVariantsRuntimeUnitAllowsExactlyTheHostsNVIDIANodes() throws {
        let folder = try TemporaryDirectory("airlock-gpu-units")
        defer { folder.remove() }
        try BundleFixture.writeInputs(in: folder, baseBytes: 1 << 20)
        let specPath = folder.file("input/bundle.yaml")
        try String(contentsOfFile: specPath, encoding: .utf8)
            .replacingOccurrences(
                of: "{ variant: cpu-generic, path: runtime/cpu-generic/ }", with: "{ variant: cuda12, path: runtime/cpu-generic/, requires: [gpu] }"
            )
            .write(toFile: specPath, atomically: true, encoding: .utf8)
        let key = try PrivateKey.generate()
        _ = try BundleBuilder.build(spec: try BundleSpec.load(path: specPath), keys: [key], output: folder.file("gpu.airlock"))
        var policy = TrustPolicy()
        try policy.add(key: key.publicKey, names: ["*"])

        let host = folder.file("host")
        for node in ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", "nvidia0", "nvidia1"] {
            try FileManager.default.createDirectory(atPath: host + "/dev", withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: host + "/dev/" + node, contents: nil)
        }
        let layout = HostLayout(root: folder.file("root"))
        let installed = try BundleStore(layout: layout, hostRoot: host).install(bundle: folder.file("gpu.airlock"), policy: policy)
        #expect(installed.installed.runtime == "cuda12")

        let (files, _) = try Services.render(name: "claims-assistant", layout: layout, hostRoot: host)
        let runtime = try #require(files.first { $0.path.hasSuffix("/airlock-runtime@claims-assistant.service") }).contents
        let lines = runtime.split(separator: "\n").map(String.init)
        #expect(
            lines.filter { $0.hasPrefix("BindPaths=") || $0.hasPrefix("DeviceAllow=") } == [
                "BindPaths=/dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidia0 /dev/nvidia1",
                "DeviceAllow=/dev/nvidiactl rw", "DeviceAllow=/dev/nvidia-uvm rw", "DeviceAllow=/dev/nvidia-uvm-tools rw",
                "DeviceAllow=/dev/nvidia0 rw", "DeviceAllow=/dev/nvidia1 rw",
            ])
        #expect(!runtime.contains("modeset"))
        #expect(!files.contains { $0.path.contains("/airlock-audit-") }, "the audit timers are the host's (AuditTimerServices), not the bundle's")

        // The same bundle on this machine (no GPU): the CPU unit is never rendered for it instead.
        try FileManager.default.removeItem(atPath: host + "/dev/nvidia-uvm")
        let lost = #expect(throws: AirlockError.self) { try Services.render(name: "claims-assistant", layout: layout, hostRoot: host) }
        #expect(lost?.description.contains("this host has no /dev/nvidia-uvm") == true, "\(String(describing: lost))")
        #expect(lost?.description.contains("'airlock activate claims-assistant 1.4.0'") == true)
        let none = #expect(throws: AirlockError.self) {
            try Services.render(name: "claims-assistant", layout: layout, hostRoot: folder.file("empty"))
        }
        #expect(none?.description.contains("no NVIDIA GPU device node") == true, "\(String(describing: none))")
    }
}
