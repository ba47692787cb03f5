import AirlockCore
import ClientRegistry
import Foundation
import Signing
import TestSupport
import Testing

@Suite struct ClientKeyTests {
    @Test func generatedKeysHaveTheDocumentedShapeAndParseBack() throws {
        var ids = Set<String>()
        for _ in 0..<50 {
            let key = try ClientKey.generate()
            let text = key.revealed
            #expect(text.count == 60 && text.hasPrefix("alk_\(key.keyID)_"))
            #expect(key.keyID.count == 12 && key.keyID.allSatisfy { "abcdefghijklmnopqrstuvwxyz234567".contains($0) })
            #expect(key.description == "alk_" + key.keyID)
            #expect(!"\(key)".contains(text.suffix(43)))
            let parsed = try #require(ClientKey(parsing: text))
            #expect(parsed.keyID == key.keyID && parsed.revealed == text)
            ids.insert(key.keyID)
        }
        #expect(ids.count == 50)
    }

    @Test func malformedKeysAreRefused() throws {
        let good = try ClientKey.generate().revealed
        let body: String = String(good.dropFirst(4))
        let withoutLast: String = String(good.dropLast())
        var bad: [String] = ["", "alk_", withoutLast, good + "A", "ALK_" + body, "sk-" + String(good.dropFirst(3))]
        bad.append("alk_" + body.uppercased())  // key id not base32 lower-case
        bad.append(String(good.prefix(16)) + "-" + String(good.dropFirst(17)))  // separator
        bad.append(withoutLast + "=")  // not base64url
        bad.append(withoutLast + "/")
        bad.append(withoutLast + "B")  // non-canonical last character
        bad.append(good.replacingOccurrences(of: "_", with: " "))
        for text in bad { #expect(ClientKey(parsing: text) == nil, "\(text)") }
    }
}

@Suite struct ClientsFileTests {
    @Test func addRevokeRoundTripThroughTheFile() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app", adapters: ["claims", "legal"])
        try host.add("batch", adapters: ["*"])
        try host.revoke("batch")
        let file = try ClientsFile.load(path: host.clientsPath)
        #expect(file.clients.map(\.name) == ["teller-app", "batch"])
        let teller = try #require(file.activeClient(named: "teller-app"))
        #expect(teller.keyID == key.keyID && teller.adapters == ["claims", "legal"] && !teller.isRevoked)
        #expect(teller.keyHash.parameters == .standard)
        #expect(try teller.keyHash.matches(password: Array(key.revealed.utf8)))
        #expect(file.clients[1].isRevoked && file.activeClient(named: "batch") == nil)
        // What is written is exactly what is read back, byte for byte.
        #expect(try ClientsFile.parse(file.yaml()) == file)
        #expect(try host.text() == file.yaml())
    }

    @Test func theFileNeverHoldsTheKeyAndIsMode0640() throws {
        let host = try ClientHost()
        defer { host.remove() }
        let key = try host.add("teller-app")
        let text = try host.text()
        let secret = String(key.revealed.dropFirst(17))
        #expect(!text.contains(key.revealed))
        #expect(!text.contains(secret))
        #expect(!text.contains(String(secret.prefix(12))))
        #expect(text.contains(key.keyID))
        #expect(try permissions(host.clientsPath) == 0o640)
        try host.revoke("teller-app")
        #expect(try permissions(host.clientsPath) == 0o640)
    }

    @Test func modelPermissions() throws {
        let hash = try PasswordHash.make(password: Array("k".utf8))
        let some = APIClient(
            name: "a", keyID: "aaaaaaaaaaaa", keyHash: hash, adapters: ["claims", "claims-assistant"], created: "2026-01-01T00:00:00Z")
        #expect(some.mayUse(model: "claims") && some.mayUse(model: "claims-assistant"))
        #expect(!some.mayUse(model: "legal") && !some.mayUse(model: "*") && !some.mayUse(model: "Claims"))
        let all = APIClient(name: "b", keyID: "bbbbbbbbbbbb", keyHash: hash, adapters: ["*"], created: "2026-01-01T00:00:00Z")
        #expect(all.mayUse(model: "legal") && all.mayUse(model: "anything"))
    }

