import AirlockCore
@testable import Archive
import Foundation
import Testing
import TestSupport

// Helpers for the archive tests, over TestSupport's.

/// A folder under the temporary folder, removed when the test ends (`defer { dir.remove() }`).
typealias Scratch = TemporaryDirectory
typealias TestFailure = TestSupportError

/// Runs a program (found on PATH) to completion; throws unless it exits 0. Returns its standard output.
@discardableResult
func run(_ arguments: [String], input: Data? = nil) throws -> Data {
    try ProcessResult.run("/usr/bin/env", arguments, input: input).checked().output
}

/// Deterministic pseudo-random bytes (xorshift), for contents that do not compress.
func noise(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
        var index = 0
        while index < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            var word = state
            for _ in 0..<8 where index < count {
                buffer[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }
    return bytes
}

func write(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func contents(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A sparse file of `size` bytes, zeros except `markers` written at their offsets.
func sparseFile(_ path: String, size: Int64, markers: [(Int64, [UInt8])] = []) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw TestFailure("cannot create \(path)") }
    defer { close(fd) }
    guard ftruncate(fd, off_t(size)) == 0 else { throw TestFailure("ftruncate failed") }
    for (offset, bytes) in markers {
        let wrote = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard wrote == bytes.count else { throw TestFailure("pwrite failed") }
    }
}

/// What a whole bundle holds: every entry's header and (stored) bytes.
struct ReadEntry: Equatable {
    let header: EntryHeader
    let bytes: [UInt8]
}

/// Reads every entry of the bundle at `path`, holding data in memory (small bundles only).
func readBundle(_ path: String, limits: BundleArchiveReader.Limits = .init()) throws(AirlockError) -> [ReadEntry] {
    let reader = try BundleArchiveReader(path: path, limits: limits)
    var entries: [ReadEntry] = []
    while let header = try reader.next() {
        entries.append(ReadEntry(header: header, bytes: try reader.readAll(limit: 64 << 20)))
    }
    return entries
}

/// Expects reading the bundle at `path` to be refused with a message containing `fragment`.
func expectRefused(
    _ path: String, _ fragment: String, limits: BundleArchiveReader.Limits = .init(), sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let entries = try readBundle(path, limits: limits)
        Issue.record("expected a refusal containing \"\(fragment)\", read \(entries.map(\.header))", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == .archive, sourceLocation: sourceLocation)
        #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
    }
}

/// Makes the hostile archive `name` at `path` with Python (tarfile, or raw header blocks where
/// tarfile would refuse or fix what we need broken). Nothing binary is committed.
func makeHostile(_ name: String, at path: String) throws {
    try run(["python3", "-c", hostileArchiveScript, name, path])
}

