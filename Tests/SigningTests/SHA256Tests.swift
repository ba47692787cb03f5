import Foundation
import Signing
import TestSupport
import Testing

@Suite struct SHA256Tests {
    @Test func knownVectors() throws {
        // FIPS 180-2 test vectors.
        #expect(try SHA256Hasher.hash([]).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try SHA256Hasher.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try SHA256Hasher.hash(Array("abc".utf8)).description.hasPrefix("sha256:ba7816bf"))
    }

    @Test func streamingInPiecesEqualsOneShot() throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let hasher = try SHA256Hasher()
        var offset = 0
        while offset < bytes.count {
            let next = min(bytes.count, offset + Int.random(in: 1...9000))
            try hasher.update(bytes[offset..<next])
            offset = next
        }
        #expect(try hasher.finalize() == SHA256Hasher.hash(bytes))
    }

    @Test func agreesWithOpenSSLCommandLine() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let bytes = Data((0..<1_000_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try bytes.write(to: URL(fileURLWithPath: folder.file("blob")))
        let openssl = try ProcessResult.run("/usr/bin/openssl", ["dgst", "-sha256", "-r", folder.file("blob")]).checked()
        let expected = String(openssl.stdout.prefix(64))
        #expect(try SHA256Hasher.hash(bytes).hex == expected)
    }

    @Test func reportsTheLinkedOpenSSL() {
        let library = CryptoLibrary.current
        #expect(library.version.hasPrefix("OpenSSL 3."))
        // Debian's OpenSSL has no FIPS provider; Airlock must not claim FIPS.
        #expect(library.fipsEnabled == false)
    }
}
