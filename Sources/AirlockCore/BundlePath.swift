/// The rules for an entry's path, shared by the writer (which refuses to write a bad one) and
/// the reader (which refuses to read past one).
///
/// A path is UTF-8, 1 to 255 bytes, relative and `/`-separated, with no empty, `.` or `..`
/// component, no leading or trailing `/`, and no NUL or control character (U+0000–U+001F,
/// U+007F, U+0080–U+009F), bidirectional or invisible formatting character, or backslash. A `./` prefix is refused rather than normalised: a name has exactly one spelling,
/// so the comparison with the manifest is exact. (Directories are written with the trailing `/`
/// tar uses; the reader strips exactly that one before checking.)
public enum BundlePath {
    public static let maxBytes = 255

    /// Why `bytes` is not an acceptable path, or nil when it is.
    ///
    /// Concrete ([UInt8], one pass) rather than generic: called across modules for each of the
    /// tens of thousands of entries of a runtime folder, an unspecialised generic version spent
    /// about 36 µs per path in witness-table calls (10% of verifying a vLLM bundle).
    public static func problem(_ bytes: [UInt8]) -> String? {
        if bytes.isEmpty { return "the path is empty" }
        if bytes.count > maxBytes { return "the path is \(bytes.count) bytes, over the limit of \(maxBytes)" }
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        var ascii = true
        for byte in bytes {
            if byte < 0x20 || byte == 0x7f { return "the path contains a NUL or control character" }
            if byte >= 0x80 { ascii = false }
        }
        if bytes.contains(UInt8(ascii: "\\")) { return "the path contains a backslash" }
        if !ascii {
            guard let text = String(validating: bytes, as: UTF8.self) else { return "the path is not valid UTF-8" }
            guard Printable.isPlain(text) else { return "the path contains a control or bidirectional formatting character" }
        }
        if bytes.first == slash { return "the path is absolute" }
        if bytes.last == slash { return "the path ends with '/'" }
        var componentStart = 0
        for index in 0...bytes.count {
            let byte = index < bytes.count ? bytes[index] : slash
            guard byte == slash else { continue }
            let length = index - componentStart
            if length == 0 { return "the path has an empty component" }
            if length == 1 && bytes[componentStart] == dot { return "the path has a '.' component" }
            if length == 2 && bytes[componentStart] == dot && bytes[componentStart + 1] == dot { return "the path has a '..' component" }
            componentStart = index + 1
        }
        return nil
    }

    /// Throws an `.archive` error naming `path` unless it is acceptable.
    public static func validate(_ path: String) throws(AirlockError) {
        if let problem = problem(Array(path.utf8)) {
            throw AirlockError(.archive, "bad entry path '\(printable(Array(path.utf8)))': \(problem)")
        }
    }

    /// `bytes` for a message: valid UTF-8 with control characters escaped (`Printable`), at
    /// most 300 bytes.
    public static func printable(_ bytes: [UInt8]) -> String {
        let text = Printable.escaped(String(decoding: bytes.prefix(300), as: UTF8.self), limit: .max)
        return bytes.count > 300 ? text + "…" : text
    }
}
