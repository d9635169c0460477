// Answers read off one question's windows as transformers' question-answering pipeline does (transformers v4.57.6,
// the last release with it: pipelines/question_answering.py, `select_starts_ends`, `decode_spans`, `get_indices`):
// start and end logits of the question and special tokens set to -10000 ([CLS] kept), a softmax over each window,
// the null score [CLS]·[CLS] (the minimum over windows) before [CLS] is zeroed, every span start ≤ end shorter than
// `maxAnswerLength` scored start probability × end probability, the `topK` best of each window kept when both ends are
// context tokens, and the span widened to whole words. float32 throughout, as numpy on the model's outputs.

import Tokenizer
#if canImport(Glibc)
import Glibc
#endif

public struct AnswerOptions: Sendable, Equatable {
    public var topK = 1
    /// In tokens (the pipeline's `max_answer_len`, default 15).
    public var maxAnswerLength = 15
    /// Window length; nil: min(the tokenizer's limit, 384).
    public var maxLength: Int? = nil
    /// Tokens shared by neighbouring windows; nil: min(max length / 2, 128).
    public var docStride: Int? = nil
    /// Also offer the empty answer, scored by the null score.
    public var handleImpossibleAnswer = false
    /// Widen spans to whole words (the pipeline's `align_to_words`, default on).
    public var alignToWords = true
    public init() {}
}

public struct SpanAnswer: Sendable, Equatable {
    public var score: Float
    /// Unicode scalar offsets into the context.
    public var start: Int
    public var end: Int
    public var answer: String
}

public enum AnswerSpans {
    /// One window's candidates. `starts`/`ends`: its logits; `encoding`: the window.
    static func candidates(encoding: Encoding, starts: [Float], ends: [Float], options: AnswerOptions, minNull: inout Float) -> [(Int, Int, Float)] {
        let n = encoding.count
        // p_mask: question and special tokens cannot be in the answer, [CLS] stays in the softmax.
        let cls = encoding.specialTokensMask.firstIndex(of: 1) ?? 0
        let allowed = (0..<n).map { encoding.sequenceIDs[$0] == 1 && encoding.attentionMask[$0] != 0 }
        func softmax(_ logits: [Float]) -> [Float] {
            let masked = (0..<n).map { allowed[$0] || $0 == cls ? logits[$0] : -10000 }
            let top = masked.max() ?? 0
            let e = masked.map { expf($0 - top) }
            let total = e.reduce(Float(0), +)
            return e.map { $0 / total }
        }
        var p = softmax(starts), q = softmax(ends)
        if options.handleImpossibleAnswer { minNull = min(minNull, p[0] * q[0]) }
        p[0] = 0; q[0] = 0
        // decode_spans: every (s, e) with s ≤ e < s + maxAnswerLength, the top k scores, then both ends must be context.
        var cells: [(Int, Int, Float)] = []
        cells.reserveCapacity(n * min(n, options.maxAnswerLength))
        for s in 0..<n {
            for e in s..<min(n, s + options.maxAnswerLength) { cells.append((s, e, p[s] * q[e])) }
        }
        // (Cells outside the band are zero in the pipeline's matrix; they only rank when fewer than k spans score above 0.)
        let ranked = cells.enumerated().sorted { $0.element.2 != $1.element.2 ? $0.element.2 > $1.element.2 : $0.offset < $1.offset }.map(\.element)
        return ranked.prefix(options.topK).filter { allowed[$0.0] && allowed[$0.1] }
    }

    /// The answers of one question over its windows (`logits[w]`: start and end logits of window w).
    public static func answers(context: String, windows: [Encoding], starts: [[Float]], ends: [[Float]], options: AnswerOptions) -> [SpanAnswer] {
        let scalars = Array(context.unicodeScalars)
        var minNull: Float = 1_000_000
        var answers: [SpanAnswer] = []
        for (w, encoding) in windows.enumerated() {
            for (s, e, score) in candidates(encoding: encoding, starts: starts[w], ends: ends[w], options: options, minNull: &minNull) {
                var (a, b) = (encoding.offsets[s].start, encoding.offsets[e].end)
                if options.alignToWords { (a, b) = (wordStart(encoding, s), wordEnd(encoding, e)) }
                let lower = min(a, scalars.count), upper = min(max(b, lower), scalars.count)
                var text = String.UnicodeScalarView()
                text.append(contentsOf: scalars[lower..<upper])
                answers.append(SpanAnswer(score: score, start: a, end: b, answer: String(text)))
            }
        }
        if options.handleImpossibleAnswer { answers.append(SpanAnswer(score: minNull, start: 0, end: 0, answer: "")) }
        // sorted(..., reverse=True)[:top_k]: stable.
        return Array(answers.enumerated().sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }
            .map(\.element).prefix(options.topK))
    }

    /// `word_to_chars(token_to_word(t))`: a word's pieces are its first token and the `##` pieces after it.
    static func wordStart(_ encoding: Encoding, _ t: Int) -> Int {
        var i = t
        while i > 0 && encoding.tokens[i].hasPrefix("##") && encoding.sequenceIDs[i - 1] == encoding.sequenceIDs[t] { i -= 1 }
        return encoding.offsets[i].start
    }

    static func wordEnd(_ encoding: Encoding, _ t: Int) -> Int {
        var i = t
        while i + 1 < encoding.count && encoding.tokens[i + 1].hasPrefix("##") && encoding.sequenceIDs[i + 1] == encoding.sequenceIDs[t] { i += 1 }
        return encoding.offsets[i].end
    }
}
