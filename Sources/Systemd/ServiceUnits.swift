public import AirlockCore

/// What the two services of one installed bundle are started with: filled in from the bundle's
/// service plan (the runtime's exact argument list) and the site's service settings.
public struct ServiceUnitInput: Sendable, Equatable {
    /// The bundle name (`[a-z0-9-]+`): the units' instance name.
    public var name: String
    public var version: String
    /// `llama-server` inside the installed version's tree, and its complete argument list.
    public var runtimeExecutable: String
    public var runtimeArguments: [String]
    /// The installed version's tree (weights and runtime), read-only for the runtime.
    public var versionDirectory: String
    /// The folder of the runtime's Unix socket (`/run/airlock/NAME`).
    public var socketDirectory: String
    /// `airlock-serve` and its arguments.
    public var serveExecutable: String
    public var serveArguments: [String]
    /// Where the gateway listens.
    public var listenHost: String
    public var listenPort: Int
    /// The client networks the gateway may talk with (`IPAddressAllow=`): addresses or prefixes.
    public var clientNetworks: [String]
    /// The device nodes the runtime may open beyond systemd's pseudo devices (`/dev/...`): none
    /// for a CPU variant; for a GPU variant the NVIDIA nodes CUDA opens.
    public var devices: [String]
    /// Which engine the runtime is: its sandbox differs where the engine needs it to.
    public var engine: RuntimeSandbox
    /// The runtime's complete environment (empty for llama-server).
    public var runtimeEnvironment: [String: String]
    /// The runtime's own writable folder (`/var/lib/airlock-runtime/NAME`), or nil for none.
    public var runtimeStateDirectory: String?

    public init(
        name: String, version: String, runtimeExecutable: String, runtimeArguments: [String],
        versionDirectory: String, socketDirectory: String, serveExecutable: String, serveArguments: [String],
        listenHost: String, listenPort: Int, clientNetworks: [String], devices: [String] = [],
        engine: RuntimeSandbox = .llamaServer, runtimeEnvironment: [String: String] = [:], runtimeStateDirectory: String? = nil
    ) {
        self.name = name
        self.version = version
        self.runtimeExecutable = runtimeExecutable
        self.runtimeArguments = runtimeArguments
        self.versionDirectory = versionDirectory
        self.socketDirectory = socketDirectory
        self.serveExecutable = serveExecutable
        self.serveArguments = serveArguments
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.clientNetworks = clientNetworks
        self.devices = devices
        self.engine = engine
        self.runtimeEnvironment = runtimeEnvironment
        self.runtimeStateDirectory = runtimeStateDirectory
    }
}

/// The two runtime sandboxes. llama-server is one process that needs nothing but its socket:
/// no IP socket at all, no writable file, no executable memory it makes. vLLM (measured in
/// Docs/notes-vllm-runtime.md) is four processes that talk over 127.0.0.1 TCP (torch's gloo
/// needs an interface holding it, even for one worker), write caches and shared memory, and JIT
/// machine code (torch's oneDNN kernels): its unit keeps `PrivateNetwork=yes` (an own namespace
/// whose only interface is its own loopback) and `IPAddressDeny=any` with only `localhost`
/// allowed, and loosens exactly what it needs, each line saying why.
public enum RuntimeSandbox: String, Sendable, Equatable {
    case llamaServer = "llama-server"
    case vllm
}

/// One file `airlock install` writes, with its exact contents.
public struct RenderedFile: Sendable, Equatable {
    public var path: String
    public var contents: String
}

/// Renders the runtime and gateway units of a bundle, and the sysusers.d and tmpfiles.d entries
/// they rely on, from the templates in the repository's `systemd/` folder (compiled in).
///
/// The output is a pure function of its input: the same bundle and settings give byte-identical
/// files, so `airlock doctor` can tell a unit that drifted from what Airlock rendered.
public enum ServiceUnits {
    /// The runtime's and the gateway's system users (and groups), from `airlock.sysusers.conf`.
    public static let runtimeUser = "airlock-runtime"
    public static let gatewayUser = "airlock-serve"

    public static func runtimeUnit(_ name: String) -> String { "airlock-runtime@\(name).service" }
    public static func gatewayUnit(_ name: String) -> String { "airlock-serve@\(name).service" }

