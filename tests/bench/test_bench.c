/*
 * test_bench.c — what the load and nested scenarios stand on (see
 * CMakeLists.txt for the groups). Nothing here checks how long anything
 * took: the generator runs on a fake clock, distributions are checked on
 * seeded draws (the same numbers every run), and the slow-pool check
 * compares queueing under two loads with margins far wider than any
 * machine's noise.
 *
 *   test_bench openloop | shapes | nested | slowpool
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pb/backend.h>
#include <pb/pool.h>

#include "openloop.h"
#include "rng.h"
#include "workloads.h"

/* ------------------------------------------------------------------------
 * The open-loop generator on a fake clock
 * ------------------------------------------------------------------------ */

#define N 200

typedef struct fake {
    int64_t t;           /* the fake clock */
    int64_t overshoot;   /* a sleep returns this late */
    int64_t send_cost;   /* a send takes this long */
    int64_t tick;        /* each look at the clock moves it on this much */
    size_t sleeps;
    size_t order[N], nsent;
    /* full() is true while the clock is in [full_from, full_to). */
    int64_t full_from, full_to;
    size_t refuse;       /* send refuses this arrival (N: none) */
    size_t stop_after;   /* stop() true once this many were sent (N: never) */
} fake;

static int64_t f_now(void *ud)
{
    fake *f = ud;
    int64_t t = f->t;
    f->t += f->tick;
    return t;
}

static void f_sleep(void *ud, int64_t t)
{
    fake *f = ud;
    f->sleeps++;
    if (t > f->t)
        f->t = t;
    f->t += f->overshoot;
}

static int f_send(void *ud, size_t i)
{
    fake *f = ud;
    f->order[f->nsent++] = i;
    f->t += f->send_cost;
    return i == f->refuse ? PB_ENOMEM : 0;
}

static bool f_full(void *ud)
{
    fake *f = ud;
    return f->t >= f->full_from && f->t < f->full_to;
}

static bool f_stop(void *ud)
{
    fake *f = ud;
    return f->nsent >= f->stop_after;
}

typedef struct run_out {
    int64_t at[N], sent_at[N], released[N];
    uint8_t status[N];
} run_out;

static pb_openloop fake_loop(fake *f, run_out *o, double rate, bool poisson)
{
    pb_rng rng;
    pb_rng_seed(&rng, 42, 0);
    pb_ol_schedule(o->at, N, rate, poisson, &rng);
    f->t = 0;
    if (!f->full_to)
        f->full_from = f->full_to = -1;
    if (!f->refuse)
        f->refuse = N;
    if (!f->stop_after)
        f->stop_after = N + 1;
    pb_openloop ol = {
        .at = o->at, .n = N, .start = 1000000000, .spin = 0, .policy = PB_OL_REJECT,
        .send = f_send, .full = f_full, .stop = f_stop, .ud = f,
        .clock = {f_now, f_sleep, f},
        .status = o->status, .sent_at = o->sent_at, .released = o->released,
    };
    return ol;
}

/* A perfect clock: every arrival is sent exactly when due, in order, after
 * one sleep each. */
static void test_schedule_kept(void **state)
{
    (void)state;
    fake f = {0};
    run_out o;
    pb_openloop ol = fake_loop(&f, &o, 10000, true);
    assert_int_equal(pb_ol_run(&ol), 0);
    assert_int_equal(ol.sent, N);
    assert_int_equal(f.nsent, N);
    assert_int_equal(f.sleeps, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(f.order[i], i);
        assert_int_equal(o.status[i], PB_OL_SENT);
        assert_int_equal(o.sent_at[i], ol.start + o.at[i]);
        assert_int_equal(o.released[i], ol.start + o.at[i]);
    }
}

/* Late wake-ups and slow sends: never early, never skipped, in order; a
 * late generator sends what is due at once, without sleeping. Each send
 * time is exactly what the rule gives: the due time plus the overshoot
 * when it had to sleep, else right after the previous send. */
static void test_late_generator(void **state)
{
    (void)state;
    fake f = {.overshoot = 300000, .send_cost = 30000}; /* gaps of 100 us on average */
    run_out o;
    pb_openloop ol = fake_loop(&f, &o, 10000, true);
    assert_int_equal(pb_ol_run(&ol), 0);
    assert_int_equal(ol.sent, N);
    size_t slept = 0;
    int64_t prev_end = 0;
    for (size_t i = 0; i < N; i++) {
        int64_t due = ol.start + o.at[i];
        assert_int_equal(f.order[i], i);
        assert_true(o.sent_at[i] >= due);
        int64_t want = prev_end < due ? due + f.overshoot : prev_end;
        slept += prev_end < due;
        assert_int_equal(o.sent_at[i], want);
        prev_end = o.sent_at[i] + f.send_cost;
    }
    assert_int_equal(f.sleeps, slept);
    assert_true(f.sleeps < N); /* it fell behind, and caught up without sleeping */
}

