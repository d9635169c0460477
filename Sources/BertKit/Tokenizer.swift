// A model directory's tokenizer, as transformers' AutoTokenizer loads it.

internal import Tokenizer
internal import Checkpoints

/// The tokenizer of a model directory: BERT's WordPiece (`BertTokenizer`, `tokenizer.json` or `vocab.txt`) or RoBERTa's
/// byte-level BPE, chosen as transformers' `AutoTokenizer` chooses, with the same ids, tokens and offsets.
///
/// ```swift
/// let tokenizer = try TextTokenizer(directory: "all-MiniLM-L6-v2")
/// let encoded = try tokenizer.encode("Hello, world!")
/// print(encoded.tokens)   // ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
/// ```
public struct TextTokenizer: Sendable {
    let base: any Tokenizer.TextTokenizer

    init(base: any Tokenizer.TextTokenizer) { self.base = base }

    /// Loads the tokenizer of a model directory, or of a Hub id in the local Hugging Face cache.
    /// - Throws: ``BertKitError/file(path:message:)`` when the directory has no tokenizer BertKit reads.
    public init(directory: String) throws(BertKitError) {
        base = try BertKitError.mapping { try AutoTokenizer.load(directory: try ModelDirectory.resolve(directory)) }
    }

    /// Encodes a text, or a pair as `tokenizer(text, pair)` does.
    /// - Parameters:
    ///   - text: The text.
    ///   - pair: A second text, encoded after the first with segment id 1.
    ///   - addSpecialTokens: Whether to add the model's special tokens (`[CLS]`, `[SEP]`).
    ///   - maxLength: Truncates the encoding to this many tokens, special tokens included (longest first, as
    ///     transformers' default truncation); nil leaves it whole.
    public func encode(_ text: String, pair: String? = nil, addSpecialTokens: Bool = true,
                       maxLength: Int? = nil) throws(BertKitError) -> TokenizedText {
        if let maxLength, maxLength < 1 { throw .invalidArgument("maxLength must be at least 1, not \(maxLength)") }
        let options = EncodeOptions(addSpecialTokens: addSpecialTokens, truncation: maxLength.map { Truncation(maxLength: $0) })
        return TokenizedText(try BertKitError.mapping { try base.encode(text, pair: pair, options: options) })
    }

    /// Encodes many texts (or pairs) at once, as `tokenizer(texts, pairs, truncation=…, padding=…)`, on `threads`
    /// threads (nil: ``Threads/count``). The encodings are turned into ``TokenizedText`` values only as they are read.
    /// - Throws: ``BertKitError/invalidArgument(_:)`` when `pairs` does not match `texts` or a truncation cannot be
    ///   done (`only_second` without pairs, a length shorter than the special tokens).
    public func encode(_ texts: [String], pairs: [String]? = nil, options: EncodingOptions = EncodingOptions(),
                       threads: Int? = nil) throws(BertKitError) -> TokenizedBatch {
        if let pairs, pairs.count != texts.count { throw .invalidArgument("\(texts.count) texts but \(pairs.count) pairs") }
        if let threads, threads < 1 { throw .invalidArgument("threads must be at least 1, not \(threads)") }
        let internalOptions = try options.internalValue()
        let encodings = try BertKitError.mapping {
            try base.encodeBatch(texts, pairs: pairs, options: internalOptions, threads: threads)
        }
        return TokenizedBatch(encodings: encodings, unknownTokenID: base.unknownTokenID ?? -1, maxLength: options.truncation?.maxLength)
    }

    /// The text of token ids, as `tokenizer.decode(ids, skip_special_tokens=…)`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        base.decode(ids.map { Int32(truncatingIfNeeded: $0) }, skipSpecialTokens: skipSpecialTokens)
    }

    /// The tokens of a text without special tokens or ids, as `tokenizer.tokenize(text)`.
    public func tokenize(_ text: String) -> [String] { base.tokenize(text) }

    /// The id of a token, nil when the vocabulary lacks it.
    public func id(of token: String) -> Int? { base.id(of: token).map(Int.init) }

    /// The vocabulary's size, added tokens included (`len(tokenizer)`).
    public var vocabularySize: Int { base.count }

    /// The longest input the model takes, in tokens (`model_max_length`), when the tokenizer files say.
    public var maxLength: Int? { base.modelMaxLength }

    /// The id of the unknown token (`[UNK]`); nil for a tokenizer that encodes every byte (GPT-2's byte-level BPE).
    public var unknownTokenID: Int? { base.unknownTokenID.map(Int.init) }
}

/// How ``TextTokenizer/encode(_:pairs:options:threads:)`` cuts and pads, as the arguments of transformers' tokenizer call.
public struct EncodingOptions: Sendable, Hashable {
    /// How a text (or pair) longer than `maxLength` is cut.
    public struct Truncation: Sendable, Hashable {
        /// Which sequence loses tokens (`truncation=` in transformers).
        public enum Strategy: String, Sendable, Hashable, CaseIterable {
            /// Tokens off the longer sequence, one at a time.
            case longestFirst = "longest_first"
            /// Only the first sequence.
            case onlyFirst = "only_first"
            /// Only the second sequence.
            case onlySecond = "only_second"
        }
        /// The encoding's length, special tokens included (`max_length`).
        public var maxLength: Int
        /// Which sequence loses tokens.
        public var strategy: Strategy

