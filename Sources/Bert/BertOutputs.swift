// The outputs of a forward pass copied out of the workspace into arrays, per head.

public struct BertOutputs {
    public let batch: Int, sequence: Int
    /// [B][T][H]
    public let lastHiddenState: [[[Float]]]
    /// [B][H] (heads with a pooler)
    public let pooled: [[Float]]?
    /// Sequence classification: [B][L]; token classification: [B][T][L] flattened per row as [B][T·L];
    /// masked LM: [B][T·V]. `logitsFlat` is all of it in row-major order.
    public let logitsFlat: [Float]
    public let startLogits: [[Float]]
    public let endLogits: [[Float]]

    public init(model: BertModel, workspace ws: BertWorkspace) {
        let c = model.config, B = ws.batch, T = ws.sequence, H = c.hiddenSize
        batch = B
        sequence = T
        func rows(_ pointer: UnsafeMutablePointer<Float>, _ n: Int, _ width: Int) -> [[Float]] {
            (0..<n).map { Array(UnsafeBufferPointer(start: pointer + $0 * width, count: width)) }
        }
        lastHiddenState = (0..<B).map { b in rows(ws.lastHiddenState + b * T * H, T, H) }
        pooled = model.head.hasPooler ? rows(ws.pooled, B, H) : nil
        switch model.head {
        case .sequenceClassification:
            logitsFlat = Array(UnsafeBufferPointer(start: ws.logits, count: B * c.numLabels))
        case .tokenClassification:
            logitsFlat = Array(UnsafeBufferPointer(start: ws.logits, count: B * T * c.numLabels))
        case .maskedLM:
            logitsFlat = Array(UnsafeBufferPointer(start: ws.lmLogits, count: B * T * c.vocabSize))
        case .questionAnswering, .base:
            logitsFlat = []
        }
        if model.head == .questionAnswering {
            startLogits = (0..<B).map { b in (0..<T).map { ws.logits[(b * T + $0) * 2] } }
            endLogits = (0..<B).map { b in (0..<T).map { ws.logits[(b * T + $0) * 2 + 1] } }
        } else {
            startLogits = []
            endLogits = []
        }
    }
}
