/*
 * load.c — open loop: what a service sees as offered load rises toward the
 * pool's capacity, and past it (latency against offered load).
 *
 * One repetition, on one pool:
 *   1. Capacity. A burst of tasks of the case's shape (as throughput.c: as
 *      many as fill each worker for `capacity`, at most `tasks`), submitted
 *      as fast as the caller can and collected: tasks/s. This is the most
 *      this pool does with these tasks, measured in the same repetition.
 *   2. One step of offered load: `load` percent of that capacity, as
 *      arrivals on a schedule drawn before anything is sent (openloop.h):
 *      Poisson or evenly spaced, `duration` long (fewer arrivals when
 *      `tasks` is reached first), each a task drawn from the shape. The
 *      generator, in the harness's thread, sends every arrival when it is
 *      due, whether or not earlier ones have finished, and never skips one.
 *   3. Drain: every task sent is waited for (what has not even started 2 s +
 *      twice the duration after the last arrival is cancelled: dropped).
 * The sweep over `load` (one case per value; 100 = capacity) draws the
 * hockey stick: latency flat at low load, rising as the queue builds near
 * capacity, and past it (the overload point) set by what overload does.
 *
 * Per task (samples, ns):
 *   sojourn   completion (the caller's side saw it done) minus the time
 *             the arrival was *due*: everything a client waits, the
 *             generator's own lateness included, so a stall cannot hide
 *             (no coordinated omission: wrk2, TailBench);
 *   queueing  started (the worker's clock) minus submitted: the wait in the
 *             pool before a worker took the task;
 *   service   ended minus started, both the worker's: the task itself;
 *   lag       the generator's lateness: when it sent the arrival minus when
 *             it was due (for an arrival held by the cap, minus when the cap
 *             let it go: waiting for the cap is overload, not lateness).
 * Per repetition: capacity, offered (the schedule's rate) and achieved
 * (tasks completed over the time from the start to the last completion),
 * in tasks/s; and what the cap did, as counts: rejected (not sent: the cap
 * was reached under overload=reject, or the pool refused the submit),
 * queued (held by the generator until the cap had room, overload=queue),
 * dropped (sent but cancelled at the drain, or failed).
 *
 * The cap: at most `cap` tasks outstanding (sent, not done). overload=reject
 * turns arrivals away at the cap, as a service with a bounded queue does;
 * overload=queue holds them in the generator, and their sojourn still
 * counts from when they were due, so the backlog shows in full.
 *
 * Trust. The generator sleeps between arrivals (clock_nanosleep to the due
 * time; `spin` makes it spin the last stretch instead, at the price of a
 * CPU), so its wake-up latency is part of every sojourn — on a machine with
 * few cores, where the workers take the CPUs, it can be most of it. A
 * repetition whose p99 lag is more than a quarter of its p99 sojourn marks
 * the case untrusted (results/FORMAT.md), saying by how much: the figures
 * then describe the generator as much as the pool. They are kept, and shown.
 *
 * Checks: "completed", every task that ran succeeded.
 */
#include <math.h>
#include <stdio.h>

#include "common.h"
#include "openloop.h"

static const char *const arrival_words[] = {"poisson", "fixed", NULL};
static const char *const overload_words[] = {"reject", "queue", NULL};

/* Lag beyond this share of the sojourn (both at p99) makes a step untrusted. */
#define LAG_SHARE 0.25
/* Most offered load, in percent of capacity. */
#define LOAD_MAX 1000

typedef struct step {
    pb_sc *sc;
    pb_pool *pool;
    const pbs_tasks *tasks;
    pb_future **fs;
    size_t cap;
    size_t lo, hi; /* fs[lo..hi) may be outstanding; all before lo are done */
    int refusal;   /* the first code a submit was refused with */
} step;

static int step_send(void *ud, size_t i)
{
    step *st = ud;
    size_t len;
    const void *arg = pbs_task_arg(st->tasks, i, &len);
    int rc = pb_submit(st->pool, st->tasks->task, arg, len, &st->fs[i]);
    if (rc) {
        st->fs[i] = NULL;
        if (!st->refusal)
            st->refusal = rc;
        return rc;
    }
    st->hi = i + 1;
    return 0;
}

