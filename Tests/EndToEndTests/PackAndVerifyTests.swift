import Foundation
import TestSupport
import Testing

/// The bundle workflow through the built executables, as the ML team and an operator run it:
/// keys, build from the demo model and the test runtime, co-sign, inspect, trust, verify.
@Suite struct PackAndVerifyTests {
    func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
        try ProcessResult.run(TestEnvironment.executable(executable), arguments)
    }

    @Test func demoBundleIsBuiltCoSignedInspectedAndVerified() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let input = folder.file("input")
        _ = try DemoBundle.stageInputs(in: input)

        try run("airlock-pack", ["keygen", "--output", folder.file("release.pem")]).checked()
        try run("airlock-pack", ["keygen", "--algorithm", "ed25519", "--output", folder.file("officer.pem")]).checked()
        let bundle = folder.file("claims-assistant-1.0.0.airlock")
        let built = try run("airlock-pack", ["build", input + "/bundle.yaml", "--key", folder.file("release.pem"), "--output", bundle]).checked()
        #expect(built.stdout.contains("claims-assistant 1.0.0, 4 files"))
        try run("airlock-pack", ["sign", bundle, "--key", folder.file("officer.pem")]).checked()

        let inspected = try run("airlock-pack", ["inspect", bundle, "--json"]).checked()
        let report = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
        let manifest = report?["manifest"] as? [String: Any]
        #expect(manifest?["name"] as? String == "claims-assistant")
        #expect((manifest?["adapters"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["claims", "legal"])
        #expect((report?["signatures"] as? [Any])?.count == 2)

        let root = folder.file("root")
        let untrusted = try run("airlock", ["--root", root, "verify", bundle])
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr == "airlock: refused \(bundle): the trust policy trusts no key or CA (add one with 'airlock trust add')\n")

        try run("airlock", ["--root", root, "trust", "add", folder.file("release.pub.pem"), "--names", "claims-*"]).checked()
        try run("airlock", ["--root", root, "trust", "add", folder.file("officer.pub.pem"), "--names", "claims-*"]).checked()
        try run("airlock", ["--root", root, "trust", "threshold", "2"]).checked()
        let listed = try run("airlock", ["--root", root, "trust", "list", "--json"]).checked()
        let listing = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any]
        #expect(listing?["threshold"] as? Int == 2)
        #expect((listing?["signers"] as? [Any])?.count == 2)

        let verified = try run("airlock", ["--root", root, "verify", bundle, "--json"]).checked()
        let verdict = try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [String: Any]
        #expect(verdict?["verified"] as? Bool == true)
        #expect(verdict?["files"] as? Int == 4)
        #expect((verdict?["signers"] as? [Any])?.count == 2)
        // Verify installs nothing: besides the trust policy, only its audit record was written.
        let written = (FileManager.default.subpaths(atPath: root) ?? []).filter {
            !$0.hasPrefix("var/log") && !$0.hasPrefix("var/lib/airlock/audit-key") && !["var", "var/lib", "var/lib/airlock"].contains($0)
        }
        #expect(written.sorted() == ["etc", "etc/airlock", "etc/airlock/trust.yaml"], "verify wrote something")

        // Under a scratch --root, install renders the units there and talks to no systemd;
        // then list and status report it.
        let installed = try run("airlock", ["--root", root, "install", bundle]).checked()
        #expect(installed.stdout.contains("installed claims-assistant 1.0.0"))
        #expect(installed.stdout.contains("services: not started: --root is not /"), "\(installed)")
        #expect(FileManager.default.fileExists(atPath: root + "/etc/systemd/system/airlock-serve@claims-assistant.service"))
        let status = try run("airlock", ["--root", root, "status", "--json"]).checked()
        let bundles = (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["bundles"] as? [[String: Any]]
        #expect(bundles?.first?["current"] as? String == "1.0.0")
        #expect(((bundles?.first?["versions"] as? [[String: Any]])?.first?["runtime"] as? String) == "cpu-generic")
        let again = try run("airlock", ["--root", root, "install", bundle, "--no-start"])
        #expect(again.status == 1)
        #expect(again.stderr == "airlock: claims-assistant 1.0.0 is already installed\n")

        // One flipped byte near the end (inside the last payload file) is refused, with JSON too.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: bundle))
        bytes[bytes.count - 20_000] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: folder.file("tampered.airlock")))
        let refused = try run("airlock", ["--root", root, "verify", folder.file("tampered.airlock"), "--json"])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("airlock: refused \(folder.file("tampered.airlock")): "))
        #expect(refused.stderr.filter { $0 == "\n" }.count == 1)
        let refusal = try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any]
        #expect(refusal?["verified"] as? Bool == false)
        #expect(refusal?["stage"] as? String == "payload")
    }

    @Test func keygenRefusesToOverwriteAKey() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try run("airlock-pack", ["keygen", "--output", folder.file("k.pem")]).checked()
        let before = try Data(contentsOf: URL(fileURLWithPath: folder.file("k.pem")))
        let again = try run("airlock-pack", ["keygen", "--output", folder.file("k.pem")])
        #expect(again.status != 0)
        #expect(again.stderr.contains("k.pem"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("k.pem"))) == before)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.file("k.pem"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func buildWithoutAKeyIsAUsageError() throws {
        let result = try run("airlock-pack", ["build", "spec.yaml", "--output", "x.airlock"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--key"))
    }
}
