/*
 * map.c — the ordered map with chunks: tasks/s, and the order checked.
 *
 * N items, each an 8-byte index, go through `echo` with pb_map_new (every
 * chunk submitted at once; chunksize 0 is PB_MAP_CHUNK_AUTO, which picks it
 * as multiprocessing.Pool.map does) and come back with pb_map_next. The time
 * is from before pb_map_new to after the last item.
 *   throughput  N / time (tasks/s), one value per repetition.
 * Checks: order (item i came back i-th, with its own index), completed (no
 * item failed).
 */
#include "common.h"

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "tasks");
    size_t chunk = (size_t)pb_sc_num(sc, "chunksize");
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    int64_t *idx = pbs_calloc(sc, n, sizeof *idx);
    pb_bytes *args = pbs_calloc(sc, n, sizeof *args);
    if (!idx || !args) {
        free(idx);
        free(args);
        return PB_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        idx[i] = (int64_t)i;
        args[i].data = &idx[i];
        args[i].len = sizeof idx[i];
    }
    pb_samples *tp = pb_sc_metric(sc, "throughput", "tasks/s", PBR_HIGHER, 1);

    pb_map *m;
    size_t got = 0, misplaced = 0;
    pbs_outcomes o = {0};
    size_t first_misplaced = SIZE_MAX;
    pb_sc_cost_begin(sc);
    int64_t t0 = pb_now_ns();
    rc = pb_map_new(pool, pb_workload("echo"), args, n, chunk, PB_FOREVER, &m);
    if (rc) {
        free(idx);
        free(args);
        return pb_sc_fail(sc, rc, "pb_map_new failed: %s", pb_strerror(rc));
    }
    for (;;) {
        const void *data;
        size_t len;
        int r = pb_map_next(m, &data, &len, NULL);
        if (r == PB_EOF)
            break;
        pbs_tally(&o, r);
        if (r == 0) {
            int64_t v;
            if (len != sizeof v || (memcpy(&v, data, sizeof v), v != (int64_t)got)) {
                if (!misplaced++)
                    first_misplaced = got;
            }
        }
        got++;
        if (r == PB_ETIMEDOUT || got > n)
            break;
    }
    int64_t t1 = pb_now_ns();
    pb_sc_cost_end(sc, got, NULL); /* items, not chunks */
    pb_map_free(m);
    free(idx);
    free(args);
    if (t1 > t0)
        pb_samples_add(tp, (double)got * 1e9 / (double)(t1 - t0));
    pb_sc_check(sc, "order", misplaced == 0 && got == n,
                "%zu of %zu results out of place (first at %zu); %zu items came back", misplaced, n,
                first_misplaced, got);
    pbs_check_completed(sc, &o);
    return 0;
}

static const pb_param params[] = {
    {"chunksize", PB_PARAM_COUNT, "1,16,256,0",
     "items per chunk (one unit of work); 0: automatic, as multiprocessing.Pool.map", 0, NULL},
    {"tasks", PB_PARAM_COUNT, "10000", "items per map", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_map = {
    .name = "map",
    .summary = "ordered map with chunks over echo tasks: tasks/s; checks the order",
    .headline = "throughput",
    .params = params,
    .run = run,
};
