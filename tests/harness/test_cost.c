/*
 * test_cost.c — the cost accounting (harness/cost.c) on work whose cost is
 * known.
 *
 * A task that burns 1 ms of its own thread's CPU time (not 1 ms of wall
 * time: on a loaded machine a task spinning on the clock gets less CPU)
 * must cost the pool about 1 ms per task, whether it runs in a thread of
 * this process, in a worker process (alive, or recycled and reaped inside
 * the window), or in a pool from another library; a task that sleeps 1 ms
 * must cost almost nothing; a pool with nothing to do must use almost
 * nothing; the caller's own CPU time is kept apart from the pool's. The
 * bounds are wide where only overhead varies (what one task costs a pool
 * beside its body, a fork) and tight where the known work sets them: CPU
 * time, unlike wall time, does not stretch when other jobs load the
 * machine. No test checks a duration.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include <pb/backend.h>
#include <pb/pool.h>

#include "cost.h"

#define MS 1000000.0

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Burns ns of the calling thread's CPU time. */
static void burn(int64_t ns)
{
    int64_t until = thread_cpu_ns() + ns;
    while (thread_cpu_ns() < until)
        ;
}

PB_TASK(test_cost_burn)
{
    (void)ctx;
    int64_t ns;
    if (len == sizeof ns) {
        memcpy(&ns, arg, sizeof ns);
        burn(ns);
    }
}

PB_TASK(test_cost_nap)
{
    (void)ctx;
    int64_t ns;
    if (len == sizeof ns) {
        memcpy(&ns, arg, sizeof ns);
        struct timespec ts = {ns / 1000000000, ns % 1000000000};
        nanosleep(&ts, NULL);
    }
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts))
        ;
}

/* n tasks of `task` with arg ns, all submitted, then all collected. */
static void burst(pb_pool *pool, const char *task, int64_t ns, size_t n)
{
    pb_future *fs[256];
    assert_true(n <= 256);
    const pb_task *t = pb_task_find(task);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pb_submit(pool, t, &ns, sizeof ns, &fs[i]), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(pb_future_result(fs[i], PB_FOREVER, NULL, NULL), 0);
        pb_future_release(fs[i]);
    }
}

static pb_pool *make_pool(const char *backend, int workers, unsigned max_tasks)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = workers;
    o.max_tasks_per_worker = max_tasks;
    pb_pool *pool = NULL;
    int rc = pb_pool_create(backend, &o, &pool);
    if (rc)
        fail_msg("pb_pool_create(%s): %s: %s", backend, pb_strerror(rc), pb_pool_last_error());
    burst(pool, "test_cost_nap", 1000000, (size_t)workers * 2); /* every worker up */
    return pool;
}

/* The cost of n tasks of `task` (arg ns) on a fresh pool. */
static pbh_window measure(const char *backend, unsigned max_tasks, const char *task, int64_t ns,
                          size_t n)
{
    pbh_meter *m;
    assert_int_equal(pbh_meter_new(&m), 0);
    pbh_meter_baseline(m);
    pb_pool *pool = make_pool(backend, 2, max_tasks);
    pbh_meter_watch(m, pool);
    pbh_window w;
    assert_int_equal(pbh_meter_begin(m), 0);
    burst(pool, task, ns, n);
    assert_int_equal(pbh_meter_end(m, n, &w), 0);
    pbh_meter_watch(m, NULL);
    pb_pool_destroy(pool);
    pbh_meter_free(m);
    fprintf(stderr, "%s%s %s: pool %.1f us/task (user %.1f, sys %.1f), caller %.1f us/task\n",
            backend, max_tasks ? " (recycled)" : "", task, w.pool.total / n / 1e3,
            w.pool.user / n / 1e3, w.pool.sys / n / 1e3, w.submitter.total / n / 1e3);
    assert_true(w.pool.total >= 0 && w.submitter.total >= 0);
    assert_true(w.pool.user + w.pool.sys <= w.pool.total * 1.000001 + 1);
    return w;
}

