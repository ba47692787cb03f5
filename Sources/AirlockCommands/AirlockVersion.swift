/// The toolkit's version, shown by `--version` on every executable.
public enum AirlockVersion {
    public static let description = "0.1.0-dev"
}
