/*
 * run.c — one stress run on one backend, step by step.
 *
 * DESIGN
 *
 * Threads. The calling thread is actor 0 ("main"); actors 1..threads are
 * submitter threads (ops.c); a watchdog thread watches them all
 * (watchdog.c). Each actor owns its stream of random numbers, its futures
 * and its counts; what they share is the world (world.h): options and
 * phase flags, and records each behind its own lock.
 *
 * The run, in order:
 *   1. warm-up: a throwaway pool of the backend runs one probe. It tells
 *      whether tasks run in this process (then no fault that would take the
 *      harness down is injected) and brings lazily created process-wide
 *      state (libraries' thread pools, registries) into being before the
 *      starting point of the leak checks is taken. The watchdog already
 *      watches;
 *   2. the snapshot of threads, children, fds and RSS that the end is
 *      compared with;
 *   3. the pool is created with the options the faults need (task_timeout
 *      for hangs, max_tasks_per_worker for recycling). An option the
 *      backend's table says it cannot honour loses that fault, with a note
 *      quoting the table's reason (as does a PB_ENOTSUP from create);
 *   4. the submitters run until the duration (or their operation count) is
 *      over, or the user stops the run;
 *   5. main checks the pool still completes plain work (the health batch:
 *      that is what "faults survived" rests on), then ends the run, in one
 *      of two ways drawn from the seed: either shutdown races the
 *      submitters (they are still in the middle of operations and must see
 *      PB_ESHUTDOWN only after it began), or the submitters finish first and
 *      main submits a tail of slow tasks and shuts down right after, which
 *      checks cancel_futures (nothing PENDING once it returns) and wait
 *      (everything done once it returns). wait and cancel_futures are drawn.
 *      Either way, new work must then be refused;
 *   6. destroy; then every future still held must be done, every callback
 *      must have run once; then no thread, child, zombie or fd may be left
 *      beyond the starting snapshot, and RSS must be back near it;
 *   7. the report: the CASE object, and a line for the user.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leaks.h"
#include "ops.h"
#include "report.h"
#include "watchdog.h"
#include "workloads.h"

#define MS (1000000LL)

/* Fault rates at --fault-rate 1, per million probes: often enough that a
 * minute on two workers sees hundreds of crashes and dozens of hangs, rare
 * enough that a pool spends most of its time working (a hang holds a worker
 * for task_timeout; a crash costs a respawn). */
#define RATE_FAIL 20000
#define RATE_CRASH 350 /* each of segv, abort, exit */
#define RATE_HANG 60
#define MAP_RATE_FAIL 30000
#define MAP_RATE_CRASH 300
#define MAP_RATE_HANG 60

typedef struct run {
    pbs_world w;
    pbs_actor *actors; /* [0] main, [1..threads] submitters */
    int nactors;       /* actors whose thread exists */
    pbs_oplog **logs;  /* each actor's, for the watchdog */
    pbs_watchdog wd;
    pbs_snapshot base;
    bool have_base;
    json_t *binding;
    bool interrupted;
    int64_t started_ns;
} run;

void pbs_stress_opts_init(pbs_stress_opts *o)
{
    memset(o, 0, sizeof *o);
    o->duration_s = 10;
    o->threads = 4;
    o->faults = PBS_FAULT_ALL;
    o->task_timeout = 500 * MS;
    o->tolerance = 200 * MS;
    o->patience = 30000 * MS;
    o->watchdog = 90000 * MS;
    o->max_printed = 20;
    o->fault_rate = 1.0;
}

static uint32_t scaled(uint32_t base, double scale)
{
    double v = base * scale;
    return v > 100000 ? 100000 : (uint32_t)v;
}

/* The options with the defaults filled in where a value is unset or out of
 * range. */
