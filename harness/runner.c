/*
 * runner.c — executing the plan: backends probed, cases run repetition by
 * repetition, samples summarised, the results document assembled. The
 * scenario context (pb_sc, bench/scenario.h) is implemented here.
 *
 * See runner.h for the order of the run and what an interruption does.
 *
 * Backends are probed once before anything is measured: a pool is created
 * with the run's options and one `report` task tells where its tasks run.
 * That answers three questions through the public API alone, so a pool
 * plugged in with --load is treated like ours: can this backend run with
 * these options at all (a pin policy it refuses is a usage error; an option
 * it cannot honour skips its cases with the reason); do its tasks run in the
 * harness's process (which floor it is held against, and whether the crash
 * scenarios may run); and which CPUs its workers are bound to, which the
 * floor measurements then use for their second party.
 *
 * Memory: samples of every cell are kept until the end (the statistics want
 * all of them, and per-repetition medians for significance tests). A cell's
 * metric keeps one array per measured repetition; warm-ups write into a
 * scratch array that is reused.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cost.h"
#include "progress.h"
#include "rng.h"
#include "runner.h"
#include "workloads.h"

volatile sig_atomic_t pbh_stop;

enum { CELL_RUNNING, CELL_SKIPPED, CELL_FAILED, CELL_DEADLOCK };

typedef struct pbh_metric {
    char *name;
    char unit[16];
    pbr_better better;
    pb_samples *reps; /* [repetitions] */
    pb_samples scratch;
    unsigned token;   /* the repetition that last asked for it */
} pbh_metric;

typedef struct pbh_check {
    char *name;
    char *reason;     /* the first failure's */
    char *evidence;   /* the message of the last call (what the check saw) */
    int reps_seen, reps_failed;
    unsigned token;
    bool failed_now;  /* failed in the repetition `token` */
} pbh_check;

typedef struct pbh_backend {
    const char *name;
    int create_rc;    /* of the probe pool */
    char *create_error;
    int in_process;   /* 1, 0, -1 unknown */
    bool spins;       /* pb_pool_spins() of the probe pool */
    int workers;
    char **bindings;  /* per worker, NULL when unknown */
    json_t *info;     /* what pb_pool_describe() said, or NULL */
    char *cost_hidden; /* why its processes' cost cannot be measured, or NULL */
} pbh_backend;

typedef struct pbh_cell {
    const pbh_case *c;
    const char *backend; /* "floor" for floor cells */
    pbh_backend *info;   /* NULL for floor cells */
    int state;
    char *reason;
    pbh_metric **metrics; /* each allocated alone: scenarios hold pointers into them */
    size_t nmetrics;
    pbh_check *checks;
    size_t nchecks;
    char **binding;      /* per worker, from the first pool; NULL: none recorded */
    int nbinding;
    int on_binding;      /* -1 unknown, 0 no, 1 yes */
    int reps_done;
    int deadlock_depth;  /* CELL_DEADLOCK: where */
    char *untrusted;     /* why its metrics cannot be trusted (pb_sc_untrusted), or NULL */
} pbh_cell;

typedef struct pbh_runner {
    const pbh_config *cfg;
    pbh_backend *backends;
    cpu_set_t *floor_cpus; /* per worker; NULL when unbound */
    int nfloor_cpus;
    unsigned token;
    pbh_progress progress;
} pbh_runner;

struct pb_sc {
    pbh_runner *r;
    pbh_cell *cell;
    int rep;
    pb_pool *pool;
    pbh_meter *meter; /* what the pool spends (cost.c) */
    pb_rng rng;
    pthread_mutex_t lock;
    int verdict;      /* 0, PB_SC_SKIPPED, PB_SC_DEADLOCK, or a negative code */
    int depth;        /* PB_SC_DEADLOCK: where */
    char reason[512];
};

/* ---- Small helpers ---- */

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

/* Parses a CPU list ("0,2-3") into set. Returns 0 or -1. */
static int parse_cpulist(const char *list, cpu_set_t *set)
{
    CPU_ZERO(set);
    const char *p = list;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0 || a >= CPU_SETSIZE)
            return -1;
        b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p || b < a || b >= CPU_SETSIZE)
                return -1;
        }
        for (long i = a; i <= b; i++)
            CPU_SET((int)i, set);
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return 0;
}

