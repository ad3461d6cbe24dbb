/*
 * pb/mpi.h — what the mpi backend's module offers beyond its pb_backend
 * table: the MPI floors, measured in the same run as the mpi backend.
 *
 * The mpi backend's workers are the ranks of an MPI job (`mpiexec -n W+1
 * PROGRAM ...`: rank 0 runs the program, ranks 1..W wait for tasks). Its
 * round trip is held against what MPI itself does between rank 0 and a
 * worker rank, with no pool in between: a ping-pong of small messages, a
 * one-way stream of them, and the CPU a rank burns while it waits for a
 * message (MPI's progress engine polls). Those measurements need MPI, which
 * only the module links, so a program reaches them through
 * pb_backend_symbol("mpi", PB_MPI_FLOOR_SYMBOL) and never links MPI itself.
 */
#ifndef PB_MPI_H
#define PB_MPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PB_MPI_FLOOR_PINGPONG, /* count round trips of bytes-sized messages, each timed */
    PB_MPI_FLOOR_STREAM,   /* count one-way messages, then one reply: the whole timed */
    PB_MPI_FLOOR_IDLE      /* the peer waits wait_ns for one message: its CPU time meanwhile */
} pb_mpi_floor_kind;

typedef struct pb_mpi_floor {
    pb_mpi_floor_kind kind;
    int peer;         /* the worker rank at the other end (1..W) */
    size_t count;     /* PINGPONG: round trips; STREAM: messages */
    size_t bytes;     /* message size (PINGPONG, STREAM) */
    int64_t wait_ns;  /* IDLE: how long rank 0 lets the peer wait */
    bool sleep;       /* IDLE: the peer waits as the pool's idle=sleep does (a
                         bounded spin, then naps), not in MPI's own receive */
    int64_t *times;   /* PINGPONG: count round trips (ns), filled in */
    int64_t elapsed;  /* STREAM: first send to the reply (ns); IDLE: the wait as
                         the peer saw it (ns) */
    int64_t cpu;      /* IDLE: the peer's CPU time during the wait (ns, every
                         thread of its process: MPI's own included) */
    char error[256];  /* why it failed */
} pb_mpi_floor;

/* Runs one floor measurement from rank 0. Returns 0, or a negative code with
 * error saying why: PB_ENOTSUP when the mpi backend is unavailable in this
 * process (not under an MPI launcher, not rank 0, no worker rank), PB_EINVAL
 * for a bad peer or count, -EBUSY while an mpi pool exists (its ranks are
 * the floor's peers: a floor runs between pools, as every floor does). */
typedef int (*pb_mpi_floor_fn)(pb_mpi_floor *floor);
#define PB_MPI_FLOOR_SYMBOL "pb_mpi_floor_run"

#ifdef __cplusplus
}
#endif

#endif /* PB_MPI_H */
