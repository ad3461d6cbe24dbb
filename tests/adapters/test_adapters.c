/*
 * test_adapters.c — what the adapter backends (glib, libuv, tbb, openmp,
 * asio) promise beyond the shared contract (which the conformance suite
 * checks): which options they refuse and how they say so, pinning threads
 * the adapter does not create (and unpinning the ones it shares), the
 * initializer run once per thread, threads gone after destroy where the
 * library lets them end, libuv's worker cap on a larger threadpool, and
 * cancellation of work already handed to the library.
 *
 * Usage: test_adapters glib|libuv|libuv-env|tbb|openmp|asio [one-pu]; with
 * one-pu the whole process is first confined to one PU (a one-CPU
 * container, or one side of `ab --duet` on two: oneTBB's finalize used to
 * wait there for ever), and every test must still end. Every task
 * runs in this process (all run threads), so tasks block on an in-process
 * gate and report through globals. Tests check behaviour, never durations;
 * the few short sleeps give a broken implementation the chance to show
 * itself and cannot make a correct one fail.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <pb/backend.h>
#include <pb/pool.h>

#include "census.h"

#define SEC ((int64_t)1000000000)

/* ---- In-process gate and counters ---- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_is_open;
static int gate_active, gate_max_active;
static _Atomic int tasks_ran;

static void gate_reset(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_is_open = false;
    gate_active = gate_max_active = 0;
    pthread_mutex_unlock(&gate_mu);
    atomic_store(&tasks_ran, 0);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_is_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static int gate_active_now(void)
{
    pthread_mutex_lock(&gate_mu);
    int n = gate_active;
    pthread_mutex_unlock(&gate_mu);
    return n;
}

/* Waits (the ctest timeout is the hang guard) until n gate tasks run. */
static void gate_await_active(int n)
{
    pthread_mutex_lock(&gate_mu);
    while (gate_active < n)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Blocks until the gate opens; counts how many run at once. */
PB_TASK(adp_gate)
{
    pthread_mutex_lock(&gate_mu);
    if (++gate_active > gate_max_active)
        gate_max_active = gate_active;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_is_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    gate_active--;
    pthread_mutex_unlock(&gate_mu);
    atomic_fetch_add(&tasks_ran, 1);
}

/* Returns its argument; counts runs. */
PB_TASK(adp_echo)
{
    atomic_fetch_add(&tasks_ran, 1);
    pb_task_return(ctx, arg, len);
}

/* ---- Initializers ---- */

static _Thread_local int tl_init_runs;
static _Atomic int init_runs_total;

PB_TASK(adp_init)
{
    tl_init_runs++;
    atomic_fetch_add(&init_runs_total, 1);
}

/* Fails, once the gate opens (so the test can queue work before it does). */
PB_TASK(adp_init_fail)
{
    pthread_mutex_lock(&gate_mu);
    while (!gate_is_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    pb_task_fail(ctx, 7, "no database at %s", "db.sqlite");
}

typedef struct whoami {
    int64_t tid;
    int64_t init_runs;
    char cpus[256];
} whoami;

static void format_affinity(char *buf, size_t size)
{
    cpu_set_t set;
    buf[0] = '\0';
    if (pthread_getaffinity_np(pthread_self(), sizeof set, &set))
        return;
    size_t used = 0;
    for (int c = 0; c < CPU_SETSIZE && used + 8 < size; c++)
        if (CPU_ISSET(c, &set))
            used += (size_t)snprintf(buf + used, size - used, "%s%d", used ? "," : "", c);
}

PB_TASK(adp_whoami)
{
    whoami w = {.tid = (int64_t)syscall(SYS_gettid), .init_runs = tl_init_runs};
    format_affinity(w.cpus, sizeof w.cpus);
    pb_task_return(ctx, &w, sizeof w);
}

/* ---- Helpers ---- */

static const char *backend; /* "glib", "libuv", ... */

/* Backends whose worker threads are the pool's own for its whole life
 * (started at create, ended at destroy); the others (libuv, tbb) run tasks
 * on threads the library shares with the rest of the process. */
static bool own_threads(void)
{
    return !strcmp(backend, "glib") || !strcmp(backend, "openmp") || !strcmp(backend, "asio");
}

static pb_pool *make_pool(const pb_pool_opts *opts)
{
    pb_pool *pool = NULL;
    int r = pb_pool_create(backend, opts, &pool);
    if (r)
        fail_msg("pb_pool_create(%s): %s: %s", backend, pb_strerror(r), pb_pool_last_error());
    return pool;
}

static pb_future *submit(pb_pool *pool, const char *task, const void *arg, size_t len)
{
    pb_future *f = NULL;
    int r = pb_submit(pool, pb_task_find(task), arg, len, &f);
    if (r)
        fail_msg("pb_submit(%s): %s", task, pb_strerror(r));
    return f;
}

/* pb_pool_create must refuse opts with PB_ENOTSUP and name `option`. */
static void expect_notsup(const pb_pool_opts *opts, const char *option)
{
    pb_pool *pool = NULL;
    int r = pb_pool_create(backend, opts, &pool);
    if (r != PB_ENOTSUP)
        fail_msg("%s: expected PB_ENOTSUP for %s, got %d (%s)", backend, option, r,
                 pb_strerror(r));
    const char *why = pb_pool_last_error();
    if (!strstr(why, option))
        fail_msg("the PB_ENOTSUP message does not name %s: \"%s\"", option, why);
    assert_null(pool);
}

static int allowed_cpus(int *first)
{
    cpu_set_t set;
    *first = -1;
    if (sched_getaffinity(0, sizeof set, &set))
        return 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set) && *first < 0)
            *first = c;
    return CPU_COUNT(&set);
}

