// Extractive question answering (SQuAD 1.1 / 2.0): data from SQuADData, windows and start/end labels from
// QAFeatures (run_qa.py's feature functions), answers from QAPostprocess, scores from SQuADMetrics. Evaluation during
// training runs the whole chain, so `--metric f1` selects on SQuAD F1.

import TensorCore
import Tokenizer
import Bert
import Training

package struct QuestionAnsweringTask: FineTuningTask {
    package var docStride: Int
    package var postprocess: QAPostprocessOptions
    /// SQuAD 2.0 scoring and null answers; nil: when the data has questions without answers.
    package var versionTwoWithNegative: Bool?

    package init(docStride: Int = 128, postprocess: QAPostprocessOptions = QAPostprocessOptions(), versionTwoWithNegative: Bool? = nil) {
        self.docStride = docStride
        self.postprocess = postprocess
        self.versionTwoWithNegative = versionTwoWithNegative
    }

    package var head: BertHead { .questionAnswering }

    package func read(_ path: String) throws -> [QAExample] { try SQuADData.read(path: path) }

    /// Start and end are the two "labels" of the head (transformers' BertForQuestionAnswering has num_labels 2).
    package func labels(train: [QAExample], file: String, config: BertConfig, explicit: [String]?) throws -> LabelSet {
        LabelSet(names: config.numLabels == 2 ? config.id2label : ["LABEL_0", "LABEL_1"], problemType: .singleLabelClassification)
    }

    package func encode(_ examples: [QAExample], file: String, labels: LabelSet, tokenizer: any TextTokenizer, maxLength: Int) throws -> EncodedData {
        let features = try withFileContext(file) { try QAFeatures.make(examples, tokenizer: tokenizer, maxLength: maxLength, docStride: docStride) }
        let encoded = features.enumerated().map { f, feature in
            var example = EncodedExample(ids: feature.ids, typeIds: feature.typeIds, target: .span(start: feature.startPosition, end: feature.endPosition))
            example.feature = f
            return example
        }
        let windows = features.count - examples.count
        var notes: [String] = []
        if windows > 0 {
            notes.append("\(windows) extra window\(windows == 1 ? "" : "s") of \(file): contexts longer than \(maxLength) tokens "
                         + "overlap by \(docStride) tokens")
        }
        return EncodedData(examples: encoded, sourceCount: examples.count, notes: notes,
                           taskData: QAEvaluationData(examples: examples, features: features))
    }

    package func training(labels: LabelSet, train: EncodedData, eval: EncodedData?) -> any TrainingTask {
        let data = eval?.taskData as? QAEvaluationData ?? QAEvaluationData(examples: [], features: [])
        var options = postprocess
        options.versionTwoWithNegative = versionTwoWithNegative ?? data.examples.contains { $0.answers.isEmpty }
        return QuestionAnsweringTraining(data: data, options: options)
    }

    package func configure(_ config: inout BertConfig, labels: LabelSet) {
        config.id2label = labels.names
        config.problemType = nil
    }
}

/// A question-answering evaluation: the SQuAD scores and the answers behind them.
package struct QAEvaluation: Sendable {
    package var scores: SQuADMetrics.Result
    package var predictions: QAPredictions
}

/// What turns an evaluation's logits into answers and scores.
package struct QAEvaluationData: Sendable {
    package var examples: [QAExample]
    package var features: [QAFeature]
}

package struct QuestionAnsweringTraining: TrainingTask {
    package let data: QAEvaluationData
    package let options: QAPostprocessOptions
    package var head: BertHead { .questionAnswering }

    package func collate(_ examples: [EncodedExample], padId: Int, pass: CollationPass) throws -> (TokenBatch, Labels) {
        try MicroBatch.make(examples, head: .questionAnswering, problemType: nil, padId: padId)
    }

    package func makeMetrics() -> any MetricAccumulator { QAMetrics(data: data, options: options) }
}

/// Keeps each window's start and end logits; at the end, post-processes them into answers and scores them.
package struct QAMetrics: MetricAccumulator {
    let data: QAEvaluationData
    let options: QAPostprocessOptions
    var starts: [[Float]], ends: [[Float]]

    init(data: QAEvaluationData, options: QAPostprocessOptions) {
        self.data = data
        self.options = options
        starts = [[Float]](repeating: [], count: data.features.count)
        ends = starts
    }

    package mutating func add(examples: [EncodedExample], labels: Labels, batch: TokenBatch, outputs: BertWorkspace, config: BertConfig) {
        let T = batch.sequenceLength
        for (b, example) in examples.enumerated() where example.feature < starts.count {
            let n = example.ids.count
            starts[example.feature] = SpanLogits.column(outputs.logits + b * T * 2, rows: n, .start)
            ends[example.feature] = SpanLogits.column(outputs.logits + b * T * 2, rows: n, .end)
        }
    }

    /// The answers and their scores (also what `evaluate` writes out).
    package func predictions() -> QAPredictions {
        QAPostprocess.run(examples: data.examples, features: data.features, startLogits: starts, endLogits: ends, options: options)
    }

    package func scores(_ predictions: QAPredictions) -> SQuADMetrics.Result {
        let answers = Dictionary(predictions.answers.map { ($0.id, $0.text) }, uniquingKeysWith: { a, _ in a })
        if options.versionTwoWithNegative {
            let odds = Dictionary(predictions.nullOdds.map { ($0.id, Double($0.odds)) }, uniquingKeysWith: { a, _ in a })
            return SQuADMetrics.squadV2(examples: data.examples, predictions: answers, nullOdds: odds, threshold: Double(options.nullScoreDiffThreshold))
        }
        return SQuADMetrics.squad(examples: data.examples, predictions: answers)
    }

    package func result() -> TaskMetrics {
        guard !data.examples.isEmpty, starts.allSatisfy({ !$0.isEmpty }) else { return TaskMetrics() }
        let predictions = predictions()
        let scores = scores(predictions)
        var metrics = TaskMetrics(accuracy: scores.exactMatch, f1: scores.f1)
        metrics.count = scores.total
        metrics.details = QAEvaluation(scores: scores, predictions: predictions)
        return metrics
    }
}
