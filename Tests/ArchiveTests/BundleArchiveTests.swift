import AirlockCore
@testable import Archive
import Foundation
import Testing
import TestSupport

/// Every bundle archive test, run one at a time: some move gigabytes and one checks the
/// process's peak memory, which tests running beside it would blur.
@Suite(.serialized) struct BundleArchiveTests {}

/// A small bundle like a real one: manifest, signatures, a directory, stored weights that cross
/// reader blocks, a zstd runtime, a non-ASCII name and a 200-byte path (pax `path` record).
struct SampleBundle {
    let path: String
    let entries: [WrittenEntry]
    /// Plain bytes per file path, and what the writer's progress callback saw.
    let plain: [String: [UInt8]]
    let progressed: [String: [UInt8]]

    static let longPath = String(repeating: "segment/", count: 24) + "leaf.bin"

    static func build(in dir: Scratch, name: String = "sample.airlock", sources: String? = nil) throws -> SampleBundle {
        let folder = sources ?? dir.path
        let weights = noise((9 << 20) + 123)
        let runtime = Array(String(repeating: "llama-server runtime code; ", count: 40_000).utf8) + noise(1000)
        let notes = Array("ünïcödé names work\n".utf8)
        let deep = noise(700, seed: 7)
        try write(weights, to: folder + "/base.gguf")
        try write(runtime, to: folder + "/llama-server")
        try write(notes, to: folder + "/notes.txt")
        try write(deep, to: folder + "/deep.bin")
        try write([], to: folder + "/empty")

        let path = dir.file(name)
        let writer = try BundleArchiveWriter(path: path)
        var progressed: [String: [UInt8]] = [:]
        func collect(_ name: String) -> BundleArchiveWriter.Progress {
            { chunk in progressed[name, default: []].append(contentsOf: chunk) }
        }
        try writer.addData(path: "manifest.json", bytes: Array(#"{"name":"claims-assistant"}"#.utf8))
        try writer.addData(path: "signatures/ci.dsse.json", bytes: Array(#"{"sig":"..."}"#.utf8))
        try writer.addDirectory(path: "models")
        try writer.addFile(path: "models/base.gguf", from: folder + "/base.gguf", progress: collect("models/base.gguf"))
        try writer.addFile(
            path: "runtime/cpu-avx2/llama-server", from: folder + "/llama-server", executable: true,
            encoding: .zstd(level: 3), progress: collect("runtime/cpu-avx2/llama-server"))
        try writer.addFile(path: "docs/ünïcödé.txt", from: folder + "/notes.txt", encoding: .zstd(level: 1))
        try writer.addFile(path: longPath, from: folder + "/deep.bin")
        try writer.addFile(path: "empty", from: folder + "/empty", encoding: .zstd(level: 1))
        let entries = try writer.finish()
        return SampleBundle(
            path: path, entries: entries,
            plain: [
                "manifest.json": Array(#"{"name":"claims-assistant"}"#.utf8), "signatures/ci.dsse.json": Array(#"{"sig":"..."}"#.utf8),
                "models/base.gguf": weights, "runtime/cpu-avx2/llama-server": runtime, "docs/ünïcödé.txt": notes,
                longPath: deep, "empty": [],
            ],
            progressed: progressed)
    }
}

extension BundleArchiveTests {
    @Suite struct RoundTrip {
        @Test func storedAndZstdEntriesComeBackByteForByte() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            #expect(sample.progressed["models/base.gguf"] == sample.plain["models/base.gguf"])
            #expect(sample.progressed["runtime/cpu-avx2/llama-server"] == sample.plain["runtime/cpu-avx2/llama-server"])

            let runtime = try #require(sample.entries.first { $0.path == "runtime/cpu-avx2/llama-server" })
            #expect(runtime.encoding == .zstd(level: 3))
            #expect(runtime.storedSize < runtime.plainSize / 10)
            #expect(sample.entries.first { $0.path == "empty" }?.encoding == .stored)

            let reader = try BundleArchiveReader(path: sample.path)
            var seen: [String] = []
            while let header = try reader.next() {
                seen.append(header.path)
                let written = try #require(sample.entries.first { $0.path == header.path })
                #expect(header.kind == written.kind)
                #expect(header.size == written.storedSize)
                #expect(header.permissions == (written.kind == .directory || written.executable ? 0o755 : 0o644))
                guard header.kind == .file else { continue }
                var plain: [UInt8] = []
                try reader.readDecoded(
                    written.encoding.decoding, storedSize: written.storedSize, plainSize: written.plainSize, maxChunk: 1 << 20
                ) { chunk in
                    #expect(chunk.count <= 1 << 20)
                    plain.append(contentsOf: chunk)
                }
                #expect(plain == sample.plain[header.path], "\(header.path)")
            }
            #expect(seen == sample.entries.map(\.path))
        }

        @Test func sameInputsGiveByteIdenticalBundles() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let otherSources = try Scratch()
            defer { otherSources.remove() }
            let first = try SampleBundle.build(in: dir, name: "first.airlock")
            let second = try SampleBundle.build(in: dir, name: "second.airlock", sources: otherSources.path)
            let firstBytes = try contents(first.path)
            #expect(firstBytes == (try contents(second.path)))
            #expect(first.entries == second.entries)
            #expect(firstBytes.count % 10240 == 0)
        }

        @Test func gnuTarAndPythonReadTheBundleWithFixedOwnersTimesAndModes() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let listing = String(decoding: try run(["tar", "--numeric-owner", "-tvf", sample.path]), as: UTF8.self)
            let lines = listing.split(separator: "\n")
            #expect(lines.count == sample.entries.count)
            #expect(lines.allSatisfy { $0.contains(" 0/0 ") && $0.contains("1970-01-01 00:00") })
            #expect(lines.contains { $0.hasPrefix("-rwxr-xr-x") && $0.hasSuffix("runtime/cpu-avx2/llama-server") })
            #expect(lines.contains { $0.hasPrefix("drwxr-xr-x") && $0.hasSuffix("models/") })
            let manifest = try run(["tar", "-xOf", sample.path, "manifest.json"])
            #expect([UInt8](manifest) == sample.plain["manifest.json"])
            let script = """
                import sys, tarfile
                with tarfile.open(sys.argv[1]) as t:
                    for m in t.getmembers():
                        assert m.uid == 0 and m.gid == 0 and m.mtime == 0 and m.uname == "" and m.gname == "", m
                        assert not m.pax_headers.keys() - {"path"}, m.pax_headers
                    print(t.extractfile("\(SampleBundle.longPath)").read().hex())
                """
            let deep = String(decoding: try run(["python3", "-c", script, sample.path]), as: UTF8.self)
            #expect(
                deep.trimmingCharacters(in: .whitespacesAndNewlines)
                    == sample.plain[SampleBundle.longPath]!.map { String(format: "%02x", $0) }.joined())
        }

        @Test func readChunksAndReadIntoGiveTheStoredBytes() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let reader = try BundleArchiveReader(path: sample.path)
            _ = try reader.next()  // manifest.json
            #expect(try reader.readAll(limit: 1024) == sample.plain["manifest.json"])
            _ = try reader.next()  // signatures: left unread, skipped by next()
            _ = try reader.next()  // models
            let weights = try #require(try reader.next())
            #expect(weights.path == "models/base.gguf")
            var bytes = [UInt8](repeating: 0, count: Int(weights.size))
            var filled = 0
            while true {
                let got = try bytes.withUnsafeMutableBytes { buffer in
                    try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<min(filled + 100_000, buffer.count)]))
                }
                if got == 0 { break }
                filled += got
            }
            #expect(filled == bytes.count)
            #expect(bytes == sample.plain["models/base.gguf"])
        }

        @Test func writerRefusesBadPathsAndDuplicates() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let writer = try BundleArchiveWriter(path: dir.file("b.airlock"))
            let bad = [
                "", "/etc/passwd", "../evil", "a/../../b", "a//b", "./a", "a/./b", "dir/", "a\u{0}b", "a\nb",
                String(repeating: "x", count: 256),
            ]
            for path in bad {
                #expect(throws: AirlockError.self, "\(path.debugDescription)") { try writer.addData(path: path, bytes: [1]) }
            }
            try writer.addData(path: String(repeating: "x", count: 255), bytes: [1])
            try writer.addData(path: "a", bytes: [1])
            #expect(throws: AirlockError.self) { try writer.addData(path: "a", bytes: [2]) }
            #expect(throws: AirlockError.self) { try writer.addDirectory(path: "a") }
            // The refusals came before any header: the writer is still usable.
            try writer.finish()
            #expect(try readBundle(dir.file("b.airlock")).map(\.header.path) == [String(repeating: "x", count: 255), "a"])
        }

        @Test func writerRefusesToCompressZstdDataAgain() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let frame = dir.file("frame.zst")
            let scratch = try ScratchFile(in: dir.path)
            let encoder = try ZstdEncoder(level: 1, fileDescriptor: scratch.fd, bufferSize: 1 << 16)
            try Array("hello".utf8).withUnsafeBytes { try encoder.write($0) }
            _ = try encoder.finish()
            try scratch.rewind()
            var bytes = [UInt8](repeating: 0, count: 100)
            let count = bytes.withUnsafeMutableBytes { read(scratch.fd, $0.baseAddress, 100) }
            try write(Array(bytes.prefix(count)), to: frame)
            let writer = try BundleArchiveWriter(path: dir.file("b.airlock"))
            #expect(throws: AirlockError.self) { try writer.addFile(path: "frame.zst", from: frame, encoding: .zstd(level: 1)) }
            try writer.addFile(path: "frame.zst", from: frame)  // stored is fine
            try writer.finish()
        }

        @Test func abandonedWriterLeavesNoEndMarker() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let fd = open(dir.file("b.airlock"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            defer { close(fd) }
            do {
                let writer = try BundleArchiveWriter(fileDescriptor: fd, blockSize: 64 << 10)
                try writer.addData(path: "manifest.json", bytes: noise(300_000))
                // Dropped without finish() while the descriptor stays open: libarchive, freed,
                // would still write an end-of-archive marker and make this look complete.
            }
            expectRefused(dir.file("b.airlock"), "bundle is truncated")
        }

        @Test func failureAfterAHeaderBreaksTheWriter() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            try write(noise(1 << 20), to: dir.file("weights"))
            let writer = try BundleArchiveWriter(path: dir.file("b.airlock"), blockSize: 64 << 10)
            var calls = 0
            #expect(throws: AirlockError.self) {
                try writer.addFile(path: "weights", from: dir.file("weights")) { _ throws(AirlockError) in
                    calls += 1
                    if calls == 3 { throw AirlockError(.crypto, "hasher failed") }
                }
            }
            let error = #expect(throws: AirlockError.self) { try writer.addData(path: "next", bytes: [1]) }
            #expect(error?.message == "hasher failed")
            #expect(throws: AirlockError.self) { try writer.finish() }
        }

        /// What libarchive's pax writer puts in the ustar size field, checked on the writer's own
        /// header bytes (the data itself is never written: the writer is dropped after the header).
        @Test func writerFollowsTheSizeRuleForEightGiBAndSixtyFiveGiB() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            for (size, field) in [
                (Int64(5), Array("00000000005 ".utf8)),
                ((Int64(8) << 30) - 1, Array("77777777777 ".utf8)),
                (Int64(9) << 30, Array("110000000000".utf8)),
                (Int64(65) << 30, [0x80, 0, 0, 0, 0, 0, 0, 0x10, 0x40, 0, 0, 0] as [UInt8]),
            ] {
                let path = dir.file("header-\(size)")
                do {
                    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                    defer { close(fd) }
                    let writer = try BundleArchiveWriter(fileDescriptor: fd, temporaryDirectory: nil, blockSize: 1 << 20, recordSize: 0)
                    try writer.writeHeader(path: "big", kind: .file, size: size, executable: false)
                    #expect(writer.sink.flush())
                }
                let bytes = try contents(path)
                let hasPax = size >= TarEntryHeaders.eightGiB
                try #require(bytes.count == (hasPax ? 1536 : 512))
                let main = Array(bytes.suffix(512))
                #expect(Array(main[124..<136]) == field, "size \(size)")
                if hasPax {
                    #expect(bytes[156] == UInt8(ascii: "x"))
                    let records = try TarEntryHeaders.records(Array(bytes[512..<1024].prefix { $0 != 0 }), at: 0)
                    #expect(records["size"] == Array(String(size).utf8))
                }
                let outcome = try TarEntryHeaders.parse(at: 0, maxExtendedHeader: 65536) { offset, count in
                    offset + Int64(count) <= Int64(bytes.count) ? Array(bytes[Int(offset)..<(Int(offset) + count)]) : nil
                }
                guard case .entry(let parsed) = outcome else {
                    Issue.record("header not parsed")
                    continue
                }
                #expect(parsed.size == size)
            }
        }

        @Test func sizeRuleUnits() throws {
            func field(_ text: String) -> ArraySlice<UInt8> { ArraySlice(Array(text.utf8)) }
            #expect(TarEntryHeaders.sizeField(field("00000000005\u{0}"))?.value == 5)
            #expect(TarEntryHeaders.sizeField(field("     5 \u{0}\u{0}\u{0}\u{0}\u{0}"))?.value == 5)
            #expect(TarEntryHeaders.sizeField(field("110000000000"))?.value == 9 << 30)
            #expect(TarEntryHeaders.sizeField(field("0000000000x\u{0}")) == nil)
            #expect(TarEntryHeaders.sizeField(field("\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}")) == nil)
            #expect(TarEntryHeaders.sizeField(ArraySlice([0xFF] + [UInt8](repeating: 0xFF, count: 11))) == nil)
            #expect(TarEntryHeaders.canonicalDecimal(Array("0".utf8)) == 0)
            #expect(TarEntryHeaders.canonicalDecimal(Array("05".utf8)) == nil)
            #expect(TarEntryHeaders.canonicalDecimal(Array("+5".utf8)) == nil)
            #expect(TarEntryHeaders.canonicalDecimal(Array("9663676416".utf8)) == 9_663_676_416)
            // Without a pax size: octal below 8 GiB only.
            #expect(throws: AirlockError.self) { try TarEntryHeaders.resolveSize(ustar: field("110000000000"), pax: nil, label: "x") }
            #expect(try TarEntryHeaders.resolveSize(ustar: field("00000000005 "), pax: nil, label: "x") == 5)
            // With one: the ustar field must hold the same number, in whatever encoding.
            #expect(try TarEntryHeaders.resolveSize(ustar: field("110000000000"), pax: Array("9663676416".utf8), label: "x") == 9 << 30)
            #expect(throws: AirlockError.self) {
                try TarEntryHeaders.resolveSize(ustar: field("00000000000 "), pax: Array("9663676416".utf8), label: "x")
            }
            #expect(throws: AirlockError.self) { try TarEntryHeaders.resolveSize(ustar: field("00000000005 "), pax: Array("6".utf8), label: "x") }
        }
    }
}

extension SampleBundle {
    /// The offset just past the end of entry `index`'s (padded) data, found by reading.
    func entryEnd(_ index: Int) throws -> Int64 {
        var offset: Int64 = 0
        let bytes = try contents(path)
        var seen = 0
        while true {
            let outcome = try TarEntryHeaders.parse(at: offset, maxExtendedHeader: 65536) { at, count in
                at + Int64(count) <= Int64(bytes.count) ? Array(bytes[Int(at)..<(Int(at) + count)]) : nil
            }
            guard case .entry(let headers) = outcome else { throw TestFailure("cannot parse") }
            offset += Int64(headers.length) + Int64(TarEntryHeaders.roundUp(Int(headers.size)))
            if seen == index { return offset }
            seen += 1
        }
    }
}