static void release_all(pb_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pb_future_release(fs[i]);
}

/* Runs n adp_whoami tasks on pool at once, then calls check on what each
 * saw of its thread. */
static void whoami_each(pb_pool *pool, int n, void (*check)(const whoami *w, void *ud), void *ud)
{
    pb_future **fs = calloc((size_t)n, sizeof *fs);
    assert_non_null(fs);
    for (int i = 0; i < n; i++)
        fs[i] = submit(pool, "adp_whoami", NULL, 0);
    for (int i = 0; i < n; i++) {
        const void *data;
        size_t len;
        assert_int_equal(pb_future_result(fs[i], 30 * SEC, &data, &len), 0);
        assert_int_equal(len, sizeof(whoami));
        whoami w;
        memcpy(&w, data, sizeof w);
        check(&w, ud);
    }
    release_all(fs, (size_t)n);
    free(fs);
}

/* A fresh pool of `workers` workers with `ngates` gate tasks submitted into
 * gates[], returned once min(workers, ngates) of them are running, i.e.
 * once every worker that can be blocked is. */
static pb_pool *pool_with_gates(int workers, pb_future **gates, int ngates)
{
    gate_reset();
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = workers;
    pb_pool *pool = make_pool(&o);
    for (int i = 0; i < ngates; i++)
        gates[i] = submit(pool, "adp_gate", NULL, 0);
    gate_await_active(ngates < workers ? ngates : workers);
    return pool;
}

/* ---- Cases common to both adapters ---- */

static void test_unsupported_options(void **unused)
{
    (void)unused;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.task_timeout = SEC;
    expect_notsup(&o, "task_timeout");

    pb_pool_opts_init(&o);
    o.workers = 1;
    o.max_tasks_per_worker = 3;
    expect_notsup(&o, "max_tasks_per_worker");

    pb_pool_opts_init(&o);
    o.workers = 1;
    o.worker_program = "/bin/true";
    expect_notsup(&o, "worker_program");
}

static void test_summary_and_listing(void **unused)
{
    (void)unused;
    bool listed = false;
    for (const char *const *n = pb_backend_names(); *n; n++)
        listed |= !strcmp(*n, backend);
    assert_true(listed);
    const char *summary = pb_backend_summary(backend);
    assert_non_null(summary);
    /* The table says what the backend does not support, and why. */
    assert_non_null(pb_backend_unsupported(backend, "task_timeout"));
    assert_non_null(pb_backend_unsupported(backend, "max_tasks_per_worker"));
    assert_null(pb_backend_unsupported(backend, "initializer"));
}

