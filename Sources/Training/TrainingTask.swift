// The seam between the training loop and a task. The loop knows batches, a loss and a metric
// accumulator; what a task's examples look like, how they are padded and labelled, and what its metrics mean
// live with the task (Sources/Tasks). transformers' example scripts do the same: one data collator and one
// `compute_metrics` per task, a Trainer that never switches on the task.

import Bert

/// What the training loop needs of a task.
package protocol TrainingTask: Sendable {
    /// The model head the task trains (its forward pass and loss).
    var head: BertHead { get }
    /// Pads examples into one micro-batch and builds its labels (the task's data collator). `pass` says which epoch is
    /// training (masked LM draws new masks each epoch) or that this is evaluation (one fixed set).
    func collate(_ examples: [EncodedExample], padId: Int, pass: CollationPass) throws -> (TokenBatch, Labels)
    /// A fresh accumulator for one evaluation pass.
    func makeMetrics() -> any MetricAccumulator
}

/// What a micro-batch is collated for.
package enum CollationPass: Sendable, Equatable {
    case training(epoch: Int)
    case evaluation
}

/// Collects what an evaluation pass needs from each micro-batch, then computes the task's metrics.
package protocol MetricAccumulator {
    /// One evaluated micro-batch: its examples (in order), labels, and the model's outputs in `outputs`.
    mutating func add(examples: [EncodedExample], labels: Labels, batch: TokenBatch, outputs: BertWorkspace, config: BertConfig)
    func result() -> TaskMetrics
}

/// A task's evaluation metrics. `accuracy` and `f1` are what `--metric` selects on; the rest is reported.
package struct TaskMetrics: Sendable {
    package var accuracy: Double?
    package var f1: Double?
    package var precision: Double?
    package var recall: Double?
    /// Sequence classification: accuracy, macro-F1 and the confusion matrix.
    package var classification: ClassificationMetrics?
    /// Token classification: per entity type, as seqeval's classification report.
    package var perType: [EntityTypeScore] = []
    /// What the metrics were counted over when it is not the number of examples (sentences, for windows).
    package var count: Int?
    /// Anything else a task reports (question answering: its SQuAD scores and predictions), for the task's own
    /// callers to read back.
    package var details: (any Sendable)?

    package init(accuracy: Double? = nil, f1: Double? = nil) {
        self.accuracy = accuracy
        self.f1 = f1
    }
}

package struct EntityTypeScore: Sendable, Equatable {
    package var type: String
    package var precision: Double
    package var recall: Double
    package var f1: Double
    package var support: Int

    package init(type: String, precision: Double, recall: Double, f1: Double, support: Int) {
        self.type = type
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
    }
}

/// The task of a head trained on the targets it has always had: `MicroBatch.make`'s collation and the metrics
/// of `HeadMetrics`. Sequence classification, and every head in the library-level tests, run through it.
package struct HeadTask: TrainingTask {
    package let head: BertHead
    package let problemType: ProblemType?

    package init(head: BertHead, problemType: ProblemType?) {
        self.head = head
        self.problemType = problemType
    }

    package func collate(_ examples: [EncodedExample], padId: Int, pass: CollationPass) throws -> (TokenBatch, Labels) {
        try MicroBatch.make(examples, head: head, problemType: problemType, padId: padId)
    }

    package func makeMetrics() -> any MetricAccumulator { HeadMetrics(head: head) }
}

/// Accuracy and macro-F1 of single-label classifiers (per example, or per labelled token), element-wise accuracy
/// of multi-label ones, exact-match accuracy of masked tokens and QA spans.
package struct HeadMetrics: MetricAccumulator {
    let head: BertHead
    var truth: [Int] = [], predicted: [Int] = []
    var exactRight = 0, exactTotal = 0
    var classes = 0

    package init(head: BertHead) { self.head = head }

    package mutating func add(examples: [EncodedExample], labels: Labels, batch: TokenBatch, outputs ws: BertWorkspace, config c: BertConfig) {
        let T = batch.sequenceLength, L = c.numLabels
        classes = head == .tokenClassification || head == .sequenceClassification ? L : 0
        switch (head, labels) {
        case (.sequenceClassification, .classes(let targets)):
            for (row, target) in targets.enumerated() where target != Labels.ignoreIndex {
                truth.append(target)
                predicted.append(argmax(ws.logits + row * L, L))
            }
        case (.sequenceClassification, .multiLabel(let targets)):
            for (i, target) in targets.enumerated() {
                exactTotal += 1
                if (ws.logits[i] > 0) == (target > 0.5) { exactRight += 1 }
            }
        case (.tokenClassification, .tokenClasses(let targets)):
            for (i, target) in targets.enumerated() where target != Labels.ignoreIndex {
                truth.append(target)
                predicted.append(argmax(ws.logits + i * L, L))
            }
        case (.maskedLM, .maskedTokens(let targets)):
            // Logits of the scored rows only, in order, when evaluation set `lmRows`; else of every row.
            let compact = ws.lmRows != nil
            var k = 0
            for (i, target) in targets.enumerated() where target != Labels.ignoreIndex {
                exactTotal += 1
                if argmax(ws.lmLogits + (compact ? k : i) * c.vocabSize, c.vocabSize) == target { exactRight += 1 }
                k += 1
            }
        case (.questionAnswering, .spans(let starts, let ends)):
            for b in 0..<batch.batchSize {
                let rowStarts = SpanLogits.column(ws.logits + b * T * 2, rows: T, .start)
                let rowEnds = SpanLogits.column(ws.logits + b * T * 2, rows: T, .end)
                var bestStart = 0, bestEnd = 0
                for t in 0..<T {
                    if rowStarts[t] > rowStarts[bestStart] { bestStart = t }
                    if rowEnds[t] > rowEnds[bestEnd] { bestEnd = t }
                }
                exactTotal += 1
                if bestStart == starts[b] && bestEnd == ends[b] { exactRight += 1 }
            }
        default: break
        }
    }

    package func result() -> TaskMetrics {
        let classification = truth.isEmpty ? nil : ClassificationMetrics(truth: truth, predicted: predicted, classes: classes)
        let exact = exactTotal > 0 ? Double(exactRight) / Double(exactTotal) : nil
        var metrics = TaskMetrics(accuracy: classification?.accuracy ?? exact, f1: classification?.macroF1)
        metrics.classification = classification
        return metrics
    }
}

/// The index of the largest of `count` values (the first on ties, as torch.argmax).
package func argmax(_ values: UnsafeMutablePointer<Float>, _ count: Int) -> Int {
    var best = 0
    for i in 1..<max(count, 1) where values[i] > values[best] { best = i }
    return best
}
