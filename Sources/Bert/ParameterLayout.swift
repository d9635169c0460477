// The one table of parameters: Hugging Face names, shapes and offsets into a single flat float buffer.
// Gradients and AdamW moments use the same layout, so the optimizer is one loop over one buffer and
// weight-decay exclusion is a mask over it (STYLE.md, after llm.c). Query, key and value of a layer sit
// next to each other so one GEMM computes all three projections.

/// What a parameter is. It decides the initialisation and whether weight decay applies, where matching the
/// name would (other families spell their norms `LayerNorm`, `sa_layer_norm`, `ln_1` …).
public enum ParameterKind: Sendable, Equatable {
    /// Token, position or type embeddings: N(0, initializer_range).
    case embedding
    /// The word embeddings: N(0, initializer_range), the padding token's row zero.
    case wordEmbedding
    /// A Linear layer's weight: N(0, initializer_range).
    case linearWeight
    /// A Linear layer's (or the masked-LM output's) bias: zero.
    case bias
    /// LayerNorm's scale: one.
    case normWeight
    /// LayerNorm's shift: zero.
    case normBias

    /// transformers' Trainer leaves biases and LayerNorm parameters out of weight decay
    /// (`get_decay_parameter_names`; Docs/specs/transformers_training.md, "Which parameters get weight decay").
    public var decays: Bool {
        switch self {
        case .embedding, .wordEmbedding, .linearWeight: return true
        case .bias, .normWeight, .normBias: return false
        }
    }
}

public struct ParameterSpec: Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let kind: ParameterKind
    public var count: Int { shape.reduce(1, *) }
    /// Whether weight decay applies (from the kind).
    public var decays: Bool { kind.decays }
}

/// Offsets of one encoder layer's parameters.
public struct LayerOffsets: Sendable {
    /// [3H, H]: query, key, value weights stacked (each [H, H], PyTorch's [out, in]).
    public let qkvWeight: Int
    /// [3H]
    public let qkvBias: Int
    public let attentionOutputWeight: Int, attentionOutputBias: Int      // [H, H], [H]
    public let attentionNormWeight: Int, attentionNormBias: Int          // [H]
    public let intermediateWeight: Int, intermediateBias: Int            // [I, H], [I]
    public let outputWeight: Int, outputBias: Int                        // [H, I], [H]
    public let outputNormWeight: Int, outputNormBias: Int                // [H]
}

public struct ParameterLayout: Sendable {
    public let config: BertConfig
    public let head: BertHead
    public private(set) var specs: [ParameterSpec] = []
    public private(set) var indexByName: [String: Int] = [:]
    public private(set) var count = 0

    // Embeddings.
    public private(set) var wordEmbeddings = 0            // [V, H]
    public private(set) var positionEmbeddings = 0        // [P, H]
    public private(set) var tokenTypeEmbeddings = 0       // [T, H]
    public private(set) var embeddingNormWeight = 0       // [H]
    public private(set) var embeddingNormBias = 0         // [H]
    public private(set) var layers: [LayerOffsets] = []
    // Pooler (BertModel, sequence classification).
    public private(set) var poolerWeight: Int? = nil      // [H, H]
    public private(set) var poolerBias: Int? = nil        // [H]
    // Classifier (sequence / token classification: [L, H], [L]) or QA outputs ([2, H], [2]).
    public private(set) var classifierWeight: Int? = nil
    public private(set) var classifierBias: Int? = nil
    // Masked-LM head: transform dense + LayerNorm, output bias; the decoder is the word embeddings.
    public private(set) var lmTransformWeight: Int? = nil // [H, H]
    public private(set) var lmTransformBias: Int? = nil   // [H]
    public private(set) var lmNormWeight: Int? = nil      // [H]
    public private(set) var lmNormBias: Int? = nil        // [H]
    public private(set) var lmBias: Int? = nil            // [V]

