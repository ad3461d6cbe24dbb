/*
 * case_callbacks.c — done-callbacks: in the order added, exactly once, on
 * completion, failure and cancel, at once in the caller's thread on a done
 * future, and callbacks that read, retain or release their future.
 */
#include "conformance.h"

#include <stdatomic.h>
#include <stdlib.h>

/* A log of callback runs: which callback, in which thread, what it saw. */
typedef struct cb_log {
    pthread_mutex_t mu;
    int ids[64];
    long tids[64];
    int rcs[64];
    int n;
    pbc_counter runs;
} cb_log;

static void log_init(cb_log *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pbc_counter_init(&l->runs);
}

typedef struct cb_entry {
    cb_log *log;
    int id;
} cb_entry;

static void logging_cb(pb_future *f, void *ud)
{
    cb_entry *e = ud;
    /* A callback may read its future; the answer is there at once. */
    int rc = pb_future_result(f, 0, NULL, NULL);
    CHECK_MSG(rc != PB_ETIMEDOUT, "in a done-callback, pb_future_result(f, 0) timed out");
    CHECK_MSG(pb_future_done(f), "a done-callback ran on a future that is not done");
    pthread_mutex_lock(&e->log->mu);
    if (e->log->n < 64) {
        e->log->ids[e->log->n] = e->id;
        e->log->tids[e->log->n] = pbc_gettid();
        e->log->rcs[e->log->n] = rc;
        e->log->n++;
    }
    pthread_mutex_unlock(&e->log->mu);
    pbc_counter_add(&e->log->runs, 1);
}

PBC_CASE(callback, order_and_once_on_completion)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), false);
    pb_future *f = b.blockers[0];
    cb_log log;
    log_init(&log);
    enum { N = 6 };
    cb_entry es[N];
    for (int i = 0; i < N; i++) {
        es[i] = (cb_entry){&log, i};
        CHECK_OK(pb_future_add_done_callback(f, logging_cb, &es[i]));
    }
    CHECK_INT(pbc_counter_get(&log.runs), ==, 0);
    pbc_gate_open(&b.gate);
    CHECK_OK(pb_future_result(f, PB_FOREVER, NULL, NULL));
    pbc_counter_wait_ge(&log.runs, N);
    /* Once the pool is gone nothing can run a callback again. */
    pbc_blocked_teardown(&b);
    CHECK_INT(log.n, ==, N);
    for (int i = 0; i < N; i++) {
        CHECK_INT(log.ids[i], ==, i);
        CHECK_CODE(log.rcs[i], 0);
        CHECK_MSG(log.tids[i] != pbc_gettid(),
                  "callback %d ran in the waiting caller's thread, not in the thread "
                  "that completed the future", i);
    }
}

PBC_CASE(callback, on_failure)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), false);
    int32_t code = 11;
    pb_future *f = pbc_submit(b.pool, "conf_fail", &code, sizeof code);
    cb_log log;
    log_init(&log);
    cb_entry es[2] = {{&log, 0}, {&log, 1}};
    CHECK_OK(pb_future_add_done_callback(f, logging_cb, &es[0]));
    CHECK_OK(pb_future_add_done_callback(f, logging_cb, &es[1]));
    pbc_gate_open(&b.gate);
    pbc_counter_wait_ge(&log.runs, 2);
    pbc_blocked_teardown(&b);
    CHECK_INT(log.n, ==, 2);
    CHECK_INT(log.ids[0], ==, 0);
    CHECK_INT(log.ids[1], ==, 1);
    CHECK_CODE(log.rcs[0], PB_ETASK);
    CHECK_CODE(log.rcs[1], PB_ETASK);
    pb_future_release(f);
}

PBC_CASE(callback, on_cancel_runs_before_cancel_returns)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), true);
    pb_future *t = b.pending;
    cb_log log;
    log_init(&log);
    cb_entry es[3] = {{&log, 0}, {&log, 1}, {&log, 2}};
    for (int i = 0; i < 3; i++)
        CHECK_OK(pb_future_add_done_callback(t, logging_cb, &es[i]));
    CHECK(pb_future_cancel(t));
    /* No waiting: they must have run, here, before cancel returned. */
    CHECK_INT(pbc_counter_get(&log.runs), ==, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(log.ids[i], ==, i);
        CHECK_INT(log.tids[i], ==, pbc_gettid());
        CHECK_CODE(log.rcs[i], PB_ECANCELED);
    }
    CHECK(pb_future_cancel(t)); /* again: no second run */
    pbc_blocked_teardown(&b);
    CHECK_INT(log.n, ==, 3);
}

