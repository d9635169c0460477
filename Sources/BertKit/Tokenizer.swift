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

    init(_ encoding: Encoding) {
        ids = encoding.ids.map(Int.init)
        tokens = encoding.tokens
        typeIDs = encoding.typeIDs.map(Int.init)
        offsets = encoding.offsets.map { $0.start..<max($0.start, $0.end) }
    }
}