static uint64_t fnv(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* ---- The scenario context ---- */

const char *pb_sc_backend(const pb_sc *sc)
{
    return sc->cell->backend;
}

static size_t param_index(const pb_sc *sc, const char *param)
{
    const pb_scenario *s = sc->cell->c->scenario;
    for (size_t i = 0; i < sc->cell->c->nvalues; i++)
        if (!strcmp(s->params[i].name, param))
            return i;
    fprintf(stderr, "poolbench: internal error: scenario '%s' has no parameter '%s'\n", s->name,
            param);
    abort();
}

int64_t pb_sc_num(const pb_sc *sc, const char *param)
{
    return sc->cell->c->values[param_index(sc, param)].num;
}

const char *pb_sc_word(const pb_sc *sc, const char *param)
{
    const char *w = sc->cell->c->values[param_index(sc, param)].word;
    return w ? w : "";
}

int pb_sc_repetition(const pb_sc *sc)
{
    return sc->rep;
}

bool pb_sc_warmup(const pb_sc *sc)
{
    return sc->rep < 0;
}

bool pb_sc_stopping(const pb_sc *sc)
{
    (void)sc;
    return pbh_stop != 0;
}

uint64_t pb_sc_random(pb_sc *sc)
{
    return pb_rng_next(&sc->rng);
}

void pb_sc_pool_opts(const pb_sc *sc, pb_pool_opts *opts)
{
    pb_pool_opts_init(opts);
    opts->workers = sc->r->cfg->workers;
    opts->pin = sc->r->cfg->pin;
}

pb_pool *pb_sc_pool(pb_sc *sc)
{
    return sc->pool;
}

pbh_meter *pbh_sc_meter(pb_sc *sc)
{
    return sc->meter;
}

static void set_verdict(pb_sc *sc, int verdict, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&sc->lock);
    if (sc->verdict == 0) {
        sc->verdict = verdict;
        vsnprintf(sc->reason, sizeof sc->reason, fmt, ap);
    }
    pthread_mutex_unlock(&sc->lock);
}

int pb_sc_skip(pb_sc *sc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_verdict(sc, PB_SC_SKIPPED, fmt, ap);
    va_end(ap);
    return PB_SC_SKIPPED;
}

int pb_sc_fail(pb_sc *sc, int code, const char *fmt, ...)
{
    if (code >= 0)
        code = PB_EINVAL;
    va_list ap;
    va_start(ap, fmt);
    set_verdict(sc, code, fmt, ap);
    va_end(ap);
    return code;
}

int pb_sc_deadlock(pb_sc *sc, int depth, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_verdict(sc, PB_SC_DEADLOCK, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&sc->lock);
    if (sc->verdict == PB_SC_DEADLOCK)
        sc->depth = depth;
    pthread_mutex_unlock(&sc->lock);
    return PB_SC_DEADLOCK;
}

void pb_sc_untrusted(pb_sc *sc, const char *fmt, ...)
{
    if (sc->rep < 0)
        return;
    pthread_mutex_lock(&sc->lock);
    if (!sc->cell->untrusted) {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        sc->cell->untrusted = xstrdup(why);
    }
    pthread_mutex_unlock(&sc->lock);
}

int pb_sc_outcome(int code)
{
    return code == PB_ENOTSUP ? PB_SC_SKIPPED : code;
}

static void record_binding(pbh_cell *cell, pb_pool *pool)
{
    if (cell->binding)
        return;
    int n = pb_pool_workers(pool);
    if (n <= 0)
        return;
    char **b = calloc((size_t)n, sizeof *b);
    if (!b)
        return;
    for (int i = 0; i < n; i++) {
        char buf[1024];
        int rc = pb_pool_binding(pool, i, buf, sizeof buf);
        /* PB_ENOTSUP: the backend cannot tell; recorded as unbound (""), and
         * the probe then has no binding to hold tasks against. */
        b[i] = xstrdup(rc == 0 ? buf : "");
    }
    cell->binding = b;
    cell->nbinding = n;
}

int pb_sc_pool_create(pb_sc *sc, const pb_pool_opts *opts, pb_pool **out)
{
    pb_pool_opts def;
    if (!opts) {
        pb_sc_pool_opts(sc, &def);
        opts = &def;
    }
    if (sc->meter)
        pbh_meter_baseline(sc->meter); /* what the process held before this pool */
    int rc = pb_pool_create(sc->cell->backend, opts, out);
    if (rc == PB_ENOTSUP) {
        pb_sc_skip(sc, "backend '%s' cannot run this: %s", sc->cell->backend, pb_pool_last_error());
        return rc;
    }
    if (rc) {
        const char *why = pb_pool_last_error();
        pb_sc_fail(sc, rc, "pb_pool_create failed: %s%s%s", pb_strerror(rc), *why ? ": " : "", why);
        return rc;
    }
    record_binding(sc->cell, *out);
    return 0;
}

