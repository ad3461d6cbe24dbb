/*
 * mpi-int.h — what the three files of the mpi module share: the MPI job as
 * this process sees it, the messages between rank 0 and the worker ranks,
 * and the lock that keeps rank 0's MPI calls in one thread at a time.
 *
 *   mpi-rank.c   setting MPI up in every rank (pb_worker_main_if_requested
 *                lands here), the worker ranks' loop, and tearing down;
 *   mpi.c        the backend in rank 0: pools, the engine thread, dispatch;
 *   mpi-floor.c  the MPI floors (pb/mpi.h), run from rank 0 between pools.
 *
 * Messages. Everything travels on a duplicate of MPI_COMM_WORLD, so a program
 * that uses MPI for its own work never receives ours. Four tags:
 *   HELLO  worker → rank 0, once, right after MPI_Init: a wire HELLO frame
 *          (wire-int.h) whose message is "key=value ..." about the rank:
 *          host, boot (the kernel's boot id: equal boot ids share one
 *          CLOCK_MONOTONIC), pus, cpus (its binding, "" when none), arch;
 *   FRAME  the wire format of the fork and exec backends, one frame per
 *          message: TASK and INIT to a worker, RESULT and INIT_DONE back;
 *   CTRL   rank 0 → worker: a pb__mpi_ctrl (quit, how to wait when idle,
 *          the floors, clock samples);
 *   FLOOR  the floors' own traffic, and replies to CTRL requests.
 * A worker receives with MPI_ANY_TAG, so rank 0's messages reach it in the
 * order they were sent (MPI's non-overtaking rule), CTRL and FRAME alike.
 * Integers are in native byte order, as in the wire format: every rank must
 * share rank 0's architecture, which its HELLO says and rank 0 checks.
 */
#ifndef PB_MPI_INT_H
#define PB_MPI_INT_H

#include <mpi.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <pb/backend.h>

#include "adapter-int.h"

enum { PB__MPI_TAG_HELLO = 1, PB__MPI_TAG_FRAME = 2, PB__MPI_TAG_CTRL = 3, PB__MPI_TAG_FLOOR = 4 };

#define PB__MPI_CTRL_MAGIC 0x4354424du /* "MBTC" */

enum {
    PB__MPI_QUIT = 1,     /* leave the loop, finalize, exit */
    PB__MPI_IDLE = 2,     /* a: 1 wait for the next message in MPI's own receive
                             (spins), 0 nap between polls */
    PB__MPI_PINGPONG = 3, /* a: round trips, b: bytes: echo FLOOR messages */
    PB__MPI_STREAM = 4,   /* a: messages, b: bytes: take them, then reply once */
    PB__MPI_IDLE_COST = 5,/* a: 1 wait as idle=sleep does; reply {cpu ns, wall ns}
                             after the next FLOOR message */
    PB__MPI_CLOCK = 6     /* a: samples: reply each FLOOR message with now */
};

typedef struct pb__mpi_ctrl {
    uint32_t magic;
    uint32_t cmd;
    uint64_t a, b;
} pb__mpi_ctrl;

/* What rank 0 knows of a rank (its own entry included). */
typedef struct pb__mpi_peer {
    int pid;
    char host[64];
    char boot[40];
    char arch[96];
    int pus;          /* PUs online on its host */
    char cpus[128];   /* what it is bound to, "" when it may use every PU */
    bool same_clock;  /* its CLOCK_MONOTONIC is rank 0's (same host boot) */
    int64_t offset;   /* add to its timestamps for rank 0's clock */
    int64_t offset_error; /* how far off offset may be: half the round trip it came from */
} pb__mpi_peer;

enum { PB__MPI_NOT_LAUNCHED, PB__MPI_READY, PB__MPI_FAILED };

typedef struct pb__mpi_world {
    int state;            /* PB__MPI_*; READY only in rank 0 */
    pid_t pid;            /* the process that set MPI up: a child forked from
                             it must not use MPI */
    bool we_initialized;  /* we called MPI_Init, so we call MPI_Finalize */
    int rank, size, thread_level;
    MPI_Comm comm;        /* our duplicate of MPI_COMM_WORLD */
    pb__mpi_peer *peers;  /* [size], rank 0 */
    char library[160];    /* the MPI library's version, first line */
    char mca[1536];       /* JSON object: MCA settings in effect */
    char why[640];        /* FAILED: why pools cannot be made here */
} pb__mpi_world;

extern pb__mpi_world pb__mpi;

/* Serialises rank 0's use of MPI for pools and floors. Held by pool create
 * and destroy (which start and stop the engine thread) and by a floor for
 * its whole measurement; the engine thread is the only caller of MPI while
 * it runs. */
extern pthread_mutex_t pb__mpi_lifecycle;

/* Stops the engine thread whatever it holds (MPI is being finalized). */
void pb__mpi_engine_abandon(void);

/* Whether any mpi pool exists (pb__mpi_lifecycle held). */
bool pb__mpi_pools_alive_locked(void);

/* NULL when pools can be created in this process, else why not. */
const char *pb__mpi_unavailable(void);

/* Sends a control message to rank (blocking; it is small). 0 or an error. */
int pb__mpi_send_ctrl(int rank, uint32_t cmd, uint64_t a, uint64_t b);

/* Sleeps about ns (the naps between polls of mpi.c and mpi-rank.c). */
static inline void pb__mpi_nap(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

/* Translates a worker's timestamp into rank 0's clock. */
static inline int64_t pb__mpi_local_time(int rank, int64_t t)
{
    return t ? t + pb__mpi.peers[rank].offset : 0;
}

#endif /* PB_MPI_INT_H */
