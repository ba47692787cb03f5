internal import Foundation
internal import AirlockCore

/// Writing results: human lines on stdout, JSON for `--json`, one-line refusals via errors.
///
/// Human lines carry text nobody trusts (bundle fields, client model names, audit details), so
/// every one is written with its control and formatting characters escaped (`Printable`): no
/// output of Airlock can move an officer's cursor, recolour the terminal or fake a line.
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((Printable.escaped(text, limit: .max) + "\n").utf8))
    }

    /// One audit record line exactly as stored, and a newline: JSON Lines output must hash to
    /// the chain, so nothing is escaped (the record's JSON already escapes every C0 control;
    /// what a terminal might still act on is for the human output, which escapes it).
    static func record(_ line: ArraySlice<UInt8>) {
        var bytes = Array(line)
        bytes.append(0x0A)
        FileHandle.standardOutput.write(Data(bytes))
    }

    static func json(_ value: some Encodable) throws(AirlockError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            var data = try encoder.encode(value)
            data.append(UInt8(ascii: "\n"))
            FileHandle.standardOutput.write(data)
        } catch {
            throw AirlockError(.system, "cannot encode the result as JSON")
        }
    }

    static func bytes(_ count: some BinaryInteger) -> String { ByteCount.text(count) }
}
