// Added tokens (special tokens like [CLS], and user-added ones), matched as the reference's
// AddedVocabulary does (tokenizers/src/tokenizer/added_vocabulary.rs): tokens with
// `normalized: false` are found in the raw text before normalization, the others in each normalized
// piece; leftmost-longest, non-overlapping; `single_word`, `lstrip` and `rstrip` honoured.

package struct AddedToken: Sendable, Equatable {
    package var content: String
    package var id: Int32
    package var singleWord: Bool
    package var lstrip: Bool
    package var rstrip: Bool
    package var normalized: Bool
    package var special: Bool

    package init(content: String, id: Int32, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool? = nil, special: Bool = false) {
        self.content = content
        self.id = id
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized ?? !special
        self.special = special
    }
}

/// One side of the added vocabulary (raw or normalized patterns).
struct AddedTokenMatcher: Sendable {
    struct Pattern: Sendable {
        var scalars: [UInt32]
        var token: AddedToken
    }
    private let patterns: [Pattern]
    /// Patterns whose first scalar is ASCII, by that byte; others in `nonASCII`.
    private let byFirstASCII: [[Int]]
    private let nonASCII: [Int]

    init(_ patterns: [Pattern]) {
        self.patterns = patterns.filter { !$0.scalars.isEmpty }
        var ascii = [[Int]](repeating: [], count: 128)
        var other: [Int] = []
        for (i, p) in self.patterns.enumerated() {
            if p.scalars[0] < 0x80 { ascii[Int(p.scalars[0])].append(i) } else { other.append(i) }
        }
        byFirstASCII = ascii
        nonASCII = other
    }

    var isEmpty: Bool { patterns.isEmpty }

    struct Split {
        var token: AddedToken?     // nil: ordinary text
        var range: Range<Int>
    }

    /// The reference's `find_matches`: splits covering `range` of `text`.
    func splits(_ text: UnsafeBufferPointer<UInt32>, _ range: Range<Int>) -> [Split] {
        if range.isEmpty { return [Split(token: nil, range: range)] }
        var result: [Split] = []
        var startOffset = range.lowerBound
        var position = range.lowerBound
        while position < range.upperBound {
            guard let (index, end) = longestMatch(text, at: position, limit: range.upperBound) else {
                position += 1
                continue
            }
            let token = patterns[index].token
            var start = position
            var stop = end
            position = end          // the search resumes after the match, even a discarded one
            if token.singleWord {
                let startSpace = start == range.lowerBound || !isWordCharacter(text[start - 1])
                let stopSpace = stop == range.upperBound || !isWordCharacter(text[stop])
                if !startSpace || !stopSpace { continue }
            }
            if token.lstrip {
                var newStart = start
                while newStart > range.lowerBound && isSpace(text[newStart - 1]) { newStart -= 1 }
                start = max(newStart, startOffset)
            }
            if token.rstrip {
                while stop < range.upperBound && isSpace(text[stop]) { stop += 1 }
            }
            if startOffset < start { result.append(Split(token: nil, range: startOffset..<start)) }
            result.append(Split(token: token, range: start..<stop))
            startOffset = stop
        }
        if startOffset != range.upperBound { result.append(Split(token: nil, range: startOffset..<range.upperBound)) }
        return result
    }

    /// Splits `range` of `text` on the added tokens, as the reference's `extract_and_normalize` does: each match is
    /// one word of one token whose value is the matched text (with any lstrip/rstrip spaces, as the reference records
    /// it) at `offset(match)`; each stretch between matches goes to `rest`.
    func split(_ text: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, into out: inout SequenceTokens,
               offset: (Range<Int>) -> TokenOffset = { TokenOffset($0.lowerBound, $0.upperBound) },
               rest: (Range<Int>, inout SequenceTokens) -> Void) {
        guard !isEmpty && mayMatch(text, range) else { return rest(range, &out) }
        for split in splits(text, range) {
            if let token = split.token {
                out.startWord()
                out.append(token.id, String(decoding: text[split.range], as: UTF32.self), offset(split.range))
            } else {
                rest(split.range, &out)
            }
        }
    }

    /// Whether any pattern could start in `text[range]` (cheap rejection for the common case).
    func mayMatch(_ text: UnsafeBufferPointer<UInt32>, _ range: Range<Int>) -> Bool {
        for i in range {
            let c = text[i]
            if c < 0x80 { if !byFirstASCII[Int(c)].isEmpty { return true } } else if !nonASCII.isEmpty { return true }
        }
        return false
    }

    private func longestMatch(_ text: UnsafeBufferPointer<UInt32>, at position: Int, limit: Int) -> (Int, Int)? {
        let first = text[position]
        let candidates = first < 0x80 ? byFirstASCII[Int(first)] : nonASCII
        var best: (Int, Int)? = nil
        for index in candidates {
            let pattern = patterns[index].scalars
            guard position + pattern.count <= limit else { continue }
            var equal = true
            for k in 0..<pattern.count where text[position + k] != pattern[k] { equal = false; break }
            if equal && (best == nil || position + pattern.count > best!.1) { best = (index, position + pattern.count) }
        }
        return best
    }
}

/// Regex `\w` (Unicode): alphabetic, marks, decimal digits, connector punctuation, join controls.
func isWordCharacter(_ scalar: UInt32) -> Bool {
    guard let s = Unicode.Scalar(scalar) else { return false }
    let p = s.properties
    if p.isAlphabetic || p.isJoinControl { return true }
    switch p.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
}

/// Regex `\s` (Unicode White_Space).
func isSpace(_ scalar: UInt32) -> Bool {
    CharacterClasses.shared.flags(scalar).contains(.whitespace)
}
