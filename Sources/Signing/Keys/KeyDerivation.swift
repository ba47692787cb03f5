internal import COpenSSL
public import AirlockCore

/// Slow, salted password hashing (scrypt, RFC 7914) for secrets stored at rest, such as the
/// gateway's API keys; random bytes and constant-time comparison. Over OpenSSL 3 only.
///
/// scrypt is not an algorithm of OpenSSL's FIPS provider: on a host whose default properties
/// demand FIPS, hashing fails with OpenSSL's reason rather than falling back to anything else.
public enum KeyDerivation {
    /// The cost of one scrypt run: `n` (CPU and memory, a power of two), `r` (block size),
    /// `p` (parallelism) and the length of the derived key in bytes.
    public struct ScryptParameters: Sendable, Hashable, CustomStringConvertible {
        public var n: UInt64
        public var r: UInt64
        public var p: UInt64
        public var keyLength: Int

        public init(n: UInt64, r: UInt64, p: UInt64, keyLength: Int) {
            self.n = n
            self.r = r
            self.p = p
            self.keyLength = keyLength
        }

        /// N = 2^15, r = 8, p = 1, 32 bytes: 32 MiB of memory per run (128·r·(N+2+p) bytes).
        ///
        /// Measured on the shared 2-core development machine (OpenSSL 3.0.19): 110–145 ms of
        /// CPU per run (`openssl kdf` with the same parameters: 111 ms of user time), 0.25–0.5 s
        /// of wall time while other builds held both cores. All of it is spent inside libcrypto,
        /// so a debug or release build of Airlock makes no difference; a current server core is
        /// faster. `KeyDerivationTests.timeOfOneDefaultRun` prints the figure of its run.
        public static let standard = ScryptParameters(n: 1 << 15, r: 8, p: 1, keyLength: 32)

        /// The largest parameters accepted from a file (2^20, r 16, p 4: 2 GiB at most, a few
        /// seconds): a stored hash cannot make a verification run for minutes.
        public static let maximum = ScryptParameters(n: 1 << 20, r: 16, p: 4, keyLength: 64)

        /// The work factor `n · r · p`: what an attacker pays per guess, up to a constant.
        public var cost: UInt64 { n.multipliedReportingOverflow(by: r).partialValue.multipliedReportingOverflow(by: p).partialValue }

        /// The bytes OpenSSL allocates for one run: 128·r·p for B plus 128·r·(N+2) for V.
        public var memoryBytes: UInt64 { 128 * r * p + 128 * r * (n + 2) }

        public var description: String { "scrypt N=\(n) r=\(r) p=\(p) \(keyLength)-byte key" }

        /// Refuses parameters that are malformed (N not a power of two above 1, r or p zero),
        /// cheaper than `minimum` (by `cost` or by memory), or beyond `maximum`.
        public func check(minimum: ScryptParameters = .standard) throws(AirlockError) {
            func refuse(_ why: String) -> AirlockError { AirlockError(.invalidInput, "\(self): \(why)") }
            guard n > 1, n & (n - 1) == 0 else { throw refuse("N must be a power of two greater than 1") }
            guard r >= 1, p >= 1 else { throw refuse("r and p must be at least 1") }
            guard n <= Self.maximum.n, r <= Self.maximum.r, p <= Self.maximum.p, keyLength <= Self.maximum.keyLength else {
                throw refuse("beyond the largest accepted parameters (\(Self.maximum))")
            }
            guard cost >= minimum.cost, memoryBytes >= minimum.memoryBytes else {
                throw refuse("weaker than the minimum \(minimum) (cost N·r·p \(cost) < \(minimum.cost) or less memory)")
            }
            guard keyLength >= minimum.keyLength else {
                throw refuse("the key must be at least \(minimum.keyLength) bytes")
            }
        }
    }

