// Splitting elementwise and row-wise work across cores. Matrix products are threaded by OpenBLAS
// itself; everything else (LayerNorm, GELU, softmax …) goes through here. The thread count is
// BERTKIT_THREADS if set, else the CPUs this process may run on (its affinity mask) — shared out among the ranks an
// MPI launcher started on this machine (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE), so two ranks on two cores run one
// thread each whether or not mpirun bound them. OpenBLAS gets the same count whenever it is not simply "every CPU".

import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

package enum Parallel {
    nonisolated(unsafe) package private(set) static var threadCount: Int = {
        let usable = Int(bk_usable_cpus())
        var count = usable
        if let text = getenv("BERTKIT_THREADS").map({ String(cString: $0) }), let n = Int(text), n > 0 {
            count = n
        } else if let text = getenv("OMPI_COMM_WORLD_LOCAL_SIZE").map({ String(cString: $0) }), let ranks = Int(text), ranks > 0 {
            let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
            count = max(1, min(usable, cores / ranks))
        }
        // OpenBLAS would otherwise start a thread per online CPU (a rank bound to one core included).
        if count != usable || usable != Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) { BLAS.setThreadCount(count) }
        return count
    }()

    /// Sets the thread count for our loops and for OpenBLAS.
    package static func setThreadCount(_ n: Int) {
        threadCount = max(1, n)
        BLAS.setThreadCount(threadCount)
    }

    /// Runs `body` over [0, count) split into contiguous ranges, one per thread, when there is enough
    /// work (`grain` items or more per thread); otherwise inline.
    @inline(__always)
    package static func forEachRange(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(threadCount, max(1, count / max(grain, 1)))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let build = BuildOverride.current   // the workers use the kernel build their caller chose, if it chose one
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
                guard start < end else { return }
                if let build { BuildOverride.with(build) { body(start..<end) } } else { body(start..<end) }
            }
        }
    }

    /// Runs `body(chunk, range)` for `chunks` contiguous ranges covering [0, count), in parallel (at most
    /// `threadCount` at once): `chunk` indexes per-thread scratch.
    @inline(__always)
    package static func forEachChunk(_ count: Int, chunks: Int, _ body: (Int, Range<Int>) -> Void) {
        let chunks = max(1, min(chunks, count))
        if chunks == 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        let build = BuildOverride.current
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
                guard start < end else { return }
                if let build { BuildOverride.with(build) { body(chunk, start..<end) } } else { body(chunk, start..<end) }
            }
        }
    }
}