int pb_sc_probe(pb_sc *sc, pb_pool *pool)
{
    int workers = pb_pool_workers(pool);
    if (workers <= 0)
        return 0;
    /* Where each worker may run. A backend that cannot tell leaves the
     * question open (tasks_on_binding stays unknown). */
    cpu_set_t *allowed = calloc((size_t)workers, sizeof *allowed);
    if (!allowed)
        return PB_ENOMEM;
    bool known = true;
    for (int i = 0; i < workers && known; i++) {
        char buf[1024];
        int rc = pb_pool_binding(pool, i, buf, sizeof buf);
        if (rc != 0 || (*buf && parse_cpulist(buf, &allowed[i]) != 0))
            known = false;
        else if (!*buf)
            sched_getaffinity(0, sizeof allowed[i], &allowed[i]); /* unbound: anywhere we may run */
    }
    if (!known) {
        free(allowed);
        return 0;
    }

    /* A few tasks per worker, each busy for a moment so they spread over
     * every worker rather than one fast worker taking them all. */
    enum { PER_WORKER = 4 };
    size_t n = (size_t)workers * PER_WORKER;
    pb_future **fs = calloc(n, sizeof *fs);
    pb_report *reps = calloc(n, sizeof *reps);
    int rc = fs && reps ? 0 : PB_ENOMEM;
    int64_t spin = 200000;
    size_t submitted = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = pb_submit(pool, pb_workload("report"), &spin, sizeof spin, &fs[i]);
        if (!rc)
            submitted++;
    }
    size_t got = 0;
    for (size_t i = 0; i < submitted; i++) {
        const void *data;
        size_t len;
        if (pb_future_result(fs[i], PB_FOREVER, &data, &len) == 0 && len == sizeof(pb_report))
            memcpy(&reps[got++], data, sizeof(pb_report));
        pb_future_release(fs[i]);
    }
    /* Each executor (pid, tid) must have stayed within one worker's
     * binding: we do not know which worker ran which task, but an executor
     * that ran on CPUs no single worker may use was not bound as reported. */
    bool ok = got > 0;
    for (size_t i = 0; i < got && ok; i++) {
        if (reps[i].cpu < 0)
            continue;
        bool fits = false;
        for (int w = 0; w < workers && !fits; w++) {
            bool all = true;
            for (size_t j = 0; j < got && all; j++)
                if (reps[j].pid == reps[i].pid && reps[j].tid == reps[i].tid && reps[j].cpu >= 0)
                    all = CPU_ISSET(reps[j].cpu, &allowed[w]);
            fits = all;
        }
        ok = fits;
    }
    if (got > 0) {
        pthread_mutex_lock(&sc->lock);
        if (sc->cell->on_binding != 0)
            sc->cell->on_binding = ok ? 1 : 0;
        pthread_mutex_unlock(&sc->lock);
    }
    free(fs);
    free(reps);
    free(allowed);
    return rc;
}

pb_samples *pb_sc_metric(pb_sc *sc, const char *name, const char *unit, pbr_better better,
                         size_t reserve)
{
    pthread_mutex_lock(&sc->lock);
    pbh_cell *cell = sc->cell;
    pbh_metric *m = NULL;
    for (size_t i = 0; i < cell->nmetrics; i++)
        if (!strcmp(cell->metrics[i]->name, name))
            m = cell->metrics[i];
    if (!m) {
        pbh_metric **grown = realloc(cell->metrics, (cell->nmetrics + 1) * sizeof *grown);
        if (!grown)
            goto nomem;
        cell->metrics = grown;
        m = calloc(1, sizeof *m);
        if (!m)
            goto nomem;
        m->name = strdup(name);
        m->reps = calloc((size_t)sc->r->cfg->repetitions, sizeof *m->reps);
        if (!m->name || !m->reps) {
            free(m->name);
            free(m->reps);
            free(m);
            goto nomem;
        }
        snprintf(m->unit, sizeof m->unit, "%s", unit);
        m->better = better;
        cell->metrics[cell->nmetrics++] = m;
    }
    pb_samples *s = sc->rep < 0 ? &m->scratch : &m->reps[sc->rep];
    if (m->token != sc->r->token) {
        m->token = sc->r->token;
        s->n = 0; /* a warm-up's scratch samples are thrown away */
    }
    if (s->cap < s->n + reserve) {
        double *grown = realloc(s->v, (s->n + reserve) * sizeof *grown);
        if (!grown)
            goto nomem;
        s->v = grown;
        s->cap = s->n + reserve;
    }
    pthread_mutex_unlock(&sc->lock);
    return s;
nomem:
    pthread_mutex_unlock(&sc->lock);
    pb_sc_fail(sc, PB_ENOMEM, "out of memory for the samples of '%s'", name);
    return NULL;
}

