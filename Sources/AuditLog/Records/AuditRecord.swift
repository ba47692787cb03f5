public import AirlockCore
#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif

/// One line of the audit log, as written and as read back.
///
/// A record is stored as canonical JSON (keys sorted by their UTF-8 bytes, no whitespace, absent
/// optionals left out) followed by one `\n`. `prev` is the hex SHA-256 of the previous record's
/// exact line bytes, its `\n` included (64 zeros for the first record of the log); a record's
/// own hash is not stored: the next record's `prev`, or a signed checkpoint, covers it.
///
/// ```
/// {"action":"bundle.install","actor":{"id":"alice","kind":"local","uid":1000},"clock":"synchronized","outcome":"ok","prev":"9f…","seq":42,"target":{"bundle":"claims-llm","version":"1.2.0"},"time":"2026-11-29T05:00:39.123Z"}
/// ```
public struct AuditRecord: Sendable, Equatable, Codable {
    /// Position in the log, from 1, one more than the record before it (checkpoints included).
    public var seq: UInt64
    /// UTC, RFC 3339 with milliseconds: `2026-11-29T05:00:39.123Z`.
    public var time: String
    /// Whether the host clock was synchronized when the record was written.
    public var clock: ClockSyncState
    public var actor: AuditActor
    /// A dotted action name from `AuditAction` (`bundle.install`, `gateway.request`, ...).
    public var action: String
    public var target: AuditTarget
    public var outcome: AuditOutcome
    /// Free-form facts about the event (a reason, a key id, a count), strings only.
    public var details: [String: String]?
    /// Sizes, latency and digests of one gateway request.
    public var request: AuditRequest?
    /// Hex SHA-256 of the previous record's line (64 zeros for the first record).
    public var prev: String

    public init(
        seq: UInt64, time: String, clock: ClockSyncState, actor: AuditActor, action: String,
        target: AuditTarget, outcome: AuditOutcome, details: [String: String]? = nil,
        request: AuditRequest? = nil, prev: String
    ) {
        self.seq = seq
        self.time = time
        self.clock = clock
        self.actor = actor
        self.action = action
        self.target = target
        self.outcome = outcome
        self.details = details
        self.request = request
        self.prev = prev
    }

    /// `prev` of the first record of a log.
    public static let genesisPrev = String(repeating: "0", count: 64)

    /// The exact bytes of the record's line: canonical JSON and one `\n`.
    public var line: [UInt8] {
        RecordTemplate(
            action: action, actor: actor, target: target, outcome: outcome, details: details, request: request
        ).line(seq: seq, time: time, clock: clock, prev: prev)
    }

    /// The record read back from one line (with or without its `\n`).
    public init(line: some Collection<UInt8>) throws(AirlockError) {
        var bytes = Array(line)
        if bytes.last == 0x0A { bytes.removeLast() }
        if let record = bytes.withUnsafeBufferPointer(RecordParser.record) {
            self = record
            return
        }
        do {
            self = try JSONCoding.decode(AuditRecord.self, from: bytes)
        } catch {
            throw AirlockError(.invalidInput, "not an audit record: \(DecodingErrorText.describe(error))")
        }
    }
}

/// A record's line cut around the four fields only the writer knows (`clock`, `prev`, `seq`,
/// `time`): the appending task encodes the rest, so the writer, under its lock, only stitches
/// the pieces and hashes. The one way lines are made (`AuditRecord.line` uses it too).
///
/// Keys in sorted order: action, actor, clock, details, outcome, prev, request, seq, target, time.
struct RecordTemplate: Sendable {
    /// `{"action":…,"actor":{…},"clock":"`
    private let beforeClock: [UInt8]
    /// `","details":{…},"outcome":"…","prev":"`
    private let beforePrev: [UInt8]
    /// `","request":{…},"seq":`
    private let beforeSeq: [UInt8]
    /// `,"target":{…},"time":"`
    private let beforeTime: [UInt8]
    /// Who may write it (`AuditAction.writer`).
    let writer: AuditAction.Writer
    /// An `audit.key` record (the host key certifying the gateway's).
    let certifiesKey: Bool

