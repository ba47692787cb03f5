public import AirlockCore
public import Foundation
internal import StrictYAML

/// The target host's trust policy (`ROOT/etc/airlock/trust.yaml`): which public keys and which
/// CAs may sign bundles, which bundle names each may sign, and how many distinct trusted signers
/// a bundle needs (k of n). Operators change it only through `airlock trust ...`.
public struct TrustPolicy: Sendable, Equatable {
    /// Distinct trusted signatures a bundle needs.
    public var threshold: Int
    public var keys: [TrustedKey]
    public var authorities: [TrustedAuthority]

    public struct TrustedKey: Sendable, Equatable {
        /// `sha256:` of the DER SubjectPublicKeyInfo; what signatures name as their key id.
        public var id: String
        public var algorithm: SignatureAlgorithm
        /// Bundle-name patterns it may sign (`*` matches any run of characters).
        public var names: [String]
        public var added: String
        public var publicKey: PublicKey
    }

    public struct TrustedAuthority: Sendable, Equatable {
        /// `sha256:` of the certificate's DER.
        public var id: String
        public var subject: String
        public var names: [String]
        public var added: String
        public var certificate: Certificate
    }

    /// Keys and certificates no signature may count for, whatever else trusts them: a key by its
    /// id (directly trusted, or inside any certificate), a certificate by its fingerprint
    /// (leaf, intermediate or CA: no chain through it counts). Kept for good: there is no
    /// `unrevoke` (a revocation undone by mistake would be worse than one made by mistake; the
    /// file is root's to edit, and `airlock verify` says which entry refused).
    public var revoked: [Revocation] = []

    public struct Revocation: Sendable, Equatable, Encodable {
        public enum Kind: String, Sendable, Encodable { case key, certificate }
        public var kind: Kind
        /// `sha256:` id of the key, or the certificate's `sha256:` fingerprint.
        public var id: String
        /// For a certificate: the id of the key it certifies (what installed bundles record).
        public var key: String?
        /// For a certificate: its subject, for people reading the list.
        public var subject: String?
        public var reason: String
        public var revoked: String
    }

    public init(threshold: Int = 1, keys: [TrustedKey] = [], authorities: [TrustedAuthority] = []) {
        self.threshold = threshold
        self.keys = keys
        self.authorities = authorities
    }

    // MARK: Changing the policy

    /// Trusts `key` for bundle names matching `names`. Refuses a key already trusted.
    public mutating func add(key: PublicKey, names: [String], at date: Date = Date()) throws(AirlockError) {
        guard !keys.contains(where: { $0.id == key.keyID }) else {
            throw AirlockError(.invalidInput, "key \(key.keyID) is already trusted")
        }
        try Self.validate(patterns: names)
        keys.append(TrustedKey(id: key.keyID, algorithm: key.algorithm, names: names, added: Self.timestamp(date), publicKey: key))
    }

    /// Trusts certificates issued under `certificate` (a root or intermediate CA).
    public mutating func add(authority certificate: Certificate, names: [String], at date: Date = Date()) throws(AirlockError) {
        let id = certificate.fingerprint.description
        guard !authorities.contains(where: { $0.id == id }) else {
            throw AirlockError(.invalidInput, "CA \(certificate.subject) is already trusted")
        }
        try Self.validate(patterns: names)
        authorities.append(
            TrustedAuthority(id: id, subject: certificate.subject, names: names, added: Self.timestamp(date), certificate: certificate))
    }

    /// What `add(pem:names:)` trusted: its id and a line saying what it is.
    public struct Added: Sendable, Equatable {
        public var id: String
        public var description: String
    }

    /// Trusts what the PEM holds: a CA certificate (a `CERTIFICATE` block) or a public key.
    public mutating func add(pem bytes: [UInt8], names: [String], at date: Date = Date()) throws(AirlockError) -> Added {
        if String(decoding: bytes, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") {
            let certificate = try Certificate(pem: bytes)
            try add(authority: certificate, names: names, at: date)
            let id = certificate.fingerprint.description
            return Added(id: id, description: "CA \(certificate.subject) \(id)")
        }
        let key = try PublicKey(pem: bytes)
        try add(key: key, names: names, at: date)
        return Added(id: key.keyID, description: "key \(key.keyID) (\(key.algorithm.rawValue))")
    }