void pb_sc_check(pb_sc *sc, const char *name, bool passed, const char *fmt, ...)
{
    pthread_mutex_lock(&sc->lock);
    pbh_cell *cell = sc->cell;
    pbh_check *c = NULL;
    for (size_t i = 0; i < cell->nchecks; i++)
        if (!strcmp(cell->checks[i].name, name))
            c = &cell->checks[i];
    if (!c) {
        pbh_check *grown = realloc(cell->checks, (cell->nchecks + 1) * sizeof *grown);
        char *n = strdup(name);
        if (!grown || !n) {
            free(n);
            if (grown)
                cell->checks = grown;
            pthread_mutex_unlock(&sc->lock);
            pb_sc_fail(sc, PB_ENOMEM, "out of memory recording check '%s'", name);
            return;
        }
        cell->checks = grown;
        c = &cell->checks[cell->nchecks++];
        memset(c, 0, sizeof *c);
        c->name = n;
    }
    if (c->token != sc->r->token) {
        c->token = sc->r->token;
        c->reps_seen++;
        c->failed_now = false;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* A failure's message stays the evidence of its repetition. */
    if (!passed || !c->failed_now) {
        char *e = strdup(buf);
        if (e) {
            free(c->evidence);
            c->evidence = e;
        }
    }
    if (!passed && !c->failed_now) {
        c->failed_now = true;
        c->reps_failed++;
        if (!c->reason)
            c->reason = strdup(buf);
    }
    pthread_mutex_unlock(&sc->lock);
}

int pb_sc_floor_cpus(const pb_sc *sc, int worker, void *set)
{
    const pbh_runner *r = sc->r;
    if (!r->floor_cpus || r->nfloor_cpus <= 0)
        return 0;
    *(cpu_set_t *)set = r->floor_cpus[worker % r->nfloor_cpus];
    return 1;
}

/* ---- Probing backends ---- */

static void free_backends(pbh_runner *r)
{
    for (size_t i = 0; r->backends && i < r->cfg->nbackends; i++) {
        pbh_backend *b = &r->backends[i];
        free(b->create_error);
        free(b->cost_hidden);
        json_decref(b->info);
        for (int w = 0; b->bindings && w < b->workers; w++)
            free(b->bindings[w]);
        free(b->bindings);
    }
    free(r->backends);
    free(r->floor_cpus);
}

/* Returns 0, or PB_EINVAL (err set) when the run's options are invalid. */
static int probe_backends(pbh_runner *r, char *err, size_t errlen)
{
    const pbh_config *cfg = r->cfg;
    r->backends = calloc(cfg->nbackends ? cfg->nbackends : 1, sizeof *r->backends);
    if (!r->backends)
        return PB_ENOMEM;
    for (size_t i = 0; i < cfg->nbackends; i++) {
        pbh_backend *b = &r->backends[i];
        b->name = cfg->backends[i];
        b->in_process = -1;
        pb_pool_opts opts;
        pb_pool_opts_init(&opts);
        opts.workers = cfg->workers;
        opts.pin = cfg->pin;
        pb_pool *pool;
        b->create_rc = pb_pool_create(b->name, &opts, &pool);
        if (b->create_rc == PB_EINVAL) {
            snprintf(err, errlen, "backend '%s' refuses this pool (--pin '%s', --workers %d): %s",
                     b->name, cfg->pin, cfg->workers, pb_pool_last_error());
            return PB_EINVAL;
        }
        if (b->create_rc) {
            const char *why = pb_pool_last_error();
            char msg[512];
            snprintf(msg, sizeof msg, "%s%s%s", pb_strerror(b->create_rc), *why ? ": " : "", why);
            b->create_error = xstrdup(msg);
            continue;
        }
        b->workers = pb_pool_workers(pool);
        b->spins = pb_pool_spins(pool);
        /* What the backend says its results should carry (the mpi backend:
         * ranks, hosts, MCA settings, and whether its timings can be trusted
         * on this machine). */
        size_t info_size = 1 << 16; /* room for an MPI job of a thousand hosts */
        char *info = malloc(info_size);
        if (info && pb_pool_describe(pool, info, info_size) > 0)
            b->info = json_loads(info, 0, NULL);
        free(info);
        b->bindings = calloc((size_t)(b->workers > 0 ? b->workers : 1), sizeof *b->bindings);
        for (int w = 0; b->bindings && w < b->workers; w++) {
            char buf[1024];
            b->bindings[w] = pb_pool_binding(pool, w, buf, sizeof buf) == 0 ? xstrdup(buf) : NULL;
        }
        pb_future *f;
        const void *data;
        size_t len;
        if (pb_submit(pool, pb_workload("report"), NULL, 0, &f) == 0) {
            if (pb_future_result(f, PB_FOREVER, &data, &len) == 0 && len == sizeof(pb_report)) {
                pb_report rep;
                memcpy(&rep, data, sizeof rep);
                b->in_process = rep.pid == (int32_t)getpid();
                /* A worker that is not our descendant (an MPI rank) cannot
                 * be measured from here: its cases say so (cost.c). */
                char why[256];
                snprintf(why, sizeof why,
                         "its tasks ran in process %d, which does not descend from poolbench "
                         "(started by a launcher such as mpiexec, perhaps on another host): "
                         "the CPU time and memory of its workers cannot be read from here",
                         (int)rep.pid);
                if (!b->in_process && !pbh_cost_descends((pid_t)rep.pid))
                    b->cost_hidden = xstrdup(why);
            }
            pb_future_release(f);
        }
        pb_pool_destroy(pool);

        /* The floor's second party sits where these workers sit (the first
         * backend that reports a binding decides; they all share one
         * placement). */
        bool bound = false;
        for (int w = 0; b->bindings && w < b->workers; w++)
            bound |= b->bindings[w] && *b->bindings[w];
        if (bound && !r->floor_cpus) {
            r->floor_cpus = calloc((size_t)b->workers, sizeof *r->floor_cpus);
            if (!r->floor_cpus)
                return PB_ENOMEM;
            r->nfloor_cpus = b->workers;
            for (int w = 0; w < b->workers; w++)
                if (!b->bindings[w] || !*b->bindings[w] ||
                    parse_cpulist(b->bindings[w], &r->floor_cpus[w]) != 0)
                    sched_getaffinity(0, sizeof r->floor_cpus[w], &r->floor_cpus[w]);
        }
    }
    return 0;
}

/* ---- Cells ---- */

static void free_cell(pbh_cell *cell, int reps)
{
    free(cell->reason);
    free(cell->untrusted);
    for (size_t i = 0; i < cell->nmetrics; i++) {
        pbh_metric *m = cell->metrics[i];
        for (int r = 0; r < reps; r++)
            free(m->reps[r].v);
        free(m->reps);
        free(m->scratch.v);
        free(m->name);
        free(m);
    }
    free(cell->metrics);
    for (size_t i = 0; i < cell->nchecks; i++) {
        free(cell->checks[i].name);
        free(cell->checks[i].reason);
        free(cell->checks[i].evidence);
    }
    free(cell->checks);
    for (int i = 0; cell->binding && i < cell->nbinding; i++)
        free(cell->binding[i]);
    free(cell->binding);
}

static void cell_end(pbh_cell *cell, int state, const char *reason)
{
    if (cell->state != CELL_RUNNING)
        return;
    cell->state = state;
    free(cell->reason);
    cell->reason = xstrdup(reason);
}

static void init_cell(pbh_cell *cell, const pbh_case *c, pbh_backend *b)
{
    memset(cell, 0, sizeof *cell);
    cell->c = c;
    cell->backend = b ? b->name : "floor";
    cell->info = b;
    cell->state = CELL_RUNNING;
    cell->on_binding = -1;
    if (!b)
        return;
    if (b->create_rc) {
        char msg[600];
        snprintf(msg, sizeof msg, "backend '%s' cannot create a pool with the run's options: %s",
                 b->name, b->create_error ? b->create_error : "");
        cell_end(cell, b->create_rc == PB_ENOTSUP ? CELL_SKIPPED : CELL_FAILED, msg);
        return;
    }
    if ((c->scenario->flags & PB_SC_NEEDS_PROCESS) && b->in_process != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "needs %s; '%s' %s",
                 c->scenario->needs ? c->scenario->needs : "workers in other processes", b->name,
                 b->in_process == 1 ? "runs its tasks inside poolbench (a crash would end the run)"
                                    : "could not be asked where its tasks run");
        cell_end(cell, CELL_SKIPPED, msg);
    }
}