    public init(config: BertConfig, head: BertHead) {
        self.config = config
        self.head = head
        let H = config.hiddenSize, I = config.intermediateSize, V = config.vocabSize
        let p = head.namePrefix
        wordEmbeddings = add(p + "embeddings.word_embeddings.weight", [V, H], .wordEmbedding)
        positionEmbeddings = add(p + "embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, H], .embedding)
        tokenTypeEmbeddings = add(p + "embeddings.token_type_embeddings.weight", [config.typeVocabSize, H], .embedding)
        embeddingNormWeight = add(p + "embeddings.LayerNorm.weight", [H], .normWeight)
        embeddingNormBias = add(p + "embeddings.LayerNorm.bias", [H], .normBias)
        for i in 0..<config.numHiddenLayers {
            let l = p + "encoder.layer.\(i)."
            let qkvWeight = add(l + "attention.self.query.weight", [H, H], .linearWeight)
            _ = add(l + "attention.self.key.weight", [H, H], .linearWeight)
            _ = add(l + "attention.self.value.weight", [H, H], .linearWeight)
            let qkvBias = add(l + "attention.self.query.bias", [H], .bias)
            _ = add(l + "attention.self.key.bias", [H], .bias)
            _ = add(l + "attention.self.value.bias", [H], .bias)
            layers.append(LayerOffsets(
                qkvWeight: qkvWeight, qkvBias: qkvBias,
                attentionOutputWeight: add(l + "attention.output.dense.weight", [H, H], .linearWeight),
                attentionOutputBias: add(l + "attention.output.dense.bias", [H], .bias),
                attentionNormWeight: add(l + "attention.output.LayerNorm.weight", [H], .normWeight),
                attentionNormBias: add(l + "attention.output.LayerNorm.bias", [H], .normBias),
                intermediateWeight: add(l + "intermediate.dense.weight", [I, H], .linearWeight),
                intermediateBias: add(l + "intermediate.dense.bias", [I], .bias),
                outputWeight: add(l + "output.dense.weight", [H, I], .linearWeight),
                outputBias: add(l + "output.dense.bias", [H], .bias),
                outputNormWeight: add(l + "output.LayerNorm.weight", [H], .normWeight),
                outputNormBias: add(l + "output.LayerNorm.bias", [H], .normBias)))
        }
        if head.hasPooler {
            poolerWeight = add(p + "pooler.dense.weight", [H, H], .linearWeight)
            poolerBias = add(p + "pooler.dense.bias", [H], .bias)
        }
        switch head {
        case .base: break
        case .sequenceClassification, .tokenClassification:
            classifierWeight = add("classifier.weight", [config.numLabels, H], .linearWeight)
            classifierBias = add("classifier.bias", [config.numLabels], .bias)
        case .questionAnswering:
            classifierWeight = add("qa_outputs.weight", [2, H], .linearWeight)
            classifierBias = add("qa_outputs.bias", [2], .bias)
        case .maskedLM:
            lmBias = add("cls.predictions.bias", [V], .bias)
            lmTransformWeight = add("cls.predictions.transform.dense.weight", [H, H], .linearWeight)
            lmTransformBias = add("cls.predictions.transform.dense.bias", [H], .bias)
            lmNormWeight = add("cls.predictions.transform.LayerNorm.weight", [H], .normWeight)
            lmNormBias = add("cls.predictions.transform.LayerNorm.bias", [H], .normBias)
        }
    }

    private mutating func add(_ name: String, _ shape: [Int], _ kind: ParameterKind) -> Int {
        let offset = count
        indexByName[name] = specs.count
        specs.append(ParameterSpec(name: name, shape: shape, offset: offset, kind: kind))
        count = offset + shape.reduce(1, *)   // no padding: query, key and value must be contiguous
        return offset
    }

    public func spec(named name: String) -> ParameterSpec? { indexByName[name].map { specs[$0] } }

    /// The parameters in the order transformers' `state_dict()` lists them: each projection's weight then
    /// bias, and the masked-LM `cls.predictions.bias` before the transform (hf_conventions.md §3).
    public var stateDictOrder: [ParameterSpec] {
        var ordered: [ParameterSpec] = []
        for spec in specs {
            if spec.name.hasSuffix("attention.self.query.weight") {
                let stem = String(spec.name.dropLast("query.weight".count))
                for part in ["query", "key", "value"] {
                    ordered.append(self.spec(named: stem + part + ".weight")!)
                    ordered.append(self.spec(named: stem + part + ".bias")!)
                }
            } else if !spec.name.contains("attention.self.") {
                ordered.append(spec)
            }
        }
        if let index = ordered.firstIndex(where: { $0.name == "cls.predictions.bias" }) {
            let bias = ordered.remove(at: index)
            ordered.insert(bias, at: ordered.firstIndex { $0.name.hasPrefix("cls.") } ?? ordered.endIndex)
        }
        return ordered
    }

    /// Parameter names of the tied copies transformers keeps out of `model.safetensors`
    /// (`cls.predictions.decoder.weight` ≡ word embeddings, `cls.predictions.decoder.bias` ≡ `cls.predictions.bias`).
    public var tiedAliases: [(alias: String, target: String)] {
        head == .maskedLM
            ? [("cls.predictions.decoder.weight", head.namePrefix + "embeddings.word_embeddings.weight"),
               ("cls.predictions.decoder.bias", "cls.predictions.bias")]
            : []
    }
}
