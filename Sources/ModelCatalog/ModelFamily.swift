// Which model families bertkit runs, and everything that differs between them: the one home of each family's
// parameter names, embeddings, heads and class names. BERT, DistilBERT and RoBERTa share one encoder (post-LayerNorm
// layers of self-attention and a two-layer feed-forward), so the model, its backward, LoRA and training are written
// once against this description.
//
// Sources (pinned): transformers v5.24.0 models/bert/modeling_bert.py, models/distilbert/modeling_distilbert.py,
// models/roberta/modeling_roberta.py (module names = parameter names), models/auto/configuration_auto.py
// (CONFIG_MAPPING: `model_type` picks the family, as AutoConfig does).

import TensorCore

package enum ModelFamily: String, CaseIterable, Sendable {
    case bert
    case distilbert
    case roberta

    /// The start of the family's transformers class names (`BertForTokenClassification`; TensorFlow's
    /// `TFBertModel` carries a `TF` before it).
    package var classPrefix: String {
        switch self {
        case .bert: return "Bert"
        case .distilbert: return "DistilBert"
        case .roberta: return "Roberta"
        }
    }

    /// The transformers class of `head` in this family (BertForMaskedLM, DistilBertForQuestionAnswering, RobertaModel).
    package func className(for head: BertHead) -> String {
        switch head {
        case .base: return classPrefix + "Model"
        case .sequenceClassification: return classPrefix + "ForSequenceClassification"
        case .tokenClassification: return classPrefix + "ForTokenClassification"
        case .questionAnswering: return classPrefix + "ForQuestionAnswering"
        case .maskedLM: return classPrefix + "ForMaskedLM"
        }
    }

    /// The family and head a transformers class name (`architectures`) builds: BERT's table (BertClass, with its
    /// pre-training classes), else the other families' five classes.
    package static func head(ofArchitecture name: String) -> (family: ModelFamily, head: BertHead)? {
        if let bertClass = BertClass.named(name) { return (.bert, bertClass.head) }
        for family in allCases where family != .bert {
            if let head = BertHead.allCases.first(where: { family.className(for: $0) == name }) { return (family, head) }
        }
        return nil
    }

    /// `base_model_prefix`: the module that holds the encoder in every head class (`bert.`, `distilbert.`, `roberta.`).
    package var basePrefix: String { rawValue + "." }

    /// The names of every parameter, relative to the encoder (`embeddings.…`, `encoder.layer.3.…`) or the model (heads).
    package var names: FamilyNames {
        switch self {
        case .bert: return .bert
        case .distilbert: return .distilbert
        case .roberta: return .roberta
        }
    }

    /// The modules PEFT puts LoRA on when `target_modules` is not given (peft v0.21.2 utils/constants.py,
    /// TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING): the query and value projections.
    package var defaultLoRATargets: [String] {
        switch self {
        case .bert, .roberta: return ["query", "value"]
        case .distilbert: return ["q_lin", "v_lin"]
        }
    }

    /// Whether the embeddings add a token-type table (DistilBERT has none and takes no `token_type_ids`).
    package var hasTokenTypes: Bool { self != .distilbert }

    /// RoBERTa numbers positions after the padding token: a real token at sequence index t (counting real tokens only)
    /// gets position `padding_idx + 1 + t`, a padding token `padding_idx` (modeling_roberta.py,
    /// `create_position_ids_from_input_ids`). BERT and DistilBERT use the index itself.
    package var positionsFollowPadding: Bool { self == .roberta }

    /// Whether each layer drops out the attention output before its residual (DistilBERT's attention has no dropout
    /// after `out_lin`).
    package var dropsAttentionOutput: Bool { self != .distilbert }

    /// The module of the head's "pooler": the dense layer on the first token that a sequence classifier (and BERT's and
    /// RoBERTa's base model) applies before its classifier, with its activation. BERT: `bert.pooler.dense` + tanh in the
    /// classes built with a pooler; DistilBERT's sequence classifier: `pre_classifier` + ReLU; RoBERTa's:
    /// `classifier.dense` + tanh, its base model `roberta.pooler.dense`. nil: the head has none.
    package func pooler(for head: BertHead) -> (module: String, activation: PoolerActivation, isPoolerOutput: Bool)? {
        let prefix = namePrefix(for: head)
        switch self {
        case .bert:
            return head.hasPooler ? (prefix + "pooler.dense", .tanh, true) : nil
        case .distilbert:
            return head == .sequenceClassification ? ("pre_classifier", .relu, false) : nil
        case .roberta:
            switch head {
            case .base: return ("pooler.dense", .tanh, true)
            case .sequenceClassification: return ("classifier.dense", .tanh, false)
            default: return nil
            }
        }
    }

    /// The family's name for a BERT config key (DistilBertConfig: `dim`, `n_layers`, `n_heads`, `hidden_dim`,
    /// `activation`, `dropout`, `attention_dropout`; RoBERTa keeps BERT's).
    package func configKey(_ bertKey: String) -> String {
        guard self == .distilbert else { return bertKey }
        switch bertKey {
        case "hidden_size": return "dim"
        case "num_hidden_layers": return "n_layers"
        case "num_attention_heads": return "n_heads"
        case "intermediate_size": return "hidden_dim"
        case "hidden_act": return "activation"
        case "hidden_dropout_prob": return "dropout"
        case "attention_probs_dropout_prob": return "attention_dropout"
        default: return bertKey
        }
    }

    /// Whether `head` drops out the first token's state before its pooler: RoBERTa's sequence classifier
    /// (RobertaClassificationHead applies dropout before `dense` and again before `out_proj`).
    package func dropsPoolerInput(for head: BertHead) -> Bool { self == .roberta && head == .sequenceClassification }

    /// Whether the masked-LM head's transform uses exact GELU whatever the config's activation (RobertaLMHead calls
    /// `gelu`; BERT's and DistilBERT's heads use the configured activation).
    package var lmHeadUsesExactGELU: Bool { self == .roberta }

    /// Whether the masked-LM bias is registered right before the transform (BERT's `cls.predictions.bias`, RoBERTa's
    /// `lm_head.bias`) or last (DistilBERT's `vocab_projector.bias`): the order of `named_parameters()`.
    package var lmBiasPrecedesTransform: Bool { self != .distilbert }

    /// Parameter names carry the base prefix except in the base model itself.
    package func namePrefix(for head: BertHead) -> String { head == .base ? "" : basePrefix }

    /// Whether a parameter (named as the model names it) belongs to a head rather than the encoder: its first
    /// component is not one of the encoder's modules or the base prefix.
    package func isHeadParameter(_ name: String) -> Bool {
        let first = name.prefix { $0 != "." }
        return !(names.encoderModules + [rawValue]).contains(String(first))
    }

    /// "bert, distilbert, roberta": what error messages offer.
    package static var supportedNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The family a parsed config.json describes. `model_type` decides, as in AutoConfig. A config without
    /// one (BertConfig.from_pretrained reads those) is judged by its first `architectures` entry, and one
    /// that names neither is taken as BERT, the only family whose bare configs bertkit has always read.
    package static func identify(config json: JSONValue) throws(ModelFamilyError) -> ModelFamily {
        guard let object = json.objectValue else { return .bert }   // BertConfig reports the shape of the file
        if let item = object["model_type"], !item.isNull {
            guard let name = item.stringValue else { throw .modelTypeNotAString(JSONWriter.compact(item)) }
            guard let family = ModelFamily(rawValue: name) else { throw .unsupportedModelType(name) }
            return family
        }
        if let first = object["architectures"]?.arrayValue?.first?.stringValue {
            let bare = first.hasPrefix("TF") ? String(first.dropFirst(2)) : first
            guard let family = allCases.first(where: { bare.hasPrefix($0.classPrefix) }) else {
                throw .unsupportedArchitecture(first)
            }
            return family
        }
        return .bert
    }
}

