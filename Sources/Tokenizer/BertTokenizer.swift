// BERT's tokenizer, identical to Hugging Face's BertTokenizer (transformers 5.24, backed by
// tokenizers 0.23.3): added tokens → BertNormalizer → BertPreTokenizer → WordPiece → truncation →
// template → padding (tokenizers/src/tokenizer/mod.rs, `encode_single_sequence` and `post_process`).
// Works on Unicode scalars; offsets are scalar indices into the input, as Python `str` indices are.

#if canImport(Glibc)
import Glibc
#endif
import Dispatch

package struct BertTokenizer: Sendable {
    package let model: WordPieceModel
    /// `nil`: the tokenizer has no normalizer.
    package let normalizerOptions: BertNormalizerOptions?
    package let addedTokens: [AddedToken]
    package let postProcessor: PostProcessorTemplate
    /// `nil`: tokens are joined with spaces.
    package let decoder: WordPieceDecoder?
    /// The padding token (`nil` when the tokenizer has none; padding is then refused).
    package let padToken: String?
    package let padTypeID: Int32
    /// `model_max_length` of tokenizer_config.json, when it states a real one.
    package let modelMaxLength: Int?

    let normalizer: BertNormalizer?
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let addedByID: [Int32: String]
    let specialContents: Set<[UInt8]>     // UTF-8 bytes: exact, unlike String ==
    let padID: Int32?
    let classes = CharacterClasses.shared
    /// Flags of the ASCII scalars, looked up without touching the tables.
    let asciiFlags: [CharacterFlags] = (0..<128).map { CharacterClasses.shared.flags(UInt32($0)) }

    package init(model: WordPieceModel, normalizer: BertNormalizerOptions?, addedTokens: [AddedToken] = [],
                postProcessor: PostProcessorTemplate, decoder: WordPieceDecoder? = WordPieceDecoder(),
                padToken: String? = "[PAD]", padTypeID: Int32 = 0, modelMaxLength: Int? = nil) {
        self.model = model
        self.normalizerOptions = normalizer
        self.addedTokens = addedTokens
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.padTypeID = padTypeID
        self.modelMaxLength = modelMaxLength
        let normalizer = normalizer.map(BertNormalizer.init)
        self.normalizer = normalizer
        rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized }.map {
            .init(scalars: $0.content.unicodeScalars.map(\.value), token: $0)
        })
        normalizedMatcher = AddedTokenMatcher(addedTokens.filter(\.normalized).map {
            .init(scalars: (normalizer?.normalize($0.content) ?? $0.content).unicodeScalars.map(\.value), token: $0)
        })
        // An added token's string for decoding (and id → token) is its normalized form when it is
        // matched after normalization, as the reference caches it.
        var byID: [Int32: String] = [:]
        for token in addedTokens {
            byID[token.id] = token.normalized ? normalizer?.normalize(token.content) ?? token.content : token.content
        }
        addedByID = byID
        specialContents = Set(addedTokens.filter(\.special).map { Array($0.content.utf8) })
        let padID = padToken.flatMap { token in
            addedTokens.first(where: { $0.content.utf8.elementsEqual(token.utf8) })?.id ?? model.vocabulary.id(of: token)
        }
        self.padID = padID
        self.padToken = padID == nil ? nil : padToken
    }

    // MARK: Vocabulary

    // id(of:), token(of:) and count: SequenceEncoder.swift (added tokens first, then the vocabulary).

    // MARK: Decoding

    // decode(_:skipSpecialTokens:): SequenceEncoder.swift.

    // MARK: Encoding

    /// Encodes one text, or a pair, as `tokenizer(text, pair, …)` does (SequenceEncoder.swift).
    package func encode(_ text: String, pair: String? = nil, options: EncodeOptions = EncodeOptions()) throws(TokenizerError) -> Encoding {
        try encodeSequence(text, pair: pair, options: options)
    }

    /// Encodes many texts (or pairs) on `threads` threads; padding `.longest` pads to the batch's longest.
    package func encodeBatch(_ texts: [String], pairs: [String]? = nil, options: EncodeOptions = EncodeOptions(),
                            threads: Int? = nil) throws(TokenizerError) -> [Encoding] {
        try encodeSequences(texts, pairs: pairs, options: options, threads: threads)
    }

    // encode(words:window:addSpecialTokens:) and encodeWindows(_:_:maxLength:stride:): SequenceEncoder.swift.

    /// How many tokens the template adds around one sequence ([CLS] and [SEP]: 2).
    package var specialTokensForOneSequence: Int { postProcessor.addedTokens(pair: false) }

    /// The tokens of a text without special tokens (`tokenizer.tokenize`).
    package func tokenize(_ text: String) -> [String] {
        var workspace = Workspace()
        return sequenceTokens(text, workspace: &workspace).tokens
    }

    /// The words the pre-tokenizer makes of an (already normalized) text, with scalar offsets, as
    /// `BertPreTokenizer().pre_tokenize_str(text)`.
    package static func preTokenize(_ text: String) -> [(word: String, start: Int, end: Int)] {
        BertPreTokenizer.split(text)
    }

    /// Pads encodings to a common length (`.longest`: the longest of them), on `padding.side`.
    package func pad(_ encodings: inout [Encoding], _ padding: Padding) throws(TokenizerError) {
        try padSequences(&encodings, padding)
    }

    func makeWorkspace() -> Workspace { Workspace() }

    // MARK: Tokenization of one text

    struct Workspace {
        var input: [UInt32] = []
        var normalized = ScalarBuffer()
        var scratch = ScalarBuffer()
        var wordPiece = WordPieceModel.Workspace()
        var pieces: [WordPieceModel.Piece] = []
    }

    func sequenceTokens(_ text: String, workspace w: inout Workspace) -> SequenceTokens {
        w.input.removeAll(keepingCapacity: true)
        for scalar in text.unicodeScalars { w.input.append(scalar.value) }
        var out = SequenceTokens.numberingWords(capacity: w.input.count / 3 + 4)
        let input = w.input
        input.withUnsafeBufferPointer { input in
            rawMatcher.split(input, 0..<input.count, into: &out) { range, out in normalizeAndTokenize(input, range, &w, into: &out) }
        }
        return out
    }

    private func normalizeAndTokenize(_ input: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, _ w: inout Workspace,
                                      into out: inout SequenceTokens) {
        if let normalizer {
            normalizer.normalize(input, range, into: &w.normalized, scratch: &w.scratch)
        } else {
            w.normalized.removeAll()
            for i in range { w.normalized.append(input[i], Int32(i)) }
        }
        // Added tokens matched after normalization: their value is the normalized text, their offsets the input's.
        let scalars = w.normalized.scalarView, origins = w.normalized.originView
        normalizedMatcher.split(scalars, 0..<scalars.count, into: &out, offset: { Self.offset(origins, $0) }) { range, out in
            preTokenizeAndModel(scalars, origins, range, &w, into: &out)
        }
    }

    /// BertPreTokenizer (split on whitespace, isolate punctuation), then WordPiece on each word.
    private func preTokenizeAndModel(_ scalars: UnsafeBufferPointer<UInt32>, _ origins: UnsafeBufferPointer<Int32>,
                                     _ range: Range<Int>, _ w: inout Workspace, into out: inout SequenceTokens) {
        BertPreTokenizer.forEachWord(scalars, range, asciiFlags: asciiFlags, classes: classes) { word in
            modelWord(scalars, origins, word, &w, into: &out)
        }
    }

    private func modelWord(_ scalars: UnsafeBufferPointer<UInt32>, _ origins: UnsafeBufferPointer<Int32>, _ word: Range<Int>,
                           _ w: inout Workspace, into out: inout SequenceTokens) {
        w.pieces.removeAll(keepingCapacity: true)
        model.tokenize(scalars, word, workspace: &w.wordPiece, into: &w.pieces)
        out.startWord()
        let idToToken = model.vocabulary.idToToken
        for piece in w.pieces {
            let range = (word.lowerBound + piece.start)..<(word.lowerBound + piece.end)
            let token = Int(piece.id) < idToToken.count ? idToToken[Int(piece.id)] ?? model.unknownToken : model.unknownToken
            out.append(piece.id, token, Self.offset(origins, range))
        }
    }

    /// Input offsets of normalized scalars `range`: from the first one's origin to the last one's end.
    @inline(__always)
    static func offset(_ origins: UnsafeBufferPointer<Int32>, _ range: Range<Int>) -> TokenOffset {
        let first = origins[range.lowerBound], last = origins[range.upperBound - 1]
        return TokenOffset(first < 0 ? 0 : Int(first), last < 0 ? 0 : Int(last) + 1)
    }

    /// Online processors: the default thread count of `encodeBatch`.
    package static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

extension SequenceTokens {
    /// An empty sequence that numbers its words.
    static func numberingWords(capacity: Int) -> SequenceTokens {
        var out = SequenceTokens(wordIDs: [])
        out.ids.reserveCapacity(capacity)
        out.tokens.reserveCapacity(capacity)
        out.offsets.reserveCapacity(capacity)
        out.wordIDs!.reserveCapacity(capacity)
        return out
    }

    /// The tokens appended next belong to a new word (a pre-tokenizer piece or an added token).
    @inline(__always)
    mutating func startWord() { wordCount += 1 }

    @inline(__always)
    mutating func append(_ id: Int32, _ token: String, _ offset: TokenOffset) {
        ids.append(id)
        tokens.append(token)
        offsets.append(offset)
        wordIDs?.append(wordCount - 1)
    }
}

