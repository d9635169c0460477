// Multi-head scaled dot-product attention with a key-padding mask, forward and backward side by side.
// Layout: qkv is [B, T, 3H] (query | key | value per row), head h of each at columns h·d ..< (h+1)·d, so
// every per-head product is a strided GEMM on the original buffers — no reshapes or copies.
//   scores = (Q·Kᵀ)·d^-½ ; attnProbs = softmax(scores + mask) ; ctx = dropout(attnProbs)·V
// Masked keys get probability exactly 0, as transformers' additive finfo.min mask gives after exp;
// a query whose keys are all masked attends uniformly to all of them, as that mask also gives.

#if canImport(Glibc)
import Glibc
#endif

public struct AttentionShape: Sendable {
    public let batch: Int, sequence: Int, heads: Int, headDim: Int
    public var hidden: Int { heads * headDim }
    public init(batch: Int, sequence: Int, heads: Int, headDim: Int) {
        self.batch = batch; self.sequence = sequence; self.heads = heads; self.headDim = headDim
    }
}

public enum Attention {
    /// ctx [B,T,H] ← attention over qkv [B,T,3H]; attnProbs [B,heads,T,T] keeps the softmax (before
    /// dropout) for the backward. keyMask [B,T]: 1 = attend, 0 = padding; nil = attend everywhere.
    /// scratch: T·T floats (the dropped-out probabilities when dropout is on).
    public static func forward(ctx: UnsafeMutablePointer<Float>, attnProbs: UnsafeMutablePointer<Float>,
                               qkv: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?, shape: AttentionShape,
                               dropout: DropoutMask?, scratch: UnsafeMutablePointer<Float>) {
        let T = shape.sequence, H = shape.hidden, d = shape.headDim
        let scale = 1 / Float(d).squareRoot()
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                let q = qkv + b * T * 3 * H + h * d, k = q + H
                let probs = attnProbs + (b * shape.heads + h) * T * T
                BLAS.sgemm(transA: false, transB: true, m: T, n: T, k: d, alpha: scale,
                           a: q, lda: 3 * H, b: k, ldb: 3 * H, beta: 0, c: probs, ldc: T)
            }
        }
        softmaxRows(attnProbs, shape: shape, keyMask: keyMask)
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                let v = qkv + b * T * 3 * H + 2 * H + h * d
                var probs = UnsafePointer(attnProbs + (b * shape.heads + h) * T * T)
                if let dropout {
                    dropout.apply(to: probs, out: scratch, count: T * T, first: (b * shape.heads + h) * T * T)
                    probs = UnsafePointer(scratch)
                }
                BLAS.sgemm(transA: false, transB: false, m: T, n: d, k: T,
                           a: probs, lda: T, b: v, ldb: 3 * H, beta: 0, c: ctx + b * T * H + h * d, ldc: H)
            }
        }
    }

    /// In-place masked softmax over every row of attnProbs [B, heads, T, T].
    public static func softmaxRows(_ attnProbs: UnsafeMutablePointer<Float>, shape: AttentionShape, keyMask: UnsafePointer<Float>?) {
        let T = shape.sequence, rowsPerBatch = shape.heads * T
        Parallel.forEachRange(shape.batch * rowsPerBatch, grain: 64) { range in
            // Split each range at batch boundaries: the key mask is per batch row.
            var row = range.lowerBound
            while row < range.upperBound {
                let b = row / rowsPerBatch
                let end = min(range.upperBound, (b + 1) * rowsPerBatch)
                VectorKernels.softmaxRows(attnProbs + row * T, rows: end - row, length: T, mask: keyMask.map { $0 + b * T })
                row = end
            }
        }
    }

    /// dQKV += ∂L/∂qkv given dCtx. scratch: 2·T·T floats.
    ///   dP' = dCtx·Vᵀ,  dV += P'ᵀ·dCtx,  dP = dropoutᵀ(dP'),  dS = P ⊙ (dP − Σ_j dP·P),
    ///   dQ += d^-½ · dS·K,  dK += d^-½ · dSᵀ·Q.
    public static func backward(dQKV: UnsafeMutablePointer<Float>, dCtx: UnsafePointer<Float>,
                                attnProbs: UnsafePointer<Float>, qkv: UnsafePointer<Float>, shape: AttentionShape,
                                dropout: DropoutMask?, scratch: UnsafeMutablePointer<Float>) {
        let T = shape.sequence, H = shape.hidden, d = shape.headDim
        let scale = 1 / Float(d).squareRoot()
        let dP = scratch, dropped = scratch + T * T
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                let q = qkv + b * T * 3 * H + h * d, k = q + H, v = q + 2 * H
                let dq = dQKV + b * T * 3 * H + h * d, dk = dq + H, dv = dq + 2 * H
                let dc = dCtx + b * T * H + h * d
                let first = (b * shape.heads + h) * T * T
                let probs = attnProbs + first
                var probsUsed = probs
                if let dropout {
                    dropout.apply(to: probs, out: dropped, count: T * T, first: first)
                    probsUsed = UnsafePointer(dropped)
                }
                BLAS.sgemm(transA: false, transB: true, m: T, n: T, k: d,
                           a: dc, lda: H, b: v, ldb: 3 * H, beta: 0, c: dP, ldc: T)
                BLAS.sgemm(transA: true, transB: false, m: T, n: d, k: T,
                           a: probsUsed, lda: T, b: dc, ldb: H, beta: 1, c: dv, ldc: 3 * H)
                if let dropout { dropout.apply(dP, count: T * T, first: first) }
                for i in 0..<T {
                    let p = probs + i * T, g = dP + i * T
                    var dot: Float = 0
                    for j in 0..<T { dot += g[j] * p[j] }
                    for j in 0..<T { g[j] = p[j] * (g[j] - dot) }
                }
                BLAS.sgemm(transA: false, transB: false, m: T, n: d, k: T, alpha: scale,
                           a: dP, lda: T, b: k, ldb: 3 * H, beta: 1, c: dq, ldc: 3 * H)
                BLAS.sgemm(transA: true, transB: false, m: T, n: d, k: T, alpha: scale,
                           a: dP, lda: T, b: q, ldb: 3 * H, beta: 1, c: dk, ldc: 3 * H)
            }
        }
    }
}