/* A NaN or infinite sample is a scenario's bug, and the results file
 * cannot hold one (JSON has no such numbers): fail the case naming the metric
 * instead of dropping the metric when it is written. Checked once per
 * repetition, outside anything measured. */
static void reject_nonfinite(pb_sc *sc, const pbh_cell *cell, int rep)
{
    for (size_t i = 0; i < cell->nmetrics; i++) {
        const pb_samples *v = &cell->metrics[i]->reps[rep];
        for (size_t k = 0; k < v->n; k++) {
            if (!isfinite(v->v[k])) {
                pb_sc_fail(sc, PB_EINVAL, "metric '%s': sample %zu of repetition %d is %g",
                           cell->metrics[i]->name, k, rep, v->v[k]);
                return;
            }
        }
    }
}

/* Runs one repetition of a cell. */
static void run_rep(pbh_runner *r, pbh_cell *cell, int rep)
{
    pb_sc sc;
    memset(&sc, 0, sizeof sc);
    sc.r = r;
    sc.cell = cell;
    sc.rep = rep;
    pthread_mutex_init(&sc.lock, NULL);
    /* Seeded by the case, not the backend: every backend gets the same
     * random task lengths, in the same order. */
    pb_rng_seed(&sc.rng, fnv(cell->c->label, 14695981039346656037ull), (uint64_t)(rep + 1000));
    r->token++;

    const pb_scenario *s = cell->c->scenario;
    int rc = pbh_meter_new(&sc.meter);
    if (rc == 0 && cell->info && cell->info->cost_hidden)
        pbh_meter_hide(sc.meter, cell->info->cost_hidden);
    if (rc == 0 && !(s->flags & (PB_SC_FLOOR | PB_SC_OWN_POOLS)))
        rc = pb_sc_pool_create(&sc, NULL, &sc.pool);
    if (rc == 0) {
        pbh_meter_watch(sc.meter, sc.pool);
        rc = s->run(&sc);
        pbh_cost_record(&sc, sc.meter);
        pbh_meter_watch(sc.meter, NULL);
    }
    if (sc.pool) {
        if (rc == 0 && sc.verdict == 0 && !pbh_stop) {
            int prc = pb_sc_probe(&sc, sc.pool);
            if (prc)
                pb_sc_fail(&sc, prc, "checking where tasks ran failed: %s", pb_strerror(prc));
        }
        pb_pool_destroy(sc.pool);
    }
    pbh_meter_free(sc.meter);
    pthread_mutex_destroy(&sc.lock);
    if (pbh_stop)
        return; /* the case is discarded */
    if (rep >= 0 && rc == 0 && sc.verdict == 0)
        reject_nonfinite(&sc, cell, rep);

    if (sc.verdict == PB_SC_SKIPPED || rc == PB_SC_SKIPPED) {
        cell_end(cell, CELL_SKIPPED, *sc.reason ? sc.reason : "skipped by the scenario");
    } else if (sc.verdict == PB_SC_DEADLOCK || rc == PB_SC_DEADLOCK) {
        cell->deadlock_depth = sc.depth;
        cell_end(cell, CELL_DEADLOCK, *sc.reason ? sc.reason : "deadlock");
    } else if (sc.verdict < 0 || rc < 0) {
        char msg[600];
        if (*sc.reason)
            snprintf(msg, sizeof msg, "%s", sc.reason);
        else
            snprintf(msg, sizeof msg, "the run failed: %s", pb_strerror(rc < 0 ? rc : sc.verdict));
        cell_end(cell, CELL_FAILED, msg);
    } else if (rep >= 0) {
        cell->reps_done++;
    }
}

