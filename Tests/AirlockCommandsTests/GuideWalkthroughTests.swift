import Foundation
import Signing
import TestSupport
import Testing

/// The guides' shell blocks, run verbatim, in the order a site meets them: the builder's guide
/// (keys, the spec it shows, build, co-sign, inspect), the operator's (trust, verify, install,
/// activate, roll back, remove, doctor, clients, timers) and the compliance officer's (seal,
/// verify, checkpoint, search, export, report, retention), every `airlock` and `airlock-audit`
/// under one rehearsal `--root`. Each line must exit 0: a guide whose commands stop working, or
/// stop following from one another, fails here.
///
/// What a reader fills in is filled in the same way here (`Guides.fillIn`); what cannot run
/// in a test process is named with the test that runs it instead (`Guides.runElsewhere`).
@Suite struct GuideWalkthroughTests {
    @Test func theGuidesRunVerbatimUnderARehearsalRoot() throws {
        let folder = try TemporaryDirectory("airlock-guides")
        defer { folder.remove() }
        let work = folder.file("work")
        let root = folder.file("root")
        try Guides.stageReaderFiles(in: work)
        let path = try Guides.wrapExecutables(in: folder.file("bin"), root: root)
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["SOURCE_DATE_EPOCH"] = nil

        var ran = 0
        var skipped: [String] = []
        for document in Guides.walkthrough {
            for (number, line) in try Guides.shellLines(document) {
                let place = "\(document):\(number)"
                if let reason = Guides.runElsewhere.first(where: { line.hasPrefix($0.prefix) })?.reason {
                    skipped.append("\(place) (\(reason))")
                    continue
                }
                let command = try Guides.fillIn(line, work: work, environment: environment)
                let result = try ProcessResult.run("/bin/bash", ["-c", "cd \(Guides.quoted(work)) && " + command], environment: environment)
                ran += 1
                #expect(
                    result.status == 0,
                    "\(place): `\(line)` exited \(result.status)\nstdout: \(result.stdout.suffix(800))\nstderr: \(result.stderr.suffix(800))")
                if result.status != 0 { return }  // the next lines build on this one
                try Guides.afterLine(line, work: work)
            }
        }
        #expect(ran >= 40, "only \(ran) guide lines ran; skipped: \(skipped)")

        // What the walkthrough leaves is what the guides say it leaves.
        let audit = try ProcessResult.run(
            TestEnvironment.executable("airlock-audit"), ["verify", "--json", "--root", root]
        ).checked()
        #expect(audit.stdout.contains("\"intact\""), "\(audit.stdout)")
        for file in ["november.csv", "refusals.csv", "audit-report.html", "checkpoint-2026-11-29.json", "completions/airlock.bash"] {
            #expect(FileManager.default.fileExists(atPath: work + "/" + file), "the guides' commands should have written \(file)")
        }
        let list = try ProcessResult.run(TestEnvironment.executable("airlock"), ["list", "--root", root]).checked()
        #expect(!list.stdout.contains("claims-assistant"), "`remove --force` should leave nothing listed: \(list.stdout)")
    }
}

/// The guides as a reader follows them.
enum Guides {
    static let walkthrough = ["Docs/bundle-builder-guide.md", "Docs/operator-guide.md", "Docs/compliance-guide.md"]

    /// Lines a test process cannot run, with the test that runs them.
    static let runElsewhere: [(prefix: String, reason: String)] = [
        ("systemctl ", "needs a booted systemd: SystemdServiceTests and the demo's container run the units"),
        ("journalctl ", "needs a booted systemd's journal: SystemdServiceTests reads it"),
        ("airlock run ", "serves until stopped: ServedBundle runs this command line for every gateway test"),
    ]

