public import AirlockCore

/// A DSSE envelope (Dead Simple Signing Envelope, v1: github.com/secure-systems-lab/dsse):
/// a payload, its type, and signatures over the pre-authentication encoding of both.
///
/// A bundle carries one envelope per signer, each over the exact bytes of `manifest.json`.
public struct DSSEEnvelope: Codable, Sendable, Equatable {
    /// One signature: the signer's key id (a hint for finding the key, never trusted by itself)
    /// and the signature bytes in standard base64.
    public struct Signature: Codable, Sendable, Equatable {
        public var keyid: String
        public var sig: String

        public init(keyid: String, sig: String) {
            self.keyid = keyid
            self.sig = sig
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            // The DSSE spec makes `keyid` optional.
            keyid = try container.decodeIfPresent(String.self, forKey: .keyid) ?? ""
            sig = try container.decode(String.self, forKey: .sig)
        }
    }

    public var payloadType: String
    /// The payload in standard base64.
    public var payload: String
    public var signatures: [Signature]

    public init(payloadType: String, payload: String, signatures: [Signature]) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// The payload's bytes; refuses anything but canonical standard base64 (no whitespace, no
    /// URL-safe alphabet, no stray padding).
    public func payloadBytes() throws(AirlockError) -> [UInt8] {
        guard let bytes = Base64.decode(payload) else {
            throw AirlockError(.invalidInput, "the DSSE envelope's payload is not valid base64")
        }
        return bytes
    }

    /// Whether `signature` is `key`'s signature over this envelope's payload and type (the
    /// pre-authentication encoding). False for invalid base64 too. Ignores `keyid`.
    public func isValid(_ signature: Signature, by key: PublicKey) -> Bool {
        guard let payload = Base64.decode(payload), let bytes = Base64.decode(signature.sig) else { return false }
        return key.verify(signature: bytes, message: DSSE.preAuthenticationEncoding(type: payloadType, body: payload))
    }

    /// Whether this envelope carries exactly `expectedPayload` (the manifest's bytes) with type
    /// `expectedPayloadType`, signed by `key`. Signatures whose `keyid` names another key are
    /// not tried; one without a `keyid` is.
    public func verify(
        by key: PublicKey, payload expectedPayload: [UInt8], payloadType expectedPayloadType: String = DSSE.manifestPayloadType
    ) -> DSSEVerdict {
        guard payloadType == expectedPayloadType else {
            return .refused(reason: "the envelope's payload type is '\(payloadType)', expected '\(expectedPayloadType)'")
        }
        guard let payload = Base64.decode(payload) else {
            return .refused(reason: "the envelope's payload is not valid base64")
        }
        guard payload == expectedPayload else {
            return .refused(reason: "the envelope's payload is not the manifest: it was signed over other bytes")
        }
        let candidates = signatures.filter { $0.keyid == key.keyID || $0.keyid.isEmpty }
        guard !candidates.isEmpty else {
            return .refused(reason: "the envelope has no signature by key \(key.keyID)")
        }
        guard candidates.contains(where: { isValid($0, by: key) }) else {
            return .refused(reason: "the signature by key \(key.keyID) does not verify")
        }
        return .verified(keyID: key.keyID)
    }
}

/// The outcome of checking an envelope against a key and the expected payload.
public enum DSSEVerdict: Sendable, Equatable {
    case verified(keyID: String)
    case refused(reason: String)
}

/// DSSE v1 signing and its pre-authentication encoding.
public enum DSSE {
    /// The payload type of an Airlock bundle's manifest envelope.
    public static let manifestPayloadType = "application/vnd.airlock.manifest+json"

    /// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, with LEN the byte count in ASCII
    /// decimal: the bytes actually signed, so type and payload cannot be confused or swapped.
    public static func preAuthenticationEncoding(type: String, body: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return Array("DSSEv1 \(typeBytes.count) ".utf8) + typeBytes + Array(" \(body.count) ".utf8) + body
    }

    /// An envelope over `payload` with one signature by `key`, whose `keyid` is the key's id.
    public static func sign(
        payload: [UInt8], payloadType: String = manifestPayloadType, key: PrivateKey
    ) throws(AirlockError) -> DSSEEnvelope {
        let signature = try key.sign(preAuthenticationEncoding(type: payloadType, body: payload))
        return DSSEEnvelope(
            payloadType: payloadType, payload: Base64.encode(payload),
            signatures: [.init(keyid: key.publicKey.keyID, sig: Base64.encode(signature))])
    }
}
