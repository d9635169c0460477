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
import CKernels
#if canImport(Glibc)
import Glibc
#endif

package enum BLAS {
    package static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    package static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The kernels OpenBLAS chose for this CPU when it loaded (`openblas_get_corename`, e.g. "SkylakeX").
    package static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's x86-64 core names (`openblas_get_corename`) whose kernels stop short of AVX2 — Sandybridge's (AVX)
    /// too — so below any CPU of level 3 or more.
    package static let coresBelowAVX2: Set<String> = [
        "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Sandybridge", "Katmai", "Coppermine", "Northwood",
        "Banias", "Opteron", "Opteron(SSE3)", "Barcelona", "Bobcat", "Bulldozer", "Piledriver", "Steamroller", "Excavator",
        "Unknown"]

    /// The x86-64 level this CPU runs (4: AVX-512, 3: AVX2 + FMA, 1: older; 0 off x86-64).
    package static var cpuLevel: Int { Int(bk_cpu_level()) }

    /// The `OPENBLAS_CORETYPE` to run with when OpenBLAS chose kernels far below what the CPU runs, else nil.
    ///
    /// Why: Debian 12's OpenBLAS 0.3.21 is built DYNAMIC_ARCH and picks its kernels from the CPU's family and model
    /// numbers (driver/others/dynamic.c at v0.3.21, `get_coretype`); a model newer than its table — Emerald Rapids,
    /// family 6 model 0xCF, the 2-core machine of 2026-12-02 — falls back to Prescott's SSE3 kernels: 74 % of a
    /// MiniLM fine-tuning run's time in `sgemm_kernel_PRESCOTT`, 50 steps (batch 16, length 64) in 78.0 s instead of
    /// 20.0 s with SkylakeX's (31.0 s with Haswell's). OpenBLAS reads `OPENBLAS_CORETYPE` once, when it loads, so a
    /// process cannot fix its own kernels: the CLI starts itself again with it set (BertKitCommand),
    /// `Tools/common.sh` exports it for the test processes, and library users set it themselves. nil when the variable is already set (the user's choice
    /// stands), when the kernels match the CPU, or off x86-64.
    package static var suggestedCoreType: String? {
        guard getenv("OPENBLAS_CORETYPE") == nil, coresBelowAVX2.contains(coreName) else { return nil }
        switch cpuLevel {
        case 4...: return "SkylakeX"
        case 3: return "Haswell"
        default: return nil
        }
    }

    /// Runs `body`, whose BLAS calls go through `sgemmOnThisThread` from several `Parallel` threads at once,
    /// with OpenBLAS single-threaded (threaded calls made at once would share OpenBLAS's one thread pool).
    /// OpenBLAS's thread count is process-wide (Debian's 0.3.21 has no per-thread setting), so callers in
    /// several threads share one switch: the first in sets it to 1, the last out restores it.
    @inline(__always)
    package static func withSingleThreadedCalls<R>(_ body: () throws -> R) rethrows -> R {
        if Parallel.threadCount == 1 { return try body() }
        SingleThreadedSection.enter()
        defer { SingleThreadedSection.leave() }
        return try body()
    }

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major, with leading dimensions.
    @inline(__always)
    package static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemmOnThisThread(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: c, ldc: ldc)
    }

    /// `sgemm` for use inside `withSingleThreadedCalls`: one single-threaded OpenBLAS call.
    @inline(__always)
    package static func sgemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
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
    package static func naiveSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
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
/// A pthread mutex rather than `Synchronization.Mutex`: ThreadSanitizer intercepts pthread locks, but cannot see the
/// futex inside the (uninstrumented) standard library's Mutex and reported the state it guards as a race.
enum SingleThreadedSection {
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        return mutex
    }()
    nonisolated(unsafe) private static var inside = 0
    nonisolated(unsafe) private static var restore: Int32 = 1

    static func enter() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if inside == 0 {
            restore = openblas_get_num_threads()
            if restore != 1 { openblas_set_num_threads(1) }
        }
        inside += 1
    }

    static func leave() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        inside -= 1
        if inside == 0 && restore != 1 { openblas_set_num_threads(restore) }
    }
}
