/*
 * floor_clock.c — the floor: what reading the clock costs.
 *
 * Every timestamp poolbench takes is a pb_now_ns() (CLOCK_MONOTONIC through
 * the vDSO); its cost is the resolution below which no measurement here
 * means anything. Each sample is the average of `batch` back-to-back reads.
 */
#include "common.h"

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    size_t batch = (size_t)pb_sc_num(sc, "batch");
    pb_samples *m = pb_sc_metric(sc, "clock", "ns", PBR_LOWER, n);
    volatile int64_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t0 = pb_now_ns();
        for (size_t j = 0; j < batch; j++)
            sink += pb_now_ns();
        int64_t t1 = pb_now_ns();
        pb_samples_add(m, (double)(t1 - t0) / (double)batch);
    }
    (void)sink;
    return 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "200", "samples per repetition", 1, NULL},
    {"batch", PB_PARAM_COUNT, "1000", "clock reads averaged per sample", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_clock = {
    .name = "clock",
    .summary = "the cost of one clock read (CLOCK_MONOTONIC), the resolution of every timing",
    .headline = "clock",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