/* spin: sleeps until `spin` before the arrival, then looks at the clock
 * until it is due: sends within one tick of the due time. */
static void test_spin(void **state)
{
    (void)state;
    fake f = {.overshoot = 20000, .tick = 100};
    run_out o;
    pb_openloop ol = fake_loop(&f, &o, 10000, false);
    ol.spin = 50000;
    assert_int_equal(pb_ol_run(&ol), 0);
    for (size_t i = 0; i < N; i++) {
        int64_t due = ol.start + o.at[i];
        assert_true(o.sent_at[i] >= due && o.sent_at[i] < due + 2 * f.tick);
    }
    assert_true(f.sleeps <= N);
}

/* The cap, overload=reject: arrivals that find it full are not sent. */
static void test_cap_reject(void **state)
{
    (void)state;
    fake f = {0};
    run_out o;
    pb_openloop ol = fake_loop(&f, &o, 10000, false); /* one every 100 us */
    f.full_from = ol.start + o.at[10];
    f.full_to = ol.start + o.at[20];
    assert_int_equal(pb_ol_run(&ol), 0);
    assert_int_equal(ol.rejected, 10);
    assert_int_equal(ol.sent, N - 10);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(o.status[i], i >= 10 && i < 20 ? PB_OL_REJECTED : PB_OL_SENT);
    assert_int_equal(f.order[10], 20);
}

/* The cap, overload=queue: an arrival that finds it full waits until it has
 * room, is sent then (held, released when the cap let it go), and those
 * due meanwhile follow at once, late. Nothing is rejected. */
