import Foundation
import Signing
import Testing

@Suite struct KeyDerivationTests {
    typealias Parameters = KeyDerivation.ScryptParameters

    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    /// RFC 7914 §12, all four vectors but the 1 GiB one (N = 2^20, whose cost would dominate
    /// the suite): the first, the second and the third.
    static let vectors: [(password: String, salt: String, parameters: Parameters, key: String)] = [
        (
            "", "", Parameters(n: 16, r: 1, p: 1, keyLength: 64),
            """
            77 d6 57 62 38 65 7b 20 3b 19 ca 42 c1 8a 04 97 f1 6b 48 44 e3 07 4a e8 df df fa 3f ed e2 14 42
            fc d0 06 9d ed 09 48 f8 32 6a 75 3a 0f c8 1f 17 e8 d3 e0 fb 2e 0d 36 28 cf 35 e2 0c 38 d1 89 06
            """
        ),
        (
            "password", "NaCl", Parameters(n: 1024, r: 8, p: 16, keyLength: 64),
            """
            fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe 7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62
            2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40
            """
        ),
        (
            "pleaseletmein", "SodiumChloride", Parameters(n: 16384, r: 8, p: 1, keyLength: 64),
            """
            70 23 bd cb 3a fd 73 48 46 1c 06 cd 81 fd 38 eb fd a8 fb ba 90 4f 8e 3e a9 b5 43 f6 54 5d a1 f2
            d5 43 29 55 61 3f 0f cf 62 d4 97 05 24 2a 9a f9 e6 1e 85 dc 0d 65 1e 40 df cf 01 7b 45 57 58 87
            """
        ),
    ]

    @Test(arguments: 0..<vectors.count)
    func rfc7914TestVectors(index: Int) throws {
        let vector = Self.vectors[index]
        let key = try KeyDerivation.scrypt(
            password: Array(vector.password.utf8), salt: Array(vector.salt.utf8), parameters: vector.parameters)
        #expect(key == Self.hex(vector.key))
        let stored = PasswordHash(unchecked: vector.parameters, salt: Array(vector.salt.utf8), hash: key)
        #expect(try stored.matches(password: Array(vector.password.utf8)))
    }

    @Test func rightPasswordMatchesWrongOneDoesNot() throws {
        let hash = try PasswordHash.make(password: Array("correct horse".utf8))
        #expect(hash.parameters == .standard)
        #expect(hash.salt.count == 16 && hash.hash.count == 32)
        #expect(try hash.matches(password: Array("correct horse".utf8)))
        #expect(try !hash.matches(password: Array("correct hors".utf8)))
        #expect(try !hash.matches(password: Array("correct horse ".utf8)))
        #expect(try !hash.matches(password: []))
        // A fresh salt each time: the same password never gives the same stored hash.
        let again = try PasswordHash.make(password: Array("correct horse".utf8))
        #expect(again.salt != hash.salt && again.hash != hash.hash)
    }

    @Test func parametersSaltAndHashRoundTripThroughTheirStoredForm() throws {
        let original = try PasswordHash.make(password: Array("secret".utf8))
        let parameters = Parameters(n: original.parameters.n, r: original.parameters.r, p: original.parameters.p, keyLength: 32)
        let loaded = try PasswordHash(parameters: parameters, saltBase64: original.saltBase64, hashBase64: original.hashBase64)
        #expect(loaded == original)
        #expect(try loaded.matches(password: Array("secret".utf8)))
        // Stronger parameters load too, and verify with what they say.
        let strong = Parameters(n: 1 << 16, r: 8, p: 1, keyLength: 48)
        let hash = try KeyDerivation.scrypt(password: Array("s".utf8), salt: original.salt, parameters: strong)
        #expect(hash.count == 48)
        #expect(try PasswordHash(parameters: strong, salt: original.salt, hash: hash).matches(password: Array("s".utf8)))
    }

    @Test func weakMalformedOrHugeParametersAreRefused() {
        let refused: [(Parameters, String)] = [
            (Parameters(n: 1 << 14, r: 8, p: 1, keyLength: 32), "weaker than the minimum"),
            (Parameters(n: 1 << 15, r: 4, p: 1, keyLength: 32), "weaker than the minimum"),
            (Parameters(n: 1 << 14, r: 8, p: 2, keyLength: 32), "less memory"),  // same N·r·p, half the memory
            (Parameters(n: 1 << 15, r: 8, p: 1, keyLength: 16), "at least 32 bytes"),
            (Parameters(n: 30000, r: 8, p: 1, keyLength: 32), "power of two"),
            (Parameters(n: 1 << 15, r: 0, p: 1, keyLength: 32), "at least 1"),
            (Parameters(n: 1 << 24, r: 8, p: 1, keyLength: 32), "beyond the largest"),
            (Parameters(n: 1 << 15, r: 8, p: 64, keyLength: 32), "beyond the largest"),
        ]
        for (parameters, reason) in refused {
            #expect(throws: (any Error).self) { try parameters.check() }
            do {
                try parameters.check()
            } catch {
                #expect("\(error)".contains(reason), "\(parameters): \(error)")
            }
        }
        #expect(throws: Never.self) { try Parameters.standard.check() }
        #expect(Parameters.standard.memoryBytes == 128 * 8 * (32768 + 2 + 1))
    }

    @Test func shortSaltBadBase64AndWrongHashLengthAreRefused() throws {
        let good = try PasswordHash.make(password: Array("x".utf8))
        #expect(throws: (any Error).self) { try PasswordHash(parameters: .standard, salt: Array(good.salt.prefix(8)), hash: good.hash) }
        #expect(throws: (any Error).self) { try PasswordHash(parameters: .standard, salt: good.salt, hash: Array(good.hash.prefix(31))) }
        #expect(throws: (any Error).self) {
            try PasswordHash(parameters: .standard, saltBase64: good.saltBase64 + " ", hashBase64: good.hashBase64)
        }
        #expect(throws: (any Error).self) {
            try PasswordHash(parameters: .standard, saltBase64: good.saltBase64, hashBase64: good.hashBase64.replacingOccurrences(of: "=", with: ""))
        }
    }

    @Test func constantTimeComparison() {
        #expect(KeyDerivation.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!KeyDerivation.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!KeyDerivation.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(KeyDerivation.constantTimeEqual([], []))
    }

    @Test func randomBytesAreFreshEachTime() throws {
        let a = try KeyDerivation.randomBytes(32)
        let b = try KeyDerivation.randomBytes(32)
        #expect(a.count == 32 && b.count == 32 && a != b)
        #expect(try KeyDerivation.randomBytes(0).isEmpty)
    }

    /// The figure quoted on `ScryptParameters.standard`: one run with the defaults, as wall time
    /// and as CPU time of the thread (which other work on a busy machine does not inflate).
    @Test func timeOfOneDefaultRun() throws {
        let clock = ContinuousClock()
        var best = Duration.seconds(60)
        var bestCPU = Duration.seconds(60)
        for _ in 0..<3 {
            let started = clock.now
            let cpuStarted = threadCPUTime()
            _ = try KeyDerivation.scrypt(password: Array("k".utf8), salt: [UInt8](repeating: 7, count: 16), parameters: .standard)
            bestCPU = min(bestCPU, threadCPUTime() - cpuStarted)
            best = min(best, clock.now - started)
        }
        print("scrypt N=2^15 r=8 p=1 (32 MiB): best of 3 runs \(best) wall, \(bestCPU) CPU")
        #expect(best < .seconds(2))
    }
}

/// CPU time the calling thread has used.
func threadCPUTime() -> Duration {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
}