    /// scrypt(`password`, `salt`) with `parameters` (RFC 7914), over OpenSSL's `EVP_PBE_scrypt_ex`.
    /// Blocks the calling thread for the whole run (tens of milliseconds with `.standard`).
    public static func scrypt(
        password: some Collection<UInt8>, salt: some Collection<UInt8>, parameters: ScryptParameters
    ) throws(AirlockError) -> [UInt8] {
        guard parameters.keyLength > 0, parameters.r >= 1, parameters.p >= 1, parameters.n > 1 else {
            throw AirlockError(.invalidInput, "\(parameters): malformed scrypt parameters")
        }
        // A valid pointer even for an empty password or salt.
        let passwordBytes = password.isEmpty ? [0] : Array(password)
        let saltBytes = salt.isEmpty ? [0] : Array(salt)
        var key = [UInt8](repeating: 0, count: parameters.keyLength)
        let status = passwordBytes.withUnsafeBytes { passwordBuffer in
            saltBytes.withUnsafeBufferPointer { saltBuffer in
                key.withUnsafeMutableBufferPointer { keyBuffer in
                    EVP_PBE_scrypt_ex(
                        passwordBuffer.baseAddress?.assumingMemoryBound(to: CChar.self), password.count,
                        saltBuffer.baseAddress, salt.count,
                        parameters.n, parameters.r, parameters.p, parameters.memoryBytes + 4096,
                        keyBuffer.baseAddress, keyBuffer.count, nil, nil)
                }
            }
        }
        guard status == 1 else { throw .openSSL("scrypt failed (\(parameters))") }
        return key
    }

    /// `count` bytes from OpenSSL's default random generator (`RAND_bytes`).
    public static func randomBytes(_ count: Int) throws(AirlockError) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        guard status == 1 else { throw .openSSL("the random generator failed") }
        return bytes
    }

    /// Whether `a` and `b` are equal, in a time that depends only on their lengths
    /// (`CRYPTO_memcmp`). Different lengths are unequal at once.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { left in
            b.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0 }
        }
    }
}

/// A password hash as stored: the scrypt parameters, the salt and the derived key. Holds
/// nothing from which the password could be read back.
public struct PasswordHash: Sendable, Hashable {
    public let parameters: KeyDerivation.ScryptParameters
    public let salt: [UInt8]
    public let hash: [UInt8]

    /// Salts shorter than this are refused when loading.
    public static let minimumSaltLength = 16

    /// Hashes `password` with a fresh 16-byte random salt.
    public static func make(
        password: some Collection<UInt8>, parameters: KeyDerivation.ScryptParameters = .standard
    ) throws(AirlockError) -> PasswordHash {
        let salt = try KeyDerivation.randomBytes(minimumSaltLength)
        let hash = try KeyDerivation.scrypt(password: password, salt: salt, parameters: parameters)
        return PasswordHash(unchecked: parameters, salt: salt, hash: hash)
    }

    /// A stored hash, checked: parameters at least `minimum` (see `ScryptParameters.check`),
    /// a salt of at least 16 bytes, a hash as long as the parameters say.
    public init(
        parameters: KeyDerivation.ScryptParameters, salt: [UInt8], hash: [UInt8],
        minimum: KeyDerivation.ScryptParameters = .standard
    ) throws(AirlockError) {
        try parameters.check(minimum: minimum)
        guard salt.count >= Self.minimumSaltLength else {
            throw AirlockError(.invalidInput, "the salt is \(salt.count) bytes; at least \(Self.minimumSaltLength) are required")
        }
        guard hash.count == parameters.keyLength else {
            throw AirlockError(.invalidInput, "the hash is \(hash.count) bytes, the parameters say \(parameters.keyLength)")
        }
        self.init(unchecked: parameters, salt: salt, hash: hash)
    }

    /// A hash with any parameters (test vectors, measurements); never for loaded files.
    public init(unchecked parameters: KeyDerivation.ScryptParameters, salt: [UInt8], hash: [UInt8]) {
        self.parameters = parameters
        self.salt = salt
        self.hash = hash
    }

    /// The same, with salt and hash as canonical standard base64 (as files store them).
    public init(
        parameters: KeyDerivation.ScryptParameters, saltBase64: String, hashBase64: String,
        minimum: KeyDerivation.ScryptParameters = .standard
    ) throws(AirlockError) {
        guard let salt = Base64.decode(saltBase64) else {
            throw AirlockError(.invalidInput, "the salt is not canonical base64")
        }
        guard let hash = Base64.decode(hashBase64) else {
            throw AirlockError(.invalidInput, "the hash is not canonical base64")
        }
        try self.init(parameters: parameters, salt: salt, hash: hash, minimum: minimum)
    }

    public var saltBase64: String { Base64.encode(salt) }
    public var hashBase64: String { Base64.encode(hash) }

    /// Whether `password` hashes to this hash: one full scrypt run, compared in constant time.
    public func matches(password: some Collection<UInt8>) throws(AirlockError) -> Bool {
        let derived = try KeyDerivation.scrypt(password: password, salt: salt, parameters: parameters)
        return KeyDerivation.constantTimeEqual(derived, hash)
    }
}