static void complete_opts(pbs_stress_opts *o)
{
    pbs_stress_opts def;
    pbs_stress_opts_init(&def);
    if (o->threads <= 0)
        o->threads = def.threads;
    if (o->duration_s <= 0)
        o->duration_s = def.duration_s;
    if (o->task_timeout <= 0)
        o->task_timeout = def.task_timeout;
    if (o->tolerance <= 0)
        o->tolerance = def.tolerance;
    if (o->patience <= 0)
        o->patience = def.patience;
    if (o->watchdog <= 0)
        o->watchdog = def.watchdog;
    /* A wait for a future that never comes back must end (as "lost") well
     * before the watchdog would call the whole run hung. */
    if (o->patience > o->watchdog / 3)
        o->patience = o->watchdog / 3;
    if (o->max_printed <= 0)
        o->max_printed = def.max_printed;
    if (!(o->fault_rate > 0))
        o->fault_rate = def.fault_rate;
}

static run *run_new(const pbs_stress_opts *opts)
{
    run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pbs_world *w = &r->w;
    w->o = *opts;
    complete_opts(&w->o);
    w->rate_fail = scaled(RATE_FAIL, w->o.fault_rate);
    w->rate_crash = scaled(RATE_CRASH, w->o.fault_rate);
    w->rate_hang = scaled(RATE_HANG, w->o.fault_rate);
    w->map_rate_fail = scaled(MAP_RATE_FAIL, w->o.fault_rate);
    w->map_rate_crash = scaled(MAP_RATE_CRASH, w->o.fault_rate);
    w->map_rate_hang = scaled(MAP_RATE_HANG, w->o.fault_rate);
    w->self = getpid();
    pbs__journal_init(&w->journal, &w->o);
    pbs__workers_init(&w->workers);
    pbs__pressure_init(&w->pressure);
    pbs__stale_callbacks_reset();
    r->started_ns = pb_now_ns();
    return r;
}

static void run_free(run *r)
{
    if (r->actors)
        for (int i = 0; i < r->w.o.threads + 1; i++)
            pbs__actor_free(&r->actors[i]);
    free(r->actors);
    free(r->logs);
    pbs__snapshot_free(&r->base);
    json_decref(r->binding);
    pbs__journal_destroy(&r->w.journal);
    pbs__workers_destroy(&r->w.workers);
    pbs__pressure_destroy(&r->w.pressure);
    free(r);
}

static pbs_actor *main_actor(run *r)
{
    return &r->actors[0];
}

static void sum_counts(run *r, pbs_totals *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; r->actors && i < r->nactors; i++)
        pbs__totals_add(t, &r->actors[i].log, &r->actors[i].tally.counts);
}

/* ------------------------------------------------------------------------
 * Before the run
 * ------------------------------------------------------------------------ */

/* The backend exists, the probe and its table are ready, the actors are
 * set up. */
static int prepare(run *r, char *err, size_t errlen)
{
    pbs_world *w = &r->w;
    if (!w->o.backend || !pb_backend_summary(w->o.backend)) {
        snprintf(err, errlen, "unknown backend '%s'", w->o.backend ? w->o.backend : "(null)");
        return PB_ENOENT;
    }
    /* The workloads the probe runs by name; referencing them also links
     * bench/workloads.c into the program. */
    static const char *const workloads[] = {"checksum", "echo", "fail", "crash",
                                            "hang",     "sleep", "spin"};
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        pb_workload(workloads[i]);
    w->probe = pbs__probe_task();
    if (!w->probe) {
        snprintf(err, errlen, "the stress_probe task is not registered");
        return PB_ENOENT;
    }
    int n = w->o.threads + 1;
    r->actors = calloc((size_t)n, sizeof *r->actors);
    r->logs = calloc((size_t)n, sizeof *r->logs);
    if (!r->actors || !r->logs) {
        snprintf(err, errlen, "out of memory");
        return PB_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        if (pbs__actor_init(&r->actors[i], w, i) != 0) {
            snprintf(err, errlen, "out of memory");
            return PB_ENOMEM;
        }
        r->logs[i] = &r->actors[i].log;
    }
    r->nactors = n;
    return pbs__probe_table_open(err, errlen);
}