/* The pool's cores busy over 200 ms with no work, after 100 ms without. */
static double idle_cores(const char *backend)
{
    pbh_meter *m;
    assert_int_equal(pbh_meter_new(&m), 0);
    pb_pool *pool = make_pool(backend, 2, 0);
    pbh_meter_watch(m, pool);
    nap_ms(100);
    pbh_window w;
    assert_int_equal(pbh_meter_begin(m), 0);
    nap_ms(200);
    assert_int_equal(pbh_meter_end(m, 0, &w), 0);
    pbh_meter_watch(m, NULL);
    pb_pool_destroy(pool);
    pbh_meter_free(m);
    fprintf(stderr, "%s idle: %.4f cores (caller %.4f)\n", backend, w.pool.total / w.wall,
            w.submitter.total / w.wall);
    return w.pool.total / w.wall;
}

/* The three known costs on one backend. */
static void known_costs(const char *backend)
{
    /* 1 ms of CPU per task: the body's 1 ms plus what a task costs the
     * pool, which is tens of microseconds (a fork pool's worker loop and
     * collector; a thread pool's wake-ups). */
    pbh_window w = measure(backend, 0, "test_cost_burn", 1000000, 60);
    assert_in_range((long)(w.pool.total / 60), (long)(0.97 * MS), (long)(1.4 * MS));
    /* The caller only submitted and waited. */
    assert_true(w.submitter.total / 60 < 0.4 * MS);

    /* 1 ms of sleep per task: only the overhead. */
    w = measure(backend, 0, "test_cost_nap", 1000000, 60);
    assert_true(w.pool.total / 60 < 0.25 * MS);

    /* Nothing to do: almost nothing spent (5 ms in 200 ms at most). */
    assert_true(idle_cores(backend) < 0.025);
}

static void test_thread(void **state)
{
    (void)state;
    known_costs("thread");
}

static void test_fork(void **state)
{
    (void)state;
    known_costs("fork");
}

/* An outside pool, measured without its cooperation. */
static void test_outside(void **state)
{
    (void)state;
    const char *outside[] = {"glib", "libuv", "tbb"};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        if (pb_backend_summary(outside[i])) {
            known_costs(outside[i]);
            return;
        }
    }
    skip();
}

/* Workers that exit inside the window (recycled after each task) and are
 * reaped there: their whole life counts, once. */
static void test_fork_recycled(void **state)
{
    (void)state;
    pbh_window w = measure("fork", 1, "test_cost_burn", 1000000, 40);
    /* 1 ms each, plus a worker's start and exit per task: what the same
     * recycled pool spends on tasks that burn nothing (a few hundred us
     * normally; several ms under AddressSanitizer, whose exit is costly). */
    pbh_window idle = measure("fork", 1, "test_cost_burn", 0, 40);
    double recycle = idle.pool.total / 40;
    print_message("fork (recycled) empty tasks: pool %.1f us/task\n", recycle / 1e3);
    assert_in_range((long)(w.pool.total / 40), (long)(0.97 * MS),
                    (long)(1.5 * MS + 2 * recycle));
}

/* The caller's own CPU time is the caller's, not the pool's. */
static void test_caller_apart(void **state)
{
    (void)state;
    pbh_meter *m;
    assert_int_equal(pbh_meter_new(&m), 0);
    pb_pool *pool = make_pool("thread", 2, 0);
    pbh_window w;
    assert_int_equal(pbh_meter_begin(m), 0);
    burn(20000000);
    burst(pool, "test_cost_nap", 1000, 10);
    assert_int_equal(pbh_meter_end(m, 10, &w), 0);
    pb_pool_destroy(pool);
    pbh_meter_free(m);
    assert_true(w.submitter.total >= 19.9 * MS);
    assert_true(w.pool.total < 5 * MS);
}

static pbh_meter *shared_meter;

static void *registered_burner(void *p)
{
    (void)p;
    pbh_meter_thread_enter(shared_meter);
    burn(20000000);
    pbh_meter_thread_leave(shared_meter);
    return NULL;
}

static void *anonymous_burner(void *p)
{
    (void)p;
    burn(20000000);
    return NULL;
}

/* A thread the caller registered is the caller's; any other thread of the
 * process, even one that exited before the window closed, is the pool's. */
