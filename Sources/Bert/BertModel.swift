// A BERT encoder with one task head: its config, its parameter table and the flat parameter buffer.
// The forward pass is in BertForward.swift, the backward beside it in BertBackward.swift.

package final class BertModel: @unchecked Sendable {
    package let config: BertConfig
    package let head: BertHead
    package let layout: ParameterLayout
    package let parameters: FloatBuffer
    /// The encoder's linear layers packed once for inference in one precision (nil: the forward pass multiplies
    /// by `parameters` through OpenBLAS, as training needs). Training never uses it.
    package private(set) var packedEncoder: PackedEncoderWeights?

    /// Packs the encoder's linear layers for inference in `precision` from the parameters (nil or fp32: none;
    /// fp32 multiplies through OpenBLAS, see `PackedEncoderWeights.packs`). Call after the weights are final; the
    /// packed copy does not follow later changes to `parameters`.
    package func prepare(precision: Precision?) {
        packedEncoder = PackedEncoderWeights.packs(precision) ? PackedEncoderWeights(model: self, precision: precision!) : nil
        packedEncoder?.packMissing(from: self)
    }

    /// Before loading a checkpoint for inference in `precision`: the loader (BertCheckpointMapping) then packs
    /// each encoder linear weight as it reads it, without storing it in `parameters` — those parameters stay
    /// zero and cost no memory (FloatBuffer), so such a model is for inference only; `finishPacking()` after
    /// the load packs whatever the checkpoint did not hold. nil: load into `parameters` as usual.
    package func beginPacking(precision: Precision?) {
        packedEncoder = PackedEncoderWeights.packs(precision) ? PackedEncoderWeights(model: self, precision: precision!) : nil
    }

    /// Packs the encoder weights the load did not (those it initialised); see `beginPacking(precision:)`.
    package func finishPacking() { packedEncoder?.packMissing(from: self) }

    /// The precision the forward pass runs in.
    package var precision: Precision { packedEncoder?.precision ?? .fp32 }

    /// A model with all parameters zero (load or initialise them next).
    package init(config: BertConfig, head: BertHead) {
        self.config = config
        self.head = head
        layout = ParameterLayout(config: config, head: head)
        parameters = FloatBuffer(count: layout.count)
    }

    /// The transformers class this model is (`BertForSequenceClassification`, `RobertaForMaskedLM`, …).
    package var architecture: String { config.family.className(for: head) }

    /// Whether the model has a pooler whose output transformers returns as `pooler_output` (BertModel, RobertaModel,
    /// the BERT classes built with one), as opposed to a classifier's own dense layer.
    package var hasPoolerOutput: Bool { config.family.pooler(for: head)?.isPoolerOutput ?? false }

    /// Pointer to the parameter at `offset` of the layout.
    @inline(__always) package func p(_ offset: Int) -> UnsafeMutablePointer<Float> { parameters.pointer + offset }

    /// The values of one named parameter (tests, export).
    package func values(of name: String) -> [Float]? {
        layout.spec(named: name).map { parameters.array(offset: $0.offset, count: $0.count) }
    }

    /// Initialises every parameter as transformers' `_init_weights` does: Linear and Embedding weights
    /// ~ N(0, initializer_range), the padding row of the word embeddings zero, biases 0, LayerNorm 1 / 0.
    package func initialiseAll(seed: UInt64) {
        initialise(names: layout.specs.map(\.name), seed: seed)
    }

    /// Initialises only the named parameters (a new head on a pretrained encoder).
    package func initialise(names: [String], seed: UInt64) {
        var generator = NormalGenerator(seed: seed)
        for name in names {
            guard let spec = layout.spec(named: name) else { continue }
            let values = p(spec.offset)
            switch spec.kind {
            case .normWeight:
                values.update(repeating: 1, count: spec.count)
            case .bias, .normBias:
                values.update(repeating: 0, count: spec.count)
            case .linearWeight, .embedding, .wordEmbedding:
                for i in 0..<spec.count { values[i] = Float(generator.next()) * config.initializerRange }
                if spec.kind == .wordEmbedding, let padTokenId = config.padTokenId {
                    (values + padTokenId * config.hiddenSize).update(repeating: 0, count: config.hiddenSize)
                }
            }
        }
    }
}

/// Standard normal samples (Box–Muller over SplitMix64), reproducible from a seed.
package struct NormalGenerator {
    private var state: UInt64
    private var spare: Double?

    package init(seed: UInt64) { state = seed }

    package mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix64(state)
    }

    /// Uniform in (0, 1).
    package mutating func nextUniform() -> Double { (Double(nextUInt64() >> 11) + 0.5) / 9007199254740992.0 }

    package mutating func next() -> Double {
        if let value = spare { spare = nil; return value }
        let u = nextUniform(), v = nextUniform()
        let radius = (-2 * log(u)).squareRoot()
        spare = radius * sin(2 * Double.pi * v)
        return radius * cos(2 * Double.pi * v)
    }
}

#if canImport(Glibc)
import Glibc
#endif

import TensorCore

extension BertModel {
    /// The parameters as a state dict under Hugging Face names (float32 copies), in the order
    /// transformers' `state_dict()` lists them — what `model.safetensors` holds. Tied decoder copies are
    /// left out, as `save_pretrained` leaves them out.
    package func stateDict() -> TensorStore {
        var store = TensorStore()
        for spec in layout.stateDictOrder {
            let bytes = UnsafeRawBufferPointer(start: parameters.pointer + spec.offset, count: spec.count * 4)
            store[spec.name] = Tensor(dtype: .f32, shape: spec.shape, copying: bytes)
        }
        store.metadata = ["format": "pt"]
        return store
    }
}
