internal import AirlockCore

/// Our own reading of the raw header blocks of one tar entry, next to libarchive's: the checks
/// that need what libarchive resolves silently (above all, which of two sizes it believed).
///
/// An entry is at most one pax extended header (`x`, its records) followed by one ustar header of
/// type `0` (regular file) or `5` (directory). Anything else in that position is refused: links,
/// devices, FIFOs, global pax headers (`g`), GNU long names (`L`, `K`), sparse and other
/// vendor types, and the old `\0` regular type (our writer never writes it).
///
/// ## The size rule (quoted by Docs/bundle-format.md)
///
/// Let U be the ustar header's 12-byte size field and P the `size` record of the entry's pax
/// extended header, if it has one.
/// - U is parsed as octal digits (optional leading spaces, then digits, then NUL or space padding;
///   all 12 bytes may be digits with no terminator) or as base-256 (first byte 0x80, then
///   11 bytes big-endian). Anything else, and any negative base-256 value, is refused.
/// - P, when present, must be canonical decimal: digits only, no sign, no leading zero (except
///   "0"), at most 18 digits.
/// - Without P, U must be octal and below 8 GiB (2^33 bytes): a file of 8 GiB or more needs a pax
///   `size` record.
/// - With P, U must parse and equal P exactly. A U that is a valid but different size (including
///   0, which Python's tarfile writes for files of 8 GiB or more) is refused, so every tar reader
///   (those that believe the pax record and those that believe the ustar field) finds the same
///   entry boundaries: nothing can be smuggled past one of them (the "TARmageddon" class).
/// libarchive's pax writer, which the bundle writer uses, complies: below 8 GiB it writes 11
/// octal digits and a terminator with no pax size; from 8 GiB it adds `size=N` and writes N in the
/// ustar field as 12 octal digits without terminator (up to 64 GiB) or in base-256 (above).
struct TarEntryHeaders {
    /// The raw path: the pax `path` record if present, else ustar `prefix/name`.
    let pathBytes: [UInt8]
    let typeflag: UInt8
    let size: Int64
    let permissions: UInt16
    /// Bytes from the first header block to the end of the ustar header.
    let length: Int

    static let eightGiB: Int64 = 1 << 33

