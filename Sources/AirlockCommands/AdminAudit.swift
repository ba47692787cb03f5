internal import AirlockCore
internal import AuditLog
#if canImport(Glibc)
internal import Glibc
#endif

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

    /// Records a command that failed with `error` (as refused or failed, with its reason), then
    /// returns the error to throw: the original one, or one that also names the audit failure.
    static func failure(
        _ error: any Error, layout: HostLayout, event: (AuditOutcome, [String: String]) -> AuditEvent
    ) async -> any Error {
        let airlockError = error as? AirlockError
        let refused = airlockError.map { $0.code == .refused || $0.code == .invalidInput } ?? false
        let reason = airlockError?.description ?? "\(error)"
        do {
            try await record(event(refused ? .refused : .failed, ["reason": reason]), layout: layout)
        } catch let auditFailure {
            return AirlockError(.system, "\(reason) (and the audit record of the refusal could not be written: \(auditFailure))")
        }
        return error
    }
}
