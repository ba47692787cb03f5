import AirlockCore
import Foundation
import Systemd
import TestSupport
import Testing

/// The runtime unit of a GPU variant differs from the CPU one by exactly its named NVIDIA device
/// nodes; the audit seal and retention services and timers say what they are allowed; all of
/// them score within the limits with systemd's own offline analysis, and `systemd-analyze verify`
/// accepts them.
@Suite struct DeviceAndSealUnitsTests {
    /// What `HostProbe.cudaDeviceNodes` reports on a host with two GPUs (the seam: the tests name
    /// the nodes; there is no GPU on this machine).
    static let devices = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0", "/dev/nvidia1"]
    static let runtimePath = "/etc/systemd/system/airlock-runtime@claims-assistant.service"

    static func render(devices: [String], runtime: String? = nil) throws -> [String: String] {
        var input = ServiceUnitsTests.input
        input.devices = devices
        if let runtime { input.runtimeExecutable = runtime }
        return Dictionary(uniqueKeysWithValues: try ServiceUnits.render(input, layout: ServiceUnitsTests.layout).map { ($0.path, $0.contents) })
    }

    /// The lines that say something to systemd (no comments, no blank lines).
    static func settings(_ text: String?) -> [String] {
        ServiceUnitsTests.lines(text).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    @Test func theGPUUnitDiffersFromTheCPUUnitOnlyByItsNamedDevices() throws {
        let cpu = try Self.render(devices: [])
        let gpu = try Self.render(devices: Self.devices)
        for path in cpu.keys where path != Self.runtimePath {
            #expect(cpu[path] == gpu[path], "\(path) depends on the runtime variant")
        }
        let cpuLines = Self.settings(cpu[Self.runtimePath])
        let gpuLines = Self.settings(gpu[Self.runtimePath])
        #expect(cpuLines.filter { !gpuLines.contains($0) } == [], "the GPU unit keeps every line of the CPU unit")
        #expect(
            gpuLines.filter { !cpuLines.contains($0) } == [
                "BindPaths=/dev/nvidiactl /dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidia0 /dev/nvidia1",
                "DeviceAllow=/dev/nvidiactl rw", "DeviceAllow=/dev/nvidia-uvm rw", "DeviceAllow=/dev/nvidia-uvm-tools rw",
                "DeviceAllow=/dev/nvidia0 rw", "DeviceAllow=/dev/nvidia1 rw",
            ])
        for line in [
            "PrivateDevices=yes", "DevicePolicy=closed", "PrivateUsers=yes", "ProcSubset=pid", "PrivateNetwork=yes", "CapabilityBoundingSet=",
        ] {
            #expect(gpuLines.contains(line), "the GPU unit lacks '\(line)'")
        }
        #expect(!(cpu[Self.runtimePath] ?? "").contains("DeviceAllow=") && !(cpu[Self.runtimePath] ?? "").contains("BindPaths="))
        #expect(!(gpu[Self.runtimePath] ?? "").contains("modeset"))
    }

    @Test func refusesDeviceNamesSystemdWouldMisreadOrThatAreNoDevice() throws {
        for devices in [
            ["/etc/shadow"], ["/dev/../etc/shadow"], ["/dev/nvidia0 rw"], ["/dev/nvidia0:/dev/sda"], ["/dev/"], ["/dev/nvidia0", "/dev/nvidia0"],
        ] {
            #expect(throws: AirlockError.self, "\(devices)") { try Self.render(devices: devices) }
        }
    }

