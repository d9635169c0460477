// The masked-LM decoder on the scored rows only (BertWorkspace.lmRows, what training and evaluation use) against
// the decoder on every row (what transformers computes): the same loss, logits and gradients of every parameter.

import Testing
import Bert
import TestSupport

@Suite struct MaskedLMRowsTests {
    @Test func scoredRowsGiveTheFullDecodersLossLogitsAndGradients() throws {
        let config = tinyConfig(vocab: 40)
        let model = BertModel(config: config, head: .maskedLM)
        model.initialiseAll(seed: 31)
        let B = 3, T = 6
        let ids = (0..<B).map { b in (0..<T).map { t in (b * 7 + t * 11 + 3) % 40 } }
        let mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 0]]
        let batch = try TokenBatch(inputIds: ids, attentionMask: mask)
        // Scored rows in every example, none in padding, one example's first and last token.
        let targets = [5, -100, -100, 17, -100, 3, -100, 9, -100, -100, -100, -100, -100, -100, 39, -100, 0, -100]
        let labels = Labels.maskedTokens(targets)
        #expect(labels.maskedRows == [0, 3, 5, 7, 14, 16])

        func run(compact: Bool) throws -> (loss: Double, logits: [[Float]], gradients: [Float]) {
            let ws = BertWorkspace(config: config, head: .maskedLM, batch: B, sequence: T, keepsEveryLayer: true)
            let bw = BertBackwardWorkspace(config: config, head: .maskedLM, batch: B, sequence: T)
            ws.lmRows = compact ? labels.maskedRows : nil
            model.forward(batch, workspace: ws)
            let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: 6)
            let rows = labels.maskedRows!
            let logits = rows.enumerated().map { k, row in
                Array(UnsafeBufferPointer(start: ws.lmLogits + (compact ? k : row) * config.vocabSize, count: config.vocabSize))
            }
            let gradients = FloatBuffer(count: model.parameters.count)
            model.backward(batch, workspace: ws, backward: bw, gradients: gradients)
            return (loss, logits, gradients.array())
        }
        let full = try run(compact: false), compact = try run(compact: true)
        #expect(abs(full.loss - compact.loss) <= 1e-9 * abs(full.loss))
        for (a, b) in zip(full.logits, compact.logits) { assertClose(b, a.map(Double.init), rtol: 1e-6, atol: 1e-6, "logits") }
        assertClose(compact.gradients, full.gradients.map(Double.init), rtol: 1e-5, atol: 1e-6, "gradients")
        #expect(full.gradients.contains { $0 != 0 })
    }
}
