// One interface over the tokenizers bertkit reads (BERT WordPiece and byte-level BPE), and loading a model
// directory's tokenizer whichever it is, as transformers' AutoTokenizer picks the class.

import TensorCore

package protocol TextTokenizer: Sendable {
    func encode(_ text: String, pair: String?, options: EncodeOptions) throws(TokenizerError) -> Encoding
    func encodeBatch(_ texts: [String], pairs: [String]?, options: EncodeOptions, threads: Int?) throws(TokenizerError) -> [Encoding]
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    func tokenize(_ text: String) -> [String]
    func id(of token: String) -> Int32?
    func token(of id: Int32) -> String?
    /// Vocabulary size including added tokens (`len(tokenizer)`).
    var count: Int { get }
    var padToken: String? { get }
    var modelMaxLength: Int? { get }
    /// How many tokens the post-processor adds around one sequence.
    var specialTokensForOneSequence: Int { get }
    /// The id the model gives what it cannot encode (nil: none; GPT-2's byte-level BPE encodes every byte).
    var unknownTokenID: Int32? { get }
    /// The mask token's id (`tokenizer.mask_token_id`: BERT's `[MASK]`, RoBERTa's `<mask>`); nil when it has none.
    var maskTokenID: Int32? { get }
    /// `tokenizer.all_special_ids`: the special added tokens and the unknown token.
    var specialTokenIDs: Set<Int32> { get }
    /// `tokenizer.cls_token_id`: the token the template puts first (BERT's `[CLS]`, RoBERTa's `<s>`); nil when it puts
    /// none (GPT-2). Question answering points unanswerable windows at it.
    var classifierTokenID: Int32? { get }
    /// Whether the model marks a word's continuing pieces (WordPiece's `##`; transformers: a truthy
    /// `continuing_subword_prefix`), so a token's length against the text it covers tells a subword. Without it the
    /// token-classification pipeline falls back to "no space before the token".
    var marksSubwords: Bool { get }
    /// `convert_tokens_to_string`: tokens joined by the tokenizer's decoder (with spaces when it has none).
    func convertTokensToString(_ tokens: [String]) -> String
    /// Pre-tokenised words as `tokenizer(words, is_split_into_words=True)` encodes them (each token's `wordIDs` entry
    /// is its word; offsets are into the word); `window` keeps only those of the words' tokens. SequenceEncoder.swift.
    func encode(words: [String], window: Range<Int>?, addSpecialTokens: Bool) -> Encoding
    /// A question and a long context as `truncation="only_second", stride=…, return_overflowing_tokens=True` cuts
    /// them: overlapping windows of the context, each with the whole question. SequenceEncoder.swift.
    func encodeWindows(_ first: String, _ second: String, maxLength: Int, stride: Int) throws(TokenizerError) -> [Encoding]
    /// Rewrites the tokenizer files copied into `folder` so that transformers loads them encoding as `encode(words:)`
    /// did (a byte-level BPE's prefix space; nothing for WordPiece), as run_ner.py saves its tokenizer.
    func saveWordEncoding(inTokenizerFilesOf folder: String) throws
}

extension BertTokenizer: TextTokenizer {
    package func saveWordEncoding(inTokenizerFilesOf folder: String) throws {}
    package var marksSubwords: Bool { !model.vocabulary.continuingSubwordPrefix.isEmpty }
    package var unknownTokenID: Int32? { model.unknownID }
    package var maskTokenID: Int32? { id(of: "[MASK]") }
    package var specialTokenIDs: Set<Int32> {
        Set(["[CLS]", "[SEP]", "[PAD]", "[MASK]", model.unknownToken].compactMap { id(of: $0) })
            .union(addedTokens.filter(\.special).map(\.id))
    }
}
extension ByteLevelBPETokenizer: TextTokenizer {
    /// `encode(words:)` adds a prefix space (SequenceEncoder.swift); the files say so.
    package func saveWordEncoding(inTokenizerFilesOf folder: String) throws { try Self.savePrefixSpace(inTokenizerFilesOf: folder) }
    /// RoBERTa's and GPT-2's BPE has no `continuing_subword_prefix` (the loader refuses one).
    package var marksSubwords: Bool { false }
    package var unknownTokenID: Int32? { model.unknownID }
    package var maskTokenID: Int32? { id(of: "<mask>") }
    package var specialTokenIDs: Set<Int32> {
        Set(addedTokens.filter(\.special).map(\.id)).union(model.unknownID.map { [$0] } ?? [])
    }
}

package enum AutoTokenizer {
    /// The tokenizer of a model directory: a tokenizer.json whose model is BPE, or vocab.json + merges.txt
    /// without tokenizer.json, is a byte-level BPE tokenizer; anything else goes to BertTokenizer (which
    /// names what it cannot read).
    package static func load(directory: String) throws -> any TextTokenizer {
        let json = directory + "/tokenizer.json"
        if fileExists(json) {
            // Parsed once (a byte-level vocabulary's file is megabytes): its model type picks the builder.
            let root = try withFileContext(json) { try BertTokenizer.parseJSON(try readFileBytes(json)) }
            if root["model"]?["type"]?.stringValue == "BPE" {
                let config = try BPETokenizerConfig.load(directory: directory)
                return try withFileContext(json) { try BPETokenizerJSON.build(root, config: config) }
            }
            let config = try TokenizerConfig.load(directory: directory)
            return try withFileContext(json) { try TokenizerJSON.build(root, config: config) }
        }
        if fileExists(directory + "/vocab.json") && fileExists(directory + "/merges.txt") && !fileExists(directory + "/vocab.txt") {
            return try ByteLevelBPETokenizer.load(directory: directory)
        }
        return try BertTokenizer.load(directory: directory)
    }
}

extension TextTokenizer {
    /// `encode` with transformers' defaults: no pair, no truncation or padding.
    package func encode(_ text: String, options: EncodeOptions = EncodeOptions()) throws(TokenizerError) -> Encoding {
        try encode(text, pair: nil, options: options)
    }

    /// `encodeBatch` on every core.
    package func encodeBatch(_ texts: [String], pairs: [String]? = nil, options: EncodeOptions = EncodeOptions()) throws(TokenizerError) -> [Encoding] {
        try encodeBatch(texts, pairs: pairs, options: options, threads: nil)
    }
}