    @Test func addRefusesDuplicateActiveNamesAndBadInput() throws {
        var file = ClientsFile()
        _ = try file.add(name: "teller-app", adapters: ["claims"], secondsSince1970: 0)
        #expect(throws: AirlockError.self) { _ = try file.add(name: "teller-app", adapters: ["legal"], secondsSince1970: 0) }
        #expect(throws: AirlockError.self) { _ = try file.add(name: "Teller", adapters: ["claims"], secondsSince1970: 0) }
        #expect(throws: AirlockError.self) { _ = try file.add(name: "x", adapters: [], secondsSince1970: 0) }
        #expect(throws: AirlockError.self) { _ = try file.add(name: "x", adapters: ["Claims"], secondsSince1970: 0) }
        #expect(throws: AirlockError.self) { _ = try file.add(name: "x", adapters: ["a", "a"], secondsSince1970: 0) }
        // After a revocation the name may be given a new key.
        try file.revoke(name: "teller-app", secondsSince1970: 10)
        let second = try file.add(name: "teller-app", adapters: ["claims"], secondsSince1970: 20)
        #expect(file.clients.count == 2 && file.activeClient(named: "teller-app")?.keyID == second.keyID)
        #expect(try ClientsFile.parse(file.yaml()) == file)
    }

    @Test func theMetricsRightIsExplicitAndRoundTrips() throws {
        var file = ClientsFile()
        _ = try file.add(name: "teller-app", adapters: ["claims"], secondsSince1970: 0)
        _ = try file.add(name: "prometheus", adapters: [], readsMetrics: true, secondsSince1970: 0)
        #expect(file.activeClient(named: "teller-app")?.readsMetrics == false)
        let monitor = try #require(file.activeClient(named: "prometheus"))
        #expect(monitor.readsMetrics && monitor.adapters.isEmpty && !monitor.mayUse(model: "claims"))
        let text = file.yaml()
        #expect(text.components(separatedBy: "metrics: true").count == 2, "\(text)")
        #expect(try ClientsFile.parse(text) == file)
        // Only `true` and `false`; YAML 1.1's yes/on are refused rather than guessed.
        for value in ["yes", "on", "1", "\"true\"x", "[true]"] {
            let edited = text.replacingOccurrences(of: "metrics: true", with: "metrics: \(value)")
            #expect(throws: AirlockError.self, "\(value)") { _ = try ClientsFile.parse(edited) }
        }
        // A client with neither a model nor the metrics right is refused.
        let useless = text.replacingOccurrences(of: "metrics: true", with: "metrics: false")
        #expect(throws: AirlockError.self) { _ = try ClientsFile.parse(useless) }
    }

    @Test func revokeRefusesTwiceAndUnknown() throws {
        var file = ClientsFile()
        _ = try file.add(name: "a", adapters: ["claims"], secondsSince1970: 0)
        try file.revoke(name: "a", secondsSince1970: 1)
        #expect(file.clients[0].revoked == "1970-01-01T00:00:01Z")
        let twice = #expect(throws: AirlockError.self) { try file.revoke(name: "a", secondsSince1970: 2) }
        #expect(twice?.description.contains("already revoked") == true)
        let unknown = #expect(throws: AirlockError.self) { try file.revoke(name: "b", secondsSince1970: 2) }
        #expect(unknown?.description.contains("no client named 'b'") == true)
    }

    // MARK: Strict loading: each hostile or broken file is refused, naming the file and entry.

    static func goodEntry() throws -> (String, ClientKey) {
        var file = ClientsFile()
        let key = try file.add(name: "teller-app", adapters: ["claims"], secondsSince1970: 0)
        return (file.yaml(), key)
    }

