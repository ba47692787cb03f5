internal import AirlockCore

/// `airlock-audit export --format csv`: one row per record, for spreadsheets.
///
/// Every cell is text a client or a bundle may have chosen (a model name, a detail), so each is
/// made safe twice over: control and formatting characters are shown as visible escapes
/// (`Printable`), and a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return —
/// which Excel, LibreOffice and Google Sheets would run as a formula — gets a leading `'` and is
/// quoted, as OWASP's "CSV Injection" advice describes. Quotes inside a cell are doubled.
public enum AuditCSV {
    public static let header =
        "seq,time,clock,actor_kind,actor,action,bundle,version,adapter,outcome,tokens_in,tokens_out,latency_ms,status,request_id,source,prompt_sha256,answer_sha256,details"

    public static func row(_ record: AuditRecord) -> String {
        let details = record.details.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        let request = record.request
        let cells: [String?] = [
            String(record.seq), record.time, record.clock.rawValue, record.actor.kind.rawValue, record.actor.id, record.action,
            record.target.bundle, record.target.version, record.target.adapter, record.outcome.rawValue,
            request?.tokensIn.map(String.init), request?.tokensOut.map(String.init),
            request?.latencyMilliseconds.map(String.init), request?.status.map(String.init), request?.id, request?.source,
            request?.promptSHA256, request?.answerSHA256, details,
        ]
        return cells.map { cell($0 ?? "") }.joined(separator: ",")
    }

    /// One cell: escaped, neutralised when a spreadsheet would read it as a formula, quoted
    /// when it holds a comma, a quote or was neutralised.
    public static func cell(_ value: String) -> String {
        var text = Printable.escaped(value, limit: .max)
        var quote = text.contains(",") || text.contains("\"")
        if let first = value.unicodeScalars.first, formulaStarts.contains(first) {
            text = "'" + text
            quote = true
        }
        guard quote else { return text }
        var quoted = "\""
        for character in text { quoted += character == "\"" ? "\"\"" : String(character) }
        return quoted + "\""
    }

    /// What makes a spreadsheet treat a cell as a formula (OWASP): `=`, `+`, `-`, `@`, TAB, CR.
    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]
}
