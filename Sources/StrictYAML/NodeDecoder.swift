internal import Yams

/// A `Decoder` over a composed YAML node that records, for every mapping it opens, which keys
/// the decoded type asked for, so that `StrictYAML` can refuse the keys nobody read.
struct NodeDecoder: Decoder {
    let node: Node
    let codingPath: [any CodingKey]
    let session: DecodingSession
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(node: Node, path: [any CodingKey], session: DecodingSession) {
        self.node = node
        self.codingPath = path
        self.session = session
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try MappingContainer<Key>(node: node, path: codingPath, session: session))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else {
            throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "must be a list, not \(node.kind)"))
        }
        return SequenceContainer(elements: Array(sequence), path: codingPath, session: session)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        ScalarContainer(node: node, codingPath: codingPath, session: session)
    }
}

/// A key in a path: a mapping key or a list position.
struct PathKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }
    init(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Which keys of which mappings were read, for the unknown-key check after decoding.
final class DecodingSession {
    private struct Use {
        let order: Int
        let path: [any CodingKey]
        let keys: [String]
        var known: [String] = []
        var everyKeyRead = false
    }

    private var uses: [String: Use] = [:]

    func opened(path: [any CodingKey], keys: [String]) {
        let id = StrictYAML.keyPath(path)
        if uses[id] == nil { uses[id] = Use(order: uses.count, path: path, keys: keys) }
    }

    func asked(path: [any CodingKey], key: String) {
        let id = StrictYAML.keyPath(path)
        if uses[id]?.known.contains(key) == false { uses[id]?.known.append(key) }
    }

    func readEveryKey(path: [any CodingKey]) {
        uses[StrictYAML.keyPath(path)]?.everyKeyRead = true
    }

    /// A key given in the mapping at `path` that nothing asked for and that is near `missing`.
    func misspelling(of missing: String, at path: [any CodingKey]) -> String? {
        guard let use = uses[StrictYAML.keyPath(path)] else { return nil }
        let unasked = use.keys.filter { !use.known.contains($0) }
        return unasked.first { NearestName.find($0, among: [missing]) != nil }
    }

    /// The first key, in the order the mappings were opened, that no decoder asked for: as a
    /// sentence naming it and the nearest key that is read at that place.
    func firstUnknownKey() -> String? {
        for use in uses.values.sorted(by: { $0.order < $1.order }) where !use.everyKeyRead {
            guard let unknown = use.keys.first(where: { !use.known.contains($0) }) else { continue }
            var text = "unknown key '\(unknown)' \(StrictYAML.place(use.path))"
            if let nearest = NearestName.find(unknown, among: use.known) {
                text += " (did you mean '\(nearest)'? known here: \(use.known.joined(separator: ", ")))"
            } else if !use.known.isEmpty {
                text += " (known here: \(use.known.joined(separator: ", ")))"
            }
            return text
        }
        return nil
    }
}

private struct MappingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let codingPath: [any CodingKey]
    let session: DecodingSession
    private let values: [String: Node]
    private let order: [String]

    init(node: Node, path: [any CodingKey], session: DecodingSession) throws {
        guard case .mapping(let mapping) = node else {
            throw DecodingError.typeMismatch(
                [String: Any].self, .init(codingPath: path, debugDescription: "must be a mapping of keys, not \(node.kind)"))
        }
        var values: [String: Node] = [:]
        var order: [String] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "has a key that is not text"))
            }
            guard values[scalar.string] == nil else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "has the key '\(scalar.string)' twice"))
            }
            values[scalar.string] = value
            order.append(scalar.string)
        }
        self.codingPath = path
        self.session = session
        self.values = values
        self.order = order
        session.opened(path: path, keys: order)
    }

    var allKeys: [Key] {
        session.readEveryKey(path: codingPath)
        return order.compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool {
        session.asked(path: codingPath, key: key.stringValue)
        return values[key.stringValue] != nil
    }

    private func child(_ key: Key) throws -> NodeDecoder {
        session.asked(path: codingPath, key: key.stringValue)
        guard let node = values[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return NodeDecoder(node: node, path: codingPath + [key], session: session)
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).node.isNull }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: child(key)) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try Bool(from: child(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try String(from: child(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try Double(from: child(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try Float(from: child(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try Int(from: child(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try Int8(from: child(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try Int16(from: child(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try Int32(from: child(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try Int64(from: child(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try UInt(from: child(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try UInt8(from: child(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try UInt16(from: child(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try UInt32(from: child(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try UInt64(from: child(key)) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }

    func superDecoder() throws -> any Decoder {
        NodeDecoder(
            node: .mapping(Node.Mapping(order.compactMap { name in values[name].map { (Node(name), $0) } })), path: codingPath, session: session)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct SequenceContainer: UnkeyedDecodingContainer {
    let elements: [Node]
    let codingPath: [any CodingKey]
    let session: DecodingSession
    private(set) var currentIndex = 0

    init(elements: [Node], path: [any CodingKey], session: DecodingSession) {
        self.elements = elements
        self.codingPath = path
        self.session = session
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Any.self, .init(codingPath: codingPath, debugDescription: "has fewer than \(currentIndex + 1) entries"))
        }
        defer { currentIndex += 1 }
        return NodeDecoder(node: elements[currentIndex], path: codingPath + [PathKey(intValue: currentIndex)], session: session)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next()) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

/// Scalars, strictly: text is any non-null scalar; numbers are plain decimal scalars; booleans
/// are plain `true` or `false` (not YAML 1.1's yes/no/on/off).
private struct ScalarContainer: SingleValueDecodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    let session: DecodingSession

    func decodeNil() -> Bool { node.isNull }

    private func text(_ what: String) throws -> Node.Scalar {
        guard case .scalar(let scalar) = node else {
            throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "must be \(what), not \(node.kind)"))
        }
        guard !node.isNull else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "must be \(what), not empty"))
        }
        return scalar
    }

    private func plain(_ what: String) throws -> String {
        let scalar = try text(what)
        guard scalar.style == .plain || scalar.style == .any else {
            throw DecodingError.typeMismatch(
                Any.self, .init(codingPath: codingPath, debugDescription: "must be \(what) without quotes, not \"\(scalar.string)\""))
        }
        return scalar.string
    }

    private func mismatch(_ what: String, _ value: String) -> DecodingError {
        DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "must be \(what), not '\(value)'"))
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        let value = try plain("true or false")
        switch value {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw mismatch("true or false", value)
        }
    }

    func decode(_ type: String.Type) throws -> String { try text("text").string }

    func decode(_ type: Double.Type) throws -> Double {
        let value = try plain("a number")
        guard let number = Double(value), number.isFinite else { throw mismatch("a number", value) }
        return number
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let value = try plain("a whole number")
        let digits = value.hasPrefix("+") ? String(value.dropFirst()) : value
        guard let number = T(digits, radix: 10) else {
            if let wide = Int64(digits, radix: 10) {
                throw DecodingError.typeMismatch(
                    T.self, .init(codingPath: codingPath, debugDescription: "is \(wide), outside \(T.min)...\(T.max)"))
            }
            throw mismatch("a whole number", value)
        }
        return number
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try T(from: NodeDecoder(node: node, path: codingPath, session: session))
    }
}

extension Node {
    /// A plain `~`, `null` or empty scalar (a quoted `'null'` is text).
    var isNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    var kind: String {
        switch self {
        case .scalar: isNull ? "empty" : "a single value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
