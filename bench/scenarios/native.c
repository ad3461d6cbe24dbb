/*
 * native.c — a pool from another library, driven through that library's own
 * API with no future in between: the yardstick of the "adapter tax".
 *
 * An adapter (GLib, libuv, oneTBB, OpenMP, Asio, or a user's module) is
 * measured through the futures API like every pool; what the same library
 * does for a program written against it directly is the fair reference for
 * what the adapter adds. A backend offers that loop through pb_backend's
 * `native` hook (pb/backend.h); this scenario runs it, in the same run and
 * on the same CPUs as the adapter's cases, with the same work:
 *   loop=roundtrip  `samples` round trips of an empty task, each waited for
 *                   through the library's own completion mechanism:
 *                     roundtrip   ns, one sample per round trip;
 *   loop=burst      `tasks` items pushed as fast as the library takes them,
 *                   `chunksize` items per library task (1: one task each;
 *                   0: as many as map's automatic chunks would hold,
 *                   pb_map_chunksize_for() of the items and workers),
 *                   each item spinning `granularity` ns and storing an
 *                   8-byte result (as map's echo returns one), then every
 *                   completion waited for:
 *                     throughput  items/s, one value per repetition;
 *                     efficiency  (N g / workers) / time, for g > 0;
 *   loop=metg       the granularity scenario's sweep (g from `max` down by
 *                   halves while >= `min`), each point a native burst:
 *                     metg, efficiency_g<NS>, throughput_g<NS> as there.
 * As in throughput.c, a burst of spinning tasks holds at most `work` per
 * worker. Efficiency counts the run's workers (one per usable PU by
 * default), whatever number of threads the library itself ran.
 *
 * Backends without a native loop — poolbench's own thread, fork and exec,
 * whose speed is already the adapter-free one — are skipped with the reason;
 * so is a pin the library's own loop cannot honour.
 *
 * The harness pairs the adapter's metrics with these (harness/native.c):
 * roundtrip with loop=roundtrip, throughput at granularity g with a burst
 * of the same granularity, map at chunk size c with a burst of chunk size
 * c (0 with 0: both automatic), granularity's METG with loop=metg; the
 * ratio adapter ÷ native is the metric's `ratio_to_native`.
 *
 * Each task marks its own byte when it runs; a check afterwards says every
 * task ran exactly once ("completed"): a native loop that lost or repeated
 * work measured something else. A loop whose workers are other processes
 * does the same work itself (job.spin, job.chunk) and reports the count.
 */
#include <sched.h>

#include <pb/backend.h>

#include "common.h"

typedef struct nwork {
    int64_t g;           /* each item spins this long (ns) */
    size_t chunk;        /* items per task */
    size_t items;        /* items in all */
    unsigned char *ran;  /* per task: how often it ran */
    int64_t *out;        /* per item: its result, as map's echo returns one */
} nwork;

static void nwork_task(void *ud, size_t i)
{
    nwork *w = ud;
    size_t lo = i * w->chunk, hi = lo + w->chunk < w->items ? lo + w->chunk : w->items;
    for (size_t k = lo; k < hi; k++) {
        if (w->g && !pb_workload_spin(w->g))
            break; /* the run is stopping */
        w->out[k] = (int64_t)k;
    }
    w->ran[i]++;
}

/* The run's workers, resolved as pb_pool_create() resolves 0 (one per PU
 * this process may run on). */
static int run_workers(const pb_pool_opts *o)
{
    if (o->workers > 0)
        return o->workers;
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return n > 0 ? n : 1;
}

/* Runs one job with `tasks` tasks over w; checks every task ran once.
 * Returns 0, PB_SC_SKIPPED, or a negative code (the case marked). */
static int run_job(pb_sc *sc, pb_pool_opts *opts, pb_native_job *job, nwork *w, size_t tasks)
{
    w->ran = pbs_calloc(sc, tasks, 1);
    w->out = pbs_calloc(sc, w->items, sizeof *w->out);
    if (!w->ran || !w->out) {
        free(w->ran);
        free(w->out);
        return PB_ENOMEM;
    }
    job->n = tasks;
    job->task = nwork_task;
    job->ud = w;
    job->spin = w->g;
    job->chunk = w->chunk;
    /* The library's whole loop: its set-up and tear-down too. */
    pb_sc_cost_begin(sc);
    int rc = pb_native_run(pb_sc_backend(sc), opts, job);
    pb_sc_cost_end(sc, rc ? 0 : w->items, NULL);
    if (rc == PB_ENOTSUP) {
        rc = pb_sc_skip(sc, "%s", pb_pool_last_error());
    } else if (rc) {
        rc = pb_sc_fail(sc, rc, "the native loop failed: %s", pb_pool_last_error());
    } else {
        size_t missed = 0, twice = 0, first = SIZE_MAX;
        for (size_t i = 0; i < tasks; i++) {
            missed += w->ran[i] == 0;
            twice += w->ran[i] > 1;
            if (w->ran[i] != 1 && first == SIZE_MAX)
                first = i;
        }
        if (missed == tasks && job->completed) /* workers in other processes */
            pb_sc_check(sc, "completed", job->completed == tasks,
                        "the native loop ran %zu of %zu tasks", job->completed, tasks);
        else
            pb_sc_check(sc, "completed", !missed && !twice,
                        "%zu of %zu tasks did not run, %zu ran more than once (first: task %zu)",
                        missed, tasks, twice, first);
    }
    free(w->ran);
    free(w->out);
    w->ran = NULL;
    w->out = NULL;
    return rc;
}

