// What every tokenizer does after tokenizing one text its own way (tokenizers/src/tokenizer/mod.rs,
// `encode_single_sequence` then `post_process`): truncation, the post-processor's template, padding — and encoding a
// batch on several threads with one reusable workspace per thread. BertTokenizer and ByteLevelBPETokenizer supply
// `sequenceTokens` (normalizer, pre-tokenizer and model over one text) and get `encode` / `encodeBatch`, pre-split words
// and overflowing question-answering windows from here.

import Dispatch

protocol SequenceEncoder: Sendable {
    associatedtype Workspace
    func makeWorkspace() -> Workspace
    /// One text's tokens before truncation and the template.
    func sequenceTokens(_ text: String, workspace: inout Workspace) -> SequenceTokens
    /// A step on the truncated tokens before the template (RoBERTa's offset trimming); nothing by default.
    func finish(_ tokens: inout SequenceTokens)
    var postProcessor: PostProcessorTemplate { get }
    var padID: Int32? { get }
    var padToken: String? { get }
    var padTypeID: Int32 { get }
    // The vocabulary: the model's, with added tokens over it.
    var vocabulary: Vocabulary { get }
    var addedTokens: [AddedToken] { get }
    /// Added tokens by id, in the form decoding shows them.
    var addedByID: [Int32: String] { get }
    var specialContents: Set<[UInt8]> { get }
    /// Joins tokens back into text (WordPiece's `##`, byte-level's bytes); nil: with spaces.
    func decodeTokens(_ tokens: [String]) -> String?
}

extension SequenceEncoder {
    func finish(_ tokens: inout SequenceTokens) {}

    /// The first special token of the one-sequence template (`cls_token_id`).
    package var classifierTokenID: Int32? {
        for case .special(let name, _) in postProcessor.single { return postProcessor.specialTokens[name]?.ids.first }
        return nil
    }

    /// `convert_tokens_to_string`: the tokenizer's decoder, or the tokens joined with spaces.
    package func convertTokensToString(_ tokens: [String]) -> String {
        decodeTokens(tokens) ?? tokens.joined(separator: " ")
    }

    /// The id of a token (added tokens first, then the vocabulary), as `token_to_id`.
    package func id(of token: String) -> Int32? {
        addedTokens.first(where: { $0.content.utf8.elementsEqual(token.utf8) })?.id ?? vocabulary.id(of: token)
    }

    /// The token of an id (added tokens first, in the form decoding uses), as `id_to_token`.
    package func token(of id: Int32) -> String? {
        if let added = addedByID[id] { return added }
        let table = vocabulary.idToToken
        return id >= 0 && Int(id) < table.count ? table[Int(id)] : nil
    }

    /// Vocabulary size including added tokens (`len(tokenizer)`).
    package var count: Int {
        vocabulary.count + addedTokens.filter { vocabulary.id(of: $0.content) == nil }.count
    }

