/*
 * pool.c — pools: the backend table, creation and option checks, submit,
 * shutdown and destroy.
 *
 * What every backend shares lives here, so a backend's create() gets options
 * that are already valid and complete (workers resolved, pin checked,
 * initializer found), and submit() is never called after shutdown began.
 *
 * Lifetime. A backend that helps waiters (pb_backend.help) may be called by
 * a thread blocked in pb_future_result() on one of its futures, however that
 * races with pb_pool_destroy(). So every future of such a pool holds a
 * reference to the pool's struct (`refs`), destroy marks the pool `closed`
 * and waits until no thread is inside help() (`helpers`; both sides
 * sequentially consistent) before it destroys the backend, and the struct
 * goes with the last future.
 *
 * Backends: the built-in ones are listed in backends.c; others arrive through
 * pb_backend_register(). The list only grows; the names array handed out by
 * pb_backend_names() is rebuilt under a lock on registration (documented as
 * valid until the next registration). Module backends (backends.c's second
 * table) are named without being loaded; pb_backend_find() dlopens one the
 * first time it is asked for, from the directory "poolbench" next to the
 * file libpbpools was loaded from (the same layout in the build tree and in
 * an installed tree), and never unloads it.
 *
 * Launched processes. A module backend whose workers are started by a
 * launcher (mpi: mpiexec starts every rank with the same program) is loaded
 * by pb_worker_main_if_requested() as soon as the launcher's variable is in
 * the environment, so that its ranks can become workers first thing. The
 * variable is inherited by every process a rank starts (a fork worker, the
 * floor's spawned child, a program a task runs), which must not take itself
 * for a rank: the launched process writes its pid into PB_LAUNCHED_PID before
 * anything else, and a process that finds another pid there is a descendant.
 *
 * Debug builds assert the promises backends rely on: a future reaches
 * submit() PENDING, a created pool has at least one worker, and destroy
 * runs only after shutdown has been marked.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <assert.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core-int.h"
#include "placement-int.h"

#define PB__BACKENDS_MAX 64

extern const pb_backend *const pb__builtin_backends[]; /* backends.c, NULL-terminated */
extern pb__module_backend pb__module_backends[];        /* backends.c, name NULL ends it */

struct pb_pool {
    const pb_backend *backend;
    void *state;
    int workers;
    _Atomic bool shut;
    unsigned forks; /* fork_count when created: another value means a forked copy */
    /* With a backend that helps waiters: the owner's reference plus one per
     * future alive; the threads inside help(); whether destroy began. */
    _Atomic int refs;
    _Atomic uint32_t helpers;
    _Atomic bool closed;
};

#ifdef PB_TEST_KNOBS
/* A test-only knob, compiled in only with -DPB_TEST_KNOBS=ON (never in a
 * normal build): PB_TEST_SLOWDOWN="BACKEND:PCT" makes the process workers of
 * that backend (fork or exec) PCT percent slower: before each task a worker
 * spins PCT% of the time since it took the task before (its cycle: for one
 * task in flight, the round trip; in a burst, a task's share), less what it
 * spun then, and at most PCT% of 1 ms — a planted slowdown of known size,
 * whatever the round trip's own length, to prove that a regression gate
 * (poolbench ab) catches it. It spins in the worker, while the caller waits
 * as it always does: a delay in the caller (spinning after its result came
 * in) keeps the caller's CPU awake and, on a virtual machine whose idle
 * CPUs wake slowly, made the next round trip faster, not slower. */
double pb__test_slowdown_of(const char *backend)
{
    const char *v = getenv("PB_TEST_SLOWDOWN");
    const char *colon = v ? strchr(v, ':') : NULL;
    if (!colon || (size_t)(colon - v) != strlen(backend) || strncmp(v, backend, strlen(backend)))
        return 0;
    double pct = atof(colon + 1);
    return pct > 0 && pct < 100 ? pct : 0;
}
#endif

/* Forks of this process so far, counted in the child (pthread_atfork): a
 * pool whose `forks` differs is the copy a forked child (a fork worker)
 * inherited, with none of the pool's threads or workers behind it, and
 * pb_submit refuses it (pool.h, "Nested tasks"). */
