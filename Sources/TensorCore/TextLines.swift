// A file of texts, one per line: what `predict --file`, `tokenize --file` and `benchmark text` read. One reader,
// so every command splits a file the same way: lines end at LF, a CR before the LF is dropped (CRLF files), and a
// line that is not UTF-8 is an error naming its number — never a text silently repaired with U+FFFD.

package enum TextLinesError: Error, CustomStringConvertible, Equatable {
    case invalidUTF8(line: Int)
    case noTab(line: Int)

    package var description: String {
        switch self {
        case .invalidUTF8(let line): return "line \(line) is not valid UTF-8"
        case .noTab(let line): return "line \(line) has no tab between the pair's texts"
        }
    }
}

package enum TextLines {
    /// The file's lines. Empty lines are texts too (line i of the file is text i) unless `skippingEmpty`.
    /// Errors name the file.
    package static func read(_ path: String, skippingEmpty: Bool = false) throws -> [String] {
        let bytes = try withFileContext(path) { try readFileBytes(path) }
        return try withFileContext(path) { try split(bytes).filter { !skippingEmpty || !$0.isEmpty } }
    }

    /// The file's lines as pairs, each split at its first tab into (first, second).
    package static func readPairs(_ path: String) throws -> (firsts: [String], seconds: [String]) {
        let lines = try read(path)
        var firsts: [String] = [], seconds: [String] = []
        for (index, line) in lines.enumerated() {
            guard let tab = line.unicodeScalars.firstIndex(of: "\t") else {
                throw FileError(path: path, cause: TextLinesError.noTab(line: index + 1))
            }
            firsts.append(String(line.unicodeScalars[..<tab]))
            seconds.append(String(line.unicodeScalars[line.unicodeScalars.index(after: tab)...]))
        }
        return (firsts, seconds)
    }

    /// Lines of UTF-8 bytes (a final LF ends the last line rather than starting an empty one).
    package static func split(_ bytes: [UInt8]) throws(TextLinesError) -> [String] {
        var lines: [String] = []
        var start = 0, line = 1
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            guard let text = String(validating: bytes[start..<stop], as: UTF8.self) else { throw .invalidUTF8(line: line) }
            lines.append(text)
            start = end + 1
            line += 1
        }
        return lines
    }
}
