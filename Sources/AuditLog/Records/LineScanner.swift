internal import AirlockCore

/// A SHA-256 chain hash held as four words: compared without strings, printed as hex only for
/// messages.
struct ChainHash: Hashable, Sendable {
    var words: SIMD4<UInt64>

    static let genesis = ChainHash(words: .zero)

    /// From the 32 digest bytes.
    init(digest: UnsafeRawBufferPointer) {
        words = SIMD4(
            digest.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
            digest.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
            digest.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
            digest.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    init(words: SIMD4<UInt64>) { self.words = words }

    /// From exactly 64 lower-case hex digits (the only form the log writes); nil otherwise.
    init?(hex: UnsafeBufferPointer<UInt8>) {
        guard hex.count == 64, let base = hex.baseAddress else { return nil }
        var words = SIMD4<UInt64>.zero
        var bad: UInt8 = 0
        for word in 0..<4 {
            var value: UInt64 = 0
            // Byte order as in memory (little-endian loads of the digest, see `init(digest:)`).
            for index in stride(from: 7, through: 0, by: -1) {
                let high = base[word * 16 + index * 2]
                let low = base[word * 16 + index * 2 + 1]
                bad |= Self.invalid(high) | Self.invalid(low)
                value = value << 8 | UInt64(Self.nibble(high) << 4 | Self.nibble(low))
            }
            words[word] = value
        }
        guard bad == 0 else { return nil }
        self.words = words
    }

    /// 1 unless `digit` is 0-9 or a-f.
    @inline(__always)
    private static func invalid(_ digit: UInt8) -> UInt8 {
        (digit &- 0x30 < 10 || digit &- 0x61 < 6) ? 0 : 1
    }

    /// The value of a hex digit already known to be 0-9 or a-f.
    @inline(__always)
    private static func nibble(_ digit: UInt8) -> UInt8 { (digit & 0x0F) &+ (digit >> 6) &* 9 }

    init?(hex: String) {
        var text = hex
        guard let hash = text.withUTF8({ ChainHash(hex: $0) }) else { return nil }
        self = hash
    }

    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        withUnsafeBytes(of: words) { raw in
            for byte in raw {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

}

/// What the chain walk needs of one line: read straight from the bytes for lines in the form the
/// writer produces (no allocation), or from `AuditRecord(line:)` for anything else.
struct LineFacts: Sendable {
    enum Kind: UInt8, Sendable { case record, checkpoint, retention, certificate }
    var kind: Kind
    var seq: UInt64
    /// nil when `prev` is not 64 hex digits: it then matches nothing.
    var prev: ChainHash?
    /// Milliseconds since the epoch; nil when the time is not in the log's one form.
    var time: Int64?
    var clock: ClockSyncState
    /// Who may write the record's action (`AuditAction.writer`).
    var writer: AuditAction.Writer = .root
}

/// The fast reader of one line (its `\n` excluded). Accepts exactly the shape `RecordTemplate`
/// writes: top-level keys in sorted order, each at most once, ASCII only, the escapes
/// `CanonicalJSON` writes; flat `actor`, `target`, `details`, `request` objects with the value
/// types a record has. Anything else returns nil and goes to `AuditRecord(line:)`, which judges
/// it exactly as before (a hand-edited but valid record is still a record, judged by the chain).
enum LineScanner {
    private static let required: UInt16 = 0b11_1011_0111  // all but details (3) and request (6)

    static func facts(_ line: UnsafeBufferPointer<UInt8>) -> LineFacts? {
        var cursor = Cursor(bytes: line)
        guard line.count > 2, line[0] == UInt8(ascii: "{"), line[line.count - 1] == UInt8(ascii: "}") else { return nil }
        cursor.index = 1
        var seen: UInt16 = 0
        var lastKey = -1
        var facts = LineFacts(kind: .record, seq: 0, prev: nil, time: nil, clock: .unknown)
        while true {
            guard let keyRange = cursor.plainString(), cursor.take(UInt8(ascii: ":")) else { return nil }
            guard let key = keyIndex(line, keyRange), key > lastKey else { return nil }
            lastKey = key
            seen |= 1 << key
            switch key {
            case 0:  // action
                guard let range = cursor.plainString() else { return nil }
                if equal(line, range, "audit.checkpoint") {
                    facts.kind = .checkpoint
                    facts.writer = .either
                } else if equal(line, range, "audit.retention") {
                    facts.kind = .retention
                } else if equal(line, range, "gateway.request") || equal(line, range, "gateway.auth_failed")
                    || equal(line, range, "policy.loaded")
                {
                    facts.writer = .gateway
                } else if equal(line, range, "audit.recovered") || equal(line, range, "audit.unsafe_file") {
                    facts.writer = .either
                } else if equal(line, range, "audit.key") {
                    facts.kind = .certificate
                }
            case 1:  // actor: id and kind (client or local) required, uid optional
                guard let fields = cursor.flatObject(.actor), fields & 0b11 == 0b11 else { return nil }
            case 3:  // details
                guard cursor.flatObject(.details) != nil else { return nil }
            case 6:  // request
                guard cursor.flatObject(.request) != nil else { return nil }
            case 8:  // target
                guard cursor.flatObject(.target) != nil else { return nil }
            case 2:  // clock
                guard let range = cursor.plainString() else { return nil }
                if equal(line, range, "synchronized") {
                    facts.clock = .synchronized
                } else if equal(line, range, "unsynchronized") {
                    facts.clock = .unsynchronized
                } else if equal(line, range, "unknown") {
                    facts.clock = .unknown
                } else {
                    return nil
                }
            case 4:  // outcome
                guard let range = cursor.plainString(),
                    equal(line, range, "ok") || equal(line, range, "refused") || equal(line, range, "failed")
                else { return nil }
            case 5:  // prev
                guard let range = cursor.plainString(),
                    let hash = ChainHash(hex: UnsafeBufferPointer(rebasing: line[range]))
                else { return nil }
                facts.prev = hash
            case 7:  // seq
                guard let seq = cursor.number() else { return nil }
                facts.seq = seq
            default:  // 9, time
                guard let range = cursor.plainString(), let time = parseTime(UnsafeBufferPointer(rebasing: line[range]))
                else { return nil }
                facts.time = time
            }
            if cursor.take(UInt8(ascii: ",")) { continue }
            guard cursor.take(UInt8(ascii: "}")), cursor.index == line.count else { return nil }
            break
        }
        guard seen & required == required else { return nil }
        return facts
    }

    /// Facts of a record read the slow way.
    static func facts(_ record: AuditRecord) -> LineFacts {
        let kind: LineFacts.Kind =
            switch record.action {
            case AuditAction.checkpoint.rawValue: .checkpoint
            case AuditAction.retention.rawValue: .retention
            case AuditAction.keyCertified.rawValue: .certificate
            default: .record
            }
        return LineFacts(
            kind: kind, seq: record.seq, prev: ChainHash(hex: record.prev), time: AuditTime.parse(record.time),
            clock: record.clock, writer: AuditAction.writer(of: record.action))
    }

    /// `AuditTime.parse` for the 24-byte form, without the C library: days from the civil date.
    static func parseTime(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            bytes[19] == UInt8(ascii: "."), bytes[23] == UInt8(ascii: "Z")
        else { return nil }
        @inline(__always) func number(_ from: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for index in from..<(from + count) {
                let digit = bytes[index] &- 0x30
                guard digit <= 9 else { return nil }
                value = value * 10 + Int64(digit)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), let millis = number(20, 3),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        // Howard Hinnant's days_from_civil; normalizes like timegm(3) (Feb 31 is Mar 3).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis
    }

    /// The index of a top-level key in sorted order (action 0 ... time 9).
    @inline(__always)
    private static func keyIndex(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty else { return nil }
        let candidate: (Int, StaticString)
        switch (line[range.lowerBound], range.count) {
        case (UInt8(ascii: "a"), 6): candidate = (0, "action")
        case (UInt8(ascii: "a"), 5): candidate = (1, "actor")
        case (UInt8(ascii: "c"), 5): candidate = (2, "clock")
        case (UInt8(ascii: "d"), 7): candidate = (3, "details")
        case (UInt8(ascii: "o"), 7): candidate = (4, "outcome")
        case (UInt8(ascii: "p"), 4): candidate = (5, "prev")
        case (UInt8(ascii: "r"), 7): candidate = (6, "request")
        case (UInt8(ascii: "s"), 3): candidate = (7, "seq")
        case (UInt8(ascii: "t"), 6): candidate = (8, "target")
        case (UInt8(ascii: "t"), 4): candidate = (9, "time")
        default: return nil
        }
        return equal(line, range, candidate.1) ? candidate.0 : nil
    }

    @inline(__always)
    fileprivate static func equal(_ line: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ expected: StaticString) -> Bool {
        guard range.count == expected.utf8CodeUnitCount, let base = line.baseAddress else { return false }
        return memcmp(base + range.lowerBound, expected.utf8Start, range.count) == 0
    }

    /// Whether the bytes of `first` sort strictly before those of `second`.
    fileprivate static func precedes(_ line: UnsafeBufferPointer<UInt8>, _ first: Range<Int>, _ second: Range<Int>) -> Bool {
        guard let base = line.baseAddress else { return false }
        let order = memcmp(base + first.lowerBound, base + second.lowerBound, min(first.count, second.count))
        return order < 0 || (order == 0 && first.count < second.count)
    }

    /// Bytes a string of the log can hold without a closer look: not `"`, a backslash, a
    /// control character or a non-ASCII byte. Eight at a time (the usual SWAR tests).
    @inline(__always)
    fileprivate static func plainWord(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZero(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let below20 = (word &- ones &* 0x20) & ~word & highs != 0
        return word & highs == 0 && !below20 && !hasZero(word ^ (ones &* 0x22)) && !hasZero(word ^ (ones &* 0x5C))
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        @inline(__always)
        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// Moves past whole 8-byte words of plain string bytes.
        @inline(__always)
        mutating func skipPlainWords() {
            guard let base = bytes.baseAddress else { return }
            while index + 8 <= bytes.count {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                guard LineScanner.plainWord(word) else { return }
                index += 8
            }
        }

        /// A string without escapes: the range of its content.
        mutating func plainString() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            skipPlainWords()
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
                index += 1
            }
            return nil
        }

        /// A string with the escapes `CanonicalJSON` writes (ASCII only).
        mutating func escapedString() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                skipPlainWords()
                guard index < bytes.count else { return nil }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                guard byte >= 0x20, byte < 0x80 else { return nil }
                if byte == UInt8(ascii: "\\") {
                    guard index + 1 < bytes.count else { return nil }
                    switch bytes[index + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 2
                    case UInt8(ascii: "u"):
                        guard index + 5 < bytes.count, bytes[index + 2] == 0x30, bytes[index + 3] == 0x30,
                            (0x30...0x31).contains(bytes[index + 4]),
                            (0x30...0x39).contains(bytes[index + 5]) || (0x61...0x66).contains(bytes[index + 5])
                        else { return nil }
                        index += 6
                    default:
                        return nil
                    }
                    continue
                }
                index += 1
            }
            return nil
        }

        /// An unsigned integer without leading zeros that fits 64 bits.
        mutating func number() -> UInt64? {
            let start = index
            var value: UInt64 = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                index += 1
            }
            guard index > start, index - start == 1 || bytes[start] != 0x30 else { return nil }
            return value
        }

        /// The flat objects of a record line.
        enum Shape { case actor, target, details, request }

        /// `{}` or an object of string keys (no escapes), in strictly increasing byte order (so
        /// each once, as the writer sorts them), holding only what the record readers read there:
        /// `actor` `id` and `kind` (`client` or `local`) strings and a `uid` that fits 32 bits;
        /// `target` `adapter`, `bundle` and `version` strings; `details` strings; `request`
        /// counts, a `status` that fits 16 bits and the two digests as strings. Anything else is
        /// nil, and the line goes to `AuditRecord(line:)`: what this takes, a record reader must
        /// read the same way. For `actor`, returns bit 0 for `id` and bit 1 for `kind`.
        mutating func flatObject(_ shape: Shape) -> UInt8? {
            guard take(UInt8(ascii: "{")) else { return nil }
            var found: UInt8 = 0
            if take(UInt8(ascii: "}")) { return found }
            var previous: Range<Int>?
            while true {
                guard let key = plainString(), take(UInt8(ascii: ":")) else { return nil }
                if let previous, !LineScanner.precedes(bytes, previous, key) { return nil }
                previous = key
                var text: Range<Int>?
                var number: UInt64?
                if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                    guard let value = escapedString() else { return nil }
                    text = value
                } else {
                    guard let value = self.number() else { return nil }
                    number = value
                }
                func named(_ name: StaticString) -> Bool { LineScanner.equal(bytes, key, name) }
                switch shape {
                case .details:
                    guard text != nil else { return nil }
                case .target:
                    guard text != nil, named("adapter") || named("bundle") || named("version") else { return nil }
                case .actor:
                    if named("id"), text != nil {
                        found |= 1
                    } else if named("kind"), let text, LineScanner.equal(bytes, text, "client") || LineScanner.equal(bytes, text, "local") {
                        found |= 2
                    } else {
                        guard named("uid"), let number, number <= UInt32.max else { return nil }
                    }
                case .request:
                    if named("tokens_in") || named("tokens_out") || named("latency_ms") {
                        guard number != nil else { return nil }
                    } else if named("status") {
                        guard let number, number <= UInt16.max else { return nil }
                    } else {
                        guard named("prompt_sha256") || named("answer_sha256") || named("id") || named("source"), text != nil
                        else { return nil }
                    }
                }
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "}")) else { return nil }
                return found
            }
        }
    }
}
