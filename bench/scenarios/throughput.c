/*
 * throughput.c — a burst of N tasks of granularity g, submitted, then
 * collected: tasks per second and efficiency.
 *
 * The tasks are `spin` for g ns (`noop` for g = 0), all submitted as fast as
 * the caller can (one pb_submit each, or with submit=many all in one
 * pb_submit_many), then their results taken in submission order. The time is
 * from before the first submit to after the last result, so it includes
 * everything a producer pays: submit, hand-off, running, retrieval.
 *   throughput  N / time (tasks/s), one value per repetition;
 *   efficiency  (work / workers) / time: the share of the workers' time
 *               spent in tasks, 1 being a pool with no overhead at all
 *               (g > 0); work is N g, or the sum of the drawn durations.
 * N is `tasks`, but at most what fills every worker for `work` (so coarse
 * granularities do not take minutes): N = min(tasks, work * workers / g).
 * Throughput of empty tasks is held against the floor's stream of one item
 * per hand-off: the mutex queue between threads, the pipe between processes.
 *
 * Task shapes (workloads.h): with `dist`, `kind` and `imbalance` other than
 * fixed, spin and 1, g is the mean of the drawn durations and the tasks are
 * `work` tasks, drawn before the burst from `seed` (a stream per
 * repetition), the same for every backend. `submit` many hands the whole
 * burst over in one pb_submit_many.
 */
#include "common.h"

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    int64_t g = pb_sc_num(sc, "granularity");
    int workers = pb_pool_workers(pool);
    size_t n = pbs_burst_size(pb_sc_num(sc, "tasks"), pb_sc_num(sc, "work"), workers, g);
    pb_shape shape;
    pbs_shape(sc, g, workers, &shape);
    pbs_tasks tasks;
    int rc = pbs_tasks_draw(sc, &shape, n, pbs_stream(sc, 0), &tasks);
    if (rc)
        return rc;
    if ((rc = pbs_warm(sc, pool, 20))) {
        pbs_tasks_free(&tasks);
        return rc;
    }
    pb_future **fs = pbs_calloc(sc, n, sizeof *fs);
    if (!fs) {
        pbs_tasks_free(&tasks);
        return PB_ENOMEM;
    }
    pb_samples *tp = pb_sc_metric(sc, "throughput", "tasks/s", PBR_HIGHER, 1);
    pb_samples *eff = g ? pb_sc_metric(sc, "efficiency", "ratio", PBR_HIGHER, 1) : NULL;
    int64_t elapsed;
    pb_sc_cost_begin(sc);
    rc = pbs_burst(sc, pool, &tasks, !strcmp(pb_sc_word(sc, "submit"), "many"), fs, &elapsed);
    pb_sc_cost_end(sc, n, NULL);
    free(fs);
    pbs_tasks_free(&tasks);
    if (rc)
        return rc;
    if (elapsed > 0) {
        pb_samples_add(tp, (double)n * 1e9 / (double)elapsed);
        if (eff)
            pb_samples_add(eff, tasks.total / workers / (double)elapsed);
    }
    return 0;
}

static const char *const submit_choices[] = {"one", "many", NULL};

static const pb_param params[] = {
    {"granularity", PB_PARAM_NS, "0,1us,10us,100us", "how long each task works (its mean; 0: empty tasks)", 0, NULL},
    {"tasks", PB_PARAM_COUNT, "20000", "tasks per burst (at most)", 1, NULL},
    {"work", PB_PARAM_NS, "50ms", "cap: a burst fills each worker for at most this long", 1, NULL},
    PBS_SHAPE_PARAMS,
    {"submit", PB_PARAM_WORD, "one", "one pb_submit per task, or many: the whole burst in one "
     "pb_submit_many", 0, submit_choices},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_throughput = {
    .name = "throughput",
    .summary = "a burst of N tasks of granularity g, submitted then collected: tasks/s, efficiency",
    .headline = "throughput",
    .params = params,
    .run = run,
    .check = pbs_shape_check,
};