/* Whether cap tasks are outstanding. Counts only when it might be so: the
 * sent futures after the first not-done one are at most hi - lo. */
static bool step_full(void *ud)
{
    step *st = ud;
    while (st->lo < st->hi && (!st->fs[st->lo] || pb_future_done(st->fs[st->lo])))
        st->lo++;
    if (st->hi - st->lo < st->cap)
        return false;
    size_t out = 0;
    for (size_t i = st->lo; i < st->hi; i++)
        out += st->fs[i] && !pb_future_done(st->fs[i]);
    return out >= st->cap;
}

static bool step_stop(void *ud)
{
    return pb_sc_stopping(((step *)ud)->sc);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of v[0..n) (sorts v), nearest rank; 0 when n is 0. */
static double quantile(double *v, size_t n, double q)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

static int check(const pb_scenario *s, const pb_param_value *v, char *err, size_t errlen)
{
    int64_t load = pb_param_num(s, v, "load");
    if (load > LOAD_MAX) {
        snprintf(err, errlen, "parameter load (%lld%%) is above %d%%", (long long)load, LOAD_MAX);
        return PB_EINVAL;
    }
    return pbs_shape_check(s, v, err, errlen);
}

/* Step 1: the capacity of this pool for these tasks, in tasks/s (0 when the
 * burst took no time). */
static int measure_capacity(pb_sc *sc, pb_pool *pool, const pb_shape *shape, double *capacity)
{
    size_t n = pbs_burst_size(pb_sc_num(sc, "tasks"), pb_sc_num(sc, "capacity"),
                              shape->workers, shape->mean);
    pbs_tasks t;
    int rc = pbs_tasks_draw(sc, shape, n, pbs_stream(sc, 0), &t);
    if (rc)
        return rc;
    pb_future **fs = pbs_calloc(sc, n, sizeof *fs);
    int64_t elapsed = 0;
    rc = fs ? pbs_burst(sc, pool, &t, false, fs, &elapsed) : PB_ENOMEM;
    free(fs);
    pbs_tasks_free(&t);
    *capacity = elapsed > 0 ? (double)n * 1e9 / (double)elapsed : 0;
    return rc;
}

/* The per-step arrays, allocated together. */
typedef struct arrays {
    int64_t *at, *sent_at, *released;
    uint8_t *status;
    pb_future **fs;
    double *scratch;
} arrays;

static void arrays_free(arrays *a)
{
    free(a->at);
    free(a->sent_at);
    free(a->released);
    free(a->status);
    free(a->fs);
    free(a->scratch);
}

static int arrays_new(pb_sc *sc, size_t n, arrays *a)
{
    memset(a, 0, sizeof *a);
    a->at = calloc(n, sizeof *a->at);
    a->sent_at = calloc(n, sizeof *a->sent_at);
    a->released = calloc(n, sizeof *a->released);
    a->status = calloc(n, sizeof *a->status);
    a->fs = calloc(n, sizeof *a->fs);
    a->scratch = calloc(2 * n, sizeof *a->scratch);
    if (a->at && a->sent_at && a->released && a->status && a->fs && a->scratch)
        return 0;
    arrays_free(a);
    return pb_sc_fail(sc, PB_ENOMEM, "out of memory for a schedule of %zu arrivals", n);
}

/* Step 3: waits for what was sent; cancels what has not started by the
 * drain deadline. Returns the number dropped; *last gets the latest
 * completion of a task that succeeded. */
static size_t drain(pb_sc *sc, arrays *a, size_t n, int64_t deadline, pbs_outcomes *o,
                    int64_t *last)
{
    size_t dropped = 0;
    *last = 0;
    for (size_t i = 0; i < n; i++) {
        pb_future *f = a->fs[i];
        if (!f)
            continue;
        int64_t left = deadline - pb_now_ns();
        int rc = pb_future_result(f, left > 0 ? left : 0, NULL, NULL);
        if (rc == PB_ETIMEDOUT && pb_future_cancel(f)) {
            dropped++;
            continue;
        }
        if (rc == PB_ETIMEDOUT) /* running: it ends when its task does */
            rc = pb_future_result(f, PB_FOREVER, NULL, NULL);
        if (rc == PB_ECANCELED) {
            dropped++;
            continue;
        }
        pbs_tally(o, rc);
        if (rc) {
            dropped++;
            continue;
        }
        pb_times t;
        pb_future_times(f, &t);
        if (t.completed > *last)
            *last = t.completed;
    }
    (void)sc;
    return dropped;
}

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    int workers = pb_pool_workers(pool);
    pb_shape shape;
    pbs_shape(sc, pb_sc_num(sc, "granularity"), workers, &shape);
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;

    double capacity;
    if ((rc = measure_capacity(sc, pool, &shape, &capacity)))
        return rc;
    if (capacity <= 0)
        return pb_sc_fail(sc, PB_EINVAL, "the capacity burst took no measurable time");
    double rate = capacity * (double)pb_sc_num(sc, "load") / 100.0;
    double want = rate * (double)pb_sc_num(sc, "duration") / 1e9;
    size_t n = (size_t)fmin(fmax(want, 1.0), (double)pb_sc_num(sc, "tasks"));

    pbs_tasks tasks;
    if ((rc = pbs_tasks_draw(sc, &shape, n, pbs_stream(sc, 1), &tasks)))
        return rc;
    arrays a;
    if ((rc = arrays_new(sc, n, &a))) {
        pbs_tasks_free(&tasks);
        return rc;
    }
    pb_rng rng;
    pb_rng_seed(&rng, (uint64_t)pb_sc_num(sc, "seed"), pbs_stream(sc, 2));
    pb_ol_schedule(a.at, n, rate, !strcmp(pb_sc_word(sc, "arrivals"), "poisson"), &rng);

    pb_samples *sojourn = pb_sc_metric(sc, "sojourn", "ns", PBR_LOWER, n);
    pb_samples *queueing = pb_sc_metric(sc, "queueing", "ns", PBR_LOWER, n);
    pb_samples *service = pb_sc_metric(sc, "service", "ns", PBR_LOWER, n);
    pb_samples *lag = pb_sc_metric(sc, "lag", "ns", PBR_LOWER, n);

    step st = {.sc = sc, .pool = pool, .tasks = &tasks, .fs = a.fs,
               .cap = (size_t)pb_sc_num(sc, "cap")};
    pb_openloop ol = {
        .at = a.at,
        .n = n,
        .spin = pb_sc_num(sc, "spin"),
        .policy = !strcmp(pb_sc_word(sc, "overload"), "queue") ? PB_OL_QUEUE : PB_OL_REJECT,
        .send = step_send,
        .full = step_full,
        .stop = step_stop,
        .ud = &st,
        .clock = pb_ol_real_clock,
        .status = a.status,
        .sent_at = a.sent_at,
        .released = a.released,
    };
    /* What the pool spends on the open loop (its window opened before the
     * schedule starts: opening it reads /proc). */
    pb_sc_cost_begin(sc);
    /* A little ahead, so the first arrival is not late already. */
    ol.start = pb_now_ns() + 200000;
    pb_ol_run(&ol);

    pbs_outcomes o = {0};
    int64_t last;
    size_t dropped = drain(sc, &a, n, pb_now_ns() + 2000000000LL + 2 * pb_sc_num(sc, "duration"),
                           &o, &last);
    size_t sent = 0;
    for (size_t i = 0; i < n; i++)
        sent += a.status[i] != PB_OL_UNSENT;
    pb_sc_cost_end(sc, sent, NULL);
    pbs_check_completed(sc, &o);

    /* The samples, and the p99s the trust rule compares. */
    double *lags = a.scratch, *sojourns = a.scratch + n;
    size_t nl = 0, ns = 0, done = 0;
    for (size_t i = 0; i < n; i++) {
        if (a.status[i] == PB_OL_UNSENT)
            continue;
        double l = (double)(a.sent_at[i] - a.released[i]);
        pb_samples_add(lag, l);
        lags[nl++] = l;
        pb_future *f = a.fs[i];
        if (f && pb_future_result(f, 0, NULL, NULL) == 0) {
            pb_times t;
            pb_future_times(f, &t);
            int64_t due = ol.start + a.at[i];
            double s = (double)(t.completed - due);
            pb_samples_add(sojourn, s);
            sojourns[ns++] = s;
            if (t.started > 0) {
                pb_samples_add(queueing, (double)(t.started - t.submitted));
                if (t.ended >= t.started)
                    pb_samples_add(service, (double)(t.ended - t.started));
            }
            done++;
        }
    }
    pbs_release_all(a.fs, n);
    pb_samples_add(pb_sc_metric(sc, "capacity", "tasks/s", PBR_HIGHER, 1), capacity);
    pb_samples_add(pb_sc_metric(sc, "offered", "tasks/s", PBR_HIGHER, 1), rate);
    if (last > ol.start)
        pb_samples_add(pb_sc_metric(sc, "achieved", "tasks/s", PBR_HIGHER, 1),
                       (double)done * 1e9 / (double)(last - ol.start));
    pb_samples_add(pb_sc_metric(sc, "rejected", "count", PBR_LOWER, 1),
                   (double)(ol.rejected + ol.refused));
    pb_samples_add(pb_sc_metric(sc, "queued", "count", PBR_LOWER, 1), (double)ol.held);
    pb_samples_add(pb_sc_metric(sc, "dropped", "count", PBR_LOWER, 1), (double)dropped);

    double lag99 = quantile(lags, nl, 0.99), soj99 = quantile(sojourns, ns, 0.99);
    if (ns && lag99 > LAG_SHARE * soj99)
        pb_sc_untrusted(sc, "the generator could not keep to its schedule: its p99 lag (%.0f us) "
                        "is %.0f%% of the p99 sojourn (%.0f us), more than %.0f%%: the latency "
                        "measures the generator's wake-ups as much as the pool",
                        lag99 / 1e3, 100 * lag99 / soj99, soj99 / 1e3, 100 * LAG_SHARE);
    if (st.refusal && !ol.sent)
        rc = pb_sc_fail(sc, st.refusal, "the pool refused every submit: %s",
                        pb_strerror(st.refusal));
    arrays_free(&a);
    pbs_tasks_free(&tasks);
    return rc;
}

