/*
 * scaling.c — throughput as workers are added: speedup, parallel
 * efficiency, and where adding workers stops paying.
 *
 * For each worker count W of the sweep a fresh pool of W workers is
 * created (with the run's placement), woken with a short burst, and
 * measured with one burst of tasks spinning `granularity` each (as in
 * throughput.c: N = min(tasks, work * W / granularity), from the first
 * submit to the last result), then destroyed. The counts are 1, 2, 3, ...
 * up to `max_workers` (0: twice the PUs this process may run on); past 16
 * they grow by about half each step (16, 24, 32, 48, ...), always ending at
 * max_workers. Metrics, one value per repetition:
 *   throughput_w<W>    tasks/s with W workers;
 *   speedup_w<W>       throughput_w<W> over throughput_w1 of the same
 *                      repetition;
 *   efficiency_w<W>    speedup_w<W> / W (1: every worker added paid in
 *                      full);
 *   peak_speedup       the best speedup of the sweep (the headline);
 *   peak_workers       the W that reached it: past it, adding workers
 *                      lowered throughput (scaling turned negative) or, if
 *                      it is the sweep's last W, never did within it;
 * and, from the harness's cost accounting, cpu_per_task_w<W>,
 * submitter_cpu_per_task_w<W> and cores_busy_w<W> for each point. With a
 * placement (--pin) each W is measured twice in turn, pinned as the run
 * asks and unpinned, the unpinned metrics named with `_unpinned` after W
 * (throughput_w4_unpinned, speedup_w4_unpinned, ...); without one, the
 * only variant is unpinned and has the plain names.
 *
 * A backend that cannot have W workers (libuv's threadpool is fixed at its
 * first use; an MPI job has as many worker ranks as mpiexec started) ends
 * the sweep there: the counts it could run are reported.
 *
 * How a point is measured is one entry of `kinds` below, chosen by the
 * parameter `measure`; the burst is the only kind so far. A scenario whose
 * figure is a capacity (the highest arrival rate a pool sustains, open
 * loop) joins as a second entry with its own measure function, and the
 * sweep, the speedups and the chart stay as they are.
 */
#include <sched.h>
#include <stdio.h>

#include "common.h"

/* Measures one point: *rate gets its tasks/s. Returns 0, or a code with
 * the case marked. */
typedef int (*measure_fn)(pb_sc *sc, pb_pool *pool, int workers, const char *point, double *rate);

static int burst_point(pb_sc *sc, pb_pool *pool, int workers, const char *point, double *rate)
{
    int64_t g = pb_sc_num(sc, "granularity");
    size_t n = pbs_burst_size(pb_sc_num(sc, "tasks"), pb_sc_num(sc, "work"), workers, g);
    size_t wake = (size_t)workers * 2;
    pb_future **fs = pbs_calloc(sc, n > wake ? n : wake, sizeof *fs);
    if (!fs)
        return PB_ENOMEM;
    int64_t elapsed;
    /* Plain tasks: every one spins g ns (a no-op for 0). */
    pbs_tasks t = {.task = pb_workload(g ? "spin" : "noop"), .n = wake, .g = g,
                   .total = (double)wake * (double)g};
    /* Every worker started and awake before the clock runs. */
    int rc = pbs_burst(sc, pool, &t, false, fs, &elapsed);
    if (rc == 0) {
        t.n = n;
        t.total = (double)n * (double)g;
        pb_sc_cost_begin(sc);
        rc = pbs_burst(sc, pool, &t, false, fs, &elapsed);
        pb_sc_cost_end(sc, n, point);
    }
    free(fs);
    *rate = rc == 0 && elapsed > 0 ? (double)n * 1e9 / (double)elapsed : 0;
    return rc;
}

static const struct kind {
    const char *name;
    measure_fn measure;
} kinds[] = {
    {"burst", burst_point},
};

static const char *const measures[] = {"burst", NULL};

/* The PUs this process may run on. */
static int allowed_pus(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return n > 0 ? n : 1;
}

/* The count after w in a sweep up to max. */
static int next_count(int w, int max)
{
    int next = w < 16 ? w + 1 : w + w / 2;
    return next > max && w < max ? max : next;
}

/* The counts of the sweep, into counts[] (room for 64); returns how many. */
static int sweep(int max, int *counts)
{
    int n = 0;
    for (int w = 1; w <= max && n < 64; w = next_count(w, max))
        counts[n++] = w;
    return n;
}

/* One variant (pinned as the run asks, or unpinned) over every count:
 * rates[i] for counts[i], 0 where the backend could not have that many
 * workers. */