    /// Keys a pax extended header may carry. Others are refused: `linkpath` (links), `GNU.sparse.*`
    /// (sparse files), `SCHILY.*`/`LIBARCHIVE.*` (xattrs, ACLs, flags, devices), `hdrcharset`
    /// (non-UTF-8 names) and anything unknown.
    static let allowedPaxKeys: Set<String> = ["path", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"]

    enum Outcome {
        case entry(TarEntryHeaders)
        /// The bytes up to `end` are needed and not (yet) available.
        case needBytes(end: Int64)
    }

    /// Parses the headers starting at `offset`; `bytes(offset, count)` gives raw bytes or nil
    /// when they are not available. `name` labels messages when the path is not known yet.
    static func parse(
        at offset: Int64, maxExtendedHeader: Int, bytes: (Int64, Int) -> [UInt8]?
    ) throws(AirlockError) -> Outcome {
        guard let first = bytes(offset, 512) else { return .needBytes(end: offset + 512) }
        try checkBlock(first, at: offset)
        var pax: [String: [UInt8]] = [:]
        var main = first
        var length = 512
        if first[156] == UInt8(ascii: "x") {
            let dataSize = try octalField(first[124..<136], "pax header size", at: offset)
            guard dataSize <= Int64(maxExtendedHeader) else {
                throw AirlockError(
                    .archive, kind: .overLimit,
                    "bundle header at offset \(offset): pax extended header is \(dataSize) bytes, over the limit of \(maxExtendedHeader)")
            }
            let size = Int(dataSize)
            guard let data = bytes(offset + 512, size) else { return .needBytes(end: offset + 512 + Int64(size)) }
            pax = try records(data, at: offset)
            length = 512 + roundUp(size)
            guard let next = bytes(offset + Int64(length), 512) else {
                return .needBytes(end: offset + Int64(length) + 512)
            }
            try checkBlock(next, at: offset + Int64(length))
            main = next
            length += 512
        }

        let path: [UInt8]
        if let paxPath = pax["path"] {
            path = paxPath
        } else {
            let name = cString(main[0..<100])
            let prefix = cString(main[345..<500])
            path = prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
        }
        let label = { BundlePath.printable(path) }  // for messages only: built when one is thrown

        let typeflag = main[156]
        switch typeflag {
        case UInt8(ascii: "0"), UInt8(ascii: "5"):
            break
        default:
            throw AirlockError(
                .archive, kind: .unsafeEntry, "bundle entry '\(label())' is \(typeName(typeflag)): only regular files and directories are allowed")
        }

        let mode = try octalField(main[100..<108], "mode", at: offset)
        if mode & 0o7000 != 0 {
            throw AirlockError(
                .archive, kind: .unsafeEntry,
                "bundle entry '\(label())' has mode \(String(mode, radix: 8)): setuid, setgid and sticky bits are not allowed")
        }

        let size = try resolveSize(ustar: main[124..<136], pax: pax["size"], label: label())
        if typeflag == UInt8(ascii: "5") && size != 0 {
            throw AirlockError(.archive, kind: .malformedArchive, "bundle entry '\(label())' is a directory with \(size) bytes of data")
        }
        return .entry(
            TarEntryHeaders(
                pathBytes: path, typeflag: typeflag, size: size, permissions: UInt16(mode & 0o777), length: length))
    }

    /// The size rule (see the type's documentation).
    static func resolveSize(ustar: ArraySlice<UInt8>, pax: [UInt8]?, label: @autoclosure () -> String) throws(AirlockError) -> Int64 {
        let field = sizeField(ustar)
        guard let pax else {
            guard case .octal(let value)? = field else {
                throw AirlockError(
                    .archive, kind: .malformedArchive, "bundle entry '\(label())' has a malformed or non-octal ustar size field and no pax size record")
            }
            guard value < eightGiB else {
                throw AirlockError(
                    .archive, kind: .malformedArchive, "bundle entry '\(label())' is \(value) bytes (8 GiB or more) without a pax size record")
            }
            return value
        }
        guard let declared = canonicalDecimal(pax) else {
            throw AirlockError(
                .archive, kind: .malformedArchive, "bundle entry '\(label())' has a malformed pax size record '\(BundlePath.printable(pax))'")
        }
        guard let field else {
            throw AirlockError(
                .archive, kind: .malformedArchive, "bundle entry '\(label())' has a malformed ustar size field beside pax size \(declared)")
        }
        guard field.value == declared else {
            throw AirlockError(
                .archive, kind: .malformedArchive,
                "bundle entry '\(label())': pax size \(declared) disagrees with the ustar header's size \(field.value); refusing an archive that tar readers would split differently"
            )
        }
        return declared
    }

    enum SizeField {
        case octal(Int64)
        case base256(Int64)

        var value: Int64 {
            switch self {
            case .octal(let value), .base256(let value): value
            }
        }
    }

    /// The 12-byte size field as octal (terminated or not) or positive base-256; nil if neither.
    static func sizeField(_ field: ArraySlice<UInt8>) -> SizeField? {
        guard let lead = field.first else { return nil }
        if lead == 0x80 {
            var value: Int64 = 0
            for byte in field.dropFirst() {
                guard value <= (Int64.max >> 8) else { return nil }
                value = value << 8 | Int64(byte)
            }
            return .base256(value)
        }
        return octal(field).map { .octal($0) }
    }

    /// Octal digits with optional leading spaces and NUL/space padding after; all digits with no
    /// terminator is allowed too. nil for anything else (no digits, stray bytes, overflow).
    static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
        var index = field.startIndex
        while index < field.endIndex && field[index] == UInt8(ascii: " ") { index += 1 }
        var value: Int64 = 0
        var digits = 0
        while index < field.endIndex, field[index] >= UInt8(ascii: "0"), field[index] <= UInt8(ascii: "7") {
            guard value <= (Int64.max >> 3) else { return nil }
            value = value << 3 | Int64(field[index] - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        while index < field.endIndex {
            guard field[index] == 0 || field[index] == UInt8(ascii: " ") else { return nil }
            index += 1
        }
        return value
    }

    private static func octalField(_ field: ArraySlice<UInt8>, _ what: String, at offset: Int64) throws(AirlockError) -> Int64 {
        guard let value = octal(field) else { throw refusal(at: offset, "malformed \(what) field") }
        return value
    }

    /// Digits only, no leading zero but "0", at most 18 digits (fits `Int64`).
    static func canonicalDecimal(_ bytes: [UInt8]) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 18, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if bytes.count > 1 && bytes[0] == 0x30 { return nil }
        return bytes.reduce(Int64(0)) { $0 * 10 + Int64($1 - 0x30) }
    }

    /// A header block must have a correct (unsigned) checksum and the POSIX magic `ustar\0` `00`.
    private static func checkBlock(_ block: [UInt8], at offset: Int64) throws(AirlockError) {
        guard octal(block[148..<156]) != nil else { throw refusal(at: offset, "malformed header checksum field") }
        guard checksumMatches(block) else { throw refusal(at: offset, "header checksum mismatch") }
        guard block[257..<263].elementsEqual(Array("ustar".utf8) + [0]), block[263..<265].elementsEqual(Array("00".utf8)) else {
            throw refusal(at: offset, "not a POSIX ustar/pax header (GNU and v7 tar headers are not accepted)")
        }
    }

    /// Whether the 512-byte `block`'s checksum field holds the unsigned sum of its bytes (the
    /// field itself counted as spaces).
    static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard block.count == 512, let stored = octal(block[148..<156]) else { return false }
        var sum: Int64 = 0
        for (index, byte) in block.enumerated() {
            sum += (148..<156).contains(index) ? 0x20 : Int64(byte)
        }
        return sum == stored
    }

