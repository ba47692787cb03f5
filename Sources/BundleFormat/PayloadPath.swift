public import AirlockCore

/// The rule for every path inside a bundle and an installed tree: relative, `/`-separated,
/// 1 to 255 bytes of UTF-8, no empty, `.` or `..` component, no control characters, no `\`.
public enum PayloadPath {
    public static func validate(_ path: String) throws(AirlockError) {
        func refuse(_ why: String) -> AirlockError { AirlockError(.invalidInput, "path '\(path)' \(why)") }
        guard !path.isEmpty, path.utf8.count <= 255 else { throw refuse("must be 1 to 255 bytes") }
        guard !path.hasPrefix("/") else { throw refuse("is absolute") }
        guard !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "\\") }) else {
            throw refuse("contains a control character or a backslash")
        }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            guard !component.isEmpty else { throw refuse("has an empty component") }
            guard component != ".", component != ".." else { throw refuse("has a '\(component)' component") }
        }
    }
}
