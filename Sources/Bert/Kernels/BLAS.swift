// The OpenBLAS entry points the model uses, in one place. Row-major throughout; weights are PyTorch's
// [out, in], so `y = x·Wᵀ` is `sgemm(NoTrans, Trans)`.
//
// Threads: large products use OpenBLAS's own threads (BERTKIT_THREADS of them, set with `Parallel`).
// Many small independent products (attention's per-head ones) instead run as `Parallel` tasks, each a
// single-threaded OpenBLAS call (`withSingleThreadedCalls` + `sgemmOnThisThread`). Measured and dropped:
// keeping OpenBLAS single-threaded throughout and splitting every large product into row or column
// blocks over `Parallel` — it removes OpenBLAS's idle threads spinning against ours between products,
// but each block then packs its own copy of the shared operand, and the two effects cancelled (training
// step and forward within noise of each other, batch 8 and 1).

import CBLAS
import Synchronization

public enum BLAS {
    public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Runs `body`, whose BLAS calls go through `sgemmOnThisThread` from several `Parallel` threads at once,
    /// with OpenBLAS single-threaded (threaded calls made at once would share OpenBLAS's one thread pool).
    /// OpenBLAS's thread count is process-wide (Debian's 0.3.21 has no per-thread setting), so callers in
    /// several threads share one switch: the first in sets it to 1, the last out restores it.
    @inline(__always)
    public static func withSingleThreadedCalls<R>(_ body: () throws -> R) rethrows -> R {
        if Parallel.threadCount == 1 { return try body() }
        SingleThreadedSection.enter()
        defer { SingleThreadedSection.leave() }
        return try body()
    }

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major, with leading dimensions.
    @inline(__always)
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemmOnThisThread(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: c, ldc: ldc)
    }

    /// `sgemm` for use inside `withSingleThreadedCalls`: one single-threaded OpenBLAS call.
    @inline(__always)
    public static func sgemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C alone when k = 0 only if beta = 1; be explicit.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The naive twin of `sgemm`, for tests on odd shapes.
    public static func naiveSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Double = 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                c[i * ldc + j] = alpha * Float(sum) + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }
}

/// The callers inside `BLAS.withSingleThreadedCalls` and the thread count to restore when the last one leaves.
enum SingleThreadedSection {
    private static let lock = Mutex((inside: 0, restore: Int32(1)))

    static func enter() {
        lock.withLock { state in
            if state.inside == 0 {
                state.restore = openblas_get_num_threads()
                if state.restore != 1 { openblas_set_num_threads(1) }
            }
            state.inside += 1
        }
    }

    static func leave() {
        lock.withLock { state in
            state.inside -= 1
            if state.inside == 0 && state.restore != 1 { openblas_set_num_threads(state.restore) }
        }
    }
}