static int roundtrips(pb_sc *sc, pb_pool_opts *opts)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    int64_t *times = pbs_calloc(sc, n, sizeof *times);
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    if (!times)
        return PB_ENOMEM;
    nwork w = {.g = 0, .chunk = 1, .items = n};
    pb_native_job job = {.kind = PB_NATIVE_ROUNDTRIP, .warmup = 50, .times = times};
    int rc = run_job(sc, opts, &job, &w, n);
    for (size_t i = 0; !rc && i < n; i++)
        pb_samples_add(rt, (double)times[i]);
    free(times);
    return rc;
}

/* One native burst of `items` items of granularity g, chunk items per task;
 * *elapsed gets its time. */
static int burst(pb_sc *sc, pb_pool_opts *opts, size_t items, int64_t g, size_t chunk,
                 int64_t *elapsed)
{
    nwork w = {.g = g, .chunk = chunk, .items = items};
    pb_native_job job = {.kind = PB_NATIVE_BURST, .warmup = 20};
    int rc = run_job(sc, opts, &job, &w, (items + chunk - 1) / chunk);
    *elapsed = job.elapsed;
    return rc;
}

static int bursts(pb_sc *sc, pb_pool_opts *opts, int workers)
{
    int64_t g = pb_sc_num(sc, "granularity");
    size_t items = pbs_burst_size(pb_sc_num(sc, "tasks"), pb_sc_num(sc, "work"), workers, g);
    size_t chunk = (size_t)pb_sc_num(sc, "chunksize");
    if (!chunk)
        chunk = pb_map_chunksize_for(workers, items);
    pb_samples *tp = pb_sc_metric(sc, "throughput", "tasks/s", PBR_HIGHER, 1);
    pb_samples *eff = g ? pb_sc_metric(sc, "efficiency", "ratio", PBR_HIGHER, 1) : NULL;
    int64_t elapsed;
    int rc = burst(sc, opts, items, g, chunk, &elapsed);
    if (!rc && elapsed > 0) {
        pb_samples_add(tp, (double)items * 1e9 / (double)elapsed);
        if (eff)
            pb_samples_add(eff, (double)items * (double)g / workers / (double)elapsed);
    }
    return rc;
}

/* The granularity scenario's sweep, each point a native burst. */
static int metg_sweep(pb_sc *sc, pb_pool_opts *opts, int workers)
{
    int64_t gmax = pb_sc_num(sc, "max"), gmin = pb_sc_num(sc, "min");
    int64_t tasks = pb_sc_num(sc, "tasks"), work = pb_sc_num(sc, "work");
    pb_samples *metg = pb_sc_metric(sc, "metg", "ns", PBR_LOWER, 1);
    double best = -1;
    int rc = 0;
    for (int64_t g = gmax; g >= gmin && g > 0 && !rc && !pb_sc_stopping(sc); g /= 2) {
        size_t n = pbs_burst_size(tasks, work, workers, g);
        int64_t elapsed;
        if (!(rc = burst(sc, opts, n, g, 1, &elapsed)))
            pbs_metg_record(sc, n, g, (double)n * (double)g, workers, elapsed, &best);
    }
    if (!rc && best >= 0)
        pb_samples_add(metg, best);
    return rc;
}

static int run(pb_sc *sc)
{
    pb_pool_opts opts;
    pb_sc_pool_opts(sc, &opts);
    int workers = run_workers(&opts);
    opts.workers = workers;
    const char *loop = pb_sc_word(sc, "loop");
    if (!strcmp(loop, "roundtrip"))
        return roundtrips(sc, &opts);
    if (!strcmp(loop, "burst"))
        return bursts(sc, &opts, workers);
    return metg_sweep(sc, &opts, workers);
}

static int check(const pb_scenario *s, const pb_param_value *v, char *err, size_t errlen)
{
    return pb_param_not_above(s, v, "min", "max", err, errlen);
}

static const char *const loops[] = {"roundtrip", "burst", "metg", NULL};

static const pb_param params[] = {
    {"loop", PB_PARAM_WORD, "roundtrip,burst", "what the library's own loop measures", 0, loops},
    {"samples", PB_PARAM_COUNT, "2000", "roundtrip: round trips per repetition", 1, NULL},
    {"tasks", PB_PARAM_COUNT, "20000", "burst, metg: items per burst (at most)", 1, NULL},
    {"granularity", PB_PARAM_NS, "0", "burst: how long each item spins (0: empty)", 0, NULL},
    {"chunksize", PB_PARAM_COUNT, "1",
     "burst: items per library task; 0: automatic, as map's PB_MAP_CHUNK_AUTO", 0, NULL},
    {"work", PB_PARAM_NS, "50ms", "burst, metg: a burst fills each worker for at most this long",
     1, NULL},
    {"max", PB_PARAM_NS, "1ms", "metg: the coarsest granularity of the sweep", 1, NULL},
    {"min", PB_PARAM_NS, "1us", "metg: the sweep halves g while it is at least this", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_native = {
    .name = "native",
    .summary = "the adapted library through its own API, no futures: the reference of the "
               "adapter tax (round trip, burst, METG)",
    .headline = "throughput", /* loop=roundtrip and metg: their first metric */
    .params = params,
    .flags = PB_SC_OWN_POOLS,
    .needs = "a backend over another library with a native loop (pb_backend.native)",
    .run = run,
    .check = check,
};
