// The byte-level steps of GPT-2 / RoBERTa tokenizers, as tokenizers 0.23.3 has them in
// tokenizers/src/pre_tokenizers/byte_level.rs: every UTF-8 byte stands for one printable character
// (`bytes_char`), the GPT-2 split pattern (written out by hand over Unicode scalars, no regex engine),
// the offset trimming of the ByteLevel and RobertaProcessing post-processors (`process_offsets`) and
// the ByteLevel decoder. The split's letter/number/space classes are the reference's Oniguruma ones
// (Unicode 16.0, ByteLevelTables.swift), not the toolchain's: Swift 6.3's Unicode 17 properties would
// call 4,644 more code points letters and 13 more numbers.

package enum ByteLevel {
    /// Byte → the scalar standing for it (GPT-2's `bytes_to_unicode`): the printable bytes `!`…`~`,
    /// `¡`…`¬` and `®`…`ÿ` stand for themselves, the other 68 get U+0100, U+0101, … in byte order.
    package static let byteToScalar: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for b in 0..<256 {
            if isPrintable(UInt8(b)) { map[b] = UInt32(b) } else { map[b] = next; next += 1 }
        }
        return map
    }()

    /// Scalar → byte for the 256 byte characters (all below U+0144), -1 for any other scalar.
    static let scalarToByte: [Int16] = {
        var map = [Int16](repeating: -1, count: 0x144)
        for (b, scalar) in byteToScalar.enumerated() { map[Int(scalar)] = Int16(b) }
        return map
    }()

    /// UTF-8 of each byte's character (one or two bytes), for building byte-level strings.
    static let byteCharUTF8: [[UInt8]] = byteToScalar.map { Array(String(Unicode.Scalar($0)!).utf8) }

    static let spaceCharacter: UInt32 = 0x120   // Ġ, the byte 0x20

    private static func isPrintable(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The byte-level string of `text` (each UTF-8 byte as its character), as the pre-tokenizer writes words.
    package static func encode(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for b in text.utf8 { scalars.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(scalars)
    }

    /// The ByteLevel decoder (`decode_chain`): each token whose characters are all byte characters becomes
    /// those bytes, any other token its own UTF-8; the bytes are then read as UTF-8, invalid sequences
    /// replaced by U+FFFD (Rust's `from_utf8_lossy`).
    package static func decode(_ tokens: [String]) -> String {
        var bytes: [UInt8] = []
        for token in tokens {
            let start = bytes.count
            var mapped = true
            for scalar in token.unicodeScalars {
                let v = Int(scalar.value)
                guard v < scalarToByte.count, scalarToByte[v] >= 0 else { mapped = false; break }
                bytes.append(UInt8(scalarToByte[v]))
            }
            if !mapped {
                bytes.removeSubrange(start...)
                bytes.append(contentsOf: token.utf8)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `process_offsets`: a token's leading and trailing `Ġ` / whitespace characters are taken out of its
    /// offsets (in scalars, as the reference's offsets are characters by then), except the single space
    /// `add_prefix_space` put before the first token.
    static func trimOffsets(_ tokens: inout SequenceTokens, addPrefixSpace: Bool) {
        let classes = CharacterClasses.shared
        func isSpace(_ s: Unicode.Scalar) -> Bool { s.value == spaceCharacter || classes.flags(s.value).contains(.whitespace) }
        for i in 0..<tokens.count {
            let scalars = tokens.tokens[i].unicodeScalars
            var leading = 0
            for s in scalars { if isSpace(s) { leading += 1 } else { break } }
            guard leading > 0 || isSpace(scalars.last ?? "a") else { continue }
            var trailing = 0
            for s in scalars.reversed() { if isSpace(s) { trailing += 1 } else { break } }
            var offset = tokens.offsets[i]
            if leading > 0 {
                let isFirst = i == 0 || offset.start == 0
                if isFirst && addPrefixSpace && leading == 1 { leading = 0 }
                offset.start = min(offset.start + leading, offset.end)
            }
            if trailing > 0 && offset.end >= trailing {
                offset.end = max(offset.end - trailing, offset.start)
            }
            tokens.offsets[i] = offset
        }
    }
}

// MARK: - The split pattern

/// `\p{L}`, `\p{N}` and `\s` as the reference's Oniguruma has them (ByteLevelTables.swift, generated).
final class ByteLevelClasses: Sendable {
    static let shared = ByteLevelClasses()

    enum Kind: UInt8 { case other = 0, letter = 1, number = 2, space = 3 }

    private let blockIndex: [UInt16]     // code point >> 8 → block number
    private let blocks: [UInt8]          // 256 kinds per distinct block

    private init() {
        var kinds = [UInt8](repeating: 0, count: 0x110000)
        for (table, kind) in [(ByteLevelTables.letters, Kind.letter), (ByteLevelTables.numbers, .number),
                              (ByteLevelTables.whitespace, .space)] {
            for (first, last) in CharacterClasses.parseRanges(table) {
                for cp in Int(first)...Int(last) { kinds[cp] = kind.rawValue }
            }
        }
        var index = [UInt16](repeating: 0, count: 0x1100)
        var unique: [UInt8] = []
        var seen: [[UInt8]: UInt16] = [:]
        for block in 0..<0x1100 {
            let slice = Array(kinds[(block << 8)..<((block + 1) << 8)])
            if let number = seen[slice] {
                index[block] = number
            } else {
                let number = UInt16(unique.count >> 8)
                seen[slice] = number
                unique += slice
                index[block] = number
            }
        }
        blockIndex = index
        blocks = unique
    }

    @inline(__always)
    func kind(_ scalar: UInt32) -> Kind {
        guard scalar < 0x110000 else { return .other }
        return Kind(rawValue: blocks[Int(blockIndex[Int(scalar >> 8)]) << 8 | Int(scalar & 0xFF)])!
    }
}

enum GPT2Split {
    static let pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Calls `body` with each match of the pattern in `s[range]`, in order (the matches cover the range:
    /// every scalar is a letter, a number, a space or something else). Alternatives are tried in the
    /// pattern's order, as the leftmost-first regex engine does:
    ///   - the contractions `'s 't 're 've 'm 'll 'd` (ASCII apostrophe, lowercase only);
    ///   - an optional U+0020 and a run of one class (letters, numbers, or neither-nor-space);
    ///   - a run of whitespace: all of it at the end of the range, else all but its last scalar (which
    ///     then starts the next match, `\s+(?!\S)`), or a single scalar before a non-space (`\s+`).
    static func forEachPiece(_ s: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, classes: ByteLevelClasses,
                             _ body: (Range<Int>) -> Void) {
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let start = i
            let c = s[i]
            if c == 0x27 && i + 1 < end {       // '
                let n = s[i + 1]
                if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 {        // s t m d
                    body(i..<(i + 2)); i += 2; continue
                }
                if i + 2 < end {
                    let m = s[i + 2]
                    if (n == 0x72 && m == 0x65) || (n == 0x76 && m == 0x65) || (n == 0x6C && m == 0x6C) {   // re ve ll
                        body(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            var kind = classes.kind(c)
            if c == 0x20 && i + 1 < end {
                let next = classes.kind(s[i + 1])
                if next != .space { kind = next; i += 1 }
            }
            if kind != .space {
                while i < end && classes.kind(s[i]) == kind { i += 1 }
                body(start..<i)
                continue
            }
            var j = i
            while j < end && classes.kind(s[j]) == .space { j += 1 }
            let stop = j == end || j - i == 1 ? j : j - 1
            body(i..<stop)
            i = stop
        }
    }

}
