public import ArgumentParser
public import AirlockCore

/// Exit statuses shared by the four executables; scripts may rely on them (Docs/operator-guide.md
/// "Exit statuses" is the table).
public enum ExitStatus {
    /// Refused or failed: a missing or unreadable file, a bad value, a bundle or signature
    /// refused, an operation the store or host does not allow, a system failure. The one line
    /// on stderr names the cause.
    public static let failure: Int32 = 1
    /// The command line itself was wrong (an unknown verb or option, a missing argument,
    /// options that contradict each other): nothing was tried.
    public static let usage: Int32 = 64
    /// The verb is part of the contract but not available in this build yet.
    public static let notImplemented: Int32 = 69
}

/// The entry point every executable calls: parses, runs, and turns errors into one line on
/// stderr and an exit status.
public enum CommandMain {
    /// The name this process was started by: the last part of `argv[0]` (a link's own name).
    public static func invokedName() -> String {
        let first = CommandLine.arguments.first ?? ""
        return first.split(separator: "/").last.map(String.init) ?? first
    }

    /// For the multi-call program started by a name that is none of its commands.
    public static func exitUnknownName(_ name: String, known: [String]) -> Never {
        writeError("\(name): this program runs as one of \(known.joined(separator: ", ")): start it by one of those names (a link to it)")
        exit(ExitStatus.usage)
    }

    public static func run(_ command: any AsyncParsableCommand.Type, arguments: [String]? = nil) async -> Never {
        let name = command.configuration.commandName ?? "airlock"
        do {
            var parsed = try command.parseAsRoot(arguments)
            if var asyncCommand = parsed as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try parsed.run()
            }
            exit(0)
        } catch let error as AirlockError {
            writeError("\(name): \(error)")
            exit(exitStatus(for: error))
        } catch {
            let status = command.exitCode(for: error)
            if status == .success {  // --help, --version
                print(command.fullMessage(for: error))
                exit(0)
            }
            if let hint = verbHint(command, arguments: arguments ?? Array(CommandLine.arguments.dropFirst())) {
                writeError("\(name): \(hint)")
                exit(ExitStatus.usage)
            }
            writeError(command.fullMessage(for: error), escaping: false)
            exit(status.rawValue)
        }
    }

    /// For a command line whose verb is not one (`airlock instal x`): what it should have been,
    /// when one verb is close enough (at most two letters off); nil when the verbs are right.
    static func verbHint(_ command: any ParsableCommand.Type, arguments: [String]) -> String? {
        var current = command
        var path = [command.configuration.commandName ?? "airlock"]
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--root" {
                index += 2
                continue
            }
            if word.hasPrefix("-") { return nil }
            let subcommands = current.configuration.subcommands
            if subcommands.isEmpty { return nil }
            let names = subcommands.map { $0.configuration.commandName ?? $0._commandName }
            if let found = subcommands.first(where: { ($0.configuration.commandName ?? $0._commandName) == word }) {
                current = found
                path.append(word)
                index += 1
                continue
            }
            let ranked = names.map { (name: $0, distance: editDistance($0, word)) }.sorted { $0.distance < $1.distance }
            guard let best = ranked.first, best.distance <= 2, best.distance < word.count else {
                return "'\(word)' is not a verb of '\(path.joined(separator: " "))' (verbs: \(names.joined(separator: ", ")))"
            }
            return
                "'\(word)' is not a verb of '\(path.joined(separator: " "))': did you mean '\(best.name)'? (\(path.joined(separator: " ")) --help lists them)"
        }
        return nil
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ left: String, _ right: String) -> Int {
        let a = Array(left), b = Array(right)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let saved = row[j]
                row[j] = a[i - 1] == b[j - 1] ? previous : 1 + min(previous, row[j], row[j - 1])
                previous = saved
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    /// The exit status for an error a command threw.
    public static func exitStatus(for error: AirlockError) -> Int32 {
        switch error.code {
        case .notImplemented: ExitStatus.notImplemented
        case .usage: ExitStatus.usage
        default: ExitStatus.failure
        }
    }

    /// Writes `text` on stderr: a refusal as one line with its control and formatting
    /// characters escaped; ArgumentParser's usage text (the user's own words, several lines) as
    /// it is.
    static func writeError(_ text: String, escaping: Bool = true) {
        var line = text.hasSuffix("\n") ? String(text.dropLast()) : text
        line = (escaping ? Printable.escaped(line, limit: .max) : line) + "\n"
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            offset += written
        }
    }
}
