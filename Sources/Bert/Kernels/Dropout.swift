// Inverted dropout with counter-based masks: whether element i of a site is kept is a hash of
// (seed, site, i), never stored. The forward and the backward regenerate the same mask, nothing is
// kept in memory between them, and a resumed run reproduces the masks from the step number alone.
// (torch's masks cannot be reproduced bit for bit — Docs/specs/transformers_training.md §6 — so
// golden training tests run with dropout off.)

package struct DropoutMask: Sendable {
    package let probability: Float
    /// Mixes the run seed, the optimizer step and the micro-batch.
    package let seed: UInt64
    /// Which dropout site (layer and position in the layer).
    package let site: UInt64
    /// The 32-bit key the per-element hash starts from.
    let key: UInt32
    let threshold: UInt32
    package let keepScale: Float
    /// Added to every element index: a data-parallel rank that computes rows `r…` of a micro-batch draws the mask
    /// elements those rows have in the whole micro-batch (row r's first element is `r ·` elements per row).
    package let offset: Int
    /// Packed training (TokenBatch.packedRows): the buffers hold only the real tokens' rows of `width` values, row r
    /// standing for padded row `rows[r]`; element i of such a buffer draws the padded layout's element, so a packed
    /// batch is dropped exactly as the padded one.
    package let packedRows: (rows: [Int], width: Int)?

    package init(probability: Float, seed: UInt64, site: UInt64, offset: Int = 0, packedRows: (rows: [Int], width: Int)? = nil) {
        self.probability = probability
        self.seed = seed
        self.site = site
        self.offset = offset
        self.packedRows = packedRows
        key = UInt32(truncatingIfNeeded: mix64(seed &+ site &* 0x9E37_79B9_7F4A_7C15))
        threshold = UInt32(min(Double(probability) * 4294967296.0, 4294967295.0))
        keepScale = probability < 1 ? 1 / (1 - probability) : 0
    }

    /// The padded layout's index of element `index` of a packed buffer (itself when nothing is packed).
    @inline(__always) func paddedIndex(_ index: Int) -> Int {
        guard let (rows, width) = packedRows else { return index }
        return rows[index / width] * width + index % width
    }

    /// True when element `index` survives (the C kernel's rule, for tests and scalar use).
    package func keeps(_ index: Int) -> Bool {
        var h = UInt32(truncatingIfNeeded: paddedIndex(index) + offset) &* 0x9E37_79B1 ^ key
        h ^= h >> 16
        h = h &* 0x85EB_CA6B
        h ^= h >> 13
        h = h &* 0xC2B2_AE35
        h ^= h >> 16
        return h >= threshold
    }

    /// values[i] ← values[i] · mask(first + i) / (1 − p), for i in 0..<count. Used by the forward on
    /// activations and by the backward on gradients (the same mask and scale).
    package func apply(_ values: UnsafeMutablePointer<Float>, count: Int, first: Int = 0) {
        Parallel.forEachRange(count, grain: 8192) { range in
            apply(to: values + range.lowerBound, out: values + range.lowerBound, count: range.count, first: first + range.lowerBound)
        }
    }

    /// out[i] = values[i] · mask(first + i) / (1 − p).
    package func apply(to values: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int, first: Int = 0) {
        guard let (rows, width) = packedRows else {
            return VectorKernels.dropout(out, values, count: count, first: offset + first, key: key, threshold: threshold, scale: keepScale)
        }
        // Row by row: each packed row's elements are contiguous in the padded layout too.
        var i = 0
        while i < count {
            let index = first + i, row = index / width, column = index % width, n = min(width - column, count - i)
            VectorKernels.dropout(out + i, values + i, count: n, first: offset + rows[row] * width + column, key: key,
                                  threshold: threshold, scale: keepScale)
            i += n
        }
    }

    /// This mask for buffers that hold only the rows `rows` of `width` values (packed training).
    package func packed(_ rows: [Int], width: Int) -> DropoutMask {
        DropoutMask(probability: probability, seed: seed, site: site, offset: offset, packedRows: (rows, width))
    }
}

