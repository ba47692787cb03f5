/// A fast reader for the JSON the log writes: objects, strings (with the escapes
/// `CanonicalJSON` emits) and unsigned integers, nothing else. Lines it cannot read, or that
/// hold unknown or repeated keys, go to Foundation's `JSONDecoder` instead (`AuditRecord(line:)`),
/// so a hand-edited but valid line is still read and judged by the chain, not called malformed.
///
/// Exists for `verify`'s speed: a million records in seconds.
struct RecordParser {
    private enum Value {
        case string(String)
        case number(UInt64)
        case object([(String, Value)])
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The record on `line` (its `\n` excluded), or nil when the fast path does not apply.
    static func record(_ line: UnsafeBufferPointer<UInt8>) -> AuditRecord? {
        var parser = RecordParser(line)
        guard case .object(let fields)? = parser.value(depth: 0), parser.index == line.count else { return nil }
        return Self.record(fields)
    }

    private mutating func value(depth: Int) -> Value? {
        guard index < bytes.count, depth < 4 else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var fields: [(String, Value)] = []
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            while true {
                guard let key = string(), index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                guard let value = value(depth: depth + 1) else { return nil }
                fields.append((key, value))
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { return nil }
                index += 1
                return .object(fields)
            }
        case UInt8(ascii: "\""):
            return string().map(Value.string)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            var number: UInt64 = 0
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                let (times, overflow1) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
                guard !overflow1, !overflow2 else { return nil }
                number = sum
                index += 1
            }
            // No leading zeros: `CanonicalJSON` never writes them.
            guard index - start == 1 || bytes[start] != 0x30 else { return nil }
            return .number(number)
        default:
            return nil
        }
    }

    private mutating func string() -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return escaped ? Self.unescape(raw) : String(validating: raw, as: UTF8.self)
            }
            if byte < 0x20 { return nil }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 1
            }
            index += 1
        }
        return nil
    }

    /// The escapes `CanonicalJSON` writes; anything else sends the line to the slow path.
    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                output.append(byte)
                index += 1
                continue
            }
            guard index + 1 < raw.count else { return nil }
            switch raw[index + 1] {
            case UInt8(ascii: "\""): output.append(0x22)
            case UInt8(ascii: "\\"): output.append(0x5C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                // Only `\u00XX` for control characters.
                guard index + 5 < raw.count, raw[index + 2] == 0x30, raw[index + 3] == 0x30,
                    let high = hexValue(raw[index + 4]), let low = hexValue(raw[index + 5]), high < 2
                else { return nil }
                output.append(high << 4 | low)
                index += 4
            default: return nil
            }
            index += 2
        }
        return String(validating: output, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        default: nil
        }
    }

    private static func unique(_ fields: [(String, Value)]) -> [String: Value]? {
        var map: [String: Value] = [:]
        map.reserveCapacity(fields.count)
        for (key, value) in fields {
            guard map.updateValue(value, forKey: key) == nil else { return nil }
        }
        return map
    }

    private static func record(_ fields: [(String, Value)]) -> AuditRecord? {
        guard var map = unique(fields) else { return nil }
        func take(_ key: String) -> Value? { map.removeValue(forKey: key) }
        func text(_ value: Value?) -> String? { if case .string(let text)? = value { text } else { nil } }
        func number(_ value: Value?) -> UInt64? { if case .number(let number)? = value { number } else { nil } }
        func object(_ value: Value?) -> [String: Value]? { if case .object(let fields)? = value { unique(fields) } else { nil } }

        guard let seq = number(take("seq")), let time = text(take("time")),
            let clock = text(take("clock")).flatMap(ClockSyncState.init(rawValue:)),
            let action = text(take("action")), let outcome = text(take("outcome")).flatMap(AuditOutcome.init(rawValue:)),
            let prev = text(take("prev")), var actorFields = object(take("actor")),
            var targetFields = object(take("target"))
        else { return nil }

        guard let kind = text(actorFields.removeValue(forKey: "kind")).flatMap(AuditActor.Kind.init(rawValue:)),
            let id = text(actorFields.removeValue(forKey: "id"))
        else { return nil }
        var uid: UInt32?
        if let raw = actorFields.removeValue(forKey: "uid") {
            guard let value = number(raw), let narrow = UInt32(exactly: value) else { return nil }
            uid = narrow
        }
        guard actorFields.isEmpty else { return nil }

        var target = AuditTarget()
        for (key, value) in targetFields {
            guard let value = text(value) else { return nil }
            switch key {
            case "bundle": target.bundle = value
            case "version": target.version = value
            case "adapter": target.adapter = value
            default: return nil
            }
        }
        targetFields.removeAll()

        var details: [String: String]?
        if let raw = take("details") {
            guard let fields = object(raw) else { return nil }
            var strings: [String: String] = [:]
            for (key, value) in fields {
                guard let value = text(value) else { return nil }
                strings[key] = value
            }
            details = strings
        }

        var request: AuditRequest?
        if let raw = take("request") {
            guard let fields = object(raw) else { return nil }
            var parsed = AuditRequest()
            for (key, value) in fields {
                switch key {
                case "tokens_in":
                    guard let n = number(value) else { return nil }
                    parsed.tokensIn = n
                case "tokens_out":
                    guard let n = number(value) else { return nil }
                    parsed.tokensOut = n
                case "latency_ms":
                    guard let n = number(value) else { return nil }
                    parsed.latencyMilliseconds = n
                case "status":
                    guard let n = number(value), let status = UInt16(exactly: n) else { return nil }
                    parsed.status = status
                case "prompt_sha256":
                    guard let s = text(value) else { return nil }
                    parsed.promptSHA256 = s
                case "answer_sha256":
                    guard let s = text(value) else { return nil }
                    parsed.answerSHA256 = s
                case "id":
                    guard let s = text(value) else { return nil }
                    parsed.id = s
                case "source":
                    guard let s = text(value) else { return nil }
                    parsed.source = s
                default: return nil
                }
            }
            request = parsed
        }
        guard map.isEmpty else { return nil }
        return AuditRecord(
            seq: seq, time: time, clock: clock, actor: AuditActor(kind: kind, id: id, uid: uid), action: action,
            target: target, outcome: outcome, details: details, request: request, prev: prev)
    }
}
