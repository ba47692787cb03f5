public import AirlockCore
internal import Foundation
internal import Runtime
internal import Signing

/// `airlock-pack runtime vllm`: turns the pinned wheels of vLLM into the runtime folder a
/// bundle's spec lists (`variant: vllm-cpu`, `vllm-cuda`), on the connected build host.
///
/// The folder, which every file of goes into the signed manifest:
///
///     airlock-vllm.py          the launcher (0755): `python3.11 -I -S -B airlock-vllm.py ...`
///     vllm-VARIANT.lock.txt    the exact pins it was installed from (name==version, sha256)
///     site-packages/           `pip install --target` of exactly the lock: --no-deps,
///                              --require-hashes, wheels only; `bin/` (entry-point scripts whose
///                              shebang names the build host's Python) removed with their RECORD
///                              lines; .pyc compiled by
///                              the target's interpreter with `--invalidation-mode
///                              unchecked-hash` (valid whatever mtimes the install gives them)
///
/// The target runs it with Debian's own `/usr/bin/python3.11` (the `python3.11` requirement the
/// spec adds to the variant): the site's Debian mirror keeps that interpreter patched, it is the
/// ABI the wheels and the .pyc were made for, and carrying an interpreter would add a second,
/// unpatched CPython to every host. Nothing is downloaded or compiled on the target.
///
/// The locks and the launcher are the repository's `runtimes/vllm/` files, compiled in: the
/// pins are part of this Airlock release. Two builds from the same wheels are byte-identical.
public enum VLLMRuntimeFolder {
    public enum Variant: String, CaseIterable, Sendable {
        case cpu, cuda

        /// The lock compiled into this Airlock.
        public var lock: String {
            switch self {
            case .cpu: String(decoding: PackageResources.vllm_cpu_lock_txt, as: UTF8.self)
            case .cuda: String(decoding: PackageResources.vllm_cuda_lock_txt, as: UTF8.self)
            }
        }

        public var lockFileName: String { "vllm-\(rawValue).lock.txt" }

        /// What the spec's `requires:` should say for it.
        public var requires: [String] {
            switch self {
            case .cpu: ["avx2", "python3.11"]
            case .cuda: ["cuda>=13", "python3.11"]
            }
        }
    }

    public static let launcherName = "airlock-vllm.py"
    public static var launcher: [UInt8] { PackageResources.airlock_vllm_py }

    public struct Options: Sendable {
        public var variant: Variant
        public var output: String
        /// A folder holding the lock's wheels (installed with `--no-index`); nil: pip fetches them.
        public var wheels: String?
        /// The build host's pip, as words (`python3 -m pip`); the first is looked up on PATH.
        public var pip: [String]
        /// CPython 3.11, which compiles the .pyc (`/usr/bin/python3.11`).
        public var python: String

        public init(variant: Variant, output: String, wheels: String?, pip: [String], python: String) {
            self.variant = variant
            self.output = output
            self.wheels = wheels
            self.pip = pip
            self.python = python
        }
    }

    public struct Summary: Sendable, Encodable {
        public var output: String
        public var variant: String
        public var wheels: Int
        public var files: Int
        public var bytes: UInt64
        public var lockSHA256: String
        /// Sources compileall could not compile (data files that are not Python 3.11).
        public var notCompiled: Int
        public var seconds: Double
    }

    /// pip matches `--platform` literally: every manylinux tag a wheel of the lock may carry.
    static var platformArguments: [String] {
        var arguments: [String] = []
        for minor in stride(from: 36, through: 5, by: -1) { arguments += ["--platform", "manylinux_2_\(minor)_x86_64"] }
        for tag in ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"] { arguments += ["--platform", tag] }
        return ["--only-binary=:all:"] + arguments + ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    }

    /// The wheel files the lock names (its `# NAME.whl` comments), in order.
    public static func wheelNames(_ lock: String) -> [String] {
        lock.split(separator: "\n").compactMap { line in
            guard let mark = line.range(of: "# ", options: .backwards), line.hasSuffix(".whl") else { return nil }
            return String(line[mark.upperBound...])
        }
    }