/* Many tasks, results in the right futures, completion in a worker thread. */
static void test_many_tasks(void **unused)
{
    (void)unused;
    gate_reset();
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;
    pb_pool *pool = make_pool(&o);
    assert_int_equal(pb_pool_workers(pool), 2);
    assert_string_equal(pb_pool_backend(pool), backend);
    enum { N = 20000 };
    pb_future **fs = calloc(N, sizeof *fs);
    assert_non_null(fs);
    for (uint64_t i = 0; i < N; i++)
        fs[i] = submit(pool, "adp_echo", &i, sizeof i);
    for (uint64_t i = 0; i < N; i++) {
        const void *data;
        size_t len;
        assert_int_equal(pb_future_result(fs[i], 30 * SEC, &data, &len), 0);
        assert_int_equal(len, sizeof i);
        uint64_t v;
        memcpy(&v, data, sizeof v);
        assert_true(v == i);
        pb_times t;
        assert_int_equal(pb_future_times(fs[i], &t), 0);
        assert_true(t.submitted > 0 && t.started >= t.submitted && t.ended >= t.started &&
                    t.completed >= t.ended);
    }
    assert_int_equal(atomic_load(&tasks_ran), N);
    release_all(fs, N);
    free(fs);
    pb_pool_destroy(pool);
}

static void note_thread(pb_future *f, void *ud)
{
    (void)f;
    *(int64_t *)ud = (int64_t)syscall(SYS_gettid);
}

/* Cancelling work the library already holds: the cancelled futures never
 * run, the rest do, shutdown(cancel_futures) cancels in the calling thread. */
static void test_cancel_queued(void **unused)
{
    (void)unused;
    pb_future *blockers[2];
    pb_pool *pool = pool_with_gates(2, blockers, 2);

    enum { N = 64 };
    pb_future *fs[N];
    for (uint64_t i = 0; i < N; i++)
        fs[i] = submit(pool, "adp_echo", &i, sizeof i);
    /* Every worker is blocked, so all N are still queued. */
    for (int i = 0; i < N; i++)
        assert_int_equal(pb_future_state(fs[i]), PB_PENDING);
    int cancelled = 0;
    for (int i = 0; i < N; i += 2) {
        assert_true(pb_future_cancel(fs[i]));
        cancelled++;
    }
    /* Give a broken cancel the chance to run something. */
    sleep_ms(20);
    assert_int_equal(atomic_load(&tasks_ran), 0);

    /* shutdown(cancel_futures) takes the rest, in this thread. */
    int64_t cb_thread = 0;
    assert_int_equal(pb_future_add_done_callback(fs[N - 1], note_thread, &cb_thread), 0);
    assert_int_equal(pb_pool_shutdown(pool, false, true), 0);
    assert_true(cb_thread == (int64_t)syscall(SYS_gettid));
    for (int i = 0; i < N; i++)
        assert_int_equal(pb_future_state(fs[i]), PB_CANCELLED);
    assert_int_equal(pb_future_state(blockers[0]), PB_RUNNING);

    pb_future *late = NULL;
    assert_int_equal(pb_submit(pool, pb_task_find("adp_echo"), NULL, 0, &late), PB_ESHUTDOWN);

    gate_open();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pb_future_result(blockers[i], 30 * SEC, NULL, NULL), 0);
    pb_pool_destroy(pool);
    assert_int_equal(atomic_load(&tasks_ran), 2); /* only the blockers ran */
    release_all(fs, N);
    release_all(blockers, 2);
}

