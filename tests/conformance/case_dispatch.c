/*
 * case_dispatch.c — how work reaches workers: never more tasks running at
 * once than the pool has workers, and work-conserving (a ready task never
 * waits behind a running one while another worker is idle).
 *
 * Gate tasks leave a marker when they start, so these cases count tasks that
 * actually began, which the RUNNING state cannot tell apart from tasks
 * queued in a worker's own queue.
 */
#include "conformance.h"

#include <stdlib.h>

PBC_CASE(dispatch, never_more_than_workers)
{
    for (int w = 1; w <= 3; w++) {
        STEP("%d workers", w);
        pb_pool *pool = pbc_pool(backend, w, NULL);
        CHECK_INT(pb_pool_workers(pool), ==, w);
        pbc_gate g;
        pbc_gate_init(&g);
        enum { EXTRA = 4 };
        pb_future *fs[3 + EXTRA];
        for (int i = 0; i < w + EXTRA; i++)
            fs[i] = pbc_submit_gate(pool, &g);
        STEP("waiting for one gate task per worker to start (%d workers)", w);
        for (unsigned k = 0; pbc_gate_started(&g) < w; k++)
            pbc_pause(k);
        /* Not a measurement: a pool that keeps to its workers never starts
         * another one, however long we look. */
        pbc_sleep_ms(50);
        int started = pbc_gate_started(&g);
        CHECK_MSG(started == w, "%d tasks started at once in a pool of %d workers", started,
                  w);
        pbc_gate_open(&g);
        for (int i = 0; i < w + EXTRA; i++)
            CHECK_OK(pb_future_result(fs[i], PB_FOREVER, NULL, NULL));
        CHECK_INT(pbc_gate_started(&g), ==, w + EXTRA);
        pb_pool_destroy(pool);
        pbc_release_all(fs, (size_t)(w + EXTRA));
    }
}

PBC_CASE(dispatch, work_conserving)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pb_future *warm = pbc_submit_u64(pool, 0);
    CHECK_RESULT_U64(warm, 0);
    pb_future_release(warm);

    pbc_gate g;
    pbc_gate_init(&g);
    pb_future *a = pbc_submit_gate(pool, &g);
    STEP("waiting for the gate task to start");
    for (unsigned k = 0; pbc_gate_started(&g) < 1; k++)
        pbc_pause(k);
    /* One worker is blocked; the other must run all of these. A backend that
     * queued some of them behind the blocked task would hang here. */
    enum { N = 100 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
    for (int i = 0; i < N; i++) {
        STEP("task %d of %d while one worker is blocked", i, N);
        CHECK_RESULT_U64(fs[i], (uint64_t)i);
    }
    STEP("a map while one worker is blocked");
    uint64_t vals[40];
    pb_bytes args[40];
    for (int i = 0; i < 40; i++) {
        vals[i] = (uint64_t)i;
        args[i] = (pb_bytes){&vals[i], sizeof vals[i]};
    }
    pb_map *m = NULL;
    CHECK_OK(pb_map_new(pool, pbc_task("conf_echo"), args, 40, 3, PB_FOREVER, &m));
    for (int i = 0; i < 40; i++) {
        const void *data;
        size_t len;
        CHECK_OK(pb_map_next(m, &data, &len, NULL));
    }
    pb_map_free(m);
    CHECK_STATE_ALL(a, PB_RUNNING);
    pbc_gate_open(&g);
    CHECK_OK(pb_future_result(a, PB_FOREVER, NULL, NULL));
    pb_pool_destroy(pool);
    pb_future_release(a);
    pbc_release_all(fs, N);
}