/// Where dropout applies in one forward pass; nil members mean "no dropout" (inference, or p = 0).
package struct DropoutPlan: Sendable {
    /// The micro-batch's seed; every mask below derives from it.
    package var seed: UInt64
    package var embeddings: DropoutMask?
    package var attentionProbs: [DropoutMask?]
    package var attentionOutput: [DropoutMask?]
    package var ffnOutput: [DropoutMask?]
    /// Before the head's classifier (after its pooler); before DistilBERT's `qa_outputs`.
    package var classifier: DropoutMask?
    /// Before the pooler: RoBERTa's classification head drops the first token out before `classifier.dense`.
    package var poolerInput: DropoutMask? = nil
    /// The element offset of each LoRA adapter's input mask (a data-parallel shard's first row, see `DropoutMask.offset`).
    package var loraOffsets: [LoRAModuleKind: Int] = [:]
    /// Packed training: the padded row of each packed row, and the widths of the adapters' inputs (hidden, intermediate).
    var loraPacking: (rows: [Int], hidden: Int, intermediate: Int)? = nil

    /// A plan with these masks. Training makes its plans from the run's seed and step (Training's
    /// `DropoutPlan.training`); the model only applies them.
    package init(seed: UInt64, embeddings: DropoutMask?, attentionProbs: [DropoutMask?], attentionOutput: [DropoutMask?],
                ffnOutput: [DropoutMask?], classifier: DropoutMask?) {
        self.seed = seed
        self.embeddings = embeddings
        self.attentionProbs = attentionProbs
        self.attentionOutput = attentionOutput
        self.ffnOutput = ffnOutput
        self.classifier = classifier
    }

    package static func none(layers: Int) -> DropoutPlan {
        DropoutPlan(seed: 0, embeddings: nil, attentionProbs: Array(repeating: nil, count: layers),
                    attentionOutput: Array(repeating: nil, count: layers), ffnOutput: Array(repeating: nil, count: layers),
                    classifier: nil)
    }

    /// The mask of the LoRA adapter on (kind, layer), PEFT's `lora_dropout` on the adapter's input.
    package func lora(_ kind: LoRAModuleKind, layer: Int, probability: Float) -> DropoutMask? {
        guard probability > 0 else { return nil }
        let kinds: [LoRAModuleKind] = [.query, .key, .value, .attentionOutput, .intermediate, .output, .pooler]
        let mask = DropoutMask(probability: probability, seed: seed, site: UInt64(10_000 + 16 * layer + kinds.firstIndex(of: kind)!),
                               offset: loraOffsets[kind] ?? 0)
        // The pooler's adapter reads one padded row per sequence, never packed rows.
        guard let packing = loraPacking, kind != .pooler else { return mask }
        return mask.packed(packing.rows, width: kind == .output ? packing.intermediate : packing.hidden)
    }

    /// The plan for an encoder that runs over `packed` rows (the real tokens): the token-row sites inside the encoder
    /// (embeddings, attention and FFN outputs, the adapters' inputs) draw each packed row's padded mask; the attention
    /// probabilities are dropped by `Attention.packedForward` in their padded layout; the heads work on padded rows.
    package func packing(_ packed: PackedRows, hidden: Int, intermediate: Int) -> DropoutPlan {
        var plan = self
        plan.embeddings = embeddings?.packed(packed.rows, width: hidden)
        plan.attentionOutput = attentionOutput.map { $0?.packed(packed.rows, width: hidden) }
        plan.ffnOutput = ffnOutput.map { $0?.packed(packed.rows, width: hidden) }
        plan.loraPacking = (packed.rows, hidden, intermediate)
        return plan
    }
}

/// SplitMix64's finaliser: a bijective scramble of 64 bits.
@inline(__always) package func mix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
