import AirlockCore
import Testing

@Suite struct PrintableTests {
    @Test func controlAndFormattingCharactersAreShownAsEscapes() {
        #expect(Printable.escaped("claims\u{1b}[2J") == "claims\\x1b[2J")
        #expect(Printable.escaped("a\nb\tc\r") == "a\\x0ab\\x09c\\x0d")
        #expect(Printable.escaped("x\u{9b}31m") == "x\\x9b31m")
        #expect(Printable.escaped("invoice\u{202e}fdp.exe") == "invoice\\u{202e}fdp.exe")
        #expect(Printable.escaped("zero\u{200b}width\u{feff}") == "zero\\u{200b}width\\u{feff}")
        #expect(Printable.escaped("Grüße, 日本語 = ok") == "Grüße, 日本語 = ok")
        #expect(Printable.escaped(String(repeating: "a", count: 10), limit: 4) == "aaaa…")
        #expect(!Printable.isPlain("a\u{7f}") && Printable.isPlain("plain-text_1.0"))
    }
}
