// Wall-clock seconds from a monotonic clock, for timings and throughput.

#if canImport(Glibc)
import Glibc
#endif

package enum MonotonicClock {
    package static func seconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