PBC_CASE(callback, on_done_future_runs_at_once_here)
{
    pb_pool *pool = pbc_pool(backend, 1, NULL);
    pb_future *f = pbc_submit_u64(pool, 5);
    CHECK_RESULT_U64(f, 5);
    cb_log log;
    log_init(&log);
    cb_entry es[2] = {{&log, 0}, {&log, 1}};
    CHECK_OK(pb_future_add_done_callback(f, logging_cb, &es[0]));
    CHECK_INT(pbc_counter_get(&log.runs), ==, 1);
    CHECK_OK(pb_future_add_done_callback(f, logging_cb, &es[1]));
    CHECK_INT(pbc_counter_get(&log.runs), ==, 2);
    CHECK_INT(log.tids[0], ==, pbc_gettid());
    CHECK_INT(log.tids[1], ==, pbc_gettid());
    CHECK_INT(log.ids[0], ==, 0);
    CHECK_INT(log.ids[1], ==, 1);

    STEP("on a cancelled future");
    pbc_blocked b;
    BLOCKED_SETUP(&b, pool, true);
    pb_future *t = b.pending;
    CHECK(pb_future_cancel(t));
    cb_entry e3 = {&log, 2};
    CHECK_OK(pb_future_add_done_callback(t, logging_cb, &e3));
    CHECK_INT(pbc_counter_get(&log.runs), ==, 3);
    CHECK_CODE(log.rcs[2], PB_ECANCELED);
    CHECK_INT(log.tids[2], ==, pbc_gettid());

    pbc_blocked_teardown(&b);
    CHECK_INT(log.n, ==, 3);
    pb_future_release(f);
}

/* The callback owns the only caller reference and drops it. */
static pbc_counter g_release_runs;

static void releasing_cb(pb_future *f, void *ud)
{
    uint64_t want = (uint64_t)(uintptr_t)ud;
    const void *data = NULL;
    size_t len = 0;
    CHECK_OK(pb_future_result(f, 0, &data, &len));
    CHECK(len == 8);
    uint64_t v;
    memcpy(&v, data, 8);
    CHECK_INT(v, ==, want);
    pb_future_release(f);
    pbc_counter_add(&g_release_runs, 1);
}

/* The callback keeps the future alive past the caller's release. */
static pb_future *g_kept;

static void retaining_cb(pb_future *f, void *ud)
{
    pb_future_retain(f);
    __atomic_store_n(&g_kept, f, __ATOMIC_RELEASE);
}

PBC_CASE(callback, may_retain_and_release)
{
    pbc_counter_init(&g_release_runs);

    STEP("callbacks that release the caller's last reference");
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), false);
    pb_pool *pool = b.pool;
    enum { N = 50 };
    for (int i = 0; i < N; i++) {
        pb_future *f = pbc_submit_u64(pool, (uint64_t)i);
        CHECK_OK(pb_future_add_done_callback(f, releasing_cb, (void *)(uintptr_t)i));
        /* f now belongs to its callback: not touched here again. */
    }
    pbc_gate_open(&b.gate);
    pbc_counter_wait_ge(&g_release_runs, N);

    STEP("a callback that releases, added to a done future");
    pb_future *d = pbc_submit_u64(pool, 1234);
    CHECK_RESULT_U64(d, 1234);
    CHECK_OK(pb_future_add_done_callback(d, releasing_cb, (void *)(uintptr_t)1234));
    CHECK_INT(pbc_counter_get(&g_release_runs), ==, N + 1);

    STEP("a callback that retains");
    pbc_gate g2;
    pbc_gate_init(&g2);
    pb_future *r = pbc_submit_gate(pool, &g2);
    CHECK_OK(pb_future_add_done_callback(r, retaining_cb, NULL));
    pb_future_release(r); /* the pool and, soon, the callback hold it */
    pbc_gate_open(&g2);
    AWAIT(__atomic_load_n(&g_kept, __ATOMIC_ACQUIRE) != NULL);
    pb_future *kept = __atomic_load_n(&g_kept, __ATOMIC_ACQUIRE);
    CHECK(kept == r);
    pbc_blocked_teardown(&b);
    CHECK_STATE_ALL(kept, PB_FINISHED);
    CHECK_OK(pb_future_result(kept, 0, NULL, NULL));
    pb_future_release(kept);
}

static void counting_cb(pb_future *f, void *ud)
{
    CHECK_MSG(pb_future_done(f), "a done-callback ran on a future that is not done");
    atomic_fetch_add((atomic_int *)ud, 1);
}

PBC_CASE(callback, exactly_once_each_under_load)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { N = 3000 };
    atomic_int *counts = calloc(N, sizeof *counts);
    pb_future **fs = calloc(N, sizeof *fs);
    CHECK(counts != NULL && fs != NULL);
    for (int i = 0; i < N; i++) {
        atomic_init(&counts[i], 0);
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        /* Added while the task may be completing: once either way, and the
         * second after the first. */
        CHECK_OK(pb_future_add_done_callback(fs[i], counting_cb, &counts[i]));
        CHECK_OK(pb_future_add_done_callback(fs[i], counting_cb, &counts[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_RESULT_U64(fs[i], (uint64_t)i);
    pb_pool_destroy(pool);
    for (int i = 0; i < N; i++)
        CHECK_MSG(atomic_load(&counts[i]) == 2,
                  "future %d: its 2 callbacks ran %d times in all", i,
                  atomic_load(&counts[i]));
    pbc_release_all(fs, N);
    free(fs);
    free(counts);
}