static const pb_param params[] = {
    {"load", PB_PARAM_COUNT, "10,25,50,75,90,95,120", "offered load, percent of the capacity measured in the same repetition", 1, NULL},
    {"granularity", PB_PARAM_NS, "100us", "how long each task works (its mean)", 0, NULL},
    {"arrivals", PB_PARAM_WORD, "poisson", "poisson (exponential gaps) or fixed spacing", 0, arrival_words},
    {"duration", PB_PARAM_NS, "200ms", "how long arrivals come (fewer when tasks is reached first)", 1000000, NULL},
    {"tasks", PB_PARAM_COUNT, "20000", "most arrivals in a step, and most tasks in the capacity burst", 1, NULL},
    {"capacity", PB_PARAM_NS, "20ms", "the capacity burst fills each worker for this long", 1000000, NULL},
    {"cap", PB_PARAM_COUNT, "1000", "most tasks outstanding (sent, not done)", 1, NULL},
    {"overload", PB_PARAM_WORD, "reject", "at the cap: reject the arrival, or queue it in the generator", 0, overload_words},
    {"spin", PB_PARAM_NS, "0", "the generator spins this long before each arrival instead of sleeping", 0, NULL},
    PBS_SHAPE_PARAMS,
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_load = {
    .name = "load",
    .summary = "open loop: arrivals on a schedule at a share of the capacity; sojourn from when each was due",
    .headline = "sojourn",
    .params = params,
    .run = run,
    .check = check,
};
