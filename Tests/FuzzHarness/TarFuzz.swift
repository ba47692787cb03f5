#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif
internal import AirlockCore
internal import Archive
internal import Foundation

/// `BundleArchiveReader` on a whole input: every entry's headers (our `TarEntryHeaders` and
/// libarchive's reading, which must agree), its data, and the end of the archive. An accepted
/// entry must be what a bundle may hold. Small buffers (64 KiB blocks) so that inputs cross
/// block boundaries; everything else as production reads.
enum TarFuzz {
    /// Input flag bits (the first byte).
    static let fixChecksums: UInt8 = 1
    static let skipData: UInt8 = 2

    static let limits = BundleArchiveReader.Limits(maxEntries: 64, maxExtendedHeaderBytes: 8192, maxTrailingBytes: 16384, blockSize: 64 << 10)
    /// Entries named `*.zst` are read as zstd frames of this many plain bytes (the seeds' size).
    static let zstdPlainSize: Int64 = 4096

    static func run(_ input: UnsafeBufferPointer<UInt8>) -> FuzzOutcome {
        guard let flags = input.first else { return .refused("empty input") }
        var archive = Array(input.dropFirst())
        if flags & fixChecksums != 0 { rewriteChecksums(&archive) }
        let file: ScratchFile
        do {
            file = try ScratchFile(archive)
        } catch {
            return .broken("cannot make the scratch file: \(error)")
        }
        defer { file.release() }
        do {
            let reader = try BundleArchiveReader(fileDescriptor: file.descriptor, limits: limits)
            var seen = Set<String>()
            while let header = try reader.next() {
                if let problem = BundlePath.problem(Array(header.path.utf8)) {
                    return .broken("an accepted entry has a bad path '\(BundlePath.printable(Array(header.path.utf8)))': \(problem)")
                }
                guard seen.insert(header.path).inserted else { return .broken("entry '\(header.path)' was accepted twice") }
                guard header.permissions & 0o7000 == 0 else {
                    return .broken("entry '\(header.path)' has mode \(String(header.permissions, radix: 8))")
                }
                guard header.size >= 0, header.kind == .file || header.size == 0 else {
                    return .broken("entry '\(header.path)', a \(header.kind), has \(header.size) bytes")
                }
                guard header.kind == .file, flags & skipData == 0 else { continue }
                if header.path.hasSuffix(".zst") {
                    var plain: Int64 = 0
                    try reader.readDecoded(.zstd, storedSize: header.size, plainSize: zstdPlainSize) { plain += Int64($0.count) }
                    guard plain == zstdPlainSize else { return .broken("zstd entry '\(header.path)' gave \(plain) bytes, not \(zstdPlainSize)") }
                } else {
                    let bytes = try reader.readAll(limit: 1 << 20)
                    guard bytes.count == header.size else { return .broken("entry '\(header.path)' gave \(bytes.count) of \(header.size) bytes") }
                }
            }
            // The end was checked; asking again must say the same.
            guard try reader.next() == nil else { return .broken("an entry after the end of the archive") }
        } catch {
            return .refused(error.description)
        }
        return .accepted
    }

    /// Sets the checksum of every 512-byte block at a multiple of 512 that carries the ustar
    /// magic, as a tar writer would.
    static func rewriteChecksums(_ bytes: inout [UInt8]) {
        var offset = 0
        while offset + 512 <= bytes.count {
            if bytes[(offset + 257)..<(offset + 263)].elementsEqual(Array("ustar".utf8) + [0]) {
                var sum = 0
                for index in 0..<512 { sum += (148..<156).contains(index) ? 0x20 : Int(bytes[offset + index]) }
                let field = Array(octal(sum, digits: 6).utf8) + [0, 0x20]
                bytes.replaceSubrange((offset + 148)..<(offset + 156), with: field)
            }
            offset += 512
        }
    }