    /// Removes the key or CA whose id is `id` or starts with `id` (at least 8 hex digits, unique).
    /// Refuses when that would leave fewer trusted signers than the threshold.
    @discardableResult
    public mutating func remove(id: String) throws(AirlockError) -> String {
        let wanted = id.hasPrefix("sha256:") ? id : "sha256:" + id
        guard wanted.count >= 15 else { throw AirlockError(.invalidInput, "give at least 8 hex digits of the id to remove") }
        let keyMatches = keys.filter { $0.id.hasPrefix(wanted) }
        let caMatches = authorities.filter { $0.id.hasPrefix(wanted) }
        guard keyMatches.count + caMatches.count == 1 else {
            throw AirlockError(
                .invalidInput,
                keyMatches.isEmpty && caMatches.isEmpty
                    ? "no trusted key or CA has id \(id)" : "id \(id) matches more than one entry; give more digits")
        }
        guard keys.count + authorities.count - 1 >= threshold else {
            throw AirlockError(.invalidInput, "removing \(id) would leave fewer trusted signers than the threshold (\(threshold)); lower it first")
        }
        if let key = keyMatches.first {
            keys.removeAll { $0.id == key.id }
            return key.id
        }
        let authority = caMatches[0]
        authorities.removeAll { $0.id == authority.id }
        return authority.id
    }

    /// Sets k of k-of-n. Refuses 0 and more than the trusted signers there are.
    /// The revocation that names this key id (directly, or as a revoked certificate's key).
    public func revocation(ofKey keyID: String) -> Revocation? {
        revoked.first { ($0.kind == .key && $0.id == keyID) || $0.key == keyID }
    }

    /// The revocation that names this certificate.
    public func revocation(of certificate: Certificate) -> Revocation? {
        let fingerprint = certificate.fingerprint.description
        return revoked.first { $0.kind == .certificate && $0.id == fingerprint }
    }

    /// Revokes what `target` names: a PEM (a public key, or a certificate: leaf, intermediate
    /// or CA), a full key id (`sha256:` and 64 hex digits), or the id (or its first 8 or more hex
    /// digits) of a trusted key or CA. Revoking twice is refused.
    public mutating func revoke(pem: [UInt8]?, id target: String?, reason: String, at date: Date = Date()) throws(AirlockError) -> Revocation {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 500, !reason.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw AirlockError(.invalidInput, "give the reason in one line of at most 500 characters (--reason)")
        }
        var revocation: Revocation
        let now = Self.timestamp(date)
        if let pem {
            let text = String(decoding: pem, as: UTF8.self)
            if text.contains("-----BEGIN CERTIFICATE-----") {
                let certificate = try Certificate(pem: pem)
                revocation = Revocation(
                    kind: .certificate, id: certificate.fingerprint.description, key: try? certificate.publicKey.keyID,
                    subject: certificate.subject, reason: reason, revoked: now)
            } else {
                let key = try PublicKey(pem: pem)
                revocation = Revocation(kind: .key, id: key.keyID, key: nil, subject: nil, reason: reason, revoked: now)
            }
        } else if let target {
            let wanted = target.lowercased()
            let bare = wanted.hasPrefix("sha256:") ? String(wanted.dropFirst(7)) : wanted
            guard bare.count >= 8, bare.allSatisfy(\.isHexDigit) else {
                throw AirlockError(.invalidInput, "'\(target)' is neither a PEM file nor a key or certificate id (sha256: and hex digits)")
            }
            let keyMatches = keys.filter { $0.id.dropFirst(7).hasPrefix(bare) }
            let authorityMatches = authorities.filter { $0.id.dropFirst(7).hasPrefix(bare) }
            if keyMatches.count + authorityMatches.count > 1 {
                throw AirlockError(.invalidInput, "'\(target)' matches more than one trusted key or CA: give more of its digits")
            }
            if let key = keyMatches.first {
                revocation = Revocation(kind: .key, id: key.id, key: nil, subject: nil, reason: reason, revoked: now)
            } else if let authority = authorityMatches.first {
                revocation = Revocation(
                    kind: .certificate, id: authority.id, key: try? authority.certificate.publicKey.keyID, subject: authority.subject,
                    reason: reason, revoked: now)
            } else if bare.count == 64 {
                // A key this policy never trusted directly (a leaf certificate's key, say).
                revocation = Revocation(kind: .key, id: "sha256:" + bare, key: nil, subject: nil, reason: reason, revoked: now)
            } else {
                throw AirlockError(
                    .invalidInput,
                    "no trusted key or CA has an id starting with '\(target)'; to revoke another key give its full id or its PEM file")
            }
        } else {
            throw AirlockError(.invalidInput, "name what to revoke: a PEM file or an id")
        }
        if let earlier = revoked.first(where: { $0.kind == revocation.kind && $0.id == revocation.id }) {
            throw AirlockError(.refused, "\(revocation.id) is already revoked (since \(earlier.revoked): \(earlier.reason))")
        }
        revoked.append(revocation)
        return revocation
    }

    public mutating func setThreshold(_ count: Int) throws(AirlockError) {
        guard count >= 1 else { throw AirlockError(.invalidInput, "the threshold must be at least 1") }
        guard count <= keys.count + authorities.count else {
            throw AirlockError(.invalidInput, "the threshold \(count) is more than the \(keys.count + authorities.count) trusted signers")
        }
        threshold = count
    }

    // MARK: Deciding

    /// Whether `pattern` (with `*` wildcards) matches the whole bundle `name`.
    public static func matches(pattern: String, name: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 1 { return pattern == name }
        var rest = Substring(name)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts.last ?? "")
    }

    static func allows(_ patterns: [String], name: String) -> Bool {
        patterns.contains { matches(pattern: $0, name: name) }
    }

    private static func validate(patterns: [String]) throws(AirlockError) {
        guard !patterns.isEmpty else { throw AirlockError(.invalidInput, "give at least one bundle-name pattern") }
        for pattern in patterns {
            let allowed =
                !pattern.isEmpty
                && pattern.utf8.allSatisfy {
                    (97...122).contains($0) || (48...57).contains($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "*")
                }
            guard allowed else {
                throw AirlockError(.invalidInput, "name pattern '\(pattern)' may hold only a-z, 0-9, '-' and '*'")
            }
        }
    }

    static func timestamp(_ date: Date) -> String { UTCTime.text(secondsSince1970: Int(date.timeIntervalSince1970)) }
}

