// The WordPiece decoder (tokenizers/src/decoders/wordpiece.rs): continuation pieces lose their
// prefix and join the previous token, other tokens get a leading space, and with `cleanup` each
// token (on its own, as the reference does it) has tokenization spaces removed (" ." → "." …).

package struct WordPieceDecoder: Sendable, Equatable {
    package var prefix: String
    package var cleanup: Bool

    package init(prefix: String = "##", cleanup: Bool = true) {
        self.prefix = prefix
        self.cleanup = cleanup
    }

    private static let cleanups: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.utf8), Array($1.utf8)) }

    /// Works on UTF-8 bytes, as Rust's `str` methods do (no Character equivalence).
    package func decode(_ tokens: [String]) -> String {
        let prefixBytes = Array(prefix.utf8)
        var out: [UInt8] = []
        for (i, token) in tokens.enumerated() {
            var piece = Array(token.utf8)
            if i != 0 {
                if piece.starts(with: prefixBytes) { piece.removeFirst(prefixBytes.count) } else { piece.insert(0x20, at: 0) }
            }
            if cleanup {
                for (from, to) in Self.cleanups { piece = Self.replacingAll(piece, from, to) }
            }
            out += piece
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Rust's `str::replace`: left to right, non-overlapping.
    static func replacingAll(_ source: [UInt8], _ pattern: [UInt8], _ replacement: [UInt8]) -> [UInt8] {
        guard source.count >= pattern.count else { return source }
        var result: [UInt8] = []
        var i = 0
        var changed = false
        while i < source.count {
            if i + pattern.count <= source.count && source[i..<(i + pattern.count)].elementsEqual(pattern) {
                result += replacement
                i += pattern.count
                changed = true
            } else {
                result.append(source[i])
                i += 1
            }
        }
        return changed ? result : source
    }
}
