// AdamW exactly as torch.optim.AdamW computes it (Docs/specs/transformers_training.md §2), over one flat
// buffer of parameters with one flat buffer each of gradients and moments in the same layout:
//   p ← p·(1 − lr·λ) ;  m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
// λ comes from a per-element decay mask (the Trainer's no-decay group: biases and LayerNorm weights).

import Bert
#if canImport(Glibc)
import Glibc
#endif

package struct AdamWSettings: Sendable {
    package var beta1: Float = 0.9
    package var beta2: Float = 0.999
    package var epsilon: Float = 1e-8
    package var weightDecay: Float = 0.01
    package init() {}
}

package final class AdamW {
    package let settings: AdamWSettings
    package let tensors: [TrainableTensor]
    /// First and second moments, one slot per trainable element (tensors back to back).
    package let m: FloatBuffer
    package let v: FloatBuffer
    /// Updates applied so far (t in the bias corrections).
    package private(set) var step = 0

    package init(settings: AdamWSettings, tensors: [TrainableTensor]) {
        self.settings = settings
        self.tensors = tensors
        let count = tensors.reduce(0) { $0 + $1.count }
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: count)
    }

    /// Restores the state of a checkpoint.
    package func restore(step: Int, m: [Float], v: [Float]) {
        self.step = step
        m.withUnsafeBufferPointer { self.m.pointer.update(from: $0.baseAddress!, count: min($0.count, self.m.count)) }
        v.withUnsafeBufferPointer { self.v.pointer.update(from: $0.baseAddress!, count: min($0.count, self.v.count)) }
    }

    /// One update with learning rate `lr`. `gradientScale` multiplies every gradient as it is read (the
    /// global-norm clipping coefficient, so clipping needs no pass of its own); 1 reads them as they are.
    package func update(lr: Float, gradientScale: Float = 1) {
        step += 1
        let s = settings
        let bias1 = 1 - pow(s.beta1, Float(step)), bias2 = 1 - pow(s.beta2, Float(step))
        let stepSize = lr / bias1, bias2Root = bias2.squareRoot()
        var momentOffset = 0
        for tensor in tensors {
            let decay = 1 - lr * (tensor.decays ? s.weightDecay : 0)
            let p = tensor.values, g = tensor.gradient, m = m.pointer + momentOffset, v = v.pointer + momentOffset
            Parallel.forEachRange(tensor.count, grain: 1 << 16) { chunk in
                let i = chunk.lowerBound
                VectorKernels.adamW(p + i, g + i, m + i, v + i, count: chunk.count, gradientScale: gradientScale, decay: decay,
                                    beta1: s.beta1, beta2: s.beta2, stepSize: stepSize, bias2Root: bias2Root, epsilon: s.epsilon)
            }
            momentOffset += tensor.count
        }
    }
}

/// transformers' `get_linear_schedule_with_warmup`: linear warmup from 0 over `warmupSteps`, then linear
/// decay to 0 at `totalSteps`. Update k (0-based) uses lr · f(k).
package struct LinearSchedule: Sendable, Codable {
    package let peak: Float
    package let warmupSteps: Int
    package let totalSteps: Int

    package init(peak: Float, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The Trainer's warmup: `warmup_steps` ≥ 1 is a count; below 1 it is a ratio of the total, rounded up.
    package static func warmupSteps(ratio: Double?, steps: Int?, total: Int) -> Int {
        if let steps, steps > 0 { return steps }
        if let ratio, ratio > 0 { return Int((Double(total) * ratio).rounded(.up)) }
        return 0
    }

    package func learningRate(update k: Int) -> Float {
        if k < warmupSteps { return peak * Float(k) / Float(max(1, warmupSteps)) }
        return peak * max(0, Float(totalSteps - k) / Float(max(1, totalSteps - warmupSteps)))
    }
}

package enum GradientClipping {
    /// The global L2 norm of the tensors' gradients (sums of squares in double, tensors in parallel chunks).
    package static func norm(_ tensors: [TrainableTensor]) -> Float {
        var total = 0.0
        for tensor in tensors {
            let chunks = max(1, min(Parallel.threadCount, tensor.count >> 16))
            var partial = [Double](repeating: 0, count: chunks)
            partial.withUnsafeMutableBufferPointer { sums in
                let sums = sums.baseAddress!
                Parallel.forEachRange(chunks) { range in
                    for chunk in range {
                        let first = tensor.count * chunk / chunks, end = tensor.count * (chunk + 1) / chunks
                        sums[chunk] = VectorKernels.sumOfSquares(tensor.gradient + first, count: end - first)
                    }
                }
            }
            total += partial.reduce(0, +)
        }
        return Float(total.squareRoot())
    }

    /// torch's `clip_grad_norm_` coefficient for a gradient of norm `norm`: min(1, maxNorm / (norm + 1e-6)).
    package static func coefficient(norm: Float, maxNorm: Float) -> Float {
        maxNorm > 0 ? min(1, maxNorm / (norm + 1e-6)) : 1
    }

    /// torch's `clip_grad_norm_`: scale by min(1, maxNorm / (norm + 1e-6)). Returns the norm before clipping.
    /// (A training step can instead pass `coefficient` to `AdamW.update(lr:gradientScale:)`: the same
    /// numbers without a pass over the gradients.)
    @discardableResult
    package static func clip(_ tensors: [TrainableTensor], maxNorm: Float) -> Float {
        let total = norm(tensors)
        guard maxNorm > 0 else { return total }
        let c = coefficient(norm: total, maxNorm: maxNorm)
        for tensor in tensors {
            Parallel.forEachRange(tensor.count, grain: 1 << 16) { range in
                VectorKernels.scale(tensor.gradient + range.lowerBound, count: range.count, by: c)
            }
        }
        return total
    }
}