static _Atomic unsigned fork_count;
static pthread_once_t fork_watch_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
    atomic_fetch_add_explicit(&fork_count, 1, memory_order_relaxed);
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, count_fork);
}

static pthread_mutex_t backends_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static const pb_backend *extra[PB__BACKENDS_MAX];
static size_t nextra;
static const char *names[PB__BACKENDS_MAX * 2 + 1];

static _Thread_local char last_error[512];

int pb_backend_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

const char *pb_pool_last_error(void)
{
    return last_error;
}

/* Loads module m if that was not tried yet; its backend, or NULL with
 * m->error saying why. Called with modules_lock held. */
static const pb_backend *module_load(pb__module_backend *m)
{
    if (m->loaded || m->error[0])
        return m->loaded;
    char path[PATH_MAX];
    Dl_info info;
    const char *self = dladdr((void *)&pb_backend_find, &info) ? info.dli_fname : NULL;
    const char *slash = self ? strrchr(self, '/') : NULL;
    if (slash)
        snprintf(path, sizeof path, "%.*s/poolbench/%s", (int)(slash - self), self, m->file);
    else
        snprintf(path, sizeof path, "%s", m->file); /* the loader's search path */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(m->error, sizeof m->error, "the %s backend could not be loaded: %s", m->name,
                 dlerror());
        return NULL;
    }
    const pb_backend *b = dlsym(h, m->symbol);
    if (!b || !b->name || strcmp(b->name, m->name) != 0) {
        snprintf(m->error, sizeof m->error, "the %s backend could not be loaded: %.200s has no %s",
                 m->name, path, m->symbol);
        dlclose(h);
        return NULL;
    }
    m->loaded = b;
    m->handle = h;
    return b;
}

static pb__module_backend *module_named(const char *name)
{
    for (pb__module_backend *m = pb__module_backends; m->name; m++)
        if (!strcmp(m->name, name))
            return m;
    return NULL;
}

/* The name part of a backend spec "name[:key=value,...]", into buf; false
 * when it does not fit (no such backend then). */
static bool spec_name(const char *spec, char *buf, size_t size)
{
    size_t n = strcspn(spec, ":");
    if (n >= size)
        return false;
    memcpy(buf, spec, n);
    buf[n] = 0;
    return true;
}

const pb_backend *pb_backend_find(const char *spec)
{
    char name[128];
    if (!spec || !spec_name(spec, name, sizeof name))
        return NULL;
    for (size_t i = 0; pb__builtin_backends[i]; i++)
        if (!strcmp(pb__builtin_backends[i]->name, name))
            return pb__builtin_backends[i];
    pb__module_backend *m = module_named(name);
    if (m) {
        pthread_mutex_lock(&modules_lock);
        const pb_backend *b = module_load(m);
        if (!b)
            pb_backend_error(PB_ENOENT, "%s", m->error);
        pthread_mutex_unlock(&modules_lock);
        return b;
    }
    const pb_backend *b = NULL;
    pthread_mutex_lock(&backends_lock);
    for (size_t i = 0; i < nextra && !b; i++)
        if (!strcmp(extra[i]->name, name))
            b = extra[i];
    pthread_mutex_unlock(&backends_lock);
    return b;
}

void *pb_backend_symbol(const char *backend, const char *symbol)
{
    char name[128];
    if (!backend || !symbol || !spec_name(backend, name, sizeof name))
        return NULL;
    pb__module_backend *m = module_named(name);
    if (!m)
        return NULL;
    pthread_mutex_lock(&modules_lock);
    void *sym = module_load(m) ? dlsym(m->handle, symbol) : NULL;
    pthread_mutex_unlock(&modules_lock);
    return sym;
}

#define LAUNCHED_MARK "PB_LAUNCHED_PID"