    /// Ids back to text, as `tokenizer.decode(ids, skip_special_tokens=…)`: unknown ids are dropped, special tokens
    /// optionally skipped, and the tokenizer's decoder joins the rest.
    package func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        let tokens = ids.compactMap { id -> String? in
            guard let token = token(of: id) else { return nil }
            return skipSpecialTokens && specialContents.contains(Array(token.utf8)) ? nil : token
        }
        return convertTokensToString(tokens)
    }

    /// One text, or a pair, as `tokenizer(text, pair, …)` encodes it, padding included.
    func encodeSequence(_ text: String, pair: String?, options: EncodeOptions) throws(TokenizerError) -> Encoding {
        var workspace = makeWorkspace()
        var single = [try encode(text, pair: pair, options: options, workspace: &workspace)]
        if let padding = options.padding { try padSequences(&single, padding) }
        return single[0]
    }

    /// Many texts (or pairs) on `threads` threads, 64 at a time; padding `.longest` pads to the batch's longest.
    /// A failure reports the lowest failing input, so the message does not depend on scheduling.
    func encodeSequences(_ texts: [String], pairs: [String]?, options: EncodeOptions,
                         threads: Int?) throws(TokenizerError) -> [Encoding] {
        if let pairs, pairs.count != texts.count {
            throw .invalidOptions("\(texts.count) texts but \(pairs.count) pairs")
        }
        var results = [Encoding](repeating: Encoding(), count: texts.count)
        let chunk = 64
        let workers = max(1, min(threads ?? BertTokenizer.processorCount, (texts.count + chunk - 1) / chunk))
        var failure: TokenizerError? = nil
        if workers == 1 {
            var workspace = makeWorkspace()
            for i in texts.indices {
                results[i] = try encode(texts[i], pair: pairs?[i], options: options, workspace: &workspace)
            }
        } else {
            let chunks = (texts.count + chunk - 1) / chunk
            // Each worker writes only its own results and its own error slot.
            var errors = [(index: Int, error: TokenizerError)?](repeating: nil, count: workers)
            results.withUnsafeMutableBufferPointer { out in
                errors.withUnsafeMutableBufferPointer { errorSlots in
                    nonisolated(unsafe) let out = out, errorSlots = errorSlots
                    DispatchQueue.concurrentPerform(iterations: workers) { worker in
                        var workspace = makeWorkspace()
                        var c = worker
                        while c < chunks {
                            for i in (c * chunk)..<min(texts.count, (c + 1) * chunk) {
                                do throws(TokenizerError) {
                                    out[i] = try encode(texts[i], pair: pairs?[i], options: options, workspace: &workspace)
                                } catch {
                                    errorSlots[worker] = (i, error)
                                    return
                                }
                            }
                            c += workers
                        }
                    }
                }
            }
            failure = errors.compactMap { $0 }.min { $0.index < $1.index }?.error
        }
        if let failure { throw failure }
        if let padding = options.padding { try padSequences(&results, padding) }
        return results
    }

    /// Pads encodings to a common length (`.longest`: the longest of them), on `padding.side`.
    func padSequences(_ encodings: inout [Encoding], _ padding: Padding) throws(TokenizerError) {
        guard let padID, let padToken else { throw .invalidOptions("padding needs a pad token, and this tokenizer has none") }
        Padder.pad(&encodings, padding, padID: padID, padToken: padToken, padTypeID: padTypeID)
    }

    /// Pre-tokenised words as `tokenizer(words, is_split_into_words=True)` encodes them: each word runs through the
    /// whole pipeline on its own (added tokens, normalizer, pre-tokenizer, model), its tokens carry its index in
    /// `wordIDs` and offsets into the word itself (tokenizers' `PreTokenizedString` keeps each word's own offsets); a
    /// word that yields no token (an empty word; for WordPiece also one of whitespace or control characters only) is
    /// simply absent. `window` keeps only those
    /// tokens (of the words' tokens, special tokens not counted) before the finishing step and the template add theirs —
    /// how a long sentence is cut into overlapping windows.
    func encodeWords(_ words: [String], window: Range<Int>?, addSpecialTokens: Bool) -> Encoding {
        var workspace = makeWorkspace()
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
        finish(&all)
        return postProcessor.apply(all, nil, addSpecialTokens: addSpecialTokens)
    }

    /// A pair whose second text is too long, as `tokenizer(first, second, truncation="only_second", max_length=…,
    /// stride=…, return_overflowing_tokens=True)` returns it (question answering): the second text's tokens cut into
    /// windows of the room left beside the first, each starting `room - stride` after the previous one (so neighbours
    /// share `stride` tokens; tokenizers' `Encoding::truncate`), until a window reaches the end; every window gets the
    /// whole first text, the finishing step (run on each overflowing part, as the post-processor does) and the
    /// template's special tokens. A pair that fits is one encoding.
    func encodeWindowPairs(_ first: String, _ second: String, maxLength: Int, stride: Int) throws(TokenizerError) -> [Encoding] {
        var workspace = makeWorkspace()
        var a = sequenceTokens(first, workspace: &workspace)
        var b = sequenceTokens(second, workspace: &workspace)
        let added = postProcessor.addedTokens(pair: true)
        // tokenizers subtracts the special tokens in unsigned arithmetic (a max_length below them truncates nothing) and
        // empties both texts at exactly their count: neither is a window anyone wants.
        guard maxLength > added else {
            throw .invalidOptions("max_length \(maxLength) leaves no room for the texts beside \(added) special tokens")
        }
        let total = a.count + b.count + added
        finish(&a)
        guard total > maxLength else {
            finish(&b)
            return [postProcessor.apply(a, b, addSpecialTokens: true)]
        }
        let toRemove = total - maxLength
        guard b.count > toRemove else { throw .sequenceTooShort }
        let room = b.count - toRemove
        guard stride >= 0 else { throw .invalidOptions("the stride (\(stride)) must not be negative") }
        guard stride < room else {
            throw .invalidOptions("the stride (\(stride)) must be smaller than the room for the second text in each window "
                                  + "(\(room) tokens = max_length \(maxLength) - \(a.count) of the first text - "
                                  + "\(added) special tokens)")
        }
        var windows: [Encoding] = []
        var start = 0
        while true {
            let stop = min(start + room, b.count)
            var part = SequenceTokens(ids: Array(b.ids[start..<stop]), tokens: Array(b.tokens[start..<stop]),
                                      offsets: Array(b.offsets[start..<stop]), wordIDs: b.wordIDs.map { Array($0[start..<stop]) })
            finish(&part)
            windows.append(postProcessor.apply(a, part, addSpecialTokens: true))
            if stop == b.count { break }
            start += room - stride
        }
        return windows
    }

    /// Tokens, truncation (the special tokens' room kept), the tokenizer's finishing step, the template.
    func encode(_ text: String, pair: String?, options: EncodeOptions,
                workspace: inout Workspace) throws(TokenizerError) -> Encoding {
        var first = sequenceTokens(text, workspace: &workspace)
        var second = pair.map { sequenceTokens($0, workspace: &workspace) }
        if let truncation = options.truncation {
            let added = options.addSpecialTokens ? postProcessor.addedTokens(pair: second != nil) : 0
            // The reference subtracts in unsigned arithmetic: a max_length below the number of special
            // tokens wraps around to a huge limit, i.e. no truncation at all.
            if truncation.maxLength >= added {
                try Truncator.truncate(&first, &second, maxLength: truncation.maxLength - added,
                                       strategy: truncation.strategy, direction: truncation.direction)
            }
        }
        finish(&first)
        if second != nil { finish(&second!) }
        return postProcessor.apply(first, second, addSpecialTokens: options.addSpecialTokens)
    }
}

