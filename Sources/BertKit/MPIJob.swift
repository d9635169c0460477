// Data-parallel fine-tuning across processes started by Open MPI's mpirun.

internal import Training

/// This process's place in a data-parallel job that Open MPI's `mpirun` (or a scheduler starting Open MPI jobs)
/// launched: give it to ``FineTuning/mpiJob`` and every rank trains on its share of each batch, gradients summed
/// across ranks, with the weights and losses of one process. Rank 0 reports progress and writes the output; the others
/// only compute. libmpi is loaded only when a launcher started the process: nothing to install otherwise.
///
/// ```swift
/// let job = try MPIJob.join()          // nil when not started by mpirun
/// var tuning = FineTuning(model: "all-MiniLM-L6-v2", trainFile: "train.csv", outputDirectory: "out")
/// tuning.mpiJob = job
/// do { try tuning.run() } catch { job?.abort(code: 1) }   // the other ranks must not wait for this one
/// job?.finish()
/// ```
public final class MPIJob: Sendable {
    let group: ProcessGroup

    private init(group: ProcessGroup) { self.group = group }

    /// Joins the job mpirun started this process in; nil when no launcher started it.
    /// - Throws: ``BertKitError/failed(_:)`` when libmpi cannot be loaded or initialised.
    public static func join() throws(BertKitError) -> MPIJob? {
        guard ProcessGroup.launchedByMPI else { return nil }
        return MPIJob(group: try BertKitError.mapping { try ProcessGroup.fromEnvironment() })
    }

    /// This process's rank, 0 ..< ``size``.
    public var rank: Int { group.rank }
    /// The number of ranks.
    public var size: Int { group.size }
    /// Whether this rank reports and writes (rank 0).
    public var isLeader: Bool { group.isLeader }

    /// Ends the whole job after an error on this rank (`MPI_Abort`): the other ranks would otherwise wait for it in
    /// their next gradient sum forever.
    public func abort(code: Int32) { group.abort(code: code) }

    /// Leaves the job (`MPI_Finalize`) after a run that ended well on every rank.
    public func finish() { group.finish() }
}