int pb__module_worker_main(int argc, char **argv)
{
    for (pb__module_backend *m = pb__module_backends; m->name; m++) {
        if (!m->launch_env || !m->worker_symbol || !getenv(m->launch_env))
            continue;
        char self[24];
        snprintf(self, sizeof self, "%ld", (long)getpid());
        const char *mark = getenv(LAUNCHED_MARK);
        if (mark && strcmp(mark, self) != 0)
            continue; /* started by a launched process, not by the launcher */
        if (setenv(LAUNCHED_MARK, self, 1) != 0)
            return pb_backend_error(PB_ENOMEM, "cannot set %s: out of memory", LAUNCHED_MARK);
        pthread_mutex_lock(&modules_lock);
        int (*entry)(int, char **) = NULL;
        int rc = 0;
        if (!module_load(m))
            rc = pb_backend_error(PB_ENOENT, "%s", m->error);
        else if (!(*(void **)&entry = dlsym(m->handle, m->worker_symbol)))
            rc = pb_backend_error(PB_ENOENT, "the %s module has no %s", m->name,
                                  m->worker_symbol);
        pthread_mutex_unlock(&modules_lock);
        return rc ? rc : entry(argc, argv);
    }
    return 0;
}

int pb_backend_register(const pb_backend *b)
{
    if (!b || !b->name || !*b->name || strpbrk(b->name, ":,=") || !b->create || !b->submit ||
        !b->shutdown || !b->destroy)
        return PB_EINVAL;
    if (module_named(b->name) || pb_backend_find(b->name)) /* names are unique */
        return PB_EINVAL;
    int r = 0;
    pthread_mutex_lock(&backends_lock);
    if (nextra == PB__BACKENDS_MAX)
        r = PB_ENOMEM;
    else
        extra[nextra++] = b;
    names[0] = NULL; /* rebuilt on next pb_backend_names() */
    pthread_mutex_unlock(&backends_lock);
    return r;
}

const char *const *pb_backend_names(void)
{
    pthread_mutex_lock(&backends_lock);
    if (!names[0]) {
        size_t k = 0;
        for (size_t i = 0; pb__builtin_backends[i]; i++)
            names[k++] = pb__builtin_backends[i]->name;
        for (pb__module_backend *m = pb__module_backends; m->name; m++)
            names[k++] = m->name;
        for (size_t i = 0; i < nextra; i++)
            names[k++] = extra[i]->name;
        names[k] = NULL;
    }
    pthread_mutex_unlock(&backends_lock);
    return names;
}

/* Why pools of b cannot be created in this process (message set), or NULL. */
static const char *unavailable(const pb_backend *b)
{
    const char *why = b->unavailable ? b->unavailable() : NULL;
    if (why)
        pb_backend_error(PB_ENOTSUP, "%s", why);
    return why;
}

const char *pb_backend_summary(const char *backend)
{
    const pb_backend *b = backend ? pb_backend_find(backend) : NULL;
    if (!b || unavailable(b))
        return NULL;
    return b->summary ? b->summary : "";
}

void pb_pool_opts_init(pb_pool_opts *opts)
{
    if (opts)
        memset(opts, 0, sizeof *opts);
}

static const char *unsupported_reason(const pb_backend *b, const char *option)
{
    for (const pb_unsupported *u = b->unsupported; u && u->option; u++)
        if (!strcmp(u->option, option))
            return u->reason;
    return NULL;
}

/* Refuses (PB_ENOTSUP, with the message) the first option o sets that b
 * declares unsupported; 0 when there is none. */
static int refuse_unsupported(const pb_backend *b, const pb_pool_opts *o)
{
    const struct {
        const char *option;
        bool set;
        const char *value; /* named in the message when the option is a word */
    } opts[] = {
        {"task_timeout", o->task_timeout != 0, NULL},
        {"max_tasks_per_worker", o->max_tasks_per_worker != 0, NULL},
        {"initializer", o->initializer != NULL, NULL},
        {"pin", strcmp(o->pin, "none") != 0, o->pin},
        {"worker_program", o->worker_program != NULL, NULL},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        const char *why = opts[i].set ? unsupported_reason(b, opts[i].option) : NULL;
        if (why)
            return pb_backend_error(PB_ENOTSUP, "%s backend: %s%s%s is not supported (%s)",
                                    b->name, opts[i].option, opts[i].value ? "=" : "",
                                    opts[i].value ? opts[i].value : "", why);
    }
    return 0;
}

