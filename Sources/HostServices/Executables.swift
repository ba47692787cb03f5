public import AirlockCore

/// Airlock's own programs, found beside the running one (the Debian package puts all four in
/// /usr/bin; a build in .build/debug).
public enum Executables {
    /// `name` (`airlock-serve`, `airlock-audit`) installed beside this program.
    public static func sibling(_ name: String) throws(AirlockError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { throw AirlockError(.system, "cannot find this program's own path") }
        let own = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let path = AtomicFile.folder(of: own) + "/" + name
        guard access(path, X_OK) == 0 else {
            throw AirlockError(.refused, "\(path) is missing: '\(name)' must be installed beside '\(own)'")
        }
        return path
    }
}
