import Foundation
import TestSupport
import Testing

/// The systemd container harness works: real systemd as PID 1, `Type=notify` units, and a BPF
/// firewall that `IPAddressDeny=` really uses. Every later service test stands on this.
@Suite(.serialized) struct ContainerHarnessTests {
    @Test func notifyUnitBecomesActive() throws {
        try SystemdContainer.with(name: "airlock-test-notify") { container in
            #expect(try container.exec(["/bin/cat", "/proc/1/comm"]).stdout == "systemd\n")
            try container.write(
                """
                #!/bin/bash
                sleep 0.5
                systemd-notify --ready --status="probe ready"
                exec sleep infinity
                """, to: "/usr/local/bin/airlock-notify-probe", mode: "0755")
            try container.write(
                """
                [Unit]
                Description=Airlock harness Type=notify probe
                [Service]
                Type=notify
                NotifyAccess=all
                ExecStart=/usr/local/bin/airlock-notify-probe
                """, to: "/etc/systemd/system/airlock-notify-probe.service")
            try container.exec(["systemctl", "daemon-reload"]).checked()
            try container.exec(["systemctl", "start", "airlock-notify-probe.service"]).checked()
            let state = try container.exec(["systemctl", "is-active", "airlock-notify-probe.service"])
            #expect(state.stdout == "active\n", "\(state)")
            let status = try container.exec(["systemctl", "show", "-p", "StatusText", "airlock-notify-probe.service"])
            #expect(status.stdout == "StatusText=probe ready\n")
        }
    }

    @Test func ipAddressDenyBlocksEgressThatIsOtherwiseOpen() throws {
        try SystemdContainer.with(name: "airlock-test-egress") { container in
            try container.preflightFirewall()
            // A target of our own: a veth pair, its far end in a namespace we create, a listener there.
            try container.makeEgressTarget()
            try container.exec([
                "systemd-run", "--unit=airlock-target-listener", "--",
                "ip", "netns", "exec", "airlock-target",
                "/usr/bin/python3", "-m", "http.server", "--bind", "10.231.0.2", "8000",
            ]).checked()
            let probe = "timeout 3 bash -c 'echo > /dev/tcp/10.231.0.2/8000'"
            // Wait for the listener with the unsandboxed probe; it must succeed (so the test can fail).
            let open = try container.shell("for i in $(seq 50); do \(probe) && exit 0; sleep 0.1; done; exit 1")
            #expect(open.status == 0, "listener unreachable without the sandbox: \(open)")
            let unsandboxed = try container.exec(["systemd-run", "--wait", "--quiet", "--", "/bin/bash", "-c", probe])
            #expect(unsandboxed.status == 0, "a unit without IPAddressDeny= must reach the listener: \(unsandboxed)")
            let denied = try container.exec([
                "systemd-run", "--wait", "--quiet", "-p", "IPAddressDeny=any",
                "--", "/bin/bash", "-c", probe,
            ])
            #expect(denied.status != 0, "a unit with IPAddressDeny=any reached the listener: \(denied)")
        }
    }
}