// MARK: - The file

extension TrustPolicy {
    /// Reads the policy; a missing file is an empty policy (nothing trusted, threshold 1).
    public static func load(path: String) throws(AirlockError) -> TrustPolicy {
        guard let bytes = try FileBytes.readIfPresent(path: path, limit: StrictYAML.maximumBytes) else { return TrustPolicy() }
        return try parse(String(decoding: bytes, as: UTF8.self), origin: path)
    }

    /// Parses policy text, checking every key and certificate in it.
    public static func parse(_ text: String, origin: String = "trust policy") throws(AirlockError) -> TrustPolicy {
        let raw = try StrictYAML.decode(RawPolicy.self, from: text, origin: origin)
        var policy = TrustPolicy(threshold: raw.threshold)
        for key in raw.keys ?? [] {
            let publicKey = try PublicKey(pem: Array(key.publicKey.utf8))
            guard publicKey.keyID == key.id else {
                throw AirlockError(.invalidInput, "\(origin): key \(key.id) does not match its public key (\(publicKey.keyID))")
            }
            if let algorithm = key.algorithm, algorithm != publicKey.algorithm.rawValue {
                throw AirlockError(
                    .invalidInput, "\(origin): key \(key.id) says algorithm \(algorithm), its public key is \(publicKey.algorithm.rawValue)")
            }
            try validate(patterns: key.names)
            policy.keys.append(TrustedKey(id: key.id, algorithm: publicKey.algorithm, names: key.names, added: key.added, publicKey: publicKey))
        }
        for authority in raw.authorities ?? [] {
            let certificate = try Certificate(pem: Array(authority.certificate.utf8))
            guard certificate.fingerprint.description == authority.id else {
                throw AirlockError(.invalidInput, "\(origin): CA \(authority.id) does not match its certificate")
            }
            try validate(patterns: authority.names)
            policy.authorities.append(
                TrustedAuthority(
                    id: authority.id, subject: certificate.subject, names: authority.names, added: authority.added, certificate: certificate))
        }
        for entry in raw.revoked ?? [] {
            guard let kind = Revocation.Kind(rawValue: entry.kind) else {
                throw AirlockError(.invalidInput, "\(origin): revoked entry \(entry.id): kind must be key or certificate")
            }
            let bare = entry.id.hasPrefix("sha256:") ? entry.id.dropFirst(7) : ""
            guard bare.count == 64, bare.allSatisfy(\.isHexDigit) else {
                throw AirlockError(.invalidInput, "\(origin): revoked entry '\(entry.id)' is not a sha256: id")
            }
            policy.revoked.append(
                Revocation(kind: kind, id: entry.id, key: entry.key, subject: entry.subject, reason: entry.reason, revoked: entry.revoked))
        }
        guard policy.threshold >= 1 else { throw AirlockError(.invalidInput, "\(origin): threshold must be at least 1") }
        return policy
    }