static void test_cap_queue(void **state)
{
    (void)state;
    fake f = {0};
    run_out o;
    pb_openloop ol = fake_loop(&f, &o, 10000, false);
    ol.policy = PB_OL_QUEUE;
    f.full_from = ol.start + o.at[5];
    f.full_to = ol.start + o.at[5] + 1000000; /* 1 ms: ten arrivals' worth */
    assert_int_equal(pb_ol_run(&ol), 0);
    assert_int_equal(ol.rejected, 0);
    assert_int_equal(ol.held, 1);
    assert_int_equal(ol.sent, N);
    assert_int_equal(o.status[5], PB_OL_HELD);
    assert_true(o.released[5] >= f.full_to);
    assert_int_equal(o.sent_at[5], o.released[5]);
    for (size_t i = 6; i < 15; i++) {
        assert_int_equal(o.status[i], PB_OL_SENT);
        assert_true(o.sent_at[i] > ol.start + o.at[i]); /* late, behind the held one */
        assert_int_equal(o.released[i], ol.start + o.at[i]);
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(f.order[i], i);
}

/* A refused send is counted; stop() ends the run, leaving the rest unsent. */
static void test_refused_and_stop(void **state)
{
    (void)state;
    fake f = {.refuse = 7, .stop_after = 50};
    run_out o;
    pb_openloop ol = fake_loop(&f, &o, 10000, true);
    assert_int_equal(pb_ol_run(&ol), 0);
    assert_int_equal(ol.refused, 1);
    assert_int_equal(o.status[7], PB_OL_REFUSED);
    assert_true(ol.stopped);
    assert_int_equal(f.nsent, 50);
    assert_int_equal(ol.sent, 49);
    for (size_t i = 50; i < N; i++)
        assert_int_equal(o.status[i], PB_OL_UNSENT);
}

/* Schedules: evenly spaced is exact; Poisson replays from its seed, differs
 * with another, and has the mean gap asked for (on this seed's draws). */
static void test_schedules(void **state)
{
    (void)state;
    enum { M = 100000 };
    int64_t *a = malloc(M * sizeof *a), *b = malloc(M * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    pb_rng r;
    pb_ol_schedule(a, M, 4000, false, &r);
    for (size_t i = 0; i < M; i++)
        assert_int_equal(a[i], (int64_t)(250000.0 * (double)(i + 1)));
    pb_rng_seed(&r, 9, 3);
    pb_ol_schedule(a, M, 4000, true, &r);
    pb_rng_seed(&r, 9, 3);
    pb_ol_schedule(b, M, 4000, true, &r);
    assert_memory_equal(a, b, M * sizeof *a);
    for (size_t i = 1; i < M; i++)
        assert_true(a[i] >= a[i - 1]);
    double mean_gap = (double)a[M - 1] / M;
    assert_true(fabs(mean_gap - 250000) < 0.02 * 250000);
    pb_rng_seed(&r, 10, 3);
    pb_ol_schedule(b, M, 4000, true, &r);
    assert_true(memcmp(a, b, M * sizeof *a) != 0);
    free(a);
    free(b);
}

/* ------------------------------------------------------------------------
 * Task shapes
 * ------------------------------------------------------------------------ */

static pb_shape shape_of(pb_dist d, pb_work_kind k, uint64_t seed)
{
    return (pb_shape){.dist = d, .mean = 100000, .kind = k, .imbalance = 1, .workers = 2,
                      .seed = seed};
}

/* The same seed and stream give the same tasks, in the same order; another
 * seed, other tasks. */
static void test_same_seed(void **state)
{
    (void)state;
    enum { M = 1000 };
    for (int d = PB_DIST_FIXED; d <= PB_DIST_PARETO; d++) {
        for (int k = PB_WORK_SPIN; k <= PB_WORK_MIX; k++) {
            pb_shape s = shape_of((pb_dist)d, (pb_work_kind)k, 77);
            pb_shaper x, y, z;
            pb_shaper_init(&x, &s, 5);
            pb_shaper_init(&y, &s, 5);
            s.seed = 78;
            pb_shaper_init(&z, &s, 5);
            bool differs = false;
            for (size_t i = 0; i < M; i++) {
                pb_work a = pb_shaper_next(&x), b = pb_shaper_next(&y), c = pb_shaper_next(&z);
                assert_int_equal(a.ns, b.ns);
                assert_int_equal(a.kind, b.kind);
                assert_true(a.kind >= PB_WORK_SPIN && a.kind <= PB_WORK_SLEEP);
                differs |= a.ns != c.ns || a.kind != c.kind;
            }
            /* Only fixed durations of one kind are the same under any seed. */
            assert_true(differs == (d != PB_DIST_FIXED || k == PB_WORK_MIX));
        }
    }
}

/* Each distribution has mean g (on these seeded draws) and its own form. */
static void test_distributions(void **state)
{
    (void)state;
    enum { M = 400000 };
    const double g = 100000;
    for (int d = PB_DIST_FIXED; d <= PB_DIST_PARETO; d++) {
        pb_shape s = shape_of((pb_dist)d, PB_WORK_SPIN, 1);
        pb_shaper x;
        pb_shaper_init(&x, &s, 0);
        double sum = 0, lo = INFINITY, hi = 0;
        size_t longs = 0;
        for (size_t i = 0; i < M; i++) {
            double v = (double)pb_shaper_next(&x).ns;
            sum += v;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            longs += v > g;
        }
        double mean = sum / M;
        if (fabs(mean - g) > 0.03 * g)
            fail_msg("%s: mean %.0f, not %.0f", pb_dist_names[d], mean, g);
        switch (d) {
        case PB_DIST_FIXED:
            assert_true(lo == g && hi == g);
            break;
        case PB_DIST_UNIFORM:
            assert_true(lo >= 0 && hi <= 2 * g);
            break;
        case PB_DIST_EXPONENTIAL:
            assert_true(lo >= 0 && hi > 8 * g); /* a tail */
            break;
        case PB_DIST_BIMODAL:
            assert_true(fabs(hi / lo - 10) < 1e-3);
            assert_true(fabs((double)longs / M - 0.1) < 0.005);
            break;
        case PB_DIST_PARETO:
            assert_true(lo >= 0.3469 * g && hi <= 100 * g + 1 && hi > 50 * g);
            break;
        }
    }
}

/* Imbalance: one task in `workers` (index 0, W, 2W, ...) k times longer;
 * mix: the three kinds, evenly. */
static void test_imbalance_and_mix(void **state)
{
    (void)state;
    pb_shape s = shape_of(PB_DIST_FIXED, PB_WORK_SPIN, 1);
    s.imbalance = 5;
    s.workers = 4;
    assert_false(pb_shape_plain(&s));
    pb_shaper x;
    pb_shaper_init(&x, &s, 0);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(pb_shaper_next(&x).ns, i % 4 == 0 ? 500000 : 100000);
    s = shape_of(PB_DIST_FIXED, PB_WORK_MIX, 1);
    pb_shaper_init(&x, &s, 0);
    size_t kinds[3] = {0};
    for (size_t i = 0; i < 30000; i++)
        kinds[pb_shaper_next(&x).kind]++;
    for (int k = 0; k < 3; k++)
        assert_true(kinds[k] > 9000 && kinds[k] < 11000);
    s = shape_of(PB_DIST_FIXED, PB_WORK_SPIN, 1);
    assert_true(pb_shape_plain(&s));
    /* Every kind runs (briefly) in this thread. */
    for (int k = PB_WORK_SPIN; k <= PB_WORK_SLEEP; k++) {
        pb_work w = {.ns = 20000, .kind = k};
        int64_t t0 = pb_now_ns();
        pb_workload_run(&w);
        assert_true(pb_now_ns() - t0 >= w.ns);
    }
    assert_true(pb_workload_buffer_size() >= (size_t)16 << 20);
}

/* ------------------------------------------------------------------------
 * Nested tasks
 * ------------------------------------------------------------------------ */

/* The thread backend without its help: a copy of its table. */
static pb_backend nohelp;

static void register_nohelp(void)
{
    if (pb_backend_find("nohelp-test"))
        return;
    nohelp = *pb_backend_find("thread");
    nohelp.name = "nohelp-test";
    nohelp.help_nested = NULL;
    assert_int_equal(pb_backend_register(&nohelp), 0);
}

static pb_nest_arg tree_root(pb_nest_shape shape, int depth, int64_t deadline)
{
    int64_t now = pb_now_ns();
    return (pb_nest_arg){.shape = shape, .n = 5 + depth, .cutoff = 5, .depth = depth,
                         .fanout = 3, .leaf = 1000, .deadline = now + deadline,
                         .grace = now + 2 * deadline};
}

/* Runs a nested tree on a fresh pool of backend; returns the root's code,
 * its result in *res, its error in *task_code (PB_ETASK). */
static int nest_on(const char *backend, int workers, pb_nest_arg root, pb_nest_result *res,
                   int *task_code, char *msg, size_t msglen)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = workers;
    pb_pool *pool;
    assert_int_equal(pb_pool_create(backend, &o, &pool), 0);
    pb_future *f;
    assert_int_equal(pb_submit(pool, pb_task_find("nest"), &root, sizeof root, &f), 0);
    const void *data;
    size_t len;
    int rc = pb_future_result(f, PB_FOREVER, &data, &len);
    if (rc == 0) {
        assert_int_equal(len, sizeof *res);
        memcpy(res, data, sizeof *res);
    } else {
        pb_error e;
        assert_int_equal(pb_future_error(f, 0, &e), 0);
        *task_code = e.task_code;
        snprintf(msg, msglen, "%s", e.message);
    }
    pb_future_release(f);
    /* Nothing waits any more once the tree gave up: destroy returns. */
    pb_pool_shutdown(pool, false, true);
    pb_pool_destroy(pool);
    return rc;
}

/* The thread backend helps while waiting: fork-join and trees finish on
 * one worker and on two, with the right answer. */
static void test_thread_finishes(void **state)
{
    (void)state;
    for (int workers = 1; workers <= 2; workers++) {
        pb_nest_result r;
        int code;
        char msg[256];
        int rc = nest_on("thread", workers, tree_root(PB_NEST_FIB, 7, 10000000000LL), &r, &code,
                         msg, sizeof msg);
        if (rc)
            fail_msg("fib on %d workers: %s", workers, msg);
        assert_int_equal(r.value, pb_nest_fib(12));
        assert_int_equal(r.tasks, 67); /* T(7) with T(-1) = T(0) = 1 */
        rc = nest_on("thread", workers, tree_root(PB_NEST_TREE, 4, 10000000000LL), &r, &code,
                     msg, sizeof msg);
        if (rc)
            fail_msg("tree on %d workers: %s", workers, msg);
        assert_int_equal(r.value, 81);
        assert_int_equal(r.tasks, 1 + 3 + 9 + 27 + 81);
    }
}

/* The same pool without help deadlocks: found by the deadline, reported as
 * a deadlock with the depth where the workers ran out (0 with one worker:
 * the root's own subtasks never start; at most the depth with more), and
 * the pool is then torn down (the test would hang otherwise). */
static void test_nohelp_deadlocks(void **state)
{
    (void)state;
    register_nohelp();
    for (int workers = 1; workers <= 2; workers++) {
        pb_nest_result r;
        int code = 0;
        char msg[256] = "";
        int rc = nest_on("nohelp-test", workers, tree_root(PB_NEST_FIB, 6, 200000000), &r, &code,
                         msg, sizeof msg);
        assert_int_equal(rc, PB_ETASK);
        if (code < PB_NEST_DEADLOCK || code > PB_NEST_DEADLOCK + 6)
            fail_msg("%d workers: task code %d: %s", workers, code, msg);
        if (workers == 1)
            assert_int_equal(code, PB_NEST_DEADLOCK);
        assert_non_null(strstr(msg, "deadlock at depth"));
    }
}

/* Inside a task: whether it has a pool to submit to. */
PB_TASK(has_pool)
{
    int32_t yes = pb_task_pool(ctx) != NULL;
    pb_task_return(ctx, &yes, sizeof yes);
}

static pb_pool *inherited; /* a pool made before the fork workers were */

/* In a fork worker: submits to the copy of `inherited` it was born with. */
PB_TASK(submit_inherited)
{
    pb_future *f = NULL;
    int32_t rc = pb_submit(inherited, pb_task_find("has_pool"), NULL, 0, &f);
    if (rc == 0)
        pb_future_release(f);
    pb_task_return(ctx, &rc, sizeof rc);
}

static int32_t int_result(pb_pool *pool, const char *task)
{
    pb_future *f;
    assert_int_equal(pb_submit(pool, pb_task_find(task), NULL, 0, &f), 0);
    const void *data;
    size_t len;
    assert_int_equal(pb_future_result(f, PB_FOREVER, &data, &len), 0);
    int32_t v;
    memcpy(&v, data, sizeof v);
    pb_future_release(f);
    return v;
}

/* A thread worker has its pool; a fork worker has none (pb_task_pool NULL,
 * nest fails with ENOTSUP), and a submit to the copy of a pool it
 * inherited is refused with PB_ENOTSUP instead of queueing where no worker
 * will ever look. */
static void test_process_workers(void **state)
{
    (void)state;
    pb_pool *thread_pool;
    assert_int_equal(pb_pool_create("thread", NULL, &thread_pool), 0);
    assert_int_equal(int_result(thread_pool, "has_pool"), 1);
    inherited = thread_pool;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    pb_pool *fork_pool;
    assert_int_equal(pb_pool_create("fork", &o, &fork_pool), 0);
    assert_int_equal(int_result(fork_pool, "has_pool"), 0);
    assert_int_equal(int_result(fork_pool, "submit_inherited"), PB_ENOTSUP);
    pb_nest_arg root = tree_root(PB_NEST_FIB, 3, 10000000000LL);
    pb_future *f;
    assert_int_equal(pb_submit(fork_pool, pb_task_find("nest"), &root, sizeof root, &f), 0);
    pb_error e;
    assert_int_equal(pb_future_error(f, PB_FOREVER, &e), 0);
    assert_int_equal(e.code, PB_ETASK);
    assert_int_equal(e.task_code, ENOTSUP);
    assert_non_null(strstr(e.message, "worker process"));
    pb_future_release(f);
    pb_pool_destroy(fork_pool);
    /* Still this process's own pool: it takes work. */
    assert_int_equal(int_result(thread_pool, "has_pool"), 1);
    pb_pool_destroy(thread_pool);
    /* Outside any pool there is none either. */
    pb_outcome out;
    pb_task_run(pb_task_find("has_pool"), NULL, 0, &out);
    int32_t v;
    memcpy(&v, out.data, sizeof v);
    assert_int_equal(v, 0);
    pb_outcome_clear(&out);
}

/* ------------------------------------------------------------------------
 * A slow pool under an open loop, and under a closed one
 * ------------------------------------------------------------------------ */

typedef struct slow {
    pb_pool *pool;
    pb_future **fs;
    pb_work work;
} slow;

static int slow_send(void *ud, size_t i)
{
    slow *s = ud;
    return pb_submit(s->pool, pb_task_find("work"), &s->work, sizeof s->work, &s->fs[i]);
}

static bool never_full(void *ud)
{
    (void)ud;
    return false;
}

/* Mean queueing (started - submitted) of fs[0..n), released after. */
static double mean_queueing(pb_future **fs, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(pb_future_result(fs[i], PB_FOREVER, NULL, NULL), 0);
        pb_times t;
        pb_future_times(fs[i], &t);
        sum += (double)(t.started - t.submitted);
        pb_future_release(fs[i]);
    }
    return sum / (double)n;
}

