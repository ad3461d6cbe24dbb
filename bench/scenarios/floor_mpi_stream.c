/*
 * floor_mpi_stream.c — the floor of a burst of hand-offs between MPI ranks.
 *
 * Rank 0 sends `messages` 8-byte messages to rank 1 back to back with plain
 * MPI_Send, and rank 1 takes them with MPI_Recv and answers once at the end:
 * how many one-way messages per second MPI moves from the harness to a
 * worker rank, the most a pool over MPI could hand out one task at a time.
 *   rate  messages per second (first send to the answer), one value per
 *         repetition.
 * The mpi backend's bursts (throughput of empty tasks, map) are held against
 * it (harness/floor.c): a ratio below 1 means the pool moves tasks faster
 * than one message each (map chunks carry many).
 *
 * Like floor_mpi_pingpong.c, MPI is reached through the mpi module, and the
 * case is measured only under mpiexec.
 */
#include <pb/backend.h>
#include <pb/mpi.h>

#include "common.h"

static int run(pb_sc *sc)
{
    pb_mpi_floor_fn floor_run;
    *(void **)&floor_run = pb_backend_symbol("mpi", PB_MPI_FLOOR_SYMBOL);
    if (!floor_run || !pb_backend_summary("mpi"))
        return pb_sc_skip(sc, "%s", pb_pool_last_error()[0] ? pb_pool_last_error()
                                                            : "the mpi backend is not built");
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);
    pb_mpi_floor f = {.kind = PB_MPI_FLOOR_STREAM, .peer = 1,
                      .count = (size_t)pb_sc_num(sc, "messages"), .bytes = 8};
    int rc = floor_run(&f);
    if (rc)
        return pb_sc_fail(sc, rc, "%s", f.error);
    if (f.elapsed > 0)
        pb_samples_add(rate, (double)f.count * 1e9 / (double)f.elapsed);
    return 0;
}

static const pb_param params[] = {
    {"messages", PB_PARAM_COUNT, "100000", "messages per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_mpi_stream = {
    .name = "mpi_stream",
    .summary = "one-way stream of MPI messages from rank 0 to rank 1: messages/s (under mpiexec)",
    .headline = "rate",
    .params = params,
    .flags = PB_SC_FLOOR,
    .needs = "an MPI job with a worker rank (mpiexec -n 2 or more)",
    .run = run,
};