extension BertTokenizer: SequenceEncoder {
    var vocabulary: Vocabulary { model.vocabulary }
    func decodeTokens(_ tokens: [String]) -> String? { decoder?.decode(tokens) }

    package func encode(words: [String], window: Range<Int>? = nil, addSpecialTokens: Bool = true) -> Encoding {
        encodeWords(words, window: window, addSpecialTokens: addSpecialTokens)
    }

    package func encodeWindows(_ first: String, _ second: String, maxLength: Int, stride: Int) throws(TokenizerError) -> [Encoding] {
        try encodeWindowPairs(first, second, maxLength: maxLength, stride: stride)
    }
}
extension ByteLevelBPETokenizer: SequenceEncoder {
    var vocabulary: Vocabulary { model.vocabulary }
    func decodeTokens(_ tokens: [String]) -> String? { decoder?.decode(tokens) }

    /// Words as transformers' run_ner.py encodes them for a byte-level BPE model: with the tokenizer loaded
    /// `add_prefix_space=True` (run_ner.py does so for roberta, gpt2, bloom and deberta, and RobertaTokenizer's docs
    /// require it with `is_split_into_words`), so every word is tokenized as it would be after a space.
    package func encode(words: [String], window: Range<Int>? = nil, addSpecialTokens: Bool = true) -> Encoding {
        withPrefixSpace.encodeWords(words, window: window, addSpecialTokens: addSpecialTokens)
    }

    package func encodeWindows(_ first: String, _ second: String, maxLength: Int, stride: Int) throws(TokenizerError) -> [Encoding] {
        try encodeWindowPairs(first, second, maxLength: maxLength, stride: stride)
    }
}
