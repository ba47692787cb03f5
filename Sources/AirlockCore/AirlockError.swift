#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The one error shape every Airlock layer throws: a code a script can match on, a message a
/// person can act on, the lower error it wraps, and where it was raised.
///
/// Each layer wraps what it caught as `cause` and adds its own context, so the command line
/// prints the whole chain as one readable line (`description`).
public struct AirlockError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The verb exists in the command-line contract but is not built yet.
        public static let notImplemented = Code("not-implemented")
        /// The user gave something unusable (a bad argument value, a malformed file): refused.
        public static let invalidInput = Code("invalid-input")
        /// The command line itself is wrong (an option missing, options that contradict each
        /// other): exit status 64, like ArgumentParser's own usage errors.
        public static let usage = Code("usage")
        /// A system call or a C library failed.
        public static let system = Code("system")
        /// A cryptographic operation failed or a signature did not verify.
        public static let crypto = Code("crypto")
        /// An archive could not be written or read.
        public static let archive = Code("archive")
        /// A child process could not be started or misbehaved.
        public static let process = Code("process")
        /// A network or Unix-socket exchange failed.
        public static let io = Code("io")
        /// Waited longer than allowed.
        public static let timeout = Code("timeout")
        /// A bundle, signature, request or operation was checked and refused.
        public static let refused = Code("refused")
    }

    public var code: Code
    public var message: String
    /// What exactly was refused, where a layer knows (`digest-mismatch`, `unsafe-entry`); nil
    /// otherwise. `reasonKind` looks through the causes too.
    public var kind: Reason.Kind?
    public var cause: (any Error & Sendable)?
    public var file: String
    public var line: Int

    public init(
        _ code: Code, kind: Reason.Kind? = nil, _ message: String, cause: (any Error & Sendable)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.kind = kind
        self.cause = cause
        self.file = file
        self.line = line
    }

    /// The first kind set on this error or one of its causes, else `.other`.
    public var reasonKind: Reason.Kind {
        if let kind { return kind }
        if let inner = cause as? AirlockError { return inner.reasonKind }
        return .other
    }

    /// This error as a refusal reason: its kind and its whole message chain.
    public var reason: Reason { Reason(reasonKind, description) }

    /// The message followed by every cause's message: `install failed: archive: truncated`.
    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }

    /// The message and the chain with source locations, for `--verbose` and logs.
    public var debugDescription: String {
        let own = "[\(code)] \(message) (\(file):\(line))"
        guard let cause else { return own }
        if let inner = cause as? AirlockError { return own + "\n  caused by " + inner.debugDescription }
        return own + "\n  caused by \(cause)"
    }
}

extension AirlockError {
    /// An error for a failed system call, carrying `errno`'s text.
    public static func system(
        _ message: String, errno code: Int32, file: String = #fileID, line: Int = #line
    ) -> AirlockError {
        AirlockError(.system, message, cause: Errno(code), file: file, line: line)
    }
}

/// A POSIX `errno` value with its text.
public struct Errno: Error, CustomStringConvertible, Sendable, Equatable {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) + " (errno \(code))" }
}
