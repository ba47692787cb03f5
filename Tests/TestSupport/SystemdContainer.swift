public import Foundation

/// A container whose PID 1 is a real systemd (252), booted from the host's own root through a
/// tmpfs overlay by `scripts/systemd-container.sh`. Binaries built on the host are visible inside;
/// everything written inside vanishes when it stops.
///
/// Always stop it: use `SystemdContainer.with(name:) { ... }`, which tears down on every path.
public final class SystemdContainer: Sendable {
    public let name: String
    /// The container's systemd, as seen from the host.
    public let leaderPID: Int32

    private static var script: String { TestEnvironment.script("systemd-container.sh") }

    private init(name: String, leaderPID: Int32) {
        self.name = name
        self.leaderPID = leaderPID
    }

    /// Boots a container, runs `body` with it, and always stops it. `unifiedCgroups` boots it with
    /// the pure cgroup v2 layout (nspawn's `SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1`): on this machine's
    /// hybrid host the container's systemd cannot use the v1 devices controller, so `DeviceAllow=`
    /// is enforced (by BPF) only in such a container.
    public static func with<T>(
        name: String, unifiedCgroups: Bool = false, bindReadOnly: [String] = [], _ body: (SystemdContainer) throws -> T
    ) throws -> T {
        let container = try start(name: name, unifiedCgroups: unifiedCgroups, bindReadOnly: bindReadOnly)
        defer { container.stop() }
        return try body(container)
    }

    /// Boots a container named `name` and waits until its systemd is running; `bindReadOnly`
    /// host folders appear inside at the same paths, read-only.
    public static func start(name: String, unifiedCgroups: Bool = false, bindReadOnly: [String] = []) throws -> SystemdContainer {
        // The container has its own /tmp: a checkout there (CI clones into one) and its build
        // output are bound in read-only at the same path, so tests can run what they built.
        var environment = ProcessInfo.processInfo.environment
        let shared = [TestEnvironment.repositoryRoot.path, TestEnvironment.executablesDirectory.path]
            .filter { $0.hasPrefix("/tmp/") || $0.hasPrefix("/run/") }
        let binds = Array(shared.prefix(1)) + bindReadOnly
        if !binds.isEmpty {
            let existing = environment["AIRLOCK_CONTAINER_BIND_RO"].map { [$0] } ?? []
            environment["AIRLOCK_CONTAINER_BIND_RO"] = (existing + binds).joined(separator: ":")
        }
        if unifiedCgroups { environment["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1" }
        let result = try ProcessResult.run(script, ["start", name], environment: environment)
        guard result.status == 0, let pid = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            _ = try? ProcessResult.run(script, ["stop", name])
            throw TestSupportError("container \(name) did not boot: \(result)")
        }
        return SystemdContainer(name: name, leaderPID: pid)
    }

    /// Runs a command inside (all of the container's namespaces) and returns its result.
    @discardableResult
    public func exec(_ command: [String], input: Data? = nil) throws -> ProcessResult {
        try ProcessResult.run(Self.script, ["exec", name, "--"] + command, input: input)
    }

    /// Runs a shell script inside with `bash -c`.
    @discardableResult
    public func shell(_ script: String) throws -> ProcessResult {
        try exec(["/bin/bash", "-c", script])
    }

    /// Where the container runs one of Airlock's executables from: the build folder itself,
    /// unless the checkout is under /tmp or /run (CI clones into /tmp), which services with
    /// PrivateTmp= cannot see; then all four are copied to /usr/local/lib/airlock-test/ once,
    /// together, so that `airlock` finds `airlock-serve` beside itself.
    public func executable(_ name: String) throws -> String {
        let host = TestEnvironment.executable(name)
        guard host.hasPrefix("/tmp/") || host.hasPrefix("/run/") else { return host }
        let folder = "/usr/local/lib/airlock-test"
        if try exec(["/usr/bin/test", "-x", folder + "/" + name]).status != 0 {
            for program in ["airlock", "airlock-serve", "airlock-audit", "airlock-pack"] {
                try copy(TestEnvironment.executable(program), to: folder + "/" + program, mode: "0755")
            }
        }
        return folder + "/" + name
    }

    /// A target of the test's own for egress probes: a veth pair whose far end, 10.231.0.2, is in
    /// a network namespace `airlock-target` (the near end is 10.231.0.1).
    public func makeEgressTarget() throws {
        try shell(
            """
            set -e
            ip link add airlock-v0 type veth peer name airlock-v1
            ip netns add airlock-target
            ip link set airlock-v1 netns airlock-target
            ip addr add 10.231.0.1/24 dev airlock-v0
            ip link set airlock-v0 up
            ip -n airlock-target addr add 10.231.0.2/24 dev airlock-v1
            ip -n airlock-target link set airlock-v1 up
            ip -n airlock-target link set lo up
            """
        ).checked()
    }

    /// Copies a host file into the container.
    public func copy(_ source: String, to destination: String, mode: String = "0644") throws {
        try ProcessResult.run(Self.script, ["copy", name, source, destination, mode]).checked()
    }

    /// Writes `text` into a file inside the container.
    public func write(_ text: String, to destination: String, mode: String = "0644") throws {
        try exec(["/usr/bin/install", "-D", "-m", mode, "/dev/stdin", destination], input: Data(text.utf8)).checked()
    }

    /// Proves the BPF firewall works inside (systemd ignores `IPAddressDeny=` silently when it
    /// cannot load BPF programs).
    public func preflightFirewall() throws {
        try ProcessResult.run(Self.script, ["preflight", name]).checked()
    }

    /// Powers the container off and removes everything it left on the host.
    public func stop() {
        _ = try? ProcessResult.run(Self.script, ["stop", name])
    }
}
