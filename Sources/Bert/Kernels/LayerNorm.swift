// LayerNorm over the last dimension, forward and backward side by side:
//   y = (x − mean) · rstd · γ + β,   rstd = 1 / √(var + ε),   var biased (÷ dim), as torch.nn.LayerNorm.
// The forward keeps mean and rstd per row for the backward.

#if canImport(Glibc)
import Glibc
#endif

package enum LayerNorm {
    /// out, input: [rows, dim]; mean, rstd: [rows] (may be nil in inference); weight, bias: [dim].
    package static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
                               rstd: UnsafeMutablePointer<Float>?, input: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               rows: Int, dim: Int, eps: Float) {
        Parallel.forEachRange(rows, grain: 16) { range in
            let first = range.lowerBound
            VectorKernels.layerNormForward(out + first * dim, mean.map { $0 + first }, rstd.map { $0 + first }, input + first * dim,
                                           weight, bias, rows: range.count, dim: dim, eps: eps)
        }
    }

    /// A residual connection and its LayerNorm: sum ← sum + residual (the sum stays: it is the backward's
    /// input), then out = LayerNorm(sum). Equal to `add` then `forward`, in one pass over each row.
    package static func residualForward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
                                       rstd: UnsafeMutablePointer<Float>?, sum: UnsafeMutablePointer<Float>,
                                       residual: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                       rows: Int, dim: Int, eps: Float) {
        Parallel.forEachRange(rows, grain: 16) { range in
            let first = range.lowerBound
            VectorKernels.addLayerNormForward(out + first * dim, mean.map { $0 + first }, rstd.map { $0 + first }, sum + first * dim,
                                              residual + first * dim, weight, bias, rows: range.count, dim: dim, eps: eps)
        }
    }

    /// dInput += ∂L/∂x; dWeight += Σ dOut·x̂; dBias += Σ dOut. With x̂ = (x − mean)·rstd:
    ///   ∂L/∂x = rstd · (g − mean(g) − x̂ · mean(g · x̂)),   g = dOut · γ.
    /// (y = x̂·γ + β and x̂ depends on x through mean and rstd: ∂x̂_j/∂x_i = rstd·(δ_ij − 1/n − x̂_i·x̂_j/n).)
    /// The rows run in the C kernel; dInput must not alias dOut or input.
    package static func backward(dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
                                dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>,
                                input: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, rows: Int, dim: Int) {
        // Rows in parallel for dInput; γ/β gradients summed per thread, then reduced in order.
        let threads = min(Parallel.threadCount, max(1, rows / 16))
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: threads * 2 * dim)
        partial.initialize(repeating: 0, count: threads * 2 * dim)
        defer { partial.deallocate() }
        Parallel.forEachRange(threads) { chunkRange in
            for chunk in chunkRange {
                let dW = partial + chunk * 2 * dim, dB = dW + dim
                let first = rows * chunk / threads, end = rows * (chunk + 1) / threads
                VectorKernels.layerNormBackward(dInput + first * dim, dW, dB, dOut + first * dim, input + first * dim,
                                                mean + first, rstd + first, weight, rows: end - first, dim: dim)
            }
        }
        for chunk in 0..<threads {
            let dW = partial + chunk * 2 * dim, dB = dW + dim
            if let dWeight { for i in 0..<dim { dWeight[i] += dW[i] } }
            if let dBias { for i in 0..<dim { dBias[i] += dB[i] } }
        }
    }
}
