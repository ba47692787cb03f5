import AirlockCore
import AuditLog
import Foundation
import Signing
import TestSupport
import Testing

/// The gateway signs its checkpoints with a key of its own that the host key certified in the
/// log; it holds nothing that speaks for root. Every record only root writes is followed by a
/// checkpoint of the host key, so what the gateway's user forges, changes or cuts off among
/// them is caught.
@Suite struct AuditGatewayKeyTests {
    /// A host log (under `log.folder` as a `--root`), its gateway key certified.
    struct Host {
        let log: TestLog
        var host: HostLayout { HostLayout(root: log.folder.path) }
        var gatewayLayout: AuditLayout {
            AuditLayout(directory: log.layout.directory, keyPath: host.gatewayAuditKey, signer: .gateway)
        }

        init() throws {
            // prepare() writes with the real clock; the test's writers go on from a second later.
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            log = try TestLog(segmentBytes: 1 << 20, checkpointInterval: 10, clock: ScriptedClock(start: now + 1000))
            try AuditGatewayKey.prepare(host: host)
        }

        func root() throws -> AuditLogWriter { try log.writer() }
        func gateway() throws -> AuditLogWriter {
            try AuditLogWriter(layout: gatewayLayout, options: log.options, clock: log.clock)
        }

        func verify() throws -> AuditVerdict { try AuditLogVerifier.verify(layout: log.layout) }

        static func request(_ index: Int) -> AuditEvent { TestLog.event(1 + 4 * index) }
    }

