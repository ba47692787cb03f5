public import AirlockCore

/// The header of a `.safetensors` file, read and checked without trusting any of it.
///
/// The format: 8 bytes, the little-endian length N of a JSON header; N bytes of UTF-8 JSON (an
/// object, optionally padded with spaces) mapping each tensor name to `dtype`, `shape` and
/// `data_offsets` [begin, end) into the data that follows, plus an optional `__metadata__`
/// object of strings; then the data. Loading one runs no code (unlike pickle), but a hostile
/// header can still point outside the file, overlap two tensors, leave holes or claim a size
/// that does not match its shape; each is refused here, naming the file and the tensor, with
/// the same rules as the reference implementation's validation (tensors cover the data exactly,
/// in order, with no gaps) so that no engine reads these bytes differently.
public struct SafetensorsHeader: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        /// Offsets into the data after the header.
        public let begin: UInt64
        public let end: UInt64
    }

    /// Tensors in data order.
    public let tensors: [Tensor]
    public let metadata: [String: String]
    /// The JSON header's length (N): the data starts at 8 + N.
    public let headerLength: UInt64

    /// The reference implementation refuses headers over 100 MB; so does Airlock.
    public static let maxHeaderBytes: UInt64 = 100_000_000
    /// Bits per element of every dtype safetensors defines.
    public static let dtypeBits: [String: Int] = [
        "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
        "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64,
    ]

    /// How many leading bytes of the file hold the header, once its first 8 are known (nil: fewer
    /// than 8 given, or a length over the limit, which `init` refuses).
    public static func headBytes(prefix: some Collection<UInt8>) -> UInt64? {
        guard prefix.count >= 8 else { return nil }
        let length = prefix.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= maxHeaderBytes else { return nil }
        return 8 + length
    }

    public var byName: [String: Tensor] { Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }) }

    /// Reads the header from `head` (the file's first bytes: at least 8 + N of them) of a file
    /// of `fileSize` bytes; `file` names it in errors.
    public init(head: [UInt8], fileSize: UInt64, file: String) throws(AirlockError) {
        func refuse(_ why: String) -> AirlockError {
            AirlockError(.invalidInput, kind: .invalidModel, "'\(Printable.escaped(file))' is not a valid safetensors file: \(why)")
        }
        guard fileSize >= 8, head.count >= 8 else { throw refuse("it is shorter than the 8-byte header length") }
        let length = head.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= Self.maxHeaderBytes else { throw refuse("its header claims \(length) bytes (at most \(Self.maxHeaderBytes))") }
        guard length >= 2, 8 + length <= fileSize else {
            throw refuse("its header claims \(length) bytes but the file holds \(fileSize)")
        }
        guard UInt64(head.count) >= 8 + length else { throw refuse("only \(head.count) bytes of its header were read") }
        let json = head[8..<Int(8 + length)]
        guard json.first == UInt8(ascii: "{") else { throw refuse("its header does not start with '{'") }
        let value: JSONValue
        do { value = try JSONValue.parse(json, maxDepth: 4) } catch {
            throw refuse("its header is not JSON (\(error.description))")
        }
        guard case .object(let members) = value else { throw refuse("its header is not a JSON object") }
        let dataSize = fileSize - 8 - length

        var tensors: [Tensor] = []
        var metadata: [String: String] = [:]
        for (name, entry) in members {
            if name == "__metadata__" {
                guard case .object(let pairs) = entry else { throw refuse("__metadata__ is not an object") }
                for (key, text) in pairs {
                    guard case .string(let string) = text else { throw refuse("__metadata__ '\(Printable.escaped(key))' is not a string") }
                    metadata[key] = string
                }
                continue
            }
            let shown = Printable.escaped(name, limit: 120)
            guard !name.isEmpty, name.utf8.count <= 1024 else { throw refuse("a tensor name is empty or longer than 1,024 bytes") }
            guard case .object(let fields) = entry else { throw refuse("tensor '\(shown)' is not an object") }
            var dtype: String?
            var shape: [Int]?
            var offsets: (UInt64, UInt64)?
            for (key, field) in fields {
                switch key {
                case "dtype":
                    guard case .string(let text) = field, Self.dtypeBits[text] != nil else {
                        throw refuse("tensor '\(shown)' has an unknown dtype")
                    }
                    dtype = text
                case "shape":
                    guard case .array(let items) = field, items.count <= 8 else { throw refuse("tensor '\(shown)' has a malformed shape") }
                    var dimensions: [Int] = []
                    for item in items {
                        guard case .int(let dimension) = item, dimension >= 0, dimension <= 1 << 40 else {
                            throw refuse("tensor '\(shown)' has a malformed shape")
                        }
                        dimensions.append(Int(dimension))
                    }
                    shape = dimensions
                case "data_offsets":
                    guard case .array(let items) = field, items.count == 2, case .int(let begin) = items[0], case .int(let end) = items[1],
                        begin >= 0, begin <= end
                    else { throw refuse("tensor '\(shown)' has malformed data_offsets") }
                    offsets = (UInt64(begin), UInt64(end))
                default:
                    throw refuse("tensor '\(shown)' has an unknown field '\(Printable.escaped(key))'")
                }
            }
            guard let dtype, let shape, let offsets else { throw refuse("tensor '\(shown)' lacks dtype, shape or data_offsets") }
            guard offsets.1 <= dataSize else {
                throw refuse("tensor '\(shown)' ends at byte \(offsets.1) of the data, which holds \(dataSize) bytes")
            }
            var elements: UInt64 = 1
            for dimension in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: UInt64(dimension))
                guard !overflow, product <= 1 << 62 else { throw refuse("tensor '\(shown)' has a shape too large to exist") }
                elements = product
            }
            let bits = elements * UInt64(Self.dtypeBits[dtype]!)
            guard bits % 8 == 0, bits / 8 == offsets.1 - offsets.0 else {
                throw refuse(
                    "tensor '\(shown)' (\(dtype) \(shape)) needs \(bits / 8) bytes but its data_offsets span \(offsets.1 - offsets.0)")
            }
            tensors.append(Tensor(name: name, dtype: dtype, shape: shape, begin: offsets.0, end: offsets.1))
        }
        tensors.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position: UInt64 = 0
        for tensor in tensors {
            guard tensor.begin == position else {
                throw refuse(
                    tensor.begin < position
                        ? "tensor '\(Printable.escaped(tensor.name, limit: 120))' overlaps the tensor before it"
                        : "there is a gap of \(tensor.begin - position) bytes before tensor '\(Printable.escaped(tensor.name, limit: 120))'")
            }
            position = tensor.end
        }
        guard position == dataSize else {
            throw refuse("\(dataSize - position) bytes after the last tensor belong to no tensor")
        }
        self.tensors = tensors
        self.metadata = metadata
        self.headerLength = length
    }
}