    static func octal(_ value: Int, digits: Int) -> String {
        let text = String(value, radix: 8)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    // MARK: Seeds

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        if let bundle = try? writtenBundle() {
            seeds.append(("bundle", [fixChecksums] + bundle))
            seeds.append(("bundle-unread", [fixChecksums | skipData] + bundle))
            seeds.append(("bundle-as-is", [0] + bundle))
        }
        if let head = try? BundleArchiveWriter.headBytes([("manifest.json", Array("{}".utf8)), ("signatures/1.dsse.json", Array("[]".utf8))]) {
            seeds.append(("head-without-end", [fixChecksums] + head))
        }
        let end = [UInt8](repeating: 0, count: 1024)
        let data = Array("hello".utf8) + [UInt8](repeating: 0, count: 507)
        let pax = paxHeader([("path", Array("long/päth/näme.txt".utf8)), ("size", Array("5".utf8)), ("mtime", Array("1764403200".utf8))])
        seeds.append(("pax-size", [fixChecksums] + pax + header(name: "ignored", type: UInt8(ascii: "0"), size: 5) + data + end))
        var base256 = [UInt8](repeating: 0, count: 12)
        base256[0] = 0x80
        base256[11] = 5
        seeds.append(
            (
                "pax-base256",
                [fixChecksums] + paxHeader([("size", Array("5".utf8))])
                    + header(name: "big.bin", type: UInt8(ascii: "0"), size: 5, sizeField: base256) + data + end
            ))
        seeds.append(("directory", [fixChecksums] + header(name: "models/", type: UInt8(ascii: "5"), size: 0, mode: 0o755) + end))
        seeds.append(("symlink", [fixChecksums] + header(name: "link", type: UInt8(ascii: "2"), size: 0) + end))
        return seeds
    }

    /// A small bundle as `BundleArchiveWriter` writes it: data, a folder, a file, a zstd file.
    static func writtenBundle() throws -> [UInt8] {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("airlock-fuzz-tar-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let plain = (0..<Int(zstdPlainSize)).map { UInt8(truncatingIfNeeded: $0 * 7 / 5) }
        let source = folder.appendingPathComponent("source").path
        try Data(plain).write(to: URL(fileURLWithPath: source))
        let file = try ScratchFile([])
        defer { file.release() }
        let writer = try BundleArchiveWriter(fileDescriptor: file.descriptor, temporaryDirectory: folder.path, blockSize: 64 << 10)
        try writer.addData(path: "manifest.json", bytes: Array(#"{"format":"airlock-bundle/1"}"#.utf8))
        try writer.addData(path: "signatures/1.dsse.json", bytes: Array("{}".utf8))
        try writer.addDirectory(path: "runtime")
        try writer.addData(path: "runtime/llama-server", bytes: Array("#!/bin/sh\n".utf8), executable: true)
        try writer.addFile(path: "runtime/lib.so.zst", from: source, encoding: .zstd(level: 3))
        try writer.addFile(path: "base.gguf", from: source)
        try writer.finish()
        return try file.contents()
    }

    /// One ustar header block (checksum left for `rewriteChecksums`).
    static func header(name: String, type: UInt8, size: Int, mode: Int = 0o644, sizeField: [UInt8]? = nil) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], _ at: Int) { block.replaceSubrange(at..<(at + bytes.count), with: bytes) }
        put(Array(name.utf8.prefix(100)), 0)
        put(Array(octal(mode, digits: 7).utf8) + [0], 100)
        put(Array(octal(0, digits: 7).utf8) + [0], 108)
        put(Array(octal(0, digits: 7).utf8) + [0], 116)
        put(sizeField ?? Array(octal(size, digits: 11).utf8) + [0], 124)
        put(Array(octal(1_764_403_200, digits: 11).utf8) + [0], 136)
        put([UInt8](repeating: 0x20, count: 8), 148)
        block[156] = type
        put(Array("ustar".utf8) + [0] + Array("00".utf8), 257)
        return block
    }

    /// A pax extended header (`x`) with `records`, padded to whole blocks.
    static func paxHeader(_ records: [(String, [UInt8])]) -> [UInt8] {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = Array(" \(key)=".utf8) + value + [0x0A]
            var length = body.count + 1
            while String(length).utf8.count + body.count != length { length += 1 }
            data += Array(String(length).utf8) + body
        }
        let padded = data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        return header(name: "PaxHeader/entry", type: UInt8(ascii: "x"), size: data.count) + padded
    }
}

/// An unlinked scratch file (in /dev/shm where there is one) holding `bytes`, positioned at 0.
struct ScratchFile {
    let descriptor: Int32

    init(_ bytes: [UInt8]) throws {
        let folder = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array((folder + "/airlock-fuzz.XXXXXX").utf8CString)
        descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw AirlockError.system("cannot create a scratch file", errno: errno) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let wrote = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard wrote == bytes.count else {
            close(descriptor)
            throw AirlockError.system("cannot write a scratch file", errno: errno)
        }
    }

    func contents() throws -> [UInt8] {
        let size = Int(lseek(descriptor, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: max(size, 0))
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard got == size else { throw AirlockError.system("cannot read a scratch file", errno: errno) }
        return bytes
    }

    func release() { close(descriptor) }
}
