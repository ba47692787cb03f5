import Archive
import Testing

@Suite struct ArchiveLibraryTests {
    @Test func linkedLibarchiveCanDoWhatBundlesNeed() {
        let library = ArchiveLibrary.current
        #expect(library.version.hasPrefix("libarchive 3."))
        #expect(library.canWritePax)
        #expect(library.canWriteZstd)
        #expect(library.canReadZstd)
    }
}