/* The value of key[0..klen) in list ("key=value,..."), with its length in
 * *vlen; NULL when absent. */
static const char *option_value(const char *list, const char *key, size_t klen, size_t *vlen)
{
    for (const char *p = list; p && *p && klen;) {
        size_t len = strcspn(p, ",");
        if (len > klen && p[klen] == '=' && !strncmp(p, key, klen)) {
            if (vlen)
                *vlen = len - klen - 1;
            return p + klen + 1;
        }
        p += len;
        p += *p == ',';
    }
    return NULL;
}

static const pb_backend_option *option_named(const pb_backend *b, const char *key, size_t len)
{
    for (const pb_backend_option *d = b->options; d && d->key; d++)
        if (strlen(d->key) == len && !strncmp(d->key, key, len))
            return d;
    return NULL;
}

/* Appends the settings in list ("key=value,...", may be NULL) to buf,
 * checking each against b's declared options and against those already in
 * buf. 0 or PB_EINVAL with the message set. */
static int add_options(const pb_backend *b, const char *list, char *buf, size_t size)
{
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p || eq + 1 == p + len)
            return pb_backend_error(PB_EINVAL, "%s backend: '%.*s' is not key=value", b->name,
                                    (int)len, p);
        size_t klen = (size_t)(eq - p);
        if (!option_named(b, p, klen)) {
            char known[256] = "";
            for (const pb_backend_option *d = b->options; d && d->key; d++) {
                size_t used = strlen(known);
                snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", d->key);
            }
            return pb_backend_error(PB_EINVAL, "%s backend: unknown option '%.*s' (%s%s)", b->name,
                                    (int)klen, p, known[0] ? "it takes: " : "it takes none",
                                    known);
        }
        if (option_value(buf, p, klen, NULL))
            return pb_backend_error(PB_EINVAL, "%s backend: option '%.*s' given twice", b->name,
                                    (int)klen, p);
        size_t used = strlen(buf);
        if (used + len + 2 > size)
            return pb_backend_error(PB_EINVAL, "%s backend: options too long", b->name);
        snprintf(buf + used, size - used, "%s%.*s", used ? "," : "", (int)len, p);
        p += len;
        if (*p == ',' && !*++p)
            return pb_backend_error(PB_EINVAL, "%s backend: options end with ','", b->name);
    }
    return 0;
}

/* The pool's settings: those given in opts->options and after the name's
 * ':', then the declared defaults of keys given nowhere. */
static int resolve_options(const pb_backend *b, const char *spec, const char *given, char *buf,
                           size_t size)
{
    buf[0] = 0;
    const char *colon = strchr(spec, ':');
    int r = add_options(b, given, buf, size);
    if (!r)
        r = add_options(b, colon ? colon + 1 : NULL, buf, size);
    for (const pb_backend_option *d = b->options; !r && d && d->key; d++) {
        if (!d->default_text || option_value(buf, d->key, strlen(d->key), NULL))
            continue;
        size_t used = strlen(buf);
        if (used + strlen(d->key) + strlen(d->default_text) + 3 > size)
            return pb_backend_error(PB_EINVAL, "%s backend: options too long", b->name);
        snprintf(buf + used, size - used, "%s%s=%s", used ? "," : "", d->key, d->default_text);
    }
    return r;
}

int pb_pool_option(const pb_pool_opts *opts, const char *key, char *buf, size_t size)
{
    if (!buf || !size)
        return PB_EINVAL;
    buf[0] = 0;
    size_t vlen;
    const char *v = opts && key ? option_value(opts->options, key, strlen(key), &vlen) : NULL;
    if (!v)
        return 0;
    if (vlen >= size)
        return PB_EINVAL;
    memcpy(buf, v, vlen);
    buf[vlen] = 0;
    return 1;
}

/* What pb_pool_create() and pb_native_run() share: finds the backend and
 * completes the options (into *o, with the settings in options[size]).
 * Returns 0 or an error with the message set. */