    init(
        action: String, actor: AuditActor, target: AuditTarget, outcome: AuditOutcome,
        details: [String: String]?, request: AuditRequest?
    ) {
        writer = AuditAction.writer(of: action)
        certifiesKey = action == AuditAction.keyCertified.rawValue
        var json = CanonicalJSON()
        json.bytes.append(UInt8(ascii: "{"))
        json.field("action", string: action)
        json.field("actor") { actor.write(to: &$0) }
        json.bytes.append(contentsOf: #","clock":""#.utf8)
        beforeClock = json.bytes

        json = CanonicalJSON()
        json.bytes.append(UInt8(ascii: "\""))
        json.needsComma = true
        if let details {
            json.field("details") { json in
                for key in details.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                    json.field(key, string: details[key] ?? "")
                }
            }
        }
        json.field("outcome", string: outcome.rawValue)
        json.bytes.append(contentsOf: #","prev":""#.utf8)
        beforePrev = json.bytes

        json = CanonicalJSON()
        json.bytes.append(UInt8(ascii: "\""))
        json.needsComma = true
        if let request { json.field("request") { request.write(to: &$0) } }
        json.bytes.append(contentsOf: #","seq":"#.utf8)
        beforeSeq = json.bytes

        json = CanonicalJSON()
        json.needsComma = true
        json.field("target") { target.write(to: &$0) }
        json.bytes.append(contentsOf: #","time":""#.utf8)
        beforeTime = json.bytes
    }

    init(_ event: AuditEvent) {
        self.init(
            action: event.action.rawValue, actor: event.actor, target: event.target, outcome: event.outcome,
            details: event.details, request: event.request)
    }

    /// The whole line, `\n` included.
    func line(seq: UInt64, time: String, clock: ClockSyncState, prev: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(beforeClock.count + beforePrev.count + beforeSeq.count + beforeTime.count + 140)
        bytes.append(contentsOf: beforeClock)
        CanonicalJSON.writeString(clock.rawValue, to: &bytes, quoted: false)
        bytes.append(contentsOf: beforePrev)
        CanonicalJSON.writeString(prev, to: &bytes, quoted: false)
        bytes.append(contentsOf: beforeSeq)
        bytes.append(contentsOf: String(seq).utf8)
        bytes.append(contentsOf: beforeTime)
        CanonicalJSON.writeString(time, to: &bytes, quoted: false)
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "}"), 0x0A])
        return bytes
    }
}

/// The host clock's synchronization state when a record was written.
public enum ClockSyncState: String, Sendable, Codable {
    case synchronized, unsynchronized, unknown
}

/// Whether the event succeeded, was refused by a rule (bad signature, failed authentication,
/// downgrade without permission), or failed for another reason.
public enum AuditOutcome: String, Sendable, Codable {
    case ok, refused, failed
}

/// Who did it: an API client (by key id) or a local user of the admin commands (name and uid).
public struct AuditActor: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case client, local }
    public var kind: Kind
    public var id: String
    public var uid: UInt32?

    public init(kind: Kind, id: String, uid: UInt32? = nil) {
        self.kind = kind
        self.id = id
        self.uid = uid
    }

    /// An API client, named by its key id.
    public static func client(_ keyID: String) -> AuditActor { AuditActor(kind: .client, id: keyID) }
    /// A local user running an admin command.
    public static func local(user: String, uid: UInt32) -> AuditActor { AuditActor(kind: .local, id: user, uid: uid) }

    func write(to json: inout CanonicalJSON) {
        json.field("id", string: id)
        json.field("kind", string: kind.rawValue)
        if let uid { json.field("uid", number: UInt64(uid)) }
    }
}

/// What it was done to: a bundle, a version, an adapter; all optional (`{}` for the log itself).
public struct AuditTarget: Sendable, Equatable, Codable {
    public var bundle: String?
    public var version: String?
    public var adapter: String?

    public init(bundle: String? = nil, version: String? = nil, adapter: String? = nil) {
        self.bundle = bundle
        self.version = version
        self.adapter = adapter
    }

    public static let none = AuditTarget()

    func write(to json: inout CanonicalJSON) {
        if let adapter { json.field("adapter", string: adapter) }
        if let bundle { json.field("bundle", string: bundle) }
        if let version { json.field("version", string: version) }
    }
}

