// Reusable buffers for the converted operands of the low-precision products (bf16 rows and packed panels, int8
// rows and their scales). Allocating them per product let glibc hand out fresh mmapped pages each time: a fifth of a
// bert-base bf16 training step went to clearing pages and another tenth to TLB shootdowns as they were unmapped
// (perf, 2026-12-04, `benchmark train-step --precision bf16`). Buffers taken here go back to a process-wide pool;
// concurrent products (two models on two threads) each take their own, so the pool holds what was ever in use at once.

#if canImport(Glibc)
import Glibc
#endif

enum OperandBuffers {
    /// Runs `body` with one buffer (64-byte aligned, uninitialised) of each of `byteCounts`, returned to the pool after.
    static func with<R>(_ byteCounts: [Int], _ body: ([UnsafeMutableRawPointer]) throws -> R) rethrows -> R {
        let taken = byteCounts.map(take)
        defer { lock(); free.append(contentsOf: taken); unlock() }
        return try body(taken.map(\.pointer))
    }

    /// A pthread mutex, for ThreadSanitizer's sake (see SingleThreadedSection).
    nonisolated(unsafe) private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        return mutex
    }()
    nonisolated(unsafe) private static var free: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    private static func lock() { pthread_mutex_lock(mutex) }
    private static func unlock() { pthread_mutex_unlock(mutex) }

    /// The smallest free buffer that is large enough; else a new one, in place of the largest free one (too small), so
    /// that the pool does not keep buffers no product fits in any more.
    private static func take(_ bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int) {
        lock()
        defer { unlock() }
        let fitting = free.indices.filter { free[$0].bytes >= bytes }
        if let best = fitting.min(by: { free[$0].bytes < free[$1].bytes }) { return free.remove(at: best) }
        if let largest = free.indices.max(by: { free[$0].bytes < free[$1].bytes }) { free.remove(at: largest).pointer.deallocate() }
        let size = max(bytes, 64)
        return (UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64), size)
    }
}
