/*
 * stress-engine.c — one stress run on one backend: the pool, the submitter
 * threads, the watchdog, the end of the run, the checks that need the pool
 * gone, and the report.
 *
 * DESIGN
 *
 * Actors. Actor 0 is the calling thread ("main"); actors 1..threads are
 * submitter threads running pbh__submitter_main (stress-ops.c). Each actor
 * owns its PRNG, its futures and its counters; nothing an actor owns is
 * touched by another actor. What they share sits in pbh_run behind small
 * mutexes (worker pids, the kill log, violations, workers seen) or in
 * atomics (the run's phase flags, the latest success).
 *
 * The run, in order:
 *   1. warm-up: a throwaway pool of the backend runs one probe. It tells
 *      whether tasks run in this process (then no fault that would take the
 *      harness down is injected) and brings lazily created process-wide
 *      state (libraries' thread pools, registries) into being before the
 *      starting point of the leak checks is taken;
 *   2. the watchdog starts, then the snapshot of threads, children, fds and
 *      RSS that the end is compared with;
 *   3. the pool is created with the options the faults need (task_timeout
 *      for hangs, max_tasks_per_worker for recycling; a backend that says
 *      PB_ENOTSUP loses that fault, with a note);
 *   4. the submitters run until the duration (or their operation count) is
 *      over;
 *   5. main checks the pool still completes plain work (the health batch:
 *      that is what "faults survived" rests on), then ends the run, in one
 *      of two ways drawn from the seed: either shutdown races the
 *      submitters (they are still in the middle of operations and must see
 *      PB_ESHUTDOWN only after it began), or the submitters finish first and
 *      main submits a tail of slow tasks and shuts down right after, which
 *      checks cancel_futures (nothing PENDING once it returns) and wait
 *      (everything done once it returns). wait and cancel_futures are drawn.
 *   6. destroy; then every future still held must be done, every callback
 *      must have run once; then no thread, child, zombie or fd may be left
 *      beyond the starting snapshot, and RSS must be back near it.
 *
 * Watchdog. One thread per run polls every actor's current operation (the
 * actor publishes its start time; a drain republishes it after each future
 * it retires) and samples RSS for the peak. An operation older than the
 * watchdog bound means the pool hung: the watchdog prints which operation
 * of which thread did not return, every actor's recent operations, and the
 * stacks of every thread (gdb, when installed), hands the report so far to
 * on_hang, kills every child process (hung workers would outlive us) and
 * exits with status 1.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "results.h"
#include "stress-int.h"
#include "workloads.h"

_Atomic uint64_t pbh__stale_callbacks;

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

/* Serialises reading /proc/self between the watchdog's RSS samples and the
 * leak checks, so the snapshot never counts the watchdog's open file. */
static pthread_mutex_t sys_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const check_names[PBH_CHECK_COUNT] = {
    [PBH_CHECK_DONE] = "every_future_done",
    [PBH_CHECK_LOST] = "no_lost_result",
    [PBH_CHECK_RESULT] = "right_results",
    [PBH_CHECK_FAILURES] = "only_injected_failures",
    [PBH_CHECK_CALLBACKS] = "callbacks_once",
    [PBH_CHECK_CANCEL] = "cancel_only_pending",
    [PBH_CHECK_WAIT] = "waits_in_time",
    [PBH_CHECK_ITERATORS] = "iterators_complete",
    [PBH_CHECK_SHUTDOWN] = "shutdown_semantics",
    [PBH_CHECK_API] = "api_codes",
    [PBH_CHECK_THREADS] = "no_thread_left",
    [PBH_CHECK_CHILDREN] = "no_child_left",
    [PBH_CHECK_FDS] = "no_fd_left",
    [PBH_CHECK_MEMORY] = "memory_returned",
    [PBH_CHECK_HANG] = "no_hang",
};

const char *pbh__check_name(pbh_check c)
{
    return c < PBH_CHECK_COUNT ? check_names[c] : "?";
}

static const char *const op_names[PBH_OP_COUNT] = {
    [PBH_OP_SUBMIT] = "submit",     [PBH_OP_BURST_CANCEL] = "burst+cancel",
    [PBH_OP_RESULT] = "result",     [PBH_OP_WAIT] = "wait",
    [PBH_OP_AS_COMPLETED] = "as_completed", [PBH_OP_CANCEL] = "cancel",
    [PBH_OP_CALLBACK] = "add_callback", [PBH_OP_MAP] = "map",
    [PBH_OP_RETIRE] = "retire",     [PBH_OP_KILL] = "kill",
    [PBH_OP_HEALTH] = "health",     [PBH_OP_TAIL] = "tail",
    [PBH_OP_SHUTDOWN] = "shutdown", [PBH_OP_DESTROY] = "destroy",
    [PBH_OP_DRAIN] = "drain",       [PBH_OP_WARMUP] = "warm-up",
    [PBH_OP_CREATE] = "create",
};

const char *pbh__op_name(pbh_opkind k)
{
    return k < PBH_OP_COUNT ? op_names[k] : "?";
}

static const char *const fault_names[] = {"fail", "segv", "abort", "exit", "kill", "hang", "recycle"};
#define NFAULTS (sizeof fault_names / sizeof fault_names[0])

const char *pbh_stress_fault_name(unsigned bit)
{
    for (size_t i = 0; i < NFAULTS; i++)
        if (bit == 1u << i)
            return fault_names[i];
    return NULL;
}

void pbh_stress_faults_text(unsigned mask, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NFAULTS; i++)
        if (mask & (1u << i))
            used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                     used ? "," : "", fault_names[i]);
    if (!used)
        snprintf(buf, size, "none");
}

int pbh_stress_parse_faults(const char *text, unsigned *mask, char *err, size_t errlen)
{
    unsigned m = 0;
    const char *p = text;
    if (!*p) {
        snprintf(err, errlen, "empty fault list (use 'none' for no faults)");
        return -1;
    }
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        bool found = false;
        if (n == 0) {
            snprintf(err, errlen, "empty name in fault list '%s'", text);
            return -1;
        }
        for (size_t i = 0; i < NFAULTS && !found; i++)
            if (strlen(fault_names[i]) == n && !strncmp(p, fault_names[i], n)) {
                m |= 1u << i;
                found = true;
            }
        if (!found && n == 5 && !strncmp(p, "crash", 5)) {
            m |= PBH_FAULT_SEGV | PBH_FAULT_ABORT | PBH_FAULT_EXIT;
            found = true;
        }
        if (!found && n == 3 && !strncmp(p, "all", 3)) {
            m |= PBH_FAULT_ALL;
            found = true;
        }
        if (!found && n == 4 && !strncmp(p, "none", 4))
            found = true;
        if (!found) {
            snprintf(err, errlen,
                     "unknown fault '%.*s' (known: fail, segv, abort, exit, crash, kill, hang, "
                     "recycle, all, none)",
                     (int)n, p);
            return -1;
        }
        if (!c)
            break;
        p = c + 1;
    }
    *mask = m;
    return 0;
}

