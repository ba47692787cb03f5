import AirlockCore
import Foundation
import Signing
import TestSupport
import Testing

/// `airlock trust revoke` as an operator meets it: a key stolen after a bundle was installed is
/// revoked; verify and install refuse what it signed, naming the revocation; status flags the
/// installed version it signed; the change is an audit record; another signer still counts.
@Suite struct RevocationTests {
    @Test func aRevokedKeysBundlesAreRefusedAndWhatItInstalledIsFlagged() throws {
        let root = try TemporaryDirectory("airlock-e2e-revoke")
        defer { root.remove() }
        let v1 = try BundleFixture(version: "1.4.0")
        let v2 = try BundleFixture(version: "1.5.0")
        let pem = root.file("release.pub.pem")
        try Data(v1.release.publicKey.spkiPEM).write(to: URL(fileURLWithPath: pem))
        try Data(v2.release.publicKey.spkiPEM).write(to: URL(fileURLWithPath: root.file("v2.pub.pem")))
        func airlock(_ arguments: [String]) throws -> ProcessResult {
            try ProcessResult.run(TestEnvironment.executable("airlock"), ["--root", root.path] + arguments)
        }
        try airlock(["trust", "add", pem]).checked()
        try airlock(["trust", "add", root.file("v2.pub.pem")]).checked()
        try airlock(["install", v1.bundle, "--no-start"]).checked()

        let noReason = try airlock(["trust", "revoke", pem])
        #expect(noReason.status == 64, "a revocation needs --reason: \(noReason)")
        let revoked = try airlock(["trust", "revoke", pem, "--reason", "signing laptop stolen", "--json"]).checked()
        let made = try #require(try JSONSerialization.jsonObject(with: Data(revoked.stdout.utf8)) as? [String: Any])
        #expect(made["id"] as? String == v1.release.publicKey.keyID && made["kind"] as? String == "key", "\(made)")

        // Verify names the revocation; the threshold is not met by anything else.
        let refused = try airlock(["verify", v1.bundle])
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.contains("was revoked on") && refused.stderr.contains("signing laptop stolen"), "\(refused)")
        // Status flags the installed version it signed, in text and JSON.
        let status = try airlock(["status"]).checked()
        #expect(status.stdout.contains("WARNING: claims-assistant 1.4.0 (current) was signed by \(v1.release.publicKey.keyID)"), "\(status)")
        #expect(status.stdout.contains("REVOKED"), "\(status)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(try airlock(["status", "--json"]).checked().stdout.utf8)) as? [String: Any])
        let flagged = try #require(json["revoked_signers"] as? [[String: Any]])
        #expect(flagged.count == 1 && flagged.first?["version"] as? String == "1.4.0" && flagged.first?["current"] as? Bool == true, "\(flagged)")
        // trust list shows it; revoking twice is refused; another key's bundle installs.
        let listed = try airlock(["trust", "list"]).checked().stdout
        #expect(listed.contains("REVOKED") && listed.contains("revoked ") && listed.contains("signing laptop stolen"), "\(listed)")
        #expect(try airlock(["trust", "revoke", pem, "--reason", "again"]).status == 1)
        try airlock(["install", v2.bundle, "--no-start"]).checked()

        // Going back to what the revoked key signed is refused, unless the operator says so.
        let back = try airlock(["rollback", "claims-assistant"])
        #expect(back.status == 1 && back.stderr.contains("0 of the 1 signature it needs still stand"), "\(back)")
        #expect(back.stderr.contains("--allow-revoked-signer"), "\(back)")
        #expect(try airlock(["activate", "claims-assistant", "1.4.0"]).status == 1)
        try airlock(["activate", "claims-assistant", "1.4.0", "--allow-revoked-signer"]).checked()
        let activations = try ProcessResult.run(
            TestEnvironment.executable("airlock-audit"), ["--root", root.path, "search", "--action", "bundle.activate", "--json"]
        ).checked().stdout
        #expect(activations.contains(#""allow_revoked_signer":"true""#), "\(activations)")
        #expect(activations.components(separatedBy: #""outcome":"refused""#).count - 1 == 1, "\(activations)")

        // The revocation is an audit record naming what and why.
        let records = try ProcessResult.run(
            TestEnvironment.executable("airlock-audit"), ["--root", root.path, "search", "--action", "trust.change", "--json"]
        ).checked().stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let revocations = records.filter { ($0["details"] as? [String: String])?["change"] == "revoke" }
        #expect(revocations.count == 2, "the revocation and the refused second one (a usage error runs nothing): \(revocations)")
        let ok = revocations.filter { $0["outcome"] as? String == "ok" }
        #expect(ok.count == 1 && (ok.first?["details"] as? [String: String])?["reason"] == "signing laptop stolen", "\(ok)")
    }
}
