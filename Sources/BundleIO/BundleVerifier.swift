public import AirlockCore
public import BundleFormat
public import Signing
internal import Archive
internal import ModelFormats
public import Foundation

/// Receives a bundle's payload while it is verified (install extracts through this): each file's
/// plain bytes in order. `endFile` is called only once the file's digests matched.
public protocol PayloadSink: AnyObject {
    /// Called once the signatures are trusted, before any payload byte: the last moment to
    /// refuse (downgrade, host fit, disk space) with nothing written.
    func prepare(manifest: Manifest, manifestBytes: [UInt8], signers: [TrustedSigner]) throws(AirlockError)
    func beginFile(_ entry: Manifest.FileEntry) throws(AirlockError)
    func write(_ bytes: UnsafeRawBufferPointer) throws(AirlockError)
    func endFile(_ entry: Manifest.FileEntry) throws(AirlockError)
}

/// A bundle whose signatures met the trust policy and whose every byte matched its manifest.
/// Only `BundleVerifier` makes one; install accepts nothing else.
public struct VerifiedBundle: Sendable {
    public let manifest: Manifest
    public let manifestBytes: [UInt8]
    public let signers: [TrustedSigner]
    public let fileCount: Int
    /// Bytes of installed (plain) payload.
    public let payloadBytes: UInt64
    /// Bytes of the bundle file read.
    public let bundleBytes: Int64
}

/// Why a bundle was refused: one line for the operator, and every reason found (the deciding
/// one first), each with a kind a script can match.
public struct Refusal: Sendable, Error, CustomStringConvertible {
    public enum Stage: String, Sendable { case format, signatures, payload, model }
    public let stage: Stage
    public let findings: [Reason]
    /// Set when the sink (not the bundle) failed: thrown as an error, not returned as a refusal.
    var sinkFailure: AirlockError?

    init(stage: Stage, findings: [Reason], sinkFailure: AirlockError? = nil) {
        self.stage = stage
        self.findings = findings
        self.sinkFailure = sinkFailure
    }

    init(stage: Stage, _ kind: Reason.Kind, _ message: String) {
        self.init(stage: stage, findings: [Reason(kind, message)])
    }

    /// `error` as the refusal at `stage`, of the kind the error names or else the stage's.
    init(stage: Stage, error: AirlockError, sinkFailure: AirlockError? = nil) {
        let kind = error.reasonKind == .other ? stage.defaultKind : error.reasonKind
        self.init(stage: stage, findings: [Reason(kind, error.description)], sinkFailure: sinkFailure)
    }

    /// The messages, in order.
    public var reasons: [String] { findings.map(\.message) }
    /// The deciding reason's kind.
    public var kind: Reason.Kind { findings.first?.kind ?? .other }
    public var description: String { reasons.first ?? "refused" }
}

extension Refusal.Stage {
    /// The kind of a refusal at this stage whose error named none.
    var defaultKind: Reason.Kind {
        switch self {
        case .format, .payload: .malformedArchive
        case .signatures: .malformedSignature
        case .model: .invalidModel
        }
    }
}

public enum Verification: Sendable {
    case verified(VerifiedBundle)
    case refused(Refusal)
}

/// A bundle's metadata read without deciding trust (`airlock-pack inspect`).
public struct InspectedBundle: Sendable {
    public let manifest: Manifest
    public let manifestBytes: [UInt8]
    public let signatures: [SignatureInput]
}

/// Verifies bundles (`airlock verify`, and inside `airlock install`): the manifest and signatures
/// first, against the trust policy, then every payload byte while streaming it once, in order,
/// against the signed sizes and digests. It writes nothing (unless given a sink).
public enum BundleVerifier {
    public static func verify(
        path: String, policy: TrustPolicy, at time: Date = Date(), sink: (any PayloadSink)? = nil,
        progress: ProgressReporter? = nil
    ) throws(AirlockError) -> Verification {
        try check(path: path, policy: policy, at: time, sink: sink, progress: progress)
    }

