internal import COpenSSL
internal import CAirlockShims
internal import AirlockCore

/// An OpenSSL `X509` certificate, freed with the wrapper.
///
/// `@unchecked Sendable`: never changed after decoding; OpenSSL 3 caches a certificate's
/// extension data under its own lock, so several threads may read it at once.
final class OpenSSLCertificate: @unchecked Sendable {
    let pointer: OpaquePointer

    /// A certificate from DER; refuses trailing bytes.
    init(der: [UInt8]) throws(AirlockError) {
        let decoded: (OpaquePointer?, Int) = der.withUnsafeBufferPointer { buffer in
            guard let start = buffer.baseAddress else { return (nil, 0) }
            var cursor: UnsafePointer<UInt8>? = start
            let certificate = d2i_X509(nil, &cursor, buffer.count)
            return (certificate, cursor.map { $0 - start } ?? 0)
        }
        guard let pointer = decoded.0 else { throw .openSSL("cannot decode the X.509 certificate") }
        self.pointer = pointer
        guard decoded.1 == der.count else {
            throw AirlockError(.invalidInput, "the X.509 certificate has \(der.count - decoded.1) bytes of trailing data")
        }
    }

    deinit { X509_free(pointer) }

    /// The DER encoding, as OpenSSL re-encodes it.
    func der() throws(AirlockError) -> [UInt8] { try Self.derBorrowed(pointer) }

    /// The subject as RFC 2253 text (`CN=Airlock Release,O=Example`).
    func subject() throws(AirlockError) -> String {
        guard let name = X509_get_subject_name(pointer) else { throw .openSSL("the certificate has no subject") }
        return try Self.text(of: name)
    }

    /// The issuer as RFC 2253 text.
    func issuer() throws(AirlockError) -> String {
        guard let name = X509_get_issuer_name(pointer) else { throw .openSSL("the certificate has no issuer") }
        return try Self.text(of: name)
    }

    static func text(of name: OpaquePointer) throws(AirlockError) -> String {
        let bio = try OpenSSLMemoryBIO()
        guard X509_NAME_print_ex(bio.pointer, name, 0, CAirlockShims_XN_FLAG_RFC2253_UTF8()) >= 0 else {
            throw .openSSL("cannot print a certificate name")
        }
        return bio.readText()
    }

    /// The start of the validity period, in seconds since 1970 (UTC).
    func notBefore() throws(AirlockError) -> Int { try Self.seconds(X509_get0_notBefore(pointer), "notBefore") }

    /// The end of the validity period, in seconds since 1970 (UTC).
    func notAfter() throws(AirlockError) -> Int { try Self.seconds(X509_get0_notAfter(pointer), "notAfter") }

    private static func seconds(_ time: UnsafePointer<ASN1_TIME>?, _ field: String) throws(AirlockError) -> Int {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { throw .openSSL("cannot read the certificate's \(field)") }
        return timegm(&parts)
    }

    /// The DER `SubjectPublicKeyInfo` of the certified key.
    func spkiDER() throws(AirlockError) -> [UInt8] {
        guard let key = X509_get0_pubkey(pointer) else { throw .openSSL("cannot read the certificate's public key") }
        let length = i2d_PUBKEY(key, nil)
        guard length > 0 else { throw .openSSL("cannot encode the certificate's public key") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return i2d_PUBKEY(key, &cursor)
        }
        guard written == length else { throw .openSSL("cannot encode the certificate's public key") }
        return der
    }

    /// False only when the certificate has a key usage extension without `digitalSignature`.
    var permitsDigitalSignature: Bool {
        guard X509_get_extension_flags(pointer) & UInt32(EXFLAG_KUSAGE) != 0 else { return true }
        return X509_get_key_usage(pointer) & UInt32(KU_DIGITAL_SIGNATURE) != 0
    }

    /// The extended key usage: nil when the certificate has none; otherwise whether it names
    /// code signing (1.3.6.1.5.5.7.3.3).
    var codeSigningUsage: Bool? {
        guard X509_get_extension_flags(pointer) & UInt32(EXFLAG_XKUSAGE) != 0 else { return nil }
        return X509_get_extended_key_usage(pointer) & UInt32(XKU_CODE_SIGN) != 0
    }
}