static int resolve_pool(const char *backend, const pb_pool_opts *opts, const pb_backend **bp,
                        pb_pool_opts *o, char *options, size_t size)
{
    last_error[0] = 0;
    if (!backend)
        return pb_backend_error(PB_EINVAL, "backend name is required");
    const pb_backend *b = pb_backend_find(backend);
    if (!b && last_error[0]) /* a module backend that did not load says why */
        return PB_ENOENT;
    if (!b)
        return pb_backend_error(PB_ENOENT, "unknown backend '%s'", backend);
    if (unavailable(b))
        return PB_ENOTSUP;

    if (opts)
        *o = *opts;
    else
        pb_pool_opts_init(o);
    if (o->workers < 0)
        return pb_backend_error(PB_EINVAL, "workers must be >= 0 (got %d)", o->workers);
    if (o->task_timeout < 0)
        return pb_backend_error(PB_EINVAL, "task_timeout must be >= 0");
    if (!o->init_arg && o->init_len)
        return pb_backend_error(PB_EINVAL, "init_arg is NULL but init_len is %zu", o->init_len);
    if (!o->pin)
        o->pin = "none";
    if (pb__placement_check(o->pin))
        return pb_backend_error(PB_EINVAL, "invalid pin '%s'", o->pin);
    if (o->initializer && !pb_task_find(o->initializer))
        return pb_backend_error(PB_ENOENT, "unknown initializer task '%s'", o->initializer);
    if (o->workers == 0)
        o->workers = b->default_workers ? b->default_workers() : pb__cpu_count();
    int refused = refuse_unsupported(b, o);
    if (refused)
        return refused;
    int bad = resolve_options(b, backend, o->options, options, size);
    if (bad)
        return bad;
    o->options = options;
    *bp = b;
    return 0;
}

int pb_pool_create(const char *backend, const pb_pool_opts *opts, pb_pool **out)
{
    if (!out)
        return pb_backend_error(PB_EINVAL, "backend name and out are required");
    const pb_backend *b;
    pb_pool_opts o;
    char options[1024];
    int r = resolve_pool(backend, opts, &b, &o, options, sizeof options);
    if (r)
        return r;

    pb_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return pb_backend_error(PB_ENOMEM, "out of memory");
    pool->backend = b;
    pthread_once(&fork_watch_once, watch_forks);
    pool->forks = atomic_load_explicit(&fork_count, memory_order_relaxed);
    atomic_init(&pool->refs, 1);
    int workers = o.workers;
    r = b->create(&o, &pool->state, &workers);
    if (r) {
        if (!last_error[0])
            pb_backend_error(r, "%s backend: %s", b->name, pb_strerror(r));
        free(pool);
        return r;
    }
    assert(workers >= 1); /* a backend runs at least the one worker it was asked for */
    pool->workers = workers;
    *out = pool;
    return 0;
}

int pb_native_run(const char *backend, const pb_pool_opts *opts, pb_native_job *job)
{
    if (!job || !job->task || (job->kind == PB_NATIVE_ROUNDTRIP && job->n && !job->times))
        return pb_backend_error(PB_EINVAL, "a native job needs a task (and times for round trips)");
    const pb_backend *b;
    pb_pool_opts o;
    char options[1024];
    int r = resolve_pool(backend, opts, &b, &o, options, sizeof options);
    if (r)
        return r;
    if (!b->native)
        return pb_backend_error(PB_ENOTSUP, "%s has no native loop: it is a pool of its own, not "
                                "an adapter over another library", b->name);
    job->elapsed = 0;
    job->threads = 0;
    job->completed = 0;
    r = b->native(&o, job);
    if (r && !last_error[0])
        pb_backend_error(r, "%s native loop: %s", b->name, pb_strerror(r));
    return r;
}

const char *pb_backend_unsupported(const char *backend, const char *option)
{
    const pb_backend *b = backend && option ? pb_backend_find(backend) : NULL;
    return b ? unsupported_reason(b, option) : NULL;
}