    /// Checks every payload byte against the manifest without deciding trust (before adding a
    /// co-signature: nobody should co-sign a bundle whose payload was changed). The result's
    /// signer list is empty.
    public static func checkIntegrity(path: String, progress: ProgressReporter? = nil) throws(AirlockError) -> Verification {
        try check(path: path, policy: nil, at: Date(), sink: nil, progress: progress)
    }

    static func check(
        path: String, policy: TrustPolicy?, at time: Date, sink: (any PayloadSink)?, progress: ProgressReporter?
    ) throws(AirlockError) -> Verification {
        let reader: BundleArchiveReader
        do { reader = try BundleArchiveReader(path: path) } catch {
            if error.code == .archive { return .refused(Refusal(stage: .format, error: error)) }
            throw error
        }
        let head: Head
        do { head = try readHead(reader) } catch let refusal { return .refused(refusal) }
        do { try ModelChecks.checkFolderDigests(head.manifest) } catch { return .refused(Refusal(stage: .format, error: error)) }

        let signers: [TrustedSigner]
        if let policy {
            switch policy.evaluate(manifest: head.manifestBytes, name: head.manifest.name, signatures: head.signatures, at: time) {
            case .refused(let reasons): return .refused(Refusal(stage: .signatures, findings: reasons))
            case .trusted(let trusted): signers = trusted
            }
        } else {
            signers = []
        }

        let manifest = head.manifest
        if let sink { try sink.prepare(manifest: manifest, manifestBytes: head.manifestBytes, signers: signers) }
        let expected = manifest.files
        let listed = Set(expected.map(\.path))
        var index = 0
        var heads: [String: [UInt8]] = [:]
        var header: EntryHeader? = head.firstPayload
        progress?.begin("verifying", total: Int64(expected.reduce(0) { $0 + $1.size }))
        do throws(Refusal) {
            while let entry = header {
                if index < expected.count, entry.path == expected[index].path, entry.kind == .file {
                    let file = expected[index]
                    if var collector = ModelChecks.headCollector(for: file, manifest: manifest) {
                        try verifyFile(file, chunkSize: manifest.chunkSize, reader: reader, sink: sink, progress: progress) { collector.feed($0) }
                        heads[file.path] = collector.file.head
                    } else {
                        try verifyFile(file, chunkSize: manifest.chunkSize, reader: reader, sink: sink, progress: progress)
                    }
                    index += 1
                } else if !listed.contains(entry.path) || entry.kind != .file {
                    throw Refusal(stage: .payload, .unlistedEntry, "entry '\(entry.path)' is not in the manifest")
                } else {
                    throw Refusal(stage: .payload, .missingEntry, "manifest entry '\(expected[index].path)' is missing from the bundle")
                }
                header = try refusing(.payload) { () throws(AirlockError) in try reader.next() }
            }
            if index < expected.count {
                throw Refusal(stage: .payload, .missingEntry, "manifest entry '\(expected[index].path)' is missing from the bundle")
            }
            // The model checks of `airlock-pack build`, again, on the bytes this bundle carries.
            _ = try refusing(.model) { () throws(AirlockError) in try ModelChecks.check(manifest: manifest, heads: heads) }
        } catch {
            if let failure = error.sinkFailure { throw failure }
            return .refused(error)
        }
        progress?.end()
        return .verified(
            VerifiedBundle(
                manifest: manifest, manifestBytes: head.manifestBytes, signers: signers, fileCount: expected.count,
                payloadBytes: expected.reduce(0) { $0 + $1.size }, bundleBytes: (try? BundleBuilder.fileSize(path)) ?? 0))
    }

    /// Reads the manifest and signatures, deciding nothing about trust.
    public static func inspect(path: String) throws(AirlockError) -> InspectedBundle {
        let reader = try BundleArchiveReader(path: path)
        do {
            let head = try readHead(reader)
            return InspectedBundle(manifest: head.manifest, manifestBytes: head.manifestBytes, signatures: head.signatures)
        } catch {
            throw AirlockError(.invalidInput, "\(path): \(error.description)")
        }
    }

