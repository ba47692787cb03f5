import AirlockCore
import StrictYAML
import Testing

@Suite struct StrictYAMLTests {
    struct Spec: Decodable, Equatable {
        var name: String
        var adapters: [Adapter]?
        var service: Service?
        var labels: [String: String]?

        struct Adapter: Decodable, Equatable {
            var name: String
            var path: String
        }

        struct Service: Decodable, Equatable {
            var context: Int?
            var parallel: Int?
            var streaming: Bool?
        }
    }

    func refusal<T: Decodable>(_ type: T.Type, _ text: String) -> String {
        do {
            _ = try StrictYAML.decode(type, from: text, origin: "spec.yaml")
            return "accepted"
        } catch {
            #expect(error.code == .invalidInput, "\(error)")
            return error.description
        }
    }

    @Test func decodesWhatTheTypeReads() throws {
        let spec = try StrictYAML.decode(
            Spec.self,
            from: """
                name: claims
                adapters:
                  - { name: a, path: a.gguf }
                  - name: b
                    path: "b.gguf"
                service: { context: 4096, parallel: +4, streaming: true }
                labels: { team: ml, "cost centre": "42" }
                """, origin: "spec.yaml")
        #expect(
            spec
                == Spec(
                    name: "claims", adapters: [.init(name: "a", path: "a.gguf"), .init(name: "b", path: "b.gguf")],
                    service: .init(context: 4096, parallel: 4, streaming: true), labels: ["team": "ml", "cost centre": "42"]))
    }

    @Test func aMisspelledKeyIsRefusedNamingTheNearestKnownOne() {
        let message = refusal(Spec.self, "name: claims\nadaptors:\n  - { name: a, path: a.gguf }\n")
        #expect(message.hasPrefix("spec.yaml: unknown key 'adaptors' at the top level (did you mean 'adapters'?"), "\(message)")
    }

    @Test func anUnknownKeyDeepInsideIsNamedWithItsPath() {
        let message = refusal(Spec.self, "name: c\nadapters:\n  - { name: a, path: a }\n  - { name: b, path: b, scale: 2 }\n")
        #expect(message.contains("unknown key 'scale' in 'adapters[2]'"), "\(message)")
        #expect(message.contains("known here: name, path"), "\(message)")
        let far = refusal(Spec.self, "name: c\nservice: { zzzzzz: 1 }\n")
        #expect(far.contains("unknown key 'zzzzzz' in 'service'") && !far.contains("did you mean"), "\(far)")
    }

    @Test func duplicateKeysAreRefused() {
        #expect(refusal(Spec.self, "name: a\nname: b\n").contains("spec.yaml"))
        #expect(refusal(Spec.self, "name: a\nname: b\n") != "accepted")
    }

    @Test func wrongKindsOfValueAreRefusedWithThePath() {
        #expect(refusal(Spec.self, "name: c\nservice: { context: many }\n").contains("'service.context' must be a whole number, not 'many'"))
        #expect(refusal(Spec.self, "name: c\nservice: { context: \"4096\" }\n").contains("'service.context' must be a whole number without quotes"))
        #expect(refusal(Spec.self, "name: c\nservice: { context: 1.5 }\n").contains("must be a whole number, not '1.5'"))
        #expect(refusal(Spec.self, "name: c\nservice: { streaming: yes }\n").contains("'service.streaming' must be true or false, not 'yes'"))
        #expect(refusal(Spec.self, "name: [a]\n").contains("'name' must be text, not a list"))
        #expect(refusal(Spec.self, "name:\n").contains("'name' must be text, not empty"))
        #expect(refusal(Spec.self, "name: c\nadapters: { name: a }\n").contains("'adapters' must be a list, not a mapping"))
        #expect(refusal(Spec.self, "- name\n").contains("must be a mapping of keys, not a list"))
        #expect(refusal(Spec.self, "name: c\nservice: { context: 99999999999999999999 }\n").contains("must be a whole number"))
    }

    @Test func missingRequiredKeysAreNamed() {
        #expect(refusal(Spec.self, "adapters: []\n").contains("spec.yaml: missing key 'name' at the top level"))
        #expect(refusal(Spec.self, "name: c\nadapters: [{ name: a }]\n").contains("missing key 'path' in 'adapters[1]'"))
    }

    @Test func anchorsAndAliasesAreRefused() {
        let message = refusal(Spec.self, "name: &n claims\nlabels: { a: *n }\n")
        #expect(message.contains("anchors and aliases"), "\(message)")
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nname: c\n"
        #expect(refusal(Spec.self, bomb).contains("anchors and aliases"))
    }

    @Test func syntaxErrorsAndOversizedFilesAreRefused() {
        #expect(refusal(Spec.self, "name: [\n").hasPrefix("spec.yaml is not valid YAML"))
        let huge = "name: c\nlabels:\n" + String(repeating: "  k: v\n", count: StrictYAML.maximumBytes / 6 + 1)
        #expect(refusal(Spec.self, huge).contains("larger than"))
    }

    struct Optional: Decodable { var limit: Int? }

    @Test func anEmptyDocumentIsAnEmptyMapping() throws {
        #expect(try StrictYAML.decode(Optional.self, from: "", origin: "x").limit == nil)
        #expect(try StrictYAML.decode(Optional.self, from: "# only a comment\n", origin: "x").limit == nil)
        #expect(refusal(Spec.self, "").contains("missing key 'name'"))
    }

    @Test func aMissingFileIsNilAndAFolderIsRefused() throws {
        #expect(try StrictYAML.load(Optional.self, path: "/nonexistent/airlock/x.yaml") == nil)
        #expect(throws: AirlockError.self) { try StrictYAML.load(Optional.self, path: "/tmp") }
    }
}
