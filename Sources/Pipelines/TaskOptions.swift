// How each task reads, windows, masks and scores its data: the options `finetune` and `evaluate` share, in one
// struct with one factory per task, so that both jobs configure a task the same way.

import Bert
import Training
import Tasks

package struct TaskOptions: Sendable {
    /// Sequence classification: the text, pair and label columns; the loss (nil: from the labels).
    package var columns = ColumnNames()
    package var problemType: ProblemType? = nil
    /// Token classification: the JSONL fields (or CoNLL label column), `--label-all-tokens`, `--metric-mode`.
    package var taggedColumns = TaggedColumns()
    package var labelAllTokens = false
    package var metricMode: SeqEval.Mode = .default
    /// Question answering: tokens shared by neighbouring windows, post-processing, SQuAD 2.0 (nil: from the data).
    package var docStride = 128
    package var postprocess = QAPostprocessOptions()
    package var versionTwoWithNegative: Bool? = nil
    /// Masked LM: each line its own example (else concatenated and chunked), the masking rate, whole words.
    package var lineByLine = false
    package var mlmProbability: Float = 0.15
    package var wholeWordMask = false

    package init() {}

    package func sequenceClassification() -> SequenceClassificationTask {
        SequenceClassificationTask(columns: columns, problemType: problemType)
    }

    package func tokenClassification() -> TokenClassificationTask {
        TokenClassificationTask(columns: taggedColumns, labelAllTokens: labelAllTokens, metricMode: metricMode)
    }

    package func questionAnswering() -> QuestionAnsweringTask {
        QuestionAnsweringTask(docStride: docStride, postprocess: postprocess, versionTwoWithNegative: versionTwoWithNegative)
    }

    /// `seed` fixes the masks (training draws them per epoch; evaluation keeps one set).
    package func maskedLM(seed: UInt64) -> MaskedLMTask {
        MaskedLMTask(textColumn: columns.text, lineByLine: lineByLine, probability: mlmProbability, wholeWordMask: wholeWordMask, seed: seed)
    }

    /// The task `name`, configured from these options.
    package func task(_ name: TaskName, seed: UInt64) -> any FineTuningTask {
        switch name {
        case .sequenceClassification: return sequenceClassification()
        case .tokenClassification: return tokenClassification()
        case .questionAnswering: return questionAnswering()
        case .maskedLM: return maskedLM(seed: seed)
        }
    }
}