/* n arrivals at `rate` (Poisson, a fixed seed) on pool; mean queueing. */
static double open_loop(slow *s, size_t n, double rate)
{
    int64_t *at = calloc(n, sizeof *at), *sent_at = calloc(n, sizeof *sent_at);
    int64_t *released = calloc(n, sizeof *released);
    uint8_t *status = calloc(n, 1);
    s->fs = calloc(n, sizeof *s->fs);
    assert_true(at && sent_at && released && status && s->fs);
    pb_rng rng;
    pb_rng_seed(&rng, 2026, 1);
    pb_ol_schedule(at, n, rate, true, &rng);
    pb_openloop ol = {.at = at, .n = n, .start = pb_now_ns() + 1000000, .policy = PB_OL_REJECT,
                      .send = slow_send, .full = never_full, .ud = s, .clock = pb_ol_real_clock,
                      .status = status, .sent_at = sent_at, .released = released};
    assert_int_equal(pb_ol_run(&ol), 0);
    assert_int_equal(ol.sent, n);
    double q = mean_queueing(s->fs, n);
    free(at);
    free(sent_at);
    free(released);
    free(status);
    free(s->fs);
    return q;
}

/* One worker, tasks that sleep 2 ms (capacity about 500/s). Offered 90% of
 * that, tasks queue (an M/D/1 queue waits 9 ms on average); offered 20%,
 * hardly (0.25 ms); a closed loop over the same pool, never: it sends the
 * next task only when the last is back, so nothing ever waits for the
 * worker — the queueing a service would see does not show. */