/* ---- Results ---- */

static json_t *checks_json_new(const pbh_cell *cell, bool *any_failed)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < cell->nchecks; i++) {
        const pbh_check *c = &cell->checks[i];
        char reason[700] = "";
        if (c->reps_failed) {
            *any_failed = true;
            snprintf(reason, sizeof reason, "%s (failed in %d of %d repetitions)",
                     c->reason ? c->reason : "", c->reps_failed, c->reps_seen);
        }
        json_array_append_new(a, json_pack("{s:s, s:b, s:s, s:s}", "name", c->name, "passed",
                                           c->reps_failed == 0, "reason", reason, "evidence",
                                           c->evidence ? c->evidence : ""));
    }
    return a;
}

static json_t *metrics_json_new(const pbh_cell *cell, int reps)
{
    json_t *o = json_object();
    const double **ptrs = calloc((size_t)reps, sizeof *ptrs);
    size_t *lens = calloc((size_t)reps, sizeof *lens);
    for (size_t i = 0; o && ptrs && lens && i < cell->nmetrics; i++) {
        const pbh_metric *m = cell->metrics[i];
        size_t k = 0;
        for (int rr = 0; rr < reps; rr++)
            if (m->reps[rr].n) {
                ptrs[k] = m->reps[rr].v;
                lens[k++] = m->reps[rr].n;
            }
        if (!k)
            continue;
        /* Distributions (histograms) for per-operation latencies, where the
         * plots draw them; not for one-value-per-repetition rates. */
        bool hist = !strcmp(m->unit, "ns");
        json_t *mj = pbr_metric_new(m->unit, m->better, ptrs, lens, k, hist);
        if (mj)
            json_object_set_new(o, m->name, mj);
    }
    free(ptrs);
    free(lens);
    return o;
}

