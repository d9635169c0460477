// Finite-difference checks of the backward kernels KernelTests.swift does not cover: the dense layer,
// the embeddings, every head's loss and the LoRA path. The kernels are float32, so the differences are
// taken of the float32 forward with the loss summed in double, over the step actually taken (x ± h
// rounded to float), with h chosen per function: the dense layer, the embeddings and each factor of LoRA
// are linear in what is perturbed, so a central difference is exact up to round-off and h can be large
// and the bound tight; the losses are smooth with bounded third derivatives, h = 1e-2 keeps the
// truncation error (h²/6·f‴) near 1e-5 and the float round-off (~1e-7·|L|/h) below that.

import Testing
import Bert
import TestSupport

/// ∂loss/∂x[i] by central differences, the denominator being the step the floats really took.
func centralDifferences(_ x: inout [Float], h: Float, loss: ([Float]) -> Double) -> [Double] {
    (0..<x.count).map { i in
        let saved = x[i]
        let up = saved + h, down = saved - h
        x[i] = up; let lossUp = loss(x)
        x[i] = down; let lossDown = loss(x)
        x[i] = saved
        return (lossUp - lossDown) / (Double(up) - Double(down))
    }
}

/// A tiny config for building workspaces and adapters (only shapes matter here).
func tinyConfig(vocab: Int = 13) -> BertConfig {
    var config = BertConfig()
    config.vocabSize = vocab
    config.hiddenSize = 8
    config.numHiddenLayers = 1
    config.numAttentionHeads = 2
    config.intermediateSize = 12
    config.maxPositionEmbeddings = 16
    return config
}

@Suite struct FiniteDifferenceTests {
    // MARK: Dense layer

