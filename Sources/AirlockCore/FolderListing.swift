internal import Foundation

/// The regular files under a folder a bundle carries (a runtime, a Hugging Face model, a PEFT
/// adapter): relative `/`-separated paths, sorted bytewise, so the same folder always lists the
/// same way. Symbolic links, devices, sockets and pipes are refused naming the path: a bundle
/// holds plain files only, and a link followed at build time could pull in any file of the
/// build host.
public enum FolderListing {
    /// `what` names the folder in errors (`runtime folder`, `base model folder`).
    public static func regularFiles(under folder: String, what: String) throws(AirlockError) -> [String] {
        var found: [String] = []
        func walk(_ relative: String) throws(AirlockError) {
            let absolute = relative.isEmpty ? folder : folder + "/" + relative
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: absolute) } catch {
                throw AirlockError(.invalidInput, "cannot list \(what) '\(absolute)'")
            }
            for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                let child = relative.isEmpty ? name : relative + "/" + name
                var status = stat()
                guard lstat(folder + "/" + child, &status) == 0 else { throw AirlockError.system("cannot stat '\(folder)/\(child)'", errno: errno) }
                switch status.st_mode & S_IFMT {
                case S_IFDIR: try walk(child)
                case S_IFREG: found.append(child)
                default:
                    throw AirlockError(
                        .invalidInput,
                        "'\(Printable.escaped(folder + "/" + child))' is not a regular file or folder (links and special files cannot go into a bundle)")
                }
            }
        }
        try walk("")
        guard !found.isEmpty else { throw AirlockError(.invalidInput, "\(what) '\(folder)' is empty") }
        return found
    }
}
