import Foundation
import TestSupport

/// Runs the system `openssl` and fails the test when it fails.
@discardableResult
func openssl(_ arguments: String...) throws -> ProcessResult {
    try ProcessResult.run("/usr/bin/openssl", arguments).checked()
}

/// Runs the system `openssl` and returns its result whatever the exit status.
func opensslStatus(_ arguments: String...) throws -> ProcessResult {
    try ProcessResult.run("/usr/bin/openssl", arguments)
}

func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

func writeBytes(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

/// The message of the error `body` throws, or nil when it does not throw.
func refusal(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

/// The file's permission bits (`0o600`).
func mode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// `bytes` with one bit of the byte at `index` flipped.
func flipped(_ bytes: [UInt8], at index: Int) -> [UInt8] {
    var copy = bytes
    copy[index] ^= 0x01
    return copy
}
