internal import AirlockCore
internal import AuditLog

/// One audit log line: `AuditRecord(line:)` (what search, export and the writer's recovery
/// read), `AuditRecord.readersDisagree` (the fast readers against Foundation's decoder and
/// `verify`'s line scanner), and an accepted record written out and read again.
enum AuditFuzz {
    static func run(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
        if let disagreement = AuditRecord.readersDisagree(line: input) { return .broken(disagreement) }
        let record: AuditRecord
        do {
            record = try AuditRecord(line: input)
        } catch {
            return .refused(error.description)
        }
        let line = record.line
        guard line.last == 0x0A, !line.dropLast().contains(0x0A) else { return .broken("a record's line is not one line") }
        guard let again = try? AuditRecord(line: line), again == record else { return .broken("a record does not read back from its own line") }
        if let disagreement = AuditRecord.readersDisagree(line: line) { return .broken("on the record's own line: \(disagreement)") }
        return .accepted
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let prev = String(repeating: "0123456789abcdef", count: 4)
        let records: [(String, AuditRecord)] = [
            (
                "install",
                AuditRecord(
                    seq: 42, time: "2026-11-29T05:00:39.123Z", clock: .synchronized, actor: .local(user: "alice", uid: 1000),
                    action: "bundle.install", target: AuditTarget(bundle: "claims-llm", version: "1.2.0"), outcome: .ok, prev: prev)
            ),
            (
                "request",
                AuditRecord(
                    seq: 7, time: "2026-01-01T00:00:00.000Z", clock: .unsynchronized, actor: .client("alk_0123456789abcdef"),
                    action: "gateway.request", target: AuditTarget(bundle: "claims-llm", version: "1.2.0", adapter: "claims"), outcome: .refused,
                    details: ["reason": "quote \" backslash \\ newline \n tab \t bell \u{07} del \u{7f} é 漢 😀", "": "empty key"],
                    request: AuditRequest(
                        tokensIn: 12, tokensOut: 34, latencyMilliseconds: 56, status: 429, promptSHA256: prev, answerSHA256: prev),
                    prev: AuditRecord.genesisPrev)
            ),
            (
                "checkpoint",
                AuditRecord(
                    seq: 100, time: "2026-11-29T05:00:40.000Z", clock: .unknown, actor: .local(user: "root", uid: 0),
                    action: "audit.checkpoint", target: .none, outcome: .ok,
                    details: ["chain": prev, "segment": "audit-000001.jsonl", "key": "ed25519:abc", "signature": "c2ln", "reason": "interval"],
                    prev: prev)
            ),
            (
                "retention",
                AuditRecord(
                    seq: UInt64.max, time: "9999-12-31T23:59:59.999Z", clock: .synchronized, actor: .local(user: "airlock", uid: UInt32.max),
                    action: "audit.retention", target: .none, outcome: .failed, details: [:], request: AuditRequest(), prev: prev)
            ),
        ]
        var seeds = records.map { ($0.0, $0.1.line) }
        // A hand-edited but valid line (spaces, other key order): Foundation's decoder reads it.
        seeds.append(
            (
                "hand-edited",
                Array(
                    """
                    { "seq": 3, "prev": "\(prev)", "time": "2026-11-29T05:00:39.123Z", "clock": "synchronized",
                      "actor": { "kind": "client", "id": "alk_1" }, "action": "gateway.request", "target": {}, "outcome": "ok" }
                    """.utf8)
            ))
        return seeds
    }
}
