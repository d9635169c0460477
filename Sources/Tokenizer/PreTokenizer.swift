// BertPreTokenizer (tokenizers/src/pre_tokenizers/bert.rs): split on whitespace (Rust
// `char::is_whitespace`, the separators are dropped), then every punctuation character (ASCII
// punctuation and Unicode P*, Unicode 8.0 tables) becomes a word of its own.

enum BertPreTokenizer {
    /// Calls `body` with each word's range in `scalars[range]`, in order.
    @inline(__always)
    static func forEachWord(_ scalars: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, asciiFlags: [CharacterFlags],
                            classes: CharacterClasses, _ body: (Range<Int>) -> Void) {
        var wordStart = -1
        for i in range {
            let c = scalars[i]
            let f = c < 0x80 ? asciiFlags[Int(c)] : classes.flags(c)
            if f.contains(.whitespace) {
                if wordStart >= 0 { body(wordStart..<i); wordStart = -1 }
            } else if f.contains(.punctuation) {
                if wordStart >= 0 { body(wordStart..<i); wordStart = -1 }
                body(i..<(i + 1))
            } else if wordStart < 0 {
                wordStart = i
            }
        }
        if wordStart >= 0 { body(wordStart..<range.upperBound) }
    }

    /// The words of `text` with their scalar offsets (as `pre_tokenize_str` reports them).
    static func split(_ text: String) -> [(word: String, start: Int, end: Int)] {
        let scalars = text.unicodeScalars.map(\.value)
        let classes = CharacterClasses.shared
        let ascii = (0..<128).map { classes.flags(UInt32($0)) }
        var words: [(String, Int, Int)] = []
        scalars.withUnsafeBufferPointer { buffer in
            forEachWord(buffer, 0..<buffer.count, asciiFlags: ascii, classes: classes) { word in
                words.append((String(decoding: buffer[word], as: UTF32.self), word.lowerBound, word.upperBound))
            }
        }
        return words
    }
}