    /// The four files for `input`, at their places under `layout`.
    public static func render(_ input: ServiceUnitInput, layout: HostLayout) throws(AirlockError) -> [RenderedFile] {
        guard !input.name.isEmpty, input.name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
            throw AirlockError(.invalidInput, "'\(input.name)' cannot name a unit instance ([a-z0-9-]+)")
        }
        guard (1...65535).contains(input.listenPort) else {
            throw AirlockError(.invalidInput, "the gateway needs a fixed port (1-65535) for its unit, not \(input.listenPort)")
        }
        let socketDirectory = try SystemdQuoting.plainPath(input.socketDirectory)
        let socketLines: String
        if socketDirectory.hasPrefix("/run/") {
            // systemd makes it (owner airlock-runtime, 0750) at each start and removes it at stop.
            socketLines = "RuntimeDirectory=\(socketDirectory.dropFirst(5))\nRuntimeDirectoryMode=0750"
        } else {
            socketLines = """
                # Rendered under a --root outside /: the socket folder is not in /run, so it must exist
                # (owner airlock-runtime, mode 0750) before this unit starts.
                ReadWritePaths=\(socketDirectory)
                """
        }
        var allowed = ["localhost"]
        if Self.isConcreteAddress(input.listenHost) { allowed.append(input.listenHost) }
        for network in input.clientNetworks {
            guard Self.isAddressOrPrefix(network) else {
                throw AirlockError(.invalidInput, "client network '\(network)' is not an IPv4 or IPv6 address or prefix (for example 10.20.0.0/16)")
            }
            if !allowed.contains(network) { allowed.append(network) }
        }
        let listen = input.listenHost.contains(":") ? "[\(input.listenHost)]:\(input.listenPort)" : "\(input.listenHost):\(input.listenPort)"
        let common: [String: String] = [
            "NAME": input.name,
            "VERSION": input.version,
            "LISTEN": listen,
            "PORT": String(input.listenPort),
            "VERSION_DIRECTORY": try SystemdQuoting.plainPath(input.versionDirectory),
            "STORE_DIRECTORY": try SystemdQuoting.plainPath(layout.storeDirectory),
            "BUNDLE_DIRECTORY": try SystemdQuoting.plainPath(layout.bundleDirectory(name: input.name)),
            "CONFIG_DIRECTORY": try SystemdQuoting.plainPath(layout.configDirectory),
            "AUDIT_DIRECTORY": try SystemdQuoting.plainPath(layout.auditDirectory),
            "AUDIT_KEY": try SystemdQuoting.plainPath(layout.auditKey),
            "GATEWAY_AUDIT_KEY": try SystemdQuoting.plainPath(layout.gatewayAuditKey),
            "CLIENTS_FILE": try SystemdQuoting.plainPath(layout.clients),
            "GATEWAY_CONFIG": try SystemdQuoting.plainPath(layout.gatewayConfig),
            "SOCKET_DIRECTORY": socketLines,
            "IP_ADDRESS_ALLOW": "IPAddressAllow=" + allowed.joined(separator: " "),
        ]
        var runtime = common
        runtime["ENGINE"] = input.engine.rawValue
        runtime["DEVICE_ACCESS"] = try deviceLines(input.devices)
        runtime["ENGINE_PROCESS"] = try engineLines(input)
        runtime["ENGINE_NETWORK"] = Self.networkLines(input.engine)
        runtime["ENGINE_MEMORY"] = Self.memoryLines(input.engine)
        runtime["ENGINE_SYSCALLS"] =
            input.engine == .llamaServer
            ? "# (llama-server makes no scheduling or memory-policy calls.)"
            : [
                "# vLLM's CPU worker and ZeroMQ pin threads to cores and memory to NUMA nodes (ZeroMQ aborts when",
                "# refused): those calls of @resources are allowed back; realtime scheduling stays refused (RestrictRealtime=).",
                "SystemCallFilter=sched_setaffinity sched_setscheduler sched_setparam sched_setattr set_mempolicy mbind migrate_pages move_pages",
            ].joined(separator: "\n")
        runtime["ENGINE_PROC"] =
            input.engine == .llamaServer
            ? "ProcSubset=pid"
            : "# vLLM reads /proc/meminfo and /proc/cpuinfo at start (memory and CPU checks).\nProcSubset=all"
        runtime["EXEC_START"] = try SystemdQuoting.execLine(input.runtimeExecutable, input.runtimeArguments)
        var gateway = common
        gateway["EXEC_START"] = try SystemdQuoting.execLine(input.serveExecutable, input.serveArguments)
        return [
            RenderedFile(
                path: layout.unitDirectory + "/" + runtimeUnit(input.name),
                contents: try fill(Templates.runtime, runtime, "airlock-runtime@.service.in")),
            RenderedFile(
                path: layout.unitDirectory + "/" + gatewayUnit(input.name),
                contents: try fill(Templates.gateway, gateway, "airlock-serve@.service.in")),
            RenderedFile(path: layout.sysusersFile, contents: try fill(Templates.sysusers, common, "airlock.sysusers.conf.in")),
            RenderedFile(path: layout.tmpfilesFile, contents: try fill(Templates.tmpfiles, common, "airlock.tmpfiles.conf.in")),
        ]
    }

    /// The runtime's device lines: a comment alone for a CPU variant; for a GPU variant the nodes
    /// bound into its private /dev (`PrivateDevices=yes` shows only pseudo devices otherwise) and
    /// allowed, read and write, by the device policy (`DevicePolicy=closed` refuses the rest).
    /// `BindPaths=` has no `-`: a node that is gone fails the start instead of leaving a runtime
    /// that falls back to the CPU without saying so.
    static func deviceLines(_ devices: [String]) throws(AirlockError) -> String {
        guard !devices.isEmpty else {
            return "# Devices: systemd's pseudo devices (null, zero, random, ...) only; this variant runs on the CPU."
        }
        for device in devices {
            let name = device.dropFirst("/dev/".count)
            guard device.hasPrefix("/dev/"), !name.isEmpty, !name.split(separator: "/").contains(".."),
                name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_/".unicodeScalars.contains($0) })
            else {
                throw AirlockError(.invalidInput, "'\(device)' is not a device node the runtime's unit can name (/dev/ followed by a-z 0-9 - _ /)")
            }
        }
        guard Set(devices).count == devices.count else {
            throw AirlockError(.invalidInput, "the runtime's device list names a node twice: \(devices.joined(separator: " "))")
        }
        return
            ([
                """
                # Devices: systemd's pseudo devices and, for this GPU variant, exactly the nodes below (as the
                # host had them when this unit was rendered): bound into the private /dev, which shows nothing
                # else of the host's, and the only others the device policy lets it open.
                """, "BindPaths=" + devices.joined(separator: " "),
            ] + devices.map { "DeviceAllow=\($0) rw" }).joined(separator: "\n")
    }

    /// The engine's process lines: for llama-server a comment (empty environment, nothing
    /// written); for vLLM its complete environment (TMPDIR the unit's private /tmp, fresh at each
    /// start), its state folder and the descriptors it asks for.
    static func engineLines(_ input: ServiceUnitInput) throws(AirlockError) -> String {
        switch input.engine {
        case .llamaServer:
            return "# Environment: none (llama-server reads LLAMA_ARG_* variables; it gets none)."
        case .vllm:
            // TMPDIR is /tmp: the unit's own (PrivateTmp=yes), fresh at each start.
            let environment = input.runtimeEnvironment
            var lines = ["# Environment: complete (hub, telemetry and usage reports off; every cache in the state folder)."]
            for name in environment.keys.sorted() { lines.append(try SystemdQuoting.environmentLine(name, environment[name]!)) }
            guard let state = input.runtimeStateDirectory else {
                throw AirlockError(.invalidInput, "a vLLM runtime's unit needs its state folder")
            }
            let path = try SystemdQuoting.plainPath(state)
            if path.hasPrefix("/var/lib/") {
                lines += [
                    "# Its caches (the model-info cache saves ~11 s a start), kept across restarts, its own alone.",
                    "StateDirectory=\(path.dropFirst("/var/lib/".count))", "StateDirectoryMode=0700",
                ]
            } else {
                lines += [
                    "# Rendered under a --root outside /: the state folder must exist (owner airlock-runtime, 0700).",
                    "ReadWritePaths=\(path)",
                ]
            }
            lines += ["# vLLM raises its descriptor limit to 65535 and warns when it cannot.", "LimitNOFILE=65535"]
            return lines.joined(separator: "\n")
        }
    }

    static func networkLines(_ engine: RuntimeSandbox) -> String {
        switch engine {
        case .llamaServer:
            return [
                "# No network: only loopback in its own namespace, and only Unix sockets.",
                "PrivateNetwork=yes", "IPAddressDeny=any", "RestrictAddressFamilies=AF_UNIX",
            ].joined(separator: "\n")
        case .vllm:
            return [
                "# No network: its own namespace, whose only interface is its own loopback, and only localhost",
                "# even there. vLLM's processes talk over that loopback (torch's gloo needs an interface holding",
                "# 127.0.0.1) and look it up over netlink; clients reach it only through the gateway's Unix socket.",
                "PrivateNetwork=yes", "IPAddressDeny=any", "IPAddressAllow=localhost",
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
            ].joined(separator: "\n")
        }
    }

    static func memoryLines(_ engine: RuntimeSandbox) -> String {
        switch engine {
        case .llamaServer:
            return "MemoryDenyWriteExecute=yes"
        case .vllm:
            return [
                "# torch's CPU kernels (oneDNN) generate machine code at run time: executable memory is allowed.",
                "MemoryDenyWriteExecute=no",
            ].joined(separator: "\n")
        }
    }

    /// The placeholders whose values are whole lines that Airlock itself composed; every other
    /// value is one field's text and may not hold a line break or any other control character.
    static let lineValues: Set<String> = ["SOCKET_DIRECTORY", "DEVICE_ACCESS", "ENGINE_PROCESS", "ENGINE_NETWORK", "ENGINE_MEMORY", "ENGINE_PROC", "ENGINE_SYSCALLS"]

    /// Fills every `@KEY@` of `template` in one pass: a value is copied as it is and never
    /// scanned again, so a path that itself holds `@NAME@` cannot inject into the unit. A
    /// placeholder nothing fills is a bug in the template or here; a value with a control
    /// character (a newline would start a directive of its own) is refused, naming it.
    static func fill(_ template: String, _ values: [String: String], _ origin: String) throws(AirlockError) -> String {
        for (key, value) in values where !lineValues.contains(key) {
            if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
                throw AirlockError(
                    .invalidInput, "the value of @\(key)@ (\(value.debugDescription)) cannot be written into a unit: it holds a control character")
            }
        }
        var output = ""
        var rest = template[...]
        while let at = rest.firstIndex(of: "@") {
            output += rest[..<at]
            let after = rest[rest.index(after: at)...]
            let word = after.prefix { ("A"..."Z").contains($0) || $0 == "_" }
            guard !word.isEmpty, after.dropFirst(word.count).first == "@" else {
                output.append("@")
                rest = after
                continue
            }
            guard let value = values[String(word)] else {
                throw AirlockError(.invalidInput, "template \(origin) has a placeholder nothing fills: @\(word)@")
            }
            output += value
            rest = after.dropFirst(word.count + 1)
        }
        output += rest
        return output
    }

    static func isConcreteAddress(_ host: String) -> Bool {
        guard isAddressOrPrefix(host), !host.contains("/") else { return false }
        return host != "0.0.0.0" && host != "::" && !host.hasPrefix("127.") && host != "::1"
    }

    /// An IPv4 or IPv6 address, optionally with a prefix length (what `IPAddressAllow=` takes).
    static func isAddressOrPrefix(_ text: String) -> Bool {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address = String(parts[0])
        var buffer = [UInt8](repeating: 0, count: 16)
        let family = address.contains(":") ? AF_INET6 : AF_INET
        guard inet_pton(family, address, &buffer) == 1 else { return false }
        if parts.count == 2 {
            guard let length = Int(parts[1]), parts[1].allSatisfy(\.isASCII), length >= 0, length <= (family == AF_INET ? 32 : 128) else {
                return false
            }
        }
        return true
    }
}

/// The templates of the repository's `systemd/` folder, compiled in (`Templates` links to it).
enum Templates {
    static let runtime = String(decoding: PackageResources.airlock_runtime__service_in, as: UTF8.self)
    static let gateway = String(decoding: PackageResources.airlock_serve__service_in, as: UTF8.self)
    static let sysusers = String(decoding: PackageResources.airlock_sysusers_conf_in, as: UTF8.self)
    static let tmpfiles = String(decoding: PackageResources.airlock_tmpfiles_conf_in, as: UTF8.self)
    static let auditSealService = String(decoding: PackageResources.airlock_audit_seal_service_in, as: UTF8.self)
    static let auditSealTimer = String(decoding: PackageResources.airlock_audit_seal_timer_in, as: UTF8.self)
    static let auditRetentionService = String(decoding: PackageResources.airlock_audit_retention_service_in, as: UTF8.self)
    static let auditRetentionTimer = String(decoding: PackageResources.airlock_audit_retention_timer_in, as: UTF8.self)
}
