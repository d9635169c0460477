// BertConfig as transformers 5.24 reads `config.json` (Docs/specs/hf_conventions.md §2): every field the
// forward pass and the heads use, with transformers' defaults when a field is missing. The parsed JSON
// is kept so that unknown keys survive a load → save round trip, as they do in transformers.
// DistilBERT and RoBERTa configs are read into the same fields: RobertaConfig has BERT's keys (other defaults),
// DistilBertConfig its own names (`dim`, `n_layers`, `n_heads`, `hidden_dim`, `activation`, `dropout`, …;
// transformers v5.24.0 models/distilbert/configuration_distilbert.py).

import TensorCore
import ModelCatalog

package enum BertConfigError: Error, CustomStringConvertible, Equatable {
    case notAnObject
    case wrongType(key: String, expected: String)
    case invalid(key: String, reason: String)
    case unsupported(key: String, value: String, supported: String)
    case family(ModelFamilyError)

    package var description: String {
        switch self {
        case .family(let error): return error.description
        case .notAnObject: return "config must be a JSON object"
        case .wrongType(let key, let expected): return "'\(key)' must be \(expected)"
        case .invalid(let key, let reason): return "'\(key)' \(reason)"
        case .unsupported(let key, let value, let supported):
            return "'\(key)' is '\(value)', which is not supported (supported: \(supported))"
        }
    }
}