    public static func build(_ options: Options, progress: (String) -> Void) throws(AirlockError) -> Summary {
        let started = ContinuousClock.now
        let output = options.output.hasSuffix("/") ? String(options.output.dropLast()) : options.output
        guard !output.isEmpty else { throw AirlockError(.invalidInput, "--output needs a folder") }
        if FileManager.default.fileExists(atPath: output) {
            throw AirlockError(.refused, "'\(Printable.escaped(output))' already exists: choose a new folder (nothing is built over an old one)")
        }
        let parent = (output as NSString).deletingLastPathComponent
        guard parent.isEmpty || FileManager.default.fileExists(atPath: parent) else {
            throw AirlockError(.invalidInput, "the folder '\(Printable.escaped(parent))' for --output does not exist")
        }
        if let wheels = options.wheels {
            let missing = wheelNames(options.variant.lock).filter { !FileManager.default.fileExists(atPath: wheels + "/" + $0) }
            guard missing.isEmpty else {
                throw AirlockError(
                    .invalidInput,
                    "--wheels '\(Printable.escaped(wheels))' lacks \(missing.count) of the lock's wheels (first: \(missing.prefix(3).joined(separator: ", ")))")
            }
        }
        let python = try checkedPython(options.python)
        let pip = try resolvedPip(options.pip)

        let partial = output + ".partial"
        try removeTree(partial)
        // Made here and now, never an existing one (nor whatever a planted link points to).
        guard mkdir(partial, 0o755) == 0 else { throw .system("cannot create '\(partial)'", errno: errno) }
        var done = false
        defer { if !done { try? removeTree(partial) } }
        let log = partial + "/.pip.log"
        let lockPath = partial + "/" + options.variant.lockFileName
        try write(Array(options.variant.lock.utf8), to: lockPath, mode: 0o644)
        let wheelCount = wheelNames(options.variant.lock).count

        var wheels = options.wheels
        if wheels == nil {
            let downloads = partial + "/.wheels"
            progress("downloading \(wheelCount) wheels (pip download --require-hashes)")
            try run(
                pip + ["download", "--quiet", "--disable-pip-version-check", "--no-input", "--no-deps", "--require-hashes"]
                    + platformArguments + ["-d", downloads, "-r", lockPath], log: log, what: "pip download")
            wheels = downloads
        }
        progress("installing \(wheelCount) wheels into \(Printable.escaped(output)) (about a minute)")
        try run(
            pip + [
                "install", "--quiet", "--disable-pip-version-check", "--no-input", "--no-deps", "--require-hashes",
                "--no-index", "--find-links", wheels!, "--no-compile", "--target", partial + "/site-packages",
            ] + platformArguments + ["-r", lockPath], log: log, what: "pip install")
        if options.wheels == nil { try removeTree(partial + "/.wheels") }
        // Entry-point scripts name the build host's interpreter; the launcher needs none. Their
        // lines in the packages' RECORD files go too (their hashes depend on that interpreter's
        // path): the folder is then the same whichever pip built it.
        try removeTree(partial + "/site-packages/bin")
        try dropEntryPointRecords(partial + "/site-packages")

        progress("compiling .pyc with \(python) (unchecked-hash)")
        let compileLog = partial + "/.compileall.log"
        // Some packages carry .py files that are not Python 3.11 (templates, test data):
        // compileall names them with `***` and exits 1; every other file is compiled.
        _ = try? run(
            [python, "-I", "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash", "-d", "site-packages", partial + "/site-packages"],
            log: compileLog, what: "compileall", allowFailure: true)
        let notCompiled = (try? String(contentsOfFile: compileLog, encoding: .utf8))?.split(separator: "\n").filter { $0.hasPrefix("***") }.count ?? 0
        try removeTree(compileLog)
        try removeTree(log)
        try write(launcher, to: partial + "/" + launcherName, mode: 0o755)

        // What a bundle accepts: plain files and folders, nobody but the owner writing.
        let files = try FolderListing.regularFiles(under: partial, what: "vLLM runtime folder")
        var bytes: UInt64 = 0
        try normalizeModes(partial, files: files, bytes: &bytes)
        guard rename(partial, output) == 0 else { throw .system("cannot move \(partial) to \(output)", errno: errno) }
        done = true
        return Summary(
            output: output, variant: "vllm-" + options.variant.rawValue, wheels: wheelCount, files: files.count, bytes: bytes,
            lockSHA256: try SHA256Hasher.hash(Array(options.variant.lock.utf8)).hex, notCompiled: notCompiled,
            seconds: (ContinuousClock.now - started).inSeconds)
    }

