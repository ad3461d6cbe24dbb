/*
 * granularity.c — efficiency as tasks get shorter, and METG(50%).
 *
 * Task granularity g is swept from `max` down by halves while it is at least
 * `min`; at each g a burst (as in throughput.c) is run and its efficiency
 * taken: the share of the workers' time spent inside tasks,
 *     efficiency = (N g / workers) / time.
 * METG(50%), the minimum effective task granularity of Task Bench (Slaughter
 * et al., SC'20), is the smallest task granularity at which efficiency is
 * still at least 50%; like Task Bench we measure granularity as the time a
 * task effectively occupies a worker, time * workers / N (which is g /
 * efficiency), and take the smallest of those among the points that reach
 * 50%. METG is bounded by the sweep: when even `min` reaches 50%, METG is
 * that point's (an upper bound); when no point reaches 50%, there is no
 * METG sample for the repetition.
 *
 * Metrics: metg (ns, one per repetition), and per point efficiency_g<NS> and
 * throughput_g<NS> (one per repetition; NS the nominal granularity in ns)
 * for the efficiency curve.
 */
#include "common.h"

static int check(const pb_scenario *sc, const pb_param_value *v, char *err, size_t errlen)
{
    return pb_param_not_above(sc, v, "min", "max", err, errlen);
}

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    int64_t gmax = pb_sc_num(sc, "max"), gmin = pb_sc_num(sc, "min");
    int64_t tasks = pb_sc_num(sc, "tasks"), work = pb_sc_num(sc, "work"); /* min <= max: check() */
    int workers = pb_pool_workers(pool);
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    pb_future **fs = pbs_calloc(sc, (size_t)tasks, sizeof *fs);
    if (!fs)
        return PB_ENOMEM;
    pb_samples *metg = pb_sc_metric(sc, "metg", "ns", PBR_LOWER, 1);
    double best = -1;
    for (int64_t g = gmax; g >= gmin && g > 0 && !pb_sc_stopping(sc); g /= 2) {
        size_t n = pbs_burst_size(tasks, work, workers, g);
        int64_t elapsed;
        if ((rc = pbs_burst(sc, pool, n, g, false, fs, &elapsed)))
            break;
        pbs_metg_record(sc, n, g, workers, elapsed, &best);
    }
    free(fs);
    if (rc)
        return rc;
    if (best >= 0)
        pb_samples_add(metg, best);
    return 0;
}

static const pb_param params[] = {
    {"max", PB_PARAM_NS, "1ms", "the coarsest granularity of the sweep", 1, NULL},
    {"min", PB_PARAM_NS, "1us", "the sweep halves g while it is at least this", 1, NULL},
    {"tasks", PB_PARAM_COUNT, "5000", "tasks per point (at most)", 1, NULL},
    {"work", PB_PARAM_NS, "20ms", "cap: a point fills each worker for at most this long", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_granularity = {
    .name = "granularity",
    .summary = "efficiency as task granularity halves, and METG(50%) (Task Bench)",
    .headline = "metg",
    .params = params,
    .run = run,
    .check = check,
};
