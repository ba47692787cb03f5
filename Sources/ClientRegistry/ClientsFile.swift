public import AirlockCore
public import Signing
internal import Foundation
internal import StrictYAML

/// One API client: who it is, its key id, the scrypt hash of its key, and the models it may use.
public struct APIClient: Sendable, Hashable {
    /// `[a-z0-9][a-z0-9._-]*`, at most 64 characters: what the audit log names it by.
    public var name: String
    /// The public part of its key (`alk_<key id>_…`), unique in the file.
    public var keyID: String
    /// scrypt of the whole key; the key itself is never stored.
    public var keyHash: PasswordHash
    /// Model ids it may use: adapter names, a bundle's name for its base model, or `*` for all.
    public var adapters: [String]
    /// When it was added (UTC, `2026-11-29T08:00:00Z`).
    public var created: String
    /// When its key was revoked, if it was.
    public var revoked: String?
    /// Whether it may read `GET /metrics` (a monitoring system's key; off unless asked for).
    public var readsMetrics: Bool

    public init(
        name: String, keyID: String, keyHash: PasswordHash, adapters: [String], created: String, revoked: String? = nil,
        readsMetrics: Bool = false
    ) {
        self.name = name
        self.keyID = keyID
        self.keyHash = keyHash
        self.adapters = adapters
        self.created = created
        self.revoked = revoked
        self.readsMetrics = readsMetrics
    }

    public var isRevoked: Bool { revoked != nil }

    /// `alk_<key id>`: how logs and audit records name the key.
    public var presentedKeyID: String { ClientKey.prefix + keyID }

    /// Whether this client may use the model `model` (an adapter's name or a bundle's name).
    public func mayUse(model: String) -> Bool {
        adapters.contains(ClientsFile.allModels) || adapters.contains(model)
    }
}

/// `ROOT/etc/airlock/clients.yaml`: every API client, active and revoked. Written only by
/// `airlock clients add|revoke` (atomically, mode 0640, under a lock); read strictly.
///
/// ```yaml
/// version: 1
/// clients:
///   - name: "teller-app"
///     key_id: "q3vmx7d2kf4a"
///     kdf: { algorithm: scrypt, n: 32768, r: 8, p: 1 }
///     salt: "…base64…"
///     hash: "…base64…"
///     adapters: ["claims", "legal"]
///     created: "2026-11-29T08:00:00Z"
///     revoked: "2026-12-01T10:00:00Z"     # only once revoked
///   - name: "prometheus"
///     …
///     adapters: []                          # may use no model…
///     metrics: true                         # …but may read GET /metrics
/// ```
/// Loading refuses, naming the file and the entry: unknown fields, a missing field, bad base64,
/// scrypt parameters cheaper than the defaults, two active clients with one name, two entries
/// with one key id, and a file that group or others may write.
public struct ClientsFile: Sendable, Equatable {
    public static let formatVersion = 1
    /// The model id that stands for every model.
    public static let allModels = "*"
    /// The file's mode: root reads and writes, the gateway's group reads, others nothing.
    public static let mode: UInt32 = 0o640

    public var clients: [APIClient]

    public init(clients: [APIClient] = []) { self.clients = clients }

    /// The active (not revoked) client named `name`.
    public func activeClient(named name: String) -> APIClient? {
        clients.first { $0.name == name && !$0.isRevoked }
    }

    // MARK: Changing

    /// Adds a client with a fresh key, which is returned: the only time it exists in clear.
    /// Refuses a name an active client has, and model ids that are not `*` or a model name.
    /// A client with `readsMetrics` may read `/metrics` and may have no model at all.
    public mutating func add(
        name: String, adapters: [String], readsMetrics: Bool = false, secondsSince1970: Int,
        parameters: KeyDerivation.ScryptParameters = .standard
    ) throws(AirlockError) -> ClientKey {
        try Self.check(name: name)
        try Self.check(adapters: adapters, readsMetrics: readsMetrics)
        if let existing = activeClient(named: name) {
            throw AirlockError(
                .refused,
                "a client named '\(name)' already exists (key \(existing.presentedKeyID), added \(existing.created)): revoke it first to give it a new key, or choose another name"
            )
        }
        var key = try ClientKey.generate()
        while clients.contains(where: { $0.keyID == key.keyID }) { key = try ClientKey.generate() }
        let hash = try PasswordHash.make(password: key.hashInput, parameters: parameters)
        clients.append(
            APIClient(
                name: name, keyID: key.keyID, keyHash: hash, adapters: adapters, created: UTCTime.text(secondsSince1970: secondsSince1970),
                readsMetrics: readsMetrics))
        return key
    }

    /// Marks the active client `name` revoked; refuses an unknown or already revoked one.
    @discardableResult
    public mutating func revoke(name: String, secondsSince1970: Int) throws(AirlockError) -> APIClient {
        guard let index = clients.firstIndex(where: { $0.name == name && !$0.isRevoked }) else {
            if let revoked = clients.last(where: { $0.name == name }) {
                throw AirlockError(.refused, "client '\(name)' is already revoked (key \(revoked.presentedKeyID), since \(revoked.revoked ?? "?"))")
            }
            throw AirlockError(.refused, "no client named '\(name)' ('airlock clients list' shows them)")
        }
        clients[index].revoked = UTCTime.text(secondsSince1970: secondsSince1970)
        return clients[index]
    }

