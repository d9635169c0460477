// An encoded text (or pair) and the steps after tokenization, as tokenizers 0.23.3 runs them in
// `TokenizerImpl::post_process`: truncate the raw sequences (utils/truncation.rs), add the special
// tokens of the template (processors/template.rs), then pad (utils/padding.rs).

/// Start and end of a token in its input text, in Unicode scalars (Python `str` indices).
package struct TokenOffset: Sendable, Equatable, CustomStringConvertible {
    package var start: Int
    package var end: Int
    package init(_ start: Int, _ end: Int) { self.start = start; self.end = end }
    package var description: String { "(\(start), \(end))" }
}

package struct Encoding: Sendable, Equatable {
    package var ids: [Int32] = []
    package var tokens: [String] = []
    package var typeIDs: [Int32] = []
    package var attentionMask: [Int32] = []
    /// 1 for tokens added by the template or padding, 0 for tokens of the texts.
    package var specialTokensMask: [Int32] = []
    package var offsets: [TokenOffset] = []
    /// Which input each token came from: 0, 1, or nil for special and padding tokens.
    package var sequenceIDs: [Int8?] = []
    /// The word each token came from, nil for special and padding tokens, as `BatchEncoding.word_ids()`: for text,
    /// the pre-tokenizer's pieces (an added token is one) numbered from 0 in each sequence; for pre-tokenised input
    /// (`encode(words:)`, `is_split_into_words=True`), the input word's index.
    package var wordIDs: [Int?] = []

    package init() {}
    package var count: Int { ids.count }

    mutating func reserve(_ n: Int) {
        ids.reserveCapacity(n); tokens.reserveCapacity(n); typeIDs.reserveCapacity(n)
        attentionMask.reserveCapacity(n); specialTokensMask.reserveCapacity(n)
        offsets.reserveCapacity(n); sequenceIDs.reserveCapacity(n)
    }

    mutating func append(id: Int32, token: String, typeID: Int32, offset: TokenOffset, special: Bool, sequence: Int8?,
                         attention: Int32 = 1) {
        ids.append(id)
        tokens.append(token)
        typeIDs.append(typeID)
        attentionMask.append(attention)
        specialTokensMask.append(special ? 1 : 0)
        offsets.append(offset)
        sequenceIDs.append(sequence)
    }
}

/// The tokens of one input before post-processing.
struct SequenceTokens: Sendable {
    var ids: [Int32] = []
    var tokens: [String] = []
    var offsets: [TokenOffset] = []
    /// The word of each token, as `word_ids()`: the pre-tokenizer's pieces (and each added token) numbered from 0,
    /// or, for pre-tokenised input, the index of the input word. Nil: not tracked.
    var wordIDs: [Int]? = nil
    /// Words started so far (`startWord`): the next token's word is `wordCount - 1`.
    var wordCount = 0

    var count: Int { ids.count }

    /// `Encoding::truncate` (the overflowing part is dropped: bertkit does not return overflows).
    mutating func truncate(to length: Int, direction: TruncationDirection) {
        guard ids.count > length else { return }
        switch direction {
        case .right:
            ids.removeSubrange(length...)
            tokens.removeSubrange(length...)
            offsets.removeSubrange(length...)
            wordIDs?.removeSubrange(length...)
        case .left:
            let cut = ids.count - length
            ids.removeSubrange(..<cut)
            tokens.removeSubrange(..<cut)
            offsets.removeSubrange(..<cut)
            wordIDs?.removeSubrange(..<cut)
        }
    }
}

package enum TruncationStrategy: String, Sendable, CaseIterable {
    case longestFirst = "longest_first"
    case onlyFirst = "only_first"
    case onlySecond = "only_second"
}

package enum TruncationDirection: String, Sendable, CaseIterable {
    case right, left
}

package struct Truncation: Sendable, Equatable {
    /// Length of the final encoding, special tokens included.
    package var maxLength: Int
    package var strategy: TruncationStrategy
    package var direction: TruncationDirection
    package init(maxLength: Int, strategy: TruncationStrategy = .longestFirst, direction: TruncationDirection = .right) {
        self.maxLength = maxLength
        self.strategy = strategy
        self.direction = direction
    }
}

