import Foundation
import Systemd
import TestSupport
import Testing

/// `airlock install` on a host whose PID 1 is a real systemd (252, booted in a container): the
/// units it renders are accepted by systemd, score within the exposure limits, start the real
/// runtime and gateway, serve a chat request, and survive a runtime kill -9 without a gateway
/// restart.
@Suite(.serialized) struct ServiceContainerTests {
    static let name = "claims-assistant"
    static let runtimeUnit = "airlock-runtime@claims-assistant.service"
    static let gatewayUnit = "airlock-serve@claims-assistant.service"

    /// `systemd-analyze security --offline=true` of a unit file: its overall exposure.
    static func exposure(_ container: SystemdContainer, _ unitFile: String) throws -> Double {
        let result = try container.exec(["systemd-analyze", "security", "--offline=true", "--no-pager", unitFile])
        let line = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        guard let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap({ Double($0) }) else {
            throw TestSupportError("no exposure score for \(unitFile): \(result)")
        }
        return score
    }

    /// The journal's tail (of one unit), for failure messages.
    static func journal(_ container: SystemdContainer, _ unit: String? = nil) -> String {
        let filter = unit.map { ["-u", $0] } ?? ["-b"]
        return (try? container.exec(["journalctl", "--no-pager", "-n", "60"] + filter))?.stdout ?? ""
    }

    static func show(_ container: SystemdContainer, _ unit: String, _ property: String) throws -> String {
        try container.exec(["systemctl", "show", "-p", property, "--value", unit]).checked().stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A chat request through the gateway, from inside the container: (status, body).
    static func chat(_ container: SystemdContainer, key: String, model: String = "claims") throws -> (Int, String) {
        let body = ServedBundle.chat(model: model, maxTokens: 8)
        let result = try container.exec([
            "curl", "-sS", "-m", "20", "-o", "/dev/stdout", "-w", "\n%{http_code}", "-H", "Authorization: Bearer \(key)",
            "-H", "Content-Type: application/json", "--data-binary", body, "http://127.0.0.1:8080/v1/chat/completions",
        ])
        let parts = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(parts.last ?? "") ?? -1, parts.dropLast().joined(separator: "\n"))
    }

    @Test func installStartsHardenedServicesThatServeAndSurviveARuntimeKill() throws {
        let demo = try DemoBundle.shared()
        let airlock = TestEnvironment.executable("airlock")
        try SystemdContainer.with(name: "airlock-test-services") { container in
            try container.copy(demo.bundle, to: "/root/claims-assistant-1.0.0.airlock")
            try container.copy(demo.publicKey, to: "/root/release.pub.pem")
            try container.exec([airlock, "trust", "add", "/root/release.pub.pem", "--names", "claims-*"]).checked()

            let installed = try container.exec([airlock, "install", "/root/claims-assistant-1.0.0.airlock"])
            #expect(installed.status == 0, "\(installed)\n\(Self.journal(container))")
            #expect(installed.stdout.contains("services: \(Self.runtimeUnit) and \(Self.gatewayUnit) (re)started"), "\(installed)")
            for unit in [Self.runtimeUnit, Self.gatewayUnit] {
                let state = try container.exec(["systemctl", "is-active", unit])
                #expect(state.stdout == "active\n", "\(unit): \(state)\n\(Self.journal(container, unit))")
            }
            #expect(try container.exec(["systemctl", "is-enabled", Self.gatewayUnit]).stdout == "enabled\n")
            #expect(try Self.show(container, Self.runtimeUnit, "User") == "airlock-runtime")
            #expect(try Self.show(container, Self.gatewayUnit, "User") == "airlock-serve")

            // systemd accepts the units as they are, and they score within the limits.
            let files = ["/etc/systemd/system/\(Self.runtimeUnit)", "/etc/systemd/system/\(Self.gatewayUnit)"]
            let verified = try container.exec(["systemd-analyze", "verify"] + files)
            #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified)")
            let runtimeScore = try Self.exposure(container, files[0])
            let gatewayScore = try Self.exposure(container, files[1])
            print("systemd-analyze security --offline=true: \(Self.runtimeUnit) \(runtimeScore), \(Self.gatewayUnit) \(gatewayScore)")
            #expect(runtimeScore <= 0.5)
            #expect(gatewayScore <= 1.2)

            // The runtime listens only in its socket folder, which only the gateway's group may enter.
            let folder = try container.exec(["stat", "-c", "%U %G %a", "/run/airlock/claims-assistant"]).checked().stdout
            #expect(folder == "airlock-runtime airlock-runtime 750\n")
            let listening = try container.exec(["ss", "-Hltnp"]).stdout
            #expect(!listening.contains("llama-server"), "the runtime listens on TCP: \(listening)")

            // A client, then a chat request through the gateway.
            let key = try container.exec([airlock, "clients", "add", "app", "--adapters", "claims"]).checked().stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let (status, body) = try Self.chat(container, key: key)
            #expect(status == 200, "\(body)\n\(Self.journal(container, Self.gatewayUnit))")
            #expect(body.contains("\"model\":\"claims\""), "\(body)")

            // kill -9 of the runtime: systemd restarts it; the gateway recovers by itself.
            let gatewayPID = try Self.show(container, Self.gatewayUnit, "MainPID")
            let runtimePID = try Self.show(container, Self.runtimeUnit, "MainPID")
            try container.exec(["systemctl", "kill", "-s", "KILL", Self.runtimeUnit]).checked()
            var recovered = false
            var last = (0, "")
            for _ in 0..<100 where !recovered {
                Thread.sleep(forTimeInterval: 0.2)
                let now = try Self.show(container, Self.runtimeUnit, "MainPID")
                guard now != runtimePID, now != "0" else { continue }
                last = try Self.chat(container, key: key)
                recovered = last.0 == 200
            }
            #expect(recovered, "no answer after the runtime's restart: \(last)")
            #expect(try Self.show(container, Self.runtimeUnit, "NRestarts") == "1")
            #expect(try Self.show(container, Self.gatewayUnit, "MainPID") == gatewayPID, "the gateway was restarted")
            #expect(try Self.show(container, Self.gatewayUnit, "NRestarts") == "0")
            #expect(try container.exec(["systemctl", "is-active", Self.gatewayUnit]).stdout == "active\n")
        }
    }

    /// Arguments written by `SystemdQuoting` reach the program exactly, as systemd parses them.
    @Test func execStartArgumentsReachTheProgramExactly() throws {
        let arguments = ["plain", "two words", "50%", "$HOME", "${PATH}", #"quote " and \ backslash"#, "'single'", "", "a;b", "%n"]
        let program = "import json,sys; open('/run/argv.json','w').write(json.dumps(sys.argv[1:]))"
        let line = try SystemdQuoting.execLine("/usr/bin/python3", ["-c", program] + arguments)
        try SystemdContainer.with(name: "airlock-test-quoting") { container in
            try container.write("[Service]\nType=oneshot\nExecStart=\(line)\n", to: "/etc/systemd/system/airlock-quoting-probe.service")
            try container.exec(["systemctl", "daemon-reload"]).checked()
            try container.exec(["systemctl", "start", "airlock-quoting-probe.service"]).checked()
            let written = try container.exec(["cat", "/run/argv.json"]).checked().stdout
            let parsed = try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String]
            #expect(parsed == arguments, "ExecStart=\(line)")
        }
    }
}
