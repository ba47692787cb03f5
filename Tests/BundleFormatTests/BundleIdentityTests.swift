import AirlockCore
import BundleFormat
import Testing

@Suite struct BundleNameTests {
    @Test(arguments: ["claims-assistant", "a", "model-2", String(repeating: "x", count: 64)])
    func acceptsLowercaseDigitsAndDashes(name: String) throws {
        #expect(try BundleName(name).rawValue == name)
    }

    @Test(arguments: [
        "", "Claims", "claims_assistant", "-claims", "claims-", "../etc", "a/b", "ä",
        String(repeating: "x", count: 65), "claims assistant",
    ])
    func refusesAnythingElse(name: String) {
        #expect(throws: AirlockError.self) { try BundleName(name) }
    }
}

@Suite struct SemanticVersionTests {
    @Test func precedenceFollowsSemver() throws {
        // semver.org §11 example, in ascending order.
        let ordered = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
            "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.4.0", "1.10.0", "2.0.0",
        ]
        let versions = try ordered.map { try SemanticVersion($0) }
        for (lower, higher) in zip(versions, versions.dropFirst()) {
            #expect(lower < higher, "\(lower) should precede \(higher)")
            #expect(!(higher < lower))
        }
        #expect(versions.shuffled().sorted() == versions)
    }

    @Test func buildMetadataDoesNotCount() throws {
        let a = try SemanticVersion("1.4.0+build.7")
        let b = try SemanticVersion("1.4.0")
        #expect(a.hasSamePrecedence(as: b))
        #expect(!(a < b) && !(b < a))
        #expect(a.description == "1.4.0+build.7")
    }

    @Test(arguments: [
        "1.4", "1.4.0.1", "01.4.0", "1.4.x", "", "v1.4.0", "1.4.0-", "1.4.0-01", "1.4.0+", "-1.0.0",
        "99999999999999999999.0.0",
    ])
    func refusesMalformedVersions(text: String) {
        #expect(throws: AirlockError.self) { try SemanticVersion(text) }
    }
}