package struct Padding: Sendable, Equatable {
    package enum Length: Sendable, Equatable {
        /// To the longest encoding of the batch.
        case longest
        /// To a fixed length (longer encodings are left alone).
        case fixed(Int)
    }
    package enum Side: String, Sendable { case right, left }
    package var length: Length
    package var side: Side
    package var multipleOf: Int?
    package init(length: Length = .longest, side: Side = .right, multipleOf: Int? = nil) {
        self.length = length
        self.side = side
        self.multipleOf = multipleOf
    }
}

package struct EncodeOptions: Sendable, Equatable {
    package var addSpecialTokens: Bool
    package var truncation: Truncation?
    package var padding: Padding?
    package init(addSpecialTokens: Bool = true, truncation: Truncation? = nil, padding: Padding? = nil) {
        self.addSpecialTokens = addSpecialTokens
        self.truncation = truncation
        self.padding = padding
    }
}

enum Truncator {
    /// `truncate_encodings`, with max_length already reduced by the special tokens to add.
    static func truncate(_ first: inout SequenceTokens, _ second: inout SequenceTokens?, maxLength: Int,
                         strategy: TruncationStrategy, direction: TruncationDirection) throws(TokenizerError) {
        if maxLength == 0 {
            first.truncate(to: 0, direction: direction)
            second?.truncate(to: 0, direction: direction)
            return
        }
        let total = first.count + (second?.count ?? 0)
        guard total > maxLength else { return }
        let toRemove = total - maxLength
        switch strategy {
        case .longestFirst:
            guard var other = second else {
                first.truncate(to: total - toRemove, direction: direction)
                return
            }
            var n1 = first.count, n2 = other.count
            let swapped = n1 > n2
            if swapped { swap(&n1, &n2) }
            n2 = n1 > maxLength ? n1 : max(n1, maxLength - n1)
            if n1 + n2 > maxLength {
                n1 = maxLength / 2
                n2 = n1 + maxLength % 2
            }
            if swapped { swap(&n1, &n2) }
            first.truncate(to: n1, direction: direction)
            other.truncate(to: n2, direction: direction)
            second = other
        case .onlyFirst, .onlySecond:
            if strategy == .onlySecond && second == nil { throw .secondSequenceNotProvided }
            let length = strategy == .onlyFirst ? first.count : second!.count
            guard length > toRemove else { throw .sequenceTooShort }
            if strategy == .onlyFirst { first.truncate(to: length - toRemove, direction: direction) }
            else { second!.truncate(to: length - toRemove, direction: direction) }
        }
    }
}

enum Padder {
    /// `pad_encodings`: every encoding to the same length (fixed or the batch's longest).
    static func pad(_ encodings: inout [Encoding], _ padding: Padding, padID: Int32, padToken: String, padTypeID: Int32) {
        guard !encodings.isEmpty else { return }
        var length: Int
        switch padding.length {
        case .fixed(let n): length = n
        case .longest: length = encodings.map(\.count).max() ?? 0
        }
        if let multiple = padding.multipleOf, multiple > 0, length % multiple > 0 { length += multiple - length % multiple }
        for i in encodings.indices { pad(&encodings[i], to: length, padding.side, padID, padToken, padTypeID) }
    }

    static func pad(_ e: inout Encoding, to length: Int, _ side: Padding.Side, _ padID: Int32, _ padToken: String,
                    _ padTypeID: Int32) {
        let missing = length - e.count
        guard missing > 0 else { return }
        let tracksWords = e.wordIDs.count == e.count   // an empty encoding too: its pads get nil words
        func fill<T>(_ array: inout [T], _ value: T) {
            if side == .right { array.append(contentsOf: repeatElement(value, count: missing)) }
            else { array.insert(contentsOf: repeatElement(value, count: missing), at: 0) }
        }
        fill(&e.ids, padID)
        fill(&e.tokens, padToken)
        fill(&e.typeIDs, padTypeID)
        fill(&e.attentionMask, 0)
        fill(&e.specialTokensMask, 1)
        fill(&e.offsets, TokenOffset(0, 0))
        fill(&e.sequenceIDs, nil)
        if tracksWords { fill(&e.wordIDs, nil) }
    }
}