static json_t *case_json_new(const pbh_runner *r, const pbh_cell *cell, bool *failed)
{
    bool check_failed = false;
    json_t *checks = checks_json_new(cell, &check_failed);
    const char *outcome = "ok";
    char reason[800] = "";
    if (cell->state == CELL_SKIPPED) {
        outcome = "skipped";
        snprintf(reason, sizeof reason, "%s", cell->reason ? cell->reason : "");
    } else if (cell->state == CELL_FAILED) {
        outcome = "failed";
        snprintf(reason, sizeof reason, "%s", cell->reason ? cell->reason : "");
    } else if (cell->state == CELL_DEADLOCK) {
        outcome = "deadlock";
        snprintf(reason, sizeof reason, "%s", cell->reason ? cell->reason : "");
    } else if (check_failed) {
        outcome = "failed";
        for (size_t i = 0; i < cell->nchecks; i++)
            if (cell->checks[i].reps_failed) {
                snprintf(reason, sizeof reason, "check '%s' failed: %s", cell->checks[i].name,
                         cell->checks[i].reason ? cell->checks[i].reason : "");
                break;
            }
    }
    *failed = !strcmp(outcome, "failed");
    /* Failed checks that the backend documents as its library's own way
     * (backend.h, pb_departure) are recorded as failed, marked, and do not
     * fail the run. */
    const char *departure = NULL;
    if (*failed && cell->state != CELL_FAILED && check_failed) {
        for (size_t i = 0; i < cell->nchecks; i++) {
            if (!cell->checks[i].reps_failed)
                continue;
            const char *why = pb_backend_departure(cell->backend, cell->c->scenario->name,
                                                   cell->checks[i].name);
            if (!why) {
                departure = NULL;
                break;
            }
            departure = departure ? departure : why;
        }
        *failed = departure == NULL;
    }

    json_t *c = json_object();
    json_object_set_new(c, "backend", json_string(cell->backend));
    json_object_set_new(c, "scenario", json_string(cell->c->scenario->name));
    if (cell->c->scenario->headline)
        json_object_set_new(c, "headline", json_string(cell->c->scenario->headline));
    json_object_set_new(c, "params", pbh_case_params_json_new(cell->c));
    json_object_set_new(c, "outcome", json_string(outcome));
    json_object_set_new(c, "reason", json_string(reason));
    if (departure)
        json_object_set_new(c, "departure", json_string(departure));
    if (cell->state == CELL_DEADLOCK)
        json_object_set_new(c, "deadlock_depth", json_integer(cell->deadlock_depth));
    if (cell->info && cell->state != CELL_SKIPPED) {
        json_t *workers = json_array();
        for (int i = 0; cell->binding && i < cell->nbinding; i++)
            json_array_append_new(workers, json_string(cell->binding[i]));
        json_object_set_new(c, "binding",
                            json_pack("{s:s, s:o, s:o}", "policy", r->cfg->pin, "workers", workers,
                                      "tasks_on_binding",
                                      cell->on_binding < 0 ? json_null() : json_boolean(cell->on_binding)));
    }
    json_t *metrics = cell->state == CELL_SKIPPED ? json_object() : metrics_json_new(cell, r->cfg->repetitions);
    if (cell->info && cell->info->info && cell->state != CELL_SKIPPED) {
        json_object_set(c, "backend_info", cell->info->info);
        /* A backend that says its timings cannot be trusted here (more MPI
         * ranks spinning than PUs) gets every metric marked so. */
        if (json_is_string(json_object_get(cell->info->info, "untrusted"))) {
            const char *k;
            json_t *m;
            json_object_foreach(metrics, k, m)
                json_object_set_new(m, "trusted", json_false());
        }
    }
    if (cell->info && cell->info->cost_hidden && cell->state != CELL_SKIPPED)
        json_object_set_new(c, "unmeasured", json_string(cell->info->cost_hidden));
    if (cell->untrusted && cell->state != CELL_SKIPPED) {
        /* The scenario said its figures are not what they mean here. */
        json_object_set_new(c, "untrusted", json_string(cell->untrusted));
        const char *k;
        json_t *m;
        json_object_foreach(metrics, k, m)
            json_object_set_new(m, "trusted", json_false());
    }
    json_object_set_new(c, "metrics", metrics);
    json_object_set_new(c, "checks", cell->state == CELL_SKIPPED ? json_array() : checks);
    if (cell->state == CELL_SKIPPED)
        json_decref(checks);
    return c;
}

static bool backend_kind(const char *backend, void *ud, pbh_backend_kind *kind)
{
    const pbh_runner *r = ud;
    for (size_t i = 0; i < r->cfg->nbackends; i++)
        if (!strcmp(r->backends[i].name, backend) && r->backends[i].in_process >= 0) {
            kind->in_process = r->backends[i].in_process == 1;
            kind->spins = r->backends[i].spins;
            return true;
        }
    return false;
}

/* The run object as of now: complete only when said so. */
static json_t *run_json_new(const pbh_config *cfg, double started_unix, int64_t t_start,
                            bool complete)
{
    pbr_run_info info = {.kind = "run", .command = cfg->command, .suite = cfg->suite,
                         .started_unix = started_unix,
                         .duration_s = (double)(pb_now_ns() - t_start) / 1e9,
                         .complete = complete, .repetitions = cfg->repetitions,
                         .warmup = cfg->warmup, .workers = cfg->workers, .pin = cfg->pin};
    return pbr_run_new(&info);
}

