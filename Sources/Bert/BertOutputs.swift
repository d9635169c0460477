// The outputs of a forward pass copied out of the workspace into arrays, per head.

package struct BertOutputs {
    package let batch: Int, sequence: Int
    /// [B][T][H]
    package let lastHiddenState: [[[Float]]]
    /// [B][H] (heads with a pooler)
    package let pooled: [[Float]]?
    /// Sequence classification: [B][L]; token classification: [B][T][L] flattened per row as [B][T·L];
    /// masked LM: [B][T·V]. `logitsFlat` is all of it in row-major order.
    package let logitsFlat: [Float]
    package let startLogits: [[Float]]
    package let endLogits: [[Float]]

    package init(model: BertModel, workspace ws: BertWorkspace) {
        let c = model.config, B = ws.batch, T = ws.sequence, H = c.hiddenSize
        batch = B
        sequence = T
        func rows(_ pointer: UnsafeMutablePointer<Float>, _ n: Int, _ width: Int) -> [[Float]] {
            (0..<n).map { Array(UnsafeBufferPointer(start: pointer + $0 * width, count: width)) }
        }
        lastHiddenState = (0..<B).map { b in rows(ws.lastHiddenState + b * T * H, T, H) }
        pooled = model.hasPoolerOutput ? rows(ws.pooled, B, H) : nil
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
            startLogits = (0..<B).map { b in SpanLogits.column(ws.logits + b * T * 2, rows: T, .start) }
            endLogits = (0..<B).map { b in SpanLogits.column(ws.logits + b * T * 2, rows: T, .end) }
        } else {
            startLogits = []
            endLogits = []
        }
    }
}

/// The question-answering head's logits are [rows, 2]: column 0 scores a position as the answer's start,
/// column 1 as its end — transformers' BertForQuestionAnswering takes them apart with
/// `logits.split(1, dim=-1)` (modeling_bert.py, v5.24.0). The one place that knows the interleaving.
package enum SpanLogits {
    package enum Side: Int, Sendable { case start = 0, end = 1 }

    /// One side's logits out of the interleaved [rows, 2].
    package static func column(_ logits: UnsafePointer<Float>, rows: Int, _ side: Side) -> [Float] {
        (0..<rows).map { logits[2 * $0 + side.rawValue] }
    }

    /// Both sides back into the interleaved layout (the loss's gradients).
    package static func interleave(start: [Float], end: [Float], into out: UnsafeMutablePointer<Float>) {
        for i in 0..<start.count {
            out[2 * i + Side.start.rawValue] = start[i]
            out[2 * i + Side.end.rawValue] = end[i]
        }
    }
}