/* Step 1's probe: one pool, one task. Sets w->in_process. */
static int warm_up_pool(run *r, char *err, size_t errlen)
{
    pbs_world *w = &r->w;
    pb_pool_opts po;
    pb_pool_opts_init(&po);
    po.workers = w->o.workers;
    pb_pool *pool = NULL;
    int rc = pb_pool_create(w->o.backend, &po, &pool);
    if (rc) {
        snprintf(err, errlen, "cannot create a %s pool: %s (%s)", w->o.backend, pb_strerror(rc),
                 pb_pool_last_error());
        return rc;
    }
    uint8_t arg[512];
    size_t len = pbs__probe_build(arg, sizeof arg, 1, PBS_INNER_CHECKSUM, PBS_DELAY_NONE, 0, "x", 1);
    pb_future *f = NULL;
    rc = pb_submit(pool, w->probe, arg, len, &f);
    if (rc == 0) {
        const void *data;
        size_t n;
        rc = pb_future_result(f, w->o.patience, &data, &n);
        pbs_probe_result pr;
        if (rc == 0 && n >= sizeof pr) {
            memcpy(&pr, data, sizeof pr);
            w->in_process = pr.pid == (int32_t)getpid();
        } else if (rc == 0) {
            rc = PB_EINVAL;
        } else {
            pb_error e;
            if (pb_future_error(f, 0, &e) == 0)
                snprintf(err, errlen, "the %s pool's first task failed: %s (%s)", w->o.backend,
                         pb_strerror(rc), e.message ? e.message : "");
        }
        pb_future_release(f);
    }
    pb_pool_destroy(pool);
    if (rc == PB_ENOTSUP) /* the backend cannot run the probe (a Python pool: no twin) */
        snprintf(err, errlen, "%s", pb_pool_last_error());
    if (rc && !err[0])
        snprintf(err, errlen, "the %s pool's first task failed: %s", w->o.backend,
                 pb_strerror(rc));
    return rc;
}

/* 1. The warm-up, then which faults this backend can take. */
static int step1_warm_up(run *r, char *err, size_t errlen)
{
    pbs_world *w = &r->w;
    pbs_actor *m = main_actor(r);
    pbs__op_begin(&w->journal, &m->log, &(pbs_opdesc){.kind = PBS_OP_WARMUP});
    int rc = warm_up_pool(r, err, errlen);
    pbs__op_end(&m->log);
    if (rc)
        return rc;
    unsigned possible = w->in_process ? (unsigned)PBS_FAULT_IN_PROCESS : (unsigned)PBS_FAULT_ALL;
    /* A backend whose worker's death ends the program (mpi: a dead rank ends
     * the MPI job) gets no crash and no kill. */
    const char *fatal = pb_backend_unsupported(w->o.backend, "crash_recovery");
    if (fatal)
        possible &= ~(unsigned)(PBS_FAULT_SEGV | PBS_FAULT_ABORT | PBS_FAULT_EXIT | PBS_FAULT_KILL);
    w->faults = w->o.faults & possible;
    w->workers.track_pids = !w->in_process;
    if (w->o.faults & ~possible) {
        char dropped[128];
        pbs_stress_faults_text(w->o.faults & ~possible, dropped, sizeof dropped);
        if (fatal)
            pbs__note(&w->journal, "no crash recovery (%s), so these faults are not injected: %s",
                      fatal, dropped);
        else
            pbs__note(&w->journal,
                      "tasks run in this process, so these faults are not injected: %s", dropped);
    }
    return 0;
}

/* 2. What the end is compared with. */
static void step2_baseline(run *r)
{
    int sr = pbs__snapshot(&r->base);
    r->have_base = sr == 0;
    if (!r->have_base)
        pbs__note(&r->w.journal, "cannot inspect /proc/self: leak checks are off (%s)",
                  strerror(-sr));
    atomic_store(&r->wd.rss_peak_kb, r->base.rss_kb);
}

