// Multi-head scaled dot-product attention with a key-padding mask, forward and backward side by side.
// Layout: qkv is [B, T, 3H] (query | key | value per row), head h of each at columns h·d ..< (h+1)·d, so
// every per-head product is a strided GEMM on the original buffers — no reshapes or copies.
//   scores = (Q·Kᵀ)·d^-½ ; attnProbs = softmax(scores + mask) ; ctx = dropout(attnProbs)·V
// Masked keys get probability exactly 0, as transformers' additive finfo.min mask gives after exp;
// a query whose keys are all masked attends uniformly to all of them, as that mask also gives.
//
// Each (batch, head) is one task — its T×T probabilities live only in a per-thread scratch slot, and the
// tasks run in parallel with single-threaded GEMMs (a 128×128×64 product is too small to split across
// cores, and there are B·heads of them). The probabilities are not kept for the backward: it recomputes
// them from Q and K (one T×T×d product and a softmax per head, ~1% of a training step) instead of holding
// B·heads·T·T floats per layer (151 MB for bert-base at batch 16 × 128). The recomputation runs the same
// code on the same inputs, so it reproduces the forward's probabilities bit for bit.

#if canImport(Glibc)
import Glibc
#endif

package struct AttentionShape: Sendable {
    package let batch: Int, sequence: Int, heads: Int, headDim: Int
    package var hidden: Int { heads * headDim }
    package init(batch: Int, sequence: Int, heads: Int, headDim: Int) {
        self.batch = batch; self.sequence = sequence; self.heads = heads; self.headDim = headDim
    }
}

