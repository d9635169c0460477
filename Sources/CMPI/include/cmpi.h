// Open MPI, loaded at run time: `bertkit` links no MPI library, so a single-machine user installs nothing.
// Only a process started by a launcher (mpirun) calls bk_mpi_open, which dlopens libmpi and resolves the handful of
// calls data-parallel training makes. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are the addresses of
// global objects in libmpi (mpi.h: `OMPI_PREDEFINED_GLOBAL`), so they are found with dlsym as well.
// Open MPI only: MPICH's handles are integers, not symbols (README "Several processes and machines (MPI)").
#ifndef BERTKIT_CMPI_H
#define BERTKIT_CMPI_H

#include <stddef.h>

/// Loads libmpi (libmpi.so.40, else libmpi.so) and calls MPI_Init_thread(FUNNELED). 0 on success; otherwise a
/// message in `error`.
int bk_mpi_open(char *error, size_t error_size);
/// This process's rank and the number of ranks in MPI_COMM_WORLD (0 and 1 before bk_mpi_open).
int bk_mpi_rank(void);
int bk_mpi_size(void);
/// In-place MPI_Allreduce(MPI_SUM) of `count` values (count < 2^31). 0 on success (MPI_SUCCESS).
int bk_mpi_allreduce_sum_float(float *values, int count);
int bk_mpi_allreduce_sum_double(double *values, int count);
/// MPI_Allreduce(MPI_MAX) of doubles, in place.
int bk_mpi_allreduce_max_double(double *values, int count);
int bk_mpi_barrier(void);
/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job.
void bk_mpi_abort(int code);
int bk_mpi_finalize(void);

#endif