    /// The policy as YAML, with a header saying how to change it.
    public func yaml() -> String {
        func block(_ pem: [UInt8]) -> String {
            String(decoding: pem, as: UTF8.self).split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        }
        func list(_ names: [String]) -> String { "[" + names.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        var text = """
            # Airlock trust policy: who may sign which bundles, and how many signatures a bundle needs.
            # Change it with `airlock trust add|remove|threshold|revoke`, not by hand.
            threshold: \(threshold)
            keys:\(keys.isEmpty ? " []" : "")

            """
        for key in keys {
            text += """
                  - id: "\(key.id)"
                    algorithm: \(key.algorithm.rawValue)
                    names: \(list(key.names))
                    added: "\(key.added)"
                    public_key: |
                \(block(key.publicKey.spkiPEM))

                """
        }
        text += "authorities:\(authorities.isEmpty ? " []" : "")\n"
        for authority in authorities {
            text += """
                  - id: "\(authority.id)"
                    subject: "\(authority.subject.replacingOccurrences(of: "\"", with: "'"))"
                    names: \(list(authority.names))
                    added: "\(authority.added)"
                    certificate: |
                \(block(authority.certificate.pem))

                """
        }
        text += "revoked:\(revoked.isEmpty ? " []" : "")\n"
        func quoted(_ value: String) -> String {
            let plain = String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
            return "\"" + plain.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        for entry in revoked {
            text += "  - kind: \(entry.kind.rawValue)\n    id: \"\(entry.id)\"\n"
            if let key = entry.key { text += "    key: \"\(key)\"\n" }
            if let subject = entry.subject { text += "    subject: \(quoted(subject))\n" }
            text += "    reason: \(quoted(entry.reason))\n    revoked: \"\(entry.revoked)\"\n"
        }
        return text
    }

    /// Writes the policy atomically (temporary file, fsync, rename, fsync of the folder), 0644.
    public func save(path: String) throws(AirlockError) {
        try AtomicFile.write(Array(yaml().utf8), to: path, mode: 0o644)
    }

    /// Loads the policy, lets `change` modify it, and saves it, all under an exclusive lock on
    /// `PATH.lock` beside it: concurrent `airlock trust` commands run one after another and
    /// none is lost. Nothing is written when `change` throws.
    @discardableResult
    public static func update<Result>(
        path: String, _ change: (inout TrustPolicy) throws(AirlockError) -> Result
    ) throws(AirlockError) -> Result {
        try FileLock.holding(path + ".lock") { () throws(AirlockError) -> Result in
            var policy = try load(path: path)
            let result = try change(&policy)
            try policy.save(path: path)
            return result
        }
    }
}

private struct RawPolicy: Decodable {
    var threshold: Int
    var keys: [RawKey]?
    var authorities: [RawAuthority]?
    var revoked: [RawRevocation]?

    struct RawRevocation: Decodable {
        var kind: String
        var id: String
        var key: String?
        var subject: String?
        var reason: String
        var revoked: String
    }

    struct RawKey: Decodable {
        var id: String
        /// Written for people reading the file; checked against the key when present.
        var algorithm: String?
        var names: [String]
        var added: String
        var publicKey: String
        enum CodingKeys: String, CodingKey { case id, algorithm, names, added, publicKey = "public_key" }
    }

    struct RawAuthority: Decodable {
        var id: String
        /// Written for people reading the file; the certificate's own subject is what counts.
        var subject: String?
        var names: [String]
        var added: String
        var certificate: String
    }
}
