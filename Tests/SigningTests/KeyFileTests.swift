import Foundation
import Signing
import TestSupport
import Testing

@Suite struct KeyFileTests {
    @Test func writtenPrivateKeyIs0600AndPublicKeyIs0644() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let key = try PrivateKey.generate()
        let path = folder.file("release.pem")
        try key.write(privateTo: path)

        #expect(PrivateKey.publicKeyPath(forPrivateKeyAt: path) == folder.file("release.pub.pem"))
        #expect(try mode(path) == 0o600)
        #expect(try mode(folder.file("release.pub.pem")) == 0o644)
        #expect(try PrivateKey.load(path: path).publicKey == key.publicKey)
        #expect(try PublicKey.load(path: folder.file("release.pub.pem")) == key.publicKey)
        #expect(try readBytes(path) == key.pkcs8PEM())
    }

    @Test func publicKeyPathAppendsWhenTheNameDoesNotEndInPEM() {
        #expect(PrivateKey.publicKeyPath(forPrivateKeyAt: "/keys/KEY.pem") == "/keys/KEY.pub.pem")
        #expect(PrivateKey.publicKeyPath(forPrivateKeyAt: "/keys/signer") == "/keys/signer.pub.pem")
    }

    @Test func refusesToOverwriteAnExistingKey() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let path = folder.file("KEY.pem")
        let first = try PrivateKey.generate()
        try first.write(privateTo: path)
        let before = try readBytes(path)

        let message = try #require(refusal { try PrivateKey.generate().write(privateTo: path) })
        #expect(message.contains("already exists"))
        #expect(message.contains(path))
        #expect(try readBytes(path) == before)
        #expect(try PublicKey.load(path: folder.file("KEY.pub.pem")) == first.publicKey)
    }

    @Test func refusesWhenOnlyThePublicKeyFileExists() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try writeBytes(Array("someone's key\n".utf8), to: folder.file("KEY.pub.pem"))
        let message = try #require(refusal { try PrivateKey.generate().write(privateTo: folder.file("KEY.pem")) })
        #expect(message.contains("KEY.pub.pem already exists"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("KEY.pem")))
    }

    @Test func refusesToWriteThroughASymbolicLink() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try FileManager.default.createSymbolicLink(atPath: folder.file("KEY.pem"), withDestinationPath: folder.file("elsewhere.pem"))
        #expect(refusal { try PrivateKey.generate().write(privateTo: folder.file("KEY.pem")) } != nil)
        #expect(!FileManager.default.fileExists(atPath: folder.file("elsewhere.pem")))
    }

    // MARK: Keys Airlock must not accept, each refused with a message naming the problem

    @Test func refusesAnRSAKey() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", folder.file("rsa.pem"))
        let message = try #require(refusal { _ = try PrivateKey.load(path: folder.file("rsa.pem")) })
        #expect(message.contains("an RSA key"))
        #expect(message.contains(folder.file("rsa.pem")))

        try openssl("pkey", "-in", folder.file("rsa.pem"), "-pubout", "-out", folder.file("rsa.pub.pem"))
        let publicMessage = try #require(refusal { _ = try PublicKey.load(path: folder.file("rsa.pub.pem")) })
        #expect(publicMessage.contains("RSA"))
    }

    @Test func refusesAP256Key() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", folder.file("p256.pem"))
        let message = try #require(refusal { _ = try PrivateKey.load(path: folder.file("p256.pem")) })
        #expect(message.contains("P-256"))
        #expect(message.contains("P-384"))
    }

    @Test func refusesAnEncryptedPKCS8Key() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-aes-256-cbc", "-pass", "pass:secret",
            "-out", folder.file("encrypted.pem"))
        #expect(String(decoding: try readBytes(folder.file("encrypted.pem")), as: UTF8.self).contains("ENCRYPTED PRIVATE KEY"))
        let message = try #require(refusal { _ = try PrivateKey.load(path: folder.file("encrypted.pem")) })
        #expect(message.contains("encrypted"))
    }

    @Test func refusesALegacySEC1KeyWithAConversionHint() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        // `openssl ecparam -genkey` writes `EC PARAMETERS` and a SEC 1 `EC PRIVATE KEY`.
        try openssl("ecparam", "-name", "secp384r1", "-genkey", "-out", folder.file("sec1.pem"))
        let message = try #require(refusal { _ = try PrivateKey.load(path: folder.file("sec1.pem")) })
        #expect(message.contains("legacy SEC 1 format"))
        #expect(message.contains("openssl pkey"))
    }

    @Test func refusesGarbagePEM() throws {
        let garbage = Array("-----BEGIN PRIVATE KEY-----\nthis is not base64 at all!\n-----END PRIVATE KEY-----\n".utf8)
        let message = try #require(refusal { _ = try PrivateKey(pem: garbage) })
        #expect(message.contains("not a valid PEM private key"))

        let truncated = try Array(PrivateKey.generate().pkcs8PEM().dropLast(30))
        #expect(refusal { _ = try PrivateKey(pem: truncated) } != nil)

        let notPEM = Array("just some text\n".utf8)
        let notPEMMessage = try #require(refusal { _ = try PrivateKey(pem: notPEM) })
        #expect(notPEMMessage.contains("no PEM private key"))
    }

    @Test func refusesAnEmptyFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try writeBytes([], to: folder.file("empty.pem"))
        let message = try #require(refusal { _ = try PrivateKey.load(path: folder.file("empty.pem")) })
        #expect(message.contains("empty"))
        #expect(message.contains(folder.file("empty.pem")))
    }

    @Test func refusesAPublicKeyGivenAsPrivateAndTheOtherWayRound() throws {
        let key = try PrivateKey.generate()
        #expect(refusal { _ = try PrivateKey(pem: key.publicKey.spkiPEM) }?.contains("not a private key") == true)
        #expect(refusal { _ = try PublicKey(pem: key.pkcs8PEM()) }?.contains("private key") == true)
    }

    @Test func missingFileIsNamed() throws {
        let message = try #require(refusal { _ = try PrivateKey.load(path: "/nonexistent/KEY.pem") })
        #expect(message.contains("/nonexistent/KEY.pem"))
        #expect(message.contains("No such file"))
    }
}
