public import AirlockCore
internal import Foundation

/// One file of a model or adapter folder as the checks see it: its path inside the folder, its
/// size, and the leading bytes the checks read (`ModelFile.headRule`): the whole of the small
/// JSON files that describe the model, the header of each safetensors file, nothing of the rest.
///
/// The checks run on these values alone, so `airlock-pack build` (reading the folder on disk,
/// `ModelFile.read(folder:)`) and `airlock verify` (collecting the same bytes while it streams
/// the bundle, `ModelHeadCollector`) apply exactly the same rules to exactly the same bytes.
public struct ModelFile: Sendable, Equatable {
    public let path: String
    public let size: UInt64
    public let head: [UInt8]

    public init(path: String, size: UInt64, head: [UInt8]) {
        self.path = path
        self.size = size
        self.head = head
    }

    /// What the checks read of a file.
    public enum HeadRule: Sendable, Equatable {
        case nothing
        /// The whole file, when it is at most this many bytes.
        case whole(limit: Int)
        /// The 8-byte length and the JSON header it announces.
        case safetensorsHeader
    }

    /// The JSON files the checks read, each at most 16 MiB.
    public static let describingFiles: Set<String> = [
        "config.json", "tokenizer_config.json", "model.safetensors.index.json", "adapter_config.json", "chat_template.json",
    ]
    public static let describingFileLimit = 16 << 20

    public static func headRule(for path: String) -> HeadRule {
        if describingFiles.contains(path) { return .whole(limit: describingFileLimit) }
        if path.lowercased().hasSuffix(".safetensors") { return .safetensorsHeader }
        return .nothing
    }

    /// The whole file's bytes, when its head holds all of them.
    var wholeBytes: [UInt8]? { UInt64(head.count) == size ? head : nil }

    /// Reads what the checks need of every regular file under `folder` (links and special files
    /// refused); `what` names the folder in errors.
    public static func read(folder: String, what: String) throws(AirlockError) -> [ModelFile] {
        var files: [ModelFile] = []
        for relative in try FolderListing.regularFiles(under: folder, what: what) {
            let path = folder + "/" + relative
            var status = stat()
            guard stat(path, &status) == 0 else { throw AirlockError.system("cannot stat '\(path)'", errno: errno) }
            let size = UInt64(status.st_size)
            var head: [UInt8] = []
            switch headRule(for: relative) {
            case .nothing: break
            case .whole(let limit):
                head = try readPrefix(path, count: Int(min(size, UInt64(limit))))
            case .safetensorsHeader:
                head = try readPrefix(path, count: Int(min(size, 8)))
                if let total = SafetensorsHeader.headBytes(prefix: head), total <= size {
                    head = try readPrefix(path, count: Int(total))
                }
            }
            files.append(ModelFile(path: relative, size: size, head: head))
        }
        return files
    }

    static func readPrefix(_ path: String, count: Int) throws(AirlockError) -> [UInt8] {
        guard count > 0 else { return [] }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw AirlockError.system("cannot open '\(path)'", errno: errno) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + filled, count - filled, off_t(filled)) }
            guard got > 0 else {
                if got < 0, errno == EINTR { continue }
                throw AirlockError.system("cannot read '\(path)'", errno: got < 0 ? errno : EIO)
            }
            filled += got
        }
        return bytes
    }
}

/// Collects one file's head (`ModelFile.headRule`) from its bytes as they stream past, keeping
/// no more than the rule needs.
public struct ModelHeadCollector: Sendable {
    let path: String
    let size: UInt64
    public let rule: ModelFile.HeadRule
    var head: [UInt8] = []
    var wanted: Int

    /// `path` inside its model folder (the rule depends on it).
    public init(path: String, size: UInt64) {
        self.path = path
        self.size = size
        rule = ModelFile.headRule(for: path)
        switch rule {
        case .nothing: wanted = 0
        case .whole(let limit): wanted = Int(min(size, UInt64(limit)))
        case .safetensorsHeader: wanted = Int(min(size, 8))
        }
    }

    public mutating func feed(_ block: UnsafeRawBufferPointer) {
        var block = block[...]
        while head.count < wanted, !block.isEmpty {
            let take = min(wanted - head.count, block.count)
            head += block.prefix(take)
            block = block.dropFirst(take)
            if case .safetensorsHeader = rule, head.count == 8, let total = SafetensorsHeader.headBytes(prefix: head), total <= size {
                wanted = Int(total)
            }
        }
    }

    public var file: ModelFile { ModelFile(path: path, size: size, head: head) }
}
