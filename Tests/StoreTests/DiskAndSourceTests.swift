import AirlockCore
import Foundation
import Signing
import Store
import TestSupport
import Synchronization
import Testing

/// A small tmpfs as the store: a full disk, before and during an install.
@Suite(.serialized) struct FullDiskTests {
    /// Mounts a tmpfs of `megabytes` at ROOT/var/lib/airlock for `body`.
    func withSmallStore(megabytes: Int, _ body: (HostLayout) throws -> Void) throws {
        let root = try TemporaryDirectory("airlock-full")
        defer { root.remove() }
        let layout = HostLayout(root: root.path)
        try FileManager.default.createDirectory(atPath: layout.storeDirectory, withIntermediateDirectories: true)
        try ProcessResult.run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", layout.storeDirectory]).checked()
        defer { _ = try? ProcessResult.run("/usr/bin/umount", [layout.storeDirectory]) }
        try body(layout)
    }

    /// Free space as the store's file system would report it if it were large.
    struct PlentyOfSpace: FileSystemSpace {
        func freeBytes(inFolder folder: String) throws(AirlockError) -> UInt64 { 1 << 40 }
    }

    @Test func tooLittleFreeDiskIsRefusedBeforeAnythingIsWritten() throws {
        let fixture = try BundleFixture()
        try withSmallStore(megabytes: 2) { layout in
            let store = BundleStore(layout: layout)
            let error = #expect(throws: AirlockError.self) { try store.install(bundle: fixture.bundle, policy: fixture.policy) }
            #expect(error?.description.contains("of free disk in \(layout.storeDirectory)") == true, "\(String(describing: error))")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: layout.stagingDirectory)) ?? [] == [])
            #expect(store.names().isEmpty)
        }
    }

    @Test func diskFillingUpDuringAnInstallLosesNothing() throws {
        let v1 = try BundleFixture(version: "1.4.0")
        let v2 = try BundleFixture(version: "1.5.0")
        try withSmallStore(megabytes: 5) { layout in
            _ = try BundleStore(layout: layout).install(bundle: v1.bundle, policy: v1.policy)
            // The space check is told there is room; the disk then fills half way through.
            let store = BundleStore(layout: layout, space: PlentyOfSpace())
            let error = #expect(throws: AirlockError.self) { try store.install(bundle: v2.bundle, policy: v2.policy) }
            #expect(error?.description.contains("No space left on device") == true, "\(String(describing: error))")
            #expect(store.current(name: "claims-assistant") == "1.4.0")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: layout.stagingDirectory)) ?? [] == [])
            #expect(try store.loadState(name: "claims-assistant").installed.keys.sorted() == ["1.4.0"])
            #expect(try store.doctor(repair: false).isEmpty, "the current version is intact")
        }
    }
}

/// The bundle is opened once and read once: replacing the file during the install changes
/// nothing of what is installed.
@Suite struct BundleReplacedDuringInstallTests {
    @Test func whatIsInstalledIsWhatWasHashedEvenIfTheFileIsReplaced() throws {
        let original = try BundleFixture(baseBytes: 96 << 20, version: "1.4.0")
        let other = try BundleFixture(baseBytes: 1 << 20, version: "1.4.0")
        let root = try TemporaryDirectory("airlock-swap")
        defer { root.remove() }
        let layout = HostLayout(root: root.path)
        var policy = original.policy
        try policy.add(key: other.release.publicKey, names: ["*"])
        let store = BundleStore(layout: layout)
        let bundle = original.bundle
        // The install runs on a thread of its own (the test pool may be busy with other tests).
        let finished = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<InstallResult, AirlockError>?>(nil)
        let frozenPolicy = policy
        Thread {
            let result = Result { () throws(AirlockError) in try store.install(bundle: bundle, policy: frozenPolicy) }
            outcome.withLock { $0 = result }
            finished.signal()
        }.start()
        // Once the install has started writing, put another valid bundle at the same path.
        var swappedDuringInstall = false
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline, outcome.withLock({ $0 == nil }) {
            let staged = (try? FileManager.default.contentsOfDirectory(atPath: layout.stagingDirectory)) ?? []
            if !staged.isEmpty {
                #expect(rename(other.bundle, bundle) == 0)
                swappedDuringInstall = true
                break
            }
            usleep(500)
        }
        finished.wait()
        _ = try #require(outcome.withLock { $0 }).get()
        #expect(swappedDuringInstall, "the install finished before the file could be replaced")
        let tree = layout.versionDirectory(name: "claims-assistant", version: "1.4.0")
        let attributes = try FileManager.default.attributesOfItem(atPath: tree + "/base/base.gguf")
        #expect((attributes[.size] as? NSNumber)?.intValue == 96 << 20)
        #expect(try fileDigest(tree + "/base/base.gguf") == fileDigest(original.folder.file("input/base.gguf")))
        #expect(try store.doctor(repair: false).isEmpty)
    }
}
