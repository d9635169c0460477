// The BERT backward pass: the forward (BertForward.swift) undone line by line in reverse, accumulating
// into a gradient buffer with the parameters' layout. Only `zeroGradients` clears gradients.

/// Gradient buffers for one (batch, sequence) shape, reused between steps.
package final class BertBackwardWorkspace {
    package let batch: Int, sequence: Int
    private let storage: FloatBuffer
    let g0: UnsafeMutablePointer<Float>, g1: UnsafeMutablePointer<Float>, g2: UnsafeMutablePointer<Float>   // [B·T, H]
    let dFFN: UnsafeMutablePointer<Float>       // [B·T, I]
    let dQKV: UnsafeMutablePointer<Float>       // [B·T, 3H]
    let dPooled: UnsafeMutablePointer<Float>    // [B, H]
    let scratch: UnsafeMutablePointer<Float>    // attention's per-task scratch: scratchSlots × 2·T·T
    let scratchSlots: Int
    /// ∂loss/∂logits, filled by the loss: [B, L] | [B·T, L] | [B·T, 2] | [B·T, V].
    package let dLogits: UnsafeMutablePointer<Float>

    package static func requiredCount(config: BertConfig, head: BertHead, batch: Int, sequence: Int) -> Int {
        var carver = BufferCarver.counting
        _ = carve(&carver, config: config, head: head, batch: batch, sequence: sequence)
        return carver.count
    }

    /// `storage`, when given and large enough, is reused.
    package init(config: BertConfig, head: BertHead, batch: Int, sequence: Int, storage reuse: FloatBuffer? = nil) {
        self.batch = batch
        self.sequence = sequence
        let total = Self.requiredCount(config: config, head: head, batch: batch, sequence: sequence)
        storage = reuse.flatMap { $0.count >= total ? $0 : nil } ?? FloatBuffer(count: total)
        var carver = BufferCarver(storage)
        (g0, g1, g2, dFFN, dQKV, dPooled, scratchSlots, scratch, dLogits) =
            Self.carve(&carver, config: config, head: head, batch: batch, sequence: sequence)
    }

    /// The one description of the gradient workspace, in buffer order.
    private static func carve(_ carver: inout BufferCarver, config: BertConfig, head: BertHead, batch: Int, sequence: Int)
        -> (g0: UnsafeMutablePointer<Float>, g1: UnsafeMutablePointer<Float>, g2: UnsafeMutablePointer<Float>,
            dFFN: UnsafeMutablePointer<Float>, dQKV: UnsafeMutablePointer<Float>, dPooled: UnsafeMutablePointer<Float>,
            scratchSlots: Int, scratch: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>) {
        let BT = batch * sequence, H = config.hiddenSize, I = config.intermediateSize
        let logitsWidth = head == .maskedLM ? config.vocabSize : max(config.numLabels, 2)
        let g0 = carver.take(BT * H), g1 = carver.take(BT * H), g2 = carver.take(BT * H)
        let dFFN = carver.take(BT * I), dQKV = carver.take(BT * 3 * H), dPooled = carver.take(batch * H)
        let slots = BertWorkspace.scratchSlots
        let scratch = carver.take(Attention.scratchCount(sequence: sequence, slots: slots))
        let dLogits = carver.take(BT * logitsWidth)
        return (g0, g1, g2, dFFN, dQKV, dPooled, slots, scratch, dLogits)
    }

    package var buffer: FloatBuffer { storage }
}

/// Where each parameter's gradient goes: a pointer per parameter offset, absent for frozen parameters.
package struct GradientTargets {
    private var pointers: [Int: UnsafeMutablePointer<Float>] = [:]

    package init() {}

    /// Every parameter except `excluding`, at its own offset in `buffer` (the parameters' layout).
    package init(layout: ParameterLayout, buffer: FloatBuffer, excluding: Set<String> = []) {
        for spec in layout.specs where !excluding.contains(spec.name) { pointers[spec.offset] = buffer.pointer + spec.offset }
    }

    package mutating func set(_ offset: Int, _ pointer: UnsafeMutablePointer<Float>) { pointers[offset] = pointer }

    package subscript(offset: Int) -> UnsafeMutablePointer<Float>? { pointers[offset] }
}

