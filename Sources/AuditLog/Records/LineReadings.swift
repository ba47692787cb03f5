extension AuditRecord {
    /// Where the readers of one line disagree; nil when they agree. `verify` walks the chain on
    /// what `LineScanner` reads of a line, everything else reads `AuditRecord(line:)` (the fast
    /// `RecordParser`, else Foundation's decoder), so a line must mean the same to all three:
    /// the two record readers, when both read it, the same record; the scanner, when it takes
    /// the line, the same kind, sequence number, `prev`, time and clock as the record, and never
    /// a line that no record reader reads (verify would count a record that search and export
    /// skip). Asked of every input by the fuzzers (Fuzz/) and their regression tests.
    public static func readersDisagree(line: some Collection<UInt8>) -> String? {
        var bytes = Array(line)
        if bytes.last == 0x0A { bytes.removeLast() }
        let fast = bytes.withUnsafeBufferPointer(RecordParser.record)
        let slow = try? JSONCoding.decode(AuditRecord.self, from: bytes)
        if let fast, let slow, fast != slow {
            return "the fast record parser reads \(fast), Foundation's decoder \(slow)"
        }
        guard let scanned = bytes.withUnsafeBufferPointer(LineScanner.facts) else { return nil }
        guard let record = fast ?? slow else { return "the line scanner takes a line that no record reader reads" }
        let read = LineScanner.facts(record)
        guard scanned.kind == read.kind, scanned.seq == read.seq, scanned.prev == read.prev, scanned.time == read.time,
            scanned.clock == read.clock
        else { return "the line scanner reads \(scanned), the record gives \(read)" }
        return nil
    }
}
