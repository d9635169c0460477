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

    /// Where every head keeps its own parameters (outside the `bert.` encoder): `classifier.` for the
    /// classifiers, `qa_outputs.` for question answering, `cls.` for the masked LM.
    public static let headParameterPrefixes = ["classifier.", "qa_outputs.", "cls."]

    /// Whether a parameter (named as the model names it) belongs to a head rather than the encoder.
    public static func isHeadParameter(_ name: String) -> Bool {
        headParameterPrefixes.contains { name.hasPrefix($0) }
    }

    /// Parameter names carry the `bert.` prefix (the base model prefix) except in BertModel itself.
    public var namePrefix: String { self == .base ? "" : "bert." }
}
