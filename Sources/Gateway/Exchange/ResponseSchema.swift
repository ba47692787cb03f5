internal import AirlockCore

/// The JSON Schema of a `response_format: {"type": "json_schema", ...}` request, checked against
/// the subset that both engines enforce while they generate (llama-server's grammar, vLLM's
/// xgrammar), and the check of an answer against it.
///
/// Why a subset of the gateway's own: each engine accepts more than it enforces. llama-server
/// turns a `pattern` it cannot convert into "any string" with a log line; vLLM accepts a remote
/// `$ref` without fetching it and then generates any JSON at all; neither bounds a `number`.
/// A client that asked for a schema must get an answer valid against it or a refusal, so what
/// no engine is sure to enforce is a 400 naming the keyword, before anything is generated; and
/// the finished answer is checked again here (`violation(of:)`), because an engine's grammar
/// can still let through what JSON itself forbids (vLLM 0.32's xgrammar writes raw control
/// characters into strings: Docs/notes-vllm-runtime.md).
///
/// Supported: `type` (one name or a list), `properties`, `required`, `additionalProperties`
/// (true, false or a schema), `items`, `prefixItems`, `minItems`, `maxItems`, `minLength`,
/// `maxLength`, `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum` on integers, `enum`,
/// `const`, `anyOf`, and `$ref` to `#/$defs/NAME` or `#/definitions/NAME` (not recursive);
/// annotations (`title`, `description`, `$comment`, `examples`, `default`, `$schema`) are
/// ignored. Bounded: 64 KiB of schema and 2,000 nodes with every `$ref` expanded, so that
/// neither the engines' grammar compilers nor this check can be made to work without end.
struct ResponseSchema: Sendable {
    /// The name the client gave (`json_schema.name`).
    let name: String
    /// The schema as forwarded to the engine.
    let schema: JSONValue
    let root: Node

    static let maxBytes = 64 << 10
    static let maxNodes = 2_000
    static let maxEnumValues = 512
    /// The sum of every length and item bound: an engine's grammar spells a bound {m,n} out as
    /// n rules, so a few large bounds would make each request compile a huge grammar.
    static let maxRepetitions = 16_384