    /// Parses pax records `LEN key=value\n`, which must fill `data` exactly; keys must be allowed
    /// and unique (readers disagree on which of two duplicates wins).
    static func records(_ data: [UInt8], at offset: Int64) throws(AirlockError) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        var start = 0
        while start < data.count {
            guard let space = data[start...].firstIndex(of: UInt8(ascii: " ")),
                let length = canonicalDecimal(Array(data[start..<space])),
                length > 0, Int64(start) + length <= Int64(data.count)
            else { throw refusal(at: offset, "malformed pax record at byte \(start) of the extended header") }
            let end = start + Int(length)
            guard data[end - 1] == UInt8(ascii: "\n"), let equals = data[(space + 1)..<(end - 1)].firstIndex(of: UInt8(ascii: "=")),
                equals > space + 1
            else { throw refusal(at: offset, "malformed pax record at byte \(start) of the extended header") }
            let key = String(decoding: data[(space + 1)..<equals], as: UTF8.self)
            guard allowedPaxKeys.contains(key) else {
                throw refusal(at: offset, "pax record '\(BundlePath.printable(Array(key.utf8)))' is not allowed in a bundle")
            }
            guard result[key] == nil else { throw refusal(at: offset, "pax record '\(key)' appears twice") }
            result[key] = Array(data[(equals + 1)..<(end - 1)])
            start = end
        }
        return result
    }

    static func typeName(_ typeflag: UInt8) -> String {
        switch typeflag {
        case UInt8(ascii: "1"): "a hard link"
        case UInt8(ascii: "2"): "a symbolic link"
        case UInt8(ascii: "3"): "a character device"
        case UInt8(ascii: "4"): "a block device"
        case UInt8(ascii: "6"): "a FIFO"
        case UInt8(ascii: "7"): "a contiguous file (type '7')"
        case 0: "an old-style regular file (type NUL)"
        case UInt8(ascii: "x"): "a second pax extended header"
        case UInt8(ascii: "g"): "a global pax header"
        case UInt8(ascii: "L"), UInt8(ascii: "K"): "a GNU long-name header"
        case UInt8(ascii: "S"): "a GNU sparse file"
        default:
            (0x20..<0x7f).contains(typeflag)
                ? "of unsupported type '\(String(UnicodeScalar(typeflag)))'" : "of unsupported type \(typeflag)"
        }
    }

    static func roundUp(_ size: Int) -> Int { (size + 511) & ~511 }

    private static func cString(_ field: ArraySlice<UInt8>) -> [UInt8] {
        Array(field.prefix { $0 != 0 })
    }

    private static func refusal(at offset: Int64, _ problem: String) -> AirlockError {
        AirlockError(.archive, kind: .malformedArchive, "bundle header at offset \(offset): \(problem)")
    }
}