/* A fault that needs an option the backend cannot honour is not injected;
 * why, its table says (pb_backend.unsupported). */
static void drop_fault(pbs_world *w, unsigned fault, const char *what, const char *option,
                       const char *why)
{
    w->faults &= ~fault;
    pbs__note(&w->journal, "no %s: the backend cannot honour %s (%s)", what, option, why);
}

static int create_pool(pbs_world *w, pb_pool_opts *po, char *err, size_t errlen)
{
    const char *why;
    if ((w->faults & PBS_FAULT_HANG) &&
        (why = pb_backend_unsupported(w->o.backend, "task_timeout")))
        drop_fault(w, PBS_FAULT_HANG, "hangs", "task_timeout", why);
    if ((w->faults & PBS_FAULT_RECYCLE) &&
        (why = pb_backend_unsupported(w->o.backend, "max_tasks_per_worker")))
        drop_fault(w, PBS_FAULT_RECYCLE, "recycling", "max_tasks_per_worker", why);
    if (!(w->faults & PBS_FAULT_HANG))
        po->task_timeout = 0;
    if (!(w->faults & PBS_FAULT_RECYCLE))
        po->max_tasks_per_worker = 0;
    for (;;) {
        int rc = pb_pool_create(w->o.backend, po, &w->pool);
        if (rc == 0)
            return 0;
        /* A refusal its table does not declare (a plugin's own). */
        if (rc == PB_ENOTSUP && po->task_timeout) {
            drop_fault(w, PBS_FAULT_HANG, "hangs", "task_timeout", pb_pool_last_error());
            po->task_timeout = 0;
        } else if (rc == PB_ENOTSUP && po->max_tasks_per_worker) {
            drop_fault(w, PBS_FAULT_RECYCLE, "recycling", "max_tasks_per_worker",
                       pb_pool_last_error());
            po->max_tasks_per_worker = 0;
        } else {
            snprintf(err, errlen, "cannot create a %s pool: %s (%s)", w->o.backend,
                     pb_strerror(rc), pb_pool_last_error());
            return rc;
        }
    }
}

