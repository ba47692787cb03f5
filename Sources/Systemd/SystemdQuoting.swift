public import AirlockCore

/// Writes values into unit files so that systemd reads back exactly what was meant.
///
/// `ExecStart=` words: `%` (specifiers) becomes `%%` and `$` (variables) `$$`; a word with
/// anything outside `[A-Za-z0-9_./:,=+@-]` is put in double quotes with `\\` and `\"` escaped
/// (systemd unquotes and C-unescapes it). Control characters and a lone `;` (a command
/// separator) are refused rather than encoded. Paths in other directives (space-separated lists
/// that expand specifiers but not variables) must be plain: anything that would need quoting is
/// refused, naming the path.
public enum SystemdQuoting {
    private static func isPlain(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "/", ":", ",", "=", "+", "@", "-": true
        default: false
        }
    }

    /// One word of an `ExecStart=` line.
    public static func execWord(_ word: String) throws(AirlockError) -> String {
        if word == ";" { throw AirlockError(.invalidInput, "a lone ';' cannot be passed in ExecStart=") }
        if word.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw AirlockError(.invalidInput, "an argument with a control character cannot be written into a unit: \(word.debugDescription)")
        }
        let escaped = word.replacing("%", with: "%%").replacing("$", with: "$$")
        if !escaped.isEmpty, escaped.unicodeScalars.allSatisfy(isPlain) { return escaped }
        return "\"" + escaped.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }

    /// A whole command line: the executable (an absolute path) and its arguments.
    public static func execLine(_ executable: String, _ arguments: [String]) throws(AirlockError) -> String {
        guard executable.hasPrefix("/") else {
            throw AirlockError(.invalidInput, "ExecStart= needs an absolute path, not '\(executable)'")
        }
        var words: [String] = []
        for word in [executable] + arguments { words.append(try execWord(word)) }
        return words.joined(separator: " ")
    }

    /// One `Environment=NAME=VALUE` line: a name of `[A-Z0-9_]`, a value of the plain set only
    /// (paths, numbers, `127.0.0.1`, `/usr/bin:/bin`), so neither quoting nor a specifier can
    /// change what the process gets.
    public static func environmentLine(_ name: String, _ value: String) throws(AirlockError) -> String {
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }),
            !value.isEmpty, value.unicodeScalars.allSatisfy(isPlain), !value.contains("%")
        else {
            throw AirlockError(.invalidInput, "the variable \(name.debugDescription)=\(value.debugDescription) cannot be written into a unit file")
        }
        return "Environment=\(name)=\(value)"
    }

    /// A path for `ReadOnlyPaths=`, `ReadWritePaths=`, `LoadCredential=` and the like.
    public static func plainPath(_ path: String) throws(AirlockError) -> String {
        guard path.hasPrefix("/"), path.unicodeScalars.allSatisfy(isPlain), !path.contains("%") else {
            throw AirlockError(
                .invalidInput,
                "the path '\(path)' cannot be written into a unit file (absolute, letters, digits and _ . / : , = + @ - only); choose a --root without spaces or quotes"
            )
        }
        return path
    }
}
