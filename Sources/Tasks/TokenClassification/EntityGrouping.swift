// Token-classification predictions turned into entities exactly as transformers' token-classification pipeline does
// (transformers v5.24.0, pipelines/token_classification.py: gather_pre_entities, aggregate, aggregate_words,
// group_entities): per-token softmax scores, a word's pieces found by comparing each token's length with the text it
// covers (a WordPiece `##ed` is longer than `ed`) or, for a byte-level BPE without a subword prefix, by the pipeline's
// fallback (no space at or before the token), [UNK] shown as the original text, words aggregated by their first
// piece / the average of their pieces' scores / the most confident piece, then neighbouring items of one type grouped
// (a B- tag always starts a new group), O and other ignored labels dropped at the end.

import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

package enum AggregationStrategy: String, CaseIterable, Sendable {
    /// One item per token, with its full label (`B-PER`).
    case none
    /// Tokens grouped by type as they are, pieces included.
    case simple
    /// Words labelled by their first piece, then grouped.
    case first
    /// Words labelled by the mean of their pieces' probabilities, then grouped.
    case average
    /// Words labelled by their most confident piece, then grouped.
    case max
}

/// One item of the pipeline's output: with `none` a token (`entity`, `index`), otherwise a group (`entityGroup`).
package struct TaggedEntity: Sendable, Equatable {
    package var entity: String?
    package var entityGroup: String?
    package var score: Float
    /// The token's position in the encoding ([CLS] is 0); `none` only.
    package var index: Int?
    package var word: String
    /// Unicode scalar offsets into the text (Python `str` indices).
    package var start: Int
    package var end: Int

    /// The label this item is filtered and shown by.
    package var label: String { entityGroup ?? entity ?? "" }
}

package enum EntityGrouping {
    /// One token of the text as the pipeline sees it before aggregation.
    struct PreEntity {
        var word: String
        var scores: [Float]
        var start: Int, end: Int
        var index: Int
        var isSubword: Bool
    }

    /// The pipeline's softmax (float32, shifted by the row's maximum).
    package static func softmax(_ logits: ArraySlice<Float>) -> [Float] {
        let top = logits.max() ?? 0
        let e = logits.map { expf($0 - top) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    /// Entities of one text from its encoding and each token's label probabilities (`scores[t]`, every position of
    /// the encoding; special tokens are skipped).
    package static func entities(text: String, encoding: Encoding, scores: [[Float]], labels: [String], tokenizer: any TextTokenizer,
                                strategy: AggregationStrategy, ignoreLabels: Set<String> = ["O"]) -> [TaggedEntity] {
        let scalars = Array(text.unicodeScalars)
        let unknownID = tokenizer.unknownTokenID
        var pre: [PreEntity] = []
        for t in 0..<encoding.count where encoding.specialTokensMask[t] == 0 && encoding.attentionMask[t] != 0 {
            let offset = encoding.offsets[t]
            let start = min(offset.start, scalars.count), end = min(max(offset.end, start), scalars.count)
            var reference = String.UnicodeScalarView()
            reference.append(contentsOf: scalars[start..<end])
            var word = tokenizer.token(of: encoding.ids[t]) ?? encoding.tokens[t]
            // A word-aware tokenizer's piece is longer than its text (`##ed`); otherwise the pipeline's fallback: a
            // token is a subword when neither it nor the character before it is a space.
            var isSubword = tokenizer.marksSubwords
                ? word.unicodeScalars.count != end - start
                : start > 0 && !scalars[(start - 1)..<min(start + 1, scalars.count)].contains(" ")
            if encoding.ids[t] == unknownID {
                word = String(reference)
                isSubword = false
            }
            pre.append(PreEntity(word: word, scores: scores[t], start: start, end: end, index: t, isSubword: isSubword))
        }
        var items: [TaggedEntity]
        switch strategy {
        case .none, .simple:
            items = pre.map { p in
                let best = argmax(p.scores)
                return TaggedEntity(entity: labels[best], score: p.scores[best], index: p.index, word: p.word, start: p.start, end: p.end)
            }
        case .first, .average, .max:
            items = words(pre).map { aggregateWord($0, strategy: strategy, labels: labels, tokenizer: tokenizer) }
        }
        if strategy != .none { items = group(items, tokenizer: tokenizer) }
        return items.filter { !ignoreLabels.contains($0.label) }
    }

    /// `aggregate_words`: a token that is a subword joins the word before it.
    static func words(_ pre: [PreEntity]) -> [[PreEntity]] {
        var result: [[PreEntity]] = []
        for p in pre {
            if p.isSubword && !result.isEmpty { result[result.count - 1].append(p) } else { result.append([p]) }
        }
        return result
    }

    static func aggregateWord(_ pieces: [PreEntity], strategy: AggregationStrategy, labels: [String], tokenizer: any TextTokenizer) -> TaggedEntity {
        let word = decode(pieces.map(\.word), tokenizer)
        let scores: [Float]
        switch strategy {
        case .max:
            // Python's max(): the first piece with the highest top probability.
            var best = pieces[0]
            for p in pieces.dropFirst() where p.scores.max()! > best.scores.max()! { best = p }
            scores = best.scores
        case .average:
            scores = (0..<pieces[0].scores.count).map { k in pieces.reduce(Float(0)) { $0 + $1.scores[k] } / Float(pieces.count) }
        default:
            scores = pieces[0].scores
        }
        let best = argmax(scores)
        return TaggedEntity(entity: labels[best], score: scores[best], word: word, start: pieces[0].start, end: pieces.last!.end)
    }

    /// `get_tag`: B-/I- and the type; a label without either prefix continues like I-.
    static func tag(_ label: String) -> (bi: Character, type: Substring) {
        if label.hasPrefix("B-") { return ("B", label.dropFirst(2)) }
        if label.hasPrefix("I-") { return ("I", label.dropFirst(2)) }
        return ("I", label[...])
    }

    /// `group_entities`: an item joins the current group when it has the group's type and is not B-.
    static func group(_ items: [TaggedEntity], tokenizer: any TextTokenizer) -> [TaggedEntity] {
        var groups: [TaggedEntity] = []
        var current: [TaggedEntity] = []
        func flush() {
            guard let first = current.first else { return }
            let name = first.entity!
            let type = name.firstIndex(of: "-").map { String(name[name.index(after: $0)...]) } ?? name
            let score = current.reduce(Float(0)) { $0 + $1.score } / Float(current.count)
            groups.append(TaggedEntity(entityGroup: type, score: score, word: decode(current.map(\.word), tokenizer),
                                       start: first.start, end: current.last!.end))
        }
        for item in items {
            if let last = current.last {
                let (bi, type) = tag(item.entity!), (_, lastType) = tag(last.entity!)
                if type == lastType && bi != "B" { current.append(item); continue }
                flush()
            }
            current = [item]
        }
        flush()
        return groups
    }

    /// `convert_tokens_to_string`: the tokenizer's decoder (spaces joined without it).
    static func decode(_ tokens: [String], _ tokenizer: any TextTokenizer) -> String {
        tokenizer.convertTokensToString(tokens)
    }

    static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }
}