    /// The name and version a bundle's manifest claims, read without verifying or even
    /// validating anything (for the audit record of an operation that may refuse the bundle):
    /// only those two members, by the gateway's small JSON parser rather than the full decode,
    /// which takes seconds for the ~56,000 entries of a vLLM bundle. Nil when unreadable.
    public static func claimedIdentity(path: String) -> (name: String, version: String)? {
        guard let reader = try? BundleArchiveReader(path: path), let first = try? reader.next(), first.path == manifestEntryName,
            first.kind == .file, let bytes = try? reader.readAll(limit: ManifestLimits.standard.maxBytes),
            let document = try? JSONValue.parse(bytes, maxDepth: ManifestLimits.standard.maxDepth),
            let name = document["name"]?.stringValue, let version = document["version"]?.stringValue,
            (try? BundleName(name)) != nil, (try? SemanticVersion(version)) != nil  // a name a record may carry
        else { return nil }
        return (name, version)
    }

    struct Head {
        let manifest: Manifest
        let manifestBytes: [UInt8]
        let signatures: [SignatureInput]
        let firstPayload: EntryHeader?
    }

    static func readHead(_ reader: BundleArchiveReader) throws(Refusal) -> Head {
        let first = try refusing(.format) { () throws(AirlockError) in try reader.next() }
        guard let first, first.path == manifestEntryName, first.kind == .file else {
            throw Refusal(
                stage: .format, .notABundle,
                "the first entry is \(first.map { "'\($0.path)'" } ?? "missing"), not \(manifestEntryName): not an Airlock bundle")
        }
        let manifestBytes = try refusing(.format) { () throws(AirlockError) in try reader.readAll(limit: ManifestLimits.standard.maxBytes) }
        let manifest = try refusing(.format, kind: .invalidManifest) { () throws(AirlockError) in try Manifest.decode(manifestBytes) }

        var envelopes: [Int: DSSEEnvelope] = [:]
        var chains: [Int: [Certificate]] = [:]
        let envelopeLimit = BundleLayout.maxSignatureBytes(manifestBytes: manifestBytes.count)
        var signatureBytes = 0
        var next = try refusing(.format) { () throws(AirlockError) in try reader.next() }
        while let entry = next, entry.path.hasPrefix(signaturesDirectory + "/") {
            guard let (number, kind) = signatureEntry(entry.path), number <= BundleLayout.maxSignatures else {
                throw Refusal(
                    stage: .signatures, .malformedSignature,
                    "'\(entry.path)' is not a signature entry this Airlock reads (at most \(BundleLayout.maxSignatures))")
            }
            let bytes = try refusing(.signatures) { () throws(AirlockError) in try reader.readAll(limit: envelopeLimit) }
            signatureBytes += bytes.count
            guard signatureBytes <= BundleLayout.maxSignatureTotal(manifestBytes: manifestBytes.count) else {
                throw Refusal(
                    stage: .signatures, .malformedSignature,
                    "the signature entries hold more than \(BundleLayout.maxSignatureTotal(manifestBytes: manifestBytes.count)) bytes in all (eight envelopes' worth)")
            }
            switch kind {
            case .envelope:
                guard envelopes[number] == nil else { throw Refusal(stage: .signatures, .duplicateEntry, "'\(entry.path)' appears twice") }
                envelopes[number] = try refusing(.signatures) { () throws(AirlockError) in
                    try decodeEnvelope(bytes, source: entry.path, maxBytes: envelopeLimit)
                }
            case .chain:
                guard chains[number] == nil else { throw Refusal(stage: .signatures, .duplicateEntry, "'\(entry.path)' appears twice") }
                chains[number] = try refusing(.signatures) { () throws(AirlockError) in try Certificate.loadChain(pem: bytes) }
            }
            next = try refusing(.format) { () throws(AirlockError) in try reader.next() }
        }
        guard !envelopes.isEmpty else { throw Refusal(stage: .signatures, .noSignature, "the bundle carries no signature") }
        for number in chains.keys where envelopes[number] == nil {
            throw Refusal(stage: .signatures, .malformedSignature, "'\(BundleLayout.chainPath(number))' has no signature beside it")
        }
        let signatures = envelopes.keys.sorted().map { number in
            SignatureInput(source: BundleLayout.signaturePath(number), envelope: envelopes[number]!, chain: chains[number] ?? [])
        }
        return Head(manifest: manifest, manifestBytes: manifestBytes, signatures: signatures, firstPayload: next)
    }

