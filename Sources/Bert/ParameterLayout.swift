// The one table of parameters: Hugging Face names, shapes and offsets into a single flat float buffer.
// Gradients and AdamW moments use the same layout, so the optimizer is one loop over one buffer and
// weight-decay exclusion is a mask over it (STYLE.md, after llm.c). Query, key and value of a layer sit
// next to each other so one GEMM computes all three projections.

public struct ParameterSpec: Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// transformers' Trainer excludes biases and LayerNorm weights from weight decay.
    public let decays: Bool
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
        wordEmbeddings = add(p + "embeddings.word_embeddings.weight", [V, H])
        positionEmbeddings = add(p + "embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, H])
        tokenTypeEmbeddings = add(p + "embeddings.token_type_embeddings.weight", [config.typeVocabSize, H])
        embeddingNormWeight = add(p + "embeddings.LayerNorm.weight", [H])
        embeddingNormBias = add(p + "embeddings.LayerNorm.bias", [H])
        for i in 0..<config.numHiddenLayers {
            let l = p + "encoder.layer.\(i)."
            let qkvWeight = add(l + "attention.self.query.weight", [H, H])
            _ = add(l + "attention.self.key.weight", [H, H])
            _ = add(l + "attention.self.value.weight", [H, H])
            let qkvBias = add(l + "attention.self.query.bias", [H])
            _ = add(l + "attention.self.key.bias", [H])
            _ = add(l + "attention.self.value.bias", [H])
            layers.append(LayerOffsets(
                qkvWeight: qkvWeight, qkvBias: qkvBias,
                attentionOutputWeight: add(l + "attention.output.dense.weight", [H, H]),
                attentionOutputBias: add(l + "attention.output.dense.bias", [H]),
                attentionNormWeight: add(l + "attention.output.LayerNorm.weight", [H]),
                attentionNormBias: add(l + "attention.output.LayerNorm.bias", [H]),
                intermediateWeight: add(l + "intermediate.dense.weight", [I, H]),
                intermediateBias: add(l + "intermediate.dense.bias", [I]),
                outputWeight: add(l + "output.dense.weight", [H, I]),
                outputBias: add(l + "output.dense.bias", [H]),
                outputNormWeight: add(l + "output.LayerNorm.weight", [H]),
                outputNormBias: add(l + "output.LayerNorm.bias", [H])))
        }
        if head.hasPooler {
            poolerWeight = add(p + "pooler.dense.weight", [H, H])
            poolerBias = add(p + "pooler.dense.bias", [H])
        }
        switch head {
        case .base: break
        case .sequenceClassification, .tokenClassification:
            classifierWeight = add("classifier.weight", [config.numLabels, H])
            classifierBias = add("classifier.bias", [config.numLabels])
        case .questionAnswering:
            classifierWeight = add("qa_outputs.weight", [2, H])
            classifierBias = add("qa_outputs.bias", [2])
        case .maskedLM:
            lmBias = add("cls.predictions.bias", [V])
            lmTransformWeight = add("cls.predictions.transform.dense.weight", [H, H])
            lmTransformBias = add("cls.predictions.transform.dense.bias", [H])
            lmNormWeight = add("cls.predictions.transform.LayerNorm.weight", [H])
            lmNormBias = add("cls.predictions.transform.LayerNorm.bias", [H])
        }
    }

    private mutating func add(_ name: String, _ shape: [Int]) -> Int {
        let offset = count
        let lower = name.lowercased()
        let decays = !(lower.contains("bias") || lower.contains("layernorm"))
        indexByName[name] = specs.count
        specs.append(ParameterSpec(name: name, shape: shape, offset: offset, decays: decays))
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
