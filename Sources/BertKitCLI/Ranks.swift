// How a command run as one rank of an MPI job (`mpirun … bertkit finetune`, `benchmark train-step`) ends on an error.

import BertKit
#if canImport(Glibc)
import Glibc
#endif

/// What `runAsRank` needs of a rank: BertKit's MPIJob, or (for the benchmark) the implementation's process group.
protocol JobRank {
    var rank: Int { get }
    var isLeader: Bool { get }
    func abort(code: Int32)
    func finish()
}

extension MPIJob: JobRank {}

/// Runs `body` as this process's rank of `job` (nil: not launched by mpirun, just runs it), then MPI_Finalize. A rank
/// that fails cannot simply exit: the others would wait for it in their next all-reduce forever. It prints its `error:`
/// line and ends the whole job with MPI_Abort (exit 1). Most errors (a bad file, a bad option) strike every rank alike,
/// so the other ranks give rank 0 two seconds to say it once, and speak up themselves (naming their rank) only when it
/// did not.
func runAsRank(_ job: (any JobRank)?, _ body: () throws -> Void) throws {
    guard let job else { return try body() }
    do {
        try body()
    } catch {
        if !job.isLeader { sleep(2) }
        Console.error(job.isLeader ? "\(error)" : "rank \(job.rank): \(error)")
        job.abort(code: 1)
        Glibc.exit(1)
    }
    job.finish()
}