/// The activation a config names in `hidden_act`.
package enum Activation: String, Sendable {
    /// Exact GELU, 0.5·x·(1 + erf(x/√2)) — transformers' "gelu".
    case gelu
    /// The tanh approximation ("gelu_new", "gelu_pytorch_tanh").
    case geluTanh = "gelu_new"
    case relu

    init?(configName: String) {
        switch configName {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }
}

package enum ProblemType: String, Sendable, CaseIterable {
    case regression
    case singleLabelClassification = "single_label_classification"
    case multiLabelClassification = "multi_label_classification"
}

package struct BertConfig: Sendable {
    /// The model family `model_type` names; it decides the parameter names, embeddings and heads (ModelFamily).
    package var family: ModelFamily = .bert
    package var vocabSize = 30522
    package var hiddenSize = 768
    package var numHiddenLayers = 12
    package var numAttentionHeads = 12
    package var intermediateSize = 3072
    package var hiddenAct: Activation = .gelu
    package var hiddenDropoutProb: Float = 0.1
    package var attentionProbsDropoutProb: Float = 0.1
    package var maxPositionEmbeddings = 512
    package var typeVocabSize = 2
    package var initializerRange: Float = 0.02
    package var layerNormEps: Float = 1e-12
    /// nil (`"pad_token_id": null`) → no padding row: the word embedding has no `padding_idx`.
    package var padTokenId: Int? = 0
    /// nil → classifier heads use `hiddenDropoutProb`.
    package var classifierDropout: Float?
    /// Index → label name; `LABEL_i` when the config has none. Its count is `num_labels`.
    package var id2label: [String] = ["LABEL_0", "LABEL_1"]
    package var problemType: ProblemType?
    package var architectures: [String] = []
    package var tieWordEmbeddings = true
    /// DistilBERT: dropout before `qa_outputs` (`qa_dropout`) and before the sequence classifier
    /// (`seq_classif_dropout`); position embeddings fixed sinusoids, not trained (`sinusoidal_pos_embds`).
    package var qaDropout: Float = 0.1
    package var sequenceClassifierDropout: Float = 0.2
    package var sinusoidalPositions = false
    /// The whole JSON object as read, for keys this type does not model.
    package var raw = JSONObject()

    package init() {}

    package var numLabels: Int { id2label.count }
    package var headDimension: Int { hiddenSize / numAttentionHeads }
    /// The longest sequence the position table covers: RoBERTa's positions start after the padding token, so
    /// 514 positions with `pad_token_id` 1 hold 512 tokens.
    package var maxSequenceLength: Int {
        family.positionsFollowPadding ? maxPositionEmbeddings - (padTokenId ?? 0) - 1 : maxPositionEmbeddings
    }
    package var label2id: [String: Int] { Dictionary(id2label.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }) }
    package var effectiveClassifierDropout: Float { classifierDropout ?? hiddenDropoutProb }

    /// The dropout before `head`'s classifier (after its pooler), as each family's head applies it; nil where the
    /// head has none (BERT's and RoBERTa's QA outputs, every masked-LM head).
    package func headDropout(_ head: BertHead) -> Float? {
        switch (family, head) {
        case (.distilbert, .sequenceClassification): return sequenceClassifierDropout
        case (.distilbert, .tokenClassification): return hiddenDropoutProb
        case (.distilbert, .questionAnswering): return qaDropout
        case (_, .sequenceClassification), (_, .tokenClassification): return effectiveClassifierDropout
        default: return nil
        }
    }

    /// A config of `family` with transformers' defaults for it (RobertaConfig: vocabulary 50265, `pad_token_id` 1;
    /// DistilBertConfig: 6 layers, fixed LayerNorm epsilon 1e-12, no token types).
    package init(family: ModelFamily) {
        self.family = family
        switch family {
        case .bert: break
        case .roberta:
            vocabSize = 50265
            padTokenId = 1
        case .distilbert:
            numHiddenLayers = 6
            typeVocabSize = 0
        }
    }

    /// Reads `config.json` text. Missing fields take transformers' defaults.
    package init(json: JSONValue) throws(BertConfigError) {
        guard let object = json.objectValue else { throw .notAnObject }
        do { self.init(family: try ModelFamily.identify(config: json)) } catch { throw .family(error) }
        raw = object

        // transformers 5.24's BertConfig is a strict dataclass: an `int` field takes only a JSON integer (not
        // 64.0, not true, not null), a `float` field only a JSON number written with a fraction or exponent,
        // a `float | int` field either; `| None` fields also take null.
        func integer(_ key: String, _ item: JSONValue) throws(BertConfigError) -> Int {
            guard case .number(let number) = item, let value = number.intValue else { throw .wrongType(key: key, expected: "an integer") }
            return value
        }
        func int(_ key: String, _ value: inout Int) throws(BertConfigError) {
            guard let item = object[key] else { return }
            value = try integer(key, item)
        }
        func float(_ key: String, _ value: inout Float, acceptsInteger: Bool) throws(BertConfigError) {
            guard let item = object[key] else { return }
            guard case .number(let number) = item, acceptsInteger || !number.isInteger else {
                throw .wrongType(key: key, expected: acceptsInteger ? "a number" : "a floating-point number (such as 1e-12 or 0.02)")
            }
            value = Float(number.doubleValue)
        }
        // The family's key for a field (configKey); DistilBertConfig's attribute_map also takes three BERT names.
        let family = self.family
        func key(_ bertKey: String) -> String {
            let own = family.configKey(bertKey)
            return object[own] == nil && object[bertKey] != nil ? bertKey : own
        }
        try int("vocab_size", &vocabSize)
        try int(key("hidden_size"), &hiddenSize)
        try int(key("num_hidden_layers"), &numHiddenLayers)
        try int(key("num_attention_heads"), &numAttentionHeads)
        try int(configKey("intermediate_size"), &intermediateSize)
        try int("max_position_embeddings", &maxPositionEmbeddings)
        if family.hasTokenTypes { try int("type_vocab_size", &typeVocabSize) }
        if let item = object["pad_token_id"] { padTokenId = item.isNull ? nil : try integer("pad_token_id", item) }
        try float(configKey("hidden_dropout_prob"), &hiddenDropoutProb, acceptsInteger: true)
        try float(configKey("attention_probs_dropout_prob"), &attentionProbsDropoutProb, acceptsInteger: true)
        try float("initializer_range", &initializerRange, acceptsInteger: false)
        if family == .distilbert {
            try float("qa_dropout", &qaDropout, acceptsInteger: true)
            try float("seq_classif_dropout", &sequenceClassifierDropout, acceptsInteger: true)
            if let item = object["sinusoidal_pos_embds"] {
                guard let value = item.boolValue else { throw .wrongType(key: "sinusoidal_pos_embds", expected: "true or false") }
                sinusoidalPositions = value
            }
        } else {
            try float("layer_norm_eps", &layerNormEps, acceptsInteger: false)   // DistilBERT's LayerNorms fix 1e-12
        }
        if let item = object["classifier_dropout"], !item.isNull {
            guard let number = item.doubleValue else { throw .wrongType(key: "classifier_dropout", expected: "a number or null") }
            classifierDropout = Float(number)
        }
        if let item = object[configKey("hidden_act")] {
            guard let name = item.stringValue else { throw .wrongType(key: configKey("hidden_act"), expected: "a string") }
            guard let activation = Activation(configName: name) else {
                throw .unsupported(key: configKey("hidden_act"), value: name, supported: "gelu, gelu_new, gelu_pytorch_tanh, relu")
            }
            hiddenAct = activation
        }
        if let item = object["position_embedding_type"], !item.isNull, item.stringValue != "absolute" {
            throw .unsupported(key: "position_embedding_type", value: item.stringValue ?? JSONWriter.compact(item), supported: "absolute")
        }
        if let item = object["problem_type"], !item.isNull {
            guard let name = item.stringValue, let type = ProblemType(rawValue: name) else {
                throw .unsupported(key: "problem_type", value: JSONWriter.compact(item),
                                   supported: "regression, single_label_classification, multi_label_classification")
            }
            problemType = type
        }
        if let item = object["architectures"], !item.isNull {
            guard let names = item.arrayValue?.compactMap(\.stringValue) else { throw .wrongType(key: "architectures", expected: "a list of strings") }
            architectures = names
        }
        if let item = object["tie_word_embeddings"] {
            guard let value = item.boolValue else { throw .wrongType(key: "tie_word_embeddings", expected: "true or false") }
            tieWordEmbeddings = value
        }
        try readLabels(object)
        if problemType == .singleLabelClassification && numLabels == 1 {
            throw .invalid(key: "problem_type", reason: "single_label_classification needs num_labels > 1 (use regression for one output)")
        }
        try validate()
    }

    /// `num_labels` is derived as transformers does: a `num_labels` key wins (regenerating `LABEL_i`
    /// names when `id2label` disagrees), else `len(id2label)`, else 2.
    private mutating func readLabels(_ object: JSONObject) throws(BertConfigError) {
        var labels: [String]? = nil
        if let item = object["id2label"], !item.isNull {
            guard let map = item.objectValue else { throw .wrongType(key: "id2label", expected: "an object") }
            var byIndex: [Int: String] = [:]
            for (key, value) in map.members {
                guard let index = Int(key), index >= 0 else { throw .invalid(key: "id2label", reason: "has a non-integer key '\(key)'") }
                guard let name = value.stringValue else { throw .wrongType(key: "id2label", expected: "an object of strings") }
                byIndex[index] = name
            }
            guard byIndex.keys.sorted() == Array(0..<byIndex.count) else {
                throw .invalid(key: "id2label", reason: "must number its labels 0…\(byIndex.count - 1)")
            }
            labels = (0..<byIndex.count).map { byIndex[$0]! }
        }
        if let item = object["num_labels"] {
            guard case .number(let number) = item, let count = number.intValue, count > 0 else {
                throw .wrongType(key: "num_labels", expected: "a positive integer")
            }
            guard count <= Self.maxLabels else {
                throw .invalid(key: "num_labels", reason: "(\(count)) is more than bertkit supports (\(Self.maxLabels))")
            }
            if labels?.count != count { labels = (0..<count).map { "LABEL_\($0)" } }
        }
        if let labels, !labels.isEmpty { id2label = labels }
    }

    package func validate() throws(BertConfigError) {
        var sizes = [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                     ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                     ("max_position_embeddings", maxPositionEmbeddings)]
        if family.hasTokenTypes { sizes.append(("type_vocab_size", typeVocabSize)) }
        for (key, value) in sizes where value <= 0 {
            throw .invalid(key: configKey(key), reason: "must be positive, not \(value)")
        }
        if family.positionsFollowPadding && padTokenId == nil {
            throw .invalid(key: "pad_token_id", reason: "must be set: RoBERTa numbers positions after the padding token")
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw .invalid(key: configKey("hidden_size"), reason: "(\(hiddenSize)) must be a multiple of \(configKey("num_attention_heads")) (\(numAttentionHeads))")
        }
        if let padTokenId, padTokenId < 0 || padTokenId >= vocabSize {
            throw .invalid(key: "pad_token_id", reason: "must be a token id below vocab_size or null")
        }
        try checkParameterMemory()
    }

    /// A config is read before any weight: sizes that would need more memory than the machine has (a hostile or
    /// mistyped `max_position_embeddings: 1000000000`) are refused here, before anything is allocated, naming the
    /// size that costs most. The count is an upper bound over every head (pooler, classifier and masked-LM head).
    package func checkParameterMemory(limit: Double = Double(SystemMemory.physicalBytes)) throws(BertConfigError) {
        let V = Double(vocabSize), H = Double(hiddenSize), I = Double(intermediateSize), L = Double(numHiddenLayers)
        let perLayer = 4 * H * H + 2 * H * I + I + 9 * H
        let terms: [(key: String, count: Double)] = [
            ("vocab_size", V * H + V), ("max_position_embeddings", Double(maxPositionEmbeddings) * H),
            ("type_vocab_size", Double(typeVocabSize) * H),
            (L > 1000 ? "num_hidden_layers" : (2 * H * I > 4 * H * H ? "intermediate_size" : "hidden_size"), L * perLayer),
            ("num_labels", Double(numLabels) * (H + 1)), ("hidden_size", 2 * H * H + 6 * H),
        ]
        let bytes = 4 * terms.reduce(0) { $0 + $1.count }
        guard bytes > limit else { return }
        let costliest = terms.max { $0.count < $1.count }!
        throw .invalid(key: costliest.key, reason: "makes the model's float32 parameters alone \(SystemMemory.describe(bytes)), "
                       + "more than this machine's memory (\(SystemMemory.describe(limit)))")
    }

    /// The family's name for a BERT config key (`ModelFamily.configKey`).
    package func configKey(_ bertKey: String) -> String { family.configKey(bertKey) }

    /// The most labels a config may declare (`num_labels` makes that many names before anything else is checked).
    static let maxLabels = 1 << 20

    /// `config.json` as transformers 5.24 writes it (`json.dumps(indent=2, sort_keys=True) + "\n"`), keeping
    /// unknown keys. `architecture` sets `architectures`. Labels are written as transformers does:
    /// omitted for the default two `LABEL_i` labels.
    package func jsonText(architecture: String?) -> String {
        var object = raw
        func set(_ key: String, _ value: JSONValue) { object.set(configKey(key), value) }
        set("model_type", .string(family.rawValue))
        if let architecture { set("architectures", [.string(architecture)]) }
        set("vocab_size", .int(vocabSize))
        set("hidden_size", .int(hiddenSize))
        set("num_hidden_layers", .int(numHiddenLayers))
        set("num_attention_heads", .int(numAttentionHeads))
        set("intermediate_size", .int(intermediateSize))
        let activationKey = configKey("hidden_act")
        set("hidden_act", .string(hiddenAct == .gelu ? "gelu" : hiddenAct == .relu ? "relu" : (raw[activationKey]?.stringValue ?? "gelu_new")))
        set("hidden_dropout_prob", .double(hiddenDropoutProb.configDouble))
        set("attention_probs_dropout_prob", .double(attentionProbsDropoutProb.configDouble))
        set("max_position_embeddings", .int(maxPositionEmbeddings))
        set("initializer_range", .double(initializerRange.configDouble))
        set("pad_token_id", padTokenId.map { .int($0) } ?? .null)
        if family == .distilbert {
            set("qa_dropout", .double(qaDropout.configDouble))
            set("seq_classif_dropout", .double(sequenceClassifierDropout.configDouble))
            set("sinusoidal_pos_embds", .bool(sinusoidalPositions))
        } else {
            set("type_vocab_size", .int(typeVocabSize))
            set("layer_norm_eps", .double(layerNormEps.configDouble))
            set("classifier_dropout", classifierDropout.map { .double($0.configDouble) } ?? .null)
        }
        set("problem_type", problemType.map { .string($0.rawValue) } ?? .null)
        set("tie_word_embeddings", .bool(tieWordEmbeddings))
        object.members.removeAll { $0.key == "num_labels" || $0.key == "id2label" || $0.key == "label2id" }
        if id2label != ["LABEL_0", "LABEL_1"] {
            set("id2label", .object(JSONObject(id2label.enumerated().map { (String($0), .string($1)) })))
            set("label2id", .object(JSONObject(id2label.enumerated().map { ($1, .int($0)) })))
        }
        return JSONWriter.pretty(.object(object)) + "\n"
    }
}

extension Float {
    /// The float's shortest decimal as a double (0.1, not 0.10000000149011612): configs hold decimal
    /// literals, and this writes them back as they were read.
    var configDouble: Double { Double(description) ?? Double(self) }
}
