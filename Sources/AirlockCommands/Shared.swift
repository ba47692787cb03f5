public import ArgumentParser
public import AirlockCore

/// `--root DIR`: puts `/etc/airlock`, `/var/lib/airlock`, `/var/log/airlock` and the unit
/// folder under DIR, so demos and tests never touch the host. Accepted before or after the verb.
public struct RootOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp(
        "Treat DIR as the file-system root for Airlock's files (config, store, audit log, units).",
        valueName: "DIR"))
    public var root: String = "/"

    public init() {}

    public var layout: HostLayout { HostLayout(root: root) }
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
