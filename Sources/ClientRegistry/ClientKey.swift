public import AirlockCore
internal import Signing

/// An API key: `alk_<key id>_<secret>`, 60 characters.
///
/// - The key id is 12 characters of lower-case base32 (60 random bits): public, safe to log,
///   and what the registry looks a key up by.
/// - The secret is 32 random bytes in unpadded base64url (43 characters, which may themselves
///   hold `_` and `-`): only its scrypt hash (of the whole key) is ever stored.
///
/// `description` is the loggable form `alk_<key id>`; the whole key comes out only through
/// `revealed`, which `airlock clients add` prints once.
public struct ClientKey: Sendable, CustomStringConvertible {
    public static let prefix = "alk_"
    public static let keyIDLength = 12
    public static let secretLength = 43
    public static let length = prefix.utf8.count + keyIDLength + 1 + secretLength

    /// The public key id (without the `alk_` prefix).
    public let keyID: String
    private let text: String

    static let base32 = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    private static let base64URLValues: [UInt8] = table(Base64.urlAlphabet)
    private static let base32Values: [UInt8] = table(base32)

    private static func table(_ alphabet: [UInt8]) -> [UInt8] {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }

    /// A fresh key from OpenSSL's random generator.
    public static func generate() throws(AirlockError) -> ClientKey {
        let idBits = try KeyDerivation.randomBytes(keyIDLength)
        let keyID = String(decoding: idBits.map { base32[Int($0 & 0x1f)] }, as: UTF8.self)
        let secret = try KeyDerivation.randomBytes(32)
        return ClientKey(keyID: keyID, text: prefix + keyID + "_" + Base64.encodeURL(secret))
    }

    /// Parses a presented key; nil unless it has exactly the shape `generate` makes (prefix,
    /// lengths, alphabets, and a canonical last secret character).
    public init?(parsing presented: some StringProtocol) {
        var text = String(presented)
        let keyID: String? = text.withUTF8 { (bytes: UnsafeBufferPointer<UInt8>) -> String? in
            let base32 = Self.base32Values
            let base64 = Self.base64URLValues
            let idStart = 4
            let secretStart = idStart + Self.keyIDLength + 1
            guard bytes.count == Self.length, bytes[0] == UInt8(ascii: "a"), bytes[1] == UInt8(ascii: "l"),
                bytes[2] == UInt8(ascii: "k"), bytes[3] == UInt8(ascii: "_"), bytes[secretStart - 1] == UInt8(ascii: "_")
            else { return nil }
            for index in idStart..<secretStart - 1 where base32[Int(bytes[index])] == 0xff { return nil }
            for index in secretStart..<bytes.count where base64[Int(bytes[index])] == 0xff { return nil }
            // 43 characters carry 258 bits for 256: the last two must be zero (one spelling per key).
            guard base64[Int(bytes[bytes.count - 1])] & 0x03 == 0 else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[idStart..<secretStart - 1]), as: UTF8.self)
        }
        guard let keyID else { return nil }
        self.init(keyID: keyID, text: text)
    }

    private init(keyID: String, text: String) {
        self.keyID = keyID
        self.text = text
    }

    /// `alk_<key id>`: the form that may be logged and audited.
    public var description: String { Self.prefix + keyID }

    /// The whole key, secret included: to print once to the operator, never to log or store.
    public var revealed: String { text }

    /// The bytes scrypt hashes: the whole key, so a hash is bound to its key id too.
    var hashInput: [UInt8] { Array(text.utf8) }

    /// Whether `keyID` has the shape of a key id (for loading files).
    static func isKeyID(_ keyID: String) -> Bool {
        keyID.utf8.count == keyIDLength && keyID.utf8.allSatisfy { base32Values[Int($0)] != 0xff }
    }
}
