// Evaluating a fine-tuned model on labelled data, and the options that say how a task's data is read and scored
// (shared with FineTuning).

import Foundation
internal import TensorCore
internal import Bert
internal import Training
internal import Tasks
internal import Pipelines

/// How a task's data files are read and scored: their columns, and the options of entity tagging, question answering
/// and masked LM. Shared by ``FineTuning`` and ``PretrainedModel/evaluate(_:options:)``; each task reads the options that
/// are its own.
public struct TaskDataOptions: Sendable, Hashable {
    /// The text column (default `text`); for entity tagging in JSON lines, the words field (default `tokens`).
    public var textColumn: String? = nil
    /// A second text column, for pairs.
    public var pairColumn: String? = nil
    /// The label column (default `label`); for entity tagging the tags field (default `ner_tags`), or in CoNLL files a
    /// 1-based column number (default: the last column).
    public var labelColumn: String? = nil

    /// Entity tagging: label every piece of a word, not only its first (`B-X` becomes `I-X` after the first), as
    /// `run_ner.py`'s `--label_all_tokens`.
    public var labelAllTokens = false
    /// Entity tagging: score IOB2 entities only (seqeval's `mode='strict'`) instead of conlleval's chunking.
    public var strictEntityScoring = false

    /// Question answering: tokens shared by neighbouring windows of a long context.
    public var docStride = 128
    /// Question answering: start and end candidates per window.
    public var nBestSize = 20
    /// Question answering: the longest answer, in tokens.
    public var maxAnswerLength = 30
    /// Question answering: SQuAD 2.0, where a question may have no answer; nil tells it from the data.
    public var versionTwoWithNegative: Bool? = nil
    /// Question answering (SQuAD 2.0): answer nothing when the null score beats the best span by more than this.
    public var nullScoreDiffThreshold: Float = 0

    /// Masked LM: each line its own example (else lines are concatenated and cut into blocks, as `run_mlm.py`).
    public var lineByLine = false
    /// Masked LM: the share of tokens masked (of those, 80 % `[MASK]`, 10 % random, 10 % unchanged).
    public var maskingProbability: Float = 0.15
    /// Masked LM: mask every piece of a chosen word, with `[MASK]` only.
    public var wholeWordMasking = false

    /// transformers' example scripts' defaults.
    public init() {}

    func validate() throws(BertKitError) {
        guard docStride >= 0, nBestSize > 0, maxAnswerLength > 0 else {
            throw .invalidArgument("docStride must be at least 0, nBestSize and maxAnswerLength positive")
        }
        guard maskingProbability > 0 && maskingProbability < 1 else { throw .invalidArgument("maskingProbability must be between 0 and 1") }
    }

    /// The implementation's task options for these.
    var taskOptions: TaskOptions {
        var options = TaskOptions()
        options.columns = ColumnNames(text: textColumn ?? "text", pair: pairColumn, label: labelColumn ?? "label")
        options.taggedColumns = TaggedColumns(words: textColumn ?? "tokens", tags: labelColumn ?? "ner_tags")
        options.labelAllTokens = labelAllTokens
        options.metricMode = strictEntityScoring ? .strict : .default
        options.docStride = docStride
        options.postprocess.nBestSize = nBestSize
        options.postprocess.maxAnswerLength = maxAnswerLength
        options.postprocess.nullScoreDiffThreshold = nullScoreDiffThreshold
        options.versionTwoWithNegative = versionTwoWithNegative
        options.lineByLine = lineByLine
        options.mlmProbability = maskingProbability
        options.wholeWordMask = wholeWordMasking
        return options
    }
}

/// How ``PretrainedModel/evaluate(_:options:)`` runs.
public struct EvaluationOptions: Sendable, Hashable {
    /// How the data is read and scored.
    public var data = TaskDataOptions()
    /// Tokens per example (nil: 128; question answering 384); longer sentences and contexts are windowed.
    public var maxLength: Int? = nil
    /// Examples per batch.
    public var batchSize = 32
    /// Masked LM: the seed of the (fixed) evaluation masks.
    public var seed: UInt64 = 42
    /// Question answering: a folder to write `predictions.json`, `nbest_predictions.json` (and for SQuAD 2.0
    /// `null_odds.json`) in, as `run_qa.py` does.
    public var predictionsDirectory: String? = nil

    /// The defaults.
    public init() {}
}

/// A model's loss and its task's metrics on labelled data. One of the four task sections is set, after the model's head.
public struct EvaluationReport: Sendable, Hashable {
    /// Classification's figures.
    public struct Classification: Sendable, Hashable {
        /// Accuracy and macro-F1; nil for a regression model.
        public var accuracy: Double?, macroF1: Double?
        /// The label names, and the confusion matrix (`confusion[truth][prediction]`) when the model classifies.
        public var labels: [String], confusion: [[Int]]?
    }
    /// One entity type's seqeval scores.
    public struct EntityTypeScore: Sendable, Hashable {
        /// The type (`PER`).
        public var type: String
        /// Its precision, recall and F1.
        public var precision: Double, recall: Double, f1: Double
        /// Its entities in the data.
        public var support: Int
    }
    /// Entity tagging's figures, as `run_ner.py` reports them through seqeval.
    public struct Entities: Sendable, Hashable {
        /// Entity-level precision, recall and F1 (micro), and token accuracy.
        public var precision: Double, recall: Double, f1: Double, tokenAccuracy: Double
        /// Per entity type.
        public var perType: [EntityTypeScore]
    }
    /// Question answering's figures, as the `squad` / `squad_v2` metrics compute them (percentages).
    public struct QuestionAnswering: Sendable, Hashable {
        /// Exact match and F1 over all questions, and their number.
        public var exactMatch: Double, f1: Double, total: Int
        /// SQuAD 2.0: over the questions with an answer, and those without.
        public var hasAnswerExact: Double?, hasAnswerF1: Double?, hasAnswerTotal: Int?
        /// SQuAD 2.0: over the questions without an answer.
        public var noAnswerExact: Double?, noAnswerF1: Double?, noAnswerTotal: Int?
        /// SQuAD 2.0: the best exact match and F1 over null-odds thresholds, and those thresholds.
        public var bestExact: Double?, bestExactThreshold: Double?, bestF1: Double?, bestF1Threshold: Double?
        /// The prediction files written (with ``EvaluationOptions/predictionsDirectory``).
        public var predictionFiles: [String]
    }
    /// Masked LM's figures.
    public struct MaskedLM: Sendable, Hashable {
        /// The perplexity, exp(loss), and the share of masked tokens predicted right.
        public var perplexity: Double, accuracy: Double
    }

