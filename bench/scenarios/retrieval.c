/*
 * retrieval.c — from a task's end in the worker to the caller holding the
 * result, three ways:
 *   result        pb_future_result() blocking on the future;
 *   callback      a done-callback (the time it starts running);
 *   as_completed  an as_completed iterator over the one future.
 * One no-op in flight at a time; the sample is t(caller has it) - ended,
 * where ended is the worker's CLOCK_MONOTONIC timestamp of the task's end.
 *
 * The callback runs in the thread that completes the future, after waiters
 * are woken, so the caller waits on the result and then for the callback's
 * timestamp to appear before the next round. A pool that never runs the
 * callback fails the case after CALLBACK_PATIENCE instead of hanging the
 * run.
 */
#include <stdatomic.h>

#include "common.h"

typedef struct cb_state {
    _Atomic int64_t when;
    _Atomic int calls;
} cb_state;

/* How long a done-callback may take to run after its future's result. */
#define CALLBACK_PATIENCE 10000000000LL

static void on_done(pb_future *f, void *ud)
{
    (void)f;
    cb_state *s = ud;
    /* when before calls: the caller reads when as soon as it sees calls. */
    atomic_store(&s->when, pb_now_ns());
    atomic_fetch_add(&s->calls, 1);
}

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "samples");
    const char *via = pb_sc_word(sc, "via");
    const pb_task *noop = pb_workload("noop");
    int rc = pbs_warm(sc, pool, 50);
    if (rc)
        return rc;
    pb_samples *m = pb_sc_metric(sc, "retrieval", "ns", PBR_LOWER, n);
    int64_t *got = pbs_calloc(sc, n, sizeof *got), *ended = pbs_calloc(sc, n, sizeof *ended);
    /* On the heap: a callback that is late past CALLBACK_PATIENCE may still
     * run after this function returns, so then cs is leaked, not freed. */
    cb_state *cs = pbs_calloc(sc, 1, sizeof *cs);
    if (!got || !ended || !cs) {
        free(got);
        free(ended);
        free(cs);
        return PB_ENOMEM;
    }
    enum { RESULT, CALLBACK, AS_COMPLETED } how =
        !strcmp(via, "callback") ? CALLBACK : !strcmp(via, "as_completed") ? AS_COMPLETED : RESULT;

    size_t done = 0, failed = 0, bad_calls = 0;
    for (size_t i = 0; i < n && !pb_sc_stopping(sc) && !rc; i++) {
        pb_future *f;
        atomic_store(&cs->calls, 0);
        atomic_store(&cs->when, 0);
        if ((rc = pbs_submit(sc, pool, noop, NULL, 0, &f)))
            break;
        int r = 0;
        if (how == RESULT) {
            r = pb_future_result(f, PB_FOREVER, NULL, NULL);
            got[i] = pb_now_ns();
        } else if (how == CALLBACK) {
            rc = pb_future_add_done_callback(f, on_done, cs);
            if (rc) {
                pb_sc_fail(sc, rc, "pb_future_add_done_callback failed: %s", pb_strerror(rc));
                pb_future_release(f);
                break;
            }
            r = pb_future_result(f, PB_FOREVER, NULL, NULL);
            /* The completing thread runs the callback just after waking
             * us: wait for it (it must not block, so this is short). */
            int64_t deadline = pb_now_ns() + CALLBACK_PATIENCE;
            while (atomic_load(&cs->calls) == 0 && pb_now_ns() < deadline)
                pbs_nap(1000);
            if (atomic_load(&cs->calls) == 0) {
                rc = pb_sc_fail(sc, PB_ETIMEDOUT,
                                "a done-callback had not run %lld s after its future finished",
                                CALLBACK_PATIENCE / 1000000000);
                pb_future_release(f);
                cs = NULL; /* it may still run: leaked on purpose */
                break;
            }
            got[i] = atomic_load(&cs->when);
            bad_calls += atomic_load(&cs->calls) != 1;
        } else {
            pb_as_completed *it;
            pb_future *g = NULL;
            rc = pb_as_completed_new(&f, 1, PB_FOREVER, &it);
            if (rc) {
                pb_sc_fail(sc, rc, "pb_as_completed_new failed: %s", pb_strerror(rc));
                pb_future_release(f);
                break;
            }
            r = pb_as_completed_next(it, &g);
            got[i] = pb_now_ns();
            pb_as_completed_free(it);
            if (r == 0 && g != f)
                r = PB_EINVAL;
            if (r == 0)
                r = pb_future_result(f, 0, NULL, NULL);
        }
        pb_times t;
        pb_future_times(f, &t);
        ended[i] = t.ended;
        pb_future_release(f);
        failed += r != 0;
        done++;
    }
    size_t no_times = 0;
    for (size_t i = 0; i < done; i++) {
        if (!ended[i]) {
            no_times++;
            continue;
        }
        pb_samples_add(m, (double)(got[i] - ended[i]));
    }
    free(got);
    free(ended);
    free(cs);
    if (rc)
        return rc;
    pb_sc_check(sc, "completed", failed == 0, "%zu of %zu tasks were not retrieved intact via %s",
                failed, done, via);
    if (how == CALLBACK)
        pb_sc_check(sc, "callback_once", bad_calls == 0, "%zu callbacks ran more than once", bad_calls);
    if (no_times == done && done > 0)
        return pb_sc_skip(sc, "the backend does not report when tasks end (pb_future_times)");
    return 0;
}

static const char *const vias[] = {"result", "callback", "as_completed", NULL};

static const pb_param params[] = {
    {"via", PB_PARAM_WORD, "result,callback,as_completed", "how the caller gets the result", 0, vias},
    {"samples", PB_PARAM_COUNT, "1000", "tasks per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_retrieval = {
    .name = "retrieval",
    .summary = "task end in the worker -> caller holds the result: via result, callback, as_completed",
    .headline = "retrieval",
    .params = params,
    .run = run,
    .kept = "samples",
};