    static let brokenEdits: [(name: String, edit: @Sendable (String) -> String, reason: String)] = [
        (
            "unknown field", { $0.replacingOccurrences(of: "    created:", with: "    secret: \"x\"\n    created:") },
            "unknown field 'secret' in client 1 ('teller-app')"
        ),
        ("unknown top-level field", { $0 + "extra: 1\n" }, "unknown field 'extra' at the top level"),
        (
            "misspelled field", { $0.replacingOccurrences(of: "    adapters:", with: "    adaptors:") },
            "unknown field 'adaptors' in client 1 ('teller-app') (did you mean 'adapters'?"
        ),
        ("anchors", { $0.replacingOccurrences(of: "[\"claims\"]", with: "&a [\"claims\"]") }, "anchors and aliases"),
        ("missing hash", { $0.replacingOccurrences(of: "    hash:", with: "    #hash:") }, "missing field 'hash' in client 1 ('teller-app')"),
        (
            "bad base64", { $0.replacingOccurrences(of: "    hash: \"", with: "    hash: \"!") },
            "client 1 ('teller-app'): the hash is not canonical base64"
        ),
        (
            "weak n", { $0.replacingOccurrences(of: "n: 32768", with: "n: 1024") },
            "client 1 ('teller-app'): scrypt N=1024 r=8 p=1 32-byte key: weaker than the minimum"
        ),
        ("weak r", { $0.replacingOccurrences(of: "r: 8", with: "r: 1") }, "weaker than the minimum"),
        ("other kdf", { $0.replacingOccurrences(of: "algorithm: scrypt", with: "algorithm: md5") }, "kdf algorithm 'md5' is not supported"),
        (
            "kdf unknown field", { $0.replacingOccurrences(of: "p: 1 }", with: "p: 1, maxmem: 1 }") },
            "unknown field 'maxmem' in the kdf of client 1 ('teller-app')"
        ),
        ("wrong version", { $0.replacingOccurrences(of: "version: 1", with: "version: 2") }, "unsupported version '2'"),
        ("bad time", { $0.replacingOccurrences(of: "1970-01-01T00:00:00Z", with: "yesterday") }, "created 'yesterday' is not a UTC time"),
        ("bad key id", { $0.replacingOccurrences(of: "key_id: \"", with: "key_id: \"X") }, "is not 12 characters of lower-case base32"),
        ("bad model", { $0.replacingOccurrences(of: "[\"claims\"]", with: "[\"../etc\"]") }, "model id '../etc' is not an adapter or bundle name"),
        ("not yaml", { _ in "clients: [\n" }, "is not valid YAML"),
        ("empty", { _ in "" }, "the file is empty"),
        ("clients not a list", { _ in "version: 1\nclients: 3\n" }, "'clients' must be a list"),
    ]

    @Test(arguments: 0..<brokenEdits.count)
    func brokenFilesAreRefusedNamingTheFileAndEntry(index: Int) throws {
        let (text, _) = try Self.goodEntry()
        let edit = Self.brokenEdits[index]
        let edited = edit.edit(text)
        #expect(edited != text || edit.name == "empty", "the edit '\(edit.name)' changed nothing")
        let error = #expect(throws: AirlockError.self) { try ClientsFile.parse(edited, origin: "/etc/airlock/clients.yaml") }
        #expect(error?.description.hasPrefix("/etc/airlock/clients.yaml") == true, "\(String(describing: error))")
        #expect(error?.description.contains(edit.reason) == true, "\(edit.name): \(String(describing: error))")
    }

    @Test func duplicateKeyIDsAndDuplicateActiveNamesAreRefused() throws {
        let (text, _) = try Self.goodEntry()
        let entry = String(text[text.range(of: "  - name:")!.lowerBound...])
        let twice = text + entry
        let error = #expect(throws: AirlockError.self) { try ClientsFile.parse(twice, origin: "clients.yaml") }
        #expect(error?.description.contains("client 2 ('teller-app'): key_id") == true, "\(String(describing: error))")
        // Same name, another key id, both active.
        var file = ClientsFile()
        _ = try file.add(name: "a", adapters: ["claims"], secondsSince1970: 0)
        _ = try file.add(name: "b", adapters: ["claims"], secondsSince1970: 0)
        let renamed = file.yaml().replacingOccurrences(of: "name: \"b\"", with: "name: \"a\"")
        let names = #expect(throws: AirlockError.self) { try ClientsFile.parse(renamed, origin: "clients.yaml") }
        #expect(names?.description.contains("client 2 ('a'): client 1 is also an active client named 'a'") == true, "\(String(describing: names))")
    }

    @Test func aFileOthersMayWriteIsRefused() throws {
        let host = try ClientHost()
        defer { host.remove() }
        try host.add("a")
        chmod(host.clientsPath, 0o666)
        let error = #expect(throws: AirlockError.self) { try ClientsFile.load(path: host.clientsPath) }
        #expect(error?.description.contains("may be written by group or others") == true)
    }

    @Test func aMissingFileIsNoClients() throws {
        let host = try ClientHost()
        defer { host.remove() }
        #expect(try ClientsFile.load(path: host.clientsPath).clients.isEmpty)
    }
}
