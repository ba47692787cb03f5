internal import AirlockCore
internal import AuditLog
internal import BundleIO

/// Every admin command of `airlock` leaves exactly one audit record, refused and failed ones
/// included, written durably before the command reports success.
enum AdminAudit {
    /// The local user running the command.
    static var actor: AuditActor {
        let uid = getuid()
        var name = "uid-\(uid)"
        if let entry = getpwuid(uid), let login = entry.pointee.pw_name { name = String(cString: login) }
        return .local(user: name, uid: uid)
    }

    /// The gateway service itself (its process's user), for what it does on its own.
    static var serviceActor: AuditActor {
        let local = actor
        return .local(user: "airlock-serve:" + local.id, uid: getuid())
    }

    /// Appends `event` durably. A failure to record is itself an error: the command fails and
    /// says that its record could not be written.
    static func record(_ event: AuditEvent, layout: HostLayout) async throws(AirlockError) {
        do {
            let writer = try AuditLogWriter(host: layout)
            try await writer.append(event)
            await writer.journalDrained()
        } catch {
            throw AirlockError(.system, "the audit record of this action could not be written", cause: error)
        }
    }

    /// Runs one admin operation and writes its one record, whether it succeeded, was refused or
    /// failed: `action` on `target` (a bundle's name and version where there is one; a file's
    /// path goes into the details), with `details` known beforehand merged with those the
    /// operation reports. A thrown error is recorded as refused (bad input, a refusal) or failed
    /// (anything else) with its `reason`, then thrown again (or one that also says the record
    /// could not be written). The operation's value is returned once its record is durable.
    static func run<Value>(
        _ action: AuditAction, target: AuditTarget = .none, details: [String: String] = [:], layout: HostLayout,
        _ operation: () async throws -> Audited<Value>
    ) async throws -> Value {
        let done: Audited<Value>
        do {
            done = try await operation()
        } catch {
            let airlockError = error as? AirlockError
            let refused = airlockError.map { [.refused, .invalidInput, .usage].contains($0.code) } ?? false
            let reason = airlockError?.description ?? "\(error)"
            let event = AuditEvent.admin(
                action, by: actor, target: target, outcome: refused ? .refused : .failed, details: details.merging(["reason": reason]) { $1 })
            do {
                try await record(event, layout: layout)
            } catch let auditFailure {
                throw AirlockError(.system, "\(reason) (and the audit record of the refusal could not be written: \(auditFailure))")
            }
            throw error
        }
        try await record(
            .admin(action, by: actor, target: done.target ?? target, outcome: done.outcome, details: details.merging(done.details) { $1 }),
            layout: layout)
        return done.value
    }

    /// The bundle a file claims to be (its manifest's name and version, read without verifying
    /// anything), for the record of an operation that may refuse it; `.none` when it cannot be read.
    static func claimedTarget(ofBundle path: String) -> AuditTarget {
        guard let claimed = BundleVerifier.claimedIdentity(path: path) else { return .none }
        return AuditTarget(bundle: claimed.name, version: claimed.version)
    }
}

/// What an admin operation did, for its record: its value, how it ended (`.failed` for an
/// operation that did its main work but not all, such as an install whose services failed),
/// the target once known, and details.
struct Audited<Value> {
    var value: Value
    var outcome: AuditOutcome = .ok
    var target: AuditTarget?
    var details: [String: String] = [:]

    init(_ value: Value, outcome: AuditOutcome = .ok, target: AuditTarget? = nil, details: [String: String] = [:]) {
        self.value = value
        self.outcome = outcome
        self.target = target
        self.details = details
    }
}
