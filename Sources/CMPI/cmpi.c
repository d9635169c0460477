// See include/cmpi.h. Open MPI 4.x (Debian's libopenmpi3, soname libmpi.so.40).
#include "cmpi.h"
#include <dlfcn.h>
#include <stdio.h>

typedef void *handle;
static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_comm_rank)(handle, int *);
static int (*p_comm_size)(handle, int *);
static int (*p_allreduce)(const void *, void *, int, handle, handle, handle);
static int (*p_barrier)(handle);
static int (*p_abort)(handle, int);
static int (*p_finalize)(void);
static handle comm_world, type_float, type_double, op_sum, op_max;
static int opened, rank, size = 1;

#define MPI_IN_PLACE_VALUE ((void *)1)  /* mpi.h: #define MPI_IN_PLACE ((void *) 1) */
#define THREAD_FUNNELED 1               /* mpi.h: MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, ... */

static int resolve(void *library, const char *name, void **out, char *error, size_t error_size) {
    *out = dlsym(library, name);
    if (*out) return 0;
    snprintf(error, error_size, "libmpi has no symbol %s (bertkit needs Open MPI 4 or later)", name);
    return 1;
}

int bk_mpi_open(char *error, size_t error_size) {
    if (opened) return 0;
    // RTLD_GLOBAL: Open MPI's plug-ins (mca_*.so) resolve their symbols against libmpi's.
    void *library = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
    if (!library) library = dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        snprintf(error, error_size, "cannot load Open MPI's libmpi (Debian: apt install openmpi-bin libopenmpi-dev): %s", dlerror());
        return 1;
    }
    struct { const char *name; void **slot; } symbols[] = {
        {"MPI_Init_thread", (void **)&p_init_thread}, {"MPI_Comm_rank", (void **)&p_comm_rank},
        {"MPI_Comm_size", (void **)&p_comm_size}, {"MPI_Allreduce", (void **)&p_allreduce},
        {"MPI_Barrier", (void **)&p_barrier}, {"MPI_Abort", (void **)&p_abort}, {"MPI_Finalize", (void **)&p_finalize},
        {"ompi_mpi_comm_world", &comm_world}, {"ompi_mpi_float", &type_float}, {"ompi_mpi_double", &type_double},
        {"ompi_mpi_op_sum", &op_sum}, {"ompi_mpi_op_max", &op_max},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        if (resolve(library, symbols[i].name, symbols[i].slot, error, error_size)) return 1;
    }
    int provided = 0;
    if (p_init_thread(NULL, NULL, THREAD_FUNNELED, &provided) != 0) {
        snprintf(error, error_size, "MPI_Init_thread failed");
        return 1;
    }
    p_comm_rank(comm_world, &rank);
    p_comm_size(comm_world, &size);
    opened = 1;
    return 0;
}

int bk_mpi_rank(void) { return rank; }
int bk_mpi_size(void) { return size; }

int bk_mpi_allreduce_sum_float(float *values, int count) {
    return opened ? p_allreduce(MPI_IN_PLACE_VALUE, values, count, type_float, op_sum, comm_world) : 0;
}

int bk_mpi_allreduce_sum_double(double *values, int count) {
    return opened ? p_allreduce(MPI_IN_PLACE_VALUE, values, count, type_double, op_sum, comm_world) : 0;
}

int bk_mpi_allreduce_max_double(double *values, int count) {
    return opened ? p_allreduce(MPI_IN_PLACE_VALUE, values, count, type_double, op_max, comm_world) : 0;
}

int bk_mpi_barrier(void) { return opened ? p_barrier(comm_world) : 0; }

void bk_mpi_abort(int code) {
    if (opened) p_abort(comm_world, code);
}

int bk_mpi_finalize(void) {
    if (!opened) return 0;
    opened = 0;
    return p_finalize();
}
