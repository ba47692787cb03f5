public import AirlockCore

/// Which records `airlock-audit search` and `export` return. Every filter is optional; a
/// record matches when it passes all given.
public struct AuditQuery: Sendable, Equatable {
    /// Milliseconds since 1970, inclusive bounds.
    public var since: Int64?
    public var until: Int64?
    /// Client key id or local user name.
    public var actor: String?
    /// An action name (`bundle.install`) or its prefix before a dot (`bundle`).
    public var action: String?
    public var adapter: String?
    public var outcome: String?
    /// A gateway request's id (`X-Request-Id`).
    public var requestID: String?
    /// A gateway request's source: an address (`192.0.2.7`, `2001:db8::7`) or address and port.
    public var source: String?

    public init(
        since: Int64? = nil, until: Int64? = nil, actor: String? = nil, action: String? = nil, adapter: String? = nil, outcome: String? = nil,
        requestID: String? = nil, source: String? = nil
    ) {
        self.requestID = requestID
        self.source = source
        self.since = since
        self.until = until
        self.actor = actor
        self.action = action
        self.adapter = adapter
        self.outcome = outcome
    }

    /// Parses a time bound: `2026-11-29`, `2026-11-29T10:00:00Z` or the log's own form with
    /// milliseconds. A date alone means its start (`since`) or its end (`until`).
    public static func time(_ text: String, endOfDay: Bool) throws(AirlockError) -> Int64 {
        var candidate = text
        if candidate.count == 10 { candidate += endOfDay ? "T23:59:59.999Z" : "T00:00:00.000Z" }
        if candidate.count == 20, candidate.hasSuffix("Z") { candidate = String(candidate.dropLast()) + ".000Z" }
        guard let milliseconds = AuditTime.parse(candidate) else {
            throw AirlockError(.invalidInput, "'\(text)' is not a UTC time (use 2026-11-29 or 2026-11-29T10:00:00Z)")
        }
        return milliseconds
    }

    public func matches(_ record: AuditRecord) -> Bool {
        if since != nil || until != nil {
            guard let time = AuditTime.parse(record.time) else { return false }
            if let since, time < since { return false }
            if let until, time > until { return false }
        }
        if let actor, record.actor.id != actor { return false }
        if let action, record.action != action, !record.action.hasPrefix(action + ".") { return false }
        if let adapter, record.target.adapter != adapter { return false }
        if let outcome, record.outcome.rawValue != outcome { return false }
        if let requestID, record.request?.id != requestID { return false }
        if let source {
            guard let recorded = record.request?.source else { return false }
            if recorded != source, AuditRequest.address(ofSource: recorded) != source { return false }
        }
        return true
    }

    /// The query as text, for the audit record of the read itself.
    public var description: String {
        var parts: [String] = []
        if let since { parts.append("since=\(AuditTime.format(since))") }
        if let until { parts.append("until=\(AuditTime.format(until))") }
        if let actor { parts.append("actor=\(actor)") }
        if let action { parts.append("action=\(action)") }
        if let adapter { parts.append("adapter=\(adapter)") }
        if let outcome { parts.append("outcome=\(outcome)") }
        if let requestID { parts.append("request_id=\(requestID)") }
        if let source { parts.append("source=\(source)") }
        return parts.joined(separator: " ")
    }
}

/// Reads the log's records in order, one segment at a time (memory bounded by a segment).
public enum AuditLogReader {
    /// Calls `body` with every record line (its exact bytes, without the newline) and the
    /// parsed record, in log order, until `body` returns false.
    public static func forEach(
        directory: String, _ body: (_ line: ArraySlice<UInt8>, _ record: AuditRecord) throws(AirlockError) -> Bool
    ) throws(AirlockError) {
        let folder = try AuditFiles.folder(directory)
        for number in try AuditFiles.segmentNumbers(in: folder) {
            let name = AuditLayout.segmentName(number)
            guard let bytes = try folder.contents(of: name, upTo: Int.max) else { continue }
            for line in bytes.split(separator: UInt8(ascii: "\n")) {
                guard let record = try? AuditRecord(line: line) else { continue }
                if try !body(line, record) { return }
            }
        }
    }
}
