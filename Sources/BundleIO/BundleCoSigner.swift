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
        let envelope = try BundleBuilder.encode(try DSSE.sign(payload: inspected.manifestBytes, key: key))
        let number = (inspected.signatures.compactMap { BundleVerifier.signatureEntry($0.source)?.0 }.max() ?? 0) + 1

        let temporary = path + ".partial-\(getpid())"
        unlink(temporary)
        do throws(AirlockError) {
            let reader = try BundleArchiveReader(path: path)
            let writer = try BundleArchiveWriter(path: temporary)
            var added = false
            while let header = try reader.next() {
                let isHead = header.path == manifestEntryName || header.path.hasPrefix(signaturesDirectory + "/")
                if !isHead && !added {
                    try addSignature()
                    added = true
                }
                try writer.copyEntry(from: reader, header: header)
            }
            if !added { try addSignature() }
            func addSignature() throws(AirlockError) {
                try writer.addData(path: BundleLayout.signaturePath(number), bytes: envelope)
                if let chain { try writer.addData(path: BundleLayout.chainPath(number), bytes: chain) }
            }
            try writer.finish()
            guard rename(temporary, path) == 0 else { throw AirlockError.system("cannot replace \(path)", errno: errno) }
            try AtomicFile.syncDirectory(AtomicFile.folder(of: path))
        } catch {
            unlink(temporary)
            throw error
        }
        return Result(name: inspected.manifest.name, version: inspected.manifest.version, signers: existing + [key.publicKey.keyID])
    }
}
