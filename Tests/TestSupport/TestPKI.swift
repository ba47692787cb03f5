public import Foundation
public import Signing

/// A throwaway PKI made with the `openssl` command line (`req -x509` for roots, `ca` for the
/// rest, so start and end dates can be set), read into memory, its folder removed at once:
/// no key or certificate is ever committed.
///
///     Airlock Test Root ── Airlock Test Intermediate ─┬─ signer        (now-1h ... now+30d)
///                                                     ├─ expired       (2020 ... 2021)
///                                                     ├─ future        (2030 ... 2031)
///                                                     ├─ key-agreement (no digitalSignature)
///                                                     ├─ tls           (serverAuth, not codeSigning)
///                                                     └─ no-eku        (no extended key usage)
///     Other Root ── other-signer
public struct TestPKI: Sendable {
    public let root: Certificate
    public let intermediate: Certificate
    public let signer: Certificate
    public let expired: Certificate
    public let future: Certificate
    public let keyAgreementOnly: Certificate
    /// Issued by the same intermediate for a TLS server (serverAuth), and with no extended key
    /// usage at all: neither may sign bundles.
    public let tlsServer: Certificate
    public let withoutExtendedKeyUsage: Certificate
    public let otherRoot: Certificate
    public let otherSigner: Certificate
    /// A second code-signing leaf of the same intermediate as `signer` (another officer of one CA).
    public let secondSigner: Certificate
    public let secondSignerKey: PrivateKey
    /// The signer's private key, as `openssl genpkey` made it.
    public let signerKey: PrivateKey
    /// Keys of the expired, the future and the other root's signers.
    public let expiredKey: PrivateKey
    public let futureKey: PrivateKey
    public let otherSignerKey: PrivateKey
    /// Chain files (leaf, then intermediate; the other signer's has only its leaf).
    public let expiredChainPEM: [UInt8]
    public let futureChainPEM: [UInt8]
    public let otherSignerChainPEM: [UInt8]
    /// `openssl x509 -fingerprint -sha256` of the signer, `AB:CD:...`.
    public let signerFingerprintFromOpenSSL: String
    /// The signer's certificate followed by the intermediate, as a chain file holds them.
    public let signerChainPEM: [UInt8]
    public let created: Date

    /// One PKI for the whole test run (made on first use).
    public static let shared: Result<TestPKI, any Error> = Result { try TestPKI() }

    public static func get() throws -> TestPKI { try shared.get() }