    /// The lines of every ```sh block of `document`, with their line numbers.
    static func shellLines(_ document: String) throws -> [(Int, String)] {
        let text = try String(contentsOfFile: TestEnvironment.repositoryRoot.appendingPathComponent(document).path, encoding: .utf8)
        var lines: [(Int, String)] = []
        var inShell = false
        for (number, line) in text.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("```") {
                inShell = !inShell && ["```sh", "```bash", "```shell"].contains(line)
                continue
            }
            if inShell && !line.trimmingCharacters(in: .whitespaces).isEmpty { lines.append((number + 1, line)) }
        }
        return lines
    }

    /// The first ```LANGUAGE block of `document`.
    static func block(_ language: String, of document: String) throws -> String {
        let text = try String(contentsOfFile: TestEnvironment.repositoryRoot.appendingPathComponent(document).path, encoding: .utf8)
        guard let start = text.range(of: "```\(language)\n"), let end = text.range(of: "\n```", range: start.upperBound..<text.endIndex) else {
            throw TestSupportError("\(document) has no ```\(language) block")
        }
        return String(text[start.upperBound..<end.lowerBound]) + "\n"
    }

    /// What the reader brings: the files the builder's spec names (the demo model and the test
    /// runtime at the spec's paths), the spec exactly as the guide shows it, and the site CA's
    /// certificate the operator's guide trusts.
    static func stageReaderFiles(in work: String) throws {
        let files = FileManager.default
        let model = try TestEnvironment.demoModel()
        let runtime = try TestEnvironment.llamaServer()
        for folder in ["models", "adapters", "runtime/cpu-avx2", "runtime/cpu-generic", "completions"] {
            try files.createDirectory(atPath: work + "/" + folder, withIntermediateDirectories: true)
        }
        try files.copyItem(atPath: model.base, toPath: work + "/models/base.gguf")
        try files.copyItem(atPath: model.adapters[0].path, toPath: work + "/adapters/claims.gguf")
        try files.copyItem(atPath: runtime, toPath: work + "/runtime/cpu-avx2/llama-server")
        try files.copyItem(atPath: runtime, toPath: work + "/runtime/cpu-generic/llama-server")
        try Data(try block("yaml", of: "Docs/bundle-builder-guide.md").utf8).write(to: URL(fileURLWithPath: work + "/bundle.yaml"))
        try Data(try TestPKI.get().root.pem).write(to: URL(fileURLWithPath: work + "/site-ca.pem"))
    }

    /// After the builder's guide has co-signed 1.4.0, the previous release the operator's guide
    /// installs first: the same spec at version 1.3.0, signed by the same two keys.
    static func afterLine(_ line: String, work: String) throws {
        guard line.hasPrefix("airlock-pack sign claims-assistant-1.4.0.airlock") else { return }
        let spec = try String(contentsOfFile: work + "/bundle.yaml", encoding: .utf8)
        try Data(spec.replacingOccurrences(of: "version: 1.4.0", with: "version: 1.3.0").utf8)
            .write(to: URL(fileURLWithPath: work + "/bundle-1.3.0.yaml"))
        try ProcessResult.run(
            TestEnvironment.executable("airlock-pack"),
            [
                "build", work + "/bundle-1.3.0.yaml", "--key", work + "/release.pem", "--key", work + "/security-officer.pem",
                "--output", work + "/claims-assistant-1.3.0.airlock",
            ]
        ).checked()
    }

    /// A guide line with what the reader fills in filled in: `[--json]` taken, the example
    /// trust id replaced by the site CA's entry's id, completion files written to the work folder.
    static func fillIn(_ line: String, work: String, environment: [String: String]) throws -> String {
        var line = line.replacingOccurrences(of: "[--json]", with: "--json")
        line = line.replacingOccurrences(of: "/etc/bash_completion.d/airlock", with: "completions/airlock.bash")
        line = line.replacingOccurrences(of: "\"${fpath[1]}/_airlock-audit\"", with: "completions/_airlock-audit")
        if line.contains("trust remove 4977a8fb") {
            let listed = try ProcessResult.run("/bin/bash", ["-c", "airlock trust list --json"], environment: environment).checked()
            let id = try siteCAEntry(in: listed.output)
            line = line.replacingOccurrences(of: "4977a8fb", with: id)
        }
        return line
    }

    /// The id of the trust entry `site-ca.pem` added (the CA whose subject is the test root's).
    static func siteCAEntry(in json: Data) throws -> String {
        let signers = (try JSONSerialization.jsonObject(with: json) as? [String: Any])?["signers"] as? [[String: Any]] ?? []
        guard let id = signers.first(where: { $0["subject"] as? String == "CN=Airlock Test Root" })?["id"] as? String else {
            throw TestSupportError("no trust entry for site-ca.pem in `trust list --json`: \(String(decoding: json, as: UTF8.self))")
        }
        return String(id.replacingOccurrences(of: "sha256:", with: "").prefix(8))
    }

    /// `airlock` and `airlock-audit` run with `--root ROOT` appended (unless the first word is an
    /// option: `--generate-completion-script`, `--help`); `airlock-pack` as built (it has no root).
    /// Returns the folder to put first on PATH.
    static func wrapExecutables(in bin: String, root: String) throws -> String {
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for name in ["airlock", "airlock-audit", "airlock-pack"] {
            let real = quoted(TestEnvironment.executable(name))
            let script =
                name == "airlock-pack"
                ? "#!/bin/sh\nexec \(real) \"$@\"\n"
                : "#!/bin/sh\ncase \"$1\" in -*) exec \(real) \"$@\" ;; esac\nexec \(real) \"$@\" --root \(quoted(root))\n"
            let path = bin + "/" + name
            try Data(script.utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o755)
        }
        return bin
    }

    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