    @Test(arguments: [1, 3])
    func linearBackwardMatchesFiniteDifferences(_ rowStride: Int) {
        // rowStride 3: the layer reads every third row of its input (the pooler reads token 0 of each example)
        // and writes dInput with the same stride; the rows it skips must get nothing.
        var random = Random(21)
        let rows = 5, inF = 7, outF = 4, stride = rowStride * inF
        var x = random.values(rows * stride), w = random.values(outF * inF), b = random.values(outF)
        let weights = random.values(rows * outF)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var y = [Float](repeating: 0, count: rows * outF)
            Linear.forward(out: &y, input: x, inputStride: stride, weight: w, bias: b, rows: rows, inFeatures: inF, outFeatures: outF)
            return weightedSum(y, weights)
        }
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: outF)
        Linear.backward(dInput: &dx, dInputStride: stride, dWeight: &dw, dBias: &db, dOut: weights, input: x, inputStride: stride,
                        weight: w, rows: rows, inFeatures: inF, outFeatures: outF)
        let x0 = x, w0 = w, b0 = b
        assertClose(dx, centralDifferences(&x, h: 0.5) { loss($0, w0, b0) }, rtol: 1e-4, atol: 1e-5, "dInput")
        assertClose(dw, centralDifferences(&w, h: 0.5) { loss(x0, $0, b0) }, rtol: 1e-4, atol: 1e-5, "dWeight")
        assertClose(db, centralDifferences(&b, h: 0.5) { loss(x0, w0, $0) }, rtol: 1e-4, atol: 1e-5, "dBias")
    }

    // MARK: Embeddings

    @Test func embeddingsBackwardMatchesFiniteDifferencesAndSkipsThePaddingRow() {
        var random = Random(22)
        let B = 2, T = 5, H = 6, vocab = 9, positions = 7, typeCount = 2, padding = 0
        // Repeated ids (the scatter-add must accumulate), the padding id, both token types.
        let ids: [Int32] = [3, 5, 3, 0, 0, 8, 1, 3, 5, 0]
        let types: [Int32] = [0, 0, 1, 1, 0, 0, 1, 1, 1, 0]
        var word = random.values(vocab * H), position = random.values(positions * H), tokenType = random.values(typeCount * H)
        let weights = random.values(B * T * H)
        func loss(_ word: [Float], _ position: [Float], _ tokenType: [Float]) -> Double {
            var e = [Float](repeating: 0, count: B * T * H)
            Embeddings.forward(out: &e, ids: ids, types: types, word: word, position: position, tokenType: tokenType,
                               batch: B, sequence: T, hidden: H)
            return weightedSum(e, weights)
        }
        var dWord = [Float](repeating: 0, count: word.count), dPosition = [Float](repeating: 0, count: position.count)
        var dType = [Float](repeating: 0, count: tokenType.count)
        Embeddings.backward(dWord: &dWord, dPosition: &dPosition, dTokenType: &dType, dOut: weights, ids: ids, types: types,
                            paddingId: padding, batch: B, sequence: T, hidden: H)
        let w0 = word, p0 = position, t0 = tokenType
        var numericWord = centralDifferences(&word, h: 0.5) { loss($0, p0, t0) }
        // nn.Embedding(padding_idx=0) never updates the padding row, though the forward reads it.
        #expect(numericWord[padding * H..<(padding + 1) * H].contains { abs($0) > 0.1 }, "the padding row is used by the forward")
        #expect(dWord[padding * H..<(padding + 1) * H].allSatisfy { $0 == 0 }, "the padding row gets no gradient")
        for i in padding * H..<(padding + 1) * H { numericWord[i] = 0 }
        assertClose(dWord, numericWord, rtol: 1e-4, atol: 1e-5, "dWord")
        assertClose(dPosition, centralDifferences(&position, h: 0.5) { loss(w0, $0, t0) }, rtol: 1e-4, atol: 1e-5, "dPosition")
        assertClose(dType, centralDifferences(&tokenType, h: 0.5) { loss(w0, p0, $0) }, rtol: 1e-4, atol: 1e-5, "dTokenType")
    }

    // MARK: Losses (each returns a sum; dLogits is the gradient of sum / normaliser)

    @Test func crossEntropyBackwardMatchesFiniteDifferences() throws {
        var random = Random(23)
        let rows = 6, classes = 5
        var logits = random.values(rows * classes, scale: 2)
        let targets = [0, 4, 2, 2, 1, 3]
        var dLogits = [Float](repeating: 0, count: logits.count)
        _ = try Losses.crossEntropy(logits: logits, dLogits: &dLogits, targets: targets, classes: classes, normaliser: 6)
        let numeric = centralDifferences(&logits, h: 1e-2) { z in
            var scratch = [Float](repeating: 0, count: z.count)
            return try! Losses.crossEntropy(logits: z, dLogits: &scratch, targets: targets, classes: classes, normaliser: 6) / 6
        }
        assertClose(dLogits, numeric, rtol: 1e-3, atol: 1e-5)
    }

    @Test func tokenCrossEntropyIgnoresMinus100AndMatchesFiniteDifferences() throws {
        // Token classification: [B·T] targets, -100 on padding and sub-word continuations; the mean is over
        // the labelled tokens only (the normaliser), and ignored rows get no gradient.
        var random = Random(24)
        let B = 2, T = 4, classes = 3
        var logits = random.values(B * T * classes, scale: 2)
        let targets = [1, -100, 0, 2, 2, 2, -100, -100]
        let labels = Labels.tokenClasses(targets)
        let normaliser = Double(labels.itemCount(numLabels: classes, sequence: T))
        #expect(normaliser == 5)
        var dLogits = [Float](repeating: 0.5, count: logits.count)
        _ = try Losses.crossEntropy(logits: logits, dLogits: &dLogits, targets: targets, classes: classes, normaliser: normaliser)
        for row in [1, 6, 7] { #expect(dLogits[row * classes..<(row + 1) * classes].allSatisfy { $0 == 0 }, "ignored row \(row)") }
        let numeric = centralDifferences(&logits, h: 1e-2) { z in
            var scratch = [Float](repeating: 0, count: z.count)
            return try! Losses.crossEntropy(logits: z, dLogits: &scratch, targets: targets, classes: classes, normaliser: normaliser) / normaliser
        }
        assertClose(dLogits, numeric, rtol: 1e-3, atol: 1e-5)
    }

    @Test func meanSquaredErrorBackwardMatchesFiniteDifferences() {
        var random = Random(25)
        var logits = random.values(8, scale: 2)
        let targets = random.values(8)
        var dLogits = [Float](repeating: 0, count: 8)
        _ = Losses.meanSquaredError(logits: logits, dLogits: &dLogits, targets: targets, normaliser: 8)
        // Quadratic: the central difference is exact up to round-off.
        let numeric = centralDifferences(&logits, h: 0.25) { z in
            var scratch = [Float](repeating: 0, count: 8)
            return Losses.meanSquaredError(logits: z, dLogits: &scratch, targets: targets, normaliser: 8) / 8
        }
        assertClose(dLogits, numeric, rtol: 1e-4, atol: 1e-6)
    }

    @Test func binaryCrossEntropyWithLogitsBackwardMatchesFiniteDifferences() {
        var random = Random(26)
        // Large |z| on both sides exercise the stable branches; soft targets as well as 0/1.
        var logits = random.values(12, scale: 2) + [9, -9, 15, -15]
        let targets: [Float] = [0, 1, 1, 0, 0.3, 0.7, 1, 0, 0, 1, 0.5, 1, 0, 1, 1, 0]
        var dLogits = [Float](repeating: 0, count: logits.count)
        _ = Losses.binaryCrossEntropyWithLogits(logits: logits, dLogits: &dLogits, targets: targets, normaliser: 16)
        let numeric = centralDifferences(&logits, h: 1e-2) { z in
            var scratch = [Float](repeating: 0, count: z.count)
            return Losses.binaryCrossEntropyWithLogits(logits: z, dLogits: &scratch, targets: targets, normaliser: 16) / 16
        }
        assertClose(dLogits, numeric, rtol: 1e-3, atol: 1e-6)
    }

    /// The head's loss through `BertModel.loss`, differentiated with respect to the logits it reads.
    func headLossGradient(head: BertHead, labels: Labels, B: Int, T: Int, seed: UInt64,
                          logitsOf: (BertWorkspace) -> UnsafeMutablePointer<Float>, width: Int) throws -> (analytic: [Float], numeric: [Double]) {
        let config = tinyConfig()
        let model = BertModel(config: config, head: head)
        let ws = BertWorkspace(config: config, head: head, batch: B, sequence: T, keepsEveryLayer: false)
        let bw = BertBackwardWorkspace(config: config, head: head, batch: B, sequence: T)
        let normaliser = Double(labels.itemCount(numLabels: config.numLabels, sequence: T))
        var random = Random(seed)
        var logits = random.values(B * T * width, scale: 2)
        let target = logitsOf(ws)
        func set(_ values: [Float]) { for (i, v) in values.enumerated() { target[i] = v } }
        set(logits)
        _ = try model.loss(labels, workspace: ws, backward: bw, normaliser: normaliser)
        let analytic = Array(UnsafeBufferPointer(start: bw.dLogits, count: B * T * width))
        let numeric = centralDifferences(&logits, h: 1e-2) { values in
            set(values)
            return try! model.loss(labels, workspace: ws, backward: bw, normaliser: normaliser) / normaliser
        }
        return (analytic, numeric)
    }

    @Test func questionAnsweringStartEndLossMatchesFiniteDifferences() throws {
        // Logits [B·T, 2] (start, end); positions clamped to [0, T] and T ignored, as transformers does:
        // -1 becomes 0, T + 3 becomes T (ignored), T itself is ignored.
        let B = 4, T = 5
        let labels = Labels.spans(start: [0, 3, -1, T], end: [4, T + 3, 2, 1])
        let (analytic, numeric) = try headLossGradient(head: .questionAnswering, labels: labels, B: B, T: T, seed: 27,
                                                       logitsOf: { $0.logits }, width: 2)
        assertClose(analytic, numeric, rtol: 1e-3, atol: 1e-5)
        // The ignored end of example 1 and start of example 3 get no gradient.
        #expect((0..<T).allSatisfy { analytic[2 * (1 * T + $0) + 1] == 0 && analytic[2 * (3 * T + $0)] == 0 })
    }

    @Test func maskedLMLossIgnoresMinus100AndMatchesFiniteDifferences() throws {
        let B = 2, T = 3, vocab = tinyConfig().vocabSize
        let targets = [-100, 7, -100, 12, -100, 0]
        let (analytic, numeric) = try headLossGradient(head: .maskedLM, labels: .maskedTokens(targets), B: B, T: T, seed: 28,
                                                       logitsOf: { $0.lmLogits }, width: vocab)
        assertClose(analytic, numeric, rtol: 1e-3, atol: 1e-5)
        for row in [0, 2, 4] { #expect(analytic[row * vocab..<(row + 1) * vocab].allSatisfy { $0 == 0 }, "ignored row \(row)") }
    }

    // MARK: LoRA

    @Test(arguments: [Float(0), 0.3])
    func loRALinearBackwardMatchesFiniteDifferences(_ dropoutProbability: Float) throws {
        // The adapter on intermediate.dense (8 → 12, not square), rank 3, scaling 2, writing into an output
        // with a wider row stride; with dropout the mask is a fixed function of the element index.
        let model = BertModel(config: tinyConfig(), head: .sequenceClassification)
        var lora = LoRAConfig()
        lora.rank = 3
        lora.alpha = 6
        lora.targets = .names(["intermediate.dense"])
        let adapters = try LoRAAdapters(model: model, config: lora)
        adapters.initialise(seed: 4)
        let module = try #require(adapters.module(.intermediate, layer: 0))
        let rows = 5, inF = module.inFeatures, outF = module.outFeatures, outStride = outF + 3, r = lora.rank
        var random = Random(29)
        // B is zero after PEFT's initialisation; make it non-zero so every gradient is.
        for (i, v) in random.values(outF * r).enumerated() { adapters.parameters.pointer[module.bOffset + i] = v }
        var x = random.values(rows * inF)
        let weights = random.values(rows * outStride)
        let dropout = dropoutProbability > 0 ? DropoutMask(probability: dropoutProbability, seed: 8, site: 10_016) : nil
        func loss(_ x: [Float]) -> Double {
            var out = [Float](repeating: 0, count: rows * outStride)
            adapters.prepare(rows: rows, training: true)
            adapters.forward(.intermediate, layer: 0, input: x, output: &out, outStride: outStride, rows: rows, dropout: dropout)
            return weightedSum(out, weights)
        }
        func parameterLoss(_ offset: Int) -> ([Float]) -> Double {
            { values in
                for (i, v) in values.enumerated() { adapters.parameters.pointer[offset + i] = v }
                return loss(x)
            }
        }
        _ = loss(x)   // the forward keeps x·Aᵀ for the backward
        let grads = FloatBuffer(count: adapters.parameters.count)
        var dx = [Float](repeating: 0, count: x.count)
        adapters.backward(.intermediate, layer: 0, dOut: weights, outStride: outStride, input: x, dInput: &dx, rows: rows,
                          gradients: grads, dropout: dropout)
        var a = adapters.parameters.array(offset: module.aOffset, count: r * inF)
        var b = adapters.parameters.array(offset: module.bOffset, count: outF * r)
        let x0 = x
        assertClose(grads.array(offset: module.aOffset, count: r * inF), centralDifferences(&a, h: 0.5, loss: parameterLoss(module.aOffset)),
                    rtol: 1e-4, atol: 1e-5, "dA")
        for (i, v) in a.enumerated() { adapters.parameters.pointer[module.aOffset + i] = v }
        assertClose(grads.array(offset: module.bOffset, count: outF * r), centralDifferences(&b, h: 0.5, loss: parameterLoss(module.bOffset)),
                    rtol: 1e-4, atol: 1e-5, "dB")
        for (i, v) in b.enumerated() { adapters.parameters.pointer[module.bOffset + i] = v }
        assertClose(dx, centralDifferences(&x, h: 0.5, loss: loss), rtol: 1e-4, atol: 1e-5, "dInput")
        #expect(x == x0)
    }
}
