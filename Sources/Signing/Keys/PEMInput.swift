internal import AirlockCore

/// Checks shared by every reader of PEM key and certificate files.
enum PEMInput {
    /// The one PEM block of a key file, with a message that names the problem otherwise.
    static func singleBlock(_ bytes: [UInt8], expecting label: String, kind: String) throws(AirlockError) -> PEMBlock {
        // `openssl ecparam -genkey` puts the curve's parameters before the key: not a second key.
        let blocks = try blocks(bytes, expecting: label, kind: kind).filter { $0.label != "EC PARAMETERS" }
        guard !blocks.isEmpty else { throw AirlockError(.invalidInput, "only EC curve parameters, no \(kind)") }
        guard blocks.count == 1 else {
            throw AirlockError(.invalidInput, "\(blocks.count) PEM blocks where a \(kind) file holds one")
        }
        return blocks[0]
    }

    /// Every PEM block, at least one.
    static func blocks(_ bytes: [UInt8], expecting label: String, kind: String) throws(AirlockError) -> [PEMBlock] {
        guard bytes.contains(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }) else {
            throw AirlockError(.invalidInput, "empty: no \(kind) in it")
        }
        let blocks: [PEMBlock]
        do throws(AirlockError) {
            blocks = try OpenSSLPEM.blocks(in: bytes)
        } catch {
            throw AirlockError(.invalidInput, "not a valid PEM \(kind)", cause: error)
        }
        guard !blocks.isEmpty else {
            throw AirlockError(.invalidInput, "no PEM \(kind) in it (expected '-----BEGIN \(label)-----')")
        }
        return blocks
    }
}
