// The C kernels (Sources/CKernels), multi-versioned for x86-64-v3, behind a switch: setting
// BERTKIT_PORTABLE_KERNELS=1 runs their baseline builds instead, which is how Tools/bench shows what the
// AVX2/FMA versions gain. Results of the two builds agree to float rounding.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

public enum VectorKernels {
    nonisolated(unsafe) public static var portable: Bool = getenv("BERTKIT_PORTABLE_KERNELS").map { String(cString: $0) == "1" } ?? false

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
    static func dropout(_ out: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int, first: Int,
                        key: UInt32, threshold: UInt32, scale: Float) {
        portable ? bk_dropout_portable(out, input, count, first, key, threshold, scale)
                 : bk_dropout(out, input, count, first, key, threshold, scale)
    }
}
