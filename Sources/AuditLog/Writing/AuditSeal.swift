public import AirlockCore

/// `airlock-audit seal`: the root step that closes the gap the gateway leaves. The gateway
/// (`airlock-serve`) seals the segments it fills and makes them read-only, but cannot give them
/// away: one it created stays its own (it could make it writable again), one root created stays
/// group-writable, until a root writer takes it. This hands every sealed segment to root.
public enum AuditSeal {
    public struct Report: Sendable, Equatable, Encodable {
        /// The sealed segments (every one but the last), oldest first.
        public var sealed: [String]
        /// Those this run changed (owner, group or mode), oldest first.
        public var changed: [String]
        /// The segment being appended to, left as it is; nil when there is none yet.
        public var active: String?
        /// The group sealed segments keep: the log folder's.
        public var group: String
        /// Segments that could not be handed over, each with why (also in the error thrown).
        public var failures: [String]
    }

    /// Makes every segment but the last (the one being appended to) `root:<folder's group>`
    /// 0440, and touches nothing else: not the active segment, the lock, the checkpoint file or
    /// any name that is not a segment's. Runs as root only. Every segment is tried; those that
    /// cannot be changed are listed in `failures` (the caller records what did change first).
    ///
    /// No lock is needed: a writer seals a segment, flushes it, and only then creates the next, so
    /// a segment that is not the last is never written again; retention may remove one meanwhile,
    /// which is skipped.
    public static func run(directory: String) throws(AirlockError) -> Report {
        guard geteuid() == 0 else {
            throw AirlockError(.refused, "'airlock-audit seal' hands sealed segments to root: run it as root (airlock-audit-seal.service does)")
        }
        let folder = try AuditFiles.folder(directory)
        let numbers = try AuditFiles.segmentNumbers(in: folder)
        let group = getgrgid(folder.group).flatMap { $0.pointee.gr_name.map { String(cString: $0) } } ?? String(folder.group)
        var report = Report(sealed: [], changed: [], active: numbers.last.map(AuditLayout.segmentName), group: group, failures: [])
        for number in numbers.dropLast() {
            let name = AuditLayout.segmentName(number)
            do throws(AirlockError) {
                guard let changed = try AuditSharing.lock(name, in: folder, rootWithGroup: folder.group) else { continue }
                report.sealed.append(name)
                if changed { report.changed.append(name) }
            } catch {
                report.sealed.append(name)
                report.failures.append(error.description)
            }
        }
        return report
    }

    /// Hands the lock and the segment being appended to (`active`) to `root:group`, 0660, so the
    /// gateway's user can append (root's commands may have created them before that group
    /// existed). Each name is opened without following a link and checked first: a planted
    /// link or hard link is refused with `unsafe-file`, never chowned.
    public static func shareWithGateway(directory: String, group: UInt32, active: String?) throws(AirlockError) {
        let folder = try AuditFiles.folder(directory)
        try AuditSharing.shareWithGroup([AuditLayout.lockName] + (active.map { [$0] } ?? []), in: folder, group: group)
    }
}
