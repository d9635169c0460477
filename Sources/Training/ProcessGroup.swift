// The ranks of a data-parallel fine-tuning run (`mpirun -np N bertkit finetune …`), over Open MPI (Sources/CMPI).
// Every rank holds the whole model and the whole data set, collates every micro-batch of a global batch exactly
// as one process would, and computes only its share of the rows; the gradients are summed with MPI_Allreduce and
// every rank applies the same AdamW step, so the weights stay identical everywhere. README "Several processes and
// machines (MPI)".

import CMPI
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

package enum DistributedError: Error, CustomStringConvertible {
    case cannotStart(String)
    case communication(operation: String, code: Int32)
    case ranksDisagree(what: String)

    package var description: String {
        switch self {
        case .cannotStart(let why): return "cannot start MPI: \(why)"
        case .ranksDisagree(let what):
            return "the ranks do not see the same \(what) (different files, model or options on some host): every rank must read the same run"
        case .communication(let operation, let code): return "MPI_\(operation) failed (error \(code))"
        }
    }
}

/// This process's place in the run: rank `rank` of `size`. A process not started by a launcher is rank 0 of 1
/// and never touches MPI.
package final class ProcessGroup: @unchecked Sendable {
    package let rank: Int
    package let size: Int
    /// Seconds spent in all-reduces so far (the communication share of a step, for `Tools/bench`), waiting for slower
    /// ranks included.
    package private(set) var communicationSeconds = 0.0
    /// Values per MPI_Allreduce call: the gradients go in buckets of 4 Mi floats (16 MB), so no single call is near
    /// MPI's `int` count limit and a large model does not need one huge message buffer inside the library.
    package static let bucketCount = 4 << 20

    /// Started by a launcher (MPI is initialised, even for one rank).
    package let usesMPI: Bool

    private init(rank: Int, size: Int, usesMPI: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
    }

    /// One process, no MPI.
    package static let single = ProcessGroup(rank: 0, size: 1, usesMPI: false)

    package var isLeader: Bool { rank == 0 }
    package var isDistributed: Bool { size > 1 }

    /// True when Open MPI's launcher (mpirun, or a scheduler starting Open MPI jobs) started this process: it sets
    /// `OMPI_COMM_WORLD_SIZE`. Other MPIs are not supported (Sources/CMPI/include/cmpi.h).
    package static var launchedByMPI: Bool { getenv("OMPI_COMM_WORLD_SIZE") != nil }

    /// The group this process belongs to: MPI's world when a launcher started it, else `single`. Loads libmpi only then.
    package static func fromEnvironment() throws -> ProcessGroup {
        guard launchedByMPI else { return .single }
        var message = [CChar](repeating: 0, count: 512)
        guard bk_mpi_open(&message, message.count) == 0 else {
            throw DistributedError.cannotStart(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return ProcessGroup(rank: Int(bk_mpi_rank()), size: Int(bk_mpi_size()), usesMPI: true)
    }

    /// The rows of a micro-batch of `count` examples this rank computes: contiguous, the first `count % size` ranks
    /// one more (empty when there are fewer examples than ranks).
    package func share(of count: Int) -> Range<Int> { Self.share(of: count, rank: rank, size: size) }

    /// Rank `rank`'s rows of `count` among `size` ranks.
    package static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// values ← the sum of every rank's values (in place), in buckets of `bucketCount`.
    package func sum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        guard isDistributed else { return }
        let start = MonotonicClock.seconds()
        defer { communicationSeconds += MonotonicClock.seconds() - start }
        for offset in stride(from: 0, to: count, by: Self.bucketCount) {
            let code = bk_mpi_allreduce_sum_float(values + offset, Int32(min(Self.bucketCount, count - offset)))
            guard code == 0 else { throw DistributedError.communication(operation: "Allreduce", code: code) }
        }
    }

    /// values ← the sum over ranks, element-wise.
    package func sum(_ values: inout [Double]) throws {
        guard isDistributed, !values.isEmpty else { return }
        let start = MonotonicClock.seconds()
        defer { communicationSeconds += MonotonicClock.seconds() - start }
        let code = values.withUnsafeMutableBufferPointer { bk_mpi_allreduce_sum_double($0.baseAddress!, Int32($0.count)) }
        guard code == 0 else { throw DistributedError.communication(operation: "Allreduce", code: code) }
    }

    /// Throws unless every rank passes the same `fingerprint` of `what` (its options, data and model): ranks that read
    /// different files would run different numbers of all-reduces and wait for each other forever, or silently train on
    /// a mixture. Compares a 52-bit FNV-1a hash (exact in a double) through MPI_Allreduce(MPI_MAX) of it and of its negation.
    package func checkAgreement(on fingerprint: [UInt8], what: String) throws {
        var hash = FNV1a()
        hash.add(fingerprint)
        try checkAgreement(hash: hash, what: what)
    }

    /// The same for a hash built piece by piece (large data need not be copied into one array first).
    package func checkAgreement(hash: FNV1a, what: String) throws {
        guard isDistributed else { return }
        let value = Double(hash.value >> 12)
        var extremes = [value, -value]
        let code = extremes.withUnsafeMutableBufferPointer { bk_mpi_allreduce_max_double($0.baseAddress!, 2) }
        guard code == 0 else { throw DistributedError.communication(operation: "Allreduce", code: code) }
        guard extremes[0] == -extremes[1] else { throw DistributedError.ranksDisagree(what: what) }
    }

    /// 64-bit FNV-1a, fed bytes as they come.
    package struct FNV1a: Sendable {
        package private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
        package init() {}
        package mutating func add<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
            for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
    }

    /// Waits until every rank arrives (after rank 0 wrote a file the others read).
    package func barrier() throws {
        guard isDistributed else { return }
        let code = bk_mpi_barrier()
        guard code == 0 else { throw DistributedError.communication(operation: "Barrier", code: code) }
    }

    /// Ends every rank of the job with exit status `code` (after this rank reported an error the others cannot see:
    /// they would otherwise wait for it in the next all-reduce forever).
    package func abort(code: Int32) {
        guard usesMPI else { return }
        bk_mpi_abort(code)
    }

    /// MPI_Finalize, once, at the end of a run.
    package func finish() {
        guard usesMPI else { return }
        _ = bk_mpi_finalize()
    }
}
