/*
 * errors.c — the round trip of a failing task.
 *
 * Each task is `fail` with its own code (1..100, cycling); the caller takes
 * the result (expecting PB_ETASK) and then the error. The sample is the
 * round trip, submit to the failed result, which is what error handling
 * costs a caller compared with roundtrip's success path.
 *
 * Checks:
 *   code     the result was PB_ETASK, and pb_future_error() reported PB_ETASK
 *            with the task's own code;
 *   message  the message is exactly the text the task formatted.
 */
#include <stdio.h>

#include "common.h"

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "samples");
    const pb_task *fail = pb_workload("fail");
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    pb_samples *m = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    size_t done = 0, bad_code = 0, bad_message = 0;
    int seen_rc = 0, seen_code = 0;
    char seen_message[160] = "";
    for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
        int32_t code = (int32_t)(1 + i % 100);
        pb_future *f;
        int64_t t0 = pb_now_ns();
        if ((rc = pbs_submit(sc, pool, fail, &code, sizeof code, &f)))
            return rc;
        int r = pb_future_result(f, PB_FOREVER, NULL, NULL);
        pb_samples_add(m, (double)(pb_now_ns() - t0));
        done++;
        pb_error e;
        int er = pb_future_error(f, 0, &e);
        if (r != PB_ETASK || er != 0 || e.code != PB_ETASK || e.task_code != code) {
            if (!bad_code++) {
                seen_rc = r;
                seen_code = er == 0 ? e.task_code : 0;
            }
        } else {
            char want[128];
            pb_workload_fail_message(code, want, sizeof want);
            if (strcmp(e.message ? e.message : "", want) && !bad_message++)
                snprintf(seen_message, sizeof seen_message, "%s", e.message ? e.message : "(null)");
        }
        pb_future_release(f);
    }
    pb_sc_check(sc, "code", bad_code == 0,
                "%zu of %zu failures arrived wrong (first: result %s, task code %d)", bad_code, done,
                pb_strerror(seen_rc), seen_code);
    pb_sc_check(sc, "message", bad_message == 0,
                "%zu of %zu messages differ from the task's (first: '%s')", bad_message, done,
                seen_message);
    return 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "1000", "failing tasks per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_errors = {
    .name = "errors",
    .summary = "round trip of a failing task; checks its code and message arrive intact",
    .headline = "roundtrip",
    .params = params,
    .run = run,
    .kept = "samples",
};