    @Test func theSealServiceIsRootWithOnlyCAPCHOWNAndWritesOnlyTheLog() throws {
        let files = try ServiceUnits.auditUnits(.seal, auditExecutable: "/usr/local/bin/airlock-audit", layout: ServiceUnitsTests.layout)
        #expect(files.map(\.path) == ["/etc/systemd/system/airlock-audit-seal.service", "/etc/systemd/system/airlock-audit-seal.timer"])
        let service = Self.settings(files[0].contents)
        for line in [
            "Type=oneshot", "ExecStart=/usr/local/bin/airlock-audit seal", "User=root", "CapabilityBoundingSet=CAP_CHOWN", "AmbientCapabilities=",
            "SupplementaryGroups=airlock-serve", "ProtectSystem=strict", "ReadWritePaths=/var/log/airlock", "TemporaryFileSystem=/var/lib/airlock:ro",
            "BindReadOnlyPaths=/var/lib/airlock/audit-key.pem", "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "NoNewPrivileges=yes",
            "SystemCallFilter=~@privileged @resources", "SystemCallFilter=@chown",
        ] {
            #expect(service.contains(line), "the seal service lacks '\(line)'")
        }
        #expect(
            Self.settings(files[1].contents) == [
                "[Unit]", "Description=Airlock: hand sealed audit log segments to root, every 5 minutes",
                "[Timer]", "OnBootSec=1min", "OnUnitActiveSec=5min", "[Install]", "WantedBy=timers.target",
            ])
        let scratch = try ServiceUnits.auditUnits(.seal, auditExecutable: "/opt/airlock/airlock-audit", layout: HostLayout(root: "/srv/rehearsal"))
        #expect(Self.settings(scratch[0].contents).contains("ExecStart=/opt/airlock/airlock-audit --root /srv/rehearsal seal"))
        #expect(Self.settings(scratch[0].contents).contains("ReadWritePaths=/srv/rehearsal/var/log/airlock"))
    }

    @Test func theRetentionServiceIsRootWithNoCapabilityAndSeesOnlyTheLogTheKeyAndThePolicy() throws {
        let files = try ServiceUnits.auditUnits(.retention, auditExecutable: "/usr/local/bin/airlock-audit", layout: ServiceUnitsTests.layout)
        #expect(files.map(\.path) == ["/etc/systemd/system/airlock-audit-retention.service", "/etc/systemd/system/airlock-audit-retention.timer"])
        let service = Self.settings(files[0].contents)
        for line in [
            "Type=oneshot", "ExecStart=/usr/local/bin/airlock-audit retention", "User=root", "CapabilityBoundingSet=", "AmbientCapabilities=",
            "PrivateUsers=yes", "SupplementaryGroups=airlock-serve", "ProtectSystem=strict", "ReadWritePaths=/var/log/airlock",
            "TemporaryFileSystem=/var/lib/airlock:ro", "BindReadOnlyPaths=/var/lib/airlock/audit-key.pem",
            "TemporaryFileSystem=/etc/airlock:ro", "BindReadOnlyPaths=-/etc/airlock/audit.yaml",
            "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "NoNewPrivileges=yes", "SystemCallFilter=~@privileged @resources @chown",
        ] {
            #expect(service.contains(line), "the retention service lacks '\(line)'")
        }
        #expect(!service.contains { $0.hasPrefix("CapabilityBoundingSet=CAP_") || $0 == "SystemCallFilter=@chown" }, "no capability, no chown")
        #expect(
            Self.settings(files[1].contents) == [
                "[Unit]", "Description=Airlock: remove audit log segments older than the retention policy, daily",
                "[Timer]", "OnCalendar=daily", "Persistent=true", "RandomizedDelaySec=1h", "[Install]", "WantedBy=timers.target",
            ])
        // The seal and retention units share nothing but their shape: both pairs, in that order.
        let all = try ServiceUnits.auditUnits(auditExecutable: "/usr/local/bin/airlock-audit", layout: ServiceUnitsTests.layout)
        #expect(
            all.map { ($0.path as NSString).lastPathComponent } == [
                "airlock-audit-seal.service", "airlock-audit-seal.timer", "airlock-audit-retention.service", "airlock-audit-retention.timer",
            ])
        let scratch = try ServiceUnits.auditUnits(
            .retention, auditExecutable: "/opt/airlock/airlock-audit", layout: HostLayout(root: "/srv/rehearsal"))
        #expect(Self.settings(scratch[0].contents).contains("ExecStart=/opt/airlock/airlock-audit --root /srv/rehearsal retention"))
        #expect(Self.settings(scratch[0].contents).contains("BindReadOnlyPaths=-/srv/rehearsal/etc/airlock/audit.yaml"))
    }

    /// `systemd-analyze security --offline=true` of a unit file: the overall exposure and the
    /// lines that count against it.
    static func score(_ path: String) throws -> (Double, [String]) {
        let result = try ProcessResult.run("/usr/bin/systemd-analyze", ["security", "--offline=true", "--no-pager", path])
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let overall = lines.first { $0.contains("Overall exposure level") } ?? ""
        guard let score = overall.split(separator: ":").last?.split(separator: " ").first.flatMap({ Double($0) }) else {
            throw TestSupportError("no exposure score for \(path): \(result)")
        }
        return (score, lines.filter { $0.hasPrefix("✗") })
    }

    /// Rendered here (the GPU's device nodes named as the probe would report them) and scored by
    /// the machine's systemd (252) offline; printed for the operator guide.
    @Test func bothRuntimeVariantsAndTheAuditServicesScoreWithinTheLimits() throws {
        let folder = try TemporaryDirectory("airlock-unit-scores")
        defer { folder.remove() }
        // verify wants ExecStart= to name a program that exists.
        var units: [String: String] = [:]
        for (variant, devices) in [("cpu", [String]()), ("gpu", Self.devices)] {
            try FileManager.default.createDirectory(atPath: folder.file(variant), withIntermediateDirectories: true)
            let path = folder.file(variant + "/airlock-runtime@claims-assistant.service")
            try Self.render(devices: devices, runtime: "/usr/bin/true")[Self.runtimePath]!.write(toFile: path, atomically: true, encoding: .utf8)
            units[variant] = path
        }
        try FileManager.default.createDirectory(atPath: folder.file("audit"), withIntermediateDirectories: true)
        var timers: [String] = []
        for file in try ServiceUnits.auditUnits(auditExecutable: "/usr/bin/true", layout: ServiceUnitsTests.layout) {
            let path = folder.file("audit/" + (file.path as NSString).lastPathComponent)
            try file.contents.write(toFile: path, atomically: true, encoding: .utf8)
            if path.hasSuffix("-seal.service") { units["seal"] = path }
            if path.hasSuffix("-retention.service") { units["retention"] = path }
            if path.hasSuffix(".timer") { timers.append(path) }
        }
        let verified = try ProcessResult.run(
            "/usr/bin/systemd-analyze", ["verify", units["cpu"]!, units["gpu"]!, units["seal"]!, units["retention"]!] + timers)
        #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified)")

        let (cpu, cpuCounted) = try Self.score(units["cpu"]!)
        let (gpu, gpuCounted) = try Self.score(units["gpu"]!)
        let (seal, sealCounted) = try Self.score(units["seal"]!)
        let (retention, retentionCounted) = try Self.score(units["retention"]!)
        print(
            "systemd-analyze security --offline=true: runtime (CPU) \(cpu), runtime (GPU, \(Self.devices.count) nodes) \(gpu), airlock-audit-seal.service \(seal), airlock-audit-retention.service \(retention)"
        )
        for (name, counted) in [("CPU", cpuCounted), ("GPU", gpuCounted), ("seal", sealCounted), ("retention", retentionCounted)] {
            let items = counted.map { line in
                let words = line.split(separator: " ")
                return "\(words.dropFirst().first ?? "") \(words.last ?? "")"
            }
            print("  \(name) counts: " + items.joined(separator: ", "))
        }
        #expect(cpu <= 0.5)
        #expect(gpu <= 0.5)
        #expect(seal <= 1.2)
        #expect(retention <= 0.6)
        #expect(retention <= seal, "the retention service needs less than the seal service: no capability, no chown")
        // systemd reads the GPU unit's device list as exactly the named nodes (and char-rtc, which
        // ProtectClock= adds to every unit).
        let acl = try #require(gpuCounted.first { $0.contains("DeviceAllow=") })
        for device in Self.devices { #expect(acl.contains(" \(device):rw"), "\(acl)") }
        #expect(acl.components(separatedBy: ":rw").count - 1 == Self.devices.count, "\(acl)")
    }
}
