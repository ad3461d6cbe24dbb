/*
 * floor_mpi_pingpong.c — the floor of a hand-off between MPI ranks, and what
 * a rank burns while it waits for one.
 *
 * Rank 0 (poolbench) and rank 1 exchange 8-byte messages with plain blocking
 * MPI_Send and MPI_Recv, as any MPI program would: the round trip MPI itself
 * costs between the harness and a worker rank, with no pool in between.
 *   roundtrip       rank 0 → rank 1 → rank 0 (ns), one sample per exchange;
 *   rate            exchanges per second, one value per repetition;
 *   idle_cpu        the cores rank 1's process keeps busy while it waits
 *                   `idle` for a message in MPI's own receive — the price of
 *                   MPI's polling progress (1.0: a whole PU);
 *   idle_cpu_sleep  the same while it waits as the mpi backend's idle=sleep
 *                   makes idle ranks wait (poll for 100 us, then nap).
 * The mpi backend's round trips (and start-up, and failing tasks) are held
 * against roundtrip (harness/floor.c).
 *
 * MPI is the mpi module's business: this file reaches it through
 * pb_backend_symbol() (pb/mpi.h), so poolbench never links MPI. Measured
 * only when the mpi backend can run here, i.e. under mpiexec with at least
 * one worker rank; otherwise skipped with the reason.
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
    size_t n = (size_t)pb_sc_num(sc, "samples");
    int64_t idle = pb_sc_num(sc, "idle");
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);
    pb_samples *cpu = pb_sc_metric(sc, "idle_cpu", "ratio", PBR_LOWER, 1);
    pb_samples *cpu_sleep = pb_sc_metric(sc, "idle_cpu_sleep", "ratio", PBR_LOWER, 1);
    int64_t *times = pbs_calloc(sc, n, sizeof *times);
    if (!times)
        return PB_ENOMEM;

    pb_mpi_floor f = {.kind = PB_MPI_FLOOR_PINGPONG, .peer = 1, .count = n, .bytes = 8,
                      .times = times};
    int rc = floor_run(&f);
    if (!rc) {
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            pb_samples_add(rt, (double)times[i]);
            sum += times[i];
        }
        if (sum > 0)
            pb_samples_add(rate, (double)n * 1e9 / (double)sum);
    }
    for (int sleep = 0; sleep < 2 && !rc; sleep++) {
        pb_mpi_floor w = {.kind = PB_MPI_FLOOR_IDLE, .peer = 1, .wait_ns = idle, .sleep = sleep};
        rc = floor_run(&w);
        if (!rc && w.elapsed > 0)
            pb_samples_add(sleep ? cpu_sleep : cpu, (double)w.cpu / (double)w.elapsed);
        if (rc)
            f = w;
    }
    free(times);
    return rc ? pb_sc_fail(sc, rc, "%s", f.error) : 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "2000", "exchanges per repetition", 1, NULL},
    {"idle", PB_PARAM_NS, "20ms", "how long rank 1 waits for a message while its CPU is counted", 1000000, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_mpi_pingpong = {
    .name = "mpi_pingpong",
    .summary = "hand-off between MPI rank 0 and rank 1 (MPI_Send/MPI_Recv): round trip, rate, "
               "and the CPU a rank burns waiting (under mpiexec)",
    .headline = "roundtrip",
    .params = params,
    .flags = PB_SC_FLOOR,
    .needs = "an MPI job with a worker rank (mpiexec -n 2 or more)",
    .run = run,
};
