/*
 * cancel.c — cancelling a backlog: the cost of one cancel, and the rules.
 *
 * Every worker is held by a `sleep` task of `hold`; `backlog` no-ops are
 * queued behind them; then each backlog future is cancelled, timing each
 * pb_future_cancel() call that succeeds (the cost of taking a pending task
 * back). The holding tasks are cancelled too, which must fail: they run.
 * Some backlog tasks may already be in a worker's hands (RUNNING: a process
 * backend may hand a worker more than one task); cancel must refuse those.
 *
 * Checks:
 *   only_pending  every successful cancel left its future CANCELLED, whose
 *                 result is PB_ECANCELED; a running task was never cancelled;
 *   rest_completed every future whose cancel failed completed normally;
 *   cancelled_some at least one backlog future could be cancelled (a pool
 *                 that hands every task over for good, as Python's
 *                 multiprocessing.Pool does, has nothing to measure here) —
 *                 judged only when the cancels began within `hold` of the
 *                 holders' submit, so every worker was surely still held:
 *                 on a loaded machine, or with a pool slow
 *                 to take submits (Python's, behind its GIL), queueing the
 *                 backlog can outlast `hold`, a worker is free again and can
 *                 drain it before a cancel reaches it, in any pool.
 *                 That is no evidence, so the check then passes and says so.
 *                 (A pool that runs each task inside pb_submit, its holders
 *                 done before any wait, is judged: nothing is ever pending.)
 */
#include "common.h"

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t backlog = (size_t)pb_sc_num(sc, "backlog");
    int64_t hold = pb_sc_num(sc, "hold");
    size_t workers = (size_t)pb_pool_workers(pool);
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    size_t n = workers + backlog, k = 0;
    pb_future **fs = pbs_calloc(sc, n, sizeof *fs);
    bool *cancelled = pbs_calloc(sc, n, sizeof *cancelled);
    int64_t *dt = pbs_calloc(sc, n, sizeof *dt);
    if (!fs || !cancelled || !dt) {
        rc = PB_ENOMEM;
        goto out;
    }
    pb_samples *m = pb_sc_metric(sc, "cancel", "ns", PBR_LOWER, backlog);

    /* The holders reach their workers before the backlog queues up behind
     * them, so "running" and "pending" are what they should be. */
    int64_t t_hold = pb_now_ns();
    rc = pbs_hold_workers(sc, pool, hold, fs, &k);
    /* Holders already done as the holding began: the pool ran them inside
     * pb_submit (nothing is ever pending there), not a machine too slow. */
    bool ran_in_submit = !rc && k == workers;
    for (size_t i = 0; ran_in_submit && i < workers; i++)
        ran_in_submit = pb_future_state(fs[i]) == PB_FINISHED;
    const pb_task *noop = pb_workload("noop");
    for (; k < n && !rc; k++)
        rc = pbs_submit(sc, pool, noop, NULL, 0, &fs[k]);
    if (rc)
        goto out; /* fs[k - 1] may be NULL: pbs_submit cleared it */
    /* Whether every worker was surely still held as the cancels began (see
     * cancelled_some): no holder started before t_hold, and none sleeps
     * less than hold. */
    bool held = ran_in_submit || pb_now_ns() - t_hold < hold;
    pb_sc_cost_begin(sc);
    for (size_t i = workers; i < n; i++) {
        int64_t t0 = pb_now_ns();
        cancelled[i] = pb_future_cancel(fs[i]);
        dt[i] = pb_now_ns() - t0;
    }
    pb_sc_cost_end(sc, backlog, NULL); /* per cancel */
    size_t holders_cancelled = 0;
    for (size_t i = 0; i < workers; i++)
        holders_cancelled += cancelled[i] = pb_future_cancel(fs[i]);

    size_t wrong_cancel = 0, not_completed = 0, ncancelled = 0;
    for (size_t i = 0; i < n; i++) {
        int r = pb_future_result(fs[i], PB_FOREVER, NULL, NULL);
        if (cancelled[i]) {
            ncancelled++;
            wrong_cancel += r != PB_ECANCELED || pb_future_state(fs[i]) != PB_CANCELLED;
            if (i >= workers)
                pb_samples_add(m, (double)dt[i]);
        } else {
            not_completed += r != 0 || pb_future_state(fs[i]) != PB_FINISHED;
        }
    }
    pb_sc_check(sc, "only_pending", wrong_cancel == 0 && holders_cancelled == 0,
                "%zu cancelled futures were not CANCELLED with PB_ECANCELED; %zu running tasks "
                "were cancelled",
                wrong_cancel, holders_cancelled);
    pb_sc_check(sc, "rest_completed", not_completed == 0,
                "%zu futures whose cancel failed did not complete normally", not_completed);
    if (held)
        pb_sc_check(sc, "cancelled_some", ncancelled > holders_cancelled,
                    "%zu of %zu futures queued behind busy workers could be cancelled%s",
                    ncancelled - holders_cancelled, backlog,
                    ncancelled > holders_cancelled
                        ? ""
                        : ": the pool never holds a task back where a cancel can reach it");
    else
        pb_sc_check(sc, "cancelled_some", true,
                    "not judged: the cancels began after hold, when a worker could be free "
                    "(queueing %zu futures outlasted it); %zu were cancelled",
                    backlog, ncancelled - holders_cancelled);
out:
    pbs_release_all(fs, k);
    free(fs);
    free(cancelled);
    free(dt);
    return rc;
}

static const pb_param params[] = {
    {"backlog", PB_PARAM_COUNT, "1000", "pending tasks to cancel", 1, NULL},
    {"hold", PB_PARAM_NS, "20ms", "how long each worker is held busy meanwhile", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_cancel = {
    .name = "cancel",
    .summary = "cancel a backlog: cost per cancel; checks only pending futures were cancelled",
    .headline = "cancel",
    .params = params,
    .run = run,
    .kept = "backlog",
};
