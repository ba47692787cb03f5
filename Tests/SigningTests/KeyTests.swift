import AirlockCore
import Signing
import Testing

@Suite struct KeyTests {
    @Test(arguments: SignatureAlgorithm.allCases)
    func signatureVerifiesWithItsKey(algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        #expect(key.algorithm == algorithm)
        #expect(key.publicKey.algorithm == algorithm)
        let message = Array("manifest bytes".utf8)
        let signature = try key.sign(message)
        #expect(key.publicKey.verify(signature: signature, message: message))
        if algorithm == .ed25519 { #expect(signature.count == 64) }
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func changedMessageDoesNotVerify(algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let message = Array("install claims-assistant 1.4.0".utf8)
        let signature = try key.sign(message)
        for index in [0, message.count / 2, message.count - 1] {
            #expect(!key.publicKey.verify(signature: signature, message: flipped(message, at: index)))
        }
        #expect(!key.publicKey.verify(signature: signature, message: message + [0]))
        #expect(!key.publicKey.verify(signature: signature, message: Array(message.dropLast())))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func changedSignatureDoesNotVerify(algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let message = Array("payload".utf8)
        let signature = try key.sign(message)
        // Every single-bit change anywhere in the signature, DER framing included, fails.
        for index in signature.indices {
            #expect(!key.publicKey.verify(signature: flipped(signature, at: index), message: message))
        }
        #expect(!key.publicKey.verify(signature: Array(signature.dropLast()), message: message))
        #expect(!key.publicKey.verify(signature: signature + [0], message: message))
        #expect(!key.publicKey.verify(signature: [], message: message))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func anotherKeysSignatureDoesNotVerify(algorithm: SignatureAlgorithm) throws {
        let signer = try PrivateKey.generate(algorithm)
        let other = try PrivateKey.generate(algorithm)
        let message = Array("payload".utf8)
        #expect(!other.publicKey.verify(signature: try signer.sign(message), message: message))
        #expect(signer.publicKey.keyID != other.publicKey.keyID)
    }

    @Test func signaturesOfOneAlgorithmDoNotVerifyUnderTheOther() throws {
        let ecdsa = try PrivateKey.generate(.ecdsaP384)
        let ed25519 = try PrivateKey.generate(.ed25519)
        let message = Array("payload".utf8)
        #expect(!ed25519.publicKey.verify(signature: try ecdsa.sign(message), message: message))
        #expect(!ecdsa.publicKey.verify(signature: try ed25519.sign(message), message: message))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func emptyMessageSignsAndVerifies(algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let signature = try key.sign([])
        #expect(key.publicKey.verify(signature: signature, message: []))
        #expect(!key.publicKey.verify(signature: signature, message: [0]))
    }

    @Test func defaultAlgorithmIsECDSAP384() throws {
        #expect(SignatureAlgorithm.default == .ecdsaP384)
        #expect(try PrivateKey.generate().algorithm == .ecdsaP384)
        #expect(SignatureAlgorithm(rawValue: "ecdsa-p384") == .ecdsaP384)
        #expect(SignatureAlgorithm(rawValue: "ed25519") == .ed25519)
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func pemRoundTripKeepsTheKey(algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let pem = try key.pkcs8PEM()
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let reloaded = try PrivateKey(pem: pem)
        #expect(reloaded.algorithm == algorithm)
        #expect(reloaded.publicKey == key.publicKey)
        let message = Array("payload".utf8)
        #expect(key.publicKey.verify(signature: try reloaded.sign(message), message: message))

        let publicPEM = key.publicKey.spkiPEM
        #expect(String(decoding: publicPEM, as: UTF8.self).hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        let publicKey = try PublicKey(pem: publicPEM)
        #expect(publicKey == key.publicKey)
        #expect(publicKey.keyID == key.publicKey.keyID)
    }

    @Test func keyIDIsStableAndWellFormed() throws {
        let key = try PrivateKey.generate(.ecdsaP384)
        let id = key.publicKey.keyID
        #expect(id.hasPrefix("sha256:"))
        #expect(id.count == 7 + 64)
        #expect(id.dropFirst(7).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(try PrivateKey(pem: key.pkcs8PEM()).publicKey.keyID == id)
        #expect(try PublicKey(pem: key.publicKey.spkiPEM).keyID == id)
        #expect(try PublicKey(spkiDER: key.publicKey.spkiDER).keyID == id)
        #expect(id == (try SHA256Hasher.hash(key.publicKey.spkiDER).description))
    }
}
