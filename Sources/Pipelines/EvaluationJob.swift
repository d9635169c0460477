// `bertkit evaluate` as a library call: a fine-tuned model's loss and its task's metrics on labelled data, read,
// checked and encoded by the model's task (the head decides: sequence or token classification), with the labels
// of the model's config — a label the model does not know is an error naming the file and line.

import TensorCore
import Tokenizer
import Bert
import Training
import Tasks

package struct EvaluationSettings: Sendable {
    package var data: String
    package var maxLength = 128
    package var batchSize = 32
    /// How the task reads and scores its data (columns, windows, masking …).
    package var taskOptions = TaskOptions()
    /// Masked LM: the seed of the evaluation masks.
    package var seed: UInt64 = 42

    package init(data: String) { self.data = data }
}

package struct EvaluationReport: Sendable {
    package var result: EvaluationResult
    package var labels: LabelSet
    package var task: TaskName
    /// Source examples (texts, sentences).
    package var count: Int
    package var notes: [String]
    /// Question answering: the SQuAD scores and the answers.
    package var questionAnswering: QAEvaluation? { result.task.details as? QAEvaluation }
}

package enum EvaluationJob {
    package static func run(_ loaded: PretrainedBert, _ s: EvaluationSettings) throws -> EvaluationReport {
        guard let name = TaskName(head: loaded.model.head) else {
            throw InferenceError.wrongHead(command: "evaluate", head: loaded.model.head.rawValue,
                                           needed: TaskName.allCases.map(\.rawValue).joined(separator: " or "))
        }
        switch name {
        case .sequenceClassification:
            return try run(s.taskOptions.sequenceClassification(), name, loaded, s) { rows, config in
                let problemType = config.problemType ?? LabelSet.inferredProblemType(numLabels: config.numLabels, labels: rows.compactMap(\.label))
                return LabelSet(names: config.id2label, problemType: problemType)
            }
        case .tokenClassification:
            let task = s.taskOptions.tokenClassification()
            let labels = LabelSet(names: loaded.model.config.id2label, problemType: .singleLabelClassification)
            try withFileContext(loaded.directory + "/config.json") { try task.checkLabels(labels) }
            return try run(task, name, loaded, s) { _, _ in labels }
        case .questionAnswering:
            let task = s.taskOptions.questionAnswering()
            return try run(task, name, loaded, s) { _, config in LabelSet(names: config.id2label, problemType: .singleLabelClassification) }
        case .maskedLM:
            let task = s.taskOptions.maskedLM(seed: s.seed)
            return try run(task, name, loaded, s) { _, config in LabelSet(names: config.id2label, problemType: .singleLabelClassification) }
        }
    }

    static func run<Task: FineTuningTask>(_ task: Task, _ name: TaskName, _ loaded: PretrainedBert, _ s: EvaluationSettings,
                                          labels: ([Task.Example], BertConfig) -> LabelSet) throws -> EvaluationReport {
        let rows = try task.read(s.data)
        let labelSet = labels(rows, loaded.model.config)
        let encoded = try task.encode(rows, file: s.data, labels: labelSet, tokenizer: try loaded.tokenizer(), maxLength: s.maxLength)
        let result = try Trainer.evaluate(model: loaded.model, adapters: loaded.adapters, examples: encoded.examples, batchSize: s.batchSize,
                                          task: task.training(labels: labelSet, train: encoded, eval: encoded))
        return EvaluationReport(result: result, labels: labelSet, task: name, count: encoded.sourceCount, notes: encoded.notes)
    }
}
