import AirlockCore
import BundleFormat
import BundleIO
import Foundation
import Signing
import Store
import TestSupport
import Testing

/// Install, activate and roll back into a `--root` folder, with the real bundle code path.
@Suite struct InstallTests {
    /// A store under a temporary root, probing the real host.
    struct Target {
        let root: TemporaryDirectory
        var layout: HostLayout { HostLayout(root: root.path) }
        var store: BundleStore { BundleStore(layout: layout) }

        init() throws { root = try TemporaryDirectory("airlock-root") }

        func mode(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }

        /// Everything under the store's staging folder (must be empty between operations).
        var staged: [String] { (try? FileManager.default.contentsOfDirectory(atPath: layout.stagingDirectory)) ?? [] }
    }

    @Test func installMakesAReadOnlyTreeWithExactlyTheVerifiedBytesAndMakesItCurrent() throws {
        let fixture = try BundleFixture()
        let target = try Target()
        defer { target.root.remove() }
        let result = try target.store.install(bundle: fixture.bundle, policy: fixture.policy)
        #expect(result.name == "claims-assistant" && result.version == "1.4.0" && result.previous == nil)
        #expect(target.store.current(name: "claims-assistant") == "1.4.0")
        let tree = target.layout.versionDirectory(name: "claims-assistant", version: "1.4.0")
        let input = fixture.folder.file("input")
        #expect(FileManager.default.contents(atPath: tree + "/base/base.gguf") == FileManager.default.contents(atPath: input + "/base.gguf"))
        #expect(
            FileManager.default.contents(atPath: tree + "/adapters/claims/claims.gguf")
                == FileManager.default.contents(atPath: input + "/claims.gguf"))
        #expect(
            FileManager.default.contents(atPath: tree + "/runtime/cpu-generic/llama-server")
                == FileManager.default.contents(atPath: input + "/runtime/cpu-generic/llama-server"))
        // The payload is for root and the weights group only; the manifest beside it for all.
        #expect(target.mode(tree + "/base/base.gguf") == 0o440)
        #expect(target.mode(tree + "/runtime/cpu-generic/llama-server") == 0o550)
        #expect(target.mode(tree + "/runtime/cpu-generic") == 0o550)
        #expect(target.mode(tree) == 0o555)
        #expect(target.mode(tree + "/manifest.json") == 0o444)
        #expect(FileManager.default.contents(atPath: tree + "/manifest.json").map(Array.init) == (try fixture.manifest()).bytes)
        #expect(result.installed.runtime == "cpu-generic")
        #expect(result.installed.signers == [fixture.release.publicKey.keyID])
        #expect(target.staged.isEmpty)
    }

    /// Read by the kernel as another account would: an unprivileged user reads the manifest but
    /// not the weights, adapters or runtime; one in the weights group reads them all.
    @Test func onlyTheWeightsGroupReadsThePayload() throws {
        let fixture = try BundleFixture()
        let target = try Target()
        defer { target.root.remove() }
        _ = try target.store.install(bundle: fixture.bundle, policy: fixture.policy)
        #expect(chmod(target.root.path, 0o755) == 0)
        let tree = target.layout.versionDirectory(name: "claims-assistant", version: "1.4.0")
        let payload = ["base/base.gguf", "adapters/claims/claims.gguf", "runtime/cpu-generic/llama-server"].map { tree + "/" + $0 }
        func reads(_ path: String, groups: String?) throws -> Bool {
            let identity = ["--reuid", "65534", "--regid", "65534"] + (groups.map { ["--groups", $0] } ?? ["--clear-groups"])
            return try ProcessResult.run("/usr/bin/setpriv", identity + ["--", "/bin/cat", path]).status == 0
        }
        #expect(try reads(tree + "/manifest.json", groups: nil), "the manifest stays readable")
        for path in payload { #expect(try !reads(path, groups: nil), "\(path) is readable by nobody") }
        // The weights group's id (a number no account uses here; the group's name need not exist).
        let group: gid_t = 42_424
        let changed = try PayloadAccess.grant(store: target.store, to: group)
        #expect(changed >= payload.count)
        for path in payload {
            var status = stat()
            #expect(lstat(path, &status) == 0 && status.st_gid == group && status.st_mode & 0o007 == 0, "\(path)")
            #expect(try reads(path, groups: "\(group)"), "\(path) is not readable by the weights group")
            #expect(try !reads(path, groups: "4242"), "\(path) is readable by another group")
        }
        #expect(target.mode(tree + "/base/base.gguf") == 0o440 && target.mode(tree + "/runtime/cpu-generic/llama-server") == 0o550)
        // A second grant changes nothing.
        #expect(try PayloadAccess.grant(store: target.store, to: group) == 0)
        // A tree installed by an older release (world-readable) is tightened too.
        #expect(chmod(tree + "/base/base.gguf", 0o444) == 0 && chmod(tree + "/base", 0o555) == 0)
        #expect(try PayloadAccess.grant(store: target.store, to: group) == 2)
        #expect(target.mode(tree + "/base/base.gguf") == 0o440 && target.mode(tree + "/base") == 0o550)
    }

    @Test func secondVersionBecomesCurrentAndRollbackGoesBack() throws {
        let v1 = try BundleFixture(version: "1.4.0")
        let v2 = try BundleFixture(version: "1.5.0")
        let target = try Target()
        defer { target.root.remove() }
        _ = try target.store.install(bundle: v1.bundle, policy: v1.policy)
        let second = try target.store.install(bundle: v2.bundle, policy: v2.policy)
        #expect(second.previous == "1.4.0")
        #expect(target.store.current(name: "claims-assistant") == "1.5.0")
        let started = ContinuousClock.now
        let (from, to) = try target.store.rollback(name: "claims-assistant")
        let elapsed = ContinuousClock.now - started
        #expect(from == "1.5.0" && to == "1.4.0")
        #expect(target.store.current(name: "claims-assistant") == "1.4.0")
        #expect(elapsed < .seconds(2), "rollback copies nothing; took \(elapsed)")
        #expect(try target.store.activate(name: "claims-assistant", version: "1.5.0") == "1.4.0")
        #expect(target.store.current(name: "claims-assistant") == "1.5.0")
        #expect(try target.store.loadState(name: "claims-assistant").floor == "1.5.0")
    }

    @Test func olderOrEqualVersionIsRefusedUnlessAllowedAndTheFloorStays() throws {
        let v1 = try BundleFixture(version: "1.4.0")
        let v2 = try BundleFixture(version: "1.5.0")
        let target = try Target()
        defer { target.root.remove() }
        _ = try target.store.install(bundle: v2.bundle, policy: v2.policy)
        let error = #expect(throws: AirlockError.self) { try target.store.install(bundle: v1.bundle, policy: v1.policy) }
        #expect(
            error?.description
                == "claims-assistant 1.4.0 is not newer than 1.5.0, the highest version ever activated; installing it needs --allow-downgrade")
        #expect(target.store.current(name: "claims-assistant") == "1.5.0")
        #expect(target.staged.isEmpty)
        let allowed = try target.store.install(bundle: v1.bundle, policy: v1.policy, allowDowngrade: true)
        #expect(allowed.downgradeAllowed)
        #expect(target.store.current(name: "claims-assistant") == "1.4.0")
        #expect(try target.store.loadState(name: "claims-assistant").floor == "1.5.0", "the floor never goes down")
    }

    @Test func sameVersionTwiceIsRefused() throws {
        let fixture = try BundleFixture()
        let target = try Target()
        defer { target.root.remove() }
        _ = try target.store.install(bundle: fixture.bundle, policy: fixture.policy)
        let error = #expect(throws: AirlockError.self) { try target.store.install(bundle: fixture.bundle, policy: fixture.policy) }
        #expect(error?.description == "claims-assistant 1.4.0 is already installed")
    }

    @Test func bundleCorruptedHalfWayLeavesNothingAndTheCurrentVersionUntouched() throws {
        let v1 = try BundleFixture(version: "1.4.0")
        let v2 = try BundleFixture(version: "1.5.0")
        let target = try Target()
        defer { target.root.remove() }
        _ = try target.store.install(bundle: v1.bundle, policy: v1.policy)
        let bad = try v2.hostile("corrupt", [["op": "flip", "name": BundleFixture.adapter, "offset": 30_000]])  // after the base was written
        let error = #expect(throws: AirlockError.self) { try target.store.install(bundle: bad, policy: v2.policy) }
        #expect(error?.description.contains("does not match its signed digest") == true)
        #expect(target.store.current(name: "claims-assistant") == "1.4.0")
        #expect(!FileManager.default.fileExists(atPath: target.layout.versionDirectory(name: "claims-assistant", version: "1.5.0")))
        #expect(target.staged.isEmpty, "staging left: \(target.staged)")
        #expect(try target.store.loadState(name: "claims-assistant").installed.keys.sorted() == ["1.4.0"])
    }

    @Test func untrustedBundleWritesNothing() throws {
        let fixture = try BundleFixture()
        let target = try Target()
        defer { target.root.remove() }
        #expect(throws: AirlockError.self) { try target.store.install(bundle: fixture.bundle, policy: TrustPolicy()) }
        #expect(target.store.names().isEmpty)
        #expect(target.staged.isEmpty)
    }

    @Test func hostWithoutWhatEveryVariantNeedsIsRefusedBeforeWriting() throws {
        // A fake host with no GPU, and a bundle whose only runtime needs CUDA 12.
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try BundleFixture.writeInputs(in: folder, baseBytes: 1 << 20)
        let spec = try String(contentsOfFile: folder.file("input/bundle.yaml"), encoding: .utf8)
            .replacingOccurrences(
                of: "{ variant: cpu-generic, path: runtime/cpu-generic/ }",
                with: "{ variant: cuda12, path: runtime/cpu-generic/, requires: [\"cuda>=12\"] }")
        try spec.write(toFile: folder.file("input/bundle.yaml"), atomically: true, encoding: .utf8)
        let key = try PrivateKey.generate()
        _ = try BundleBuilder.build(
            spec: try BundleSpec.load(path: folder.file("input/bundle.yaml")), keys: [key], output: folder.file("gpu.airlock"))
        var policy = TrustPolicy()
        try policy.add(key: key.publicKey, names: ["*"])
        let host = folder.file("host")
        try FileManager.default.createDirectory(atPath: host + "/proc", withIntermediateDirectories: true)
        try "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2\n".write(toFile: host + "/proc/cpuinfo", atomically: true, encoding: .utf8)
        try "MemTotal:       16384000 kB\nMemAvailable:   8192000 kB\n".write(toFile: host + "/proc/meminfo", atomically: true, encoding: .utf8)
        let target = try Target()
        defer { target.root.remove() }
        let store = BundleStore(layout: target.layout, hostRoot: host)
        let error = #expect(throws: AirlockError.self) { try store.install(bundle: folder.file("gpu.airlock"), policy: policy) }
        #expect(error?.description.contains("cannot run on this host") == true, "\(String(describing: error))")
        #expect(error?.description.contains("cuda12") == true)
        #expect(store.names().isEmpty && target.staged.isEmpty)
    }

    @Test func adapterOnlyBundleNeedsItsBaseInstalled() throws {
        let base = try BundleFixture()
        let target = try Target()
        defer { target.root.remove() }
        let (_, manifest) = try base.manifest()
        let folder = base.folder
        try FileManager.default.createDirectory(atPath: folder.file("extra"), withIntermediateDirectories: true)
        try Data(repeating: 9, count: 20_000).write(to: URL(fileURLWithPath: folder.file("extra/tax.gguf")))
        try """
        name: claims-tax
        version: 1.0.0
        base: { digest: \(manifest.base.digest), name: claims-assistant }
        adapters:
          - { name: tax, path: tax.gguf }
        """.write(toFile: folder.file("extra/bundle.yaml"), atomically: true, encoding: .utf8)
        let adapterBundle = folder.file("claims-tax-1.0.0.airlock")
        _ = try BundleBuilder.build(spec: try BundleSpec.load(path: folder.file("extra/bundle.yaml")), keys: [base.release], output: adapterBundle)
        let error = #expect(throws: AirlockError.self) { try target.store.install(bundle: adapterBundle, policy: base.policy) }
        #expect(error?.description.contains("which is not installed") == true, "\(String(describing: error))")
        _ = try target.store.install(bundle: base.bundle, policy: base.policy)
        let result = try target.store.install(bundle: adapterBundle, policy: base.policy)
        #expect(result.installed.runtime == nil)
        #expect(target.store.current(name: "claims-tax") == "1.0.0")
    }

    @Test func concurrentInstallsNeverInterleave() async throws {
        let a = try BundleFixture(version: "1.4.0")
        let b = try BundleFixture(version: "2.0.0", name: "claims-other")
        let target = try Target()
        defer { target.root.remove() }
        let store = target.store
        async let first: InstallResult = Task.detached { try store.install(bundle: a.bundle, policy: a.policy) }.value
        async let second: InstallResult = Task.detached { try store.install(bundle: b.bundle, policy: b.policy) }.value
        let results = try await [first, second]
        #expect(Set(results.map(\.name)) == ["claims-assistant", "claims-other"])
        #expect(store.current(name: "claims-assistant") == "1.4.0" && store.current(name: "claims-other") == "2.0.0")
        #expect(target.staged.isEmpty)
    }
}
