// Which transformers class a model is: the encoder alone or one of the task heads.

package enum BertHead: String, CaseIterable, Sendable {
    case base = "base"
    case sequenceClassification = "sequence-classification"
    case tokenClassification = "token-classification"
    case questionAnswering = "question-answering"
    case maskedLM = "masked-lm"

    /// The transformers class name written to `architectures`.
    package var architecture: String { BertClass.canonical(for: self).name }

    /// The head a config's `architectures` names. BertForPreTraining (the hub's bert-base-uncased
    /// checkpoint) runs as a masked LM; its next-sentence weights are reported unused.
    package init?(architecture: String) {
        guard let bertClass = BertClass.named(architecture) else { return nil }
        self = bertClass.head
    }

    /// transformers builds the token-level heads with `add_pooling_layer=False`.
    package var hasPooler: Bool { BertClass.canonical(for: self).hasPooler }

    /// PEFT's `task_type` for an adapter on this head (peft v0.21.2 `utils/peft_types.py`, TaskType).
    package var peftTaskType: String {
        switch self {
        case .sequenceClassification: return "SEQ_CLS"
        case .tokenClassification: return "TOKEN_CLS"
        case .questionAnswering: return "QUESTION_ANS"
        case .maskedLM, .base: return "FEATURE_EXTRACTION"
        }
    }

    /// The head a PEFT `task_type` builds (PeftModel wraps a base model in that task's class); nil for a task
    /// type no single head has (FEATURE_EXTRACTION: the base model's own head decides).
    package init?(peftTaskType: String) {
        let heads = Self.allCases.filter { $0.peftTaskType == peftTaskType }
        guard heads.count == 1 else { return nil }
        self = heads[0]
    }
}
