public import AirlockCore

/// The compliance officer's HTML page: integrity verdict first, then activity per day, per
/// actor, per adapter, refusals and admin actions; tables and inline SVG bars, no scripts, no
/// outside resources.
public enum AuditReportPage {
    public struct Tally {
        public var byDay: [String: Int] = [:]
        public var byActor: [String: Int] = [:]
        public var byAdapter: [String: Int] = [:]
        public var refusals: [AuditRecord] = []
        public var admin: [AuditRecord] = []
        /// Records in the range, checkpoints left out (they are counted in `checkpoints`).
        public var total = 0
        public var checkpoints = 0
    }

    /// The records of the log in `directory` that `query` matches (its time range, say).
    public static func tally(directory: String, query: AuditQuery = AuditQuery()) throws(AirlockError) -> Tally {
        var tally = Tally()
        try AuditLogReader.forEach(directory: directory) { (_: ArraySlice<UInt8>, record: AuditRecord) throws(AirlockError) -> Bool in
            guard query.matches(record) else { return true }
            if record.action == AuditAction.checkpoint.rawValue {
                tally.checkpoints += 1
                return true
            }
            tally.total += 1
            tally.byDay[String(record.time.prefix(10)), default: 0] += 1
            tally.byActor[record.actor.id, default: 0] += 1
            if let adapter = record.target.adapter { tally.byAdapter[adapter, default: 0] += 1 }
            if record.outcome != .ok { tally.refusals.append(record) }
            if record.actor.kind == .local { tally.admin.append(record) }
            return true
        }
        return tally
    }

    /// `range` says which records the page covers ("all records", "2026-11-01 to 2026-11-30").
    public static func html(verdict: String, intact: Bool, tally: Tally, generated: String, range: String = "all records") -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func bars(_ title: String, _ counts: [String: Int], sortByKey: Bool) -> String {
            let rows = sortByKey ? counts.sorted { $0.key < $1.key } : counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            guard !rows.isEmpty else { return "<h2>\(title)</h2><p>None.</p>" }
            let top = max(1, rows.map(\.value).max() ?? 1)
            var text = "<h2>\(title)</h2><table><tr><th>\(sortByKey ? "Day (UTC)" : "Name")</th><th>Records</th><th></th></tr>"
            for (key, value) in rows {
                let width = max(1, 300 * value / top)
                text +=
                    "<tr><td>\(escape(key))</td><td class=n>\(value)</td><td><svg width=\"300\" height=\"12\" role=\"img\" aria-label=\"\(value)\"><rect width=\"\(width)\" height=\"12\" fill=\"#4a6fa5\"/></svg></td></tr>"
            }
            return text + "</table>"
        }
        /// A record's details as `key=value` pairs, the reason first.
        func details(_ record: AuditRecord) -> String {
            let all = record.details ?? [:]
            let ordered = (all["reason"].map { [("reason", $0)] } ?? []) + all.filter { $0.key != "reason" }.sorted { $0.key < $1.key }
            return ordered.map { "\($0.0)=\($0.1)" }.joined(separator: "; ")
        }
        func records(_ title: String, _ list: [AuditRecord]) -> String {
            guard !list.isEmpty else { return "<h2>\(title)</h2><p>None.</p>" }
            let shown = list.suffix(500)
            var text =
                "<h2>\(title) (\(list.count)\(list.count > shown.count ? ", the last \(shown.count) shown" : ""))</h2>"
                + "<table class=records><colgroup><col style=\"width:5%\"><col style=\"width:15%\"><col style=\"width:12%\"><col style=\"width:12%\"><col style=\"width:14%\"><col style=\"width:7%\"><col style=\"width:35%\"></colgroup>"
                + "<tr><th>#</th><th>Time (UTC)</th><th>Who</th><th>Action</th><th>Target</th><th>Outcome</th><th>Details</th></tr>"
            for record in shown {
                let target = [record.target.bundle, record.target.version, record.target.adapter].compactMap { $0 }.joined(separator: " ")
                text +=
                    "<tr><td class=n>\(record.seq)</td><td>\(escape(record.time))</td><td>\(escape(record.actor.id))</td><td>\(escape(record.action))</td><td>\(escape(target))</td><td>\(record.outcome.rawValue)</td><td>\(escape(details(record)))</td></tr>"
            }
            return text + "</table>"
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Airlock audit report</title>
            <style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin-bottom:1.5em;max-width:100%}\
            table.records{width:100%;table-layout:fixed}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;\
            vertical-align:top;overflow-wrap:anywhere}td.n{text-align:right}svg{max-width:100%}\
            .ok{background:#e6f4e6;border:2px solid #2e7d32;padding:1em}.bad{background:#fdecea;border:2px solid #c62828;padding:1em}\
            @media print{body{margin:0;max-width:none;font-size:9pt}tr{break-inside:avoid}h2{break-after:avoid}\
            .ok,.bad,rect{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\
            @page{size:A4 landscape;margin:12mm}</style>
            </head><body>
            <h1>Airlock audit report</h1>
            <p>Generated \(escape(generated)) from \(tally.total) records and \(tally.checkpoints) signed checkpoints (\(tally.total + tally.checkpoints) lines of the log; \(escape(range))).</p>
            <div class="\(intact ? "ok" : "bad")"><strong>Integrity: \(intact ? "INTACT" : "DAMAGED")</strong><br>\(escape(verdict))</div>
            \(bars("Activity per day", tally.byDay, sortByKey: true))
            \(bars("Activity per client or user", tally.byActor, sortByKey: false))
            \(bars("Activity per adapter", tally.byAdapter, sortByKey: false))
            \(records("Refused and failed", tally.refusals))
            \(records("Administrative actions", tally.admin))
            </body></html>

            """
    }
}
