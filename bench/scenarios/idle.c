/*
 * idle.c — what a pool burns with nothing to do.
 *
 * A pool that has had no work for a while should sleep. Each repetition
 * first wakes every worker (one `sleep` task of 1 ms per worker, all at
 * once, so every thread or process the pool starts on demand exists), then
 * submits nothing for `quiet`, then submits nothing for `window` more,
 * which is the measured interval. Its figures are the harness's cost
 * accounting (pb_sc_cost_begin/end), as in every case:
 *   cores_busy            the CPU the pool spent in the window over the
 *                         window's length: 0.000 for a pool whose workers
 *                         sleep, about one per worker for one that spins;
 *   submitter_cores_busy  the caller's, asleep all along (a check on the
 *                         measurement itself: it should read 0).
 * No task runs in the window, so there is no CPU per task.
 */
#include "common.h"

/* Sleeps until ns from now have passed (a signal does not cut it short,
 * unless the run is stopping). */
static void idle_for(pb_sc *sc, int64_t ns)
{
    int64_t until = pb_now_ns() + ns;
    for (int64_t now = pb_now_ns(); now < until && !pb_sc_stopping(sc); now = pb_now_ns())
        pbs_nap(until - now);
}

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t workers = (size_t)pb_pool_workers(pool);
    pb_future **fs = pbs_calloc(sc, workers, sizeof *fs);
    if (!fs)
        return PB_ENOMEM;
    const pb_task *sleep_task = pb_workload("sleep");
    int64_t wake = 1000000;
    size_t k = 0;
    int rc = 0;
    pbs_outcomes o = {0};
    for (; k < workers && !rc; k++)
        rc = pbs_submit(sc, pool, sleep_task, &wake, sizeof wake, &fs[k]);
    for (size_t i = 0; i < k; i++)
        if (fs[i])
            pbs_tally(&o, pb_future_result(fs[i], PB_FOREVER, NULL, NULL));
    pbs_release_all(fs, k);
    free(fs);
    if (rc)
        return rc;
    pbs_check_completed(sc, &o);

    idle_for(sc, pb_sc_num(sc, "quiet"));
    pb_sc_cost_begin(sc);
    idle_for(sc, pb_sc_num(sc, "window"));
    pb_sc_cost_end(sc, 0, NULL);
    return 0;
}

static const pb_param params[] = {
    {"quiet", PB_PARAM_NS, "100ms", "how long the pool has had no work when the window opens", 0,
     NULL},
    {"window", PB_PARAM_NS, "200ms", "the measured interval, with no work either", 1000000, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_idle = {
    .name = "idle",
    .summary = "a pool with nothing to do for a while: the cores it keeps busy (0 if it sleeps)",
    .headline = "cores_busy",
    .params = params,
    .run = run,
};
