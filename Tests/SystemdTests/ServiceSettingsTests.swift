import Foundation
import TestSupport
import Testing

/// `services.yaml` decides where a bundle's gateway listens and which client networks its unit
/// allows; a mistake in it is refused with the key named, and the bundle stays installed.
@Suite struct ServiceSettingsTests {
    final class Root {
        let folder: TemporaryDirectory
        var path: String { folder.file("root") }
        init() throws {
            folder = try TemporaryDirectory("airlock-service-settings")
            let demo = try DemoBundle.shared()
            try airlock(["trust", "add", demo.publicKey, "--names", "claims-*"]).checked()
        }
        deinit { folder.remove() }
        func airlock(_ arguments: [String]) throws -> ProcessResult {
            try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", path] + arguments)
        }
        func writeSettings(_ text: String) throws {
            try FileManager.default.createDirectory(atPath: path + "/etc/airlock", withIntermediateDirectories: true)
            try text.write(toFile: path + "/etc/airlock/services.yaml", atomically: true, encoding: .utf8)
        }
        var gatewayUnit: [String] {
            ((try? String(contentsOfFile: path + "/etc/systemd/system/airlock-serve@claims-assistant.service", encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
        }
    }

    @Test func listenAddressAndClientNetworksReachTheGatewayUnit() throws {
        let root = try Root()
        try root.writeSettings("claims-assistant:\n  listen: 10.20.0.5:8443\n  clients: [10.20.0.0/16, 192.168.7.0/24]\n")
        let installed = try root.airlock(["install", try DemoBundle.shared().bundle]).checked()
        #expect(installed.stdout.contains("services: not started: --root is not /"))
        let unit = root.gatewayUnit
        #expect(
            unit.contains { $0.hasPrefix("ExecStart=") && $0.hasSuffix(" --root \(root.path) claims-assistant --listen 10.20.0.5:8443") }, "\(unit)")
        #expect(unit.contains("IPAddressAllow=localhost 10.20.0.5 10.20.0.0/16 192.168.7.0/24"))
        #expect(unit.contains("SocketBindAllow=tcp:8443"))
    }

    @Test func defaultsAreLoopbackOnly() throws {
        let root = try Root()
        try root.airlock(["install", try DemoBundle.shared().bundle, "--no-start"]).checked()
        #expect(root.gatewayUnit.contains("IPAddressAllow=localhost"))
        #expect(root.gatewayUnit.contains { $0.hasSuffix("--listen 127.0.0.1:8080") })
    }

    @Test func aMistakeIsRefusedNamingItAndTheBundleStaysInstalled() throws {
        let root = try Root()
        try root.writeSettings("claims-assistant:\n  listen: 10.20.0.5:8443\n  allow: [10.0.0.0/8]\n")
        let refused = try root.airlock(["install", try DemoBundle.shared().bundle])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("claims-assistant 1.0.0 is installed and current, but its services could not be set up"), "\(refused)")
        #expect(refused.stderr.contains("unknown key 'allow'"), "\(refused)")
        #expect(try root.airlock(["list"]).checked().stdout.contains("1.0.0 (current)"))
        #expect(root.gatewayUnit.isEmpty, "nothing rendered from a refused file")
        try root.writeSettings("claims-assistant:\n  clients: [example.org]\n")
        let badNetwork = try root.airlock(["activate", "claims-assistant", "1.0.0"])
        #expect(badNetwork.status == 1)
        #expect(badNetwork.stderr.contains("client network 'example.org'"), "\(badNetwork)")
        // Fixed: activate of the current version renders the units.
        try root.writeSettings("claims-assistant:\n  clients: [10.9.0.0/16]\n")
        let fixed = try root.airlock(["activate", "claims-assistant", "1.0.0"])
        #expect(fixed.status == 0, "\(fixed)")
        #expect(root.gatewayUnit.contains("IPAddressAllow=localhost 10.9.0.0/16"))
    }
}
