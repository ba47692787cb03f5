public import AirlockCore

/// A cheap pre-check of untrusted JSON before any parser sees it: size and nesting depth are
/// bounded, so a 200 MB or 100,000-deep document is refused in one linear pass with flat memory.
public enum JSONShape {
    public static func check(_ bytes: [UInt8], maxBytes: Int, maxDepth: Int) throws(AirlockError) {
        guard bytes.count <= maxBytes else {
            throw AirlockError(.invalidInput, kind: .overLimit, "JSON document of \(bytes.count) bytes is over the \(maxBytes)-byte limit")
        }
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= maxDepth else {
                    throw AirlockError(.invalidInput, kind: .overLimit, "JSON nested deeper than \(maxDepth) levels")
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
    }
}