    /// The interpreter must be CPython 3.11: the ABI of the wheels and of the .pyc.
    static func checkedPython(_ path: String) throws(AirlockError) -> String {
        guard path.hasPrefix("/"), access(path, X_OK) == 0 else {
            throw AirlockError(.invalidInput, "--python '\(Printable.escaped(path))' is not an executable (the target's CPython 3.11, e.g. /usr/bin/python3.11)")
        }
        let folder = try AtomicFile.makeTemporaryFolder(in: NSTemporaryDirectory(), prefix: "airlock-python")
        let probe = folder + "/said.txt"
        defer { try? removeTree(folder) }
        try run([path, "-I", "-c", "import sys, platform; print(platform.python_implementation(), *sys.version_info[:2])"], log: probe, what: path)
        let said = (try? String(contentsOfFile: probe, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard said == "CPython 3 11" else {
            throw AirlockError(.invalidInput, "--python '\(Printable.escaped(path))' is '\(Printable.escaped(said, limit: 60))', not CPython 3.11 (the runtime's ABI)")
        }
        return path
    }

    /// `python3 -m pip` with its first word found on PATH.
    static func resolvedPip(_ words: [String]) throws(AirlockError) -> [String] {
        guard let first = words.first else { throw AirlockError(.invalidInput, "--pip needs a command") }
        if first.hasPrefix("/") { return words }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where access("\(folder)/\(first)", X_OK) == 0 {
            return ["\(folder)/\(first)"] + words.dropFirst()
        }
        throw AirlockError(.invalidInput, "--pip: '\(Printable.escaped(first))' is not on PATH")
    }

    /// Runs a build-host tool with this process's environment (its proxies, certificates and
    /// pip configuration are the build host's business), output to `log`.
    @discardableResult
    static func run(_ words: [String], log: String, what: String, allowFailure: Bool = false) throws(AirlockError) -> Int32 {
        let child = try ChildProcess(
            executable: words[0], arguments: Array(words.dropFirst()), environment: ProcessInfo.processInfo.environment, outputPath: log)
        let status = try child.waitForExit(timeout: .seconds(3600))
        if status != 0 && !allowFailure {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8)).map { text in
                text.split(separator: "\n").suffix(12).joined(separator: "\n")
            } ?? ""
            throw AirlockError(.process, "\(what) failed (status \(status))" + (tail.isEmpty ? "" : ":\n" + tail))
        }
        return status
    }

    /// Removes `../../bin/...` lines from every `*.dist-info/RECORD` (pip's uninstall list;
    /// nothing reads it at run time).
    static func dropEntryPointRecords(_ sitePackages: String) throws(AirlockError) {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: sitePackages) } catch {
            throw AirlockError(.system, "cannot list '\(sitePackages)': \(error.localizedDescription)")
        }
        for name in names.sorted() where name.hasSuffix(".dist-info") {
            let record = sitePackages + "/" + name + "/RECORD"
            guard let data = FileManager.default.contents(atPath: record) else { continue }
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let kept = lines.filter { !$0.hasPrefix("../../bin/") }
            guard kept.count != lines.count else { continue }
            try write(Array(kept.joined(separator: "\n").utf8), to: record, mode: 0o644)
        }
    }

    static func removeTree(_ path: String) throws(AirlockError) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw AirlockError(.system, "cannot remove '\(path)': \(error.localizedDescription)")
        }
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(AirlockError) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)), chmod(path, mode) == 0 else {
            throw .system("cannot write '\(path)'", errno: errno)
        }
    }

    /// Files 0644 (0755 where any execute bit was set), folders 0755; totals the bytes.
    static func normalizeModes(_ root: String, files: [String], bytes: inout UInt64) throws(AirlockError) {
        var folders: Set<String> = [root]
        for file in files {
            let path = root + "/" + file
            var status = stat()
            guard lstat(path, &status) == 0 else { throw .system("cannot stat '\(path)'", errno: errno) }
            bytes += UInt64(status.st_size)
            guard chmod(path, status.st_mode & 0o111 != 0 ? 0o755 : 0o644) == 0 else { throw .system("cannot chmod '\(path)'", errno: errno) }
            var folder = (file as NSString).deletingLastPathComponent
            while !folder.isEmpty, folders.insert(root + "/" + folder).inserted { folder = (folder as NSString).deletingLastPathComponent }
        }
        for folder in folders where chmod(folder, 0o755) != 0 { throw .system("cannot chmod '\(folder)'", errno: errno) }
    }
}
