/*
 * startup.c — a pool's life: create → first result, and shutdown.
 *
 * Each sample creates a pool with the run's options, runs one no-op through
 * it, and destroys it:
 *   create    pb_pool_create() alone;
 *   startup   create → the first result in hand (what a program that starts
 *             a pool to do one thing pays; for exec, whole program images);
 *   shutdown  pb_pool_destroy() of the idle pool: shutdown(wait) and
 *             everything freed, every worker gone.
 * The first pool of each repetition is also probed for where its tasks run
 * (outside the timed parts). Startup is held against the floor's thread
 * start (in-process backends) or posix_spawn (process backends).
 */
#include "common.h"

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    pb_samples *cr = pb_sc_metric(sc, "create", "ns", PBR_LOWER, n);
    pb_samples *st = pb_sc_metric(sc, "startup", "ns", PBR_LOWER, n);
    pb_samples *sd = pb_sc_metric(sc, "shutdown", "ns", PBR_LOWER, n);
    const pb_task *noop = pb_workload("noop");
    for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
        pb_pool *pool;
        pb_future *f;
        int64_t t0 = pb_now_ns();
        int rc = pb_sc_pool_create(sc, NULL, &pool);
        int64_t t1 = pb_now_ns();
        if (rc)
            return pb_sc_outcome(rc);
        rc = pb_submit(pool, noop, NULL, 0, &f);
        if (rc == 0) {
            rc = pb_future_result(f, PB_FOREVER, NULL, NULL);
            pb_future_release(f);
        }
        int64_t t2 = pb_now_ns();
        if (rc) {
            pb_pool_destroy(pool);
            return pb_sc_fail(sc, rc, "the first task of a new pool failed: %s", pb_strerror(rc));
        }
        if (i == 0 && (rc = pb_sc_probe(sc, pool))) {
            pb_pool_destroy(pool);
            return pb_sc_fail(sc, rc, "checking where tasks ran failed: %s", pb_strerror(rc));
        }
        int64_t t3 = pb_now_ns();
        pb_pool_destroy(pool);
        int64_t t4 = pb_now_ns();
        pb_samples_add(cr, (double)(t1 - t0));
        pb_samples_add(st, (double)(t2 - t0));
        pb_samples_add(sd, (double)(t4 - t3));
    }
    return 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "10", "pools started per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_startup = {
    .name = "startup",
    .summary = "create -> first result, and shutdown (destroy) of a pool",
    .headline = "startup",
    .params = params,
    .flags = PB_SC_OWN_POOLS,
    .run = run,
    .kept = "samples",
};