extension BertModel {
    /// The head's loss for `labels`, summed over its items (the caller divides by `normaliser`), and
    /// ∂(loss / normaliser)/∂logits into `bw.dLogits`. Call after `forward` with the same workspace.
    /// `wholeBatch`: when `labels` are one data-parallel rank's rows of a micro-batch, that micro-batch's labels —
    /// question answering's mean runs over the whole micro-batch's kept positions, not the rank's.
    package func loss(_ labels: Labels, workspace ws: BertWorkspace, backward bw: BertBackwardWorkspace,
                     normaliser: Double, wholeBatch: Labels? = nil) throws(LossError) -> Double {
        let B = ws.batch, T = ws.sequence, L = config.numLabels
        func expectCount(_ n: Int, _ expected: Int) throws(LossError) { if n != expected { throw .wrongCount(expected: expected, actual: n) } }
        switch (head, labels) {
        case (.sequenceClassification, .classes(let targets)):
            try expectCount(targets.count, B)
            return try Losses.crossEntropy(logits: ws.logits, dLogits: bw.dLogits, targets: targets, classes: L, normaliser: normaliser)
        case (.sequenceClassification, .regression(let targets)):
            try expectCount(targets.count, B * L)
            return Losses.meanSquaredError(logits: ws.logits, dLogits: bw.dLogits, targets: targets, normaliser: normaliser)
        case (.sequenceClassification, .multiLabel(let targets)):
            try expectCount(targets.count, B * L)
            return Losses.binaryCrossEntropyWithLogits(logits: ws.logits, dLogits: bw.dLogits, targets: targets, normaliser: normaliser)
        case (.tokenClassification, .tokenClasses(let targets)):
            try expectCount(targets.count, B * T)
            return try Losses.crossEntropy(logits: ws.logits, dLogits: bw.dLogits, targets: targets, classes: L, normaliser: normaliser)
        case (.maskedLM, .maskedTokens(let targets)):
            try expectCount(targets.count, B * T)
            // With `lmRows`, the logits are the scored rows only, in order.
            let scored = ws.lmRows.map { rows in rows.map { targets[$0] } } ?? targets
            return try Losses.crossEntropy(logits: ws.lmLogits, dLogits: bw.dLogits, targets: scored, classes: config.vocabSize,
                                           normaliser: normaliser)
        case (.questionAnswering, .spans(let starts, let ends)):
            try expectCount(starts.count, B)
            try expectCount(ends.count, B)
            // transformers clamps positions to [0, T] and ignores T; loss = (start + end) / 2, each a mean over the
            // positions it keeps. `normaliser` counts examples (B per micro-batch), so each loss's share of it is
            // scaled by the fraction of this batch's positions that count.
            let clamp = { (p: Int) -> Int in let q = min(max(p, 0), T); return q == T ? Labels.ignoreIndex : q }
            let startTargets = starts.map(clamp), endTargets = ends.map(clamp)
            var (wholeStarts, wholeEnds) = (startTargets, endTargets)
            if case .spans(let s, let e)? = wholeBatch { (wholeStarts, wholeEnds) = (s.map(clamp), e.map(clamp)) }
            func share(_ whole: [Int]) -> Double {
                2 * normaliser * Double(max(whole.count { $0 != Labels.ignoreIndex }, 1)) / Double(whole.count)
            }
            let startLogits = SpanLogits.column(ws.logits, rows: B * T, .start)
            let endLogits = SpanLogits.column(ws.logits, rows: B * T, .end)
            var dStart = startLogits, dEnd = endLogits
            let startShare = share(wholeStarts), endShare = share(wholeEnds)
            let startLoss = try Losses.crossEntropy(logits: startLogits, dLogits: &dStart, targets: startTargets, classes: T,
                                                    normaliser: startShare)
            let endLoss = try Losses.crossEntropy(logits: endLogits, dLogits: &dEnd, targets: endTargets, classes: T,
                                                  normaliser: endShare)
            SpanLogits.interleave(start: dStart, end: dEnd, into: bw.dLogits)
            return normaliser * (startLoss / startShare + endLoss / endShare)   // a sum: the caller divides by normaliser
        default:
            throw .wrongHead("labels of this kind do not fit a \(head.rawValue) model")
        }
    }

