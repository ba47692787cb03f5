import AirlockCore
import Systemd
import Testing

/// The rendered units say, line by line, what a security reviewer checks; the same input gives
/// the same bytes; values reach systemd exactly.
@Suite struct ServiceUnitsTests {
    static let layout = HostLayout(root: "/")
    static let tree = "/var/lib/airlock/claims-assistant/1.0.0"
    static let input = ServiceUnitInput(
        name: "claims-assistant", version: "1.0.0",
        runtimeExecutable: tree + "/runtime/cpu-generic/llama-server",
        runtimeArguments: [
            "--model", tree + "/model/base.gguf", "--host", "/run/airlock/claims-assistant/runtime.sock", "--ctx-size", "4096",
            "--lora-scaled", tree + "/model/claims.gguf:0," + tree + "/model/legal.gguf:0",
        ],
        versionDirectory: tree, socketDirectory: "/run/airlock/claims-assistant",
        serveExecutable: "/usr/local/bin/airlock-serve", serveArguments: ["claims-assistant", "--listen", "10.20.0.5:8443"],
        listenHost: "10.20.0.5", listenPort: 8443, clientNetworks: ["10.20.0.0/16", "fd00:7::/64"])

    static func files() throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try ServiceUnits.render(input, layout: layout).map { ($0.path, $0.contents) })
    }

    static func lines(_ text: String?) -> [String] { (text ?? "").split(separator: "\n").map(String.init) }

    @Test func fourFilesAtTheirPlaces() throws {
        #expect(
            try Self.files().keys.sorted() == [
                "/etc/systemd/system/airlock-runtime@claims-assistant.service", "/etc/systemd/system/airlock-serve@claims-assistant.service",
                "/etc/sysusers.d/airlock.conf", "/etc/tmpfiles.d/airlock.conf",
            ])
        #expect(try Self.files() == Self.files(), "rendering is deterministic")
        for (path, text) in try Self.files() {
            #expect(!text.contains("@NAME@") && !text.contains("@EXEC_START@"), "\(path) kept a placeholder")
            #expect(text.hasSuffix("\n"))
        }
    }

    @Test func runtimeHasNoNetworkAndRunsTheExactArgumentList() throws {
        let unit = Self.lines(try Self.files()["/etc/systemd/system/airlock-runtime@claims-assistant.service"])
        let execStart = "ExecStart=" + Self.input.runtimeExecutable + " " + Self.input.runtimeArguments.joined(separator: " ")
        for line in [
            execStart, "User=airlock-runtime", "Group=airlock-runtime", "RuntimeDirectory=airlock/claims-assistant",
            "RuntimeDirectoryMode=0750", "UMask=0007", "PrivateNetwork=yes", "IPAddressDeny=any", "RestrictAddressFamilies=AF_UNIX",
            "ProtectSystem=strict", "TemporaryFileSystem=/var/lib/airlock:ro", "BindReadOnlyPaths=" + Self.tree,
            "InaccessiblePaths=-/etc/airlock -/var/log/airlock",
            "NoNewPrivileges=yes", "CapabilityBoundingSet=", "AmbientCapabilities=", "PrivateMounts=yes", "PrivateUsers=yes",
            "SystemCallFilter=@system-service", "Restart=on-failure",
        ] {
            #expect(unit.contains(line), "runtime unit lacks '\(line)'")
        }
        #expect(!unit.contains { $0.hasPrefix("[Install]") }, "the gateway pulls the runtime in; it is not enabled on its own")
        // Nothing propagates a gateway restart (watchdog) to the runtime: no model reload.
        for binding in ["PartOf=", "BindsTo=", "StopPropagatedFrom=", "Requires="] {
            #expect(!unit.contains { $0.hasPrefix(binding) }, "runtime unit has \(binding)")
        }
        #expect(!unit.contains { $0.hasPrefix("Environment") }, "llama-server reads LLAMA_ARG_*: the unit sets no environment")
        #expect(unit.filter { $0.hasPrefix("ExecStart=") }.count == 1)
    }

    /// The vLLM runtime's unit (issue 18): the same sandbox, loosened only where vLLM needs it
    /// (measured in Docs/notes-vllm-runtime.md and in the container test), each line commented;
    /// its complete environment offline, caches in its own state folder, TMPDIR the private /tmp.
    @Test func theVLLMUnitLoosensOnlyWhatVLLMNeedsAndIsOffline() throws {
        var input = Self.input
        input.name = "claims-assistant-hf"
        input.socketDirectory = "/run/airlock/claims-assistant-hf"
        input.runtimeExecutable = "/usr/bin/python3.11"
        input.runtimeArguments = ["-I", "-S", "-B", Self.tree + "/runtime/vllm-cpu/airlock-vllm.py", "--model", Self.tree + "/base"]
        input.engine = .vllm
        input.runtimeEnvironment = ["HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TMPDIR": "/tmp", "HOME": "/var/lib/airlock-runtime/claims-assistant-hf"]
        input.runtimeStateDirectory = "/var/lib/airlock-runtime/claims-assistant-hf"
        let files = Dictionary(uniqueKeysWithValues: try ServiceUnits.render(input, layout: Self.layout).map { ($0.path, $0.contents) })
        let text = try #require(files["/etc/systemd/system/airlock-runtime@claims-assistant-hf.service"])
        let unit = Self.lines(text)
        for line in [
            "ExecStart=/usr/bin/python3.11 -I -S -B \(Self.tree)/runtime/vllm-cpu/airlock-vllm.py --model \(Self.tree)/base",
            "Description=Airlock runtime for claims-assistant-hf 1.0.0 (vllm, no network)",
            "PrivateNetwork=yes", "IPAddressDeny=any", "IPAddressAllow=localhost",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "MemoryDenyWriteExecute=no", "ProcSubset=all",
            "Environment=HF_HUB_OFFLINE=1", "Environment=TRANSFORMERS_OFFLINE=1", "Environment=TMPDIR=/tmp",
            "Environment=HOME=/var/lib/airlock-runtime/claims-assistant-hf",
            "StateDirectory=airlock-runtime/claims-assistant-hf", "StateDirectoryMode=0700", "LimitNOFILE=65535",
            "PrivateTmp=yes", "ProtectSystem=strict", "TemporaryFileSystem=/var/lib/airlock:ro", "BindReadOnlyPaths=" + Self.tree,
            "NoNewPrivileges=yes", "CapabilityBoundingSet=", "PrivateUsers=yes", "RestrictRealtime=yes",
            "SystemCallFilter=@system-service", "SystemCallFilter=~@privileged @resources",
            "SystemCallFilter=sched_setaffinity sched_setscheduler sched_setparam sched_setattr set_mempolicy mbind migrate_pages move_pages",
        ] {
            #expect(unit.contains(line), "vLLM unit lacks '\(line)'")
        }
        #expect(!unit.contains("RestrictAddressFamilies=AF_UNIX") && !unit.contains("MemoryDenyWriteExecute=yes"))
        #expect(unit.filter { $0.hasPrefix("Environment=TMPDIR=") } == ["Environment=TMPDIR=/tmp"], "the private /tmp, fresh at each start")
        // Every loosened line has its reason on the line above.
        for loosened in ["MemoryDenyWriteExecute=no", "ProcSubset=all", "IPAddressAllow=localhost", "LimitNOFILE=65535"] {
            let index = try #require(unit.firstIndex(of: loosened))
            #expect(unit[index - 1].hasPrefix("#") || unit[index - 2].hasPrefix("#") || unit[index - 3].hasPrefix("#"), "\(loosened) has no reason")
        }
        // The llama-server unit is untouched by it.
        let llama = Self.lines(try Self.files()["/etc/systemd/system/airlock-runtime@claims-assistant.service"])
        #expect(llama.contains("RestrictAddressFamilies=AF_UNIX") && llama.contains("MemoryDenyWriteExecute=yes") && llama.contains("ProcSubset=pid"))
        #expect(!llama.contains { $0.hasPrefix("SystemCallFilter=sched_") || $0.hasPrefix("IPAddressAllow=") || $0.hasPrefix("StateDirectory=") })
        // A value that would need quoting is refused, not written.
        input.runtimeEnvironment["X"] = "a b"
        #expect(throws: AirlockError.self) { try ServiceUnits.render(input, layout: Self.layout) }
        input.runtimeEnvironment["X"] = "%h"
        #expect(throws: AirlockError.self) { try ServiceUnits.render(input, layout: Self.layout) }
    }

    @Test func gatewayIsNotifyWithAWatchdogAndOnlyItsAddresses() throws {
        let unit = Self.lines(try Self.files()["/etc/systemd/system/airlock-serve@claims-assistant.service"])
        for line in [
            "Type=notify", "NotifyAccess=main", "WatchdogSec=20s", "Restart=on-failure", "TimeoutAbortSec=5s",
            "Environment=SWIFT_BACKTRACE=enable=no", "SystemCallFilter=~@privileged @resources", "PrivateUsers=yes",
            "ExecStart=/usr/local/bin/airlock-serve claims-assistant --listen 10.20.0.5:8443",
            "User=airlock-serve", "SupplementaryGroups=airlock-runtime", "IPAddressDeny=any",
            "IPAddressAllow=localhost 10.20.0.5 10.20.0.0/16 fd00:7::/64", "SocketBindAllow=tcp:8443", "SocketBindDeny=any",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "LoadCredential=audit-key:/var/lib/airlock/audit-gateway-key.pem",
            "ProtectSystem=strict", "ReadWritePaths=/var/log/airlock", "CapabilityBoundingSet=", "NoNewPrivileges=yes",
            "TemporaryFileSystem=/var/lib/airlock:ro", "BindReadOnlyPaths=/var/lib/airlock/claims-assistant",
            "PrivateMounts=yes", "Wants=airlock-runtime@claims-assistant.service", "After=airlock-runtime@claims-assistant.service",
            "WantedBy=multi-user.target",
        ] {
            #expect(unit.contains(line), "gateway unit lacks '\(line)'")
        }
        // A runtime restarted by systemd must not restart the gateway: no dependency that
        // propagates restarts from the runtime.
        for binding in ["Requires=", "BindsTo=", "PartOf=", "Requisite="] {
            #expect(!unit.contains { $0.hasPrefix(binding) }, "gateway unit has \(binding)")
        }
        #expect(!unit.contains { $0.hasPrefix("PrivateNetwork=") })
    }

    @Test func usersAndSharedFolders() throws {
        let files = try Self.files()
        let users = Self.lines(files["/etc/sysusers.d/airlock.conf"]).filter { !$0.hasPrefix("#") }
        #expect(
            users == [#"u airlock-runtime - "Airlock inference runtime" / -"#, #"u airlock-serve - "Airlock gateway" / -"#, "g airlock-weights -"])
        let tmpfiles = Self.lines(files["/etc/tmpfiles.d/airlock.conf"]).filter { !$0.hasPrefix("#") }
        #expect(
            tmpfiles == [
                "d /var/log/airlock 3770 root airlock-serve -", "z /etc/airlock/clients.yaml 0640 root airlock-serve -",
                "z /etc/airlock/gateway.yaml 0640 root airlock-serve -",
            ])
    }

    @Test func aScratchRootKeepsTheSocketFolderUnderIt() throws {
        var input = Self.input
        input.socketDirectory = "/srv/rehearsal/run/airlock/claims-assistant"
        let files = try ServiceUnits.render(input, layout: HostLayout(root: "/srv/rehearsal"))
        let runtime = try #require(files.first { $0.path == "/srv/rehearsal/etc/systemd/system/airlock-runtime@claims-assistant.service" })
        #expect(Self.lines(runtime.contents).contains("ReadWritePaths=/srv/rehearsal/run/airlock/claims-assistant"))
        #expect(!runtime.contents.contains("RuntimeDirectory="))
        #expect(Self.lines(runtime.contents).contains("InaccessiblePaths=-/srv/rehearsal/etc/airlock -/srv/rehearsal/var/log/airlock"))
    }

    @Test func execWordsAreQuotedForSystemd() throws {
        #expect(try SystemdQuoting.execWord("/var/lib/airlock/a-b/1.0.0/x.gguf:0,y.gguf:0") == "/var/lib/airlock/a-b/1.0.0/x.gguf:0,y.gguf:0")
        #expect(try SystemdQuoting.execWord("50%") == "\"50%%\"")
        #expect(try SystemdQuoting.execWord("$HOME") == "\"$$HOME\"")
        #expect(try SystemdQuoting.execWord("two words") == "\"two words\"")
        #expect(try SystemdQuoting.execWord(#"say "hi" \ bye"#) == #""say \"hi\" \\ bye""#)
        #expect(try SystemdQuoting.execWord("") == "\"\"")
        #expect(throws: AirlockError.self) { try SystemdQuoting.execWord(";") }
        #expect(throws: AirlockError.self) { try SystemdQuoting.execWord("a\nb") }
        #expect(throws: AirlockError.self) { try SystemdQuoting.execLine("llama-server", []) }
        #expect(throws: AirlockError.self) { try SystemdQuoting.plainPath("/tmp/with space") }
    }

    @Test func refusesWhatSystemdWouldMisread() throws {
        var input = Self.input
        input.clientNetworks = ["10.20.0.0/33"]
        #expect(throws: AirlockError.self) { try ServiceUnits.render(input, layout: Self.layout) }
        input.clientNetworks = ["example.org"]
        #expect(throws: AirlockError.self) { try ServiceUnits.render(input, layout: Self.layout) }
        input = Self.input
        input.name = "Claims Assistant"
        #expect(throws: AirlockError.self) { try ServiceUnits.render(input, layout: Self.layout) }
        input = Self.input
        input.listenPort = 0
        #expect(throws: AirlockError.self) { try ServiceUnits.render(input, layout: Self.layout) }
    }

    /// A value is copied once and never scanned again: a path holding a placeholder's name
    /// stays that path, and a value with a line break (a directive of its own) is refused.
    @Test func hostileValuesCannotInjectIntoTheUnits() throws {
        var input = Self.input
        input.versionDirectory = "/var/lib/airlock/x/@EXEC_START@/@IP_ADDRESS_ALLOW@"
        input.runtimeExecutable = input.versionDirectory + "/llama-server"
        let runtime = try #require(
            try ServiceUnits.render(input, layout: Self.layout).first { $0.path.hasSuffix(ServiceUnits.runtimeUnit(input.name)) })
        #expect(runtime.contents.contains("/var/lib/airlock/x/@EXEC_START@/@IP_ADDRESS_ALLOW@"), "\(runtime.contents)")
        #expect(runtime.contents.components(separatedBy: "\nExecStart=").count == 2, "one ExecStart= line")
        #expect(runtime.contents.components(separatedBy: "\nIPAddressAllow=").count <= 2)

        var newline = Self.input
        newline.version = "1.0.0\nExecStartPre=/bin/sh -c 'id > /tmp/owned'"
        let error = #expect(throws: AirlockError.self) { try ServiceUnits.render(newline, layout: Self.layout) }
        #expect(
            error?.description.contains("@VERSION@") == true && error?.description.contains("control character") == true,
            "\(String(describing: error))")
    }
}
