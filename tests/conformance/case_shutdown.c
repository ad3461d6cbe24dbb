/*
 * case_shutdown.c — shutdown with and without wait, cancel_futures (only
 * pending futures are cancelled, their callbacks run before shutdown returns,
 * the rest completes), repeated and concurrent shutdowns, submit afterwards,
 * and destroy with queued work.
 */
#include "conformance.h"

#include <stdatomic.h>
#include <stdlib.h>

PBC_CASE(shutdown, wait_runs_everything_first)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { N = 200 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++) {
        if (i % 10 == 0) {
            int64_t ns = 300 * 1000;
            fs[i] = pbc_submit(pool, "conf_sleep_ns", &ns, sizeof ns);
        } else {
            fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        }
    }
    CHECK_OK(pb_pool_shutdown(pool, true, false));
    for (int i = 0; i < N; i++)
        CHECK_STATE_ALL(fs[i], PB_FINISHED);
    for (int i = 0; i < N; i++) {
        if (i % 10 != 0)
            CHECK_RESULT_U64(fs[i], (uint64_t)i);
    }
    pb_future *f = (pb_future *)&f;
    CHECK_CODE(pb_submit(pool, pbc_task("conf_noop"), NULL, 0, &f), PB_ESHUTDOWN);
    CHECK_MSG(f == (pb_future *)&f, "a refused pb_submit wrote *out");
    pb_pool_destroy(pool);
    pbc_release_all(fs, N);
}

PBC_CASE(shutdown, nowait_still_runs_queued_work)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    STEP("shutdown(wait=false) with every worker blocked");
    CHECK_OK(pb_pool_shutdown(b.pool, false, false)); /* waiting would hang here */
    CHECK_STATE_ALL(b.blockers[0], PB_RUNNING);
    CHECK_STATE_ALL(b.pending, PB_PENDING);
    pb_future *f = NULL;
    CHECK_CODE(pb_submit(b.pool, pbc_task("conf_noop"), NULL, 0, &f), PB_ESHUTDOWN);
    pbc_gate_open(&b.gate);
    for (int i = 0; i < PBC_BACKLOG; i++)
        CHECK_RESULT_U64(b.backlog[i], (uint64_t)i);
    for (int i = 0; i < b.workers; i++) {
        CHECK_OK(pb_future_result(b.blockers[i], PB_FOREVER, NULL, NULL));
        CHECK_STATE_ALL(b.blockers[i], PB_FINISHED);
    }
    pbc_blocked_teardown(&b);
}

typedef struct cancel_seen {
    atomic_int in_caller;  /* callbacks that ran in the shutdown caller's thread */
    atomic_int elsewhere;
    long caller_tid;
} cancel_seen;

static void shutdown_cb(pb_future *f, void *ud)
{
    cancel_seen *s = ud;
    if (pbc_gettid() == s->caller_tid)
        atomic_fetch_add(&s->in_caller, 1);
    else
        atomic_fetch_add(&s->elsewhere, 1);
}

