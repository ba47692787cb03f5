public import ArgumentParser
public import AirlockCore

/// `--root DIR`: puts `/etc/airlock`, `/var/lib/airlock`, `/var/log/airlock` and the unit
/// folder under DIR, so demos and tests never touch the host. Accepted before or after the verb.
public struct RootOptions: ParsableArguments, Sendable {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Treat DIR as the file-system root for Airlock's files (config, store, audit log, units).",
            valueName: "DIR"))
    public var root: String = "/"

    public init() {}

    public var layout: HostLayout { HostLayout(root: root) }

    /// A root that exists but is not a folder is a mistyped command line. A missing one is
    /// created by the first command that writes under it (a rehearsal root); commands that
    /// only read say that nothing is installed or recorded there.
    public func validate() throws {
        var status = stat()
        guard stat(root, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw ValidationError("--root \(root) is not a folder")
        }
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
