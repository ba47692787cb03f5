import AirlockCore
@testable import Archive
import Foundation
import Testing
import TestSupport

/// One named test per hostile input: each must be refused with a message that says what is wrong.
extension BundleArchiveTests {
    @Suite struct Hostile {
        /// Makes the Python-built hostile archive `name` and expects a refusal containing `fragment`.
        func refuses(_ name: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let path = dir.file(name + ".tar")
            try makeHostile(name, at: path)
            expectRefused(path, fragment, sourceLocation: sourceLocation)
        }

        // MARK: Entry types

        @Test func symlink() throws { try refuses("symlink", "bundle entry 'evil' is a symbolic link") }
        @Test func hardLink() throws { try refuses("hardlink", "bundle entry 'b' is a hard link") }
        @Test func characterDevice() throws { try refuses("chardev", "bundle entry 'null' is a character device") }
        @Test func blockDevice() throws { try refuses("blockdev", "bundle entry 'sda' is a block device") }
        @Test func fifo() throws { try refuses("fifo", "bundle entry 'pipe' is a FIFO") }
        @Test func oldStyleRegularType() throws { try refuses("old-regular-type", "old-style regular file") }
        @Test func globalPaxHeader() throws { try refuses("global-pax", "a global pax header") }
        @Test func gnuLongName() throws { try refuses("gnu-longname", "GNU and v7 tar headers are not accepted") }
        @Test func directoryWithData() throws { try refuses("directory-with-data", "is a directory with 5 bytes of data") }

        // MARK: Modes

        @Test func setuid() throws { try refuses("setuid", "'runtime/llama-server' has mode 4755: setuid, setgid and sticky bits are not allowed") }
        @Test func setgid() throws { try refuses("setgid", "'runtime/llama-server' has mode 2755") }
        @Test func sticky() throws { try refuses("sticky", "'tmp/' has mode 1777") }

        // MARK: Paths

        @Test func absolutePath() throws { try refuses("absolute", "'/etc/cron.d/evil': the path is absolute") }
        @Test func dotDotPath() throws { try refuses("dotdot", "'models/../../evil': the path has a '..' component") }
        @Test func emptyComponent() throws { try refuses("empty-component", "the path has an empty component") }
        @Test func dotSlashPrefix() throws { try refuses("dot-prefix", "'./manifest.json': the path has a '.' component") }
        @Test func controlCharacterInName() throws {
            try refuses("control-character", "'models/base\\x1b[2J.gguf': the path contains a NUL or control character")
        }
        @Test func nulInPaxPath() throws { try refuses("nul-in-pax-path", "the path contains a NUL or control character") }
        @Test func pathOver255Bytes() throws { try refuses("long-path", "the path is 256 bytes, over the limit of 255") }
        @Test func duplicateEntry() throws { try refuses("duplicate-entry", "bundle entry 'manifest.json' appears twice") }

        // MARK: Sizes and pax headers

        @Test func paxSizeDisagreesWithUstarSize() throws {
            try refuses("pax-size-mismatch", "bundle entry 'innocent': pax size 600 disagrees with the ustar header's size 5")
        }
        @Test func paxSizeOverEightGiBWithUstarZero() throws {
            try refuses("pax-size-big-ustar-zero", "pax size 9663676416 disagrees with the ustar header's size 0")
        }
        @Test func eightGiBWithoutPaxSize() throws {
            try refuses("big-without-pax", "bundle entry 'big' is 9663676416 bytes (8 GiB or more) without a pax size record")
        }
        @Test func base256SizeWithoutPaxSize() throws {
            try refuses("big-base256-without-pax", "malformed or non-octal ustar size field and no pax size record")
        }
        @Test func paxSizeNotCanonical() throws { try refuses("pax-size-not-canonical", "malformed pax size record '0005'") }
        @Test func oversizedPaxHeader() throws { try refuses("oversized-pax", "pax extended header is 70012 bytes, over the limit of 65536") }
        @Test func duplicatePaxRecord() throws { try refuses("pax-duplicate-key", "pax record 'path' appears twice") }
        @Test func paxExtendedAttribute() throws { try refuses("pax-xattr", "pax record 'SCHILY.xattr.security.capability' is not allowed") }
        @Test func paxLinkpath() throws { try refuses("pax-linkpath", "pax record 'linkpath' is not allowed") }
        @Test func paxSparseFile() throws { try refuses("pax-sparse", "pax record 'GNU.sparse.size' is not allowed") }
        @Test func twoPaxHeaders() throws { try refuses("two-pax-headers", "is a second pax extended header") }
        @Test func badHeaderChecksum() throws { try refuses("bad-checksum", "header checksum mismatch") }

