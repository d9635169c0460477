// The one table of parameters: Hugging Face names, shapes and offsets into a single flat float buffer.
// Gradients and AdamW moments use the same layout, so the optimizer is one loop over one buffer and
// weight-decay exclusion is a mask over it (STYLE.md, after llm.c). Query, key and value of a layer sit
// next to each other so one GEMM computes all three projections.

/// What a parameter is. It decides the initialisation and whether weight decay applies, where matching the
/// name would (other families spell their norms `LayerNorm`, `sa_layer_norm`, `ln_1` …).
package enum ParameterKind: Sendable, Equatable {
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
    package var decays: Bool {
        switch self {
        case .embedding, .wordEmbedding, .linearWeight: return true
        case .bias, .normWeight, .normBias: return false
        }
    }
}

package struct ParameterSpec: Sendable {
    package let name: String
    package let shape: [Int]
    package let offset: Int
    package let kind: ParameterKind
    package var count: Int { shape.reduce(1, *) }
    /// Whether weight decay applies (from the kind).
    package var decays: Bool { kind.decays }
}

/// Offsets of one encoder layer's parameters.
package struct LayerOffsets: Sendable {
    /// [3H, H]: query, key, value weights stacked (each [H, H], PyTorch's [out, in]).
    package let qkvWeight: Int
    /// [3H]
    package let qkvBias: Int
    package let attentionOutputWeight: Int, attentionOutputBias: Int      // [H, H], [H]
    package let attentionNormWeight: Int, attentionNormBias: Int          // [H]
    package let intermediateWeight: Int, intermediateBias: Int            // [I, H], [I]
    package let outputWeight: Int, outputBias: Int                        // [H, I], [H]
    package let outputNormWeight: Int, outputNormBias: Int                // [H]
}

