// BERT's tokenizer, identical to Hugging Face's BertTokenizer (transformers 5.24, backed by
// tokenizers 0.23.3): added tokens → BertNormalizer → BertPreTokenizer → WordPiece → truncation →
// template → padding (tokenizers/src/tokenizer/mod.rs, `encode_single_sequence` and `post_process`).
// Works on Unicode scalars; offsets are scalar indices into the input, as Python `str` indices are.

#if canImport(Glibc)
import Glibc
#endif
import Dispatch

public struct BertTokenizer: Sendable {
    public let model: WordPieceModel
    /// `nil`: the tokenizer has no normalizer.
    public let normalizerOptions: BertNormalizerOptions?
    public let addedTokens: [AddedToken]
    public let postProcessor: PostProcessorTemplate
    /// `nil`: tokens are joined with spaces.
    public let decoder: WordPieceDecoder?
    /// The padding token (`nil` when the tokenizer has none; padding is then refused).
    public let padToken: String?
    public let padTypeID: Int32
    /// `model_max_length` of tokenizer_config.json, when it states a real one.
    public let modelMaxLength: Int?

    let normalizer: BertNormalizer?
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let addedByID: [Int32: String]
    let specialContents: Set<[UInt8]>     // UTF-8 bytes: exact, unlike String ==
    let padID: Int32?
    let classes = CharacterClasses.shared
    /// Flags of the ASCII scalars, looked up without touching the tables.
    let asciiFlags: [CharacterFlags] = (0..<128).map { CharacterClasses.shared.flags(UInt32($0)) }

