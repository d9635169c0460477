// Byte-level BPE tokenizers (RoBERTa, GPT-2), identical to tokenizers 0.23.3 running
// added tokens → ByteLevel pre-tokenizer → BPE → truncation → offset trimming + template → padding
// (tokenizers/src/tokenizer/mod.rs, `encode_single_sequence` and `post_process`). There is no normalizer.
// Works on Unicode scalars; offsets are scalar indices into the input, as Python `str` indices are: a
// token holding some bytes of a character covers that whole character, as in the reference.

import Dispatch

/// The ByteLevel pre-tokenizer's settings (its `trim_offsets` belongs to the post-processor).
package struct ByteLevelPreTokenizer: Sendable, Equatable {
    /// Put a space before each piece of text (between added tokens) that does not start with one.
    package var addPrefixSpace: Bool
    /// Split with the GPT-2 pattern (false: each piece is one word).
    package var useRegex: Bool
    /// The split comes first and the prefix space goes before each word: tokenizer.json's
    /// Sequence[Split(GPT-2 pattern), ByteLevel(use_regex: false)] (`useRegex` is then true).
    package var splitBeforePrefix: Bool
    package init(addPrefixSpace: Bool = false, useRegex: Bool = true, splitBeforePrefix: Bool = false) {
        self.addPrefixSpace = addPrefixSpace
        self.useRegex = useRegex || splitBeforePrefix
        self.splitBeforePrefix = splitBeforePrefix
    }
}

/// `trim_offsets` of the ByteLevel / RobertaProcessing post-processors, with their `add_prefix_space`.
package struct OffsetTrimming: Sendable, Equatable {
    package var addPrefixSpace: Bool
    package init(addPrefixSpace: Bool) { self.addPrefixSpace = addPrefixSpace }
}

/// The ByteLevel decoder.
package struct ByteLevelDecoder: Sendable, Equatable {
    package init() {}
    package func decode(_ tokens: [String]) -> String { ByteLevel.decode(tokens) }
}