static void test_slow_pool(void **state)
{
    (void)state;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    slow s = {.work = {.ns = 2000000, .kind = PB_WORK_SLEEP}};
    assert_int_equal(pb_pool_create("thread", &o, &s.pool), 0);
    double q20 = open_loop(&s, 100, 100);
    double q90 = open_loop(&s, 450, 450);
    pb_future *fs[100];
    for (size_t i = 0; i < 100; i++) {
        assert_int_equal(pb_submit(s.pool, pb_task_find("work"), &s.work, sizeof s.work, &fs[i]), 0);
        assert_int_equal(pb_future_result(fs[i], PB_FOREVER, NULL, NULL), 0);
    }
    double closed = mean_queueing(fs, 100);
    pb_pool_destroy(s.pool);
    fprintf(stderr, "mean queueing: open 20%% %.0f us, open 90%% %.0f us, closed %.0f us\n",
            q20 / 1e3, q90 / 1e3, closed / 1e3);
    assert_true(q90 > 2000000);      /* ms of queueing near capacity */
    assert_true(q90 > 4 * q20);      /* growing with the load */
    assert_true(q90 > 4 * closed);   /* where the closed loop sees none */
}

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "";
    if (!strcmp(group, "openloop")) {
        const struct CMUnitTest t[] = {
            cmocka_unit_test(test_schedule_kept), cmocka_unit_test(test_late_generator),
            cmocka_unit_test(test_spin),          cmocka_unit_test(test_cap_reject),
            cmocka_unit_test(test_cap_queue),     cmocka_unit_test(test_refused_and_stop),
            cmocka_unit_test(test_schedules),
        };
        return cmocka_run_group_tests(t, NULL, NULL);
    }
    if (!strcmp(group, "shapes")) {
        const struct CMUnitTest t[] = {
            cmocka_unit_test(test_same_seed),
            cmocka_unit_test(test_distributions),
            cmocka_unit_test(test_imbalance_and_mix),
        };
        return cmocka_run_group_tests(t, NULL, NULL);
    }
    if (!strcmp(group, "nested")) {
        const struct CMUnitTest t[] = {
            cmocka_unit_test(test_thread_finishes),
            cmocka_unit_test(test_nohelp_deadlocks),
            cmocka_unit_test(test_process_workers),
        };
        return cmocka_run_group_tests(t, NULL, NULL);
    }
    if (!strcmp(group, "slowpool")) {
        const struct CMUnitTest t[] = {cmocka_unit_test(test_slow_pool)};
        return cmocka_run_group_tests(t, NULL, NULL);
    }
    fprintf(stderr, "usage: test_bench openloop|shapes|nested|slowpool\n");
    return 2;
}
