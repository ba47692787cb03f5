public import AirlockCore
internal import Yams

/// A parsed YAML document as plain values, for a file whose reader walks it by hand to give
/// messages in its own words (the clients file names "client 2 ('teller-app')"). It is parsed
/// with the same checks as `StrictYAML.decode`: size cap, no anchors or aliases, no duplicate
/// or non-text keys.
public indirect enum YAMLTree: Sendable, Equatable {
    /// A plain `~`, `null` or empty scalar.
    case null
    /// Any other scalar, as written.
    case text(String)
    /// A mapping, keys in the order written.
    case mapping([Entry])
    case list([YAMLTree])

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: YAMLTree
    }

    /// The scalar's text (nil for null, a mapping or a list).
    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    /// A plain decimal whole number.
    public var integer: Int? { text.flatMap { Int($0, radix: 10) } }

    /// `true` or `false`, exactly (YAML 1.1's yes/no/on/off are not booleans here).
    public var boolean: Bool? {
        switch text {
        case "true": true
        case "false": false
        default: nil
        }
    }

    public var entries: [Entry]? {
        if case .mapping(let entries) = self { return entries }
        return nil
    }

    public var items: [YAMLTree]? {
        if case .list(let items) = self { return items }
        return nil
    }

    /// The value of `key` in a mapping.
    public subscript(key: String) -> YAMLTree? { entries?.first { $0.key == key }?.value }
}

extension StrictYAML {
    /// Parses `text` into a tree; nil for an empty document.
    public static func tree(from text: String, origin: String) throws(AirlockError) -> YAMLTree? {
        guard let root = try compose(text, origin: origin) else { return nil }
        return try convert(root, origin: origin)
    }

    private static func convert(_ node: Node, origin: String) throws(AirlockError) -> YAMLTree {
        switch node {
        case .scalar(let scalar):
            return node.isNull ? .null : .text(scalar.string)
        case .sequence(let sequence):
            var items: [YAMLTree] = []
            for item in sequence { items.append(try convert(item, origin: origin)) }
            return .list(items)
        case .mapping(let mapping):
            var entries: [YAMLTree.Entry] = []
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else { throw AirlockError(.invalidInput, "\(origin): a key is not text") }
                guard !entries.contains(where: { $0.key == scalar.string }) else {
                    throw AirlockError(.invalidInput, "\(origin): the key '\(scalar.string)' appears twice")
                }
                entries.append(YAMLTree.Entry(key: scalar.string, value: try convert(value, origin: origin)))
            }
            return .mapping(entries)
        case .alias:
            throw AirlockError(.invalidInput, "\(origin): anchors and aliases (&name, *name) are not accepted")
        }
    }
}