    private init() throws {
        let folder = try TemporaryDirectory("airlock-pki")
        defer { folder.remove() }
        created = Date()
        let file = folder.file
        try Data().write(to: URL(fileURLWithPath: file("index.txt")))
        try Data("1000\n".utf8).write(to: URL(fileURLWithPath: file("serial")))
        try FileManager.default.createDirectory(atPath: file("issued"), withIntermediateDirectories: true)
        try Data(Self.configuration(folder: folder.path).utf8).write(to: URL(fileURLWithPath: file("ca.cnf")))

        func key(_ name: String) throws {
            try Self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", file("\(name).key"))
        }
        func makeRoot(_ name: String, _ commonName: String) throws {
            try key(name)
            try Self.openssl(
                "req", "-x509", "-new", "-key", file("\(name).key"), "-sha384", "-days", "7300", "-subj", "/CN=\(commonName)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-out", file("\(name).pem"))
        }
        func issue(_ name: String, _ commonName: String, by issuer: String, _ extensions: String, from start: String, to end: String) throws {
            try key(name)
            try Self.openssl("req", "-new", "-key", file("\(name).key"), "-subj", "/CN=\(commonName)", "-out", file("\(name).csr"))
            try Self.openssl(
                "ca", "-batch", "-config", file("ca.cnf"), "-cert", file("\(issuer).pem"), "-keyfile", file("\(issuer).key"),
                "-in", file("\(name).csr"), "-out", file("\(name).pem"), "-extensions", extensions, "-notext",
                "-startdate", start, "-enddate", end)
        }
        func load(_ name: String) throws -> Certificate { try Certificate(pem: Self.readBytes(file("\(name).pem"))) }

        let now = Self.stamp(created.addingTimeInterval(-3600))
        try makeRoot("root", "Airlock Test Root")
        try issue(
            "intermediate", "Airlock Test Intermediate", by: "root", "intermediate", from: now,
            to: Self.stamp(created.addingTimeInterval(3650 * 86400)))
        try issue("signer", "Airlock Test Signer", by: "intermediate", "signer", from: now, to: Self.stamp(created.addingTimeInterval(30 * 86400)))
        try issue("expired", "Airlock Expired Signer", by: "intermediate", "signer", from: "20200101000000Z", to: "20210101000000Z")
        try issue("future", "Airlock Future Signer", by: "intermediate", "signer", from: "20300101000000Z", to: "20310101000000Z")
        try issue(
            "agreement", "Airlock Key Agreement", by: "intermediate", "key_agreement", from: now,
            to: Self.stamp(created.addingTimeInterval(30 * 86400)))
        try issue("tls", "Airlock TLS Server", by: "intermediate", "tls_server", from: now, to: Self.stamp(created.addingTimeInterval(30 * 86400)))
        try issue("no-eku", "Airlock No EKU", by: "intermediate", "no_eku", from: now, to: Self.stamp(created.addingTimeInterval(30 * 86400)))
        try issue("second", "Airlock Second Signer", by: "intermediate", "signer", from: now, to: Self.stamp(created.addingTimeInterval(30 * 86400)))
        try makeRoot("other-root", "Other Root")
        try issue("other-signer", "Other Signer", by: "other-root", "signer", from: now, to: Self.stamp(created.addingTimeInterval(30 * 86400)))

        self.root = try load("root")
        intermediate = try load("intermediate")
        signer = try load("signer")
        expired = try load("expired")
        future = try load("future")
        keyAgreementOnly = try load("agreement")
        tlsServer = try load("tls")
        withoutExtendedKeyUsage = try load("no-eku")
        otherRoot = try load("other-root")
        otherSigner = try load("other-signer")
        secondSigner = try load("second")
        secondSignerKey = try PrivateKey.load(path: file("second.key"))
        signerKey = try PrivateKey.load(path: file("signer.key"))
        signerFingerprintFromOpenSSL = try Self.openssl("x509", "-in", file("signer.pem"), "-noout", "-fingerprint", "-sha256")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        signerChainPEM = try Self.readBytes(file("signer.pem")) + Self.readBytes(file("intermediate.pem"))
        expiredKey = try PrivateKey.load(path: file("expired.key"))
        futureKey = try PrivateKey.load(path: file("future.key"))
        otherSignerKey = try PrivateKey.load(path: file("other-signer.key"))
        expiredChainPEM = try Self.readBytes(file("expired.pem")) + Self.readBytes(file("intermediate.pem"))
        futureChainPEM = try Self.readBytes(file("future.pem")) + Self.readBytes(file("intermediate.pem"))
        otherSignerChainPEM = try Self.readBytes(file("other-signer.pem"))
    }

    /// `YYYYMMDDHHMMSSZ` in UTC, as `openssl ca -startdate` takes it.
    public static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }

    /// A date from `YYYY-MM-DD` (UTC midnight).
    public static func day(_ text: String) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.date(from: text)!
    }

    @discardableResult
    private static func openssl(_ arguments: String...) throws -> ProcessResult {
        try ProcessResult.run("/usr/bin/openssl", arguments).checked()
    }

    private static func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    private static func configuration(folder: String) -> String {
        """
        [ ca ]
        default_ca = test_ca

        [ test_ca ]
        dir = \(folder)
        database = $dir/index.txt
        serial = $dir/serial
        new_certs_dir = $dir/issued
        default_md = sha384
        policy = any_name
        unique_subject = no
        copy_extensions = none
        email_in_dn = no

        [ any_name ]
        commonName = supplied

        [ intermediate ]
        basicConstraints = critical, CA:TRUE, pathlen:0
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always

        [ signer ]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = codeSigning
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid

        [ tls_server ]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = serverAuth
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid

        [ no_eku ]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid

        [ key_agreement ]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, keyAgreement
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid

        """
    }
}
