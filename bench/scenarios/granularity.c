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
 *
 * Task shapes (workloads.h): `dist`, `kind` and `imbalance` shape every
 * point's tasks, g being the mean duration; efficiency then counts the
 * drawn work, whatever its spread. Each point draws from its own stream of
 * `seed`.
 */
#include "common.h"

static int check(const pb_scenario *sc, const pb_param_value *v, char *err, size_t errlen)
{
    int rc = pb_param_not_above(sc, v, "min", "max", err, errlen);
    return rc ? rc : pbs_shape_check(sc, v, err, errlen);
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
    unsigned point = 0;
    for (int64_t g = gmax; g >= gmin && g > 0 && !pb_sc_stopping(sc); g /= 2) {
        size_t n = pbs_burst_size(tasks, work, workers, g);
        pb_shape shape;
        pbs_shape(sc, g, workers, &shape);
        pbs_tasks t;
        if ((rc = pbs_tasks_draw(sc, &shape, n, pbs_stream(sc, point++), &t)))
            break;
        int64_t elapsed;
        char label[32];
        snprintf(label, sizeof label, "g%lld", (long long)g);
        pb_sc_cost_begin(sc);
        rc = pbs_burst(sc, pool, &t, false, fs, &elapsed);
        pb_sc_cost_end(sc, n, label);
        double total = t.total;
        pbs_tasks_free(&t);
        if (rc)
            break;
        pbs_metg_record(sc, n, g, total, workers, elapsed, &best);
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
    PBS_SHAPE_PARAMS,
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