    /// The task evaluated (the model's head).
    public var task: FineTuning.Task
    /// The mean loss.
    public var loss: Double
    /// The units evaluated (examples, sentences, questions, masked-LM blocks).
    public var count: Int
    /// The data's own units (texts, sentences, questions, lines).
    public var sourceCount: Int
    /// Remarks on the data (texts truncated, sentences windowed).
    public var notes: [String]
    /// Set for a classifier.
    public var classification: Classification?
    /// Set for an entity tagger.
    public var entities: Entities?
    /// Set for a question-answering model.
    public var questionAnswering: QuestionAnswering?
    /// Set for a masked LM.
    public var maskedLM: MaskedLM?

    init(task: FineTuning.Task, result: EvaluationResult, labels: LabelSet, sourceCount: Int, notes: [String] = [],
         predictionFiles: [String] = []) {
        self.task = task
        loss = result.loss
        count = result.count
        self.sourceCount = sourceCount
        self.notes = notes
        switch task {
        case .sequenceClassification:
            classification = Classification(accuracy: result.accuracy, macroF1: result.f1, labels: labels.names,
                                            confusion: result.metrics?.confusion)
        case .tokenClassification:
            count = result.task.count ?? sourceCount
            let metrics = result.task
            entities = Entities(precision: metrics.precision ?? 0, recall: metrics.recall ?? 0, f1: metrics.f1 ?? 0,
                                tokenAccuracy: metrics.accuracy ?? 0,
                                perType: metrics.perType.map { EntityTypeScore(type: $0.type, precision: $0.precision, recall: $0.recall,
                                                                               f1: $0.f1, support: $0.support) })
        case .questionAnswering:
            if let s = (result.task.details as? QAEvaluation)?.scores {
                count = s.total
                questionAnswering = QuestionAnswering(
                    exactMatch: s.exactMatch, f1: s.f1, total: s.total, hasAnswerExact: s.hasAnsExact, hasAnswerF1: s.hasAnsF1,
                    hasAnswerTotal: s.hasAnsTotal, noAnswerExact: s.noAnsExact, noAnswerF1: s.noAnsF1, noAnswerTotal: s.noAnsTotal,
                    bestExact: s.bestExact, bestExactThreshold: s.bestExactThreshold, bestF1: s.bestF1, bestF1Threshold: s.bestF1Threshold,
                    predictionFiles: predictionFiles)
            }
        case .maskedLM:
            maskedLM = MaskedLM(perplexity: Foundation.exp(result.loss), accuracy: result.accuracy ?? 0)
        }
    }
}

extension PretrainedModel {
    /// The model's loss and its task's metrics on labelled data, as `Trainer.evaluate` and transformers' example scripts
    /// compute them: accuracy, macro-F1 and the confusion matrix for a classifier; seqeval's entity scores for a tagger;
    /// SQuAD's exact match and F1 for a question-answering model; perplexity for a masked LM. The labels are the model's
    /// own (a label of the data it does not know is an error naming the file and line).
    /// - Parameters:
    ///   - dataFile: Labelled data in the format the task reads (see ``FineTuning``).
    ///   - options: How the data is read and scored.
    public func evaluate(_ dataFile: String, options: EvaluationOptions = EvaluationOptions()) throws(BertKitError) -> EvaluationReport {
        try options.data.validate()
        guard options.batchSize >= 1 else { throw .invalidArgument("batchSize must be at least 1, not \(options.batchSize)") }
        if let maxLength = options.maxLength, maxLength < 2 { throw .invalidArgument("maxLength must be at least 2") }
        return try withLoadedModel { loaded in
            var settings = EvaluationSettings(data: dataFile)
            settings.maxLength = options.maxLength ?? (loaded.model.head == .questionAnswering ? 384 : 128)
            settings.batchSize = options.batchSize
            settings.taskOptions = options.data.taskOptions
            settings.seed = options.seed
            let report = try EvaluationJob.run(loaded, settings)
            var files: [String] = []
            if let folder = options.predictionsDirectory, let qa = report.questionAnswering {
                try QAPredictionFiles.write(qa.predictions, to: folder)
                files = ["predictions.json", "nbest_predictions.json"] + (qa.predictions.nullOdds.isEmpty ? [] : ["null_odds.json"])
            }
            return EvaluationReport(task: FineTuning.Task(report.task), result: report.result, labels: report.labels, sourceCount: report.count,
                                    notes: report.notes, predictionFiles: files)
        }
    }
}
