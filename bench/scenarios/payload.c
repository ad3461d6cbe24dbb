/*
 * payload.c — echo of a payload of `size` bytes: round trip and bytes/s.
 *
 * One `echo` task in flight at a time, the argument filled with the same
 * pseudo-random bytes on every backend. Process backends copy the bytes
 * both ways through their wire protocol; thread backends copy the argument
 * and the result in memory.
 *   roundtrip    submit → result (ns), one sample per task;
 *   bytes_per_s  bytes carried both ways per second of round trip
 *                (2 size n / sum of round trips), one value per repetition.
 * Check intact: every echo came back byte for byte (compared after the
 * clock stops).
 */
#include "common.h"

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t size = (size_t)pb_sc_num(sc, "size");
    size_t n = (size_t)pb_sc_num(sc, "samples");
    const pb_task *echo = pb_workload("echo");
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    unsigned char *buf = pbs_calloc(sc, size, 1);
    if (!buf)
        return PB_ENOMEM;
    for (size_t i = 0; i < size; i += 8) {
        uint64_t r = pb_sc_random(sc);
        memcpy(buf + i, &r, size - i < 8 ? size - i : 8);
    }
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    pb_samples *bw = pb_sc_metric(sc, "bytes_per_s", "bytes/s", PBR_HIGHER, 1);
    size_t done = 0, damaged = 0, failed = 0;
    int first_rc = 0;
    int64_t sum = 0;
    for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
        pb_future *f;
        const void *data;
        size_t len;
        int64_t t0 = pb_now_ns();
        if ((rc = pbs_submit(sc, pool, echo, buf, size, &f)))
            break;
        int r = pb_future_result(f, PB_FOREVER, &data, &len);
        int64_t dt = pb_now_ns() - t0;
        pb_samples_add(rt, (double)dt);
        sum += dt;
        done++;
        if (r && !failed++)
            first_rc = r;
        else if (!r && (len != size || memcmp(data, buf, size)))
            damaged++;
        pb_future_release(f);
    }
    if (sum > 0)
        pb_samples_add(bw, 2.0 * (double)size * (double)done * 1e9 / (double)sum);
    free(buf);
    if (rc)
        return rc;
    pb_sc_check(sc, "intact", damaged == 0 && failed == 0,
                "%zu of %zu echoes came back damaged, %zu failed (first: %s)", damaged, done, failed,
                pb_strerror(first_rc));
    return 0;
}

static const pb_param params[] = {
    {"size", PB_PARAM_BYTES, "8B,4KiB,64KiB,1MiB", "bytes sent (and echoed back) per task", 0, NULL},
    {"samples", PB_PARAM_COUNT, "200", "round trips per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_payload = {
    .name = "payload",
    .summary = "echo of a payload (8 B .. 1 MiB): round trip and bytes/s; checks it arrives intact",
    .headline = "roundtrip",
    .params = params,
    .run = run,
    .kept = "samples",
};