    enum SignatureKind { case envelope, chain }

    static func signatureEntry(_ path: String) -> (Int, SignatureKind)? {
        let name = path.dropFirst(signaturesDirectory.count + 1)
        for (suffix, kind) in [(".dsse.json", SignatureKind.envelope), (".chain.pem", .chain)] where name.hasSuffix(suffix) {
            let digits = name.dropLast(suffix.count)
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy(\.isNumber), !digits.hasPrefix("0"), let number = Int(digits) else {
                return nil
            }
            return (number, kind)
        }
        return nil
    }

    static func decodeEnvelope(_ bytes: [UInt8], source: String, maxBytes: Int) throws(AirlockError) -> DSSEEnvelope {
        try JSONShape.check(bytes, maxBytes: maxBytes, maxDepth: 4)
        do {
            return try JSONDecoder().decode(DSSEEnvelope.self, from: Data(bytes))
        } catch {
            throw AirlockError(.invalidInput, kind: .malformedSignature, "'\(source)' is not a DSSE envelope")
        }
    }

    static func verifyFile(
        _ file: Manifest.FileEntry, chunkSize: UInt64, reader: BundleArchiveReader, sink: (any PayloadSink)?,
        progress: ProgressReporter?, observe: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) throws(Refusal) {
        let hasher: ChunkHasher
        do { hasher = try ChunkHasher(chunkSize: chunkSize, wholeFile: false, expectedSize: file.size) } catch {
            throw Refusal(stage: .payload, error: error)
        }
        var sinkFailure: AirlockError?
        func toSink(_ body: () throws(AirlockError) -> Void) throws(AirlockError) {
            do { try body() } catch {
                sinkFailure = error
                throw error
            }
        }
        do {
            try refusing(.payload) { () throws(AirlockError) in
                try toSink { () throws(AirlockError) in try sink?.beginFile(file) }
                try reader.readDecoded(file.encoding == .zstd ? .zstd : .stored, storedSize: Int64(file.storedSize), plainSize: Int64(file.size)) {
                    (block: UnsafeRawBufferPointer) throws(AirlockError) in
                    try hasher.update(block)
                    observe(block)
                    try toSink { () throws(AirlockError) in try sink?.write(block) }
                    progress?.advance(by: Int64(block.count))
                }
            }
        } catch {
            throw Refusal(stage: error.stage, findings: error.findings, sinkFailure: sinkFailure)
        }
        let digests = try refusing(.payload) { () throws(AirlockError) in try hasher.finish() }
        let expected = file.chunks ?? [file.sha256]
        guard digests.chunks.map(\.hex) == expected else {
            let bad = zip(digests.chunks.map(\.hex), expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? 0
            let where_ = expected.count > 1 ? " (chunk \(bad) of \(expected.count))" : ""
            throw Refusal(stage: .payload, .digestMismatch, "file '\(file.path)' does not match its signed digest\(where_): it was changed")
        }
        do { try sink?.endFile(file) } catch {
            throw Refusal(stage: .payload, error: error, sinkFailure: error)
        }
    }

    /// Runs `body`, turning an error into a refusal at `stage`.
    static func refusing<T>(
        _ stage: Refusal.Stage, kind: Reason.Kind? = nil, _ body: () throws(AirlockError) -> T
    ) throws(Refusal) -> T {
        do { return try body() } catch {
            guard let kind, error.reasonKind == .other else { throw Refusal(stage: stage, error: error) }
            throw Refusal(stage: stage, findings: [Reason(kind, error.description)])
        }
    }
}
