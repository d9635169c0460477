// Every activation of one forward pass, in one buffer sized for a (batch, sequence) shape and reused
// between calls: no allocation per token or per layer in the hot path. Training keeps one slot of
// layer activations per layer (the backward needs them all); inference reuses a single slot.
//
// What training keeps per layer, and what it recomputes instead (bert-base, batch 16 × 128, per layer):
// kept — qkv (18.9 MB), attnCtx, attnResidual, ffnResidual (6.3 MB each), ffnPre (25.2 MB) and the
// LayerNorm statistics; recomputed in the backward into buffers shared by all layers — the attention
// probabilities (from Q and K, Attention.swift), ffnAct (GELU of ffnPre), and the two LayerNorm outputs
// attnNormOut and out (LayerNorm of attnResidual / ffnResidual: the same kernel on the same input gives
// the same floats). That is 63 MB per layer instead of 113 MB, for ~2% more time in the backward.

package struct LayerActivations {
    /// [B·T, 3H] query | key | value. (The attention probabilities are not kept: the backward recomputes
    /// them from Q and K — Attention.swift.)
    package let qkv: UnsafeMutablePointer<Float>
    package let attnCtx: UnsafeMutablePointer<Float>             // [B·T, H]    heads merged
    package let attnResidual: UnsafeMutablePointer<Float>        // [B·T, H]    input + dropout(dense(ctx)), before LayerNorm
    /// [B·T, H] LayerNorm(attnResidual). Shared by all layers; the backward recomputes it.
    package let attnNormOut: UnsafeMutablePointer<Float>
    package let attnNormMean: UnsafeMutablePointer<Float>        // [B·T]
    package let attnNormRstd: UnsafeMutablePointer<Float>        // [B·T]
    package let ffnPre: UnsafeMutablePointer<Float>              // [B·T, I]    before the activation
    /// [B·T, I] after the activation. Training keeps no copy per layer (the backward recomputes it from
    /// ffnPre into one shared buffer): this is the largest activation, and GELU is cheap to redo.
    package let ffnAct: UnsafeMutablePointer<Float>
    package let ffnResidual: UnsafeMutablePointer<Float>         // [B·T, H]    attnNormOut + dropout(dense(ffnAct))
    /// [B·T, H] the layer's output, LayerNorm(ffnResidual). Training alternates two buffers (layer l's input
    /// is still needed while it writes its output); the backward recomputes each layer's input from the
    /// previous layer's ffnResidual, overwriting them (read outputs before calling `backward`).
    package let out: UnsafeMutablePointer<Float>
    package let outMean: UnsafeMutablePointer<Float>             // [B·T]
    package let outRstd: UnsafeMutablePointer<Float>             // [B·T]
}

