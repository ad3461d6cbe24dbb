/*
 * timeout.c — pb_future_result(timeout = T) on a task that outlasts T.
 *
 * The sample is the overshoot: t(return) - (t(call) + T), i.e. how late past
 * its deadline the call came back. Each future is a `sleep` task long
 * enough for several waits (8 T + 5 ms); the caller waits on it with T again
 * and again until it finishes, then takes its result with no limit. So the
 * scenario also checks the contract around a timeout:
 *   etimedout  every wait that returned before the task ended returned
 *              PB_ETIMEDOUT, and none returned before its deadline;
 *   usable     after timing out, the same future still delivered its result,
 *              intact (the sleep task returns its argument).
 * Held against the floor's condition-variable timed wait for the same T.
 */
#include "common.h"

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "samples");
    int64_t T = pb_sc_num(sc, "timeout");
    int64_t len_ns = 8 * T + 5000000;
    const pb_task *sleep_task = pb_workload("sleep");
    int rc = pbs_warm(sc, pool, 10);
    if (rc)
        return rc;
    pb_samples *m = pb_sc_metric(sc, "overshoot", "ns", PBR_LOWER, n);

    size_t got = 0, early = 0, wrong = 0, unusable = 0;
    int wrong_rc = 0;
    while (got < n && !pb_sc_stopping(sc)) {
        pb_future *f;
        if ((rc = pbs_submit(sc, pool, sleep_task, &len_ns, sizeof len_ns, &f)))
            break;
        size_t timeouts = 0;
        int r = 0;
        while (got < n && !pb_sc_stopping(sc)) {
            int64_t t0 = pb_now_ns();
            r = pb_future_result(f, T, NULL, NULL);
            int64_t t1 = pb_now_ns();
            if (r != PB_ETIMEDOUT)
                break;
            early += t1 < t0 + T;
            pb_samples_add(m, (double)(t1 - (t0 + T)));
            got++;
            timeouts++;
        }
        if (r != 0 && r != PB_ETIMEDOUT) {
            wrong++;
            wrong_rc = r;
        }
        const void *data;
        size_t len;
        r = pb_future_result(f, PB_FOREVER, &data, &len);
        if (timeouts && (r != 0 || len != sizeof len_ns || memcmp(data, &len_ns, len)))
            unusable++;
        pb_future_release(f);
    }
    if (rc)
        return rc;
    pb_sc_check(sc, "etimedout", wrong == 0 && early == 0,
                "%zu waits returned %s instead of PB_ETIMEDOUT, %zu returned before the deadline",
                wrong, pb_strerror(wrong_rc), early);
    pb_sc_check(sc, "usable", unusable == 0,
                "%zu futures did not deliver their result intact after timing out", unusable);
    return 0;
}

static const pb_param params[] = {
    {"timeout", PB_PARAM_NS, "0,100us,1ms,10ms", "the timeout T passed to pb_future_result", 0, NULL},
    {"samples", PB_PARAM_COUNT, "100", "timed-out waits per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_timeout = {
    .name = "timeout",
    .summary = "result(timeout=T) on a task that outlasts T: overshoot past the deadline",
    .headline = "overshoot",
    .params = params,
    .run = run,
    .kept = "samples",
};
