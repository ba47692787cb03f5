/// Base64, the one implementation: standard (RFC 4648 §4, with `=` padding) for files and
/// envelopes, strict both ways, and the URL-safe alphabet without padding (§5) for API keys.
///
/// Decoding accepts exactly what `encode` produces: no whitespace or line breaks, no URL-safe
/// alphabet, padding only at the end and only as much as needed, and zero unused bits, so every
/// byte string has one encoding and a changed character never decodes to the same bytes.
public enum Base64 {
    /// The URL-safe alphabet (RFC 4648 §5).
    public static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { output.append(alphabet[Int(group >> UInt32(shift) & 0x3f)]) }
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let group = UInt32(bytes[index]) << 16
            output += [alphabet[Int(group >> 18 & 0x3f)], alphabet[Int(group >> 12 & 0x3f)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            output += [
                alphabet[Int(group >> 18 & 0x3f)], alphabet[Int(group >> 12 & 0x3f)], alphabet[Int(group >> 6 & 0x3f)],
                UInt8(ascii: "="),
            ]
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil when it is not canonical standard base64.
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let isLast = index + 4 == input.count
            let quad = input[index..<index + 4]
            var padding = 0
            if isLast {
                if quad.last == UInt8(ascii: "=") { padding += 1 }
                if padding == 1 && quad[index + 2] == UInt8(ascii: "=") { padding += 1 }
            }
            var group: UInt32 = 0
            for (offset, character) in quad.enumerated() {
                if offset >= 4 - padding {
                    group <<= 6
                    continue
                }
                let value = values[Int(character)]
                guard value != 0xff else { return nil }
                group = group << 6 | UInt32(value)
            }
            output.append(UInt8(truncatingIfNeeded: group >> 16))
            if padding < 2 { output.append(UInt8(truncatingIfNeeded: group >> 8)) }
            if padding < 1 { output.append(UInt8(truncatingIfNeeded: group)) }
            // The bits a padded group leaves unused must be zero (one encoding per byte string).
            if padding == 2 && group & 0xffff != 0 { return nil }
            if padding == 1 && group & 0xff != 0 { return nil }
            index += 4
        }
        return output
    }

    /// `bytes` in the URL-safe alphabet without padding (RFC 4648 §5).
    public static func encodeURL(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var group: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { group |= UInt32(byte) << UInt32(16 - 8 * offset) }
            for position in 0..<(chunk.count + 1) { output.append(urlAlphabet[Int(group >> UInt32(18 - 6 * position) & 0x3f)]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The number of bytes a standard base64 text of this length and padding decodes to (0 for
    /// a length that is not a multiple of 4), without decoding it.
    public static func decodedCount(_ text: String) -> Int {
        let count = text.utf8.count
        guard count % 4 == 0 else { return 0 }
        let padding = text.utf8.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        return count / 4 * 3 - min(padding, 2)
    }
}
