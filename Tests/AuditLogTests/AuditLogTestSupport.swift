import AirlockCore
import AuditLog
import Foundation
import Signing
import Synchronization
import TestSupport

/// A clock the test moves: each reading is 1 ms after the one before, unless set.
final class ScriptedClock: AuditClock {
    private let milliseconds: Mutex<Int64>
    let state: ClockSyncState

    /// 2026-11-29T12:00:00.000Z by default: far from midnight, so only tests that mean to
    /// change the day do.
    init(start: Int64 = 1_795_953_600_000, state: ClockSyncState = .synchronized) {
        milliseconds = Mutex(start)
        self.state = state
    }

    func now() -> Int64 {
        milliseconds.withLock { value in
            value += 1
            return value
        }
    }

    func set(_ value: Int64) { milliseconds.withLock { $0 = value } }
    func move(by delta: Int64) { milliseconds.withLock { $0 += delta } }
    func syncState() -> ClockSyncState { state }
}

/// A log in a temporary folder with small segments, so a few dozen records make several.
struct TestLog {
    let folder: TemporaryDirectory
    let layout: AuditLayout
    let clock: ScriptedClock
    let options: AuditLogWriter.Options

    init(segmentBytes: Int64 = 2048, checkpointInterval: UInt64 = 10, clock: ScriptedClock = ScriptedClock()) throws {
        folder = try TemporaryDirectory("airlock-audit")
        layout = AuditLayout(directory: folder.file("var/log/airlock"), keyPath: folder.file("var/lib/airlock/audit-key.pem"))
        self.clock = clock
        options = AuditLogWriter.Options(segmentBytes: segmentBytes, checkpointInterval: checkpointInterval)
    }

    func writer() throws -> AuditLogWriter {
        try AuditLogWriter(layout: layout, options: options, clock: clock)
    }

    /// Writes `count` assorted events with one writer, one after another.
    @discardableResult
    func fill(_ count: Int) async throws -> [UInt64] {
        let writer = try writer()
        var seqs: [UInt64] = []
        for index in 0..<count { seqs.append(try await writer.append(Self.event(index))) }
        return seqs
    }

    static let alice = AuditActor.local(user: "alice", uid: 1000)

    /// A mix of admin and request events.
    static func event(_ index: Int) -> AuditEvent {
        switch index % 4 {
        case 0:
            .admin(.install, by: alice, target: AuditTarget(bundle: "claims-llm", version: "1.\(index).0"), outcome: .ok)
        case 1:
            .request(
                by: .client("sha256:c1"), bundle: "claims-llm", version: "1.0.0", adapter: "claims", outcome: .ok,
                request: AuditRequest(
                    tokensIn: UInt64(index), tokensOut: 40, latencyMilliseconds: 12, status: 200,
                    promptSHA256: String(repeating: "a", count: 64), answerSHA256: String(repeating: "b", count: 64)))
        case 2:
            .authenticationFailed(presented: "sk-12…", reason: "unknown key")
        default:
            .admin(
                .activate, by: alice, target: AuditTarget(bundle: "claims-llm", version: "1.0.0"), outcome: .refused,
                details: ["reason": "not installed"])
        }
    }

    func publicKey() throws -> PublicKey { try AuditKey.publicKey(layout) }

    func verify(against checkpoint: AuditCheckpoint? = nil) throws -> AuditVerdict {
        try AuditLogVerifier.verify(directory: layout.directory, publicKey: publicKey(), against: checkpoint)
    }

    func segments() throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: layout.directory).compactMap(AuditLayout.segmentNumber(of:)).sorted()
    }

    func segmentPath(_ number: Int) -> String { layout.segmentPath(number) }

    /// The segment's lines, each with its `\n`.
    func lines(_ number: Int) throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: segmentPath(number))))
        return bytes.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map { Array($0) + [0x0A] }
    }

    func records(_ number: Int) throws -> [AuditRecord] { try lines(number).map { try AuditRecord(line: $0) } }

    func write(_ number: Int, lines: [[UInt8]]) throws {
        try Data(lines.flatMap { $0 }).write(to: URL(fileURLWithPath: segmentPath(number)))
    }

    /// The 0-based index of the first line of `segment` from `from` on that is an ordinary
    /// record (not a checkpoint) and is followed by another ordinary record.
    func ordinaryLine(in segment: Int, from: Int = 1) throws -> Int {
        let records = try records(segment)
        for index in from..<(records.count - 1)
        where records[index].action != AuditAction.checkpoint.rawValue
            && records[index + 1].action != AuditAction.checkpoint.rawValue
        {
            return index
        }
        throw TestSupportError("no two ordinary records in a row in segment \(segment)")
    }

    static func hash(_ line: [UInt8]) throws -> String { try SHA256Hasher.hash(line).hex }

    func remove() { folder.remove() }
}

extension AuditVerdict {
    var damage: AuditDamage? {
        if case .damaged(let damage) = self { return damage }
        return nil
    }

    var isIntact: Bool {
        if case .intact = self { return true }
        return false
    }
}
