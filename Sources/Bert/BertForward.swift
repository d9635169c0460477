// The BERT forward pass, straight-line over the workspace (transformers 5.24 numerics,
// Docs/specs/transformers_training.md §9): embeddings → LayerNorm → dropout; per layer
// QKV → attention → dense → dropout → +residual → LayerNorm → dense → activation → dense → dropout
// → +residual → LayerNorm; then the pooler and the head.

extension BertModel {
    /// Runs the model on `batch`, leaving every activation in `ws` (sized for this batch). `dropout`
    /// nil = inference. Returns nothing: read outputs from the workspace (`BertOutputs` helps).
    /// `adapters`: LoRA adapters added to their linear layers.
    package func forward(_ batch: TokenBatch, workspace ws: BertWorkspace, dropout: DropoutPlan? = nil,
                        adapters: LoRAAdapters? = nil, computeLMLogits: Bool = true) {
        precondition(ws.batch == batch.batchSize && ws.sequence == batch.sequenceLength && ws.head == head,
                     "workspace shape does not match the batch")
        let c = config, L = layout
        let B = batch.batchSize, T = batch.sequenceLength, BT = B * T
        let H = c.hiddenSize, I = c.intermediateSize, eps = c.layerNormEps
        let shape = AttentionShape(batch: B, sequence: T, heads: c.numAttentionHeads, headDim: c.headDimension)
        let keyMask: UnsafePointer<Float>? = batch.hasPadding ? UnsafePointer(ws.keyMask) : nil
        batch.attentionMask.withUnsafeBufferPointer { ws.keyMask.update(from: $0.baseAddress!, count: BT) }
        adapters?.prepare(rows: BT, training: ws.keepsEveryLayer)
        // Inference: the real tokens of a right-padded batch (attention over real keys only). The encoder runs over
        // those rows alone when the workspace skips padding (BertWorkspace.skipsPadding), in training too, with the
        // padded layout's dropout masks.
        let realRows = dropout == nil && !ws.keepsEveryLayer ? batch.packedRows : nil
        let packed = ws.skipsPadding ? batch.packedRows : nil
        let R = packed?.count ?? BT
        let dropout = packed.map { dropout?.packing($0, hidden: H, intermediate: I) } ?? dropout
        func lora(_ kind: LoRAModuleKind, _ l: Int, _ input: UnsafePointer<Float>, inStride: Int? = nil,
                  _ output: UnsafeMutablePointer<Float>, _ outStride: Int, rows: Int = R) {
            adapters?.forward(kind, layer: l, input: input, inStride: inStride, output: output, outStride: outStride, rows: rows,
                              dropout: dropout?.lora(kind, layer: l, probability: adapters?.config.dropout ?? 0))
        }

        // The encoder's four products per layer, in the precision the model was prepared for (PackedWeights.swift), or
        // in training's mixed precision (MixedPrecision.swift).
        let packedWeights = packedEncoder
        func encoderLinear(_ product: Int, _ l: Int, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                           weight: Int, bias: Int, inFeatures: Int, outFeatures: Int, gelu: Bool = false) {
            if let packedWeights {
                packedWeights.weight(layer: l, product: product).forward(out: out, input: input, bias: p(bias), rows: R, gelu: gelu)
            } else if ws.bf16Products {
                BF16Linear.forward(out: out, input: input, weight: p(weight), bias: p(bias), rows: R,
                                   inFeatures: inFeatures, outFeatures: outFeatures)
            } else {
                Linear.forward(out: out, input: input, weight: p(weight), bias: p(bias), rows: R,
                               inFeatures: inFeatures, outFeatures: outFeatures)
            }
        }

        // Embeddings.
        batch.inputIds.withUnsafeBufferPointer { ids in
            batch.tokenTypeIds.withUnsafeBufferPointer { types in
                withPositionIds(batch) { positions in
                    Embeddings.forward(out: ws.embeddingSum, ids: ids.baseAddress!, types: types.baseAddress!,
                                       word: p(L.wordEmbeddings), position: p(L.positionEmbeddings),
                                       tokenType: L.tokenTypeEmbeddings.map { UnsafePointer(p($0)) },
                                       positions: positions, batch: B, sequence: T, hidden: H, packed: packed)
                }
            }
        }
        LayerNorm.forward(out: ws.embeddingOut, mean: ws.embeddingMean, rstd: ws.embeddingRstd, input: ws.embeddingSum,
                          weight: p(L.embeddingNormWeight), bias: p(L.embeddingNormBias), rows: R, dim: H, eps: eps)
        dropout?.embeddings?.apply(ws.embeddingOut, count: R * H)

        // Encoder layers.
        for l in 0..<c.numHiddenLayers {
            let w = L.layers[l], a = ws.layer(l), input = ws.layerInput(l)
            encoderLinear(0, l, out: a.qkv, input: input, weight: w.qkvWeight, bias: w.qkvBias, inFeatures: H, outFeatures: 3 * H)
            lora(.query, l, input, a.qkv, 3 * H)
            lora(.key, l, input, a.qkv + H, 3 * H)
            lora(.value, l, input, a.qkv + 2 * H, 3 * H)
            if let packed {
                Attention.packedForward(ctx: a.attnCtx, qkv: a.qkv, starts: packed.starts, heads: c.numAttentionHeads,
                                        headDim: c.headDimension, scratch: ws.scratch, slots: ws.scratchSlots,
                                        dropout: dropout?.attentionProbs[l], paddedSequence: T)
            } else {
                Attention.forward(ctx: a.attnCtx, qkv: a.qkv, keyMask: keyMask, shape: shape,
                                  dropout: dropout?.attentionProbs[l], scratch: ws.scratch, slots: ws.scratchSlots,
                                  realKeys: realRows?.lengths)
            }
            encoderLinear(1, l, out: a.attnResidual, input: a.attnCtx, weight: w.attentionOutputWeight,
                          bias: w.attentionOutputBias, inFeatures: H, outFeatures: H)
            lora(.attentionOutput, l, a.attnCtx, a.attnResidual, H)
            dropout?.attentionOutput[l]?.apply(a.attnResidual, count: R * H)
            LayerNorm.residualForward(out: a.attnNormOut, mean: a.attnNormMean, rstd: a.attnNormRstd, sum: a.attnResidual,
                                      residual: input, weight: p(w.attentionNormWeight), bias: p(w.attentionNormBias),
                                      rows: R, dim: H, eps: eps)
            // Packed weights (inference) apply the exact GELU in the product's epilogue, unless an adapter adds to the
            // product first; the pre-activation is then not kept (only the backward reads it).
            if packedWeights != nil && c.hiddenAct == .gelu && adapters?.module(.intermediate, layer: l) == nil && !ws.keepsEveryLayer {
                encoderLinear(2, l, out: a.ffnAct, input: a.attnNormOut, weight: w.intermediateWeight,
                              bias: w.intermediateBias, inFeatures: H, outFeatures: I, gelu: true)
            } else {
                encoderLinear(2, l, out: a.ffnPre, input: a.attnNormOut, weight: w.intermediateWeight,
                              bias: w.intermediateBias, inFeatures: H, outFeatures: I)
                lora(.intermediate, l, a.attnNormOut, a.ffnPre, I)
                Activations.forward(c.hiddenAct, out: a.ffnAct, input: a.ffnPre, count: R * I)
            }
            encoderLinear(3, l, out: a.ffnResidual, input: a.ffnAct, weight: w.outputWeight, bias: w.outputBias,
                          inFeatures: I, outFeatures: H)
            lora(.output, l, a.ffnAct, a.ffnResidual, H)
            dropout?.ffnOutput[l]?.apply(a.ffnResidual, count: R * H)
            LayerNorm.residualForward(out: a.out, mean: a.outMean, rstd: a.outRstd, sum: a.ffnResidual, residual: a.attnNormOut,
                                      weight: p(w.outputNormWeight), bias: p(w.outputNormBias), rows: R, dim: H, eps: eps)
        }
        let sequence = ws.lastHiddenState
        if let packed { Self.unpack(sequence, packed, paddedRows: BT, width: H) }

        // Pooler: activation(dense(h[:, 0])) — the first token of each row, read with a row stride of T·H; RoBERTa's
        // classification head drops that token out first, so it reads a dropped copy (ws.poolerInput).
        if let poolerWeight = L.poolerWeight, let poolerBias = L.poolerBias, let pooler = c.family.pooler(for: head) {
            var input = UnsafePointer(sequence), stride = T * H
            if dropsPoolerInput {
                for b in 0..<B { (ws.poolerInput + b * H).update(from: sequence + b * T * H, count: H) }
                dropout?.poolerInput?.apply(ws.poolerInput, count: B * H)
                input = UnsafePointer(ws.poolerInput)
                stride = H
            }
            Linear.forward(out: ws.pooled, input: input, inputStride: stride, weight: p(poolerWeight), bias: p(poolerBias),
                           rows: B, inFeatures: H, outFeatures: H)
            lora(.pooler, 0, input, inStride: stride, ws.pooled, H, rows: B)
            switch pooler.activation {
            case .tanh: Activations.tanhForward(out: ws.pooled, input: ws.pooled, count: B * H)
            case .relu: Activations.forward(.relu, out: ws.pooled, input: ws.pooled, count: B * H)
            }
        }

        // Heads.
        switch head {
        case .base: break
        case .sequenceClassification:
            ws.headInput.update(from: ws.pooled, count: B * H)
            dropout?.classifier?.apply(ws.headInput, count: B * H)
            Linear.forward(out: ws.logits, input: ws.headInput, weight: p(L.classifierWeight!), bias: p(L.classifierBias!),
                           rows: B, inFeatures: H, outFeatures: c.numLabels)
        case .tokenClassification:
            ws.headInput.update(from: sequence, count: BT * H)
            dropout?.classifier?.apply(ws.headInput, count: BT * H)
            Linear.forward(out: ws.logits, input: ws.headInput, weight: p(L.classifierWeight!), bias: p(L.classifierBias!),
                           rows: BT, inFeatures: H, outFeatures: c.numLabels)
        case .questionAnswering:
            // DistilBERT drops out the sequence before `qa_outputs` (qa_dropout); BERT and RoBERTa do not.
            var input = UnsafePointer(sequence)
            if let mask = dropout?.classifier {
                ws.headInput.update(from: sequence, count: BT * H)
                mask.apply(ws.headInput, count: BT * H)
                input = UnsafePointer(ws.headInput)
            }
            Linear.forward(out: ws.logits, input: input, weight: p(L.classifierWeight!), bias: p(L.classifierBias!),
                           rows: BT, inFeatures: H, outFeatures: 2)
        case .maskedLM:
            Linear.forward(out: ws.lmTransformPre, input: sequence, weight: p(L.lmTransformWeight!), bias: p(L.lmTransformBias!),
                           rows: BT, inFeatures: H, outFeatures: H)
            Activations.forward(lmActivation, out: ws.lmTransformAct, input: ws.lmTransformPre, count: BT * H)
            LayerNorm.forward(out: ws.lmTransformOut, mean: ws.lmNormMean, rstd: ws.lmNormRstd, input: ws.lmTransformAct,
                              weight: p(L.lmNormWeight!), bias: p(L.lmNormBias!), rows: BT, dim: H, eps: eps)
            if let rows = ws.lmRows {
                // Only the scored rows (BertWorkspace.lmRows), gathered.
                ws.lmRowInput = [Float](unsafeUninitializedCapacity: rows.count * H) { buffer, count in
                    for (k, row) in rows.enumerated() {
                        (buffer.baseAddress! + k * H).update(from: ws.lmTransformOut + row * H, count: H)
                    }
                    count = rows.count * H
                }
                if !rows.isEmpty {
                    ws.lmRowInput.withUnsafeBufferPointer { input in
                        Linear.forward(out: ws.lmLogits, input: input.baseAddress!, weight: p(L.wordEmbeddings), bias: p(L.lmBias!),
                                       rows: rows.count, inFeatures: H, outFeatures: c.vocabSize)
                    }
                }
            } else if computeLMLogits {
                // The decoder is the word-embedding matrix (tied), plus `cls.predictions.bias`.
                Linear.forward(out: ws.lmLogits, input: ws.lmTransformOut, weight: p(L.wordEmbeddings), bias: p(L.lmBias!),
                               rows: BT, inFeatures: H, outFeatures: c.vocabSize)
            }
        }
    }