/// The activation after a head's pooler.
package enum PoolerActivation: Sendable {
    case tanh, relu
}

/// One family's parameter names. Encoder names are relative to the base prefix; a layer's names follow
/// `layerStem` + index + "." + the part.
package struct FamilyNames: Sendable {
    package let wordEmbeddings: String
    package let positionEmbeddings: String
    package let tokenTypeEmbeddings: String?
    package let embeddingNorm: String
    package let layerStem: String
    package let query: String, key: String, value: String
    package let attentionOutput: String, attentionNorm: String
    package let intermediate: String, output: String, outputNorm: String
    /// The encoder's top-level modules (what is not a head).
    package let encoderModules: [String]
    /// The classifier of the sequence classifier (after the pooler), the token classifier, the QA outputs.
    package let sequenceClassifier: String, tokenClassifier: String, qaOutputs: String
    /// The masked-LM head: transform dense → activation → LayerNorm → decoder (tied to the word embeddings) + bias.
    package let lmTransform: String, lmNorm: String, lmBias: String
    /// The tied copies transformers keeps out of `model.safetensors`: the decoder's weight (≡ word embeddings) and,
    /// where the family names it separately, the decoder's bias (≡ `lmBias`).
    package let lmDecoderWeight: String, lmDecoderBias: String?

    package func layer(_ index: Int, _ part: String) -> String { layerStem + "\(index)." + part }

    /// BERT's encoder names (RoBERTa keeps them) with a family's head names.
    private static func bertEncoder(sequenceClassifier: String, lmTransform: String, lmNorm: String, lmBias: String,
                                    lmDecoderWeight: String, lmDecoderBias: String) -> FamilyNames {
        FamilyNames(
            wordEmbeddings: "embeddings.word_embeddings", positionEmbeddings: "embeddings.position_embeddings",
            tokenTypeEmbeddings: "embeddings.token_type_embeddings", embeddingNorm: "embeddings.LayerNorm",
            layerStem: "encoder.layer.", query: "attention.self.query", key: "attention.self.key", value: "attention.self.value",
            attentionOutput: "attention.output.dense", attentionNorm: "attention.output.LayerNorm",
            intermediate: "intermediate.dense", output: "output.dense", outputNorm: "output.LayerNorm",
            encoderModules: ["embeddings", "encoder", "pooler"],
            sequenceClassifier: sequenceClassifier, tokenClassifier: "classifier", qaOutputs: "qa_outputs",
            lmTransform: lmTransform, lmNorm: lmNorm, lmBias: lmBias, lmDecoderWeight: lmDecoderWeight, lmDecoderBias: lmDecoderBias)
    }

    static let bert = bertEncoder(
        sequenceClassifier: "classifier", lmTransform: "cls.predictions.transform.dense",
        lmNorm: "cls.predictions.transform.LayerNorm", lmBias: "cls.predictions.bias",
        lmDecoderWeight: "cls.predictions.decoder.weight", lmDecoderBias: "cls.predictions.decoder.bias")

    static let roberta = bertEncoder(
        sequenceClassifier: "classifier.out_proj", lmTransform: "lm_head.dense", lmNorm: "lm_head.layer_norm",
        lmBias: "lm_head.bias", lmDecoderWeight: "lm_head.decoder.weight", lmDecoderBias: "lm_head.decoder.bias")

    static let distilbert = FamilyNames(
        wordEmbeddings: "embeddings.word_embeddings", positionEmbeddings: "embeddings.position_embeddings",
        tokenTypeEmbeddings: nil, embeddingNorm: "embeddings.LayerNorm",
        layerStem: "transformer.layer.", query: "attention.q_lin", key: "attention.k_lin", value: "attention.v_lin",
        attentionOutput: "attention.out_lin", attentionNorm: "sa_layer_norm",
        intermediate: "ffn.lin1", output: "ffn.lin2", outputNorm: "output_layer_norm",
        encoderModules: ["embeddings", "transformer"],
        sequenceClassifier: "classifier", tokenClassifier: "classifier", qaOutputs: "qa_outputs",
        lmTransform: "vocab_transform", lmNorm: "vocab_layer_norm",
        lmBias: "vocab_projector.bias", lmDecoderWeight: "vocab_projector.weight", lmDecoderBias: nil)
}

package enum ModelFamilyError: Error, CustomStringConvertible, Equatable {
    case unsupportedModelType(String)
    case unsupportedArchitecture(String)
    case modelTypeNotAString(String)

    package var description: String {
        switch self {
        case .unsupportedModelType(let name):
            return "model_type '\(name)' is not supported (supported: \(ModelFamily.supportedNames))"
        case .unsupportedArchitecture(let name):
            return "architectures names '\(name)' and no model_type: not a model of a supported type (supported: \(ModelFamily.supportedNames))"
        case .modelTypeNotAString(let value):
            return "model_type must be a string, not \(value)"
        }
    }
}
