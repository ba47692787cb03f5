public import AirlockCore
internal import Yams

/// The one way Airlock reads a YAML file (bundle specs and every policy and settings file):
/// into a `Decodable` type, strictly.
///
/// Strict means what a person editing the file by hand needs: a key the type does not read
/// (`adaptors:` for `adapters:`) is refused, naming it and the nearest key that would have been
/// read there; a key given twice, a non-string key, a value of the wrong kind and a missing
/// required key are refused with the key's path (`runtimes[2].variant`); anchors and aliases
/// are not accepted (no file Airlock reads needs them, and they let a small file expand).
/// Errors are `AirlockError(.invalidInput)` whose message starts with `origin`.
public enum StrictYAML {
    /// The largest YAML text accepted (bytes); larger files are refused before parsing.
    public static let maximumBytes = 4 << 20

    /// Decodes `type` from `text`. An empty document decodes as an empty mapping, so a type
    /// whose keys are all optional gets its defaults.
    public static func decode<T: Decodable>(
        _ type: T.Type, from text: String, origin: String
    ) throws(AirlockError) -> T {
        let root = try compose(text, origin: origin) ?? Node.mapping(Node.Mapping([]))
        let session = DecodingSession()
        let value: T
        do {
            value = try T(from: NodeDecoder(node: root, path: [], session: session))
        } catch let error as AirlockError {
            throw AirlockError(error.code, "\(origin): \(error.message)", cause: error.cause)
        } catch let error as DecodingError {
            var message = StrictYAML.describe(error)
            if case .keyNotFound(let key, let context) = error,
                let typo = session.misspelling(of: key.stringValue, at: context.codingPath)
            {
                message += " ('\(typo)' is given there: a misspelling of it?)"
            }
            throw AirlockError(.invalidInput, "\(origin): \(message)")
        } catch {
            throw AirlockError(.invalidInput, "\(origin): \(error)")
        }
        if let unknown = session.firstUnknownKey() {
            throw AirlockError(.invalidInput, "\(origin): \(unknown)")
        }
        return value
    }

    /// Parses one YAML document with the checks every reader shares: the size cap, valid
    /// syntax, one document, no duplicate keys (Yams' composer), no anchors or aliases.
    static func compose(_ text: String, origin: String) throws(AirlockError) -> Node? {
        guard text.utf8.count <= maximumBytes else {
            throw AirlockError(.invalidInput, "\(origin) is larger than \(maximumBytes >> 20) MiB; it cannot be a settings file")
        }
        let parser: Parser
        let root: Node?
        do {
            parser = try Parser(yaml: text)
            root = try parser.singleRoot()
        } catch {
            throw AirlockError(.invalidInput, "\(origin) is not valid YAML", cause: YAMLSyntaxError(error))
        }
        guard let root else { return nil }
        // A node's anchor is a weak reference the parser's anchor table keeps alive.
        try withExtendedLifetime(parser) { () throws(AirlockError) in try refuseAliases(in: root, origin: origin) }
        return root
    }

    /// Reads the file at `path` and decodes it; nil when there is no file at `path`.
    public static func load<T: Decodable>(_ type: T.Type, path: String) throws(AirlockError) -> (value: T, bytes: [UInt8])? {
        guard let bytes = try FileBytes.readIfPresent(path: path, limit: maximumBytes) else { return nil }
        return (try decode(type, from: String(decoding: bytes, as: UTF8.self), origin: path), bytes)
    }

    /// Refuses any anchored or aliased node. Yams' composer copies an alias's target in place,
    /// so an alias shows as a second node carrying the anchor it names.
    private static func refuseAliases(in root: Node, origin: String) throws(AirlockError) {
        var stack = [root]
        var visited = 0
        while let node = stack.popLast() {
            visited += 1
            guard visited <= 1_000_000 else { throw AirlockError(.invalidInput, "\(origin) has too many nodes") }
            let anchored: Bool
            switch node {
            case .scalar(let scalar): anchored = scalar.anchor != nil
            case .mapping(let mapping):
                anchored = mapping.anchor != nil
                for (key, value) in mapping {
                    stack.append(key)
                    stack.append(value)
                }
            case .sequence(let sequence):
                anchored = sequence.anchor != nil
                stack.append(contentsOf: sequence)
            case .alias: anchored = true
            }
            if anchored {
                let line = node.mark.map { " (line \($0.line))" } ?? ""
                throw AirlockError(.invalidInput, "\(origin): anchors and aliases (&name, *name) are not accepted\(line)")
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' \(place(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.isEmpty ? "the document" : "'\(keyPath(context.codingPath))'"
            return "\(path) \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// `base.path`, `runtimes[2].variant` (list positions counted from 1).
    static func keyPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index + 1)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text
    }

    /// "at the top level" or "in 'base'".
    static func place(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "at the top level" : "in '\(keyPath(path))'"
    }
}

/// The YAML parser's own message (line and column included).
struct YAMLSyntaxError: Error, CustomStringConvertible, Sendable {
    let description: String
    init(_ error: any Error) { description = "\(error)" }
}