    /// The masked-LM transform's activation: the config's, except RoBERTa's `lm_head`, which always uses exact GELU.
    package var lmActivation: Activation { config.family.lmHeadUsesExactGELU ? .gelu : config.hiddenAct }

    /// Whether the pooler reads a dropped-out copy of the first tokens (RoBERTa's sequence classifier).
    var dropsPoolerInput: Bool { config.family.dropsPoolerInput(for: head) }

    /// Calls `body` with each token's position id when the family does not simply count (RoBERTa), else with nil.
    func withPositionIds<R>(_ batch: TokenBatch, _ body: (UnsafePointer<Int32>?) -> R) -> R {
        guard config.family.positionsFollowPadding, let padding = config.padTokenId else { return body(nil) }
        let positions = Embeddings.positionsAfterPadding(ids: batch.inputIds, batch: batch.batchSize,
                                                         sequence: batch.sequenceLength, paddingId: padding)
        return positions.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Lays packed rows [N, width] out at their padded rows [paddedRows, width], in place, zeros elsewhere. Row
    /// r moves to rows[r] ≥ r, so moving the last row first never overwrites a row still to move.
    static func unpack(_ x: UnsafeMutablePointer<Float>, _ packed: PackedRows, paddedRows: Int, width: Int) {
        var next = paddedRows
        for r in stride(from: packed.count - 1, through: 0, by: -1) {
            let target = packed.rows[r]
            (x + (target + 1) * width).update(repeating: 0, count: (next - target - 1) * width)
            if target != r { (x + target * width).update(from: x + r * width, count: width) }
            next = target
        }
        x.update(repeating: 0, count: next * width)
    }

    /// Masked-LM logits for selected rows only (fill-mask needs a handful of positions, not B·T·V).
    package func lmLogits(rows: [Int], workspace ws: BertWorkspace) -> [[Float]] {
        precondition(head == .maskedLM)
        let H = config.hiddenSize, V = config.vocabSize
        return rows.map { row in
            var out = [Float](repeating: 0, count: V)
            out.withUnsafeMutableBufferPointer { buffer in
                Linear.forward(out: buffer.baseAddress!, input: ws.lmTransformOut + row * H, weight: p(layout.wordEmbeddings),
                               bias: p(layout.lmBias!), rows: 1, inFeatures: H, outFeatures: V)
            }
            return out
        }
    }
}