PBC_CASE(shutdown, cancel_futures_cancels_only_pending)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    pb_future **backlog = b.backlog;
    cancel_seen seen = {.caller_tid = pbc_gettid()};
    atomic_init(&seen.in_caller, 0);
    atomic_init(&seen.elsewhere, 0);
    for (int i = 0; i < PBC_BACKLOG; i++)
        CHECK_OK(pb_future_add_done_callback(backlog[i], shutdown_cb, &seen));

    /* Callbacks added to futures already done ran here at once: count only
     * those run by shutdown. */
    int before = atomic_load(&seen.in_caller);
    int cancelled_before = 0;
    for (int i = 0; i < PBC_BACKLOG; i++)
        cancelled_before += pb_future_cancelled(backlog[i]);
    CHECK_INT(cancelled_before, ==, 0);
    STEP("shutdown(wait=false, cancel_futures=true)");
    CHECK_OK(pb_pool_shutdown(b.pool, false, true));
    int cancelled = 0;
    for (int i = 0; i < PBC_BACKLOG; i++) {
        pb_state st = pb_future_state(backlog[i]);
        CHECK_MSG(st != PB_PENDING, "backlog future %d still PENDING after shutdown "
                  "with cancel_futures returned", i);
        if (st == PB_CANCELLED)
            cancelled++;
    }
    CHECK_STATE_ALL(b.pending, PB_CANCELLED);
    CHECK_MSG(atomic_load(&seen.in_caller) - before == cancelled,
              "%d futures were cancelled but %d callbacks ran in the thread calling "
              "shutdown before it returned", cancelled,
              atomic_load(&seen.in_caller) - before);
    STEP("running futures are left alone");
    for (int i = 0; i < b.workers; i++)
        CHECK_STATE_ALL(b.blockers[i], PB_RUNNING);

    pbc_gate_open(&b.gate);
    for (int i = 0; i < b.workers; i++) {
        CHECK_OK(pb_future_result(b.blockers[i], PB_FOREVER, NULL, NULL));
        CHECK_STATE_ALL(b.blockers[i], PB_FINISHED);
    }
    for (int i = 0; i < PBC_BACKLOG; i++) {
        if (pb_future_cancelled(backlog[i]))
            CHECK_CODE(pb_future_result(backlog[i], PB_FOREVER, NULL, NULL), PB_ECANCELED);
        else
            CHECK_RESULT_U64(backlog[i], (uint64_t)i);
    }
    pbc_blocked_teardown(&b);
    CHECK_INT(atomic_load(&seen.in_caller) + atomic_load(&seen.elsewhere), ==, PBC_BACKLOG);
}

typedef struct delayed_open {
    pbc_gate *gate;
    int ms;
} delayed_open;

static void *delayed_open_main(void *p)
{
    delayed_open *d = p;
    pbc_sleep_ms(d->ms);
    pbc_gate_open(d->gate);
    return NULL;
}

PBC_CASE(shutdown, wait_and_cancel_futures)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    delayed_open d = {&b.gate, 50};
    pbc_thread th;
    pbc_thread_start(&th, delayed_open_main, &d);
    STEP("shutdown(wait=true, cancel_futures=true)");
    CHECK_OK(pb_pool_shutdown(b.pool, true, true));
    for (int i = 0; i < b.workers; i++)
        CHECK_STATE_ALL(b.blockers[i], PB_FINISHED);
    for (int i = 0; i < PBC_BACKLOG; i++) {
        CHECK(pb_future_done(b.backlog[i]));
        if (!pb_future_cancelled(b.backlog[i]))
            CHECK_RESULT_U64(b.backlog[i], (uint64_t)i);
    }
    pbc_thread_join(&th);
    pbc_blocked_teardown(&b);
}

PBC_CASE(shutdown, repeatable)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    pb_pool *pool = b.pool;

    CHECK_OK(pb_pool_shutdown(pool, false, false));
    CHECK_OK(pb_pool_shutdown(pool, false, false));
    CHECK_STATE_ALL(b.pending, PB_PENDING);
    STEP("a later shutdown adds cancel_futures");
    CHECK_OK(pb_pool_shutdown(pool, false, true));
    CHECK_STATE_ALL(b.pending, PB_CANCELLED);
    CHECK_OK(pb_pool_shutdown(pool, false, true));
    pbc_gate_open(&b.gate);
    STEP("a later shutdown adds wait");
    CHECK_OK(pb_pool_shutdown(pool, true, false));
    for (int i = 0; i < b.workers; i++)
        CHECK_STATE_ALL(b.blockers[i], PB_FINISHED);
    for (int i = 0; i < PBC_BACKLOG; i++)
        CHECK(pb_future_done(b.backlog[i]));
    CHECK_OK(pb_pool_shutdown(pool, true, true));
    CHECK_OK(pb_pool_shutdown(pool, false, false));
    pb_future *f = NULL;
    CHECK_CODE(pb_submit(pool, pbc_task("conf_noop"), NULL, 0, &f), PB_ESHUTDOWN);
    pbc_blocked_teardown(&b);
}