const char *pb_backend_departure(const char *backend, const char *scenario, const char *check)
{
    const pb_backend *b = backend && scenario && check ? pb_backend_find(backend) : NULL;
    for (const pb_departure *d = b ? b->departures : NULL; d && d->scenario; d++)
        if (!strcmp(d->scenario, scenario) && !strcmp(d->check, check))
            return d->why;
    return NULL;
}

int pb_pool_workers(const pb_pool *pool)
{
    return pool ? pool->workers : PB_EINVAL;
}

const char *pb_pool_backend(const pb_pool *pool)
{
    return pool ? pool->backend->name : "";
}

bool pb_pool_spins(const pb_pool *pool)
{
    return pool && pool->backend->spins && pool->backend->spins(pool->state);
}

int pb_pool_binding(const pb_pool *pool, int worker, char *buf, size_t size)
{
    if (!pool || !buf || !size || worker < 0 || worker >= pool->workers)
        return PB_EINVAL;
    if (!pool->backend->binding)
        return PB_ENOTSUP;
    return pool->backend->binding(pool->state, worker, buf, size);
}

int pb_pool_describe(const pb_pool *pool, char *buf, size_t size)
{
    if (!pool || !buf || !size)
        return PB_EINVAL;
    buf[0] = 0;
    if (!pool->backend->describe)
        return PB_ENOTSUP;
    return pool->backend->describe(pool->state, buf, size);
}

int pb_pool_stat(const pb_pool *pool, const char *name, int64_t *value)
{
    if (!pool || !name || !value)
        return PB_EINVAL;
    if (!pool->backend->stat)
        return PB_ENOTSUP;
    return pool->backend->stat(pool->state, name, value);
}

int pb_pool_worker_pids(const pb_pool *pool, pid_t *pids, int max)
{
    if (!pool || max < 0 || (max > 0 && !pids))
        return PB_EINVAL;
    if (!pool->backend->worker_pids)
        return PB_ENOTSUP;
    return pool->backend->worker_pids(pool->state, pids, max);
}

/* PB_ENOTSUP, with the message, when pool is a forked copy (see fork_count);
 * else 0. */
static int refuse_forked_copy(const pb_pool *pool)
{
    if (pool->forks == atomic_load_explicit(&fork_count, memory_order_relaxed))
        return 0;
    return pb_backend_error(PB_ENOTSUP, "%s pool: it belongs to the process that created it; "
                            "this process is a fork of that one (a fork worker, say) and has "
                            "only a copy without workers, so a nested submit cannot reach it",
                            pool->backend->name);
}

int pb__pool_submit_futures(pb_pool *pool, pb_future *const *fs, size_t n, size_t *submitted)
{
    *submitted = 0;
#ifndef NDEBUG
    for (size_t i = 0; i < n; i++)
        assert(pb_future_state(fs[i]) == PB_PENDING);
#endif
    int forked = refuse_forked_copy(pool);
    if (forked)
        return forked;
    if (atomic_load_explicit(&pool->shut, memory_order_acquire))
        return PB_ESHUTDOWN;
    if (pool->backend->submit_many) {
        int r = n ? pool->backend->submit_many(pool->state, fs, n) : 0;
        if (!r)
            *submitted = n;
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        int r = pool->backend->submit(pool->state, fs[i]);
        if (r)
            return r;
        ++*submitted;
    }
    return 0;
}

bool pb__pool_waiter_spins(const pb_pool *pool)
{
    return pool && !pool->backend->waiter_sleeps;
}

bool pb__pool_helps_nested(const pb_pool *pool)
{
    return pool && pool->backend->help_nested;
}

bool pb__pool_help_nested(pb_pool *pool)
{
    return pool->backend->help_nested(pool->state);
}

bool pb__pool_retain_for_help(pb_pool *pool)
{
    if (!pool || !pool->backend->help)
        return false;
    atomic_fetch_add_explicit(&pool->refs, 1, memory_order_relaxed);
    return true;
}

void pb__pool_release(pb_pool *pool)
{
    if (atomic_fetch_sub_explicit(&pool->refs, 1, memory_order_acq_rel) == 1)
        free(pool);
}