void pbh_stress_opts_init(pbh_stress_opts *o)
{
    memset(o, 0, sizeof *o);
    o->duration_s = 10;
    o->threads = 4;
    o->faults = PBH_FAULT_ALL;
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

/* ------------------------------------------------------------------------
 * Operations: description, log, trace, watchdog slot
 * ------------------------------------------------------------------------ */

static void fmt_ns(int64_t ns, char *buf, size_t size)
{
    if (ns >= 1000 * MS)
        snprintf(buf, size, "%.1f s", ns / 1e9);
    else if (ns >= MS)
        snprintf(buf, size, "%.3g ms", ns / 1e6);
    else
        snprintf(buf, size, "%.3g us", ns / 1e3);
}

void pbh__op_format(const pbh_opdesc *d, char *buf, size_t size)
{
    static const char *const whens[] = {"FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"};
    static const char *const inners[] = {"checksum", "echo", "fail", "crash segv", "crash abort",
                                         "crash exit", "hang"};
    char t[32];
    fmt_ns(d->timeout, t, sizeof t);
    unsigned long long id = (unsigned long long)d->id;
    switch ((pbh_opkind)d->kind) {
    case PBH_OP_SUBMIT:
        snprintf(buf, size, "submit #%llx: %s of %u bytes, delay %s, %u callbacks", id,
                 d->when < 7 ? inners[d->when] : "?", d->n, t, d->m);
        break;
    case PBH_OP_BURST_CANCEL:
        snprintf(buf, size, "burst of %u from #%llx, then %u cancels", d->n, id, d->m);
        break;
    case PBH_OP_RESULT:
        snprintf(buf, size, "result of #%llx with timeout %s", id, t);
        break;
    case PBH_OP_WAIT:
        snprintf(buf, size, "wait %s on %u futures from #%llx, timeout %s",
                 d->when < 3 ? whens[d->when] : "?", d->n, id, t);
        break;
    case PBH_OP_AS_COMPLETED:
        snprintf(buf, size, "as_completed over %u futures from #%llx, timeout %s", d->n, id, t);
        break;
    case PBH_OP_CANCEL:
    case PBH_OP_CALLBACK:
        snprintf(buf, size, "%s #%llx", op_names[d->kind], id);
        break;
    case PBH_OP_MAP:
        snprintf(buf, size, "map #%llx of %u items in chunks of %u, timeout %s", id, d->n, d->m, t);
        break;
    case PBH_OP_RETIRE:
    case PBH_OP_DRAIN:
        snprintf(buf, size, "%s %u futures (first #%llx)", op_names[d->kind], d->n, id);
        break;
    case PBH_OP_KILL:
        if (d->n)
            snprintf(buf, size, "kill with SIGKILL the worker running #%llx", id);
        else
            snprintf(buf, size, "kill with SIGKILL the most recent worker");
        break;
    case PBH_OP_HEALTH:
    case PBH_OP_TAIL:
        snprintf(buf, size, "%s: %u tasks from #%llx", op_names[d->kind], d->n, id);
        break;
    case PBH_OP_SHUTDOWN:
        snprintf(buf, size, "pb_pool_shutdown(wait=%s, cancel_futures=%s)%s",
                 d->n ? "true" : "false", d->m ? "true" : "false",
                 d->when ? " racing the submitters" : "");
        break;
    case PBH_OP_DESTROY:
        snprintf(buf, size, "pb_pool_destroy");
        break;
    case PBH_OP_WARMUP:
        snprintf(buf, size, "warm-up: create a pool, run one task, destroy the pool");
        break;
    case PBH_OP_CREATE:
        snprintf(buf, size, "pb_pool_create");
        break;
    default:
        snprintf(buf, size, "?");
    }
}

void pbh__op_begin(pbh_actor *a, const pbh_opdesc *d)
{
    a->cur = *d;
    a->cur.op = a->op;
    a->cur.started = pb_now_ns();
    uint64_t k = atomic_load_explicit(&a->nlog, memory_order_relaxed);
    a->log[k % PBH_LOG] = a->cur;
    atomic_store_explicit(&a->nlog, k + 1, memory_order_release);
    atomic_store_explicit(&a->op_started, a->cur.started, memory_order_release);
    if (d->kind < PBH_OP_COUNT)
        a->counts.ops[d->kind]++;
    if (a->run->o.trace) {
        char what[256];
        pbh__op_format(&a->cur, what, sizeof what);
        a->run->o.trace(a->run->o.trace_ud, a->index, a->op, what);
    }
}

void pbh__op_progress(pbh_actor *a)
{
    if (atomic_load_explicit(&a->op_started, memory_order_relaxed))
        atomic_store_explicit(&a->op_started, pb_now_ns(), memory_order_release);
}

void pbh__op_end(pbh_actor *a)
{
    atomic_store_explicit(&a->op_started, 0, memory_order_release);
    a->op++;
}

/* ------------------------------------------------------------------------
 * Violations and notes
 * ------------------------------------------------------------------------ */

static FILE *logf_(const pbh_run *run)
{
    return run->o.log ? run->o.log : stderr;
}

void pbh__violation(pbh_run *run, pbh_actor *a, pbh_check c, const char *fmt, ...)
{
    char msg[768], where[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (a && atomic_load(&a->op_started)) {
        char what[256];
        pbh__op_format(&a->cur, what, sizeof what);
        snprintf(where, sizeof where, "thread %d, operation %llu (%s)", a->index,
                 (unsigned long long)a->cur.op, what);
    } else if (a) {
        snprintf(where, sizeof where, "thread %d, after operation %llu", a->index,
                 (unsigned long long)a->op);
    } else {
        snprintf(where, sizeof where, "end of run");
    }
    pthread_mutex_lock(&run->viol_mu);
    run->violations++;
    run->check_fails[c]++;
    if (!run->check_first[c]) {
        size_t n = strlen(where) + strlen(msg) + 3;
        run->check_first[c] = malloc(n);
        if (run->check_first[c])
            snprintf(run->check_first[c], n, "%s: %s", where, msg);
    }
    /* The first violation of each check is always printed, so a flood of one
     * kind (every item of a broken chunk) cannot hide another kind. */
    if (run->violations <= (uint64_t)run->o.max_printed || run->check_fails[c] == 1)
        fprintf(logf_(run), "poolbench stress: VIOLATION of %s [%s, seed %llu, %s]: %s\n",
                check_names[c], run->o.backend, (unsigned long long)run->o.seed, where, msg);
    if (run->violations == (uint64_t)run->o.max_printed + 1)
        fprintf(logf_(run),
                "poolbench stress: more violations; from here only the first of each check "
                "is printed\n");
    fflush(logf_(run));
    pthread_mutex_unlock(&run->viol_mu);
}

void pbh__note(pbh_run *run, const char *fmt, ...)
{
    if (run->o.quiet)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(logf_(run), "poolbench stress: %s: %s\n", run->o.backend, msg);
    fflush(logf_(run));
}

/* ------------------------------------------------------------------------
 * The report
 * ------------------------------------------------------------------------ */

static void put_metric(json_t *metrics, const char *name, const char *unit, pbr_better better,
                       double v)
{
    const double *reps[1] = {&v};
    size_t lens[1] = {1};
    json_t *m = pbr_metric_new(unit, better, reps, lens, 1, false);
    if (m)
        json_object_set_new(metrics, name, m);
}

typedef struct totals {
    pbh_counts c;
    uint64_t operations, injected, survived, kills;
} totals;

static void sum_counts(const pbh_run *run, totals *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < run->nactors; i++) {
        const pbh_counts *c = &run->actors[i].counts;
        for (int k = 0; k < PBH_OP_COUNT; k++) {
            t->c.ops[k] += c->ops[k];
            t->operations += c->ops[k];
        }
        t->c.futures += c->futures;
        t->c.map_items += c->map_items;
        t->c.maps += c->maps;
        t->c.ok += c->ok;
        t->c.task_failed += c->task_failed;
        t->c.broken += c->broken;
        t->c.killed += c->killed;
        t->c.cancelled += c->cancelled;
        t->c.timeouts_seen += c->timeouts_seen;
        t->c.callbacks += c->callbacks;
        t->c.kills_missed += c->kills_missed;
        t->c.kill_failures += c->kill_failures;
        t->c.timing_excused += c->timing_excused;
        for (int k = 0; k < 8; k++) {
            t->c.injected[k] += c->injected[k];
            t->injected += c->injected[k];
        }
    }
    t->kills = t->c.injected[__builtin_ctz(PBH_FAULT_KILL)];
}

/* Faults that caused exactly what was expected, after which the pool went
 * on working: it completed a task later, or — for the last faults of the
 * run, after which no task was asked for — it still shut down and was
 * destroyed cleanly (nothing lost, left undone or leaked). Kills count from
 * when they were sent. */
static bool clean_end(const pbh_run *run)
{
    static const pbh_check end_checks[] = {PBH_CHECK_DONE,    PBH_CHECK_LOST,     PBH_CHECK_SHUTDOWN,
                                           PBH_CHECK_THREADS, PBH_CHECK_CHILDREN, PBH_CHECK_FDS,
                                           PBH_CHECK_HANG};
    for (size_t i = 0; i < sizeof end_checks / sizeof end_checks[0]; i++)
        if (run->check_fails[end_checks[i]])
            return false;
    return true;
}

/* Splits the faults that caused what was expected into those followed by a
 * success and the rest. */
static void count_faults(pbh_run *run, uint64_t *followed, uint64_t *last_ones)
{
    int64_t last = atomic_load(&run->last_success);
    *followed = *last_ones = 0;
    for (int i = 0; i < run->nactors; i++) {
        const pbh_actor *a = &run->actors[i];
        for (size_t k = 0; k < a->nfault_done; k++) {
            if (a->fault_done[k] < last)
                (*followed)++;
            else
                (*last_ones)++;
        }
    }
    pthread_mutex_lock(&run->kills_mu);
    for (size_t k = 0; k < run->nkills; k++) {
        if (run->kills[k].withdrawn)
            continue;
        if (run->kills[k].at < last)
            (*followed)++;
        else
            (*last_ones)++;
    }
    pthread_mutex_unlock(&run->kills_mu);
}

typedef struct rss_info {
    long start_kb, peak_kb, end_kb;
} rss_info;

static json_t *build_case(pbh_run *run, const totals *t, uint64_t survived, const rss_info *rss,
                          const char *fail_reason, json_t *binding)
{
    json_t *c = json_object();
    json_t *params = json_object();
    json_t *metrics = json_object();
    json_t *checks = json_array();
    if (!c || !params || !metrics || !checks) {
        json_decref(c);
        json_decref(params);
        json_decref(metrics);
        json_decref(checks);
        json_decref(binding);
        return NULL;
    }
    char faults[128];
    pbh_stress_faults_text(run->faults, faults, sizeof faults);
    json_object_set_new(params, "seed", json_integer((json_int_t)run->o.seed));
    json_object_set_new(params, "duration_s", json_real(run->o.duration_s));
    json_object_set_new(params, "threads", json_integer(run->o.threads));
    json_object_set_new(params, "workers", json_integer(run->workers));
    json_object_set_new(params, "faults", json_string(faults));
    json_object_set_new(params, "fault_rate", json_real(run->o.fault_rate));
    json_object_set_new(params, "task_timeout_ms",
                        json_real(run->task_timeout ? run->task_timeout / 1e6 : 0));
    json_object_set_new(params, "max_tasks_per_worker", json_integer(run->max_tasks));
    if (run->o.ops)
        json_object_set_new(params, "ops", json_integer((json_int_t)run->o.ops));

    bool failed = fail_reason || run->violations;
    char reason[1024] = "";
    if (fail_reason)
        snprintf(reason, sizeof reason, "%s", fail_reason);
    else if (run->violations)
        for (int k = 0; k < PBH_CHECK_COUNT; k++)
            if (run->check_first[k]) {
                snprintf(reason, sizeof reason, "%llu violation%s; first: %s: %s",
                         (unsigned long long)run->violations, run->violations == 1 ? "" : "s",
                         check_names[k], run->check_first[k]);
                break;
            }

    json_object_set_new(c, "backend", json_string(run->o.backend ? run->o.backend : ""));
    json_object_set_new(c, "scenario", json_string("stress"));
    json_object_set_new(c, "params", params);
    json_object_set_new(c, "outcome", json_string(failed ? "failed" : "ok"));
    json_object_set_new(c, "reason", json_string(reason));
    if (binding)
        json_object_set_new(c, "binding", binding);

    const pbh_counts *k = &t->c;
    put_metric(metrics, "operations", "count", PBR_HIGHER, (double)t->operations);
    put_metric(metrics, "faults_injected", "count", PBR_HIGHER, (double)t->injected);
    put_metric(metrics, "faults_survived", "count", PBR_HIGHER, (double)survived);
    put_metric(metrics, "violations", "count", PBR_LOWER, (double)run->violations);
    put_metric(metrics, "futures", "count", PBR_HIGHER, (double)k->futures);
    put_metric(metrics, "maps", "count", PBR_HIGHER, (double)k->maps);
    put_metric(metrics, "succeeded", "count", PBR_HIGHER, (double)k->ok);
    put_metric(metrics, "cancelled", "count", PBR_HIGHER, (double)k->cancelled);
    put_metric(metrics, "timed_waits_expired", "count", PBR_HIGHER, (double)k->timeouts_seen);
    put_metric(metrics, "callbacks", "count", PBR_HIGHER, (double)k->callbacks);
    for (size_t i = 0; i < NFAULTS; i++) {
        if (1u << i == PBH_FAULT_RECYCLE)
            continue;
        char name[32];
        snprintf(name, sizeof name, "faults_%s", fault_names[i]);
        put_metric(metrics, name, "count", PBR_HIGHER, (double)k->injected[i]);
    }
    put_metric(metrics, "kills_missed", "count", PBR_LOWER, (double)k->kills_missed);
    put_metric(metrics, "failed_by_kills", "count", PBR_HIGHER, (double)k->kill_failures);
    put_metric(metrics, "timing_excused", "count", PBR_LOWER, (double)k->timing_excused);
    pthread_mutex_lock(&run->seen_mu);
    put_metric(metrics, "workers_seen", "count", PBR_HIGHER, (double)run->nseen);
    pthread_mutex_unlock(&run->seen_mu);
    if (rss && rss->start_kb >= 0) {
        put_metric(metrics, "rss_start", "bytes", PBR_LOWER, rss->start_kb * 1024.0);
        put_metric(metrics, "rss_peak", "bytes", PBR_LOWER, rss->peak_kb * 1024.0);
        if (rss->end_kb >= 0)
            put_metric(metrics, "rss_end", "bytes", PBR_LOWER, rss->end_kb * 1024.0);
    }
    json_object_set_new(c, "metrics", metrics);

    for (int i = 0; i < PBH_CHECK_COUNT; i++) {
        json_t *ch = json_object();
        if (!ch)
            continue;
        char why[1024] = "";
        if (run->check_fails[i])
            snprintf(why, sizeof why, "%llu violation%s; first: %s",
                     (unsigned long long)run->check_fails[i], run->check_fails[i] == 1 ? "" : "s",
                     run->check_first[i] ? run->check_first[i] : "");
        json_object_set_new(ch, "name", json_string(check_names[i]));
        json_object_set_new(ch, "passed", json_boolean(run->check_fails[i] == 0));
        json_object_set_new(ch, "reason", json_string(why));
        json_array_append_new(checks, ch);
    }
    json_object_set_new(c, "checks", checks);
    return c;
}

static json_t *binding_json(pbh_run *run)
{
    json_t *w = json_array();
    if (!w)
        return NULL;
    for (int i = 0; i < run->workers; i++) {
        char buf[256];
        if (pb_pool_binding(run->pool, i, buf, sizeof buf) != 0) {
            json_decref(w);
            return NULL;
        }
        json_array_append_new(w, json_string(buf));
    }
    json_t *b = json_object();
    if (!b) {
        json_decref(w);
        return NULL;
    }
    json_object_set_new(b, "policy", json_string("none"));
    json_object_set_new(b, "workers", w);
    json_object_set_new(b, "tasks_on_binding", json_null());
    return b;
}

/* ------------------------------------------------------------------------
 * The watchdog
 * ------------------------------------------------------------------------ */

typedef struct watchdog {
    pbh_run *run;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool started;
} watchdog;

static void print_log(pbh_run *run, FILE *out)
{
    for (int i = 0; i < run->nactors; i++) {
        pbh_actor *a = &run->actors[i];
        uint64_t n = atomic_load_explicit(&a->nlog, memory_order_acquire);
        if (!n)
            continue;
        fprintf(out, "  thread %d%s, its last operations:\n", a->index,
                i == 0 ? " (main)" : "");
        uint64_t from = n > PBH_LOG ? n - PBH_LOG : 0;
        int64_t busy = atomic_load(&a->op_started);
        for (uint64_t k = from; k < n; k++) {
            pbh_opdesc d = a->log[k % PBH_LOG];
            char what[256];
            pbh__op_format(&d, what, sizeof what);
            bool current = k == n - 1 && busy;
            fprintf(out, "    #%llu %s%s\n", (unsigned long long)d.op, what,
                    current ? "   <- in progress" : "");
        }
    }
}

static _Noreturn void watchdog_fire(pbh_run *run, pbh_actor *stuck, int64_t age)
{
    FILE *out = logf_(run);
    char what[256];
    pbh_opdesc d = stuck->cur;
    pbh__op_format(&d, what, sizeof what);
    fprintf(out,
            "poolbench stress: HANG [%s, seed %llu]: thread %d, operation %llu (%s) has not "
            "returned after %.1f s; the pool is stuck\n",
            run->o.backend, (unsigned long long)run->o.seed, stuck->index,
            (unsigned long long)d.op, what, age / 1e9);
    if (run->o.command)
        fprintf(out, "  command: %s (seed %llu: --seed %llu replays the schedule)\n", run->o.command,
                (unsigned long long)run->o.seed, (unsigned long long)run->o.seed);
    print_log(run, out);
    fflush(out);
    fprintf(out, "  stacks of this process's threads:\n");
    fflush(out);
    if (run->o.no_stacks)
        fprintf(out, "  (stacks not requested)\n");
    else if (pbh__print_stacks(fileno(out), 60) != 0)
        fprintf(out, "  (gdb is not available: no stacks; the operations above are what was "
                     "waiting)\n");
    fflush(out);

    char msg[600];
    snprintf(msg, sizeof msg, "thread %d, operation %llu (%s) did not return within %.0f s",
             stuck->index, (unsigned long long)d.op, what, run->o.watchdog / 1e9);
    pthread_mutex_lock(&run->viol_mu);
    run->violations++;
    run->check_fails[PBH_CHECK_HANG]++;
    if (!run->check_first[PBH_CHECK_HANG])
        run->check_first[PBH_CHECK_HANG] = strdup(msg);
    pthread_mutex_unlock(&run->viol_mu);
    if (run->o.on_hang) {
        totals t;
        sum_counts(run, &t);
        json_t *c = build_case(run, &t, 0, NULL, NULL, NULL);
        if (c) {
            json_object_set_new(c, "reason", json_string(msg));
            run->o.on_hang(run->o.on_hang_ud, c);
            json_decref(c);
        }
    }
    pbh__kill_all_children();
    pbh__probe_table_close();
    fflush(NULL);
    _exit(1);
}

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    pbh_run *run = w->run;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * MS;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->mu);

        pthread_mutex_lock(&sys_mu);
        long rss = pbh__rss_kb();
        long long psi = pbh__psi_cpu_some_us();
        pthread_mutex_unlock(&sys_mu);
        if (psi >= 0) {
            pthread_mutex_lock(&run->psi_mu);
            size_t cap = sizeof run->psi / sizeof run->psi[0];
            run->psi[run->npsi % cap].at = pb_now_ns();
            run->psi[run->npsi % cap].some_us = psi;
            run->npsi++;
            pthread_mutex_unlock(&run->psi_mu);
        }
        if (rss > atomic_load(&run->rss_peak_kb))
            atomic_store(&run->rss_peak_kb, rss);

        int64_t now = pb_now_ns();
        for (int i = 0; i < run->nactors; i++) {
            int64_t st = atomic_load_explicit(&run->actors[i].op_started, memory_order_acquire);
            if (st && now - st > run->o.watchdog)
                watchdog_fire(run, &run->actors[i], now - st);
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int watchdog_start(watchdog *w, pbh_run *run)
{
    memset(w, 0, sizeof *w);
    w->run = run;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int r = pthread_create(&w->thread, NULL, watchdog_main, w);
    w->started = r == 0;
    return -r;
}

static void watchdog_stop(watchdog *w)
{
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->started = false;
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* ------------------------------------------------------------------------
 * CPU pressure
 *
 * On a machine whose CPUs are saturated by others (a parallel build, another
 * test suite), a thread that was woken in time may still wait hundreds of
 * milliseconds for a CPU, and a worker may not get to run a 1 ms task within
 * task_timeout. Such lateness says nothing about the pool. So timing checks
 * that fail are judged against the machine's CPU pressure (PSI, sampled by
 * the watchdog): when some task was waiting for a CPU during at least half
 * of the interval in question, the check is counted as excused (reported as
 * timing_excused) instead of as a violation. On a quiet machine, and where
 * the kernel has no PSI, every check counts.
 * ------------------------------------------------------------------------ */

double pbh__contention(pbh_run *run, int64_t t0, int64_t t1)
{
    double share = -1;
    pthread_mutex_lock(&run->psi_mu);
    size_t cap = sizeof run->psi / sizeof run->psi[0];
    size_t n = run->npsi < cap ? run->npsi : cap;
    /* The last sample at or before t0, and the first at or after t1 (or the
     * newest, if it covers most of the interval). */
    int64_t a_at = 0, b_at = 0;
    long long a_us = 0, b_us = 0;
    bool have_a = false, have_b = false;
    for (size_t k = 0; k < n; k++) {
        size_t i = (run->npsi - n + k) % cap;
        int64_t at = run->psi[i].at;
        if (at <= t0) {
            a_at = at;
            a_us = run->psi[i].some_us;
            have_a = true;
        }
        if (!have_b && at >= t1) {
            b_at = at;
            b_us = run->psi[i].some_us;
            have_b = true;
        }
    }
    if (!have_b && n) {
        size_t i = (run->npsi - 1) % cap;
        if (run->psi[i].at > t0 + (t1 - t0) / 2) {
            b_at = run->psi[i].at;
            b_us = run->psi[i].some_us;
            have_b = true;
        }
    }
    if (have_a && have_b && b_at > a_at)
        share = (double)(b_us - a_us) * 1000.0 / (double)(b_at - a_at);
    pthread_mutex_unlock(&run->psi_mu);
    return share;
}

bool pbh__timing_excused(pbh_actor *a, int64_t t0, int64_t t1)
{
    if (pbh__contention(a->run, t0, t1) < 0.5)
        return false;
    a->counts.timing_excused++;
    return true;
}

/* ------------------------------------------------------------------------
 * Leaks
 * ------------------------------------------------------------------------ */

static bool fd_in(const pbh_snapshot *s, const pbh_fdinfo *fi)
{
    for (size_t i = 0; i < s->nfds; i++)
        if (s->fds[i].fd == fi->fd && !strcmp(s->fds[i].target, fi->target))
            return true;
    return false;
}

static bool leaks_settled(const pbh_snapshot *base, const pbh_snapshot *now)
{
    if (now->threads > base->threads || now->children > base->children ||
        now->zombies > base->zombies)
        return false;
    for (size_t i = 0; i < now->nfds; i++)
        if (!fd_in(base, &now->fds[i]))
            return false;
    return true;
}

/* Why RSS cannot be compared in this build, or NULL. A sanitizer's
 * allocator keeps freed memory in quarantine and maps shadow memory as it
 * goes, so RSS does not come back there whatever the pool does. */
static const char *memory_check_off(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return "built with a sanitizer, whose allocator holds on to freed memory";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
    return "built with a sanitizer, whose allocator holds on to freed memory";
#endif
#endif
    return NULL;
}

/* Compares with the starting snapshot. Threads and processes may take a
 * moment to be gone from /proc after they were joined or reaped, so this
 * looks again for up to 3 s before calling anything a leak. */
static void check_leaks(pbh_run *run, const pbh_snapshot *base, long *rss_end)
{
    pbh_snapshot now;
    memset(&now, 0, sizeof now);
    int64_t deadline = pb_now_ns() + 3000 * MS;
    for (;;) {
        pbh__snapshot_free(&now);
        pthread_mutex_lock(&sys_mu);
        int r = pbh__snapshot(&now);
        pthread_mutex_unlock(&sys_mu);
        if (r != 0) {
            pbh__note(run, "cannot inspect /proc/self for leaks: %s", strerror(-r));
            pbh__snapshot_free(&now);
            *rss_end = -1;
            return;
        }
        if (leaks_settled(base, &now) || pb_now_ns() > deadline)
            break;
        struct timespec ts = {0, 50 * MS};
        nanosleep(&ts, NULL);
    }
    if (now.threads > base->threads)
        pbh__violation(run, NULL, PBH_CHECK_THREADS,
                       "%d thread%s left after pb_pool_destroy (%d before the pool was created)",
                       now.threads - base->threads, now.threads - base->threads == 1 ? "" : "s",
                       base->threads);
    if (now.children > base->children || now.zombies > base->zombies) {
        char pids[256] = "";
        size_t used = 0;
        int shown = now.children < 16 ? now.children : 16;
        for (int i = 0; i < shown; i++)
            used += (size_t)snprintf(pids + used, used < sizeof pids ? sizeof pids - used : 0,
                                     "%s%d", i ? ", " : "", (int)now.child_pids[i]);
        pbh__violation(run, NULL, PBH_CHECK_CHILDREN,
                       "%d child process%s (%d of them zombies) left after pb_pool_destroy: %s",
                       now.children, now.children == 1 ? "" : "es", now.zombies, pids);
    }
    for (size_t i = 0; i < now.nfds; i++)
        if (!fd_in(base, &now.fds[i]))
            pbh__violation(run, NULL, PBH_CHECK_FDS, "fd %d (%s) left open after pb_pool_destroy",
                           now.fds[i].fd, now.fds[i].target);
    pbh__snapshot_free(&now);

    /* Memory: freed blocks go back to the system only when malloc lets go
     * of them; trim first, then allow for what allocators keep (per-thread
     * arenas of the submitter threads that were joined, the library's own
     * caches): 32 MiB or half the starting RSS, whichever is more. */
    malloc_trim(0);
    pthread_mutex_lock(&sys_mu);
    *rss_end = pbh__rss_kb();
    pthread_mutex_unlock(&sys_mu);
    long allowed = base->rss_kb / 2 > 32768 ? base->rss_kb / 2 : 32768;
    const char *why_not = memory_check_off();
    if (why_not) {
        static bool told;
        if (!told)
            pbh__note(run, "RSS is not compared: %s", why_not);
        told = true;
    } else if (base->rss_kb > 0 && *rss_end > base->rss_kb + allowed)
        pbh__violation(run, NULL, PBH_CHECK_MEMORY,
                       "RSS is %ld kB after pb_pool_destroy, %ld kB at the start (allowed: +%ld kB)",
                       *rss_end, base->rss_kb, allowed);
}

/* ------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------ */

/* The warm-up: one pool, one probe. Sets run->in_process. */
static int warm_up(pbh_run *run, char *err, size_t errlen)
{
    pb_pool_opts po;
    pb_pool_opts_init(&po);
    po.workers = run->o.workers;
    pb_pool *pool = NULL;
    int rc = pb_pool_create(run->o.backend, &po, &pool);
    if (rc) {
        snprintf(err, errlen, "cannot create a %s pool: %s (%s)", run->o.backend, pb_strerror(rc),
                 pb_pool_last_error());
        return rc;
    }
    uint8_t arg[512];
    size_t len = pbh__probe_build(arg, sizeof arg, 1, PBH_INNER_CHECKSUM, PBH_DELAY_NONE, 0, "x", 1);
    pb_future *f = NULL;
    rc = pb_submit(pool, run->probe, arg, len, &f);
    if (rc == 0) {
        const void *data;
        size_t n;
        rc = pb_future_result(f, run->o.patience, &data, &n);
        pbh_probe_result pr;
        if (rc == 0 && n >= sizeof pr) {
            memcpy(&pr, data, sizeof pr);
            run->in_process = pr.pid == (int32_t)getpid();
        } else if (rc == 0) {
            rc = PB_EINVAL;
        } else {
            pb_error e;
            if (pb_future_error(f, 0, &e) == 0)
                snprintf(err, errlen, "the %s pool's first task failed: %s (%s)", run->o.backend,
                         pb_strerror(rc), e.message ? e.message : "");
        }
        pb_future_release(f);
    }
    pb_pool_destroy(pool);
    if (rc && !err[0])
        snprintf(err, errlen, "the %s pool's first task failed: %s", run->o.backend,
                 pb_strerror(rc));
    return rc;
}

static int create_pool(pbh_run *run, pbh_actor *main_actor, char *err, size_t errlen)
{
    pb_pool_opts po;
    pb_pool_opts_init(&po);
    po.workers = run->o.workers;
    /* Drawn whether or not it is used, so the schedule stays the same. */
    unsigned max_tasks = (unsigned)pbh__rng_range(&main_actor->rng, 4, 64);
    if (run->faults & PBH_FAULT_HANG)
        po.task_timeout = run->o.task_timeout;
    if (run->faults & PBH_FAULT_RECYCLE)
        po.max_tasks_per_worker = max_tasks;
    for (;;) {
        int rc = pb_pool_create(run->o.backend, &po, &run->pool);
        if (rc == 0)
            break;
        if (rc == PB_ENOTSUP && po.task_timeout) {
            pbh__note(run, "no hangs: the backend refuses task_timeout (%s)", pb_pool_last_error());
            po.task_timeout = 0;
            run->faults &= ~(unsigned)PBH_FAULT_HANG;
            continue;
        }
        if (rc == PB_ENOTSUP && po.max_tasks_per_worker) {
            pbh__note(run, "no recycling: the backend refuses max_tasks_per_worker (%s)",
                      pb_pool_last_error());
            po.max_tasks_per_worker = 0;
            run->faults &= ~(unsigned)PBH_FAULT_RECYCLE;
            continue;
        }
        snprintf(err, errlen, "cannot create a %s pool: %s (%s)", run->o.backend, pb_strerror(rc),
                 pb_pool_last_error());
        return rc;
    }
    run->task_timeout = po.task_timeout;
    run->max_tasks = po.max_tasks_per_worker;
    run->workers = pb_pool_workers(run->pool);
    return 0;
}

/* After shutdown: new work is refused with PB_ESHUTDOWN. */
static void check_refused(pbh_run *run, pbh_actor *a)
{
    uint8_t arg[512];
    size_t len = pbh__probe_build(arg, sizeof arg, 2, PBH_INNER_CHECKSUM, PBH_DELAY_NONE, 0, "y", 1);
    pb_future *f = NULL;
    int rc = pb_submit(run->pool, run->probe, arg, len, &f);
    if (rc != PB_ESHUTDOWN) {
        pbh__violation(run, a, PBH_CHECK_SHUTDOWN,
                       "pb_submit after pb_pool_shutdown returned %s, expected PB_ESHUTDOWN",
                       pb_strerror(rc));
        if (rc == 0) {
            pb_future_result(f, run->o.patience, NULL, NULL);
            pb_future_release(f);
        }
    }
    pb_bytes item = {arg, len};
    pb_map *m = NULL;
    rc = pb_map_new(run->pool, run->probe, &item, 1, 1, PB_FOREVER, &m);
    if (rc != PB_ESHUTDOWN) {
        pbh__violation(run, a, PBH_CHECK_SHUTDOWN,
                       "pb_map_new after pb_pool_shutdown returned %s, expected PB_ESHUTDOWN",
                       pb_strerror(rc));
        if (rc == 0)
            pb_map_free(m);
    }
}

static void shutdown_op(pbh_run *run, pbh_actor *a, bool wait, bool cancel, bool racing)
{
    pbh_opdesc d = {.kind = PBH_OP_SHUTDOWN, .n = wait, .m = cancel, .when = racing};
    atomic_store(&run->shutdown_begun, true);
    if (cancel)
        atomic_store(&run->cancel_begun, true);
    pbh__op_begin(a, &d);
    int rc = pb_pool_shutdown(run->pool, wait, cancel);
    if (rc != 0)
        pbh__violation(run, a, PBH_CHECK_API, "pb_pool_shutdown returned %s, expected 0",
                       pb_strerror(rc));
    /* What must hold the moment it returns, for the futures main holds. */
    for (size_t i = 0; i < a->nlive; i++) {
        pb_future *f = atomic_load(&a->live[i]->f);
        pb_state st = pb_future_state(f);
        if (cancel && st == PB_PENDING)
            pbh__violation(run, a, PBH_CHECK_SHUTDOWN,
                           "future #%llx is still PENDING after shutdown with cancel_futures "
                           "returned",
                           (unsigned long long)a->live[i]->id);
        if (wait && !pb_future_done(f))
            pbh__violation(run, a, PBH_CHECK_SHUTDOWN,
                           "future #%llx is %s after shutdown(wait=true) returned",
                           (unsigned long long)a->live[i]->id,
                           st == PB_PENDING ? "PENDING" : "RUNNING");
    }
    pbh__op_end(a);
}

static void stop_submitters(pbh_run *run)
{
    atomic_store(&run->stopping, true);
    for (int i = 1; i < run->nactors; i++)
        pthread_join(run->actors[i].thread, NULL);
}

static bool all_finished(pbh_run *run)
{
    for (int i = 1; i < run->nactors; i++)
        if (!__atomic_load_n(&run->actors[i].finished, __ATOMIC_ACQUIRE))
            return false;
    return true;
}

static void run_free(pbh_run *run)
{
    if (run->actors)
        for (int i = 0; i < run->nactors; i++)
            pbh__actor_free(&run->actors[i]);
    free(run->actors);
    run->actors = NULL;
    free(run->kills);
    run->kills = NULL;
    free(run->seen_workers);
    run->seen_workers = NULL;
    for (int i = 0; i < PBH_CHECK_COUNT; i++) {
        free(run->check_first[i]);
        run->check_first[i] = NULL;
    }
    pthread_mutex_destroy(&run->pids_mu);
    pthread_mutex_destroy(&run->kills_mu);
    pthread_mutex_destroy(&run->viol_mu);
    pthread_mutex_destroy(&run->seen_mu);
    pthread_mutex_destroy(&run->psi_mu);
}

static void fill_result(pbh_run *run, pbh_stress_result *out, json_t *case_json, uint64_t survived)
{
    totals t;
    sum_counts(run, &t);
    out->operations = t.operations;
    out->futures = t.c.futures;
    out->faults_injected = t.injected;
    out->faults_survived = survived;
    out->violations = run->violations;
    out->faults = run->faults;
    out->case_json = case_json;
}

int pbh_stress_run(const pbh_stress_opts *opts, pbh_stress_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (errlen)
        err[0] = '\0';
    pbh_run *run = calloc(1, sizeof *run);
    if (!run) {
        snprintf(err, errlen, "out of memory");
        return PB_ENOMEM;
    }
    run->o = *opts;
    pbh_stress_opts def;
    pbh_stress_opts_init(&def);
    if (run->o.threads <= 0)
        run->o.threads = def.threads;
    if (run->o.duration_s <= 0)
        run->o.duration_s = def.duration_s;
    if (run->o.task_timeout <= 0)
        run->o.task_timeout = def.task_timeout;
    if (run->o.tolerance <= 0)
        run->o.tolerance = def.tolerance;
    if (run->o.patience <= 0)
        run->o.patience = def.patience;
    if (run->o.watchdog <= 0)
        run->o.watchdog = def.watchdog;
    /* A wait for a future that never comes back must end (as "lost") well
     * before the watchdog would call the whole run hung. */
    if (run->o.patience > run->o.watchdog / 3)
        run->o.patience = run->o.watchdog / 3;
    if (run->o.max_printed <= 0)
        run->o.max_printed = def.max_printed;
    if (!(run->o.fault_rate > 0))
        run->o.fault_rate = def.fault_rate;
    run->rate_fail = scaled(RATE_FAIL, run->o.fault_rate);
    run->rate_crash = scaled(RATE_CRASH, run->o.fault_rate);
    run->rate_hang = scaled(RATE_HANG, run->o.fault_rate);
    run->map_rate_fail = scaled(MAP_RATE_FAIL, run->o.fault_rate);
    run->map_rate_crash = scaled(MAP_RATE_CRASH, run->o.fault_rate);
    run->map_rate_hang = scaled(MAP_RATE_HANG, run->o.fault_rate);
    pthread_mutex_init(&run->pids_mu, NULL);
    pthread_mutex_init(&run->kills_mu, NULL);
    pthread_mutex_init(&run->viol_mu, NULL);
    pthread_mutex_init(&run->seen_mu, NULL);
    pthread_mutex_init(&run->psi_mu, NULL);
    run->self = getpid();
    run->started_ns = pb_now_ns();
    atomic_store(&pbh__stale_callbacks, 0);
    atomic_store(&run->rss_peak_kb, 0);

    int rc = 0;
    const char *why = NULL;
    json_t *case_json = NULL;
    watchdog wd = {0};
    pbh_snapshot base;
    memset(&base, 0, sizeof base);
    bool have_base = false;

    if (!run->o.backend || !pb_backend_summary(run->o.backend)) {
        snprintf(err, errlen, "unknown backend '%s'", run->o.backend ? run->o.backend : "(null)");
        rc = PB_ENOENT;
        goto fail_early;
    }
    /* The workloads the probe runs by name; referencing them also links
     * bench/workloads.c into the program. */
    pb_workload("checksum");
    pb_workload("echo");
    pb_workload("fail");
    pb_workload("crash");
    pb_workload("hang");
    pb_workload("sleep");
    pb_workload("spin");
    run->probe = pbh__probe_task();
    if (!run->probe) {
        snprintf(err, errlen, "the stress_probe task is not registered");
        rc = PB_ENOENT;
        goto fail_early;
    }
    if ((rc = pbh__probe_table_open(err, errlen)) != 0)
        goto fail_early;

    run->nactors = run->o.threads + 1;
    run->actors = calloc((size_t)run->nactors, sizeof *run->actors);
    if (!run->actors) {
        rc = PB_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail_table;
    }
    for (int i = 0; i < run->nactors; i++)
        if ((rc = pbh__actor_init(&run->actors[i], run, i)) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail_table;
        }
    pbh_actor *main_actor = &run->actors[0];

    /* The watchdog watches from here on, the warm-up included. */
    if ((rc = watchdog_start(&wd, run)) != 0) {
        snprintf(err, errlen, "cannot start the watchdog thread: %s", strerror(-rc));
        goto fail_table;
    }
    pbh_opdesc wu = {.kind = PBH_OP_WARMUP};
    pbh__op_begin(main_actor, &wu);
    rc = warm_up(run, err, errlen);
    pbh__op_end(main_actor);
    if (rc != 0)
        goto fail_watchdog;
    unsigned possible = run->in_process ? (unsigned)PBH_FAULT_IN_PROCESS : (unsigned)PBH_FAULT_ALL;
    /* A backend whose worker's death ends the program (mpi: a dead rank ends
     * the MPI job) gets no crash and no kill. */
    const char *fatal = pb_backend_unsupported(run->o.backend, "crash_recovery");
    if (fatal)
        possible &= ~(unsigned)(PBH_FAULT_SEGV | PBH_FAULT_ABORT | PBH_FAULT_EXIT | PBH_FAULT_KILL);
    run->faults = run->o.faults & possible;
    if (run->o.faults & ~possible) {
        char dropped[128];
        pbh_stress_faults_text(run->o.faults & ~possible, dropped, sizeof dropped);
        if (fatal)
            pbh__note(run, "no crash recovery (%s), so these faults are not injected: %s", fatal,
                      dropped);
        else
            pbh__note(run, "tasks run in this process, so these faults are not injected: %s",
                      dropped);
    }

    pthread_mutex_lock(&sys_mu);
    int sr = pbh__snapshot(&base);
    pthread_mutex_unlock(&sys_mu);
    have_base = sr == 0;
    if (!have_base)
        pbh__note(run, "cannot inspect /proc/self: leak checks are off (%s)", strerror(-sr));
    atomic_store(&run->rss_peak_kb, base.rss_kb);

    pbh_opdesc cr = {.kind = PBH_OP_CREATE};
    pbh__op_begin(main_actor, &cr);
    rc = create_pool(run, main_actor, err, errlen);
    pbh__op_end(main_actor);
    if (rc != 0)
        goto fail_watchdog;
    json_t *binding = binding_json(run);

    if (!run->o.quiet) {
        char faults[128];
        pbh_stress_faults_text(run->faults, faults, sizeof faults);
        fprintf(logf_(run),
                "poolbench stress: %s: %d worker%s, %d submitter thread%s, %g s, faults %s, "
                "task_timeout %s, max_tasks_per_worker %u, seed %llu\n",
                run->o.backend, run->workers, run->workers == 1 ? "" : "s", run->o.threads,
                run->o.threads == 1 ? "" : "s", run->o.duration_s, faults,
                run->task_timeout ? "on" : "off", run->max_tasks,
                (unsigned long long)run->o.seed);
        fflush(logf_(run));
    }

    int started = 1;
    for (; started < run->nactors; started++)
        if (pthread_create(&run->actors[started].thread, NULL, pbh__submitter_main,
                           &run->actors[started]) != 0)
            break;
    if (started < run->nactors) {
        /* Run with the threads that did start; say so. */
        pbh__note(run, "could start only %d of %d submitter threads", started - 1, run->o.threads);
        run->nactors = started;
    }

    /* 4. Let the submitters work. */
    int64_t deadline = run->started_ns + (int64_t)(run->o.duration_s * 1e9);
    bool interrupted = false;
    while (pb_now_ns() < deadline && !all_finished(run)) {
        if (run->o.stop_requested && run->o.stop_requested(run->o.stop_ud)) {
            interrupted = true;
            break;
        }
        struct timespec ts = {0, 20 * MS};
        nanosleep(&ts, NULL);
    }

    /* 5. The end, drawn from the seed like everything else. */
    pbh__op_health(main_actor);
    bool racing = pbh__rng_below(&main_actor->rng, 2) == 0;
    bool wait = pbh__rng_below(&main_actor->rng, 2) == 0;
    bool cancel = pbh__rng_below(&main_actor->rng, 2) == 0;
    size_t tail = (size_t)pbh__rng_range(&main_actor->rng, 8, PBH_LIVE_MAX);
    if (racing) {
        atomic_store(&run->stopping, true);
        shutdown_op(run, main_actor, wait, cancel, true);
        stop_submitters(run);
    } else {
        stop_submitters(run);
        pbh__op_tail(main_actor, tail);
        shutdown_op(run, main_actor, wait, cancel, false);
    }
    check_refused(run, main_actor);

    /* 6. Destroy, then what must hold once the pool is gone. */
    pbh_opdesc dd = {.kind = PBH_OP_DESTROY};
    pbh__op_begin(main_actor, &dd);
    pb_pool_destroy(run->pool);
    run->pool = NULL;
    pbh__op_end(main_actor);
    for (int i = 0; i < run->nactors; i++)
        pbh__actor_final(&run->actors[i]);
    uint64_t stale = atomic_load(&pbh__stale_callbacks);
    if (stale)
        pbh__violation(run, NULL, PBH_CHECK_CALLBACKS,
                       "%llu callback%s ran for a future that had been retired long before "
                       "(a callback ran twice, or very late)",
                       (unsigned long long)stale, stale == 1 ? "" : "s");

    uint64_t followed, last_ones;
    count_faults(run, &followed, &last_ones);
    totals t;
    sum_counts(run, &t);
    /* Records and buffers go before the memory check. */
    for (int i = 0; i < run->nactors; i++)
        pbh__actor_free(&run->actors[i]);

    rss_info rss = {.start_kb = have_base ? base.rss_kb : -1, .end_kb = -1};
    if (have_base)
        check_leaks(run, &base, &rss.end_kb);
    watchdog_stop(&wd);
    rss.peak_kb = atomic_load(&run->rss_peak_kb);
    if (rss.end_kb > rss.peak_kb)
        rss.peak_kb = rss.end_kb;
    pbh__snapshot_free(&base);
    uint64_t survived = followed + (clean_end(run) ? last_ones : 0);

    case_json = build_case(run, &t, survived, &rss, NULL, binding);
    out->operations = t.operations;
    out->futures = t.c.futures;
    out->faults_injected = t.injected;
    out->faults_survived = survived;
    out->violations = run->violations;
    out->faults = run->faults;
    out->interrupted = interrupted;
    out->case_json = case_json;
    if (!run->o.quiet) {
        fprintf(logf_(run),
                "poolbench stress: %s: %llu operations, %llu futures, faults %llu injected / "
                "%llu survived, %llu violation%s\n",
                run->o.backend, (unsigned long long)t.operations,
                (unsigned long long)t.c.futures, (unsigned long long)t.injected,
                (unsigned long long)survived, (unsigned long long)run->violations,
                run->violations == 1 ? "" : "s");
        fflush(logf_(run));
    }
    pbh__probe_table_close();
    run_free(run);
    free(run);
    return 0;

fail_watchdog:
    watchdog_stop(&wd);
    pbh__snapshot_free(&base);
fail_table:
    pbh__probe_table_close();
fail_early:
    why = err;
    {
        totals t0;
        memset(&t0, 0, sizeof t0);
        if (run->actors)
            sum_counts(run, &t0);
        case_json = build_case(run, &t0, 0, NULL, why, NULL);
        fill_result(run, out, case_json, 0);
    }
    run_free(run);
    free(run);
    return rc ? rc : PB_EINVAL;
}