        @Test func moreEntriesThanTheLimit() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            expectRefused(sample.path, "bundle has more than 3 entries", limits: .init(maxEntries: 3))
        }

        // MARK: Whole-file damage

        @Test func truncatedInsideData() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let bytes = try contents(sample.path)
            let cut = dir.file("cut.airlock")
            try write(Array(bytes.prefix(5 << 20)), to: cut)  // inside models/base.gguf (9 MiB)
            expectRefused(cut, "bundle is truncated: entry 'models/base.gguf' needs 9437307 bytes")
        }

        @Test func truncatedInsideDataThatWasNotRead() throws {
            // The caller skips the big entry; libarchive reads through it inside next().
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let bytes = try contents(sample.path)
            let cut = dir.file("cut.airlock")
            try write(Array(bytes.prefix(5 << 20)), to: cut)
            let reader = try BundleArchiveReader(path: cut)
            #expect(throws: AirlockError.self) {
                while try reader.next() != nil {}
            }
            do {
                while try reader.next() != nil {}
            } catch {
                #expect(error.description.contains("bundle is truncated"), "\(error)")
            }
        }

        @Test func truncatedAtAnEntryBoundary() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let bytes = try contents(sample.path)
            let cut = dir.file("cut.airlock")
            try write(Array(bytes.prefix(Int(try sample.entryEnd(sample.entries.count - 1)))), to: cut)
            expectRefused(cut, "bundle is truncated: it ends after entry 'empty' without the end-of-archive marker")
        }

        @Test func truncatedInsideAHeader() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let bytes = try contents(sample.path)
            let cut = dir.file("cut.airlock")
            try write(Array(bytes.prefix(Int(try sample.entryEnd(0)) + 100)), to: cut)
            expectRefused(cut, "bundle is truncated: the header at offset 1024 is cut off")
        }

        @Test func emptyFile() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            try write([], to: dir.file("empty.airlock"))
            expectRefused(dir.file("empty.airlock"), "the file is empty: not an Airlock bundle")
        }

        @Test func garbage() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            try write(noise(100_000), to: dir.file("garbage.airlock"))
            expectRefused(dir.file("garbage.airlock"), "not an Airlock bundle")
        }

        @Test func trailingGarbageAfterTheEndMarker() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            try write(try contents(sample.path) + Array("smuggled".utf8), to: dir.file("trailing.airlock"))
            expectRefused(dir.file("trailing.airlock"), "trailing data after the end-of-archive marker")
        }

        @Test func secondArchiveAfterTheEndMarker() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let bytes = try contents(sample.path)
            try write(bytes + bytes, to: dir.file("twice.airlock"))
            expectRefused(dir.file("twice.airlock"), "trailing data after the end-of-archive marker")
        }

        @Test func tooManyZerosAfterTheEndMarker() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            try write(try contents(sample.path) + [UInt8](repeating: 0, count: 2 << 20), to: dir.file("zeros.airlock"))
            expectRefused(dir.file("zeros.airlock"), "more than 1048576 bytes after the end-of-archive marker")
        }

        @Test func zstdCompressedOuterArchive() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let compressed = dir.file("bundle.tar.zst")
            let fd = open(compressed, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            defer { close(fd) }
            let encoder = try ZstdEncoder(level: 1, fileDescriptor: fd, bufferSize: 1 << 20)
            try contents(sample.path).withUnsafeBytes { try encoder.write($0) }
            _ = try encoder.finish()
            expectRefused(compressed, "bundle is compressed as a whole (zstd): only an uncompressed pax tar is accepted")
        }

        @Test func gzipCompressedOuterArchive() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            try run([
                "python3", "-c", "import gzip,sys; open(sys.argv[2],'wb').write(gzip.compress(open(sys.argv[1],'rb').read()))", sample.path,
                dir.file("b.tgz"),
            ])
            expectRefused(dir.file("b.tgz"), "bundle is compressed as a whole (gzip)")
        }

        // MARK: Sizes the manifest expects

        @Test func entryLargerThanExpectedIsRefusedBeforeReading() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let reader = try BundleArchiveReader(path: sample.path)
            while let header = try reader.next(), header.path != "models/base.gguf" {}
            var delivered = 0
            let error = #expect(throws: AirlockError.self) {
                try reader.readDecoded(.stored, storedSize: 1000, plainSize: 1000) { delivered += $0.count }
            }
            #expect(
                error?.description == "entry 'models/base.gguf' is larger than expected: 9437307 bytes stored, 1000 expected",
                "\(String(describing: error))")
            #expect(delivered == 0)
            // A refusal is final.
            #expect(throws: AirlockError.self) { try reader.next() }
        }

        @Test func entrySmallerThanExpected() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let reader = try BundleArchiveReader(path: sample.path)
            _ = try reader.next()
            #expect(throws: AirlockError.self) { try reader.readDecoded(.stored, storedSize: 1 << 20, plainSize: 1 << 20) { _ in } }
        }

        @Test func readAllOverItsLimit() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let sample = try SampleBundle.build(in: dir)
            let reader = try BundleArchiveReader(path: sample.path)
            while let header = try reader.next(), header.path != "models/base.gguf" {}
            let error = #expect(throws: AirlockError.self) {
                try reader.readAll(limit: 1 << 20)
            }
            #expect(
                error?.description.contains("is 9437307 bytes, over the limit of 1048576 for an entry held in memory") == true,
                "\(String(describing: error))")
        }

        @Test func zstdEntryThatIsNotZstd() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let writer = try BundleArchiveWriter(path: dir.file("b.airlock"))
            try writer.addData(path: "fake.zst", bytes: Array(String(repeating: "plain text ", count: 100).utf8))
            try writer.finish()
            let reader = try BundleArchiveReader(path: dir.file("b.airlock"))
            _ = try reader.next()
            let error = #expect(throws: AirlockError.self) {
                try reader.readDecoded(.zstd, storedSize: 1100, plainSize: 1100) { _ in }
            }
            #expect(error?.description.contains("entry 'fake.zst' is not a single zstd stream") == true, "\(String(describing: error))")
        }

        @Test func zstdEntryWithTwoLayers() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let inner = try zstd(Array(repeating: 7, count: 100_000), in: dir)
            let outer = try zstd(inner, in: dir)
            let writer = try BundleArchiveWriter(path: dir.file("b.airlock"))
            try writer.addData(path: "double.zst", bytes: outer)
            try writer.finish()
            let reader = try BundleArchiveReader(path: dir.file("b.airlock"))
            _ = try reader.next()
            let error = #expect(throws: AirlockError.self) {
                try reader.readDecoded(.zstd, storedSize: Int64(outer.count), plainSize: Int64(inner.count)) { _ in }
            }
            #expect(
                error?.description.contains("is not a single zstd stream (libarchive sees 2 compression layers)") == true,
                "\(String(describing: error))")
        }

        @Test func zstdEntryThatDecodesShort() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let frame = try zstd(Array(repeating: 7, count: 1000), in: dir)
            let writer = try BundleArchiveWriter(path: dir.file("b.airlock"))
            try writer.addData(path: "short.zst", bytes: frame)
            try writer.finish()
            let reader = try BundleArchiveReader(path: dir.file("b.airlock"))
            _ = try reader.next()
            let error = #expect(throws: AirlockError.self) {
                try reader.readDecoded(.zstd, storedSize: Int64(frame.count), plainSize: 1001) { _ in }
            }
            #expect(error?.description.contains("decodes to 1000 bytes, 1001 expected") == true, "\(String(describing: error))")
        }

        @Test func zstdEntryWithBytesAfterItsFrame() throws {
            let dir = try Scratch()
            defer { dir.remove() }
            let frame = try zstd(Array(repeating: 7, count: 1000), in: dir) + Array("junk after the frame".utf8)
            let writer = try BundleArchiveWriter(path: dir.file("b.airlock"))
            try writer.addData(path: "junk.zst", bytes: frame)
            try writer.finish()
            let reader = try BundleArchiveReader(path: dir.file("b.airlock"))
            _ = try reader.next()
            let error = #expect(throws: AirlockError.self) {
                try reader.readDecoded(.zstd, storedSize: Int64(frame.count), plainSize: 1000) { _ in }
            }
            #expect(error?.description.contains("entry 'junk.zst' is not a valid zstd stream") == true, "\(String(describing: error))")
            #expect(error?.description.contains("Unknown frame descriptor") == true)
        }

        /// One zstd frame of `bytes`.
        func zstd(_ bytes: [UInt8], in dir: Scratch) throws -> [UInt8] {
            let scratch = try ScratchFile(in: dir.path)
            let encoder = try ZstdEncoder(level: 1, fileDescriptor: scratch.fd, bufferSize: 1 << 16)
            try bytes.withUnsafeBytes { try encoder.write($0) }
            let size = try encoder.finish()
            try scratch.rewind()
            var frame = [UInt8](repeating: 0, count: Int(size))
            let got = frame.withUnsafeMutableBytes { read(scratch.fd, $0.baseAddress, $0.count) }
            #expect(got == Int(size))
            return frame
        }
    }
}