        /// Cut at `maxLength` tokens, longest first by default.
        public init(maxLength: Int, strategy: Strategy = .longestFirst) {
            self.maxLength = maxLength
            self.strategy = strategy
        }
    }

    /// How encodings are padded, on the right.
    public enum Padding: Sendable, Hashable {
        /// To the longest encoding of the batch (`padding="longest"`).
        case longest
        /// To this length (`padding="max_length"`); longer encodings are left alone.
        case length(Int)
    }

    /// Whether to add the model's special tokens.
    public var addSpecialTokens = true
    /// How to cut; nil leaves every text whole.
    public var truncation: Truncation? = nil
    /// How to pad; nil pads nothing.
    public var padding: Padding? = nil

    /// Special tokens, no truncation, no padding.
    public init() {}

    func internalValue() throws(BertKitError) -> EncodeOptions {
        if let truncation, truncation.maxLength < 0 { throw .invalidArgument("maxLength must be at least 0") }
        let strategy: TruncationStrategy? = truncation.map {
            switch $0.strategy { case .longestFirst: .longestFirst; case .onlyFirst: .onlyFirst; case .onlySecond: .onlySecond }
        }
        return EncodeOptions(addSpecialTokens: addSpecialTokens,
                             truncation: truncation.map { Tokenizer.Truncation(maxLength: $0.maxLength, strategy: strategy!) },
                             padding: padding.map {
                                 switch $0 { case .longest: Tokenizer.Padding(length: .longest); case .length(let n): Tokenizer.Padding(length: .fixed(n)) }
                             })
    }
}

/// The encodings of a batch of texts, in order; each becomes a ``TokenizedText`` as it is read.
public struct TokenizedBatch: Sendable, RandomAccessCollection {
    let encodings: [Encoding]
    let unknownTokenID: Int32
    let maxLength: Int?

    /// 0.
    public var startIndex: Int { 0 }
    /// The number of encodings.
    public var endIndex: Int { encodings.count }
    /// The encoding of the text at `position`.
    public subscript(position: Int) -> TokenizedText { TokenizedText(encodings[position]) }

    /// The encoding at `position` as one JSON object, as `bertkit tokenize --json` prints it: `tokens`, `input_ids`,
    /// `token_type_ids`, `attention_mask`, `offsets`, `word_ids`.
    public func json(at position: Int) -> String {
        var text = ""
        encodings[position].appendJSON(to: &text)
        return text
    }

    /// Counts over the batch.
    public var statistics: TokenStatistics {
        TokenStatistics(EncodingStatistics(encodings, unknownID: unknownTokenID, maxLength: maxLength))
    }
}

/// Counts over a batch of encodings.
public struct TokenStatistics: Sendable, Hashable {
    /// The texts, and their real tokens (special tokens included, padding not).
    public var texts: Int, tokens: Int
    /// The longest encoding and the mean, in real tokens.
    public var maxTokens: Int, meanTokens: Double
    /// Unknown-token pieces of the texts (special tokens not counted).
    public var unknown: Int
    /// The truncation length, and how many texts reached it (0 without truncation).
    public var maxLength: Int?, atMaxLength: Int

    init(_ statistics: EncodingStatistics) {
        texts = statistics.texts
        tokens = statistics.tokens
        maxTokens = statistics.maxTokens
        meanTokens = statistics.meanTokens
        unknown = statistics.unknown
        maxLength = statistics.maxLength
        atMaxLength = statistics.atMaxLength
    }
}

/// One encoded text: what `tokenizer(text)` returns, with the tokens and their places in the text.
public struct TokenizedText: Sendable, Hashable {
    /// The token ids (`input_ids`).
    public var ids: [Int]
    /// The tokens (`convert_ids_to_tokens`).
    public var tokens: [String]
    /// The segment of each token: 0 for the text, 1 for the pair (`token_type_ids`).
    public var typeIDs: [Int]
    /// Each token's span in its text as Unicode scalar offsets (Python `str` indices, `offset_mapping`); special
    /// tokens have the empty span 0..<0.
    public var offsets: [Range<Int>]
    /// 1 for a real token, 0 for padding (`attention_mask`).
    public var attentionMask: [Int]
    /// 1 for a special token, 0 for a piece of the text (`special_tokens_mask`).
    public var specialTokensMask: [Int]
    /// The word each token belongs to (`word_ids()`), nil for special tokens and padding.
    public var wordIDs: [Int?]

    init(_ encoding: Encoding) {
        ids = encoding.ids.map(Int.init)
        tokens = encoding.tokens
        typeIDs = encoding.typeIDs.map(Int.init)
        attentionMask = encoding.attentionMask.map(Int.init)
        specialTokensMask = encoding.specialTokensMask.map(Int.init)
        wordIDs = encoding.wordIDs
        offsets = encoding.offsets.map { $0.start..<max($0.start, $0.end) }
    }
}
