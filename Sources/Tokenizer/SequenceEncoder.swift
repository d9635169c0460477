// What every tokenizer does after tokenizing one text its own way (tokenizers/src/tokenizer/mod.rs,
// `encode_single_sequence` then `post_process`): truncation, the post-processor's template, padding — and encoding a
// batch on several threads with one reusable workspace per thread. BertTokenizer and ByteLevelBPETokenizer supply
// `sequenceTokens` (normalizer, pre-tokenizer and model over one text) and get `encode` / `encodeBatch` from here.

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

    /// The id of a token (added tokens first, then the vocabulary), as `token_to_id`.
    public func id(of token: String) -> Int32? {
        addedTokens.first(where: { $0.content.utf8.elementsEqual(token.utf8) })?.id ?? vocabulary.id(of: token)
    }

    /// The token of an id (added tokens first, in the form decoding uses), as `id_to_token`.
    public func token(of id: Int32) -> String? {
        if let added = addedByID[id] { return added }
        let table = vocabulary.idToToken
        return id >= 0 && Int(id) < table.count ? table[Int(id)] : nil
    }

    /// Vocabulary size including added tokens (`len(tokenizer)`).
    public var count: Int {
        vocabulary.count + addedTokens.filter { vocabulary.id(of: $0.content) == nil }.count
    }

    /// Ids back to text, as `tokenizer.decode(ids, skip_special_tokens=…)`: unknown ids are dropped, special tokens
    /// optionally skipped, and the tokenizer's decoder joins the rest.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        let tokens = ids.compactMap { id -> String? in
            guard let token = token(of: id) else { return nil }
            return skipSpecialTokens && specialContents.contains(Array(token.utf8)) ? nil : token
        }
        return decodeTokens(tokens) ?? tokens.joined(separator: " ")
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
}
extension ByteLevelBPETokenizer: SequenceEncoder {
    var vocabulary: Vocabulary { model.vocabulary }
    func decodeTokens(_ tokens: [String]) -> String? { decoder?.decode(tokens) }
}
