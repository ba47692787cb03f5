/// Text nobody trusts (a client's `model`, a manifest string, a file name), made safe for a
/// terminal, a log line or a message: every character that could move the cursor, change
/// colours, end a line or reorder what follows is shown as a visible escape instead.
///
/// Escaped: C0 controls and DEL as `\x1b`-style, C1 controls (U+0080–U+009F, which some
/// terminals read as ESC sequences), and the Unicode bidirectional and invisible format
/// characters (U+061C, U+200B–U+200F, U+202A–U+202E, U+2060–U+2069, U+FEFF) as `\u{202e}`. A
/// backslash stays a backslash: the escapes are for people, not a reversible encoding.
public enum Printable {
    /// Whether `scalar` is shown as it is.
    public static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1f, 0x7f...0x9f: false
        case 0x061c, 0x200b...0x200f, 0x202a...0x202e, 0x2060...0x2069, 0xfeff: false
        default: true
        }
    }

    /// Whether every character of `text` is shown as it is.
    public static func isPlain(_ text: String) -> Bool { text.unicodeScalars.allSatisfy(isPlain) }

    /// `text` with every non-plain character escaped, cut to `limit` characters (then `…`).
    public static func escaped(_ text: some StringProtocol, limit: Int = 300) -> String {
        var output = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit { return output + "…" }
            count += 1
            if isPlain(scalar) {
                output.unicodeScalars.append(scalar)
            } else if scalar.value < 0x100 {
                let hex = String(scalar.value, radix: 16)
                output += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            } else {
                output += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return output
    }
}
