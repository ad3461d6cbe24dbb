/*
 * roundtrip.c — one task in flight: submit → result, split into its parts.
 *
 * The classic latency of a pool: an empty task, submitted when nothing else
 * is queued, and the caller blocking on its result. With the future's
 * timestamps (pb_future_times; CLOCK_MONOTONIC is shared between processes,
 * so this works across them) each round trip splits into
 *   submit     t(submit returned) - t(before submit): the call itself;
 *   queueing   started - submitted: until a worker began the task;
 *   run        ended - started: the task itself (the no-op's call cost);
 *   retrieval  t(result returned) - ended: from the task's end in the worker
 *              to the caller holding the result.
 * Timestamps are stored in a preallocated array during the loop; samples are
 * worked out afterwards. Held against the futex (threads) or pipe (processes)
 * ping-pong of the floor.
 */
#include "common.h"

typedef struct stamp {
    int64_t t0, t1, t2;
    pb_times times;
} stamp;

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "samples");
    const pb_task *noop = pb_workload("noop");
    int rc = pbs_warm(sc, pool, 50);
    if (rc)
        return rc;

    stamp *st = pbs_calloc(sc, n, sizeof *st);
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    pb_samples *sub = pb_sc_metric(sc, "submit", "ns", PBR_LOWER, n);
    pb_samples *q = pb_sc_metric(sc, "queueing", "ns", PBR_LOWER, n);
    pb_samples *ru = pb_sc_metric(sc, "run", "ns", PBR_LOWER, n);
    pb_samples *re = pb_sc_metric(sc, "retrieval", "ns", PBR_LOWER, n);
    if (!st)
        return PB_ENOMEM;

    size_t done = 0;
    pbs_outcomes o = {0};
    for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
        pb_future *f;
        st[i].t0 = pb_now_ns();
        rc = pb_submit(pool, noop, NULL, 0, &f);
        st[i].t1 = pb_now_ns();
        if (rc) {
            free(st);
            return pb_sc_fail(sc, rc, "pb_submit failed: %s", pb_strerror(rc));
        }
        rc = pb_future_result(f, PB_FOREVER, NULL, NULL);
        st[i].t2 = pb_now_ns();
        pb_future_times(f, &st[i].times);
        pb_future_release(f);
        pbs_tally(&o, rc);
        done++;
    }

    for (size_t i = 0; i < done; i++) {
        const stamp *s = &st[i];
        pb_samples_add(rt, (double)(s->t2 - s->t0));
        pb_samples_add(sub, (double)(s->t1 - s->t0));
        /* A backend that does not report the worker's timestamps (0) gets
         * no split; the round trip still counts. */
        if (!s->times.started || !s->times.ended)
            continue;
        pb_samples_add(q, (double)(s->times.started - s->times.submitted));
        pb_samples_add(ru, (double)(s->times.ended - s->times.started));
        pb_samples_add(re, (double)(s->t2 - s->times.ended));
    }
    pbs_check_completed(sc, &o);
    free(st);
    return 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "2000", "round trips per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_roundtrip = {
    .name = "roundtrip",
    .summary = "one task in flight: submit -> result, split into submit, queueing, run, retrieval",
    .headline = "roundtrip",
    .params = params,
    .run = run,
    .kept = "samples",
};