package enum Attention {
    /// Floats of scratch for `slots` parallel tasks (each holds two T×T matrices).
    package static func scratchCount(sequence: Int, slots: Int) -> Int { max(slots, 1) * 2 * sequence * sequence }

    /// ctx [B,T,H] ← attention over qkv [B,T,3H]. keyMask [B,T]: 1 = attend, 0 = padding; nil = attend
    /// everywhere. scratch: `scratchCount(sequence:slots:)` floats for `slots` tasks at once.
    /// `realKeys` (inference; the lengths of TokenBatch.packedRows): row b attends over its first realKeys[b]
    /// keys alone — the same probabilities (a masked key's is exactly 0), and the same arithmetic as the packed
    /// layout, so packed and padded batches give the same bits. Training keeps the T×T layout its dropout masks
    /// count in.
    package static func forward(ctx: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?,
                               shape: AttentionShape, dropout: DropoutMask?, scratch: UnsafeMutablePointer<Float>, slots: Int,
                               realKeys: [Int]? = nil) {
        let T = shape.sequence, H = shape.hidden, d = shape.headDim
        let realKeys = dropout == nil ? realKeys : nil
        BLAS.withSingleThreadedCalls {
            Parallel.forEachChunk(shape.batch * shape.heads, chunks: min(slots, Parallel.threadCount)) { slot, range in
                let probs = scratch + slot * 2 * T * T                                       // [T, T] or [rows, keys]
                for bh in range {
                    let b = bh / shape.heads, h = bh % shape.heads
                    let v = qkv + b * T * 3 * H + 2 * H + h * d
                    let keys = realKeys?[b] ?? T
                    if keys < T {
                        // The real queries, then the padding's, each as its own product: the real rows then see
                        // exactly the products packedForward makes for them.
                        for (first, count) in [(0, keys), (keys, T - keys)] {
                            probabilities(probs, qkv: qkv, keyMask: nil, shape: shape, b: b, h: h, keys: keys,
                                          queries: first..<first + count)
                            BLAS.sgemmOnThisThread(transA: false, transB: false, m: count, n: d, k: keys, a: probs, lda: keys,
                                                   b: v, ldb: 3 * H, beta: 0, c: ctx + (b * T + first) * H + h * d, ldc: H)
                        }
                        continue
                    }
                    probabilities(probs, qkv: qkv, keyMask: keyMask, shape: shape, b: b, h: h)
                    // Nothing keeps the probabilities, so dropout applies in place.
                    dropout?.apply(to: probs, out: probs, count: T * T, first: bh * T * T)
                    BLAS.sgemmOnThisThread(transA: false, transB: false, m: T, n: d, k: T,
                                           a: probs, lda: T, b: v, ldb: 3 * H, beta: 0, c: ctx + b * T * H + h * d, ldc: H)
                }
            }
        }
    }

    /// Attention over packed rows (PackedRows): qkv [N, 3H] and ctx [N, H] hold the real tokens of every
    /// sequence one after another; each sequence attends over its own rows only, which is what the padded
    /// computation gives its real tokens (masked keys get probability exactly 0 there). `dropout` (packed training):
    /// the probabilities are dropped with the padded layout's mask [B, heads, T, T] of the batch padded to
    /// `paddedSequence`, so a packed batch is dropped exactly as the padded one.
    package static func packedForward(ctx: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, starts: [Int],
                                     heads: Int, headDim d: Int, scratch: UnsafeMutablePointer<Float>, slots: Int,
                                     dropout: DropoutMask? = nil, paddedSequence T: Int = 0) {
        let H = heads * d, sequences = starts.count - 1
        let longest = (0..<sequences).map { starts[$0 + 1] - starts[$0] }.max() ?? 0
        BLAS.withSingleThreadedCalls {
            Parallel.forEachChunk(sequences * heads, chunks: min(slots, Parallel.threadCount)) { slot, range in
                let probs = scratch + slot * 2 * longest * longest                          // [n, n]
                for task in range {
                    let b = task / heads, h = task % heads, n = starts[b + 1] - starts[b]
                    let q = qkv + starts[b] * 3 * H + h * d, k = q + H, v = q + 2 * H
                    packedProbabilities(probs, q: q, k: k, n: n, H: H, d: d)
                    if let dropout { dropPacked(probs, dropout, n: n, firstOfRow0: task * T * T, T: T) }
                    BLAS.sgemmOnThisThread(transA: false, transB: false, m: n, n: d, k: n,
                                           a: probs, lda: n, b: v, ldb: 3 * H, beta: 0, c: ctx + starts[b] * H + h * d, ldc: H)
                }
            }
        }
    }

    /// The backward of `packedForward` (the same steps as `backward`, over each sequence's own n rows): dQKV [N, 3H] +=
    /// ∂L/∂qkv given dCtx [N, H].
    package static func packedBackward(dQKV: UnsafeMutablePointer<Float>, dCtx: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                      starts: [Int], heads: Int, headDim d: Int, dropout: DropoutMask?, paddedSequence T: Int,
                                      scratch: UnsafeMutablePointer<Float>, slots: Int) {
        let H = heads * d, sequences = starts.count - 1
        let longest = (0..<sequences).map { starts[$0 + 1] - starts[$0] }.max() ?? 0
        let scale = 1 / Float(d).squareRoot()
        BLAS.withSingleThreadedCalls {
            Parallel.forEachChunk(sequences * heads, chunks: min(slots, Parallel.threadCount)) { slot, range in
                let probs = scratch + slot * 2 * longest * longest, dP = probs + longest * longest   // [n, n] each
                for task in range {
                    let b = task / heads, h = task % heads, n = starts[b + 1] - starts[b]
                    let q = qkv + starts[b] * 3 * H + h * d, k = q + H, v = q + 2 * H
                    let dq = dQKV + starts[b] * 3 * H + h * d, dk = dq + H, dv = dq + 2 * H
                    let dc = dCtx + starts[b] * H + h * d
                    packedProbabilities(probs, q: q, k: k, n: n, H: H, d: d)
                    var probsUsed = UnsafePointer(probs)
                    if let dropout {
                        dP.update(from: probs, count: n * n)
                        dropPacked(dP, dropout, n: n, firstOfRow0: task * T * T, T: T)
                        probsUsed = UnsafePointer(dP)
                    }
                    BLAS.sgemmOnThisThread(transA: true, transB: false, m: n, n: d, k: n,
                                           a: probsUsed, lda: n, b: dc, ldb: H, beta: 1, c: dv, ldc: 3 * H)
                    BLAS.sgemmOnThisThread(transA: false, transB: true, m: n, n: n, k: d,
                                           a: dc, lda: H, b: v, ldb: 3 * H, beta: 0, c: dP, ldc: n)
                    if let dropout { dropPacked(dP, dropout, n: n, firstOfRow0: task * T * T, T: T) }
                    VectorKernels.softmaxBackwardRows(dP, probs, rows: n, length: n)
                    BLAS.sgemmOnThisThread(transA: false, transB: false, m: n, n: d, k: n, alpha: scale,
                                           a: dP, lda: n, b: k, ldb: 3 * H, beta: 1, c: dq, ldc: 3 * H)
                    BLAS.sgemmOnThisThread(transA: true, transB: false, m: n, n: d, k: n, alpha: scale,
                                           a: dP, lda: n, b: q, ldb: 3 * H, beta: 1, c: dk, ldc: 3 * H)
                }
            }
        }
    }

    /// probs [n, n] ← softmax(Q·Kᵀ·d^-½) of one sequence's n packed rows (q, k: its first row, row stride 3H).
    @inline(__always)
    static func packedProbabilities(_ probs: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                    n: Int, H: Int, d: Int) {
        BLAS.sgemmOnThisThread(transA: false, transB: true, m: n, n: n, k: d, alpha: 1 / Float(d).squareRoot(),
                               a: q, lda: 3 * H, b: k, ldb: 3 * H, beta: 0, c: probs, ldc: n)
        VectorKernels.softmaxRows(probs, rows: n, length: n, mask: nil)
    }

    /// Drops an [n, n] block in place with the padded [T, T] layout's mask of its (sequence, head), whose element
    /// (0, 0) is `firstOfRow0`: row i of the block is row i of the padded matrix, its first n columns.
    @inline(__always)
    static func dropPacked(_ block: UnsafeMutablePointer<Float>, _ dropout: DropoutMask, n: Int, firstOfRow0: Int, T: Int) {
        for i in 0..<n { dropout.apply(to: block + i * n, out: block + i * n, count: n, first: firstOfRow0 + i * T) }
    }

    /// probs [T, keys] ← softmax(Q_h·K_hᵀ·d^-½ + mask_b) for batch row b, head h, over its first `keys` keys
    /// (default all T).
    @inline(__always)
    static func probabilities(_ probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?,
                              shape: AttentionShape, b: Int, h: Int, keys: Int? = nil, queries: Range<Int>? = nil) {
        let T = shape.sequence, H = shape.hidden, d = shape.headDim, n = keys ?? T
        let rows = queries ?? 0..<T
        let k = qkv + b * T * 3 * H + h * d + H, q = k - H + rows.lowerBound * 3 * H
        BLAS.sgemmOnThisThread(transA: false, transB: true, m: rows.count, n: n, k: d, alpha: 1 / Float(d).squareRoot(),
                               a: q, lda: 3 * H, b: k, ldb: 3 * H, beta: 0, c: probs, ldc: n)
        VectorKernels.softmaxRows(probs, rows: rows.count, length: n, mask: keyMask.map { $0 + b * T })
    }

    /// In-place masked softmax over every row of attnProbs [B, heads, T, T].
    package static func softmaxRows(_ attnProbs: UnsafeMutablePointer<Float>, shape: AttentionShape, keyMask: UnsafePointer<Float>?) {
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

    /// dQKV += ∂L/∂qkv given dCtx, for the forward on the same qkv, keyMask and dropout. Per head, with
    /// P the probabilities (recomputed) and P' = dropout(P):
    ///   dV += P'ᵀ·dCtx,  dP' = dCtx·Vᵀ,  dP = dropoutᵀ(dP'),  dS = P ⊙ (dP − Σ_j dP·P),
    ///   dQ += d^-½ · dS·K,  dK += d^-½ · dSᵀ·Q.
    package static func backward(dQKV: UnsafeMutablePointer<Float>, dCtx: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                keyMask: UnsafePointer<Float>?, shape: AttentionShape, dropout: DropoutMask?,
                                scratch: UnsafeMutablePointer<Float>, slots: Int) {
        let T = shape.sequence, H = shape.hidden, d = shape.headDim
        let scale = 1 / Float(d).squareRoot()
        BLAS.withSingleThreadedCalls {
            Parallel.forEachChunk(shape.batch * shape.heads, chunks: min(slots, Parallel.threadCount)) { slot, range in
                let probs = scratch + slot * 2 * T * T, dP = probs + T * T                   // [T, T] each
                for bh in range {
                    let b = bh / shape.heads, h = bh % shape.heads
                    let q = qkv + b * T * 3 * H + h * d, k = q + H, v = q + 2 * H
                    let dq = dQKV + b * T * 3 * H + h * d, dk = dq + H, dv = dq + 2 * H
                    let dc = dCtx + b * T * H + h * d
                    let first = bh * T * T
                    probabilities(probs, qkv: qkv, keyMask: keyMask, shape: shape, b: b, h: h)
                    // dV += P'ᵀ·dCtx (P' is staged in dP's slot, which the next product overwrites).
                    var probsUsed = UnsafePointer(probs)
                    if let dropout {
                        dropout.apply(to: probs, out: dP, count: T * T, first: first)
                        probsUsed = UnsafePointer(dP)
                    }
                    BLAS.sgemmOnThisThread(transA: true, transB: false, m: T, n: d, k: T,
                                           a: probsUsed, lda: T, b: dc, ldb: H, beta: 1, c: dv, ldc: 3 * H)
                    BLAS.sgemmOnThisThread(transA: false, transB: true, m: T, n: T, k: d,
                                           a: dc, lda: H, b: v, ldb: 3 * H, beta: 0, c: dP, ldc: T)
                    dropout?.apply(to: dP, out: dP, count: T * T, first: first)
                    VectorKernels.softmaxBackwardRows(dP, probs, rows: T, length: T)
                    BLAS.sgemmOnThisThread(transA: false, transB: false, m: T, n: d, k: T, alpha: scale,
                                           a: dP, lda: T, b: k, ldb: 3 * H, beta: 1, c: dq, ldc: 3 * H)
                    BLAS.sgemmOnThisThread(transA: true, transB: false, m: T, n: d, k: T, alpha: scale,
                                           a: dP, lda: T, b: q, ldb: 3 * H, beta: 1, c: dk, ldc: 3 * H)
                }
            }
        }
    }

    /// The naive twin of `forward` (double accumulation, transformers' additive mask, no dropout), for tests.
    package static func naiveForward(ctx: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?,
                                    shape: AttentionShape) {
        let T = shape.sequence, H = shape.hidden, d = shape.headDim
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                for i in 0..<T {
                    var scores = (0..<T).map { j -> Double in
                        var s = 0.0
                        for e in 0..<d { s += Double(qkv[(b * T + i) * 3 * H + h * d + e]) * Double(qkv[(b * T + j) * 3 * H + H + h * d + e]) }
                        return s / Double(d).squareRoot() + (keyMask.map { $0[b * T + j] == 0 } == true ? -1e30 : 0)
                    }
                    let top = scores.max()!
                    scores = scores.map { exp($0 - top) }
                    let total = scores.reduce(0, +)
                    for e in 0..<d {
                        var sum = 0.0
                        for j in 0..<T { sum += scores[j] / total * Double(qkv[(b * T + j) * 3 * H + 2 * H + h * d + e]) }
                        ctx[(b * T + i) * H + h * d + e] = Float(sum)
                    }
                }
            }
        }
    }
}