    static let annotations: Set<String> = ["title", "description", "$comment", "examples", "default", "$schema"]
    static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
        "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "const", "anyOf",
        "$ref", "$defs", "definitions",
    ]
    /// Why each keyword an engine would accept but not enforce is refused.
    static let refusedBecause: [String: String] = [
        "pattern": "llama-server enforces only some regular expressions and accepts any string for the rest",
        "format": "the engines enforce only some formats and accept any string for the rest",
        "oneOf": "the engines generate it as anyOf, which may match more than one branch; use anyOf",
        "allOf": "the engines do not merge its branches reliably; write the merged schema",
        "$id": "a schema may not change the base of its references",
        "$anchor": "use $ref to #/$defs/NAME",
        "$dynamicRef": "use $ref to #/$defs/NAME",
        "$dynamicAnchor": "use $ref to #/$defs/NAME",
        "not": "no engine enforces it",
        "if": "no engine enforces it", "then": "no engine enforces it", "else": "no engine enforces it",
        "patternProperties": "no engine enforces it", "propertyNames": "no engine enforces it",
        "dependentRequired": "no engine enforces it", "dependentSchemas": "no engine enforces it",
        "uniqueItems": "no engine enforces it", "contains": "no engine enforces it",
        "minContains": "no engine enforces it", "maxContains": "no engine enforces it",
        "multipleOf": "no engine enforces it", "minProperties": "no engine enforces it",
        "maxProperties": "no engine enforces it", "unevaluatedProperties": "no engine enforces it",
        "unevaluatedItems": "no engine enforces it",
    ]

    enum Kind: String, Sendable, CaseIterable {
        case object, array, string, integer, number, boolean, null
    }

    /// One checked schema node, with every `$ref` resolved into it.
    indirect enum Node: Sendable {
        /// Any JSON value (`{}` or `true`).
        case anything
        case oneOfValues([JSONValue])
        case anyOf([Node])
        /// Values of these kinds, each with its own constraints.
        case typed(Set<Kind>, Constraints)
    }

    enum Additional: Sendable {
        case anything, none
        case schema(Node)
    }

    struct Constraints: Sendable {
        var properties: [(String, Node)] = []
        var required: [String] = []
        var additional: Additional = .anything
        var items: Node?
        var prefixItems: [Node] = []
        var minItems = 0
        var maxItems: Int?
        var minLength = 0
        var maxLength: Int?
        var minimum: Int64?
        var maximum: Int64?
    }

    // MARK: Checking the request

    /// Parses the `json_schema` member of `response_format`; a 400 naming the part and the
    /// reason for anything outside the subset.
    static func parse(_ member: JSONValue?) throws(OpenAIError) -> ResponseSchema {
        guard case .object(let fields)? = member else {
            throw refusal("'response_format.json_schema' must be an object with 'name' and 'schema'")
        }
        for (key, _) in fields where !["name", "description", "schema", "strict"].contains(key) {
            throw refusal("'response_format.json_schema.\(key)' is not supported (name, description, schema and strict are)")
        }
        guard let name = member?["name"]?.stringValue, (1...64).contains(name.utf8.count),
            name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || isAlphanumeric($0) })
        else {
            throw refusal("'response_format.json_schema.name' must be 1 to 64 letters, digits, '_' or '-'")
        }
        if let description = member?["description"] {
            guard case .string = description else { throw refusal("'response_format.json_schema.description' must be a string") }
        }
        if let strict = member?["strict"] {
            guard case .bool = strict else { throw refusal("'response_format.json_schema.strict' must be true or false") }
        }
        guard let schema = member?["schema"] else { throw refusal("'response_format.json_schema.schema' is required") }
        guard case .object = schema else {
            throw refusal("'response_format.json_schema.schema' must be a JSON Schema object, not \(schema.typeName)")
        }
        guard schema.bytes.count <= maxBytes else {
            throw refusal("the schema is \(schema.bytes.count) bytes; the limit is \(maxBytes)")
        }
        var compiler = Compiler(document: schema)
        let root = try compiler.node(schema, at: "#")
        return ResponseSchema(name: name, schema: schema, root: root)
    }

    static func refusal(_ message: String) -> OpenAIError {
        .invalid(message, param: "response_format", code: "unsupported_schema")
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Turns schema objects into nodes, resolving references by expanding them (so that the node
    /// count bounds the work of a check) and refusing recursion.
    private struct Compiler {
        let document: JSONValue
        var nodes = 0
        var repetitions = 0
        var resolving: [String] = []

        init(document: JSONValue) { self.document = document }

        mutating func node(_ value: JSONValue, at path: String) throws(OpenAIError) -> Node {
            nodes += 1
            guard nodes <= ResponseSchema.maxNodes else {
                throw refusal("the schema has more than \(ResponseSchema.maxNodes) nodes with its references expanded")
            }
            switch value {
            case .bool(true): return .anything
            case .bool(false): throw refusal("the schema at \(path) is false: no answer could match it")
            case .object(let fields):
                return try object(fields, value, at: path)
            default: throw refusal("the schema at \(path) must be an object or true, not \(value.typeName)")
            }
        }

        private mutating func object(_ fields: [(String, JSONValue)], _ value: JSONValue, at path: String) throws(OpenAIError) -> Node {
            var keys: Set<String> = []
            for (key, _) in fields {
                if let reason = refusedBecause[key] {
                    throw refusal("the schema keyword '\(key)' at \(path) is not supported: \(reason)")
                }
                if annotations.contains(key) { continue }
                guard keywords.contains(key) else {
                    throw refusal(
                        "the schema keyword '\(key)' at \(path) is not supported (supported: \(keywords.sorted().joined(separator: ", ")))")
                }
                if (key == "$defs" || key == "definitions") && path != "#" {
                    throw refusal("'\(key)' is allowed only at the top of the schema, not at \(path)")
                }
                keys.insert(key)
            }
            if path == "#" {
                for group in ["$defs", "definitions"] {
                    if let defs = value[group] {
                        guard case .object = defs else { throw refusal("'\(group)' must be an object of schemas") }
                    }
                }
            }
            keys.subtract(["$defs", "definitions"])

            // The forms that stand alone.
            for alone in ["$ref", "enum", "const", "anyOf"] where keys.contains(alone) {
                let others = keys.subtracting([alone, "type"]).sorted()
                guard others.isEmpty else {
                    throw refusal("'\(alone)' at \(path) cannot be combined with \(others.map { "'\($0)'" }.joined(separator: ", "))")
                }
                if alone != "$ref", keys.contains("type") {
                    throw refusal("'\(alone)' at \(path) cannot be combined with 'type' (the values already say it)")
                }
                if alone == "$ref", keys.contains("type") {
                    throw refusal("'$ref' at \(path) cannot be combined with 'type'")
                }
                switch alone {
                case "$ref": return try reference(value["$ref"], at: path)
                case "const": return .oneOfValues([value["const"]!])
                case "enum":
                    guard case .array(let values)? = value["enum"], !values.isEmpty, values.count <= ResponseSchema.maxEnumValues else {
                        throw refusal("'enum' at \(path) must be an array of 1 to \(ResponseSchema.maxEnumValues) values")
                    }
                    return .oneOfValues(values)
                default:
                    guard case .array(let branches)? = value["anyOf"], !branches.isEmpty else {
                        throw refusal("'anyOf' at \(path) must be a non-empty array of schemas")
                    }
                    var nodes: [Node] = []
                    for (index, branch) in branches.enumerated() { nodes.append(try node(branch, at: "\(path)/anyOf/\(index)")) }
                    return .anyOf(nodes)
                }
            }

            guard let typeValue = value["type"] else {
                let loose = keys.sorted()
                guard loose.isEmpty else {
                    throw refusal("the schema at \(path) has \(loose.map { "'\($0)'" }.joined(separator: ", ")) but no 'type'; name the type")
                }
                return .anything
            }
            var kinds: Set<Kind> = []
            switch typeValue {
            case .string(let name):
                guard let kind = Kind(rawValue: name) else { throw unknownType(name, at: path) }
                kinds = [kind]
            case .array(let names) where !names.isEmpty:
                for entry in names {
                    guard let name = entry.stringValue, let kind = Kind(rawValue: name) else {
                        throw unknownType(entry.stringValue ?? entry.typeName, at: path)
                    }
                    kinds.insert(kind)
                }
            default: throw refusal("'type' at \(path) must be a type name or a non-empty array of them")
            }
            let constraints = try self.constraints(value, keys: keys, kinds: kinds, at: path)
            return .typed(kinds, constraints)
        }

        private func unknownType(_ name: String, at path: String) -> OpenAIError {
            refusal("'type' at \(path) names '\(name)'; the types are \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }

        private static let keywordsOf: [Kind: Set<String>] = [
            .object: ["properties", "required", "additionalProperties"],
            .array: ["items", "prefixItems", "minItems", "maxItems"],
            .string: ["minLength", "maxLength"],
            .integer: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"],
        ]

        private mutating func constraints(
            _ value: JSONValue, keys: Set<String>, kinds: Set<Kind>, at path: String
        ) throws(OpenAIError) -> Constraints {
            // Each constraint must belong to the one type named, so that no engine has to guess
            // which alternative it applies to.
            for key in keys.subtracting(["type"]).sorted() {
                let owner = Self.keywordsOf.first { $0.value.contains(key) }?.key
                guard let owner, kinds == [owner] else {
                    let needs = owner.map { "\"type\": \"\($0.rawValue)\"" } ?? "another type"
                    let hint =
                        kinds == [.number] && Self.keywordsOf[.integer]!.contains(key)
                        ? " (bounds are enforced on integers only; no engine bounds a number)" : ""
                    throw refusal("'\(key)' at \(path) needs \(needs) alone\(hint)")
                }
            }
            var result = Constraints()
            if case .object(let properties)? = value["properties"] {
                for (name, schema) in properties {
                    result.properties.append((name, try node(schema, at: "\(path)/properties/\(Self.escaped(name))")))
                }
            } else if let properties = value["properties"] {
                throw refusal("'properties' at \(path) must be an object, not \(properties.typeName)")
            }
            if let required = value["required"] {
                guard case .array(let names) = required else { throw refusal("'required' at \(path) must be an array of names") }
                for name in names {
                    guard let text = name.stringValue else { throw refusal("'required' at \(path) must be an array of names") }
                    guard result.properties.contains(where: { $0.0 == text }) else {
                        throw refusal("'required' at \(path) names '\(text)', which is not among its properties")
                    }
                    guard !result.required.contains(text) else { throw refusal("'required' at \(path) names '\(text)' twice") }
                    result.required.append(text)
                }
            }
            switch value["additionalProperties"] {
            case nil, .bool(true)?: result.additional = .anything
            case .bool(false)?: result.additional = .none
            case let schema?: result.additional = .schema(try node(schema, at: "\(path)/additionalProperties"))
            }
            if let prefix = value["prefixItems"] {
                guard case .array(let schemas) = prefix else { throw refusal("'prefixItems' at \(path) must be an array of schemas") }
                for (index, schema) in schemas.enumerated() { result.prefixItems.append(try node(schema, at: "\(path)/prefixItems/\(index)")) }
            }
            result.minItems = try count(value["minItems"], "minItems", at: path) ?? 0
            result.maxItems = try count(value["maxItems"], "maxItems", at: path)
            switch value["items"] {
            case nil: break
            case .bool(false)?:
                // A tuple: nothing after its prefixItems.
                guard !result.prefixItems.isEmpty else { throw refusal("'items': false at \(path) needs 'prefixItems'") }
                result.maxItems = min(result.maxItems ?? .max, result.prefixItems.count)
            case let items?: result.items = try node(items, at: "\(path)/items")
            }
            result.minLength = try count(value["minLength"], "minLength", at: path) ?? 0
            result.maxLength = try count(value["maxLength"], "maxLength", at: path)
            if let maxItems = result.maxItems, maxItems < result.minItems {
                throw refusal("'maxItems' at \(path) is below 'minItems': no array could match")
            }
            if let maxLength = result.maxLength, maxLength < result.minLength {
                throw refusal("'maxLength' at \(path) is below 'minLength': no string could match")
            }
            result.minimum = try bound(value["minimum"], "minimum", at: path)
            result.maximum = try bound(value["maximum"], "maximum", at: path)
            if let exclusive = try bound(value["exclusiveMinimum"], "exclusiveMinimum", at: path) {
                guard exclusive < Int64.max else { throw refusal("'exclusiveMinimum' at \(path) leaves no integer") }
                result.minimum = max(result.minimum ?? .min, exclusive + 1)
            }
            if let exclusive = try bound(value["exclusiveMaximum"], "exclusiveMaximum", at: path) {
                guard exclusive > Int64.min else { throw refusal("'exclusiveMaximum' at \(path) leaves no integer") }
                result.maximum = min(result.maximum ?? .max, exclusive - 1)
            }
            if let minimum = result.minimum, let maximum = result.maximum, maximum < minimum {
                throw refusal("the bounds at \(path) leave no integer between \(minimum) and \(maximum)")
            }
            return result
        }

        private mutating func count(_ value: JSONValue?, _ name: String, at path: String) throws(OpenAIError) -> Int? {
            guard let value else { return nil }
            let limit = ResponseSchema.maxRepetitions
            guard case .int(let number) = value, (0...Int64(limit)).contains(number) else {
                throw refusal("'\(name)' at \(path) must be an integer from 0 to \(limit)")
            }
            repetitions += Int(number)
            guard repetitions <= limit else {
                throw refusal("the schema's length and item bounds add up to more than \(limit) (each is spelt out in the engine's grammar)")
            }
            return Int(number)
        }

        private func bound(_ value: JSONValue?, _ name: String, at path: String) throws(OpenAIError) -> Int64? {
            guard let value else { return nil }
            switch value {
            case .int(let number): return number
            case .double(let number) where number.rounded() == number && abs(number) < 9e15: return Int64(number)
            default: throw refusal("'\(name)' at \(path) must be an integer")
            }
        }

        private mutating func reference(_ value: JSONValue?, at path: String) throws(OpenAIError) -> Node {
            guard let target = value?.stringValue else { throw refusal("'$ref' at \(path) must be a string") }
            let parts = target.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[0] == "#", parts[1] == "$defs" || parts[1] == "definitions", !parts[2].isEmpty else {
                throw refusal(
                    "'$ref' at \(path) is '\(Self.shown(target))'; only references into the schema itself, #/$defs/NAME or #/definitions/NAME, are supported (nothing is fetched)"
                )
            }
            let name = Self.unescaped(parts[2])
            guard let schema = document[parts[1]]?[name] else {
                throw refusal("'$ref' at \(path) names '\(Self.shown(target))', which the schema does not define")
            }
            guard !resolving.contains(target) else {
                throw refusal("'$ref' at \(path) to '\(Self.shown(target))' is recursive; recursive schemas are not supported")
            }
            resolving.append(target)
            defer { resolving.removeLast() }
            return try node(schema, at: target)
        }

        static func shown(_ text: String) -> String { text.count > 80 ? String(text.prefix(80)) + "…" : text }
        static func escaped(_ name: String) -> String { name.replacing("~", with: "~0").replacing("/", with: "~1") }
        static func unescaped(_ part: String) -> String { part.replacing("~1", with: "/").replacing("~0", with: "~") }
    }

    // MARK: Checking the answer

    /// Where and why the answer text is not valid against the schema; nil when it is.
    func violation(ofText text: String) -> String? {
        let value: JSONValue
        do {
            value = try JSONValue.parse(Array(text.utf8), maxDepth: 256)
        } catch {
            return "the answer is not valid JSON: \(error)"
        }
        return Self.violation(of: value, against: root, at: "$")
    }

    static func violation(of value: JSONValue, against node: Node, at path: String) -> String? {
        switch node {
        case .anything: return nil
        case .oneOfValues(let values):
            return values.contains(where: { same(value, $0) }) ? nil : "\(path) is not one of the values the schema allows"
        case .anyOf(let branches):
            for branch in branches where violation(of: value, against: branch, at: path) == nil { return nil }
            return "\(path) matches none of the schema's anyOf branches"
        case .typed(let kinds, let constraints):
            guard let kind = kinds.first(where: { matches(value, $0) }) else {
                return "\(path) is \(value.typeName), not \(kinds.map(\.rawValue).sorted().joined(separator: " or "))"
            }
            return violation(of: value, kind: kind, constraints, at: path)
        }
    }

    private static func violation(of value: JSONValue, kind: Kind, _ constraints: Constraints, at path: String) -> String? {
        switch (kind, value) {
        case (.object, .object(let members)):
            for name in constraints.required where !members.contains(where: { $0.0 == name }) {
                return "\(path) lacks the required property '\(name)'"
            }
            for (name, member) in members {
                let memberPath = "\(path).\(name)"
                if let schema = constraints.properties.first(where: { $0.0 == name })?.1 {
                    if let problem = violation(of: member, against: schema, at: memberPath) { return problem }
                    continue
                }
                switch constraints.additional {
                case .anything: continue
                case .none: return "\(path) has the property '\(name)', which the schema does not allow"
                case .schema(let schema):
                    if let problem = violation(of: member, against: schema, at: memberPath) { return problem }
                }
            }
            return nil
        case (.array, .array(let items)):
            if items.count < constraints.minItems { return "\(path) has \(items.count) items; at least \(constraints.minItems) are required" }
            if let maximum = constraints.maxItems, items.count > maximum {
                return "\(path) has \(items.count) items; at most \(maximum) are allowed"
            }
            for (index, item) in items.enumerated() {
                let schema = index < constraints.prefixItems.count ? constraints.prefixItems[index] : constraints.items
                if let schema, let problem = violation(of: item, against: schema, at: "\(path)[\(index)]") { return problem }
            }
            return nil
        case (.string, .string(let text)):
            let length = text.unicodeScalars.count
            if length < constraints.minLength { return "\(path) has \(length) characters; at least \(constraints.minLength) are required" }
            if let maximum = constraints.maxLength, length > maximum {
                return "\(path) has \(length) characters; at most \(maximum) are allowed"
            }
            return nil
        case (.integer, _):
            guard let number = integer(value) else { return "\(path) is not an integer" }
            if let minimum = constraints.minimum, number < minimum { return "\(path) is \(number), below the minimum \(minimum)" }
            if let maximum = constraints.maximum, number > maximum { return "\(path) is \(number), above the maximum \(maximum)" }
            return nil
        default: return nil
        }
    }

    private static func matches(_ value: JSONValue, _ kind: Kind) -> Bool {
        switch (kind, value) {
        case (.object, .object), (.array, .array), (.string, .string), (.boolean, .bool), (.null, .null): true
        case (.number, .int), (.number, .double): true
        case (.integer, _): integer(value) != nil
        default: false
        }
    }

    private static func integer(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let number): number
        case .double(let number) where number.rounded() == number && abs(number) < 9e15: Int64(number)
        default: nil
        }
    }

    /// JSON equality as JSON Schema's `enum` and `const` mean it: 1 and 1.0 are the same number,
    /// and the members of objects are compared without regard to order.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            guard x.count == y.count else { return false }
            return x.allSatisfy { member in y.contains { $0.0 == member.0 && same($0.1, member.1) } }
        case let (.array(x), .array(y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.int, .double), (.double, .int), (.double, .double):
            return number(a) == number(b)
        default: return a == b
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let number): Double(number)
        case .double(let number): number
        default: nil
        }
    }
}
