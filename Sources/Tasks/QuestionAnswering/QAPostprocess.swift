// Start and end logits of every window → one answer per question, as run_qa.py's `postprocess_qa_predictions`
// (transformers v5.24.0, examples/pytorch/question-answering/utils_qa.py): the `nBestSize` best starts and ends of each
// window paired into spans of context tokens no longer than `maxAnswerLength`, scored start + end logit, the n best
// over all windows kept with softmax probabilities; the null answer scores [CLS] + [CLS], the minimum over the
// example's windows. With SQuAD 2.0 (`versionTwoWithNegative`) the answer is empty when the null score beats the best
// span by more than `nullScoreDiffThreshold`, and that difference is the question's null odds. Logits are float32, and
// so is the arithmetic, as numpy does it on the model's outputs.

#if canImport(Glibc)
import Glibc
#endif

package struct QAPostprocessOptions: Sendable, Equatable {
    package var nBestSize = 20
    package var maxAnswerLength = 30
    package var versionTwoWithNegative = false
    package var nullScoreDiffThreshold: Float = 0
    package init() {}
}

package struct QACandidate: Sendable, Equatable {
    package var text: String
    package var startLogit: Float
    package var endLogit: Float
    package var probability: Float
}

package struct QAPredictions: Sendable {
    /// Question id → answer text ("" for no answer, with SQuAD 2.0), in the examples' order.
    package var answers: [(id: String, text: String)]
    /// Question id → its n best candidates.
    package var nBest: [(id: String, candidates: [QACandidate])]
    /// SQuAD 2.0: question id → null score minus the best span's score (`null_odds.json`).
    package var nullOdds: [(id: String, odds: Float)]
}

package enum QAPostprocess {
    /// `startLogits[f]`/`endLogits[f]`: the logits of feature f over its positions.
    package static func run(examples: [QAExample], features: [QAFeature], startLogits: [[Float]], endLogits: [[Float]],
                           options: QAPostprocessOptions) -> QAPredictions {
        var byExample = [[Int]](repeating: [], count: examples.count)
        for (f, feature) in features.enumerated() { byExample[feature.example].append(f) }
        var result = QAPredictions(answers: [], nBest: [], nullOdds: [])
        for (e, example) in examples.enumerated() {
            struct Prelim { var start: Int; var end: Int; var score: Float; var startLogit: Float; var endLogit: Float; var isNull: Bool }
            var minNull: Prelim? = nil
            var prelim: [Prelim] = []
            for f in byExample[e] {
                let starts = startLogits[f], ends = endLogits[f], offsets = features[f].offsets
                let nullScore = starts[0] + ends[0]
                if minNull == nil || minNull!.score > nullScore {
                    minNull = Prelim(start: 0, end: 0, score: nullScore, startLogit: starts[0], endLogit: ends[0], isNull: true)
                }
                for s in topIndices(starts, options.nBestSize) {
                    for t in topIndices(ends, options.nBestSize) {
                        guard s < offsets.count, t < offsets.count, let a = offsets[s], let b = offsets[t] else { continue }
                        if t < s || t - s + 1 > options.maxAnswerLength { continue }
                        prelim.append(Prelim(start: a.start, end: b.end, score: starts[s] + ends[t], startLogit: starts[s], endLogit: ends[t], isNull: false))
                    }
                }
            }
            var nullScore: Float = 0
            if options.versionTwoWithNegative, let minNull {
                prelim.append(minNull)
                nullScore = minNull.score
            }
            // Python's sorted(..., reverse=True) is stable: equal scores keep their order.
            var predictions = Array(prelim.enumerated().sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }
                .prefix(options.nBestSize).map(\.element))
            if options.versionTwoWithNegative, let minNull, !predictions.contains(where: { $0.start == 0 && $0.end == 0 }) {
                predictions.append(minNull)
            }
            let context = Array(example.context.unicodeScalars)
            var texts = predictions.map { p -> String in
                let lower = min(p.start, context.count), upper = min(max(p.end, lower), context.count)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: context[lower..<upper])
                return String(view)
            }
            if predictions.isEmpty || (predictions.count == 1 && texts[0].isEmpty) {
                predictions.insert(Prelim(start: 0, end: 0, score: 0, startLogit: 0, endLogit: 0, isNull: false), at: 0)
                texts.insert("empty", at: 0)
            }
            let top = predictions.map(\.score).max()!
            let exps = predictions.map { expf($0.score - top) }
            let total = exps.reduce(Float(0), +)
            let candidates = zip(predictions, texts).enumerated().map { i, pair in
                QACandidate(text: pair.1, startLogit: pair.0.startLogit, endLogit: pair.0.endLogit, probability: exps[i] / total)
            }
            result.nBest.append((example.id, candidates))
            if !options.versionTwoWithNegative {
                result.answers.append((example.id, candidates[0].text))
            } else {
                let best = candidates.first { !$0.text.isEmpty } ?? candidates[0]
                let difference = nullScore - best.startLogit - best.endLogit
                result.nullOdds.append((example.id, difference))
                result.answers.append((example.id, difference > options.nullScoreDiffThreshold ? "" : best.text))
            }
        }
        return result
    }

    /// `np.argsort(values)[-1 : -n - 1 : -1]`: the indices of the n largest values, largest first.
    static func topIndices(_ values: [Float], _ n: Int) -> [Int] {
        Array(values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 > $1 }.prefix(n))
    }
}
