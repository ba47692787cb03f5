import AirlockCore
import Testing

@Suite struct HostLayoutTests {
    @Test func realHostPathsHangOffSlash() {
        let layout = HostLayout()
        #expect(layout.trustPolicy == "/etc/airlock/trust.yaml")
        #expect(layout.storeDirectory == "/var/lib/airlock")
        #expect(layout.auditDirectory == "/var/log/airlock")
        #expect(layout.currentLink(name: "claims-assistant") == "/var/lib/airlock/claims-assistant/current")
    }

    @Test func rootMovesEveryPathUnderIt() {
        let layout = HostLayout(root: "/tmp/demo-root//")
        #expect(layout.root == "/tmp/demo-root")
        for path in [
            layout.configDirectory, layout.trustPolicy, layout.clients, layout.storeDirectory,
            layout.auditDirectory, layout.unitDirectory,
            layout.versionDirectory(name: "a", version: "1.0.0"),
        ] {
            #expect(path.hasPrefix("/tmp/demo-root/"), "\(path) escapes the root")
        }
    }
}

@Suite struct AirlockErrorTests {
    @Test func descriptionChainsCausesIntoOneLine() {
        let inner = AirlockError(.archive, "entry 'weights/base.gguf' is truncated")
        let outer = AirlockError(.invalidInput, "cannot install claims-1.4.0.airlock", cause: inner)
        #expect(outer.description == "cannot install claims-1.4.0.airlock: entry 'weights/base.gguf' is truncated")
        #expect(!outer.description.contains("\n"))
        #expect(outer.debugDescription.contains("caused by [archive]"))
    }

    @Test func systemErrorsCarryErrnoText() {
        let error = AirlockError.system("cannot open /nope", errno: 2)
        #expect(error.description == "cannot open /nope: No such file or directory (errno 2)")
    }
}
