public import AirlockCore

extension BundleArchiveWriter {
    /// The tar bytes of small entries (manifest, signatures) with no end-of-archive marker and no
    /// padding: the head of a bundle, which goes in front of a payload stream written by an
    /// ordinary writer. Lets a builder reserve the head's exact size, write the payload behind it
    /// while hashing it, and fill the head in last.
    public static func headBytes(_ entries: [(path: String, bytes: [UInt8])]) throws(AirlockError) -> [UInt8] {
        var template = Array(((getenvString("TMPDIR") ?? "/tmp") + "/airlock-head.XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw AirlockError.system("cannot create a scratch file for a bundle head", errno: errno) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        defer { close(descriptor) }
        do {
            let writer = try BundleArchiveWriter(fileDescriptor: descriptor, temporaryDirectory: nil, blockSize: 64 * 1024, recordSize: 0)
            for entry in entries { try writer.addData(path: entry.path, bytes: entry.bytes) }
            try writer.finish()
        }
        let total = Int(lseek(descriptor, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: max(total, 0))
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        let marker = 1024  // the two zero blocks of the end-of-archive marker
        guard got == total, total >= marker, bytes.suffix(marker).allSatisfy({ $0 == 0 }) else {
            throw AirlockError(.archive, "the bundle head did not come out as entries plus an end-of-archive marker")
        }
        return Array(bytes.dropLast(marker))
    }
}

private func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}
