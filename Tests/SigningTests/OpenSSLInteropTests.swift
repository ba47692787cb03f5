import Foundation
import Signing
import TestSupport
import Testing

/// Airlock's keys and signatures against the `openssl` command line, both ways.
@Suite struct OpenSSLInteropTests {
    @Test func p384SignatureVerifiesWithOpenSSLDgst() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let key = try PrivateKey.generate(.ecdsaP384)
        let message = Array("{\"name\":\"claims-assistant\"}".utf8)
        try writeBytes(message, to: folder.file("msg"))
        try writeBytes(try key.sign(message), to: folder.file("sig"))
        try writeBytes(key.publicKey.spkiPEM, to: folder.file("pub.pem"))

        let result = try openssl(
            "dgst", "-sha384", "-verify", folder.file("pub.pem"), "-signature", folder.file("sig"), folder.file("msg"))
        #expect(result.stdout.contains("Verified OK"))

        try writeBytes(flipped(message, at: 0), to: folder.file("msg"))
        let tampered = try opensslStatus(
            "dgst", "-sha384", "-verify", folder.file("pub.pem"), "-signature", folder.file("sig"), folder.file("msg"))
        #expect(tampered.status != 0)
    }

    @Test func ed25519SignatureVerifiesWithOpenSSLPkeyutl() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let key = try PrivateKey.generate(.ed25519)
        let message = Array("{\"name\":\"claims-assistant\"}".utf8)
        try writeBytes(message, to: folder.file("msg"))
        try writeBytes(try key.sign(message), to: folder.file("sig"))
        try writeBytes(key.publicKey.spkiPEM, to: folder.file("pub.pem"))

        let result = try openssl(
            "pkeyutl", "-verify", "-pubin", "-inkey", folder.file("pub.pem"), "-rawin", "-in", folder.file("msg"),
            "-sigfile", folder.file("sig"))
        #expect(result.stdout.contains("Signature Verified Successfully"))
    }

    @Test func p384KeyFromOpenSSLGenpkeyLoadsAndSignsBothWays() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", folder.file("key.pem"))
        try openssl("pkey", "-in", folder.file("key.pem"), "-pubout", "-out", folder.file("pub.pem"))
        let key = try PrivateKey.load(path: folder.file("key.pem"))
        #expect(key.algorithm == .ecdsaP384)
        #expect(try PublicKey.load(path: folder.file("pub.pem")) == key.publicKey)
        #expect(key.publicKey.spkiPEM == (try readBytes(folder.file("pub.pem"))))

        let message = Array("bundle manifest".utf8)
        try writeBytes(message, to: folder.file("msg"))
        // Airlock signs, OpenSSL verifies.
        try writeBytes(try key.sign(message), to: folder.file("sig"))
        try openssl("dgst", "-sha384", "-verify", folder.file("pub.pem"), "-signature", folder.file("sig"), folder.file("msg"))
        // OpenSSL signs, Airlock verifies.
        try openssl("dgst", "-sha384", "-sign", folder.file("key.pem"), "-out", folder.file("cli.sig"), folder.file("msg"))
        #expect(key.publicKey.verify(signature: try readBytes(folder.file("cli.sig")), message: message))
    }

    @Test func ed25519KeyFromOpenSSLGenpkeyLoadsAndSignsBothWays() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try openssl("genpkey", "-algorithm", "ED25519", "-out", folder.file("key.pem"))
        try openssl("pkey", "-in", folder.file("key.pem"), "-pubout", "-out", folder.file("pub.pem"))
        let key = try PrivateKey.load(path: folder.file("key.pem"))
        #expect(key.algorithm == .ed25519)
        #expect(key.publicKey.spkiPEM == (try readBytes(folder.file("pub.pem"))))

        let message = Array("bundle manifest".utf8)
        try writeBytes(message, to: folder.file("msg"))
        try writeBytes(try key.sign(message), to: folder.file("sig"))
        try openssl(
            "pkeyutl", "-verify", "-pubin", "-inkey", folder.file("pub.pem"), "-rawin", "-in", folder.file("msg"),
            "-sigfile", folder.file("sig"))
        try openssl(
            "pkeyutl", "-sign", "-inkey", folder.file("key.pem"), "-rawin", "-in", folder.file("msg"), "-out", folder.file("cli.sig"))
        #expect(key.publicKey.verify(signature: try readBytes(folder.file("cli.sig")), message: message))
        // Ed25519 is deterministic: both sides produce the same signature.
        #expect(try readBytes(folder.file("cli.sig")) == key.sign(message))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func writtenPrivateKeyReadsWithOpenSSL(algorithm: SignatureAlgorithm) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let key = try PrivateKey.generate(algorithm)
        try key.write(privateTo: folder.file("KEY.pem"))
        let derived = try openssl("pkey", "-in", folder.file("KEY.pem"), "-pubout")
        #expect(derived.stdout == String(decoding: try readBytes(folder.file("KEY.pub.pem")), as: UTF8.self))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func keyIDIsSHA256OfOpenSSLPublicKeyDER(algorithm: SignatureAlgorithm) throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let key = try PrivateKey.generate(algorithm)
        try writeBytes(key.publicKey.spkiPEM, to: folder.file("pub.pem"))
        try openssl("pkey", "-pubin", "-in", folder.file("pub.pem"), "-outform", "DER", "-out", folder.file("pub.der"))
        let digest = try openssl("dgst", "-sha256", "-r", folder.file("pub.der")).stdout.prefix(64)
        #expect(key.publicKey.keyID == "sha256:" + digest)
        #expect(key.publicKey.spkiDER == (try readBytes(folder.file("pub.der"))))
    }
}