/// The measurable part of one gateway request. Prompt and answer appear only as digests.
public struct AuditRequest: Sendable, Equatable, Codable {
    public var tokensIn: UInt64?
    public var tokensOut: UInt64?
    public var latencyMilliseconds: UInt64?
    /// The HTTP status the gateway answered with.
    public var status: UInt16?
    /// Hex SHA-256 of the prompt bytes.
    public var promptSHA256: String?
    /// Hex SHA-256 of the answer bytes.
    public var answerSHA256: String?
    /// The request id: the client's `X-Request-Id` when it sent one, else the gateway's own;
    /// returned to the client in the response's `X-Request-Id` either way.
    public var id: String?
    /// Where the request came from: the client's address and port (`192.0.2.7:51234`,
    /// `[2001:db8::7]:51234`), as the gateway's socket saw it.
    public var source: String?

    public init(
        tokensIn: UInt64? = nil, tokensOut: UInt64? = nil, latencyMilliseconds: UInt64? = nil,
        status: UInt16? = nil, promptSHA256: String? = nil, answerSHA256: String? = nil, id: String? = nil, source: String? = nil
    ) {
        self.id = id
        self.source = source
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.latencyMilliseconds = latencyMilliseconds
        self.status = status
        self.promptSHA256 = promptSHA256
        self.answerSHA256 = answerSHA256
    }

    enum CodingKeys: String, CodingKey {
        case tokensIn = "tokens_in", tokensOut = "tokens_out", latencyMilliseconds = "latency_ms", status
        case promptSHA256 = "prompt_sha256", answerSHA256 = "answer_sha256", id, source
    }

    func write(to json: inout CanonicalJSON) {
        if let answerSHA256 { json.field(CodingKeys.answerSHA256.rawValue, string: answerSHA256) }
        if let id { json.field(CodingKeys.id.rawValue, string: id) }
        if let latencyMilliseconds { json.field(CodingKeys.latencyMilliseconds.rawValue, number: latencyMilliseconds) }
        if let promptSHA256 { json.field(CodingKeys.promptSHA256.rawValue, string: promptSHA256) }
        if let source { json.field(CodingKeys.source.rawValue, string: source) }
        if let status { json.field(CodingKeys.status.rawValue, number: UInt64(status)) }
        if let tokensIn { json.field(CodingKeys.tokensIn.rawValue, number: tokensIn) }
        if let tokensOut { json.field(CodingKeys.tokensOut.rawValue, number: tokensOut) }
    }
}

extension AuditRequest {
    /// The address part of a `source` (`192.0.2.7:51234` → `192.0.2.7`, `[2001:db8::7]:51234`
    /// → `2001:db8::7`); nil when it has no port.
    public static func address(ofSource source: String) -> String? {
        if source.hasPrefix("["), let close = source.firstIndex(of: "]") {
            return String(source[source.index(after: source.startIndex)..<close])
        }
        guard let colon = source.lastIndex(of: ":") else { return nil }
        return String(source[..<colon])
    }
}

/// The one JSON encoding the log writes: object keys sorted by their UTF-8 bytes, no
/// whitespace, strings with only `"`, `\` and control characters escaped, unsigned integers.
/// Written by hand so the bytes (which the chain hashes) never depend on an encoder's options,
/// and fast: callers write each object's fields in sorted key order (the record tests pin the
/// exact bytes), so nothing is sorted or built as a tree.
struct CanonicalJSON {
    var bytes: [UInt8] = []
    var needsComma = false

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// `{`, the fields `body` writes, `}`.
    mutating func object(_ body: (inout CanonicalJSON) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func field(_ key: String, string value: String) {
        self.key(key)
        Self.writeString(value, to: &bytes)
        needsComma = true
    }

    mutating func field(_ key: String, number value: UInt64) {
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    mutating func field(_ key: String, object body: (inout CanonicalJSON) -> Void) {
        self.key(key)
        object(body)
    }

    private mutating func key(_ key: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        Self.writeString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ text: String, to output: inout [UInt8], quoted: Bool = true) {
        if quoted { output.append(UInt8(ascii: "\"")) }
        var text = text
        text.withUTF8 { utf8 in
            // Nearly every string (names, digests, times) needs no escape: copy it whole.
            var plain = true
            for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                plain = false
                break
            }
            if plain {
                output.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0..<0x20:
                    output.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0x0F)])
                default: output.append(byte)
                }
            }
        }
        if quoted { output.append(UInt8(ascii: "\"")) }
    }
}

/// The one place this module reads JSON (Foundation's decoder; writing is `CanonicalJSON`).
enum JSONCoding {
    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws -> Value {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
