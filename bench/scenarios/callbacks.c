/*
 * callbacks.c — done-callbacks: latency from completion, once each, in order.
 *
 * N no-ops are submitted in a burst; right after each submit, `callbacks`
 * callbacks are added to its future (some futures may be done by then; their
 * callbacks then run at once, in this thread, as the contract says). Each
 * callback counts its calls and appends its number to its future's log; the
 * first one also takes the time. The sample is t(first callback) - ended,
 * the worker's timestamp of the task's end.
 *
 * Checks:
 *   once_each  every callback ran exactly once;
 *   in_order   each future's callbacks ran in the order they were added.
 *
 * Callbacks run after waiters are woken, so after collecting every result
 * the caller waits (politely) until all callbacks have run; a pool that
 * never runs some callback fails once_each after `patience`, instead of
 * hanging the run.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "common.h"

typedef struct rec {
    _Atomic int64_t first;
    _Atomic int seq;  /* slots of the log taken */
    _Atomic int done; /* callbacks finished writing: the log is readable up to here */
} rec;

typedef struct ctx {
    rec *recs;
    _Atomic int *calls; /* [n * k] */
    int *log;           /* [n * k]: the callback numbers, in the order run */
    int k;
} ctx;

typedef struct ud {
    ctx *c;
    int future, number;
} ud;

static void on_done(pb_future *f, void *arg)
{
    (void)f;
    int64_t now = pb_now_ns();
    ud *u = arg;
    ctx *c = u->c;
    rec *r = &c->recs[u->future];
    atomic_fetch_add(&c->calls[(size_t)u->future * (size_t)c->k + (size_t)u->number], 1);
    if (u->number == 0)
        atomic_store(&r->first, now);
    int s = atomic_fetch_add(&r->seq, 1);
    if (s < c->k)
        c->log[(size_t)u->future * (size_t)c->k + (size_t)s] = u->number;
    /* Published after the log entry: a reader that sees done == k sees
     * every entry (seq alone would not do: it is taken before writing). */
    atomic_fetch_add(&r->done, 1);
}

/* The bookkeeping is tasks x callbacks entries (about 24 bytes each). */
#define CALLBACKS_MAX ((int64_t)10000000)

static int check(const pb_scenario *sc, const pb_param_value *v, char *err, size_t errlen)
{
    int64_t n = pb_param_num(sc, v, "tasks"), k = pb_param_num(sc, v, "callbacks");
    if (n * k > CALLBACKS_MAX) {
        snprintf(err, errlen, "parameters tasks (%lld) x callbacks (%lld) must be at most %lld",
                 (long long)n, (long long)k, (long long)CALLBACKS_MAX);
        return PB_EINVAL;
    }
    return 0;
}

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "tasks");
    int k = (int)pb_sc_num(sc, "callbacks");
    int64_t patience = pb_sc_num(sc, "patience");
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    ctx c = {.k = k};
    c.recs = pbs_calloc(sc, n, sizeof *c.recs);
    c.calls = pbs_calloc(sc, n * (size_t)k, sizeof *c.calls);
    c.log = pbs_calloc(sc, n * (size_t)k, sizeof *c.log);
    ud *uds = pbs_calloc(sc, n * (size_t)k, sizeof *uds);
    pb_future **fs = pbs_calloc(sc, n, sizeof *fs);
    size_t submitted = 0;
    if (!c.recs || !c.calls || !c.log || !uds || !fs) {
        rc = PB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n * (size_t)k; i++)
        uds[i] = (ud){&c, (int)(i / (size_t)k), (int)(i % (size_t)k)};
    pb_samples *m = pb_sc_metric(sc, "callback", "ns", PBR_LOWER, n);

    const pb_task *noop = pb_workload("noop");
    for (; submitted < n; submitted++) {
        if ((rc = pbs_submit(sc, pool, noop, NULL, 0, &fs[submitted])))
            goto out;
        for (int j = 0; j < k; j++) {
            rc = pb_future_add_done_callback(fs[submitted], on_done, &uds[submitted * (size_t)k + (size_t)j]);
            if (rc) {
                submitted++;
                pb_sc_fail(sc, rc, "pb_future_add_done_callback failed: %s", pb_strerror(rc));
                goto out;
            }
        }
    }
    pbs_outcomes o = {0};
    for (size_t i = 0; i < n; i++)
        pbs_tally(&o, pb_future_result(fs[i], PB_FOREVER, NULL, NULL));
    int64_t deadline = pb_now_ns() + patience;
    for (size_t i = 0; i < n; i++)
        while (atomic_load(&c.recs[i].done) < k && pb_now_ns() < deadline &&
               !pb_sc_stopping(sc))
            pbs_nap(10000);

    size_t not_once = 0, out_of_order = 0;
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            not_once += atomic_load(&c.calls[i * (size_t)k + (size_t)j]) != 1;
            out_of_order += atomic_load(&c.recs[i].done) == k && c.log[i * (size_t)k + (size_t)j] != j;
        }
        pb_times t;
        pb_future_times(fs[i], &t);
        int64_t first = atomic_load(&c.recs[i].first);
        if (first && t.ended)
            pb_samples_add(m, (double)(first - t.ended));
    }
    pbs_check_completed(sc, &o);
    pb_sc_check(sc, "once_each", not_once == 0,
                "%zu of %zu callbacks did not run exactly once (waited %lld ms for them)", not_once,
                n * (size_t)k, (long long)(patience / 1000000));
    pb_sc_check(sc, "in_order", out_of_order == 0,
                "%zu callbacks ran out of the order they were added", out_of_order);
out:
    for (size_t i = 0; i < submitted; i++)
        pb_future_result(fs[i], PB_FOREVER, NULL, NULL);
    pbs_release_all(fs, submitted);
    free(fs);
    /* A callback that has not run yet may still run later and write into
     * c: if any is missing, the bookkeeping is leaked on purpose rather than
     * freed under it (this only happens with a pool that breaks the
     * contract, which once_each has reported). */
    bool all_ran = true;
    for (size_t i = 0; c.recs && i < submitted; i++)
        all_ran &= atomic_load(&c.recs[i].done) >= k;
    if (all_ran) {
        free(uds);
        free(c.recs);
        free((void *)c.calls);
        free(c.log);
    }
    return rc;
}

static const pb_param params[] = {
    {"tasks", PB_PARAM_COUNT, "1000", "tasks per repetition", 1, NULL},
    {"callbacks", PB_PARAM_COUNT, "3", "callbacks added to each future", 1, NULL},
    {"patience", PB_PARAM_NS, "10s", "how long to wait for callbacks that have not run", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_callbacks = {
    .name = "callbacks",
    .summary = "done-callbacks: latency from a task's end; checks once each, in order",
    .headline = "callback",
    .params = params,
    .run = run,
    .kept = "tasks",
    .check = check,
};