static void test_threads_apart(void **state)
{
    (void)state;
    assert_int_equal(pbh_meter_new(&shared_meter), 0);
    pbh_window w;
    assert_int_equal(pbh_meter_begin(shared_meter), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, registered_burner, NULL), 0);
    pthread_join(t, NULL);
    assert_int_equal(pbh_meter_end(shared_meter, 1, &w), 0);
    assert_true(w.submitter.total >= 19.9 * MS);
    assert_true(w.pool.total < 5 * MS);

    assert_int_equal(pbh_meter_begin(shared_meter), 0);
    assert_int_equal(pthread_create(&t, NULL, anonymous_burner, NULL), 0);
    pthread_join(t, NULL);
    assert_int_equal(pbh_meter_end(shared_meter, 1, &w), 0);
    assert_true(w.pool.total >= 19.9 * MS);
    assert_true(w.submitter.total < 5 * MS);
    pbh_meter_free(shared_meter);
}

/* Memory: each of a fork pool's processes, none for a thread pool; the
 * pool's threads here. */
static void test_memory(void **state)
{
    (void)state;
    const char *backends[] = {"fork", "thread"};
    for (int b = 0; b < 2; b++) {
        pbh_meter *m;
        assert_int_equal(pbh_meter_new(&m), 0);
        pbh_meter_baseline(m);
        pb_pool *pool = make_pool(backends[b], 2, 0);
        pbh_meter_watch(m, pool);
        pbh_memory mem;
        assert_int_equal(pbh_meter_memory(m, &mem), PB_EINVAL); /* no window yet */
        assert_int_equal(pbh_meter_begin(m), 0);
        burst(pool, "test_cost_nap", 1000, 4);
        assert_int_equal(pbh_meter_end(m, 4, NULL), 0);
        assert_int_equal(pbh_meter_memory(m, &mem), 0);
        assert_true(mem.host_rss > 0);
        assert_true(mem.has_growth);
        if (b == 0) {
            assert_int_equal(mem.nprocs, 2);
            for (size_t i = 0; i < mem.nprocs; i++) {
                assert_true(mem.rss[i] > 0);
                assert_true(mem.pss[i] > 0 && mem.pss[i] <= mem.rss[i]);
            }
            assert_true(mem.threads >= 1); /* the collector */
        } else {
            assert_int_equal(mem.nprocs, 0);
            assert_int_equal(mem.threads, 2);
        }
        pbh_meter_watch(m, NULL);
        pb_pool_destroy(pool);
        pbh_meter_free(m);
    }
}

/* The hook names a process pool's workers; a thread pool cannot. */
static void test_worker_pids(void **state)
{
    (void)state;
    pb_pool *pool = make_pool("fork", 2, 0);
    pid_t pids[8];
    assert_int_equal(pb_pool_worker_pids(pool, pids, 8), 2);
    for (int i = 0; i < 2; i++) {
        assert_true(pids[i] != getpid());
        assert_true(pbh_cost_descends(pids[i]));
    }
    assert_int_equal(pb_pool_worker_pids(pool, pids, 1), 2); /* the count, past max */
    assert_int_equal(pb_pool_worker_pids(pool, NULL, 1), PB_EINVAL);
    pb_pool_destroy(pool);
    pool = make_pool("thread", 2, 0);
    assert_int_equal(pb_pool_worker_pids(pool, pids, 8), PB_ENOTSUP);
    pb_pool_destroy(pool);
    assert_true(pbh_cost_descends(getpid()));
    assert_false(pbh_cost_descends(getppid()));
}

/* Misuse is refused, not miscounted. */
static void test_misuse(void **state)
{
    (void)state;
    pbh_meter *m;
    assert_int_equal(pbh_meter_new(&m), 0);
    assert_int_equal(pbh_meter_end(m, 1, NULL), PB_EINVAL);
    assert_int_equal(pbh_meter_begin(m), 0);
    assert_int_equal(pbh_meter_begin(m), PB_EINVAL);
    assert_int_equal(pbh_meter_end(m, 1, NULL), 0);
    pbh_meter_free(m);
}

int main(int argc, char **argv)
{
    pb_worker_main_if_requested(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_misuse),        cmocka_unit_test(test_worker_pids),
        cmocka_unit_test(test_caller_apart),  cmocka_unit_test(test_threads_apart),
        cmocka_unit_test(test_memory),        cmocka_unit_test(test_thread),
        cmocka_unit_test(test_fork),          cmocka_unit_test(test_fork_recycled),
        cmocka_unit_test(test_outside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