int pb__pool_help(pb_pool *pool, bool (*satisfied)(void *ud), void *ud, int64_t deadline)
{
    /* Counted in before looking at `closed`; destroy sets `closed` before
     * counting: one of the two sees the other (both sequentially
     * consistent). */
    atomic_fetch_add(&pool->helpers, 1);
    int r = atomic_load(&pool->closed) ? 0
                                        : pool->backend->help(pool->state, satisfied, ud, deadline);
    if (atomic_fetch_sub(&pool->helpers, 1) == 1 && atomic_load(&pool->closed))
        pb__futex_wake(&pool->helpers, INT_MAX);
    return r;
}

bool pb__pool_cancel_noticed_late(const pb_pool *pool)
{
    return pool && pool->backend->cancel_noticed_late;
}

bool pb__pool_is_shutdown(const pb_pool *pool)
{
    return atomic_load_explicit(&pool->shut, memory_order_acquire);
}

int pb_submit(pb_pool *pool, const pb_task *task, const void *arg, size_t len, pb_future **out)
{
    if (!pool || !task || !out || (!arg && len))
        return PB_EINVAL;
    int forked = refuse_forked_copy(pool);
    if (forked)
        return forked;
    if (atomic_load_explicit(&pool->shut, memory_order_acquire))
        return PB_ESHUTDOWN;
    /* Two references: the caller's and the backend's. */
    pb_future *f = pb__future_new(pool, task, arg, len, 2, 0);
    if (!f)
        return PB_ENOMEM;
    int r = pool->backend->submit(pool->state, f);
    if (r) {
        pb__future_discard(f);
        return r;
    }
    *out = f;
    return 0;
}

int pb_submit_many(pb_pool *pool, const pb_task *task, const pb_bytes *args, size_t n,
                   pb_future **out)
{
    if (!pool || !task || (!out && n))
        return PB_EINVAL;
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        if (args && !args[i].data && args[i].len)
            return PB_EINVAL;
    }
    if (atomic_load_explicit(&pool->shut, memory_order_acquire))
        return PB_ESHUTDOWN;
    int r = 0;
    int64_t now = pb_now_ns(); /* one call: one submission time */
    for (size_t i = 0; i < n && !r; i++) {
        out[i] = pb__future_new(pool, task, args ? args[i].data : NULL, args ? args[i].len : 0, 2,
                                now);
        if (!out[i])
            r = PB_ENOMEM;
    }
    size_t submitted = 0;
    if (!r)
        r = pb__pool_submit_futures(pool, out, n, &submitted);
    if (r) {
        for (size_t i = submitted; i < n && out[i]; i++) {
            pb__future_discard(out[i]);
            out[i] = NULL;
        }
    }
    return r;
}

void pb__pool_cancel_hint(pb_pool *pool, pb_future *f)
{
    if (pool && pool->backend->cancel)
        pool->backend->cancel(pool->state, f);
}

int pb_pool_shutdown(pb_pool *pool, bool wait, bool cancel_futures)
{
    if (!pool)
        return PB_EINVAL;
    atomic_store_explicit(&pool->shut, true, memory_order_release);
    pool->backend->shutdown(pool->state, wait, cancel_futures);
    return 0;
}

void pb_pool_destroy(pb_pool *pool)
{
    if (!pool)
        return;
    pb_pool_shutdown(pool, true, false);
    /* Every future is done now; threads still inside help() leave at once. */
    atomic_store(&pool->closed, true);
    uint32_t n;
    while ((n = atomic_load(&pool->helpers)) != 0)
        pb__futex_wait(&pool->helpers, n, -1);
    assert(pb__pool_is_shutdown(pool)); /* no submit reaches the backend from here on */
    pool->backend->destroy(pool->state);
    if (pool->backend->help)
        pb__pool_release(pool);
    else
        free(pool);
}

/* Until a process backend provides the exec worker entry point, only module
 * backends with a launcher start workers. (The exec backend's strong
 * definition wins; it ends with the same call.) */
__attribute__((weak)) int pb_worker_main_if_requested(int argc, char **argv)
{
    return pb__module_worker_main(argc, argv);
}