/// What OpenSSL's chain building (`X509_verify_cert`) concluded.
enum OpenSSLChainOutcome {
    /// The chain ends at this trust anchor (DER).
    case trusted(anchorDER: [UInt8])
    /// Why not, in words: OpenSSL's reason made plain, and the certificate it concerns.
    case failed(reason: String)
}

enum OpenSSLChainVerification {
    /// Builds and checks a chain from `leaf` through `intermediates` to one of `anchors`, with
    /// validity periods checked at `time` (seconds since 1970). Any certificate in `anchors` is
    /// a trust anchor, self-signed or not (`X509_V_FLAG_PARTIAL_CHAIN`).
    static func verify(
        leaf: OpenSSLCertificate, intermediates: [OpenSSLCertificate], anchors: [OpenSSLCertificate], time: Int
    ) throws(AirlockError) -> OpenSSLChainOutcome {
        guard let store = X509_STORE_new() else { throw .openSSL("cannot allocate a certificate store") }
        defer { X509_STORE_free(store) }
        for anchor in anchors {
            guard X509_STORE_add_cert(store, anchor.pointer) == 1 else { throw .openSSL("cannot add a trusted certificate") }
        }
        // The stack borrows the certificates (no reference taken), and is freed alone.
        guard let untrusted = CAirlockShims_sk_X509_new_null() else { throw .openSSL("cannot allocate a certificate stack") }
        defer { CAirlockShims_sk_X509_free(untrusted) }
        for certificate in intermediates {
            guard CAirlockShims_sk_X509_push(untrusted, certificate.pointer) > 0 else {
                throw .openSSL("cannot collect the intermediate certificates")
            }
        }
        guard let context = X509_STORE_CTX_new() else { throw .openSSL("cannot allocate a verification context") }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, leaf.pointer, untrusted) == 1 else {
            throw .openSSL("cannot start chain verification")
        }
        guard let parameters = X509_STORE_CTX_get0_param(context) else { throw .openSSL("no verification parameters") }
        X509_VERIFY_PARAM_set_time(parameters, time)
        guard X509_VERIFY_PARAM_set_flags(parameters, UInt(X509_V_FLAG_USE_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN)) == 1 else {
            throw .openSSL("cannot set the verification flags")
        }

        let verified = X509_verify_cert(context)
        // The context keeps the reason; anything queued besides is noise for this thread.
        defer { ERR_clear_error() }
        if verified == 1 {
            guard let chain = X509_STORE_CTX_get0_chain(context) else { throw .openSSL("no verified chain") }
            let count = CAirlockShims_sk_X509_num(chain)
            guard count > 0, let anchor = CAirlockShims_sk_X509_value(chain, count - 1) else {
                throw .openSSL("empty verified chain")
            }
            let bytes = try OpenSSLCertificate.derBorrowed(anchor)
            return .trusted(anchorDER: bytes)
        }
        let code = X509_STORE_CTX_get_error(context)
        let text = X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "error \(code)"
        let subject = X509_STORE_CTX_get_current_cert(context).flatMap { certificate in
            X509_get_subject_name(certificate).flatMap { try? OpenSSLCertificate.text(of: $0) }
        }
        let which = subject.map { "'\($0)'" } ?? "at depth \(X509_STORE_CTX_get_error_depth(context))"
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return .failed(reason: "certificate has expired: \(which)")
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return .failed(reason: "certificate is not yet valid: \(which)")
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return .failed(reason: "chain does not lead to a trusted CA: no trusted issuer for \(which) (OpenSSL: \(text))")
        default:
            return .failed(reason: "\(text): \(which)")
        }
    }
}

extension OpenSSLCertificate {
    /// The DER of a certificate this wrapper does not own.
    static func derBorrowed(_ pointer: OpaquePointer) throws(AirlockError) -> [UInt8] {
        let length = i2d_X509(pointer, nil)
        guard length > 0 else { throw .openSSL("cannot encode the certificate") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return i2d_X509(pointer, &cursor)
        }
        guard written == length else { throw .openSSL("cannot encode the certificate") }
        return der
    }
}