/* shutdown(wait) returns only once queued work has run. */
static void test_shutdown_waits(void **unused)
{
    (void)unused;
    pb_future *blocker;
    pb_pool *pool = pool_with_gates(1, &blocker, 1);
    enum { N = 100 };
    pb_future *fs[N];
    for (uint64_t i = 0; i < N; i++)
        fs[i] = submit(pool, "adp_echo", &i, sizeof i);
    gate_open();
    assert_int_equal(pb_pool_shutdown(pool, true, false), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(pb_future_state(fs[i]), PB_FINISHED);
    assert_int_equal(pb_future_state(blocker), PB_FINISHED);
    pb_pool_destroy(pool);
    release_all(fs, N);
    pb_future_release(blocker);
}

/* The threads tasks ran on, each seen once (test_initializer_once_per_thread). */
typedef struct tid_set {
    int64_t tids[64];
    int n;
} tid_set;

static void ran_after_one_init(const whoami *w, void *ud)
{
    tid_set *set = ud;
    assert_int_equal(w->init_runs, 1);
    bool seen = false;
    for (int k = 0; k < set->n; k++)
        seen |= set->tids[k] == w->tid;
    if (!seen && set->n < 64)
        set->tids[set->n++] = w->tid;
}

/* The initializer runs once in each thread that runs tasks, before them. */
static void test_initializer_once_per_thread(void **unused)
{
    (void)unused;
    atomic_store(&init_runs_total, 0);
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;
    o.initializer = "adp_init";
    pb_pool *pool = make_pool(&o);
    tid_set set = {.n = 0};
    whoami_each(pool, 2000, ran_after_one_init, &set);
    pb_pool_destroy(pool);
    int total = atomic_load(&init_runs_total);
    if (own_threads()) {
        /* The pool's own threads: exactly one run per worker, at start. */
        assert_int_equal(total, 2);
    } else {
        /* Shared threads: one run per thread that picked up a task. */
        assert_int_equal(total, set.n);
    }
}

/* A failing initializer breaks the pool: futures fail with PB_EBROKEN and
 * the initializer's message, and submit then refuses. */
static void test_initializer_fails(void **unused)
{
    (void)unused;
    gate_reset();
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.initializer = "adp_init_fail";
    pb_pool *pool = make_pool(&o);
    pb_future *f = submit(pool, "adp_echo", NULL, 0);
    gate_open();
    assert_int_equal(pb_future_result(f, 30 * SEC, NULL, NULL), PB_EBROKEN);
    pb_error e;
    assert_int_equal(pb_future_error(f, 0, &e), 0);
    assert_int_equal(e.code, PB_EBROKEN);
    assert_string_equal(e.message, "initializer failed: no database at db.sqlite");
    pb_future *g = NULL;
    assert_int_equal(pb_submit(pool, pb_task_find("adp_echo"), NULL, 0, &g), PB_EBROKEN);
    assert_null(g);
    pb_future_release(f);
    pb_pool_destroy(pool);
}

static char (*pinned_bindings)[128];
static int pinned_n; /* 0: every binding is fine (one PU only) */

static void on_a_worker_binding(const whoami *w, void *ud)
{
    (void)ud;
    bool match = pinned_n == 0;
    for (int k = 0; k < pinned_n; k++)
        match |= !strcmp(w->cpus, pinned_bindings[k]);
    if (!match)
        fail_msg("a task ran on a thread bound to %s, which no worker reports", w->cpus);
}

/* Pinning threads the adapter does not create: every task runs on a thread
 * bound as one of the workers reports. */
static void test_pinned(void **unused)
{
    (void)unused;
    int first;
    int ncpu = allowed_cpus(&first);
    assert_true(ncpu >= 1);
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = ncpu;
    o.pin = "compact";
    pb_pool *pool = NULL;
    int r = pb_pool_create(backend, &o, &pool);
    if (r == PB_ENOTSUP) {
        print_message("binding threads is not possible here: %s\n", pb_pool_last_error());
        skip();
    }
    assert_int_equal(r, 0);
    char bindings[64][128];
    int n = ncpu < 64 ? ncpu : 64;
    for (int i = 0; i < n; i++) {
        assert_int_equal(pb_pool_binding(pool, i, bindings[i], sizeof bindings[i]), 0);
        if (ncpu > 1)
            assert_true(bindings[i][0] != '\0'); /* one PU each, not the whole set */
    }
    /* Every task runs on a thread bound as one of the workers says. */
    pinned_bindings = bindings;
    pinned_n = ncpu > 1 ? n : 0;
    whoami_each(pool, 200, on_a_worker_binding, NULL);
    pb_pool_destroy(pool);
}

static void test_bad_pin(void **unused)
{
    (void)unused;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.pin = "3-1";
    pb_pool *pool = NULL;
    assert_int_equal(pb_pool_create(backend, &o, &pool), PB_EINVAL);
}

/* The pool's own threads end with it, pinned or not: GLib's cannot be
 * joined and OpenMP's end once their master has, yet none is left after
 * destroy; nor are oneTBB's, when no one else in the process uses TBB. */
static void test_threads_gone(void **unused)
{
    (void)unused;
    int before = pbt_threads_quiet();
    if (before < 0)
        skip();
    int first;
    int ncpu = allowed_cpus(&first);
    char pin[16];
    snprintf(pin, sizeof pin, "%d", first);
    for (int cycle = 0; cycle < 6; cycle++) {
        pb_pool_opts o;
        pb_pool_opts_init(&o);
        o.workers = 3;
        if (cycle % 2 && ncpu > 1)
            o.pin = pin;
        pb_pool *pool = make_pool(&o);
        int during = pbt_count_threads();
        if (during < before + 3)
            fail_msg("cycle %d: %d threads with a pool of 3 workers, %d before", cycle, during,
                     before);
        pb_future *f = submit(pool, "adp_whoami", NULL, 0);
        assert_int_equal(pb_future_result(f, 30 * SEC, NULL, NULL), 0);
        pb_future_release(f);
        pb_pool_destroy(pool);
        int after = pbt_threads_settled(before);
        if (after > before)
            fail_msg("cycle %d: %d threads after destroy, %d before", cycle, after, before);
    }
}

static void on_a_pinned_thread(const whoami *w, void *all)
{
    if (!strcmp(w->cpus, all))
        fail_msg("a task of a pinned pool ran on an unpinned thread (%s)", w->cpus);
}

static void on_an_unpinned_thread(const whoami *w, void *all)
{
    if (strcmp(w->cpus, all))
        fail_msg("a task of an unpinned pool ran on a thread still bound to %s (the process "
                 "may run on %s)", w->cpus, (const char *)all);
}

/* A library thread that served a pinned pool goes back to the others
 * unpinned: the next, unpinned pool's tasks may run on every PU. */
static void test_unpinned_after(void **unused)
{
    (void)unused;
    int first;
    int ncpu = allowed_cpus(&first);
    if (ncpu < 2) {
        print_message("needs two PUs to tell a pinned thread from another\n");
        skip();
    }
    char all[256];
    format_affinity(all, sizeof all);
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;
    o.pin = "compact";
    pb_pool *pool = make_pool(&o);
    whoami_each(pool, 64, on_a_pinned_thread, all);
    pb_pool_destroy(pool);
    /* Another pool, unpinned, runs tasks on those threads (shared ones) or
     * on new ones: none may still be bound. Twice, the second on threads
     * the first may have left in the library's hands. */
    o.pin = NULL;
    for (int round = 0; round < 2; round++) {
        pool = make_pool(&o);
        whoami_each(pool, round ? 400 : 64, on_an_unpinned_thread, all);
        pb_pool_destroy(pool);
    }
}

/* ---- libuv ---- */

static int uv_threads(void)
{
    const char *v = getenv("UV_THREADPOOL_SIZE");
    return v ? atoi(v) : 4;
}

static void test_libuv_refuses(void **unused)
{
    (void)unused;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = uv_threads() + 1;
    expect_notsup(&o, "UV_THREADPOOL_SIZE");
    char want[64];
    snprintf(want, sizeof want, "workers=%d", o.workers);
    expect_notsup(&o, want);

    /* As many workers as libuv has threads is fine; unpinned, unbound. */
    pb_pool_opts_init(&o);
    o.workers = uv_threads();
    pb_pool *pool = make_pool(&o);
    assert_int_equal(pb_pool_workers(pool), uv_threads());
    char buf[64];
    assert_int_equal(pb_pool_binding(pool, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    pb_pool_destroy(pool);
}

/* With fewer workers than libuv has threads, no more than `workers` of the
 * pool's tasks run at once, and the next one stays PENDING. */
static void test_libuv_cap(void **unused)
{
    (void)unused;
    if (uv_threads() < 3) {
        print_message("needs a threadpool of at least 3 threads\n");
        skip();
    }
    pb_future *fs[3];
    pb_pool *pool = pool_with_gates(2, fs, 3);
    sleep_ms(50); /* a third thread, if the cap were broken, would start now */
    assert_int_equal(gate_active_now(), 2);
    assert_int_equal(pb_future_state(fs[2]), PB_PENDING);
    gate_open();
    for (int i = 0; i < 3; i++)
        assert_int_equal(pb_future_result(fs[i], 30 * SEC, NULL, NULL), 0);
    assert_int_equal(gate_max_active, 2);
    release_all(fs, 3);
    pb_pool_destroy(pool);
}

/* Tasks record the order they start in. */
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t order_log[512];
static int order_n;

PB_TASK(adp_log_order)
{
    uint64_t i;
    memcpy(&i, arg, sizeof i);
    pthread_mutex_lock(&order_mu);
    if (order_n < 512)
        order_log[order_n++] = i;
    pthread_mutex_unlock(&order_mu);
}

/* One worker on a larger threadpool still runs tasks one at a time, in the
 * order submitted, though several threadpool threads hold them meanwhile. */
static void test_libuv_capped_fifo(void **unused)
{
    (void)unused;
    if (uv_threads() < 2)
        skip();
    order_n = 0;
    pb_future *blocker;
    pb_pool *pool = pool_with_gates(1, &blocker, 1);
    enum { N = 300 };
    pb_future *fs[N];
    for (uint64_t i = 0; i < N; i++)
        fs[i] = submit(pool, "adp_log_order", &i, sizeof i);
    sleep_ms(20); /* let the other threadpool threads pick requests up */
    gate_open();
    for (int i = 0; i < N; i++)
        assert_int_equal(pb_future_result(fs[i], 30 * SEC, NULL, NULL), 0);
    assert_int_equal(gate_max_active, 1);
    assert_int_equal(order_n, N);
    for (int i = 0; i < N; i++)
        if (order_log[i] != (uint64_t)i)
            fail_msg("task %llu started at position %d", (unsigned long long)order_log[i], i);
    release_all(fs, N);
    pb_future_release(blocker);
    pb_pool_destroy(pool);
}

/* With workers = the threadpool size, every request goes straight to
 * libuv's own queue; a future cancelled while its request is there never
 * runs. */
static void test_libuv_uncapped_cancel(void **unused)
{
    (void)unused;
    int n = uv_threads();
    pb_future **blockers = calloc((size_t)n, sizeof *blockers);
    assert_non_null(blockers);
    pb_pool *pool = pool_with_gates(n, blockers, n);
    enum { N = 32 };
    pb_future *fs[N];
    for (uint64_t i = 0; i < N; i++)
        fs[i] = submit(pool, "adp_echo", &i, sizeof i);
    sleep_ms(20); /* let the loop thread hand them all to libuv */
    for (int i = 0; i < N; i += 3)
        assert_true(pb_future_cancel(fs[i]));
    gate_open();
    int ran = 0;
    for (int i = 0; i < N; i++) {
        int r = pb_future_result(fs[i], 30 * SEC, NULL, NULL);
        assert_int_equal(r, i % 3 == 0 ? PB_ECANCELED : 0);
        ran += r == 0;
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(pb_future_result(blockers[i], 30 * SEC, NULL, NULL), 0);
    pb_pool_destroy(pool);
    assert_int_equal(atomic_load(&tasks_ran), ran + n);
    release_all(fs, N);
    release_all(blockers, (size_t)n);
    free(blockers);
}

/* ---- The native loop (pb_backend.native) ---- */

static void mark_task(void *ud, size_t i)
{
    ((_Atomic unsigned char *)ud)[i]++;
}

/* Every task of a native job ran exactly once. */
static void check_ran_once(_Atomic unsigned char *ran, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ran[i] != 1)
            fail_msg("native task %zu ran %d times", i, (int)ran[i]);
}

/* The library's own loop runs every task once and reports its times; it
 * refuses what it cannot do (a pin), and poolbench's own pools have none. */
static void test_native(void **unused)
{
    (void)unused;
    enum { N = 3000, TRIPS = 50 };
    _Atomic unsigned char *ran = calloc(N, 1);
    int64_t *times = calloc(TRIPS, sizeof *times);
    assert_true(ran && times);
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;

    pb_native_job burst = {.kind = PB_NATIVE_BURST, .n = N, .warmup = 5, .task = mark_task,
                           .ud = ran};
    int r = pb_native_run(backend, &o, &burst);
    if (r)
        fail_msg("%s native burst: %s: %s", backend, pb_strerror(r), pb_pool_last_error());
    check_ran_once(ran, N);
    assert_true(burst.elapsed > 0);
    assert_true(burst.threads >= 1);

    memset((void *)ran, 0, N);
    pb_native_job trips = {.kind = PB_NATIVE_ROUNDTRIP, .n = TRIPS, .warmup = 5,
                           .task = mark_task, .ud = ran, .times = times};
    r = pb_native_run(backend, &o, &trips);
    if (r)
        fail_msg("%s native round trips: %s: %s", backend, pb_strerror(r), pb_pool_last_error());
    check_ran_once(ran, TRIPS);
    for (int i = 0; i < TRIPS; i++)
        assert_true(times[i] > 0);

    /* An empty burst is no burst, and no hang. */
    pb_native_job none = {.kind = PB_NATIVE_BURST, .n = 0, .task = mark_task, .ud = ran};
    assert_int_equal(pb_native_run(backend, &o, &none), 0);

    o.pin = "compact";
    assert_int_equal(pb_native_run(backend, &o, &burst), PB_ENOTSUP);
    assert_non_null(strstr(pb_pool_last_error(), "pin"));
    o.pin = NULL;
    assert_int_equal(pb_native_run("thread", &o, &burst), PB_ENOTSUP);
    assert_int_equal(pb_native_run("no-such-backend", &o, &burst), PB_ENOENT);
    free((void *)ran);
    free(times);
}

/* After every test, pass or fail: a failed check leaves tasks blocked on the
 * gate, and they must not hold up the tests after it. */
static int open_gate_after(void **unused)
{
    (void)unused;
    gate_open();
    return 0;
}
#define TEST(fn) cmocka_unit_test_teardown(fn, open_gate_after)

/* Confines this process to the first PU it may use. 0, or -1. */
static int one_pu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            CPU_ZERO(&set);
            CPU_SET(c, &set);
            return sched_setaffinity(0, sizeof set, &set);
        }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[2], "one-pu") && one_pu() != 0) {
        perror("test_adapters: cannot confine this process to one PU");
        return 2;
    }
    backend = argc > 1 ? argv[1] : "";
    bool uv_env = !strcmp(backend, "libuv-env");
    if (uv_env)
        backend = "libuv";
    if (!*backend || !pb_backend_find(backend)) {
        fprintf(stderr, "usage: test_adapters glib|libuv|libuv-env|tbb|openmp|asio%s%s\n",
                *backend ? ": " : "", *backend ? pb_pool_last_error() : "");
        return 2;
    }
    if (uv_env) {
        /* Run with UV_THREADPOOL_SIZE set: the limits follow it. */
        const struct CMUnitTest uv[] = {
            TEST(test_libuv_refuses),
            TEST(test_libuv_cap),
        };
        return cmocka_run_group_tests_name("libuv with UV_THREADPOOL_SIZE", uv, NULL, NULL);
    }
    const struct CMUnitTest common[] = {
        TEST(test_unsupported_options),
        TEST(test_summary_and_listing),
        TEST(test_many_tasks),
        TEST(test_cancel_queued),
        TEST(test_shutdown_waits),
        TEST(test_initializer_once_per_thread),
        TEST(test_initializer_fails),
        TEST(test_pinned),
        TEST(test_bad_pin),
        TEST(test_unpinned_after),
        TEST(test_native),
    };
    int r = cmocka_run_group_tests_name("every adapter", common, NULL, NULL);
    if (!strcmp(backend, "libuv")) {
        const struct CMUnitTest uv[] = {
            TEST(test_libuv_refuses),
            TEST(test_libuv_cap),
            TEST(test_libuv_capped_fifo),
            TEST(test_libuv_uncapped_cancel),
        };
        r |= cmocka_run_group_tests_name("libuv", uv, NULL, NULL);
    } else {
        /* libuv's threads are process-wide; every other adapter's end. */
        const struct CMUnitTest own[] = {
            TEST(test_threads_gone),
        };
        r |= cmocka_run_group_tests_name(backend, own, NULL, NULL);
    }
    return r;
}
