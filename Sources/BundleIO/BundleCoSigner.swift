public import AirlockCore
public import Signing
internal import Archive
internal import BundleFormat
internal import Foundation

/// Adds a co-signature to a bundle (`airlock-pack sign`): checks that every payload byte still
/// matches the manifest, signs the manifest's exact bytes, and writes a new bundle holding the
/// same manifest, the existing signatures, the new one, and the payload entries copied byte for
/// byte. The new file replaces the old one only when complete.
public enum BundleCoSigner {
    public struct Result: Sendable {
        public let name: String
        public let version: String
        public let signers: [String]
    }

    /// `chain`: the signer's certificate and intermediates (PEM), for sites that trust a CA.
    public static func sign(
        path: String, key: PrivateKey, chain: [UInt8]? = nil, progress: ProgressReporter? = nil
    ) throws(AirlockError) -> Result {
        if let chain { try BundleBuilder.checkChain(chain, matches: key) }
        if case .refused(let refusal) = try BundleVerifier.checkIntegrity(path: path, progress: progress) {
            throw AirlockError(.invalidInput, "will not co-sign \(path): \(refusal.description)")
        }
        let inspected = try BundleVerifier.inspect(path: path)
        let existing = inspected.signatures.flatMap { $0.envelope.signatures.map(\.keyid) }
        guard !existing.contains(key.publicKey.keyID) else {
            throw AirlockError(.invalidInput, "\(path) is already signed by \(key.publicKey.keyID)")
        }
        guard inspected.signatures.count < BundleLayout.maxSignatures else {
            throw AirlockError(.invalidInput, "\(path) already carries \(BundleLayout.maxSignatures) signatures")
        }
        let envelope = try BundleBuilder.signedEnvelope(inspected.manifestBytes, key: key)
        let number = (inspected.signatures.compactMap { BundleVerifier.signatureEntry($0.source)?.0 }.max() ?? 0) + 1

        let temporary = AtomicFile.temporaryPath(for: path)
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AirlockError.system("cannot create '\(temporary)'", errno: errno) }
        var closed = false
        defer { if !closed { close(descriptor) } }
        do throws(AirlockError) {
            // The head: the manifest and the existing signature entries exactly as they are, then
            // the new signature; then the payload entries copied byte for byte behind it.
            let reader = try BundleArchiveReader(path: path)
            var head: [(path: String, bytes: [UInt8])] = []
            var header = try reader.next()
            while let entry = header, entry.path == manifestEntryName || entry.path.hasPrefix(signaturesDirectory + "/") {
                let limit = head.first.map { BundleLayout.maxSignatureBytes(manifestBytes: $0.bytes.count) } ?? ManifestLimits.standard.maxBytes
                head.append((entry.path, try reader.readAll(limit: limit)))
                header = try reader.next()
            }
            head.append((BundleLayout.signaturePath(number), envelope))
            if let chain { head.append((BundleLayout.chainPath(number), chain)) }
            let headBytes = try BundleArchiveWriter.headBytes(head)
            var offset = 0
            while offset < headBytes.count {
                let count = headBytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                guard count > 0 else { throw AirlockError.system("cannot write '\(temporary)'", errno: errno) }
                offset += count
            }
            let writer = try BundleArchiveWriter(fileDescriptor: descriptor)
            while let entry = header {
                try writer.copyEntry(from: reader, header: entry)
                header = try reader.next()
            }
            try writer.finish()
            guard fsync(descriptor) == 0 else { throw AirlockError.system("cannot flush '\(temporary)'", errno: errno) }
            closed = true
            guard close(descriptor) == 0 else { throw AirlockError.system("cannot close '\(temporary)'", errno: errno) }
            try AtomicFile.commit(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
        return Result(name: inspected.manifest.name, version: inspected.manifest.version, signers: existing + [key.publicKey.keyID])
    }
}