package final class BertWorkspace {
    package let config: BertConfig
    package let head: BertHead
    package let batch: Int
    package let sequence: Int
    package let keepsEveryLayer: Bool
    private let storage: FloatBuffer

    package let keyMask: UnsafeMutablePointer<Float>             // [B·T] 1 = token, 0 = padding
    package let embeddingSum: UnsafeMutablePointer<Float>        // [B·T, H] before LayerNorm
    package let embeddingMean: UnsafeMutablePointer<Float>       // [B·T]
    package let embeddingRstd: UnsafeMutablePointer<Float>       // [B·T]
    package let embeddingOut: UnsafeMutablePointer<Float>        // [B·T, H] after LayerNorm and dropout
    package let layers: [LayerActivations]
    package let pooled: UnsafeMutablePointer<Float>              // [B, H] tanh(dense(h[:,0])) (DistilBERT: ReLU)
    package let poolerInput: UnsafeMutablePointer<Float>         // [B, H] dropout(h[:,0]): RoBERTa's classification head
    package let headInput: UnsafeMutablePointer<Float>           // [B·T, H] dropout(pooled or sequence): the classifier's input
    package let logits: UnsafeMutablePointer<Float>              // [B, L] | [B·T, L] | [B·T, 2]
    package let lmTransformPre: UnsafeMutablePointer<Float>      // [B·T, H] masked-LM transform before the activation
    package let lmTransformAct: UnsafeMutablePointer<Float>      // [B·T, H]
    package let lmTransformOut: UnsafeMutablePointer<Float>      // [B·T, H] after LayerNorm
    package let lmNormMean: UnsafeMutablePointer<Float>          // [B·T]
    package let lmNormRstd: UnsafeMutablePointer<Float>          // [B·T]
    package let lmLogits: UnsafeMutablePointer<Float>            // [B·T, V], or [R, V] for `lmRows`
    /// The rows whose masked-LM logits `forward` computes, compacted into `lmLogits` (row k is sequence row
    /// `lmRows[k]`); nil: every row. Training and evaluation set the masked positions (`Labels.maskedRows`): the loss
    /// reads only those, and the decoder (H × V, 30,522 columns for bert-base-uncased's vocabulary) on every row was
    /// about half of a training step's arithmetic at 15 % masking — as transformers computes it, which gives the same
    /// loss and gradients.
    package var lmRows: [Int]? = nil
    /// Inference: run the encoder over the real tokens only (TokenBatch.packedRows), then lay the last hidden
    /// state out padded again, with zeros at padding positions; the heads run on that. The real tokens' outputs
    /// are the padded computation's, bit for bit (Attention.forward's realKeys); the padding positions' are not
    /// — leave this off where those are compared (parity with transformers). Training (packed batches): the
    /// encoder's activations hold the real tokens' rows only, the backward runs over them too, and the dropout masks
    /// are the padded layout's (DropoutPlan.packing); the gradients are the padded computation's wherever the loss
    /// ignores the padding positions (every head but question answering, whose logits span them).
    package var skipsPadding = false
    /// Mixed precision (training's `--precision bf16`): the encoder's four linear layers per block multiply in bf16
    /// with fp32 sums, forward and backward (BF16Linear); everything else, and every value kept, stays fp32. The forward
    /// of a model packed for inference (`BertModel.prepare(precision:)`) uses its packed weights whatever this says;
    /// such a model is not trained.
    package var bf16Products = false
    /// The decoder's input rows for `lmRows`, gathered by `forward` and read again by `backward`.
    var lmRowInput: [Float] = []
    package let scratch: UnsafeMutablePointer<Float>             // attention's per-task scratch: scratchSlots × 2·T·T
    package let scratchSlots: Int

    /// Parallel attention tasks a workspace holds scratch for.
    static var scratchSlots: Int { Parallel.threadCount }

    /// Floats a workspace of this shape needs.
    package static func requiredCount(config: BertConfig, head: BertHead, batch: Int, sequence: Int, keepsEveryLayer: Bool) -> Int {
        var carver = BufferCarver.counting
        _ = carve(&carver, config: config, head: head, batch: batch, sequence: sequence, keepsEveryLayer: keepsEveryLayer)
        return carver.count
    }

    /// `storage`, when given and large enough, is reused (a training run pads every batch to its own
    /// length; one buffer sized for the longest serves them all).
    package init(config: BertConfig, head: BertHead, batch: Int, sequence: Int, keepsEveryLayer: Bool, storage reuse: FloatBuffer? = nil) {
        self.config = config
        self.head = head
        self.batch = batch
        self.sequence = sequence
        self.keepsEveryLayer = keepsEveryLayer
        let total = Self.requiredCount(config: config, head: head, batch: batch, sequence: sequence, keepsEveryLayer: keepsEveryLayer)
        storage = reuse.flatMap { $0.count >= total ? $0 : nil } ?? FloatBuffer(count: total)
        var carver = BufferCarver(storage)
        let r = Self.carve(&carver, config: config, head: head, batch: batch, sequence: sequence, keepsEveryLayer: keepsEveryLayer)
        keyMask = r.keyMask
        embeddingSum = r.embeddingSum
        embeddingMean = r.embeddingMean
        embeddingRstd = r.embeddingRstd
        embeddingOut = r.embeddingOut
        layers = r.layers
        pooled = r.pooled
        poolerInput = r.poolerInput
        headInput = r.headInput
        logits = r.logits
        scratchSlots = r.scratchSlots
        scratch = r.scratch
        lmTransformPre = r.lmTransformPre
        lmTransformAct = r.lmTransformAct
        lmTransformOut = r.lmTransformOut
        lmNormMean = r.lmNormMean
        lmNormRstd = r.lmNormRstd
        lmLogits = r.lmLogits
    }

    /// Every region of a workspace, in buffer order.
    private struct Regions {
        var keyMask, embeddingSum, embeddingMean, embeddingRstd, embeddingOut: UnsafeMutablePointer<Float>
        var layers: [LayerActivations]
        var pooled, poolerInput, headInput, logits, scratch: UnsafeMutablePointer<Float>
        var scratchSlots: Int
        var lmTransformPre, lmTransformAct, lmTransformOut, lmNormMean, lmNormRstd, lmLogits: UnsafeMutablePointer<Float>
    }

    /// Floats of `logits` per example: [B, L] for the sequence classifier, [B·T, L] for token classification,
    /// [B·T, 2] for question answering (0 for the masked LM, whose logits are `lmLogits`, and the bare model).
    package static func logitsPerExample(config: BertConfig, head: BertHead, sequence: Int) -> Int {
        switch head {
        case .sequenceClassification: return config.numLabels
        case .tokenClassification: return sequence * config.numLabels
        case .questionAnswering: return sequence * 2
        case .maskedLM, .base: return 0
        }
    }

    /// The one description of the workspace: what each region holds and how large it is.
    private static func carve(_ carver: inout BufferCarver, config: BertConfig, head: BertHead, batch: Int, sequence: Int,
                              keepsEveryLayer: Bool) -> Regions {
        let BT = batch * sequence, H = config.hiddenSize, I = config.intermediateSize
        let slots = keepsEveryLayer ? config.numHiddenLayers : 1
        let headWidth = max(config.numLabels, 2)
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { carver.take(n) }
        let keyMask = take(BT)
        let embeddingSum = take(BT * H)
        let embeddingMean = take(BT)
        let embeddingRstd = take(BT)
        let embeddingOut = take(BT * H)
        let sharedFFNAct = take(BT * I), sharedAttnNormOut = take(BT * H)
        let outputs = (0..<(keepsEveryLayer ? 2 : 1)).map { _ in take(BT * H) }
        let layers = (0..<slots).map { l in
            LayerActivations(qkv: take(BT * 3 * H), attnCtx: take(BT * H),
                             attnResidual: take(BT * H), attnNormOut: sharedAttnNormOut, attnNormMean: take(BT),
                             attnNormRstd: take(BT), ffnPre: take(BT * I), ffnAct: sharedFFNAct,
                             ffnResidual: take(BT * H), out: outputs[l % outputs.count], outMean: take(BT), outRstd: take(BT))
        }
        let pooled = take(batch * H)
        let poolerInput = take(batch * H)
        let headInput = take(BT * H)
        let logits = take(BT * headWidth)
        let scratchSlots = Self.scratchSlots
        let scratch = take(Attention.scratchCount(sequence: sequence, slots: scratchSlots))
        var r = Regions(keyMask: keyMask, embeddingSum: embeddingSum, embeddingMean: embeddingMean, embeddingRstd: embeddingRstd,
                        embeddingOut: embeddingOut, layers: layers, pooled: pooled, poolerInput: poolerInput, headInput: headInput, logits: logits,
                        scratch: scratch, scratchSlots: scratchSlots,
                        lmTransformPre: scratch, lmTransformAct: scratch, lmTransformOut: scratch,
                        lmNormMean: scratch, lmNormRstd: scratch, lmLogits: scratch)
        if head == .maskedLM {
            r.lmTransformPre = take(BT * H); r.lmTransformAct = take(BT * H); r.lmTransformOut = take(BT * H)
            r.lmNormMean = take(BT); r.lmNormRstd = take(BT); r.lmLogits = take(BT * config.vocabSize)
        }
        return r
    }

    /// The activation slot of layer `l`.
    package func layer(_ l: Int) -> LayerActivations { layers[keepsEveryLayer ? l : 0] }

    /// The input of layer `l`: the embeddings for layer 0, else the previous layer's output.
    package func layerInput(_ l: Int) -> UnsafeMutablePointer<Float> { l == 0 ? embeddingOut : layer(l - 1).out }

    /// The encoder's last hidden state [B·T, H].
    package var lastHiddenState: UnsafeMutablePointer<Float> { layer(config.numHiddenLayers - 1).out }

    /// Bytes held (for memory reports).
    package var byteCount: Int { storage.count * 4 }

    /// The underlying buffer, to hand to the next workspace.
    package var buffer: FloatBuffer { storage }
}

extension BertHead {
    /// Whether the head's loss reads the padding positions' outputs, so that a packed batch (BertWorkspace.skipsPadding)
    /// would change it: question answering's start/end softmax runs over every position of the padded window, as
    /// transformers' BertForQuestionAnswering does (no mask). The other heads read real tokens only (the first token,
    /// labelled tokens, masked tokens).
    package var lossReadsPadding: Bool { self == .questionAnswering }
}
