public import ArgumentParser
public import AirlockCore
#if canImport(Glibc)
internal import Glibc
#endif

/// `--root DIR`: puts `/etc/airlock`, `/var/lib/airlock`, `/var/log/airlock` and the unit
/// folder under DIR, so demos and tests never touch the host. Accepted before or after the verb.
public struct RootOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp(
        "Treat DIR as the file-system root for Airlock's files (config, store, audit log, units).",
        valueName: "DIR"))
    public var root: String = "/"

    public init() {}

    /// The layout under `--root`, made absolute against the working directory (the runtime
    /// and the units need absolute paths).
    public var layout: HostLayout {
        guard !root.hasPrefix("/") else { return HostLayout(root: root) }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return HostLayout(root: root) }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return HostLayout(root: (cwd == "/" ? "" : cwd) + "/" + root)
    }
}

/// `--json`: machine-readable output on stdout, for scripts.
public struct OutputOptions: ParsableArguments, Sendable {
    @Flag(name: .long, help: "Print the result as JSON on stdout.")
    public var json = false

    public init() {}
}

/// The error a verb of the command-line contract throws while it is not built yet: one line,
/// non-zero exit (69), never a fake success.
func notAvailable(_ command: String) -> AirlockError {
    AirlockError(.notImplemented, "'\(command)' is not available in this build of Airlock yet")
}