package struct ByteLevelBPETokenizer: Sendable {
    package let model: BPEModel
    package let addedTokens: [AddedToken]
    package private(set) var preTokenizer: ByteLevelPreTokenizer
    package let postProcessor: PostProcessorTemplate
    /// `nil`: offsets are left as the model made them (TemplateProcessing alone, or trim_offsets false).
    package private(set) var offsetTrimming: OffsetTrimming?
    /// `nil`: tokens are joined with spaces.
    package let decoder: ByteLevelDecoder?
    /// The padding token (`nil` when the tokenizer has none; padding is then refused).
    package let padToken: String?
    package let padTypeID: Int32
    /// `model_max_length` of tokenizer_config.json, when it states a real one.
    package let modelMaxLength: Int?

    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let addedByID: [Int32: String]
    let specialContents: Set<[UInt8]>
    let padID: Int32?
    let classes = ByteLevelClasses.shared

    package init(model: BPEModel, addedTokens: [AddedToken] = [], preTokenizer: ByteLevelPreTokenizer = ByteLevelPreTokenizer(),
                postProcessor: PostProcessorTemplate = .none, offsetTrimming: OffsetTrimming? = nil,
                decoder: ByteLevelDecoder? = ByteLevelDecoder(), padToken: String? = "<pad>", padTypeID: Int32 = 0,
                modelMaxLength: Int? = nil) {
        self.model = model
        self.addedTokens = addedTokens
        self.preTokenizer = preTokenizer
        self.postProcessor = postProcessor
        self.offsetTrimming = offsetTrimming
        self.decoder = decoder
        self.padTypeID = padTypeID
        self.modelMaxLength = modelMaxLength
        // Without a normalizer both kinds match the raw text; non-normalized ones first, as in the reference.
        rawMatcher = AddedTokenMatcher(addedTokens.filter { !$0.normalized }.map {
            .init(scalars: $0.content.unicodeScalars.map(\.value), token: $0)
        })
        normalizedMatcher = AddedTokenMatcher(addedTokens.filter(\.normalized).map {
            .init(scalars: $0.content.unicodeScalars.map(\.value), token: $0)
        })
        var byID: [Int32: String] = [:]
        for token in addedTokens { byID[token.id] = token.content }
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

    /// How many tokens the post-processor adds around one sequence (RoBERTa: 2).
    package var specialTokensForOneSequence: Int { postProcessor.addedTokens(pair: false) }

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

    /// The tokens of a text without special tokens (`tokenizer.tokenize`).
    package func tokenize(_ text: String) -> [String] {
        var workspace = Workspace()
        return sequenceTokens(text, workspace: &workspace).tokens
    }

    /// The words the pre-tokenizer makes of a text, as byte-level strings with scalar offsets, as
    /// `ByteLevel(add_prefix_space, use_regex=True).pre_tokenize_str(text)` (no added tokens).
    package static func preTokenize(_ text: String, addPrefixSpace: Bool = false) -> [(word: String, start: Int, end: Int)] {
        var scalars = text.unicodeScalars.map(\.value)
        var origins = Array(0..<scalars.count)
        if addPrefixSpace, let first = scalars.first, first != 0x20 {
            scalars.insert(0x20, at: 0)
            origins.insert(0, at: 0)
        }
        var words: [(String, Int, Int)] = []
        scalars.withUnsafeBufferPointer { buffer in
            GPT2Split.forEachPiece(buffer, 0..<buffer.count, classes: .shared) { piece in
                let word = ByteLevel.encode(String(decoding: buffer[piece], as: UTF32.self))
                words.append((word, origins[piece.lowerBound], origins[piece.upperBound - 1] + 1))
            }
        }
        return words
    }

    /// Pads encodings to a common length (`.longest`: the longest of them), on `padding.side`.
    package func pad(_ encodings: inout [Encoding], _ padding: Padding) throws(TokenizerError) {
        try padSequences(&encodings, padding)
    }

    /// This tokenizer as `from_pretrained(…, add_prefix_space=True)` makes it: the pre-tokenizer and the offset trimming
    /// both told that a space was put before the text.
    package var withPrefixSpace: ByteLevelBPETokenizer {
        var spaced = self
        spaced.preTokenizer.addPrefixSpace = true
        if spaced.offsetTrimming != nil { spaced.offsetTrimming = OffsetTrimming(addPrefixSpace: true) }
        return spaced
    }

    /// RoBERTa's `trim_offsets`: offsets lose the spaces the byte-level pre-tokenizer kept in tokens.
    func finish(_ tokens: inout SequenceTokens) {
        if let trimming = offsetTrimming { ByteLevel.trimOffsets(&tokens, addPrefixSpace: trimming.addPrefixSpace) }
    }

    func makeWorkspace() -> Workspace { Workspace() }

    // MARK: Tokenization of one text

    struct Workspace {
        var input: [UInt32] = []
        var piece: [UInt32] = []        // one text piece between added tokens, with its prefix space
        var pieceOrigin: [Int32] = []   // input index of each scalar of `piece`
        var bytes: [UInt8] = []         // one word's UTF-8
        var byteOrigin: [Int32] = []    // input index of each byte of `bytes`
        var bpe = BPEModel.Workspace()
        var pieces: [BPEModel.Piece] = []
    }

    func sequenceTokens(_ text: String, workspace w: inout Workspace) -> SequenceTokens {
        w.input.removeAll(keepingCapacity: true)
        for scalar in text.unicodeScalars { w.input.append(scalar.value) }
        var out = SequenceTokens.numberingWords(capacity: w.input.count / 3 + 4)
        let input = w.input
        // Without a normalizer both kinds of added token match the raw text, the non-normalized ones first.
        input.withUnsafeBufferPointer { input in
            rawMatcher.split(input, 0..<input.count, into: &out) { range, out in
                normalizedMatcher.split(input, range, into: &out) { range, out in preTokenizeAndModel(input, range, &w, into: &out) }
            }
        }
        return out
    }

    /// ByteLevel: the optional prefix space (standing at the piece's first scalar), the GPT-2 split, then
    /// BPE on each word's bytes; or, after a Split, the split first and a prefix space before each word.
    private func preTokenizeAndModel(_ input: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, _ w: inout Workspace,
                                     into out: inout SequenceTokens) {
        guard !range.isEmpty else { return }
        guard !preTokenizer.splitBeforePrefix else {
            GPT2Split.forEachPiece(input, range, classes: classes) { word in
                prefixAndModel(input, word, &w, into: &out)
            }
            return
        }
        prefixAndModel(input, range, &w, into: &out)
    }

    private func prefixAndModel(_ input: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, _ w: inout Workspace,
                                into out: inout SequenceTokens) {
        w.piece.removeAll(keepingCapacity: true)
        w.pieceOrigin.removeAll(keepingCapacity: true)
        if preTokenizer.addPrefixSpace && input[range.lowerBound] != 0x20 {
            w.piece.append(0x20)
            w.pieceOrigin.append(Int32(range.lowerBound))
        }
        for i in range {
            w.piece.append(input[i])
            w.pieceOrigin.append(Int32(i))
        }
        let piece = w.piece
        piece.withUnsafeBufferPointer { piece in
            if preTokenizer.useRegex && !preTokenizer.splitBeforePrefix {
                GPT2Split.forEachPiece(piece, 0..<piece.count, classes: classes) { word in
                    modelWord(piece, word, &w, into: &out)
                }
            } else {
                modelWord(piece, 0..<piece.count, &w, into: &out)
            }
        }
    }

    private func modelWord(_ piece: UnsafeBufferPointer<UInt32>, _ word: Range<Int>, _ w: inout Workspace,
                           into out: inout SequenceTokens) {
        w.bytes.removeAll(keepingCapacity: true)
        w.byteOrigin.removeAll(keepingCapacity: true)
        for k in word {
            let origin = w.pieceOrigin[k]
            let before = w.bytes.count
            appendUTF8(piece[k], to: &w.bytes)
            for _ in before..<w.bytes.count { w.byteOrigin.append(origin) }
        }
        w.pieces.removeAll(keepingCapacity: true)
        model.tokenize(w.bytes[...], workspace: &w.bpe, into: &w.pieces)
        out.startWord()
        let idToToken = model.vocabulary.idToToken
        for p in w.pieces {
            let token = Int(p.id) < idToToken.count ? idToToken[Int(p.id)] ?? "" : ""
            out.append(p.id, token, TokenOffset(Int(w.byteOrigin[Int(p.start)]), Int(w.byteOrigin[Int(p.end) - 1]) + 1))
        }
    }
}

@inline(__always)
func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
    switch scalar {
    case 0..<0x80:
        bytes.append(UInt8(scalar))
    case 0x80..<0x800:
        bytes.append(UInt8(0xC0 | scalar >> 6))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    case 0x800..<0x10000:
        bytes.append(UInt8(0xE0 | scalar >> 12))
        bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    default:
        bytes.append(UInt8(0xF0 | scalar >> 18))
        bytes.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        bytes.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | scalar & 0x3F))
    }
}
