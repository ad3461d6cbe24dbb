/*
 * floor_thread_start.c — the floor of starting a worker thread.
 *
 * pthread_create of a thread that returns at once, then pthread_join: the
 * least an in-process pool pays to start (and end) one worker. Thread
 * backends' start-up is held against this.
 */
#include <pthread.h>

#include "common.h"

static void *nothing(void *p)
{
    return p;
}

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    pb_samples *m = pb_sc_metric(sc, "startup", "ns", PBR_LOWER, n);
    for (size_t i = 0; i < n; i++) {
        pthread_t t;
        int64_t t0 = pb_now_ns();
        int e = pthread_create(&t, NULL, nothing, NULL);
        if (e)
            return pb_sc_fail(sc, -e, "pthread_create: %s", pb_strerror(-e));
        pthread_join(t, NULL);
        pb_samples_add(m, (double)(pb_now_ns() - t0));
    }
    return 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "200", "threads started per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_thread_start = {
    .name = "thread_start",
    .summary = "pthread_create + join of a thread that returns at once",
    .headline = "startup",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