/* 3. The pool under test. */
static int step3_create_pool(run *r, char *err, size_t errlen)
{
    pbs_world *w = &r->w;
    pbs_actor *m = main_actor(r);
    pb_pool_opts po;
    pb_pool_opts_init(&po);
    po.workers = w->o.workers;
    /* Drawn whether or not it is used, so the schedule stays the same. */
    po.max_tasks_per_worker = (unsigned)pb_rng_range(&m->rng, 4, 64);
    po.task_timeout = w->o.task_timeout;
    pbs__op_begin(&w->journal, &m->log, &(pbs_opdesc){.kind = PBS_OP_CREATE});
    int rc = create_pool(w, &po, err, errlen);
    pbs__op_end(&m->log);
    if (rc)
        return rc;
    w->task_timeout = po.task_timeout;
    w->max_tasks = po.max_tasks_per_worker;
    w->nworkers = pb_pool_workers(w->pool);
    r->binding = pbs__binding_new(w);
    if (!w->o.quiet) {
        char faults[128];
        FILE *out = pbs__journal_out(&w->journal);
        pbs_stress_faults_text(w->faults, faults, sizeof faults);
        fprintf(out,
                "poolbench stress: %s: %d worker%s, %d submitter thread%s, %g s, faults %s, "
                "task_timeout %s, max_tasks_per_worker %u, seed %llu\n",
                w->o.backend, w->nworkers, w->nworkers == 1 ? "" : "s", w->o.threads,
                w->o.threads == 1 ? "" : "s", w->o.duration_s, faults,
                w->task_timeout ? "on" : "off", w->max_tasks, (unsigned long long)w->o.seed);
        fflush(out);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The run and its end
 * ------------------------------------------------------------------------ */

static bool all_finished(run *r)
{
    for (int i = 1; i < r->nactors; i++)
        if (!atomic_load_explicit(&r->actors[i].finished, memory_order_acquire))
            return false;
    return true;
}

/* 4. The submitters run until the duration is over (or they are done, or
 * the user stops the run). */
static void step4_submit(run *r)
{
    pbs_world *w = &r->w;
    assert(w->pool && r->nactors == w->o.threads + 1);
    int started = 1;
    for (; started < r->nactors; started++)
        if (pthread_create(&r->actors[started].thread, NULL, pbs__submitter_main,
                           &r->actors[started]) != 0)
            break;
    if (started < r->nactors) {
        /* Run with the threads that did start; say so. */
        pbs__note(&w->journal, "could start only %d of %d submitter threads", started - 1,
                  w->o.threads);
        r->nactors = started;
        pbs__watchdog_watch(&r->wd, started);
    }
    int64_t deadline = r->started_ns + (int64_t)(w->o.duration_s * 1e9);
    while (pb_now_ns() < deadline && !all_finished(r)) {
        if (w->o.stop_requested && w->o.stop_requested(w->o.stop_ud)) {
            r->interrupted = true;
            break;
        }
        struct timespec ts = {0, 20 * MS};
        nanosleep(&ts, NULL);
    }
}

static void stop_submitters(run *r)
{
    atomic_store(&r->w.stopping, true);
    for (int i = 1; i < r->nactors; i++)
        pthread_join(r->actors[i].thread, NULL);
}

static void shutdown_op(run *r, bool wait, bool cancel, bool racing)
{
    pbs_world *w = &r->w;
    pbs_actor *a = main_actor(r);
    atomic_store(&w->shutdown_begun, true);
    if (cancel)
        atomic_store(&w->cancel_begun, true);
    pbs__op_begin(&w->journal, &a->log,
                  &(pbs_opdesc){.kind = PBS_OP_SHUTDOWN, .n = wait, .m = cancel, .when = racing});
    int rc = pb_pool_shutdown(w->pool, wait, cancel);
    if (rc != 0)
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API,
                       "pb_pool_shutdown returned %s, expected 0", pb_strerror(rc));
    /* What must hold the moment it returns, for the futures main holds. */
    for (size_t i = 0; i < a->nlive; i++) {
        pb_future *f = atomic_load(&a->live[i]->f);
        unsigned long long id = (unsigned long long)a->live[i]->x.id;
        pb_state st = pb_future_state(f);
        if (cancel && st == PB_PENDING)
            pbs__violation(&w->journal, &a->log, PBS_CHECK_SHUTDOWN,
                           "future #%llx is still PENDING after shutdown with cancel_futures "
                           "returned",
                           id);
        if (wait && !pb_future_done(f))
            pbs__violation(&w->journal, &a->log, PBS_CHECK_SHUTDOWN,
                           "future #%llx is %s after shutdown(wait=true) returned", id,
                           st == PB_PENDING ? "PENDING" : "RUNNING");
    }
    pbs__op_end(&a->log);
}

/* After shutdown: new work is refused with PB_ESHUTDOWN. */
static void check_refused(run *r)
{
    pbs_world *w = &r->w;
    pbs_oplog *l = &main_actor(r)->log;
    uint8_t arg[512];
    size_t len = pbs__probe_build(arg, sizeof arg, 2, PBS_INNER_CHECKSUM, PBS_DELAY_NONE, 0, "y", 1);
    pb_future *f = NULL;
    int rc = pb_submit(w->pool, w->probe, arg, len, &f);
    if (rc != PB_ESHUTDOWN) {
        pbs__violation(&w->journal, l, PBS_CHECK_SHUTDOWN,
                       "pb_submit after pb_pool_shutdown returned %s, expected PB_ESHUTDOWN",
                       pb_strerror(rc));
        if (rc == 0) {
            pb_future_result(f, w->o.patience, NULL, NULL);
            pb_future_release(f);
        }
    }
    pb_bytes item = {arg, len};
    pb_map *m = NULL;
    rc = pb_map_new(w->pool, w->probe, &item, 1, 1, PB_FOREVER, &m);
    if (rc != PB_ESHUTDOWN) {
        pbs__violation(&w->journal, l, PBS_CHECK_SHUTDOWN,
                       "pb_map_new after pb_pool_shutdown returned %s, expected PB_ESHUTDOWN",
                       pb_strerror(rc));
        if (rc == 0)
            pb_map_free(m);
    }
}

/* 5. Health, then the end drawn from the seed, then new work refused. */
static void step5_end(run *r)
{
    pbs_actor *m = main_actor(r);
    pbs__op_health(m);
    bool racing = pb_rng_below(&m->rng, 2) == 0;
    bool wait = pb_rng_below(&m->rng, 2) == 0;
    bool cancel = pb_rng_below(&m->rng, 2) == 0;
    size_t tail = (size_t)pb_rng_range(&m->rng, 8, PBS_LIVE_MAX);
    if (racing) {
        atomic_store(&r->w.stopping, true);
        shutdown_op(r, wait, cancel, true);
        stop_submitters(r);
    } else {
        stop_submitters(r);
        pbs__op_tail(m, tail);
        shutdown_op(r, wait, cancel, false);
    }
    check_refused(r);
}

/* Whether the pool shut down and was destroyed cleanly: nothing lost, left
 * undone or leaked. The last faults of a run, after which no task was
 * asked for, count as survived only then. */
static bool clean_end(const pbs_world *w)
{
    static const pbs_check end_checks[] = {PBS_CHECK_DONE,    PBS_CHECK_LOST,     PBS_CHECK_SHUTDOWN,
                                           PBS_CHECK_THREADS, PBS_CHECK_CHILDREN, PBS_CHECK_FDS,
                                           PBS_CHECK_HANG};
    for (size_t i = 0; i < sizeof end_checks / sizeof end_checks[0]; i++)
        if (w->journal.check_fails[end_checks[i]])
            return false;
    return true;
}

/* 6. Destroy, then what must hold once the pool is gone. Returns the
 * faults survived, and RSS in *rss. */
static uint64_t step6_destroy(run *r, pbs_rss *rss)
{
    pbs_world *w = &r->w;
    pbs_actor *m = main_actor(r);
    /* Every submitter has been joined: only this thread touches the pool. */
    assert(atomic_load(&w->stopping) && atomic_load(&w->shutdown_begun));
    pbs__op_begin(&w->journal, &m->log, &(pbs_opdesc){.kind = PBS_OP_DESTROY});
    pb_pool_destroy(w->pool);
    w->pool = NULL;
    pbs__op_end(&m->log);
    for (int i = 0; i < r->nactors; i++)
        pbs__actor_final(&r->actors[i]);
    uint64_t stale = pbs__stale_callbacks();
    if (stale)
        pbs__violation(&w->journal, NULL, PBS_CHECK_CALLBACKS,
                       "%llu callback%s ran for a future that had been retired long before "
                       "(a callback ran twice, or very late)",
                       (unsigned long long)stale, stale == 1 ? "" : "s");

    /* Faults that caused exactly what was expected, split into those after
     * which the pool completed a task and the last ones (kills count from
     * when they were sent). */
    int64_t last = atomic_load(&w->last_success);
    uint64_t followed, last_ones;
    pbs__kills_split(&w->workers, last, &followed, &last_ones);
    for (int i = 0; i < r->nactors; i++) {
        const pbs_tally *t = &r->actors[i].tally;
        for (size_t k = 0; k < t->nfault_done; k++)
            *(t->fault_done[k] < last ? &followed : &last_ones) += 1;
    }
    /* Records and buffers go before the memory check. */
    for (int i = 0; i < r->nactors; i++)
        pbs__actor_free(&r->actors[i]);

    *rss = (pbs_rss){.start_kb = r->have_base ? r->base.rss_kb : -1, .end_kb = -1};
    if (r->have_base)
        pbs__check_leaks(&w->journal, &r->base, &rss->end_kb);
    pbs__watchdog_stop(&r->wd);
    rss->peak_kb = atomic_load(&r->wd.rss_peak_kb);
    if (rss->end_kb > rss->peak_kb)
        rss->peak_kb = rss->end_kb;
    return followed + (clean_end(w) ? last_ones : 0);
}

/* ------------------------------------------------------------------------
 * The report, and the run from start to end
 * ------------------------------------------------------------------------ */

static void fill_result(run *r, pbs_stress_result *out, const pbs_totals *t, uint64_t survived,
                        json_t *case_json)
{
    out->operations = t->operations;
    out->futures = t->c.futures;
    out->faults_injected = t->injected;
    out->faults_survived = survived;
    out->violations = r->w.journal.violations;
    out->faults = r->w.faults;
    out->interrupted = r->interrupted;
    out->case_json = case_json;
}

/* 7. The report. */
static void step7_report(run *r, pbs_stress_result *out, uint64_t survived, const pbs_rss *rss)
{
    pbs_world *w = &r->w;
    pbs_totals t;
    sum_counts(r, &t);
    json_t *c = pbs__case_new(w, &t, survived, rss, NULL, r->binding);
    r->binding = NULL;
    fill_result(r, out, &t, survived, c);
    if (w->o.quiet)
        return;
    FILE *f = pbs__journal_out(&w->journal);
    fprintf(f,
            "poolbench stress: %s: %llu operations, %llu futures, faults %llu injected / "
            "%llu survived, %llu violation%s\n",
            w->o.backend, (unsigned long long)t.operations, (unsigned long long)t.c.futures,
            (unsigned long long)t.injected, (unsigned long long)survived,
            (unsigned long long)w->journal.violations, w->journal.violations == 1 ? "" : "s");
    fflush(f);
}

/* The watchdog's: the report so far, to the user's on_hang. */
static void last_words(void *ud, const char *why)
{
    run *r = ud;
    if (!r->w.o.on_hang)
        return;
    pbs_totals t;
    sum_counts(r, &t);
    json_t *c = pbs__case_new(&r->w, &t, 0, NULL, NULL, NULL);
    if (c) {
        json_object_set_new(c, "reason", json_string(why));
        r->w.o.on_hang(r->w.o.on_hang_ud, c);
        json_decref(c);
    }
}

int pbs_stress_run(const pbs_stress_opts *opts, pbs_stress_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen)
        err[0] = '\0';
    run *r = run_new(opts);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return PB_ENOMEM;
    }
    int rc = prepare(r, err, errlen);
    if (rc == 0 && (rc = pbs__watchdog_start(&r->wd, &r->w, r->logs, r->nactors, last_words, r)))
        snprintf(err, errlen, "cannot start the watchdog thread: %s", strerror(-rc));
    if (rc == 0 && (rc = step1_warm_up(r, err, errlen)) == 0) {
        step2_baseline(r);
        rc = step3_create_pool(r, err, errlen);
    }
    if (rc == 0) {
        step4_submit(r);
        step5_end(r);
        pbs_rss rss;
        uint64_t survived = step6_destroy(r, &rss);
        step7_report(r, out, survived, &rss);
    } else {
        /* It could not start: a failed case saying why. */
        pbs__watchdog_stop(&r->wd);
        pbs_totals t;
        sum_counts(r, &t);
        fill_result(r, out, &t, 0, pbs__case_new(&r->w, &t, 0, NULL, err, NULL));
    }
    pbs__probe_table_close();
    run_free(r);
    return rc;
}
