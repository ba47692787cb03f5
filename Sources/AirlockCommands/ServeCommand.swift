public import ArgumentParser

/// `airlock-serve`: the gateway service, started by its systemd unit or by `airlock run`.
public struct AirlockServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "airlock-serve",
        abstract: "Serve the OpenAI-compatible gateway in front of an installed bundle's runtime.",
        discussion: """
            Normally started by its systemd unit (rendered by 'airlock install') or by \
            'airlock run NAME'; not meant to be started by hand.
            """,
        version: AirlockVersion.description
    )

    @OptionGroup var root: RootOptions

    @Argument(help: "The installed bundle to serve.")
    var name: String?

    @Option(help: ArgumentHelp("Address to listen on.", valueName: "HOST:PORT"))
    var listen: String = "127.0.0.1:8080"

    public init() {}

    public func run() async throws { throw notAvailable("airlock-serve") }
}