package struct ParameterLayout: Sendable {
    package let config: BertConfig
    package let head: BertHead
    package private(set) var specs: [ParameterSpec] = []
    package private(set) var indexByName: [String: Int] = [:]
    package private(set) var count = 0

    // Embeddings.
    package private(set) var wordEmbeddings = 0            // [V, H]
    package private(set) var positionEmbeddings = 0        // [P, H]
    /// nil: the family has no token types (DistilBERT).
    package private(set) var tokenTypeEmbeddings: Int? = nil // [T, H]
    package private(set) var embeddingNormWeight = 0       // [H]
    package private(set) var embeddingNormBias = 0         // [H]
    package private(set) var layers: [LayerOffsets] = []
    // Pooler (BertModel, sequence classification; ModelFamily.pooler names each family's).
    package private(set) var poolerWeight: Int? = nil      // [H, H]
    package private(set) var poolerBias: Int? = nil        // [H]
    // Classifier (sequence / token classification: [L, H], [L]) or QA outputs ([2, H], [2]).
    package private(set) var classifierWeight: Int? = nil
    package private(set) var classifierBias: Int? = nil
    // Masked-LM head: transform dense + LayerNorm, output bias; the decoder is the word embeddings.
    // (Named by the family: `cls.predictions.*`, `vocab_transform`/`vocab_layer_norm`/`vocab_projector`, `lm_head.*`.)
    package private(set) var lmTransformWeight: Int? = nil // [H, H]
    package private(set) var lmTransformBias: Int? = nil   // [H]
    package private(set) var lmNormWeight: Int? = nil      // [H]
    package private(set) var lmNormBias: Int? = nil        // [H]
    package private(set) var lmBias: Int? = nil            // [V]

    package init(config: BertConfig, head: BertHead) {
        self.config = config
        self.head = head
        let H = config.hiddenSize, I = config.intermediateSize, V = config.vocabSize
        let family = config.family, n = family.names, p = family.namePrefix(for: head)
        wordEmbeddings = add(p + n.wordEmbeddings + ".weight", [V, H], .wordEmbedding)
        positionEmbeddings = add(p + n.positionEmbeddings + ".weight", [config.maxPositionEmbeddings, H], .embedding)
        if let types = n.tokenTypeEmbeddings {
            tokenTypeEmbeddings = add(p + types + ".weight", [config.typeVocabSize, H], .embedding)
        }
        embeddingNormWeight = add(p + n.embeddingNorm + ".weight", [H], .normWeight)
        embeddingNormBias = add(p + n.embeddingNorm + ".bias", [H], .normBias)
        for i in 0..<config.numHiddenLayers {
            func name(_ part: String, _ parameter: String) -> String { p + n.layer(i, part) + "." + parameter }
            let qkvWeight = add(name(n.query, "weight"), [H, H], .linearWeight)
            _ = add(name(n.key, "weight"), [H, H], .linearWeight)
            _ = add(name(n.value, "weight"), [H, H], .linearWeight)
            let qkvBias = add(name(n.query, "bias"), [H], .bias)
            _ = add(name(n.key, "bias"), [H], .bias)
            _ = add(name(n.value, "bias"), [H], .bias)
            layers.append(LayerOffsets(
                qkvWeight: qkvWeight, qkvBias: qkvBias,
                attentionOutputWeight: add(name(n.attentionOutput, "weight"), [H, H], .linearWeight),
                attentionOutputBias: add(name(n.attentionOutput, "bias"), [H], .bias),
                attentionNormWeight: add(name(n.attentionNorm, "weight"), [H], .normWeight),
                attentionNormBias: add(name(n.attentionNorm, "bias"), [H], .normBias),
                intermediateWeight: add(name(n.intermediate, "weight"), [I, H], .linearWeight),
                intermediateBias: add(name(n.intermediate, "bias"), [I], .bias),
                outputWeight: add(name(n.output, "weight"), [H, I], .linearWeight),
                outputBias: add(name(n.output, "bias"), [H], .bias),
                outputNormWeight: add(name(n.outputNorm, "weight"), [H], .normWeight),
                outputNormBias: add(name(n.outputNorm, "bias"), [H], .normBias)))
        }
        if let pooler = family.pooler(for: head) {
            poolerWeight = add(pooler.module + ".weight", [H, H], .linearWeight)
            poolerBias = add(pooler.module + ".bias", [H], .bias)
        }
        switch head {
        case .base: break
        case .sequenceClassification, .tokenClassification:
            let classifier = head == .sequenceClassification ? n.sequenceClassifier : n.tokenClassifier
            classifierWeight = add(classifier + ".weight", [config.numLabels, H], .linearWeight)
            classifierBias = add(classifier + ".bias", [config.numLabels], .bias)
        case .questionAnswering:
            classifierWeight = add(n.qaOutputs + ".weight", [2, H], .linearWeight)
            classifierBias = add(n.qaOutputs + ".bias", [2], .bias)
        case .maskedLM:
            lmBias = add(n.lmBias, [V], .bias)
            lmTransformWeight = add(n.lmTransform + ".weight", [H, H], .linearWeight)
            lmTransformBias = add(n.lmTransform + ".bias", [H], .bias)
            lmNormWeight = add(n.lmNorm + ".weight", [H], .normWeight)
            lmNormBias = add(n.lmNorm + ".bias", [H], .normBias)
        }
    }

    private mutating func add(_ name: String, _ shape: [Int], _ kind: ParameterKind) -> Int {
        let offset = count
        indexByName[name] = specs.count
        specs.append(ParameterSpec(name: name, shape: shape, offset: offset, kind: kind))
        count = offset + shape.reduce(1, *)   // no padding: query, key and value must be contiguous
        return offset
    }

    package func spec(named name: String) -> ParameterSpec? { indexByName[name].map { specs[$0] } }

    /// The parameters in the order transformers' `state_dict()` lists them: each projection's weight then
    /// bias, and the masked-LM bias (`cls.predictions.bias`, `lm_head.bias`) before the transform when the family
    /// registers it first (hf_conventions.md §3); DistilBERT's `vocab_projector.bias` comes last.
    package var stateDictOrder: [ParameterSpec] {
        let n = config.family.names
        var ordered: [ParameterSpec] = []
        for spec in specs {
            if spec.name.hasSuffix(n.query + ".weight") {
                let stem = String(spec.name.dropLast((n.query + ".weight").count))
                for part in [n.query, n.key, n.value] {
                    ordered.append(self.spec(named: stem + part + ".weight")!)
                    ordered.append(self.spec(named: stem + part + ".bias")!)
                }
            } else if !isProjection(spec.name, n) {
                ordered.append(spec)
            }
        }
        if let bias = lmBias, let index = ordered.firstIndex(where: { $0.offset == bias }) {
            let spec = ordered.remove(at: index)
            if config.family.lmBiasPrecedesTransform {
                ordered.insert(spec, at: ordered.firstIndex { $0.offset == lmTransformWeight } ?? ordered.endIndex)
            } else {
                ordered.append(spec)
            }
        }
        return ordered
    }

    private func isProjection(_ name: String, _ n: FamilyNames) -> Bool {
        [n.query, n.key, n.value].contains { name.hasSuffix("." + $0 + ".weight") || name.hasSuffix("." + $0 + ".bias") }
    }

    /// Parameter names of the tied copies transformers keeps out of `model.safetensors`: the decoder's weight
    /// (≡ word embeddings) and bias (≡ the masked-LM bias), under the family's names.
    package var tiedAliases: [(alias: String, target: String)] {
        guard head == .maskedLM else { return [] }
        let n = config.family.names, p = config.family.namePrefix(for: head)
        var aliases = [(n.lmDecoderWeight, p + n.wordEmbeddings + ".weight")]
        if let decoderBias = n.lmDecoderBias { aliases.append((decoderBias, n.lmBias)) }
        return aliases
    }
}