    @Test func theGatewaySignsWithItsOwnCertifiedKeyAndRootSignsAfterItsRecords() async throws {
        let host = try Host()
        defer { host.log.folder.remove() }
        let root = try host.root()
        let gateway = try host.gateway()
        try await root.append(.admin(.install, by: TestLog.alice, target: AuditTarget(bundle: "claims-llm", version: "1.0.0"), outcome: .ok))
        for index in 0..<25 { try await gateway.append(Host.request(index)) }
        try await root.append(.admin(.clientAdd, by: TestLog.alice, outcome: .ok, details: ["client": "teller", "adapters": "claims"]))
        try await gateway.append(Host.request(99))

        guard case .intact(let records, _, _) = try host.verify() else {
            Issue.record("the log does not verify: \(try host.verify())")
            return
        }
        let all = try host.log.records(1)
        #expect(records == all.count)
        let hostKey = try host.log.publicKey().keyID
        let gatewayKey = try PrivateKey.load(path: host.host.gatewayAuditKey).publicKey.keyID
        #expect(gatewayKey != hostKey)
        // The certificate is in the log, and every root record is followed by a host checkpoint.
        #expect(all.first?.action == "audit.key" && all.first?.details?["key"] == gatewayKey)
        for (index, record) in all.enumerated() where ["audit.key", "bundle.install", "client.add"].contains(record.action) {
            let next = all[index + 1]
            #expect(next.action == "audit.checkpoint" && next.details?["key"] == hostKey, "after \(record.action): \(next)")
        }
        // The gateway's interval checkpoints are its own key's.
        let gatewayCheckpoints = all.filter { $0.action == "audit.checkpoint" && $0.details?["key"] == gatewayKey }
        #expect(gatewayCheckpoints.count >= 2, "\(all.map(\.action))")
        // The host key never reaches the gateway: its credential is the gateway key's file.
        #expect(
            try String(contentsOfFile: host.host.gatewayAuditKey, encoding: .utf8)
                != (try String(contentsOfFile: host.host.auditKey, encoding: .utf8)))
    }

    @Test func aRootRecordTheGatewayWroteIsUnattested() async throws {
        let host = try Host()
        defer { host.log.folder.remove() }
        try await host.root().append(.admin(.install, by: TestLog.alice, target: AuditTarget(bundle: "claims-llm", version: "1.0.0"), outcome: .ok))
        let gateway = try host.gateway()
        for index in 0..<3 { try await gateway.append(Host.request(index)) }
        // A compromised gateway writes what only root writes: a revocation "by root".
        let forged = try await gateway.append(
            .admin(.clientRevoke, by: .local(user: "root", uid: 0), outcome: .ok, details: ["client": "auditor-app"]))
        for index in 3..<20 { try await gateway.append(Host.request(index)) }  // its key signs over it
        guard case .damaged(let damage) = try host.verify() else {
            Issue.record("a root record the gateway wrote verifies")
            return
        }
        #expect(damage.kind == .unattested && damage.seq == forged, "\(damage)")
        #expect(damage.message.contains("host audit key"), "\(damage.message)")
    }

    @Test func rootsRecordsCutOffTheEndAreCaughtByRootsOwnCheckpoint() async throws {
        let host = try Host()
        defer { host.log.folder.remove() }
        let root = try host.root()
        try await root.append(.admin(.install, by: TestLog.alice, target: AuditTarget(bundle: "claims-llm", version: "1.0.0"), outcome: .ok))
        let segment = host.log.segmentPath(1)
        let before = try Data(contentsOf: URL(fileURLWithPath: segment))
        let copy = try Data(contentsOf: URL(fileURLWithPath: host.log.layout.latestCheckpointPath))
        try await root.append(.admin(.clientRevoke, by: TestLog.alice, outcome: .ok, details: ["client": "teller"]))
        // The gateway's user can write the log folder: it cuts the revocation and its checkpoint
        // off and puts the older checkpoint copy back. Root's own copy is out of its reach.
        try before.write(to: URL(fileURLWithPath: segment))
        try copy.write(to: URL(fileURLWithPath: host.log.layout.latestCheckpointPath))
        guard case .intact = try host.log.verify() else {
            Issue.record("the cut log should look whole without root's checkpoint")
            return
        }
        guard case .damaged(let damage) = try host.verify() else {
            Issue.record("records cut off the end verify")
            return
        }
        #expect(damage.kind == .truncatedTail && damage.message.contains("root's latest checkpoint"), "\(damage)")
    }

    /// `airlock-audit seal`'s timer step: root signs over what the gateway wrote since root's
    /// last checkpoint, so a cut of those records is caught without any journal, and a quiet
    /// log gets no record.
    @Test func rootsTimerCheckpointBoundsWhatTheGatewaysUserCanCutUnseen() async throws {
        let host = try Host()
        defer { host.log.folder.remove() }
        let root = try host.root()
        let gateway = try host.gateway()
        try await root.append(.admin(.install, by: TestLog.alice, target: AuditTarget(bundle: "claims-llm", version: "1.0.0"), outcome: .ok))
        let rootSeq = { () throws -> UInt64 in
            try AuditCheckpoint(json: [UInt8](try Data(contentsOf: URL(fileURLWithPath: host.log.layout.rootCheckpointPath)))).seq
        }
        for index in 0..<3 { try await gateway.append(Host.request(index)) }

        // Without the timer, the gateway's user cuts its own last records and nothing sees it.
        let whole = try host.log.lines(1)
        try host.log.write(1, lines: Array(whole.dropLast(2)))
        #expect(try host.verify().isIntact, "the gap issue 16 names")
        try host.log.write(1, lines: whole)
        let copy = try Data(contentsOf: URL(fileURLWithPath: host.log.layout.latestCheckpointPath))

        let signed = try #require(try await root.checkpointIfRecords(after: try rootSeq()))
        let after = try host.log.records(1)
        #expect(signed.reason == "timer" && after.last?.seq == signed.seq && after.last?.action == "audit.checkpoint")
        #expect(try rootSeq() == signed.seq, "root's own copy is the timer's checkpoint")
        #expect(try await root.checkpointIfRecords(after: try rootSeq()) == nil, "nothing new: no record")
        #expect(try host.verify().isIntact)

        // Now the same cut (the timer's checkpoint with it, and the older copy of the latest
        // checkpoint put back in the log folder) is caught by root's own copy.
        let withCheckpoint = try host.log.lines(1)
        try host.log.write(1, lines: Array(withCheckpoint.dropLast(3)))
        try copy.write(to: URL(fileURLWithPath: host.log.layout.latestCheckpointPath))
        let damage = try #require(try host.verify().damage)
        #expect(damage.kind == .truncatedTail && damage.message.contains("root's latest checkpoint"), "\(damage)")
    }

    @Test func aKeyTheHostNeverCertifiedSignsNothing() async throws {
        let host = try Host()
        defer { host.log.folder.remove() }
        let rogue = AuditLayout(directory: host.log.layout.directory, keyPath: host.log.folder.file("rogue.pem"), signer: .gateway)
        let writer = try AuditLogWriter(layout: rogue, options: host.log.options, clock: host.log.clock)
        for index in 0..<12 { try await writer.append(Host.request(index)) }
        guard case .damaged(let damage) = try host.verify() else {
            Issue.record("a checkpoint of an uncertified key verifies")
            return
        }
        #expect(damage.kind == .checkpointForged, "\(damage)")
        // And a certificate the host key did not sign is no certificate.
        let other = try PrivateKey.generate(.ecdsaP384)
        let fake = try AuditKeyCertificate.certify(try PrivateKey.load(path: rogue.keyPath).publicKey, by: other)
        #expect(!fake.isSigned(by: try host.log.publicKey()))
    }

    @Test func preparingTwiceCertifiesOnce() throws {
        let host = try Host()
        defer { host.log.folder.remove() }
        let first = try host.log.records(1).count
        try AuditGatewayKey.prepare(host: host.host)
        #expect(try host.log.records(1).count == first)
        #expect(AuditGatewayKey.isCertified(host: host.host))
    }
}
