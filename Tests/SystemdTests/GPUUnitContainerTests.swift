import Foundation
import Systemd
import TestSupport
import Testing

/// The GPU variant's runtime unit under a real systemd (252). There is no GPU here: the NVIDIA
/// device nodes are made in the container with mknod (NVIDIA's numbers; no driver behind them),
/// so opening one the device policy allows gives ENXIO ("no such device") and one it refuses
/// EPERM. The container boots with the unified cgroup layout, where systemd enforces
/// `DeviceAllow=` (with BPF); in this machine's default hybrid layout it could not.
@Suite(.serialized) struct GPUUnitContainerTests {
    /// NVIDIA's majors and minors: 195 for the GPUs (255 nvidiactl, 254 nvidia-modeset); the
    /// nvidia-uvm major is assigned at load time (any free one will do here).
    static let nodes: [(String, Int, Int)] = [
        ("nvidiactl", 195, 255), ("nvidia-uvm", 237, 0), ("nvidia-uvm-tools", 237, 1), ("nvidia0", 195, 0), ("nvidia-modeset", 195, 254),
    ]
    static let allowed = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0"]

    /// The demo bundle with a `cuda12` variant first (`requires: [gpu]`, the same CPU-built
    /// llama-server: the unit, not the program, is under test), signed with the demo key.
    static func gpuDemoBundle() throws -> String {
        let demo = try DemoBundle.shared()
        let folder = (demo.bundle as NSString).deletingLastPathComponent
        let output = folder + "/claims-assistant-gpu-1.0.0.airlock"
        if FileManager.default.fileExists(atPath: output) { return output }
        let runtime = folder + "/input/runtime/cuda12"
        if !FileManager.default.fileExists(atPath: runtime + "/llama-server") {
            try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: folder + "/input/runtime/cpu-generic/llama-server", toPath: runtime + "/llama-server")
        }
        let spec = try String(contentsOfFile: folder + "/input/bundle.yaml", encoding: .utf8)
        let specPath = folder + "/input/bundle-gpu.yaml"
        try spec.replacingOccurrences(of: "runtimes:\n", with: "runtimes:\n  - { variant: cuda12, path: runtime/cuda12/, requires: [gpu] }\n")
            .write(toFile: specPath, atomically: true, encoding: .utf8)
        try ProcessResult.run(TestEnvironment.executable("airlock-pack"), ["build", specPath, "--key", folder + "/release.pem", "--output", output])
            .checked()
        return output
    }

    /// Stats and opens each node; prints {path: "char MAJOR:MINOR open: RESULT"} and the names in /dev.
    static let probe = """
        import json, os
        out = {}
        for name in ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia0", "nvidia-modeset"]:
            path = "/dev/" + name
            try:
                st = os.stat(path)
            except OSError as error:
                out[path] = "absent"; continue
            try:
                os.close(os.open(path, os.O_RDWR)); result = "ok"
            except OSError as error:
                result = os.strerror(error.errno)
            out[path] = "char %d:%d open: %s" % (os.major(st.st_rdev), os.minor(st.st_rdev), result)
        out["/dev"] = " ".join(sorted(os.listdir("/dev")))
        print(json.dumps(out))
        """

    @Test func aGPUVariantsRuntimeSeesAndMayOpenOnlyItsNVIDIANodes() throws {
        let bundle = try Self.gpuDemoBundle()
        try SystemdContainer.with(name: "airlock-test-gpu-unit", unifiedCgroups: true) { container in
            let make = Self.nodes.map { "mknod -m 0666 /dev/\($0.0) c \($0.1) \($0.2)" }.joined(separator: " && ")
            try container.shell(make).checked()
            let installed = try ServiceContainerTests.installDemo(container, bundle: bundle)
            #expect(installed.status == 0, "\(installed)\n\(ServiceContainerTests.journal(container))")
            #expect(installed.stdout.contains("runtime: cuda12: the most capable variant that fits"), "\(installed)")
            let runtimeUnit = ServiceContainerTests.runtimeUnit
            #expect(
                try container.exec(["systemctl", "is-active", runtimeUnit]).stdout == "active\n",
                "\(ServiceContainerTests.journal(container, runtimeUnit))")

            let unitFile = "/etc/systemd/system/\(runtimeUnit)"
            let rendered = try container.exec(["cat", unitFile]).checked().stdout
            let deviceLines = rendered.split(separator: "\n").filter { $0.hasPrefix("BindPaths=") || $0.hasPrefix("DeviceAllow=") }
            #expect(
                deviceLines.map(String.init) == ["BindPaths=" + Self.allowed.joined(separator: " ")] + Self.allowed.map { "DeviceAllow=\($0) rw" })
            let verified = try container.exec(["systemd-analyze", "verify", unitFile])
            #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified)")
            let score = try ServiceContainerTests.exposure(container, unitFile)
            print("systemd-analyze security --offline=true: \(runtimeUnit) (cuda12, \(Self.allowed.count) device nodes) \(score)")
            #expect(score <= 0.5)

            // What the running runtime sees: the pseudo devices and exactly the allowed nodes.
            let pid = try ServiceContainerTests.show(container, runtimeUnit, "MainPID")
            let seen = try container.exec(["nsenter", "-t", pid, "-m", "--", "ls", "/dev"]).checked().stdout.split(separator: "\n")
            #expect(
                seen.filter { $0.hasPrefix("nvidia") }.map(String.init).sorted() == Self.allowed.map { String($0.dropFirst(5)) }.sorted(), "\(seen)")

            // The kernel's answer from the same sandbox, with nvidia-modeset bound in as well but
            // not allowed: each allowed node reaches the (absent) driver, nvidia-modeset does not.
            try container.write(Self.probe, to: "/opt/airlock-probe/devices.py")
            let output = "/run/airlock-device-probe.json"
            var probeUnit = ServiceContainerTests.probeUnit(from: rendered, output: output, command: "/usr/bin/python3 /opt/airlock-probe/devices.py")
            probeUnit = probeUnit.replacing("\nBindPaths=", with: "\nBindPaths=/dev/nvidia-modeset ")
            try container.write(probeUnit, to: "/etc/systemd/system/airlock-device-probe.service")
            try container.exec(["systemctl", "daemon-reload"]).checked()
            _ = try container.exec(["systemctl", "start", "airlock-device-probe.service"])
            let results = try ServiceContainerTests.probeResults(container, output)
            print("devices from the sandbox of \(runtimeUnit): \(results)")
            #expect(
                results["/dev/nvidiactl"] == "char 195:255 open: No such device or address",
                "\(results)\n\(ServiceContainerTests.journal(container, "airlock-device-probe.service"))")
            #expect(results["/dev/nvidia-uvm"] == "char 237:0 open: No such device or address")
            #expect(results["/dev/nvidia-uvm-tools"] == "char 237:1 open: No such device or address")
            #expect(results["/dev/nvidia0"] == "char 195:0 open: No such device or address")
            #expect(results["/dev/nvidia-modeset"] == "char 195:254 open: Operation not permitted")
            #expect(results["/dev"]?.contains("sda") == false && results["/dev"]?.contains("console") == false, "\(results["/dev"] ?? "")")

            // The gateway serves through this runtime as through the CPU one.
            let key = try container.exec([try ServiceContainerTests.airlock(container), "clients", "add", "app", "--adapters", "*"]).checked().stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try ServiceContainerTests.chat(container, key: key).0 == 200)
        }
    }
}
