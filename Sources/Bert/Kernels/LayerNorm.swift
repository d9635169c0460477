// LayerNorm over the last dimension, forward and backward side by side:
//   y = (x − mean) · rstd · γ + β,   rstd = 1 / √(var + ε),   var biased (÷ dim), as torch.nn.LayerNorm.
// The forward keeps mean and rstd per row for the backward.

#if canImport(Glibc)
import Glibc
#endif

public enum LayerNorm {
    /// out, input: [rows, dim]; mean, rstd: [rows] (may be nil in inference); weight, bias: [dim].
    public static func forward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?,
                               rstd: UnsafeMutablePointer<Float>?, input: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                               rows: Int, dim: Int, eps: Float) {
        Parallel.forEachRange(rows, grain: 16) { range in
            let first = range.lowerBound
            VectorKernels.layerNormForward(out + first * dim, mean.map { $0 + first }, rstd.map { $0 + first }, input + first * dim,
                                           weight, bias, rows: range.count, dim: dim, eps: eps)
        }
    }

    /// dInput += ∂L/∂x; dWeight += Σ dOut·x̂; dBias += Σ dOut. With x̂ = (x − mean)·rstd:
    ///   ∂L/∂x = rstd · (g − mean(g) − x̂ · mean(g · x̂)),   g = dOut · γ.
    public static func backward(dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
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
                for r in (rows * chunk / threads)..<(rows * (chunk + 1) / threads) {
                    let x = input + r * dim, dy = dOut + r * dim, dx = dInput + r * dim
                    let lnMean = mean[r], lnRstd = rstd[r]
                    var gMean: Float = 0, gxMean: Float = 0
                    for i in 0..<dim {
                        let xHat = (x[i] - lnMean) * lnRstd
                        let g = dy[i] * weight[i]
                        gMean += g
                        gxMean += g * xHat
                        dW[i] += dy[i] * xHat
                        dB[i] += dy[i]
                    }
                    gMean /= Float(dim)
                    gxMean /= Float(dim)
                    for i in 0..<dim {
                        let xHat = (x[i] - lnMean) * lnRstd
                        dx[i] += lnRstd * (dy[i] * weight[i] - gMean - xHat * gxMean)
                    }
                }
            }
        }
        for chunk in 0..<threads {
            let dW = partial + chunk * 2 * dim, dB = dW + dim
            if let dWeight { for i in 0..<dim { dWeight[i] += dW[i] } }
            if let dBias { for i in 0..<dim { dBias[i] += dB[i] } }
        }
    }
}
