import Testing
import TensorCore
import TestSupport
import Foundation

/// The one reader of texts files: LF or CRLF lines, empty lines kept unless asked, bad UTF-8 named by line.
@Suite struct TextLinesTests {
    @Test func linesEndAtLFAndDropTheCRBeforeIt() throws {
        #expect(try TextLines.split(Array("a\r\n\nb c\n".utf8)) == ["a", "", "b c"])
        #expect(try TextLines.split(Array("a\rb".utf8)) == ["a\rb"])           // a lone CR is text
        #expect(try TextLines.split(Array("x\u{2028}y".utf8)) == ["x\u{2028}y"]) // so is a Unicode line separator
        #expect(try TextLines.split([]) == [])
    }

    @Test func invalidUTF8NamesItsLine() {
        #expect(throws: TextLinesError.invalidUTF8(line: 2)) { try TextLines.split([0x61, 0x0A, 0xC3, 0x28, 0x0A]) }
    }

    @Test func filesSkipEmptyLinesOnlyWhenAsked() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("texts.txt")
        try "one\n\ntwo\tthree\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TextLines.read(path) == ["one", "", "two\tthree"])
        #expect(try TextLines.read(path, skippingEmpty: true) == ["one", "two\tthree"])
        let error = #expect(throws: FileError.self) { try TextLines.readPairs(path) }
        #expect(error?.description == "\(path): line 1 has no tab between the pair's texts")
    }
}