static int variant(pb_sc *sc, const struct kind *k, const char *pin, const char *suffix,
                   const int *counts, int ncounts, double *rates)
{
    for (int i = 0; i < ncounts && !pb_sc_stopping(sc); i++) {
        pb_pool_opts opts;
        pb_sc_pool_opts(sc, &opts);
        opts.workers = counts[i];
        opts.pin = pin;
        pb_pool *pool;
        int rc;
        if (i == 0) {
            rc = pb_sc_pool_create(sc, &opts, &pool); /* marks the case if it cannot */
            if (rc)
                return pb_sc_outcome(rc);
        } else if ((rc = pb_pool_create(pb_sc_backend(sc), &opts, &pool)) == PB_ENOTSUP) {
            return 0; /* no more workers to be had: the sweep ends here */
        } else if (rc) {
            return pb_sc_fail(sc, rc, "pb_pool_create with %d workers failed: %s", counts[i],
                              pb_pool_last_error());
        }
        char point[48];
        snprintf(point, sizeof point, "w%d%s", counts[i], suffix);
        rc = k->measure(sc, pool, counts[i], point, &rates[i]);
        pb_pool_destroy(pool);
        if (rc)
            return rc;
    }
    return 0;
}

static void record(pb_sc *sc, const char *suffix, const int *counts, int ncounts,
                   const double *rates)
{
    char name[64];
    double best = 0;
    int best_w = 0;
    for (int i = 0; i < ncounts && rates[i] > 0; i++) {
        int w = counts[i];
        double speedup = rates[i] / rates[0];
        snprintf(name, sizeof name, "throughput_w%d%s", w, suffix);
        pb_samples_add(pb_sc_metric(sc, name, "tasks/s", PBR_HIGHER, 1), rates[i]);
        snprintf(name, sizeof name, "speedup_w%d%s", w, suffix);
        pb_samples_add(pb_sc_metric(sc, name, "ratio", PBR_HIGHER, 1), speedup);
        snprintf(name, sizeof name, "efficiency_w%d%s", w, suffix);
        pb_samples_add(pb_sc_metric(sc, name, "ratio", PBR_HIGHER, 1), speedup / w);
        if (speedup > best) {
            best = speedup;
            best_w = w;
        }
    }
    if (!best_w)
        return;
    snprintf(name, sizeof name, "peak_speedup%s", suffix);
    pb_samples_add(pb_sc_metric(sc, name, "ratio", PBR_HIGHER, 1), best);
    snprintf(name, sizeof name, "peak_workers%s", suffix);
    pb_samples_add(pb_sc_metric(sc, name, "count", PBR_HIGHER, 1), best_w);
}

static int run(pb_sc *sc)
{
    const char *measure = pb_sc_word(sc, "measure");
    const struct kind *k = &kinds[0];
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].name, measure))
            k = &kinds[i];
    int max = (int)pb_sc_num(sc, "max_workers");
    if (max == 0)
        max = 2 * allowed_pus();
    int counts[64];
    int ncounts = sweep(max, counts);
    double pinned[64] = {0}, unpinned[64] = {0};

    pb_pool_opts opts;
    pb_sc_pool_opts(sc, &opts);
    bool pins = opts.pin && strcmp(opts.pin, "none");
    int rc = variant(sc, k, pins ? opts.pin : "none", "", counts, ncounts, pinned);
    if (rc == 0 && pins)
        rc = variant(sc, k, "none", "_unpinned", counts, ncounts, unpinned);
    if (rc)
        return rc;
    record(sc, "", counts, ncounts, pinned);
    if (pins)
        record(sc, "_unpinned", counts, ncounts, unpinned);
    return 0;
}

static const pb_param params[] = {
    {"granularity", PB_PARAM_NS, "100us", "how long each task spins", 1, NULL},
    {"max_workers", PB_PARAM_COUNT, "0", "the largest worker count (0: twice the allowed PUs)", 0,
     NULL},
    {"tasks", PB_PARAM_COUNT, "20000", "tasks per burst (at most)", 1, NULL},
    {"work", PB_PARAM_NS, "50ms", "cap: a burst fills each worker for at most this long", 1, NULL},
    {"measure", PB_PARAM_WORD, "burst", "what a point measures (burst: its throughput)", 0,
     measures},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_scaling = {
    .name = "scaling",
    .summary = "throughput for 1, 2, ... up to 2x the PUs workers: speedup, efficiency, the peak",
    .headline = "peak_speedup",
    .params = params,
    .flags = PB_SC_OWN_POOLS,
    .run = run,
};