let hostileArchiveScript = #"""
    import io, sys, tarfile

    case, out = sys.argv[1], sys.argv[2]

    def header(name, typeflag=b"0", size=0, mode=0o644, size_field=None, magic=b"ustar\x0000", linkname=b"", checksum_delta=0):
        h = bytearray(512)
        h[0:len(name)] = name
        h[100:108] = b"%07o\x00" % mode
        h[108:116] = b"0000000\x00"
        h[116:124] = b"0000000\x00"
        h[124:136] = size_field if size_field is not None else b"%011o\x00" % size
        h[136:148] = b"00000000000\x00"
        h[156:157] = typeflag
        h[157:157 + len(linkname)] = linkname
        h[257:265] = magic
        h[148:156] = b"        "
        h[148:156] = b"%06o\x00 " % (sum(h) + checksum_delta)
        return bytes(h)

    def pad(data):
        return data + b"\0" * (-len(data) % 512)

    def records(pairs):
        data = b""
        for key, value in pairs:
            body = b" " + key + b"=" + value + b"\n"
            length = len(body) + 1
            while len(str(length).encode()) + len(body) != length:
                length += 1
            data += str(length).encode() + body
        return data

    def pax(pairs, typeflag=b"x"):
        data = records(pairs)
        return header(b"PaxHeader/x", typeflag, len(data)) + pad(data)

    def entry(name, data=b"hello", mode=0o644):
        return header(name, b"0", len(data), mode) + pad(data)

    END = b"\0" * 10240

    def tar(members):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for info, data in members:
                archive.addfile(info, io.BytesIO(data) if data is not None else None)
        return buffer.getvalue()

    def info(name, type=tarfile.REGTYPE, size=0, mode=0o644, **extra):
        member = tarfile.TarInfo(name)
        member.type = type
        member.size = size
        member.mode = mode
        for key, value in extra.items():
            setattr(member, key, value)
        return member

    raw = None
    if case == "symlink":
        raw = tar([(info("manifest.json", size=2), b"{}"), (info("evil", tarfile.SYMTYPE, linkname="/etc/passwd"), None)])
    elif case == "hardlink":
        raw = tar([(info("a", size=2), b"hi"), (info("b", tarfile.LNKTYPE, linkname="a"), None)])
    elif case == "chardev":
        raw = tar([(info("null", tarfile.CHRTYPE, devmajor=1, devminor=3), None)])
    elif case == "blockdev":
        raw = tar([(info("sda", tarfile.BLKTYPE, devmajor=8, devminor=0), None)])
    elif case == "fifo":
        raw = tar([(info("pipe", tarfile.FIFOTYPE), None)])
    elif case == "setuid":
        raw = tar([(info("runtime/llama-server", size=2, mode=0o4755), b"hi")])
    elif case == "setgid":
        raw = tar([(info("runtime/llama-server", size=2, mode=0o2755), b"hi")])
    elif case == "sticky":
        raw = tar([(info("tmp", tarfile.DIRTYPE, mode=0o1777), None)])
    elif case == "absolute":
        raw = entry(b"/etc/cron.d/evil") + END
    elif case == "dotdot":
        raw = entry(b"models/../../evil") + END
    elif case == "empty-component":
        raw = entry(b"models//base.gguf") + END
    elif case == "dot-prefix":
        raw = entry(b"./manifest.json") + END
    elif case == "control-character":
        raw = entry(b"models/base\x1b[2J.gguf") + END
    elif case == "nul-in-pax-path":
        raw = pax([(b"path", b"models/base.gguf\x00../../evil")]) + entry(b"models/base.gguf") + END
    elif case == "long-path":
        raw = tar([(info("a/" * 127 + "bc", size=2), b"hi")])
    elif case == "pax-size-mismatch":
        # libarchive believes the pax size (600) and reads the next 600 bytes as this entry's data; a
        # reader that believes the ustar size (5) finds a second, smuggled entry there.
        smuggled = entry(b"smuggled", b"payload")
        raw = pax([(b"size", b"600")]) + header(b"innocent", b"0", 5) + pad(b"hello" + b"\0" * 507 + smuggled[:88]) + END
    elif case == "pax-size-big-ustar-zero":
        raw = pax([(b"size", b"9663676416")]) + header(b"big", b"0", 0) + END
    elif case == "big-without-pax":
        raw = header(b"big", b"0", size_field=b"110000000000") + END
    elif case == "big-base256-without-pax":
        raw = header(b"big", b"0", size_field=b"\x80" + (9663676416).to_bytes(11, "big")) + END
    elif case == "pax-size-not-canonical":
        raw = pax([(b"size", b"0005")]) + header(b"file", b"0", 5) + pad(b"hello") + END
    elif case == "oversized-pax":
        raw = pax([(b"path", b"x" * 70000)]) + entry(b"file") + END
    elif case == "pax-duplicate-key":
        raw = pax([(b"path", b"a"), (b"path", b"b")]) + entry(b"file") + END
    elif case == "pax-xattr":
        raw = pax([(b"SCHILY.xattr.security.capability", b"\x01\x00\x00\x02")]) + entry(b"file") + END
    elif case == "pax-linkpath":
        raw = pax([(b"linkpath", b"/etc/passwd")]) + entry(b"file") + END
    elif case == "pax-sparse":
        raw = pax([(b"GNU.sparse.size", b"1000000")]) + entry(b"file") + END
    elif case == "two-pax-headers":
        raw = pax([(b"path", b"a")]) + pax([(b"path", b"b")]) + entry(b"file") + END
    elif case == "global-pax":
        raw = pax([(b"comment", b"hi")], typeflag=b"g") + entry(b"file") + END
    elif case == "gnu-longname":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
            archive.addfile(info("n" * 150, size=2), io.BytesIO(b"hi"))
        raw = buffer.getvalue()
    elif case == "bad-checksum":
        raw = entry(b"good", b"hi") + header(b"file", b"0", 0, checksum_delta=1) + END
    elif case == "duplicate-entry":
        raw = entry(b"manifest.json", b"{}") + entry(b"manifest.json", b"{\"evil\":1}") + END
    elif case == "directory-with-data":
        raw = header(b"dir/", b"5", 5, 0o755) + pad(b"hello") + END
    elif case == "old-regular-type":
        raw = header(b"file", b"\x00", 5) + pad(b"hello") + END
    else:
        sys.exit("unknown case " + case)

    with open(out, "wb") as f:
        f.write(raw)
    """#
