// Which transformers class a model is: the encoder alone or one of the task heads.

public enum BertHead: String, CaseIterable, Sendable {
    case base = "base"
    case sequenceClassification = "sequence-classification"
    case tokenClassification = "token-classification"
    case questionAnswering = "question-answering"
    case maskedLM = "masked-lm"

    /// The transformers class name written to `architectures`.
    public var architecture: String {
        switch self {
        case .base: return "BertModel"
        case .sequenceClassification: return "BertForSequenceClassification"
        case .tokenClassification: return "BertForTokenClassification"
        case .questionAnswering: return "BertForQuestionAnswering"
        case .maskedLM: return "BertForMaskedLM"
        }
    }

    /// The head a config's `architectures` names. BertForPreTraining (the hub's bert-base-uncased
    /// checkpoint) runs as a masked LM; its next-sentence weights are reported unused.
    public init?(architecture: String) {
        switch architecture {
        case "BertModel": self = .base
        case "BertForSequenceClassification": self = .sequenceClassification
        case "BertForTokenClassification": self = .tokenClassification
        case "BertForQuestionAnswering": self = .questionAnswering
        case "BertForMaskedLM", "BertForPreTraining", "BertLMHeadModel": self = .maskedLM
        default: return nil
        }
    }

    /// transformers builds the token-level heads with `add_pooling_layer=False`.
    public var hasPooler: Bool { self == .base || self == .sequenceClassification }

    /// Parameter names carry the `bert.` prefix (the base model prefix) except in BertModel itself.
    public var namePrefix: String { self == .base ? "" : "bert." }
}