typedef struct shutter {
    pb_pool *pool;
    int rc;
} shutter;

static void *shutter_main(void *p)
{
    shutter *s = p;
    s->rc = pb_pool_shutdown(s->pool, true, false);
    return NULL;
}

PBC_CASE(shutdown, concurrent_with_submit)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { N = 2000 };
    pb_future **fs = calloc(N, sizeof *fs);
    CHECK(fs != NULL);
    for (int i = 0; i < N / 2; i++)
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
    shutter s1 = {pool, 12345}, s2 = {pool, 12345};
    pbc_thread t1, t2;
    pbc_thread_start(&t1, shutter_main, &s1);
    pbc_thread_start(&t2, shutter_main, &s2);
    /* Keep submitting while they shut down: each submit either works (and
     * its future completes) or is refused with PB_ESHUTDOWN. */
    int accepted = N / 2;
    for (int i = N / 2; i < N; i++) {
        pb_future *f = NULL;
        uint64_t v = (uint64_t)i;
        int rc = pb_submit(pool, pbc_task("conf_echo"), &v, sizeof v, &f);
        if (rc == PB_ESHUTDOWN)
            break;
        CHECK_OK(rc);
        fs[accepted++] = f;
    }
    pbc_thread_join(&t1);
    pbc_thread_join(&t2);
    CHECK_OK(s1.rc);
    CHECK_OK(s2.rc);
    for (int i = 0; i < accepted; i++) {
        CHECK_STATE_ALL(fs[i], PB_FINISHED);
        CHECK_RESULT_U64(fs[i], (uint64_t)i);
    }
    pb_future *f = NULL;
    CHECK_CODE(pb_submit(pool, pbc_task("conf_noop"), NULL, 0, &f), PB_ESHUTDOWN);
    pb_pool_destroy(pool);
    pbc_release_all(fs, (size_t)accepted);
    free(fs);
}

PBC_CASE(shutdown, destroy_with_queued_work)
{
    STEP("destroy without shutdown, work queued");
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { N = 3000 };
    pb_future **fs = calloc(N, sizeof *fs);
    CHECK(fs != NULL);
    for (int i = 0; i < N; i++) {
        if (i % 100 == 0) {
            int64_t ns = 200 * 1000;
            fs[i] = pbc_submit(pool, "conf_sleep_ns", &ns, sizeof ns);
        } else {
            fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        }
    }
    pb_pool_destroy(pool); /* shutdown(wait): everything runs */
    for (int i = 0; i < N; i++) {
        CHECK_STATE_ALL(fs[i], PB_FINISHED);
        if (i % 100 != 0)
            CHECK_RESULT_U64(fs[i], (uint64_t)i);
    }
    pbc_release_all(fs, N);

    STEP("destroy after shutdown(wait=false), work queued");
    pool = pbc_pool(backend, 2, NULL);
    for (int i = 0; i < N; i++)
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
    CHECK_OK(pb_pool_shutdown(pool, false, false));
    pb_pool_destroy(pool);
    for (int i = 0; i < N; i++)
        CHECK_RESULT_U64(fs[i], (uint64_t)i);
    pbc_release_all(fs, N);

    STEP("destroy after shutdown(cancel_futures), work queued");
    pool = pbc_pool(backend, 2, NULL);
    for (int i = 0; i < N; i++)
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
    CHECK_OK(pb_pool_shutdown(pool, false, true));
    pb_pool_destroy(pool);
    for (int i = 0; i < N; i++) {
        CHECK(pb_future_done(fs[i]));
        if (!pb_future_cancelled(fs[i]))
            CHECK_RESULT_U64(fs[i], (uint64_t)i);
    }
    pbc_release_all(fs, N);

    STEP("destroy right after create");
    pool = pbc_pool(backend, 2, NULL);
    pb_pool_destroy(pool);
    pb_pool_destroy(NULL);
    free(fs);
}
