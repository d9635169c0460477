// The task seam: one conforming type per task, holding everything that differs between tasks —
// reading and checking its data, settling its labels, encoding and aligning them, the collation and metrics the
// training loop uses (its `TrainingTask`), and the config it exports. `FineTuneJob` drives any of them the same
// way; adding a task means a new conforming type here and a name in `TaskName`.

import TensorCore
import Tokenizer
import Bert
import Training

package protocol FineTuningTask: Sendable {
    associatedtype Example: Sendable
    /// The transformers class the task fine-tunes (BertForSequenceClassification, …).
    var head: BertHead { get }
    /// Reads and checks a data file; every problem is an error naming the file and line.
    func read(_ path: String) throws -> [Example]
    /// The label set: `explicit` (`--labels`), else the model config's labels when they name this task's, else the
    /// training data's.
    func labels(train: [Example], file: String, config: BertConfig, explicit: [String]?) throws -> LabelSet
    /// Token ids and aligned targets. A label outside `labels` is an error naming the file and line.
    func encode(_ examples: [Example], file: String, labels: LabelSet, tokenizer: any TextTokenizer, maxLength: Int) throws -> EncodedData
    /// The collation and metrics the training loop uses, once the labels are known; `train` and `eval` are what it will
    /// see (question answering needs its windows' offsets to turn logits into answers, masked LM its mask token).
    func training(labels: LabelSet, train: EncodedData, eval: EncodedData?) -> any TrainingTask
    /// What the exported config.json says about the task (labels, problem type).
    func configure(_ config: inout BertConfig, labels: LabelSet)
    /// Whether the task encodes pre-split words (`is_split_into_words`): the export then saves the tokenizer to encode
    /// text the same way (`TextTokenizer.saveWordEncoding`).
    var encodesPreSplitWords: Bool { get }
}

extension FineTuningTask {
    package var encodesPreSplitWords: Bool { false }
}

/// Encoded examples, and what encoding had to do that the user should hear about.
package struct EncodedData: Sendable {
    package var examples: [EncodedExample]
    /// Source examples (sentences, texts) before any were split into windows.
    package var sourceCount: Int
    /// E.g. "12 sentences longer than 128 tokens were split into overlapping windows".
    package var notes: [String]
    /// What the task needs again after the forward pass (question answering: examples and windows).
    package var taskData: (any Sendable)?

    package init(examples: [EncodedExample], sourceCount: Int, notes: [String] = [], taskData: (any Sendable)? = nil) {
        self.examples = examples
        self.sourceCount = sourceCount
        self.notes = notes
        self.taskData = taskData
    }
}

/// The tasks `bertkit finetune --task` offers.
package enum TaskName: String, CaseIterable, Sendable {
    case sequenceClassification = "sequence-classification"
    case tokenClassification = "token-classification"
    case questionAnswering = "question-answering"
    case maskedLM = "masked-lm"

    package var head: BertHead {
        switch self {
        case .sequenceClassification: return .sequenceClassification
        case .tokenClassification: return .tokenClassification
        case .questionAnswering: return .questionAnswering
        case .maskedLM: return .maskedLM
        }
    }

    /// The task a model's head trains, when it is one of these.
    package init?(head: BertHead) {
        guard let task = TaskName.allCases.first(where: { $0.head == head }) else { return nil }
        self = task
    }
}
