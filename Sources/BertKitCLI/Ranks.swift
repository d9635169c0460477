// How a command run as one rank of an MPI job (`mpirun … bertkit finetune`, `benchmark train-step`) ends on an error.

import BertKitInternals
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` as this process's rank of `group`, then MPI_Finalize. A rank that fails cannot simply exit: the others
/// would wait for it in their next all-reduce forever. It prints its `error:` line and ends the whole job with
/// MPI_Abort (exit 1). Most errors (a bad file, a bad option) strike every rank alike, so the other ranks give rank 0
/// two seconds to say it once, and speak up themselves (naming their rank) only when it did not.
func runAsRank(_ group: ProcessGroup, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        guard group.usesMPI else { throw error }
        if !group.isLeader { sleep(2) }
        Console.error(group.isLeader ? "\(error)" : "rank \(group.rank): \(error)")
        group.abort(code: 1)
        Glibc.exit(1)
    }
    group.finish()
}
