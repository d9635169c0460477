// Answers read off one question's windows as transformers' question-answering pipeline does (transformers v4.57.6,
// the last release with it: pipelines/question_answering.py, `select_starts_ends`, `decode_spans`, `get_indices`,
// `postprocess`): start and end logits outside the context set to -10000 (tokens with the [CLS] id kept), a float32
// softmax over each window, the null score p_start[CLS]·p_end[CLS] (the minimum over windows) taken before [CLS] is
// zeroed, every span start ≤ end shorter than `maxAnswerLength` scored p_start × p_end, the best 2·top_k + 10 of each
// window widened to whole words inside the window, then answers with the same text (case-insensitively) merged by
// adding their scores — the first occurrence keeps its position — the null answer added, the top k kept.
// Zero-score spans, which the pipeline returns in arbitrary order when a window has too few real ones, are dropped.

import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

package struct AnswerOptions: Sendable, Equatable {
    package var topK = 1
    /// In tokens (the pipeline's `max_answer_len`, default 15).
    package var maxAnswerLength = 15
    /// Window length; nil: min(the tokenizer's limit, 384).
    package var maxLength: Int? = nil
    /// Tokens shared by neighbouring windows; nil: min(max length / 2, 128).
    package var docStride: Int? = nil
    /// Also offer the empty answer, scored by the null score.
    package var handleImpossibleAnswer = false
    /// Widen spans to whole words (the pipeline's `align_to_words`, default on).
    package var alignToWords = true
    package init() {}
}

package struct SpanAnswer: Sendable, Equatable {
    /// Summed over the occurrences of the same text (so it can exceed 1), as the pipeline reports it.
    package var score: Double
    /// Unicode scalar offsets into the context.
    package var start: Int
    package var end: Int
    package var answer: String
}

package enum AnswerSpans {
    /// A span of one window's tokens and its score p_start × p_end.
    struct Span {
        var start: Int
        var end: Int
        var score: Float
    }

    /// One window's spans, best first.
    static func spans(encoding: Encoding, starts: [Float], ends: [Float], clsID: Int32?, options: AnswerOptions,
                      minNull: inout Float) -> [Span] {
        let n = encoding.count
        var allowed = [Bool](repeating: false, count: n)
        for t in 0..<n { allowed[t] = (encoding.sequenceIDs[t] == 1 || encoding.ids[t] == clsID) && encoding.attentionMask[t] != 0 }
        var p = maskedSoftmax(starts, allowed), q = maskedSoftmax(ends, allowed)
        if options.handleImpossibleAnswer { minNull = min(minNull, p[0] * q[0]) }
        p[0] = 0
        q[0] = 0
        var cells: [Span] = []
        for s in 0..<n where p[s] > 0 && allowed[s] {
            for e in s..<min(n, s + options.maxAnswerLength) where q[e] > 0 && allowed[e] {
                cells.append(Span(start: s, end: e, score: p[s] * q[e]))
            }
        }
        let kept = options.alignToWords ? 2 * options.topK + 10 : options.topK
        let order = cells.indices.sorted { cells[$0].score != cells[$1].score ? cells[$0].score > cells[$1].score : $0 < $1 }
        return order.prefix(kept).map { cells[$0] }
    }

    /// The pipeline's softmax: positions not allowed at -10000 (so exp underflows to 0), float32.
    static func maskedSoftmax(_ logits: [Float], _ allowed: [Bool]) -> [Float] {
        var masked = [Float](repeating: -10000, count: logits.count)
        for t in logits.indices where allowed[t] { masked[t] = logits[t] }
        let top = masked.max() ?? 0
        var e = [Float](repeating: 0, count: masked.count)
        var total: Float = 0
        for t in masked.indices {
            e[t] = expf(masked[t] - top)
            total += e[t]
        }
        for t in e.indices { e[t] /= total }
        return e
    }

    /// The answers of one question over its windows (`starts[w]`/`ends[w]`: window w's logits).
    package static func answers(context: String, windows: [Encoding], starts: [[Float]], ends: [[Float]], clsID: Int32?,
                               options: AnswerOptions) -> [SpanAnswer] {
        let scalars = Array(context.unicodeScalars)
        var minNull: Float = 1_000_000
        var answers: [SpanAnswer] = []
        var lowered: [[Unicode.Scalar]] = []
        for (w, encoding) in windows.enumerated() {
            for span in spans(encoding: encoding, starts: starts[w], ends: ends[w], clsID: clsID, options: options, minNull: &minNull) {
                let s = span.start, e = span.end, score = span.score
                var (a, b) = (encoding.offsets[s].start, encoding.offsets[e].end)
                if options.alignToWords && encoding.sequenceIDs[s] == 1 && encoding.sequenceIDs[e] == 1 {
                    (a, b) = (wordStart(encoding, s), wordEnd(encoding, e))
                }
                let lower = min(a, scalars.count), upper = min(max(b, lower), scalars.count)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[lower..<upper])
                let text = String(view)
                // `get_answer`: the same text, compared with str.lower() (code point by code point), adds up.
                let key = Array(text.lowercased().unicodeScalars)
                if let i = lowered.firstIndex(of: key) {
                    answers[i].score += Double(score)
                } else {
                    answers.append(SpanAnswer(score: Double(score), start: a, end: b, answer: text))
                    lowered.append(key)
                }
            }
        }
        if options.handleImpossibleAnswer { answers.append(SpanAnswer(score: Double(minNull), start: 0, end: 0, answer: "")) }

        // sorted(..., reverse=True)[:top_k]: stable.
        let order = answers.indices.sorted { answers[$0].score != answers[$1].score ? answers[$0].score > answers[$1].score : $0 < $1 }
        return order.prefix(options.topK).map { answers[$0] }
    }
    /// `word_to_chars(token_to_word(t))`: the first and last token of t's word in t's sequence. An encoding without
    /// word ids (built by hand) falls back to WordPiece's marks: a word is its first token and the `##` pieces after it.
    static func wordStart(_ encoding: Encoding, _ t: Int) -> Int {
        var i = t
        while i > 0 && sameWord(encoding, i - 1, as: t, continuing: i) { i -= 1 }
        return encoding.offsets[i].start
    }

    static func wordEnd(_ encoding: Encoding, _ t: Int) -> Int {
        var i = t
        while i + 1 < encoding.count && sameWord(encoding, i + 1, as: t, continuing: i + 1) { i += 1 }
        return encoding.offsets[i].end
    }

    /// Whether token `other` is in token `t`'s word; `piece` (the later of the two neighbours) carries the `##` mark.
    private static func sameWord(_ encoding: Encoding, _ other: Int, as t: Int, continuing piece: Int) -> Bool {
        guard encoding.sequenceIDs[other] == encoding.sequenceIDs[t] else { return false }
        if encoding.wordIDs.count == encoding.count { return encoding.wordIDs[other] != nil && encoding.wordIDs[other] == encoding.wordIDs[t] }
        return encoding.tokens[piece].hasPrefix("##")
    }
}
