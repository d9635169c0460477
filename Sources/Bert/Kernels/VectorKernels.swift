// The C kernels (Sources/CKernels), multi-versioned for x86-64-v3, behind a switch: setting
// BERTKIT_PORTABLE_KERNELS=1 runs their baseline builds instead, which is how Tools/bench shows what the
// AVX2/FMA versions gain. Results of the two builds agree to float rounding.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

package enum VectorKernels {
    /// The process-wide choice, fixed at start-up by BERTKIT_PORTABLE_KERNELS.
    package static let portableByDefault: Bool = getenv("BERTKIT_PORTABLE_KERNELS").map { String(cString: $0) == "1" } ?? false

    /// The build the kernels called on this thread use. A process-wide switch flipped by one caller would change
    /// the build under every other caller running at the same time (tests run in parallel), so the override of
    /// `withBuild(portable:_:)` belongs to the thread that set it and to the `Parallel` workers it starts.
    package static var portable: Bool { BuildOverride.current ?? portableByDefault }

    /// Runs `body` with the kernels it calls, on this thread and on the `Parallel` workers it starts, in the
    /// chosen build.
    package static func withBuild<R>(portable: Bool, _ body: () throws -> R) rethrows -> R {
        try BuildOverride.with(portable, body)
    }

    @inline(__always)
    static func geluForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        portable ? bk_gelu_forward_portable(out, x, n) : bk_gelu_forward(out, x, n)
    }

    @inline(__always)
    static func geluBackward(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
        portable ? bk_gelu_backward_portable(dx, dy, x, n) : bk_gelu_backward(dx, dy, x, n)
    }

    @inline(__always)
    static func softmaxRows(_ scores: UnsafeMutablePointer<Float>, rows: Int, length: Int, mask: UnsafePointer<Float>?) {
        portable ? bk_softmax_rows_portable(scores, rows, length, mask) : bk_softmax_rows(scores, rows, length, mask)
    }

    @inline(__always)
    static func layerNormForward(_ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>?, _ rstd: UnsafeMutablePointer<Float>?,
                                 _ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                                 rows: Int, dim: Int, eps: Float) {
        portable ? bk_layernorm_forward_portable(out, mean, rstd, x, weight, bias, rows, dim, eps)
                 : bk_layernorm_forward(out, mean, rstd, x, weight, bias, rows, dim, eps)
    }

    @inline(__always)
    static func addLayerNormForward(_ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>?,
                                    _ rstd: UnsafeMutablePointer<Float>?, _ x: UnsafeMutablePointer<Float>, _ residual: UnsafePointer<Float>,
                                    _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float) {
        portable ? bk_add_layernorm_forward_portable(out, mean, rstd, x, residual, weight, bias, rows, dim, eps)
                 : bk_add_layernorm_forward(out, mean, rstd, x, residual, weight, bias, rows, dim, eps)
    }

    @inline(__always)
    static func dropout(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int, first: Int,
                        key: UInt32, threshold: UInt32, scale: Float) {
        portable ? bk_dropout_portable(out, input, count, first, key, threshold, scale)
                 : bk_dropout(out, input, count, first, key, threshold, scale)
    }

    @inline(__always)
    package static func softmaxBackwardRows(_ g: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, rows: Int, length: Int) {
        portable ? bk_softmax_backward_rows_portable(g, p, rows, length) : bk_softmax_backward_rows(g, p, rows, length)
    }

    @inline(__always)
    static func layerNormBackward(_ dx: UnsafeMutablePointer<Float>, _ dWeight: UnsafeMutablePointer<Float>?,
                                  _ dBias: UnsafeMutablePointer<Float>?, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                  _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                                  rows: Int, dim: Int) {
        portable ? bk_layernorm_backward_portable(dx, dWeight, dBias, dy, x, mean, rstd, weight, rows, dim)
                 : bk_layernorm_backward(dx, dWeight, dBias, dy, x, mean, rstd, weight, rows, dim)
    }

    @inline(__always)
    static func columnSums(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int) {
        portable ? bk_column_sums_portable(out, x, rows, columns, stride) : bk_column_sums(out, x, rows, columns, stride)
    }

    @inline(__always)
    package static func adamW(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                             _ v: UnsafeMutablePointer<Float>, count: Int, gradientScale: Float, decay: Float, beta1: Float,
                             beta2: Float, stepSize: Float, bias2Root: Float, epsilon: Float) {
        portable ? bk_adamw_portable(p, g, m, v, count, gradientScale, decay, beta1, beta2, stepSize, bias2Root, epsilon)
                 : bk_adamw(p, g, m, v, count, gradientScale, decay, beta1, beta2, stepSize, bias2Root, epsilon)
    }

    @inline(__always)
    package static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        portable ? bk_sum_squares_portable(x, count) : bk_sum_squares(x, count)
    }

    @inline(__always)
    package static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by s: Float) {
        portable ? bk_scale_portable(x, count, s) : bk_scale(x, count, s)
    }
}

/// A per-thread `Bool?` in a pthread key (0: unset, 1: multi-versioned, 2: portable): Swift has no
/// thread-local variables of its own, and the kernels run on Dispatch's worker threads, where task-locals
/// do not reach.
enum BuildOverride {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    static var current: Bool? {
        switch Int(bitPattern: pthread_getspecific(key)) {
        case 1: return false
        case 2: return true
        default: return nil
        }
    }

    static func with<R>(_ portable: Bool?, _ body: () throws -> R) rethrows -> R {
        let saved = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: portable.map { $0 ? 2 : 1 } ?? 0))
        defer { pthread_setspecific(key, saved) }
        return try body()
    }
}
