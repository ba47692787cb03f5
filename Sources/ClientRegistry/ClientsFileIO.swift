internal import AirlockCore
internal import Signing

/// What identifies one version of the clients file without reading it: a rewrite (a new file
/// renamed over the old one) changes the inode, and any change in place changes size, mtime or
/// ctime (nanoseconds).
struct ClientsFileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: [Int]
    var changed: [Int]

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int64(status.st_size)
        modified = [Int(status.st_mtim.tv_sec), Int(status.st_mtim.tv_nsec)]
        changed = [Int(status.st_ctim.tv_sec), Int(status.st_ctim.tv_nsec)]
    }

    /// What is at `path` now: `.some(nil)` when nothing is, nil when `stat` failed otherwise.
    /// One `stat` call.
    static func current(path: String) -> ClientsFileIdentity?? {
        var status = stat()
        if stat(path, &status) == 0 { return .some(ClientsFileIdentity(status)) }
        return errno == ENOENT ? .some(nil) : nil
    }
}

/// Reading the clients file: one open, `fstat` of what was opened (so the identity is that of
/// the bytes read), refusal of anything but a small regular file that only root-side users
/// may write.
enum ClientsFileReader {
    /// Far more than thousands of clients take.
    static let maximumSize = 16 << 20

    enum Contents {
        case missing
        /// The text, the file's identity, and the SHA-256 (hex) of exactly these bytes.
        case contents(String, ClientsFileIdentity, sha256: String)
    }

    static func read(path: String) throws(AirlockError) -> Contents {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else {
            if errno == ENOENT { return .missing }
            throw .system("cannot open the clients file \(path)", errno: errno)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat \(path)", errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw AirlockError(.invalidInput, "\(path) is not a regular file")
        }
        guard status.st_mode & 0o022 == 0 else {
            let mode = String(status.st_mode & 0o7777, radix: 8)
            throw AirlockError(.invalidInput, "\(path) may be written by group or others (mode 0\(mode)): refusing it; 'chmod 0640 \(path)'")
        }
        guard Int(status.st_size) <= maximumSize else {
            throw AirlockError(.invalidInput, "\(path) is larger than \(maximumSize) bytes: not a clients file")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(status.st_size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("cannot read \(path)", errno: errno)
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
            guard bytes.count <= maximumSize else {
                throw AirlockError(.invalidInput, "\(path) is larger than \(maximumSize) bytes: not a clients file")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw AirlockError(.invalidInput, "\(path) is not UTF-8 text")
        }
        return .contents(text, ClientsFileIdentity(status), sha256: try SHA256Hasher.hash(bytes).hex)
    }
}
