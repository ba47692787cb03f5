import ArgumentParser
import Foundation
import TestSupport
import Testing

@testable import AirlockCommands

/// Every `airlock`, `airlock-pack` and `airlock-audit` command the guides and the README show in
/// a shell block parses with the executables' own parsers: a renamed option or verb fails here,
/// so a guide cannot drift from the code.
@Suite struct GuideCommandsTests {
    static let documents = ["README.md", "Docs/operator-guide.md", "Docs/compliance-guide.md", "Docs/bundle-builder-guide.md", "Docs/testing.md"]

    /// (document, line, words) for each Airlock command line in a ```sh block.
    static func commands() throws -> [(String, Int, [String])] {
        var found: [(String, Int, [String])] = []
        for document in documents {
            for (number, line) in try Guides.shellLines(document) {
                for words in airlockCommands(in: line) { found.append((document, number, words)) }
            }
        }
        return found
    }

    /// The Airlock commands of one shell line: comments dropped, `X=$(…)` and pipes split.
    static func airlockCommands(in line: String) -> [[String]] {
        var commands: [[String]] = []
        var current: [String]?
        var atStart = true  // the next word starts a command (after `VAR=` words)
        for word in shellWords(line) {
            if ["|", "&&", "||", ";", "<"].contains(word) || word.hasPrefix(">") || word.hasPrefix("2>") {
                if let current { commands.append(current) }
                current = nil
                atStart = true
                continue
            }
            if let command = current {
                current = command + [word.hasSuffix(")") ? String(word.dropLast()) : word]
                continue
            }
            guard atStart else { continue }
            // `KEY=$(airlock …)` and `$(airlock …)`: the command inside.
            var candidate = word
            if let equals = candidate.firstIndex(of: "="), !candidate.hasPrefix("-") {
                candidate = String(candidate[candidate.index(after: equals)...])
            }
            if candidate.hasPrefix("$(") { candidate = String(candidate.dropFirst(2)) }
            if ["airlock", "airlock-pack", "airlock-audit"].contains(candidate) {
                current = [candidate]
            } else if !word.contains("=") {
                atStart = false  // another program's command line
            }
        }
        if let current { commands.append(current) }
        return commands
    }

    /// Words of a shell line: quotes removed, a `#` outside quotes ends it.
    static func shellWords(_ line: String) -> [String] {
        var words: [String] = []
        var word = ""
        var quote: Character?
        var started = false
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { word.append(character) }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                started = true
            case "#" where !started:
                return words
            case " ", "\t":
                if started { words.append(word) }
                word = ""
                started = false
            default:
                word.append(character)
                started = true
            }
        }
        if started { words.append(word) }
        return words
    }

    @Test func everyCommandTheGuidesShowParses() throws {
        let commands = try Self.commands()
        #expect(commands.count >= 40, "only \(commands.count) commands found in the guides")
        for (document, line, words) in commands {
            let root: any ParsableCommand.Type =
                switch words[0] {
                case "airlock-pack": AirlockPackCommand.self
                case "airlock-audit": AirlockAuditCommand.self
                default: AirlockCommand.self
                }
            // Placeholders the guides use for what the reader fills in.
            let arguments = words.dropFirst().map { $0 == "[--json]" ? "--json" : $0 }.filter { !$0.hasPrefix("[") }
            do {
                _ = try root.parseAsRoot(Array(arguments))
            } catch {
                if root.exitCode(for: error) == .success { continue }  // --help, --generate-completion-script
                Issue.record("\(document):\(line): '\(words.joined(separator: " "))' does not parse: \(root.message(for: error))")
            }
        }
    }
}