int pbh_execute(const pbh_config *cfg, json_t **doc, pbh_outcome *out, char *err, size_t errlen)
{
    *doc = NULL;
    memset(out, 0, sizeof *out);
    pbh_runner r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;

    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    double started_unix = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    int64_t t_start = pb_now_ns();

    const pbh_plan *plan = cfg->plan;
    size_t total = 0;
    for (size_t i = 0; i < plan->ncases; i++)
        total += (plan->cases[i].scenario->flags & PB_SC_FLOOR ? 1 : cfg->nbackends) *
                 (size_t)(cfg->warmup + cfg->repetitions);
    pbh_progress_init(&r.progress, cfg->quiet, total);

    int rc = probe_backends(&r, err, errlen);
    if (rc) {
        if (rc == PB_ENOMEM)
            snprintf(err, errlen, "out of memory");
        free_backends(&r);
        return rc;
    }

    /* The document exists from the start, marked incomplete: each finished
     * case goes into it, and cfg->on_case may write it out. */
    json_t *env = pbr_environment_new();
    if (env && cfg->host)
        json_object_set_new(env, "host", json_string(cfg->host));
    json_t *d = pbr_document_new(run_json_new(cfg, started_unix, t_start, false), env);
    json_t *results = d ? json_object_get(d, "results") : NULL;
    char backends_text[512] = "";
    for (size_t i = 0; i < cfg->nbackends; i++) {
        size_t used = strlen(backends_text);
        snprintf(backends_text + used, sizeof backends_text - used, "%s%s", i ? ", " : "",
                 cfg->backends[i]);
    }

    pbh_cell *cells = calloc(cfg->nbackends + 1, sizeof *cells);
    if (!results || !cells) {
        json_decref(d);
        free(cells);
        free_backends(&r);
        snprintf(err, errlen, "out of memory");
        return PB_ENOMEM;
    }
    rc = 0;
    for (size_t ci = 0; ci < plan->ncases && !pbh_stop && !rc; ci++) {
        const pbh_case *c = &plan->cases[ci];
        bool floor = c->scenario->flags & PB_SC_FLOOR;
        size_t ncells = floor ? 1 : cfg->nbackends;
        for (size_t b = 0; b < ncells; b++)
            init_cell(&cells[b], c, floor ? NULL : &r.backends[b]);
        pbh_progress_case(&r.progress, ci, plan->ncases, c->label, floor ? "the floor" : backends_text);

        for (int rep = -cfg->warmup; rep < cfg->repetitions && !pbh_stop; rep++) {
            for (size_t b = 0; b < ncells && !pbh_stop; b++) {
                if (cells[b].state == CELL_RUNNING) {
                    char what[600];
                    snprintf(what, sizeof what, "%s %s, %s %d/%d", cells[b].backend, c->label,
                             rep < 0 ? "warm-up" : "repetition", rep < 0 ? rep + cfg->warmup + 1 : rep + 1,
                             rep < 0 ? cfg->warmup : cfg->repetitions);
                    pbh_progress_step(&r.progress, what);
                    run_rep(&r, &cells[b], rep);
                }
                pbh_progress_advance(&r.progress);
            }
        }
        if (!pbh_stop) {
            for (size_t b = 0; b < ncells; b++) {
                bool failed;
                json_t *cj = case_json_new(&r, &cells[b], &failed);
                if (cj) {
                    json_array_append_new(results, cj);
                    out->cases_written++;
                    out->cases_failed += failed;
                    if (failed)
                        pbh_progress_note(&r.progress, "poolbench: %s %s: failed: %s", cells[b].backend,
                                          c->label,
                                          json_string_value(json_object_get(cj, "reason")));
                }
            }
            if (cfg->on_case) {
                pbh_floor_annotate(results, backend_kind, &r);
                pbh_native_annotate(results);
                json_object_set_new(d, "run", run_json_new(cfg, started_unix, t_start, false));
                rc = cfg->on_case(cfg->on_case_ud, d, err, errlen);
            }
        }
        for (size_t b = 0; b < ncells; b++)
            free_cell(&cells[b], cfg->repetitions);
    }
    pbh_progress_finish(&r.progress);
    free(cells);
    out->interrupted = pbh_stop != 0;

    pbh_floor_annotate(results, backend_kind, &r);
    pbh_native_annotate(results);
    free_backends(&r);
    if (rc) {
        json_decref(d);
        return rc;
    }
    json_t *run = run_json_new(cfg, started_unix, t_start, !out->interrupted);
    if (!run || json_object_set_new(d, "run", run)) {
        json_decref(d);
        snprintf(err, errlen, "out of memory building the results document");
        return PB_ENOMEM;
    }
    double peak = pbh_cost_peak_rss();
    if (isfinite(peak))
        json_object_set_new(json_object_get(d, "environment"), "harness_peak_rss", json_real(peak));
    *doc = d;
    return 0;
}