    public init(model: WordPieceModel, normalizer: BertNormalizerOptions?, addedTokens: [AddedToken] = [],
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
    public func encode(_ text: String, pair: String? = nil, options: EncodeOptions = EncodeOptions()) throws(TokenizerError) -> Encoding {
        try encodeSequence(text, pair: pair, options: options)
    }

    /// Encodes many texts (or pairs) on `threads` threads; padding `.longest` pads to the batch's longest.
    public func encodeBatch(_ texts: [String], pairs: [String]? = nil, options: EncodeOptions = EncodeOptions(),
                            threads: Int? = nil) throws(TokenizerError) -> [Encoding] {
        try encodeSequences(texts, pairs: pairs, options: options, threads: threads)
    }

    /// Encodes pre-tokenised words as `tokenizer(words, is_split_into_words=True)` does: each word runs through
    /// the whole pipeline on its own (added tokens, normalizer, pre-tokenizer, WordPiece), its tokens carry its
    /// index in `wordIDs` and offsets into the word itself (tokenizers' `PreTokenizedString` keeps each word's
    /// own offsets); a word that yields no token (only whitespace or control characters) is simply absent.
    /// `window` keeps only those tokens (of the words' tokens, special tokens not counted) before the template
    /// adds [CLS]/[SEP] — how a long sentence is cut into overlapping windows.
    public func encode(words: [String], window: Range<Int>? = nil, addSpecialTokens: Bool = true) -> Encoding {
        var workspace = Workspace()
        var all = SequenceTokens()
        all.wordIDs = []
        for (index, word) in words.enumerated() {
            let pieces = sequenceTokens(word, workspace: &workspace)
            all.ids += pieces.ids
            all.tokens += pieces.tokens
            all.offsets += pieces.offsets
            all.wordIDs! += [Int](repeating: index, count: pieces.count)
        }
        if let window {
            let range = window.clamped(to: 0..<all.count)
            all = SequenceTokens(ids: Array(all.ids[range]), tokens: Array(all.tokens[range]), offsets: Array(all.offsets[range]),
                                 wordIDs: Array(all.wordIDs![range]))
        }
        return postProcessor.apply(all, nil, addSpecialTokens: addSpecialTokens)
    }

    /// A pair whose second text is too long, as `tokenizer(first, second, truncation="only_second", max_length=…,
    /// stride=…, return_overflowing_tokens=True)` returns it (question answering): the second text's tokens cut into
    /// windows of the room left beside the first, each starting `room - stride` after the previous one (so neighbours
    /// share `stride` tokens; tokenizers' `Encoding::truncate`), until a window reaches the end; every window gets the
    /// whole first text and the template's special tokens. A pair that fits is one encoding.
    public func encodeWindows(_ first: String, _ second: String, maxLength: Int, stride: Int) throws(TokenizerError) -> [Encoding] {
        var workspace = Workspace()
        let a = sequenceTokens(first, workspace: &workspace), b = sequenceTokens(second, workspace: &workspace)
        let added = postProcessor.addedTokens(pair: true)
        // tokenizers subtracts the special tokens in unsigned arithmetic (a max_length below them truncates nothing) and
        // empties both texts at exactly their count: neither is a window anyone wants.
        guard maxLength > added else {
            throw .invalidOptions("max_length \(maxLength) leaves no room for the texts beside \(added) special tokens")
        }
        let total = a.count + b.count + added
        guard total > maxLength else { return [postProcessor.apply(a, b, addSpecialTokens: true)] }
        let toRemove = total - maxLength
        guard b.count > toRemove else { throw .sequenceTooShort }
        let room = b.count - toRemove
        guard stride < room else {
            throw .invalidOptions("the stride (\(stride)) must be smaller than the room for the second text in each window "
                                  + "(\(room) tokens = max_length \(maxLength) - \(a.count) of the first text - "
                                  + "\(postProcessor.addedTokens(pair: true)) special tokens)")
        }
        var windows: [Encoding] = []
        var start = 0
        while true {
            let stop = min(start + room, b.count)
            let part = SequenceTokens(ids: Array(b.ids[start..<stop]), tokens: Array(b.tokens[start..<stop]), offsets: Array(b.offsets[start..<stop]))
            windows.append(postProcessor.apply(a, part, addSpecialTokens: true))
            if stop == b.count { break }
            start += room - stride
        }
        return windows
    }

    /// How many tokens the template adds around one sequence ([CLS] and [SEP]: 2).
    public var specialTokensForOneSequence: Int { postProcessor.addedTokens(pair: false) }

    /// The tokens of a text without special tokens (`tokenizer.tokenize`).
    public func tokenize(_ text: String) -> [String] {
        var workspace = Workspace()
        return sequenceTokens(text, workspace: &workspace).tokens
    }

    /// The words the pre-tokenizer makes of an (already normalized) text, with scalar offsets, as
    /// `BertPreTokenizer().pre_tokenize_str(text)`.
    public static func preTokenize(_ text: String) -> [(word: String, start: Int, end: Int)] {
        BertPreTokenizer.split(text)
    }

    /// Pads encodings to a common length (`.longest`: the longest of them), on `padding.side`.
    public func pad(_ encodings: inout [Encoding], _ padding: Padding) throws(TokenizerError) {
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
        var out = SequenceTokens()
        out.ids.reserveCapacity(w.input.count / 3 + 4)
        out.tokens.reserveCapacity(w.input.count / 3 + 4)
        out.offsets.reserveCapacity(w.input.count / 3 + 4)
        let input = w.input
        input.withUnsafeBufferPointer { input in
            let all = 0..<input.count
            guard !rawMatcher.isEmpty && rawMatcher.mayMatch(input, all) else {
                normalizeAndTokenize(input, all, &w, into: &out)
                return
            }
            for split in rawMatcher.splits(input, all) {
                if let token = split.token {
                    // The token's value is the matched text (with any lstrip/rstrip spaces).
                    let value = String(decoding: split.range.map { input[$0] }, as: UTF32.self)
                    out.append(token.id, value, TokenOffset(split.range.lowerBound, split.range.upperBound))
                } else {
                    normalizeAndTokenize(input, split.range, &w, into: &out)
                }
            }
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
        let scalars = w.normalized.scalarView, origins = w.normalized.originView
        let all = 0..<scalars.count
        guard !normalizedMatcher.isEmpty && normalizedMatcher.mayMatch(scalars, all) else {
            preTokenizeAndModel(scalars, origins, all, &w, into: &out)
            return
        }
        for split in normalizedMatcher.splits(scalars, all) {
            if let token = split.token {
                // The value is the matched normalized text (with any lstrip/rstrip spaces).
                let value = String(decoding: split.range.map { scalars[$0] }, as: UTF32.self)
                out.append(token.id, value, Self.offset(origins, split.range))
            } else {
                preTokenizeAndModel(scalars, origins, split.range, &w, into: &out)
            }
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
    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

extension SequenceTokens {
    @inline(__always)
    mutating func append(_ id: Int32, _ token: String, _ offset: TokenOffset) {
        ids.append(id)
        tokens.append(token)
        offsets.append(offset)
    }
}