    // MARK: Names

    static func check(name: String) throws(AirlockError) {
        let bytes = Array(name.utf8)
        let allowed = bytes.allSatisfy { byte in
            isLowerAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard !bytes.isEmpty, bytes.count <= 64, allowed, isLowerAlphanumeric(bytes[0]) else {
            throw AirlockError(
                .invalidInput, "client name '\(name)' is not allowed: use 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
        }
    }

    static func check(adapters: [String], readsMetrics: Bool) throws(AirlockError) {
        guard !adapters.isEmpty || readsMetrics else {
            throw AirlockError(
                .invalidInput,
                "a client needs at least one model it may use (an adapter name, the bundle name for the base model, or '*'), or the right to read /metrics"
            )
        }
        for model in adapters where model != allModels {
            let bytes = Array(model.utf8)
            let allowed = bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            guard !bytes.isEmpty, bytes.count <= 64, allowed, bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else {
                throw AirlockError(.invalidInput, "model id '\(model)' is not an adapter or bundle name (1 to 64 of a-z, 0-9 and '-') nor '*'")
            }
        }
        guard Set(adapters).count == adapters.count else {
            throw AirlockError(.invalidInput, "a model id is listed twice in \(adapters.joined(separator: ","))")
        }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

// MARK: - The file

extension ClientsFile {
    /// Reads and checks the file; a missing file is an empty one (no clients).
    public static func load(path: String) throws(AirlockError) -> ClientsFile {
        switch try ClientsFileReader.read(path: path) {
        case .missing: return ClientsFile()
        case .contents(let text, _, _): return try parse(text, origin: path)
        }
    }

    /// Parses the file's text strictly; errors name `origin` and the entry.
    public static func parse(_ text: String, origin: String = "clients file") throws(AirlockError) -> ClientsFile {
        func refuse(_ why: String) -> AirlockError { AirlockError(.invalidInput, "\(origin): \(why)") }
        guard let root = try StrictYAML.tree(from: text, origin: origin) else {
            throw refuse("the file is empty (expected 'version: 1' and 'clients:')")
        }
        let top = try fields(of: root, allowed: ["version", "clients"], required: ["version", "clients"], where: "at the top level", refuse)
        guard let version = top["version"]?.integer, version == formatVersion else {
            throw refuse("unsupported version '\(top["version"]?.text ?? "?")' (this Airlock reads version \(formatVersion))")
        }
        guard let entries = top["clients"]?.items else { throw refuse("'clients' must be a list") }
        var file = ClientsFile()
        var keyIDs: [String: Int] = [:]
        var activeNames: [String: Int] = [:]
        for (index, node) in entries.enumerated() {
            let number = index + 1
            let label = node["name"]?.text.map { "client \(number) ('\($0)')" } ?? "client \(number)"
            func refuseEntry(_ why: String) -> AirlockError { refuse("\(label): \(why)") }
            let entry = try fields(
                of: node, allowed: ["name", "key_id", "kdf", "salt", "hash", "adapters", "created", "revoked", "metrics"],
                required: ["name", "key_id", "kdf", "salt", "hash", "adapters", "created"], where: "in \(label)", refuse)
            func string(_ field: String) throws(AirlockError) -> String {
                guard let value = entry[field]?.text else { throw refuseEntry("'\(field)' must be a string") }
                return value
            }
            let name = try string("name")
            do throws(AirlockError) { try check(name: name) } catch { throw refuseEntry(error.message) }
            let keyID = try string("key_id")
            guard ClientKey.isKeyID(keyID) else {
                throw refuseEntry("key_id '\(keyID)' is not \(ClientKey.keyIDLength) characters of lower-case base32")
            }
            guard let kdfNode = entry["kdf"] else { throw refuseEntry("missing field 'kdf'") }
            let kdf = try fields(
                of: kdfNode, allowed: ["algorithm", "n", "r", "p"], required: ["algorithm", "n", "r", "p"], where: "in the kdf of \(label)", refuse)
            guard kdf["algorithm"]?.text == "scrypt" else {
                throw refuseEntry("kdf algorithm '\(kdf["algorithm"]?.text ?? "?")' is not supported (only scrypt)")
            }
            guard let n = kdf["n"]?.integer, let r = kdf["r"]?.integer, let p = kdf["p"]?.integer, n > 0, r > 0, p > 0 else {
                throw refuseEntry("kdf n, r and p must be positive integers")
            }
            let saltText = try string("salt")
            let hashText = try string("hash")
            let hash: PasswordHash
            do throws(AirlockError) {
                // The key length is the stored hash's length (checked against the minimum).
                let stored = Base64.decodedCount(hashText)
                let parameters = KeyDerivation.ScryptParameters(n: UInt64(n), r: UInt64(r), p: UInt64(p), keyLength: stored)
                hash = try PasswordHash(parameters: parameters, saltBase64: saltText, hashBase64: hashText)
            } catch {
                throw refuseEntry(error.message)
            }
            guard let adapterNodes = entry["adapters"]?.items else { throw refuseEntry("'adapters' must be a list") }
            var adapters: [String] = []
            for adapter in adapterNodes {
                guard let model = adapter.text else { throw refuseEntry("every adapter must be a string") }
                adapters.append(model)
            }
            var readsMetrics = false
            if let node = entry["metrics"] {
                guard let flag = node.boolean else { throw refuseEntry("'metrics' must be true or false") }
                readsMetrics = flag
            }
            do throws(AirlockError) { try check(adapters: adapters, readsMetrics: readsMetrics) } catch { throw refuseEntry(error.message) }
            let created = try string("created")
            guard UTCTime.isValid(created) else { throw refuseEntry("created '\(created)' is not a UTC time like 2026-11-29T08:00:00Z") }
            var revoked: String?
            if entry["revoked"] != nil {
                let time = try string("revoked")
                guard UTCTime.isValid(time) else { throw refuseEntry("revoked '\(time)' is not a UTC time like 2026-11-29T08:00:00Z") }
                revoked = time
            }
            if let first = keyIDs[keyID] {
                throw refuseEntry("key_id '\(keyID)' is also the key id of client \(first)")
            }
            keyIDs[keyID] = number
            if revoked == nil {
                if let first = activeNames[name] { throw refuseEntry("client \(first) is also an active client named '\(name)'") }
                activeNames[name] = number
            }
            file.clients.append(
                APIClient(
                    name: name, keyID: keyID, keyHash: hash, adapters: adapters, created: created, revoked: revoked, readsMetrics: readsMetrics))
        }
        return file
    }

    /// The mapping `node` as field name → value; refuses unknown and missing fields.
    private static func fields(
        of node: YAMLTree, allowed: Set<String>, required: [String], where place: String, _ refuse: (String) -> AirlockError
    ) throws(AirlockError) -> [String: YAMLTree] {
        guard let mapping = node.entries else { throw refuse("expected a mapping of fields \(place)") }
        var result: [String: YAMLTree] = [:]
        for entry in mapping {
            let (field, value) = (entry.key, entry.value)
            guard allowed.contains(field) else {
                let hint = StrictYAML.nearest(field, among: allowed.sorted()).map { "did you mean '\($0)'? " } ?? ""
                throw refuse("unknown field '\(field)' \(place) (\(hint)allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            guard result[field] == nil else { throw refuse("field '\(field)' appears twice \(place)") }
            result[field] = value
        }
        for field in required where result[field] == nil { throw refuse("missing field '\(field)' \(place)") }
        return result
    }

    /// The file as YAML, with a header saying how to change it.
    public func yaml() -> String {
        var text = """
            # Airlock API clients. Keys are stored only as salted scrypt hashes.
            # Change it with `airlock clients add|revoke`, not by hand.
            version: \(Self.formatVersion)
            clients:\(clients.isEmpty ? " []" : "")

            """
        for client in clients {
            let parameters = client.keyHash.parameters
            text += """
                  - name: "\(client.name)"
                    key_id: "\(client.keyID)"
                    kdf: { algorithm: scrypt, n: \(parameters.n), r: \(parameters.r), p: \(parameters.p) }
                    salt: "\(client.keyHash.saltBase64)"
                    hash: "\(client.keyHash.hashBase64)"
                    adapters: [\(client.adapters.map { "\"\($0)\"" }.joined(separator: ", "))]
                    created: "\(client.created)"

                """
            if let revoked = client.revoked { text += "    revoked: \"\(revoked)\"\n" }
            if client.readsMetrics { text += "    metrics: true\n" }
        }
        return text
    }

    /// Writes the file atomically with mode 0640, keeping the owner and group an operator gave
    /// the previous file (the gateway's group must keep reading it).
    public func save(path: String) throws(AirlockError) {
        var previous = stat()
        let existed = lstat(path, &previous) == 0 && previous.st_mode & S_IFMT == S_IFREG
        let keep = existed && (previous.st_uid != getuid() || previous.st_gid != getgid())
        try AtomicFile.write(
            Array(yaml().utf8), to: path, mode: Self.mode, owner: keep ? (previous.st_uid, previous.st_gid) : nil)
    }

    /// Loads the file, lets `change` modify it, and saves it, all under an exclusive lock on
    /// `PATH.lock` beside it: concurrent commands run one after another and none is lost.
    /// Nothing is written when `change` throws.
    @discardableResult
    public static func update<Result>(
        path: String, _ change: (inout ClientsFile) throws(AirlockError) -> Result
    ) throws(AirlockError) -> Result {
        let lock = try FileLock(path: path + ".lock")
        defer { lock.release() }
        var file = try load(path: path)
        let result = try change(&file)
        try file.save(path: path)
        return result
    }
}
