/*
 * submit.c — the cost of one pb_submit call, on an idle pool and with a
 * backlog.
 *
 * backlog = 0: each measured submit goes to an idle pool (the previous task
 * has been collected), which is the cost a caller sees in request/response
 * use — including any wake-up of a sleeping worker the submit pays for.
 * backlog = B: every worker is first held by a `sleep` task of `hold` and B
 * no-ops are queued behind them; then the measured submits pile onto that
 * queue, which is the cost a producer sees when the pool is saturated. What
 * is still pending afterwards is cancelled, so the repetition does not wait
 * for the backlog to drain. If the workers finish `hold` before the measured
 * submits do, the backlog keeps them busy; the queue never runs dry early.
 *
 * A backend that keeps "gil_wait_ns" (pb_pool_stat: Python's pools) also
 * gets, per submit, the part of it spent waiting for Python's global
 * interpreter lock (metric gil_wait, read outside the timed region), and its
 * thread switch interval (metric switch_interval, one value per repetition),
 * which bounds how long a thread that wants the lock may wait for it.
 */
#include "common.h"

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "samples");
    size_t backlog = (size_t)pb_sc_num(sc, "backlog");
    int64_t hold = pb_sc_num(sc, "hold");
    size_t workers = (size_t)pb_pool_workers(pool);
    const pb_task *noop = pb_workload("noop");
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;

    pb_samples *m = pb_sc_metric(sc, "submit", "ns", PBR_LOWER, n);
    int64_t g0 = 0, g1 = 0, si = 0;
    bool gil = pb_pool_stat(pool, "gil_wait_ns", &g0) == 0;
    pb_samples *gw = gil ? pb_sc_metric(sc, "gil_wait", "ns", PBR_LOWER, n) : NULL;
    if (gil && pb_pool_stat(pool, "switch_interval_ns", &si) == 0)
        pb_samples_add(pb_sc_metric(sc, "switch_interval", "ns", PBR_LOWER, 1), (double)si);
    size_t nf = backlog ? workers + backlog + n : 0;
    pb_future **fs = backlog ? pbs_calloc(sc, nf, sizeof *fs) : NULL;
    if (backlog && !fs)
        return PB_ENOMEM;

    pbs_outcomes o = {0};
    if (backlog == 0) {
        for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
            pb_future *f;
            if (gil)
                pb_pool_stat(pool, "gil_wait_ns", &g0);
            int64_t t0 = pb_now_ns();
            rc = pb_submit(pool, noop, NULL, 0, &f);
            int64_t t1 = pb_now_ns();
            if (rc)
                return pb_sc_fail(sc, rc, "pb_submit failed: %s", pb_strerror(rc));
            pb_samples_add(m, (double)(t1 - t0));
            if (gil && pb_pool_stat(pool, "gil_wait_ns", &g1) == 0)
                pb_samples_add(gw, (double)(g1 - g0));
            pbs_tally(&o, pb_future_result(f, PB_FOREVER, NULL, NULL));
            pb_future_release(f);
        }
    } else {
        size_t k = 0;
        rc = pbs_hold_workers(sc, pool, hold, fs, &k);
        for (size_t i = 0; i < backlog && !rc; i++)
            rc = pbs_submit(sc, pool, noop, NULL, 0, &fs[k++]);
        for (size_t i = 0; i < n && !rc; i++) {
            if (gil)
                pb_pool_stat(pool, "gil_wait_ns", &g0);
            int64_t t0 = pb_now_ns();
            rc = pb_submit(pool, noop, NULL, 0, &fs[k]);
            int64_t t1 = pb_now_ns();
            if (rc) {
                pb_sc_fail(sc, rc, "pb_submit failed: %s", pb_strerror(rc));
                break;
            }
            k++;
            pb_samples_add(m, (double)(t1 - t0));
            if (gil && pb_pool_stat(pool, "gil_wait_ns", &g1) == 0)
                pb_samples_add(gw, (double)(g1 - g0));
        }
        /* Drop what has not started; wait for the rest. */
        for (size_t i = 0; i < k; i++)
            pb_future_cancel(fs[i]);
        for (size_t i = 0; i < k; i++) {
            int r = pb_future_result(fs[i], PB_FOREVER, NULL, NULL);
            pbs_tally(&o, r == PB_ECANCELED ? 0 : r); /* cancelled by us */
        }
        pbs_release_all(fs, k);
        free(fs);
        if (rc)
            return rc;
    }
    pbs_check_completed(sc, &o);
    return 0;
}

static const pb_param params[] = {
    {"backlog", PB_PARAM_COUNT, "0,1000", "tasks queued behind busy workers (0: an idle pool)", 0, NULL},
    {"samples", PB_PARAM_COUNT, "2000", "submits measured per repetition", 1, NULL},
    {"hold", PB_PARAM_NS, "20ms", "with a backlog: how long each worker is held busy", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_submit = {
    .name = "submit",
    .summary = "the cost of one pb_submit call, on an idle pool and with a backlog",
    .headline = "submit",
    .params = params,
    .run = run,
    .kept = "samples",
};
