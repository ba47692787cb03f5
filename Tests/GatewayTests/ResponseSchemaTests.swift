import AirlockCore
@testable import Gateway
import Testing

/// The gateway's own reading of `response_format` schemas: what it refuses before an engine sees
/// the request, and its check of a finished answer (the last word on what a client receives).
struct ResponseSchemaTests {
    static func member(_ schema: String, name: String = "answer") throws -> JSONValue {
        try JSONValue.parse(Array(##"{"name":"\##(name)","schema":\##(schema)}"##.utf8))
    }

    static func refusal(_ schema: String) -> String? {
        do {
            _ = try ResponseSchema.parse(try member(schema))
            return nil
        } catch let error as OpenAIError {
            #expect(error.status == 400 && error.code == "unsupported_schema" && error.param == "response_format")
            return error.message
        } catch {
            return "\(error)"
        }
    }

    /// Schemas an engine would accept but not enforce (or could not bound), with a phrase the
    /// refusal must name.
    static let refused: [(String, String)] = [
        (##"{"$ref":"https://example.com/claim.json"}"##, "nothing is fetched"),
        (##"{"$ref":"file:///etc/passwd"}"##, "nothing is fetched"),
        (##"{"$ref":"other.json#/$defs/a"}"##, "nothing is fetched"),
        (##"{"$ref":"#/$defs/missing","$defs":{}}"##, "does not define"),
        (##"{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}"##, "recursive"),
        (##"{"type":"object","properties":{"x":{"$defs":{}}}}"##, "only at the top"),
        (##"{"$id":"https://example.com/","type":"string"}"##, "'$id'"),
        (##"{"type":"string","pattern":"^a+$"}"##, "'pattern'"),
        (##"{"type":"string","format":"date"}"##, "'format'"),
        (##"{"oneOf":[{"type":"string"},{"type":"integer"}]}"##, "use anyOf"),
        (##"{"allOf":[{"type":"string"}]}"##, "'allOf'"),
        (##"{"not":{"type":"string"}}"##, "'not'"),
        (##"{"type":"number","minimum":0}"##, "integers only"),
        (##"{"type":["string","integer"],"maxLength":3}"##, "alone"),
        (##"{"maxLength":3}"##, "no 'type'"),
        (##"{"type":"string","minLength":5,"maxLength":3}"##, "no string could match"),
        (##"{"type":"integer","minimum":5,"exclusiveMaximum":5}"##, "no integer"),
        (##"{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}"##, "not among its properties"),
        (##"{"type":"object","propertyOrder":["a"]}"##, "'propertyOrder'"),
        (##"{"type":"decimal"}"##, "names 'decimal'"),
        (##"{"enum":[]}"##, "'enum'"),
        (##"{"enum":["a"],"type":"string"}"##, "cannot be combined"),
        (##"false"##, "must be a JSON Schema object"),
        (##"{"type":"object","properties":{"a":false}}"##, "is false"),
        (##"{"type":"array","maxItems":-1}"##, "'maxItems'"),
        (##"{"type":"string","maxLength":1000000}"##, "from 0 to 16384"),
        (##"{"type":"array","items":{"type":"string","maxLength":9000},"maxItems":9000}"##, "add up to more than"),
        (##"{"type":"array","items":false}"##, "needs 'prefixItems'"),
    ]

    @Test func schemasNoEngineIsSureToEnforceAreRefusedNamingWhy() {
        for (schema, phrase) in Self.refused {
            let message = Self.refusal(schema)
            #expect(message?.contains(phrase) == true, "\(schema): \(message ?? "accepted")")
        }
    }

    @Test func aSchemaWhoseReferencesExpandPastTheBoundIsRefused() {
        // Each level refers to the one below twice: 2^12 nodes from 13 definitions.
        var defs: [String] = [##""l0":{"type":"integer"}"##]
        for level in 1...12 {
            defs.append(##""l\##(level)":{"type":"array","prefixItems":[{"$ref":"#/$defs/l\##(level - 1)"},{"$ref":"#/$defs/l\##(level - 1)"}]}"##)
        }
        let schema = ##"{"$ref":"#/$defs/l12","$defs":{\##(defs.joined(separator: ","))}}"##
        #expect(Self.refusal(schema)?.contains("nodes") == true, "\(Self.refusal(schema) ?? "accepted")")
        let big = ##"{"enum":["\##(String(repeating: "x", count: 70_000))"]}"##
        #expect(Self.refusal(big)?.contains("bytes") == true)
    }

    @Test func theMemberAroundTheSchemaIsChecked() {
        for bad in [##"{"schema":{}}"##, ##"{"name":"a b","schema":{}}"##, ##"{"name":"a","schema":{},"extra":1}"##, ##"{"name":"a"}"##, ##"{"name":"a","schema":{},"strict":"yes"}"##] {
            #expect(throws: OpenAIError.self, "\(bad)") { try ResponseSchema.parse(try JSONValue.parse(Array(bad.utf8))) }
        }
    }

    static let claim = ##"""
        {"type":"object","title":"Claim","properties":{
          "decision":{"enum":["approve","refer"]},
          "amount":{"type":"integer","minimum":0,"exclusiveMaximum":1000},
          "ratio":{"type":"number"},
          "tags":{"type":"array","items":{"$ref":"#/$defs/tag"},"minItems":1,"maxItems":2},
          "pair":{"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}],"items":false},
          "note":{"type":["string","null"]},
          "code":{"type":"string","minLength":2,"maxLength":3},
          "extra":{"type":"object","additionalProperties":{"type":"integer"}},
          "either":{"anyOf":[{"type":"integer"},{"const":{"k":[1,2]}}]}
        },"required":["decision","amount"],"additionalProperties":false,
        "$defs":{"tag":{"enum":["fire","water"]}}}
        """##

    @Test func answersAreCheckedAgainstTheSchema() throws {
        let schema = try ResponseSchema.parse(try Self.member(Self.claim))
        let valid = [
            ##"{"decision":"approve","amount":999}"##,
            ##"{"amount":0.0,"decision":"refer","ratio":-1.5e3,"tags":["fire"],"note":null,"code":"éé","extra":{"a":1}}"##,
            ##"{"decision":"refer","amount":5,"either":{"k":[1,2.0]},"pair":["x",true]}"##,
            ##"{"decision":"refer","amount":5,"either":7,"note":"text"}"##,
        ]
        for answer in valid { #expect(schema.violation(ofText: answer) == nil, "\(answer): \(schema.violation(ofText: answer) ?? "")") }
        let invalid: [(String, String)] = [
            (##"{"decision":"approve"}"##, "lacks the required property 'amount'"),
            (##"{"decision":"deny","amount":1}"##, "$.decision is not one of"),
            (##"{"decision":"approve","amount":1000}"##, "above the maximum 999"),
            (##"{"decision":"approve","amount":-1}"##, "below the minimum 0"),
            (##"{"decision":"approve","amount":1.5}"##, "$.amount is a number, not integer"),
            (##"{"decision":"approve","amount":true}"##, "$.amount is a boolean"),
            (##"{"decision":"approve","amount":1,"tags":[]}"##, "at least 1"),
            (##"{"decision":"approve","amount":1,"tags":["fire","water","fire"]}"##, "at most 2"),
            (##"{"decision":"approve","amount":1,"tags":["smoke"]}"##, "$.tags[0] is not one of"),
            (##"{"decision":"approve","amount":1,"code":"a"}"##, "at least 2"),
            (##"{"decision":"approve","amount":1,"extra":{"a":"b"}}"##, "$.extra.a is a string"),
            (##"{"decision":"approve","amount":1,"other":1}"##, "does not allow"),
            (##"{"decision":"approve","amount":1,"either":{"k":[1]}}"##, "none of the schema's anyOf"),
            (##"{"decision":"approve","amount":1,"pair":["x",true,3]}"##, "$.pair"),
            ("{\"decision\":\"approve\",\"amount\":1,\"note\":\"a\u{13}b\"}", "not valid JSON"),
            (##"{"decision":"approve","amount":1}{}"##, "not valid JSON"),
            (##"[1]"##, "$ is an array, not object"),
        ]
        for (answer, phrase) in invalid {
            let problem = schema.violation(ofText: answer)
            #expect(problem?.contains(phrase) == true, "\(answer): \(problem ?? "accepted")")
        }
    }
}
