public import AirlockCore

/// The bundle format's version string, written into every manifest.
public let bundleFormatVersion = "airlock-bundle/1"

/// A bundle name: `[a-z0-9-]+`, 1 to 64 characters, not starting or ending with `-`.
/// It names folders on the host and systemd units, so nothing else is allowed.
public struct BundleName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ text: String) throws(AirlockError) {
        let allowed = text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
        }
        guard !text.isEmpty, text.utf8.count <= 64, allowed, !text.hasPrefix("-"), !text.hasSuffix("-") else {
            throw AirlockError(
                .invalidInput,
                "bundle name '\(Printable.escaped(text, limit: 80))' is not allowed: use 1 to 64 of a-z, 0-9 and '-', not starting or ending with '-'"
            )
        }
        rawValue = text
    }

    public var description: String { rawValue }
}

/// A semantic version (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, semver.org 2.0.0), ordered by
/// semver precedence: installs only go forward, so the order must be exact.
public struct SemanticVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let major: UInt64
    public let minor: UInt64
    public let patch: UInt64
    public let prerelease: [String]
    public let build: [String]

    public init(_ text: String) throws(AirlockError) {
        func refuse(_ why: String) -> AirlockError {
            AirlockError(.invalidInput, "version '\(Printable.escaped(text, limit: 80))' is not a semantic version (MAJOR.MINOR.PATCH): \(why)")
        }
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<plus]
            guard build.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isIdentifierCharacter) }) else {
                throw refuse("bad build metadata")
            }
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            prerelease = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            rest = rest[..<dash]
            guard prerelease.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isIdentifierCharacter) }) else {
                throw refuse("bad pre-release")
            }
            guard prerelease.allSatisfy({ !Self.isNumeric($0) || $0 == "0" || !$0.hasPrefix("0") }) else {
                throw refuse("numeric pre-release identifiers have no leading zeros")
            }
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw refuse("expected three numbers") }
        var numbers: [UInt64] = []
        for part in parts {
            guard Self.isNumeric(part), part == "0" || !part.hasPrefix("0"), let value = UInt64(part) else {
                throw refuse("'\(Printable.escaped(part, limit: 40))' is not a number without leading zeros")
            }
            numbers.append(value)
        }
        (major, minor, patch) = (numbers[0], numbers[1], numbers[2])
        self.prerelease = prerelease
        self.build = build
    }

    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { text += "-" + prerelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    /// Precedence per semver 2.0.0 §11; build metadata does not count.
    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        if (lhs.major, lhs.minor, lhs.patch) != (rhs.major, rhs.minor, rhs.patch) {
            return (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
        }
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true), (true, false): return false
        case (false, true): return true
        case (false, false): break
        }
        for (left, right) in zip(lhs.prerelease, rhs.prerelease) where left != right {
            switch (UInt64(left), UInt64(right)) {
            case let (l?, r?): return l < r
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return left < right
            }
        }
        return lhs.prerelease.count < rhs.prerelease.count
    }

    /// Equal precedence (build metadata ignored), which is what "not newer" means for installs.
    public func hasSamePrecedence(as other: SemanticVersion) -> Bool { !(self < other) && !(other < self) }

    private static func isIdentifierCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "-")
    }

    private static func isNumeric(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
