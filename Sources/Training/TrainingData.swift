// Token-id examples ready for training, and how they become padded micro-batches with labels.

import Bert

/// What one example should produce.
package enum TrainingTarget: Sendable, Equatable {
    /// Single-label classification.
    case classIndex(Int)
    /// Regression (one value per label) or multi-label (0/1 per label).
    case values([Float])
    /// Token classification or masked LM: one target per token id, -100 where nothing is predicted.
    case tokens([Int])
    /// Question answering: start and end token.
    case span(start: Int, end: Int)
}

package struct EncodedExample: Sendable, Equatable {
    package var ids: [Int32]
    package var typeIds: [Int32]
    package var target: TrainingTarget
    /// Where it came from (file line), for messages.
    package var line: Int
    /// The task's own index of this example (question answering: its window among the encoded features; masked LM:
    /// the block, whose masks derive from it).
    package var feature = 0
    /// Per-token flags a task's collation needs (masked LM: `specialToken`, `continuesWord`); empty for others.
    package var tokenFlags: [UInt8] = []
    package static let specialToken: UInt8 = 1
    package static let continuesWord: UInt8 = 2

    package init(ids: [Int32], typeIds: [Int32], target: TrainingTarget, line: Int = 0) {
        self.ids = ids; self.typeIds = typeIds; self.target = target; self.line = line
    }
}

package enum MicroBatch {
    /// Pads `examples` to the longest (dynamic padding) and builds the labels for `head`.
    package static func make(_ examples: [EncodedExample], head: BertHead, problemType: ProblemType?, padId: Int) throws -> (TokenBatch, Labels) {
        let T = examples.map(\.ids.count).max() ?? 0
        let ids = examples.map { $0.ids.map(Int.init) + [Int](repeating: padId, count: T - $0.ids.count) }
        let types = examples.map { $0.typeIds.map(Int.init) + [Int](repeating: 0, count: T - $0.typeIds.count) }
        let mask = examples.map { [Int](repeating: 1, count: $0.ids.count) + [Int](repeating: 0, count: T - $0.ids.count) }
        let batch = try TokenBatch(inputIds: ids, attentionMask: mask, tokenTypeIds: types)
        let labels: Labels
        switch head {
        case .sequenceClassification:
            if problemType == .regression || problemType == .multiLabelClassification {
                let values = examples.flatMap { if case .values(let v) = $0.target { return v } else { return [] } }
                labels = problemType == .regression ? .regression(values) : .multiLabel(values)
            } else {
                labels = .classes(examples.map { if case .classIndex(let c) = $0.target { return c } else { return Labels.ignoreIndex } })
            }
        case .tokenClassification, .maskedLM:
            let tokens = examples.flatMap { example -> [Int] in
                guard case .tokens(let t) = example.target else { return [Int](repeating: Labels.ignoreIndex, count: T) }
                return t + [Int](repeating: Labels.ignoreIndex, count: T - t.count)
            }
            labels = head == .maskedLM ? .maskedTokens(tokens) : .tokenClasses(tokens)
        case .questionAnswering:
            let spans = examples.map { if case .span(let s, let e) = $0.target { return (s, e) } else { return (T, T) } }
            labels = .spans(start: spans.map(\.0), end: spans.map(\.1))
        case .base:
            throw LossError.wrongHead("a BertModel has no head to train: choose a task")
        }
        return (batch, labels)
    }
}