    /// Accumulates ∂loss/∂parameters from `bw.dLogits` into `gradients` (a buffer with the parameters'
    /// layout). `dropout` must be the plan the forward used. `frozen` parameters get no gradient.
    package func backward(_ batch: TokenBatch, workspace ws: BertWorkspace, backward bw: BertBackwardWorkspace,
                         gradients grads: FloatBuffer, dropout: DropoutPlan? = nil, frozen: Set<String> = []) {
        let targets = GradientTargets(layout: layout, buffer: grads, excluding: frozen)
        backward(batch, workspace: ws, backward: bw, gradients: targets, dropout: dropout)
    }

    /// The backward pass proper: gradients go wherever `gradients` points each parameter (nowhere for
    /// frozen ones, whose weight-gradient products are then skipped); `adapters` get theirs too.
    package func backward(_ batch: TokenBatch, workspace ws: BertWorkspace, backward bw: BertBackwardWorkspace,
                         gradients: GradientTargets, dropout: DropoutPlan? = nil,
                         adapters: (adapters: LoRAAdapters, gradients: FloatBuffer)? = nil) {
        precondition(ws.keepsEveryLayer, "the backward needs a workspace that keeps every layer's activations")
        let c = config, L = layout
        let B = batch.batchSize, T = batch.sequenceLength, BT = B * T
        let H = c.hiddenSize, I = c.intermediateSize
        let shape = AttentionShape(batch: B, sequence: T, heads: c.numAttentionHeads, headDim: c.headDimension)
        let keyMask: UnsafePointer<Float>? = batch.hasPadding ? UnsafePointer(ws.keyMask) : nil   // as the forward left it
        // A packed forward (BertWorkspace.skipsPadding) left the encoder's activations on the real tokens' R rows: the
        // encoder's backward runs over those rows too, from the heads' padded gradient packed the same way.
        let packed = ws.skipsPadding ? batch.packedRows : nil
        let R = packed?.count ?? BT
        let dropout = packed.map { dropout?.packing($0, hidden: H, intermediate: I) } ?? dropout
        func g(_ offset: Int) -> UnsafeMutablePointer<Float>? { gradients[offset] }
        func lora(_ kind: LoRAModuleKind, _ l: Int, dOut: UnsafePointer<Float>, _ outStride: Int, input: UnsafePointer<Float>,
                  inStride: Int? = nil, dInput: UnsafeMutablePointer<Float>?, dInputStride: Int? = nil, rows: Int = R) {
            guard let (adapters, adapterGradients) = adapters else { return }
            adapters.backward(kind, layer: l, dOut: dOut, outStride: outStride, input: input, inStride: inStride, dInput: dInput,
                              dInputStride: dInputStride, rows: rows, gradients: adapterGradients,
                              dropout: dropout?.lora(kind, layer: l, probability: adapters.config.dropout))
        }
        // The encoder's four products per layer, in fp32 or in training's mixed precision (BertWorkspace.bf16Products).
        func encoderLinearBackward(dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                   dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                   weight: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int) {
            if ws.bf16Products {
                BF16Linear.backward(dInput: dInput, dWeight: dWeight, dBias: dBias, dOut: dOut, input: input, weight: weight,
                                    rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            } else {
                Linear.backward(dInput: dInput, dWeight: dWeight, dBias: dBias, dOut: dOut, input: input, weight: weight,
                                rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            }
        }
        // Nothing below the encoder is trained (LoRA): the first layer need not pass gradients down.
        let embeddingsTrain = [L.wordEmbeddings, L.positionEmbeddings, L.tokenTypeEmbeddings, L.embeddingNormWeight,
                               L.embeddingNormBias].contains { $0.flatMap(g) != nil }
        var dOut = bw.g0, gA = bw.g1, gB = bw.g2
        dOut.update(repeating: 0, count: BT * H)
        let sequence = ws.lastHiddenState

        // Heads: from dLogits to ∂loss/∂(last hidden state) in dOut.
        switch head {
        case .base:
            preconditionFailure("BertModel has no loss to differentiate")
        case .sequenceClassification:
            bw.dPooled.update(repeating: 0, count: B * H)
            Linear.backward(dInput: bw.dPooled, dWeight: g(L.classifierWeight!), dBias: g(L.classifierBias!), dOut: bw.dLogits,
                            input: ws.headInput, weight: p(L.classifierWeight!), rows: B, inFeatures: H, outFeatures: c.numLabels)
            dropout?.classifier?.apply(bw.dPooled, count: B * H)
            // pooled = tanh(pre): dPre = dPooled · (1 − pooled²) (ReLU: dPooled where pooled > 0), in gA's first B·H floats.
            gA.update(repeating: 0, count: B * H)
            switch c.family.pooler(for: head)!.activation {
            case .tanh: Activations.tanhBackward(dInput: gA, dOut: bw.dPooled, out: ws.pooled, count: B * H)
            case .relu: Activations.backward(.relu, dInput: gA, dOut: bw.dPooled, input: ws.pooled, count: B * H)
            }
            if dropsPoolerInput {
                // pre = dense(dropout(h[:, 0])): the input gradient lands in dPooled (free now), dropped, then on the first rows.
                bw.dPooled.update(repeating: 0, count: B * H)
                Linear.backward(dInput: bw.dPooled, dWeight: g(L.poolerWeight!), dBias: g(L.poolerBias!), dOut: gA,
                                input: ws.poolerInput, weight: p(L.poolerWeight!), rows: B, inFeatures: H, outFeatures: H)
                lora(.pooler, 0, dOut: gA, H, input: ws.poolerInput, dInput: bw.dPooled, rows: B)
                dropout?.poolerInput?.apply(bw.dPooled, count: B * H)
                for b in 0..<B { (dOut + b * T * H).update(from: bw.dPooled + b * H, count: H) }
            } else {
                Linear.backward(dInput: dOut, dInputStride: T * H, dWeight: g(L.poolerWeight!), dBias: g(L.poolerBias!), dOut: gA,
                                input: sequence, inputStride: T * H, weight: p(L.poolerWeight!), rows: B, inFeatures: H, outFeatures: H)
                lora(.pooler, 0, dOut: gA, H, input: sequence, inStride: T * H, dInput: dOut, dInputStride: T * H, rows: B)
            }
        case .tokenClassification:
            Linear.backward(dInput: dOut, dWeight: g(L.classifierWeight!), dBias: g(L.classifierBias!), dOut: bw.dLogits,
                            input: ws.headInput, weight: p(L.classifierWeight!), rows: BT, inFeatures: H, outFeatures: c.numLabels)
            dropout?.classifier?.apply(dOut, count: BT * H)
        case .questionAnswering:
            // The forward's input: the sequence, or its dropped copy in headInput (DistilBERT's qa_dropout).
            let mask = dropout?.classifier
            Linear.backward(dInput: dOut, dWeight: g(L.classifierWeight!), dBias: g(L.classifierBias!), dOut: bw.dLogits,
                            input: mask == nil ? sequence : ws.headInput, weight: p(L.classifierWeight!), rows: BT,
                            inFeatures: H, outFeatures: 2)
            mask?.apply(dOut, count: BT * H)
        case .maskedLM:
            // logits = transformOut · wordEmbeddingsᵀ + bias (tied decoder: its gradient lands on the embeddings).
            gA.update(repeating: 0, count: BT * H)
            if let rows = ws.lmRows {
                // Only the scored rows had logits: their input gradients are scattered back, the other rows' stay zero.
                if !rows.isEmpty {
                    var dRows = [Float](repeating: 0, count: rows.count * H)
                    ws.lmRowInput.withUnsafeBufferPointer { input in
                        dRows.withUnsafeMutableBufferPointer { dInput in
                            Linear.backward(dInput: dInput.baseAddress!, dWeight: g(L.wordEmbeddings), dBias: g(L.lmBias!), dOut: bw.dLogits,
                                            input: input.baseAddress!, weight: p(L.wordEmbeddings), rows: rows.count, inFeatures: H,
                                            outFeatures: c.vocabSize)
                        }
                    }
                    dRows.withUnsafeBufferPointer { d in
                        for (k, row) in rows.enumerated() { (gA + row * H).update(from: d.baseAddress! + k * H, count: H) }
                    }
                }
            } else {
                Linear.backward(dInput: gA, dWeight: g(L.wordEmbeddings), dBias: g(L.lmBias!), dOut: bw.dLogits,
                                input: ws.lmTransformOut, weight: p(L.wordEmbeddings), rows: BT, inFeatures: H, outFeatures: c.vocabSize)
            }
            gB.update(repeating: 0, count: BT * H)
            LayerNorm.backward(dInput: gB, dWeight: g(L.lmNormWeight!), dBias: g(L.lmNormBias!), dOut: gA, input: ws.lmTransformAct,
                               mean: ws.lmNormMean, rstd: ws.lmNormRstd, weight: p(L.lmNormWeight!), rows: BT, dim: H)
            Activations.backward(lmActivation, dInput: gB, dOut: gB, input: ws.lmTransformPre, count: BT * H)
            Linear.backward(dInput: dOut, dWeight: g(L.lmTransformWeight!), dBias: g(L.lmTransformBias!), dOut: gB,
                            input: sequence, weight: p(L.lmTransformWeight!), rows: BT, inFeatures: H, outFeatures: H)
        }

        if let packed { Self.pack(dOut, packed, width: H) }

        // Encoder layers, last to first. dOut = ∂loss/∂(layer output) on entry, ∂loss/∂(layer input) on exit.
        for l in stride(from: c.numHiddenLayers - 1, through: 0, by: -1) {
            let w = L.layers[l], a = ws.layer(l), input = ws.layerInput(l)
            // out = LayerNorm(ffnResidual)
            gA.update(repeating: 0, count: R * H)
            LayerNorm.backward(dInput: gA, dWeight: g(w.outputNormWeight), dBias: g(w.outputNormBias), dOut: dOut,
                               input: a.ffnResidual, mean: a.outMean, rstd: a.outRstd, weight: p(w.outputNormWeight), rows: R, dim: H)
            // ffnResidual = attnNormOut + dropout(dense(ffnAct)): the residual path goes to gB, the rest through dense.
            gB.update(from: gA, count: R * H)
            dropout?.ffnOutput[l]?.apply(gA, count: R * H)
            bw.dFFN.update(repeating: 0, count: R * I)
            Activations.forward(c.hiddenAct, out: a.ffnAct, input: a.ffnPre, count: R * I)   // recomputed, not kept
            encoderLinearBackward(dInput: bw.dFFN, dWeight: g(w.outputWeight), dBias: g(w.outputBias), dOut: gA, input: a.ffnAct,
                                  weight: p(w.outputWeight), rows: R, inFeatures: I, outFeatures: H)
            lora(.output, l, dOut: gA, H, input: a.ffnAct, dInput: bw.dFFN)
            // ffnAct = act(ffnPre); ffnPre = dense(attnNormOut)
            Activations.backward(c.hiddenAct, dInput: bw.dFFN, dOut: bw.dFFN, input: a.ffnPre, count: R * I)
            LayerNorm.forward(out: a.attnNormOut, mean: nil, rstd: nil, input: a.attnResidual, weight: p(w.attentionNormWeight),
                              bias: p(w.attentionNormBias), rows: R, dim: H, eps: c.layerNormEps)   // recomputed, not kept
            encoderLinearBackward(dInput: gB, dWeight: g(w.intermediateWeight), dBias: g(w.intermediateBias), dOut: bw.dFFN,
                                  input: a.attnNormOut, weight: p(w.intermediateWeight), rows: R, inFeatures: H, outFeatures: I)
            lora(.intermediate, l, dOut: bw.dFFN, I, input: a.attnNormOut, dInput: gB)
            // attnNormOut = LayerNorm(attnResidual)
            dOut.update(repeating: 0, count: R * H)
            LayerNorm.backward(dInput: dOut, dWeight: g(w.attentionNormWeight), dBias: g(w.attentionNormBias), dOut: gB,
                               input: a.attnResidual, mean: a.attnNormMean, rstd: a.attnNormRstd, weight: p(w.attentionNormWeight),
                               rows: R, dim: H)
            // attnResidual = input + dropout(dense(attnCtx)): residual path to gA (the layer input's gradient).
            gA.update(from: dOut, count: R * H)
            dropout?.attentionOutput[l]?.apply(dOut, count: R * H)
            gB.update(repeating: 0, count: R * H)
            encoderLinearBackward(dInput: gB, dWeight: g(w.attentionOutputWeight), dBias: g(w.attentionOutputBias), dOut: dOut,
                                  input: a.attnCtx, weight: p(w.attentionOutputWeight), rows: R, inFeatures: H, outFeatures: H)
            lora(.attentionOutput, l, dOut: dOut, H, input: a.attnCtx, dInput: gB)
            // attnCtx = attention(qkv); qkv = dense(input)
            bw.dQKV.update(repeating: 0, count: R * 3 * H)
            if let packed {
                Attention.packedBackward(dQKV: bw.dQKV, dCtx: gB, qkv: a.qkv, starts: packed.starts, heads: c.numAttentionHeads,
                                         headDim: c.headDimension, dropout: dropout?.attentionProbs[l], paddedSequence: T,
                                         scratch: bw.scratch, slots: bw.scratchSlots)
            } else {
                Attention.backward(dQKV: bw.dQKV, dCtx: gB, qkv: a.qkv, keyMask: keyMask, shape: shape,
                                   dropout: dropout?.attentionProbs[l], scratch: bw.scratch, slots: bw.scratchSlots)
            }
            if l > 0 {   // this layer's input, the previous layer's output: recomputed, not kept
                let previous = ws.layer(l - 1), pw = L.layers[l - 1]
                LayerNorm.forward(out: previous.out, mean: nil, rstd: nil, input: previous.ffnResidual, weight: p(pw.outputNormWeight),
                                  bias: p(pw.outputNormBias), rows: R, dim: H, eps: c.layerNormEps)
            }
            let dInput: UnsafeMutablePointer<Float>? = l > 0 || embeddingsTrain ? gA : nil
            encoderLinearBackward(dInput: dInput, dWeight: g(w.qkvWeight), dBias: g(w.qkvBias), dOut: bw.dQKV, input: input,
                                  weight: p(w.qkvWeight), rows: R, inFeatures: H, outFeatures: 3 * H)
            lora(.query, l, dOut: bw.dQKV, 3 * H, input: input, dInput: dInput)
            lora(.key, l, dOut: bw.dQKV + H, 3 * H, input: input, dInput: dInput)
            lora(.value, l, dOut: bw.dQKV + 2 * H, 3 * H, input: input, dInput: dInput)
            swap(&dOut, &gA)
        }
        guard embeddingsTrain else { return }

        // Embeddings: embeddingOut = dropout(LayerNorm(embeddingSum)).
        dropout?.embeddings?.apply(dOut, count: R * H)
        gA.update(repeating: 0, count: R * H)
        LayerNorm.backward(dInput: gA, dWeight: g(L.embeddingNormWeight), dBias: g(L.embeddingNormBias), dOut: dOut,
                           input: ws.embeddingSum, mean: ws.embeddingMean, rstd: ws.embeddingRstd, weight: p(L.embeddingNormWeight),
                           rows: R, dim: H)
        // DistilBERT's sinusoidal position table is fixed (requires_grad False): no gradient for it.
        let dPosition = c.sinusoidalPositions ? nil : g(L.positionEmbeddings)
        batch.inputIds.withUnsafeBufferPointer { ids in
            batch.tokenTypeIds.withUnsafeBufferPointer { types in
                withPositionIds(batch) { positions in
                    Embeddings.backward(dWord: g(L.wordEmbeddings), dPosition: dPosition, dTokenType: L.tokenTypeEmbeddings.flatMap(g),
                                        dOut: gA, ids: ids.baseAddress!, types: types.baseAddress!, positions: positions,
                                        paddingId: c.padTokenId, batch: B, sequence: T, hidden: H, packed: packed)
                }
            }
        }
    }

    /// Packs the padded rows [B·T, width] of `packed` into its first R rows, in place (the inverse of `unpack`). Row r
    /// comes from rows[r] ≥ r, so moving the first row first never overwrites a row still to move.
    static func pack(_ x: UnsafeMutablePointer<Float>, _ packed: PackedRows, width: Int) {
        for (r, source) in packed.rows.enumerated() where source != r {
            (x + r * width).update(from: x + source * width, count: width)
        }
    }
}
