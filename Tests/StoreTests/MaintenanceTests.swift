import AirlockCore
import Foundation
import Signing
import Store
import TestSupport
import Testing

@Suite struct MaintenanceTests {
    func installed(_ versions: [String]) throws -> (BundleStore, TemporaryDirectory, [BundleFixture]) {
        let root = try TemporaryDirectory("airlock-root")
        let store = BundleStore(layout: HostLayout(root: root.path))
        var fixtures: [BundleFixture] = []
        for version in versions {
            let fixture = try BundleFixture(version: version)
            _ = try store.install(bundle: fixture.bundle, policy: fixture.policy)
            fixtures.append(fixture)
        }
        return (store, root, fixtures)
    }

    @Test func removingTheCurrentVersionNeedsForceAndTheFloorSurvives() throws {
        let (store, root, fixtures) = try installed(["1.4.0", "1.5.0"])
        defer { root.remove() }
        let error = #expect(throws: AirlockError.self) { try store.remove(name: "claims-assistant", version: "1.5.0", force: false) }
        #expect(error?.description == "claims-assistant 1.5.0 is current; activate another version first, or remove it with --force")
        #expect(try store.remove(name: "claims-assistant", version: "1.4.0", force: false) == ["1.4.0"])
        #expect(!FileManager.default.fileExists(atPath: store.layout.versionDirectory(name: "claims-assistant", version: "1.4.0")))
        #expect(try store.remove(name: "claims-assistant", version: nil, force: true) == ["1.5.0"])
        #expect(store.current(name: "claims-assistant") == nil)
        #expect(try store.loadState(name: "claims-assistant").floor == "1.5.0")
        // The removed 1.4.0 cannot come back without --allow-downgrade.
        #expect(throws: AirlockError.self) { try store.install(bundle: fixtures[0].bundle, policy: fixtures[0].policy) }
    }

    @Test func doctorFindsNothingWrongWithAFreshStore() throws {
        let (store, root, _) = try installed(["1.4.0"])
        defer { root.remove() }
        #expect(try store.doctor(repair: false).isEmpty)
    }

    @Test func doctorFindsAChangedByteInAnInstalledTree() throws {
        let (store, root, _) = try installed(["1.4.0"])
        defer { root.remove() }
        let file = store.layout.versionDirectory(name: "claims-assistant", version: "1.4.0") + "/adapters/claims/claims.gguf"
        chmod(file, 0o644)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: file))
        try handle.seek(toOffset: 100)
        handle.write(Data([0xFF]))
        try handle.close()
        let findings = try store.doctor(repair: true)
        #expect(findings.map(\.kind) == [.damaged])
        #expect(findings.first?.detail == "'adapters/claims/claims.gguf' does not match its signed digest")
        #expect(FileManager.default.fileExists(atPath: file), "repair never touches installed trees")
    }

    @Test func doctorReportsAndRepairsLeftoversOfAnInterruptedInstall() throws {
        let (store, root, _) = try installed(["1.4.0"])
        defer { root.remove() }
        let leftover = store.layout.stagingDirectory + "/claims-assistant-1.5.0.4242"
        try FileManager.default.createDirectory(atPath: leftover + "/base", withIntermediateDirectories: true)
        try Data("half".utf8).write(to: URL(fileURLWithPath: leftover + "/base/base.gguf"))
        symlink("1.5.0", store.layout.currentLink(name: "claims-assistant") + ".new-4242")
        let found = try store.doctor(repair: false)
        #expect(found.count == 2 && found.allSatisfy { $0.kind == .leftover })
        _ = try store.doctor(repair: true)
        #expect(try store.doctor(repair: false).isEmpty)
        #expect(store.current(name: "claims-assistant") == "1.4.0")
    }

    @Test func doctorFindsACurrentLinkToNothing() throws {
        let (store, root, _) = try installed(["1.4.0"])
        defer { root.remove() }
        let link = store.layout.currentLink(name: "claims-assistant")
        unlink(link)
        symlink("9.9.9", link)
        #expect(try store.doctor(repair: true).map(\.kind) == [.brokenLink])
    }

    @Test func installKeepsOnlyTheLastVersionsThePolicyAsksFor() throws {
        let root = try TemporaryDirectory("airlock-root")
        defer { root.remove() }
        let layout = HostLayout(root: root.path)
        try AtomicFile.write(Array("keep_versions: 2\n".utf8), to: layout.storePolicy, mode: 0o644)
        let store = BundleStore(layout: layout)
        var pruned: [[String]] = []
        for version in ["1.0.0", "1.1.0", "1.2.0"] {
            let fixture = try BundleFixture(version: version)
            pruned.append(try store.install(bundle: fixture.bundle, policy: fixture.policy).pruned)
        }
        #expect(pruned == [[], [], ["1.0.0"]])
        #expect(try store.loadState(name: "claims-assistant").installed.keys.sorted() == ["1.1.0", "1.2.0"])
        #expect(!FileManager.default.fileExists(atPath: layout.versionDirectory(name: "claims-assistant", version: "1.0.0")))
        #expect(try store.rollback(name: "claims-assistant") == ("1.2.0", "1.1.0"))
        #expect(try store.doctor(repair: false).isEmpty)
    }

    @Test func storePolicyBelowTwoIsRefused() throws {
        let root = try TemporaryDirectory("airlock-root")
        defer { root.remove() }
        let layout = HostLayout(root: root.path)
        try AtomicFile.write(Array("keep_versions: 1\n".utf8), to: layout.storePolicy, mode: 0o644)
        let error = #expect(throws: AirlockError.self) { try StorePolicy.load(path: layout.storePolicy) }
        #expect(error?.description.contains("at least 2") == true)
    }
}
