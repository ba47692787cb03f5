import Foundation
import Signing
import Testing

@Suite struct DSSETests {
    let manifest = Array("{\"name\":\"claims-assistant\",\"version\":\"1.4.0\"}\n".utf8)

    @Test func preAuthenticationEncodingOfTheSpecExample() {
        let encoded = DSSE.preAuthenticationEncoding(type: "http://example.com/HelloWorld", body: Array("hello world".utf8))
        #expect(String(decoding: encoded, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
    }

    @Test func preAuthenticationEncodingCountsBytesNotCharacters() {
        let encoded = DSSE.preAuthenticationEncoding(type: "t/é", body: [0, 0xff])
        #expect(encoded == Array("DSSEv1 4 t/é 2 ".utf8) + [0, 0xff])
        #expect(DSSE.preAuthenticationEncoding(type: "", body: []) == Array("DSSEv1 0  0 ".utf8))
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func signedEnvelopeVerifiesAgainstTheManifest(algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let envelope = try DSSE.sign(payload: manifest, key: key)
        #expect(envelope.payloadType == "application/vnd.airlock.manifest+json")
        #expect(envelope.payload == Data(manifest).base64EncodedString())
        #expect(try envelope.payloadBytes() == manifest)
        #expect(envelope.signatures.count == 1)
        #expect(envelope.signatures[0].keyid == key.publicKey.keyID)
        #expect(envelope.isValid(envelope.signatures[0], by: key.publicKey))
        #expect(envelope.verify(by: key.publicKey, payload: manifest) == .verified(keyID: key.publicKey.keyID))

        // The signature is over the PAE, not over the bare payload.
        let signature = try #require(Data(base64Encoded: envelope.signatures[0].sig))
        let pae = DSSE.preAuthenticationEncoding(type: envelope.payloadType, body: manifest)
        #expect(key.publicKey.verify(signature: [UInt8](signature), message: pae))
        #expect(!key.publicKey.verify(signature: [UInt8](signature), message: manifest))
    }

    @Test func changedPayloadIsRefused() throws {
        let key = try PrivateKey.generate()
        var envelope = try DSSE.sign(payload: manifest, key: key)
        let other = Array("{\"name\":\"claims-assistant\",\"version\":\"9.9.9\"}\n".utf8)

        // The manifest in the bundle is not what was signed.
        guard case .refused(let reason) = envelope.verify(by: key.publicKey, payload: other) else {
            Issue.record("a different manifest was accepted")
            return
        }
        #expect(reason.contains("not the manifest"))

        // The envelope's payload was swapped for the new manifest, signature kept.
        envelope.payload = Data(other).base64EncodedString()
        #expect(!envelope.isValid(envelope.signatures[0], by: key.publicKey))
        guard case .refused(let swapped) = envelope.verify(by: key.publicKey, payload: other) else {
            Issue.record("a swapped payload was accepted")
            return
        }
        #expect(swapped.contains("does not verify"))
    }

    @Test func changedPayloadTypeIsRefused() throws {
        let key = try PrivateKey.generate(.ed25519)
        var envelope = try DSSE.sign(payload: manifest, key: key)
        envelope.payloadType = "application/json"
        #expect(!envelope.isValid(envelope.signatures[0], by: key.publicKey))
        #expect(
            envelope.verify(by: key.publicKey, payload: manifest, payloadType: "application/json")
                == .refused(reason: "the signature by key \(key.publicKey.keyID) does not verify"))
        guard case .refused(let reason) = envelope.verify(by: key.publicKey, payload: manifest) else {
            Issue.record("a wrong payload type was accepted")
            return
        }
        #expect(reason.contains("payload type"))
    }

    @Test func envelopeByAnotherKeyIsRefused() throws {
        let signer = try PrivateKey.generate()
        let trusted = try PrivateKey.generate()
        var envelope = try DSSE.sign(payload: manifest, key: signer)
        #expect(
            envelope.verify(by: trusted.publicKey, payload: manifest)
                == .refused(reason: "the envelope has no signature by key \(trusted.publicKey.keyID)"))
        // Claiming the trusted key's id does not help.
        envelope.signatures[0].keyid = trusted.publicKey.keyID
        #expect(
            envelope.verify(by: trusted.publicKey, payload: manifest)
                == .refused(reason: "the signature by key \(trusted.publicKey.keyID) does not verify"))
    }

    @Test func envelopeJSONRoundTrips() throws {
        let key = try PrivateKey.generate()
        let envelope = try DSSE.sign(payload: manifest, key: key)
        let json = try JSONEncoder().encode(envelope)
        let decoded = try JSONDecoder().decode(DSSEEnvelope.self, from: json)
        #expect(decoded == envelope)
        #expect(decoded.verify(by: key.publicKey, payload: manifest) == .verified(keyID: key.publicKey.keyID))

        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(Set(object.keys) == ["payloadType", "payload", "signatures"])
        let signatures = try #require(object["signatures"] as? [[String: String]])
        #expect(signatures.map { Set($0.keys) } == [["keyid", "sig"]])
    }

    @Test func envelopeWithoutKeyIDDecodesAndVerifies() throws {
        let key = try PrivateKey.generate(.ed25519)
        let signed = try DSSE.sign(payload: manifest, key: key)
        let json = """
            {"payloadType":"\(signed.payloadType)","payload":"\(signed.payload)","signatures":[{"sig":"\(signed.signatures[0].sig)"}]}
            """
        let decoded = try JSONDecoder().decode(DSSEEnvelope.self, from: Data(json.utf8))
        #expect(decoded.signatures[0].keyid == "")
        #expect(decoded.verify(by: key.publicKey, payload: manifest) == .verified(keyID: key.publicKey.keyID))
    }

    @Test func invalidBase64IsRefused() throws {
        let key = try PrivateKey.generate()
        let envelope = try DSSE.sign(payload: Array("hello world!".utf8), key: key)
        #expect(envelope.payload == "aGVsbG8gd29ybGQh")
        let invalid = [
            "aGVsbG8gd29ybGQh\n",  // trailing line break
            " aGVsbG8gd29ybGQh",  // leading space
            "aGVsbG8g d29ybGQh",  // inner space
            "aGVsbG8gd29ybGQ",  // not a multiple of 4
            "aGVsbG8gd29ybGQh====",  // padding too long
            "aGVs=G8gd29ybGQh",  // padding in the middle
            "aGVsbG8_d29ybGQh",  // URL-safe alphabet
            "aGVsbG8gd29ybGQ*",  // garbage
            "aGVsbG8gd29ybGR=",  // non-zero unused bits (a second encoding of other bytes)
            "QR==",  // non-zero unused bits
        ]
        for text in invalid {
            var tampered = envelope
            tampered.payload = text
            #expect(refusal { _ = try tampered.payloadBytes() }?.contains("not valid base64") == true, "\(text)")
            #expect(
                tampered.verify(by: key.publicKey, payload: Array("hello world!".utf8), payloadType: envelope.payloadType)
                    != .verified(keyID: key.publicKey.keyID))
        }
        var badSignature = envelope
        badSignature.signatures[0].sig += "\n"
        #expect(!badSignature.isValid(badSignature.signatures[0], by: key.publicKey))
    }

    @Test func base64AgreesWithFoundationForEveryLength() throws {
        let key = try PrivateKey.generate(.ed25519)
        for length in 0..<70 {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let envelope = try DSSE.sign(payload: payload, payloadType: "test", key: key)
            #expect(envelope.payload == Data(payload).base64EncodedString())
            #expect(try envelope.payloadBytes() == payload)
        }
    }
}
