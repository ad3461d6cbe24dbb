/*
 * case_wait.c — pb_wait in its three modes: with done, running, failed and
 * cancelled futures, duplicates, every kind of timeout, n = 0, and waiters
 * woken by completion and by cancel.
 */
#include "conformance.h"

#include <stdatomic.h>

static const pb_return_when k_modes[] = {PB_FIRST_COMPLETED, PB_FIRST_EXCEPTION,
                                         PB_ALL_COMPLETED};

/* A pool of 2 with: ok (finished), bad (failed), and both workers blocked on
 * a gate, running g1 and other; with a backlog, `pending` is PENDING. */
typedef struct fixture {
    pbc_blocked blocked;
    pb_future *ok, *bad, *g1, *other, *pending;
} fixture;

static void fixture_init(fixture *fx, const char *backend, bool backlog)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    fx->ok = pbc_submit_u64(pool, 1);
    int32_t code = 4;
    fx->bad = pbc_submit(pool, "conf_fail", &code, sizeof code);
    CHECK_RESULT_U64(fx->ok, 1);
    CHECK_CODE(pb_future_result(fx->bad, PB_FOREVER, NULL, NULL), PB_ETASK);
    BLOCKED_SETUP(&fx->blocked, pool, backlog);
    CHECK_INT(fx->blocked.workers, ==, 2);
    fx->g1 = fx->blocked.blockers[0];
    fx->other = fx->blocked.blockers[1];
    fx->pending = fx->blocked.pending;
}

static void fixture_done(fixture *fx)
{
    pbc_blocked_teardown(&fx->blocked);
    pb_future_release(fx->ok);
    pb_future_release(fx->bad);
}

PBC_CASE(wait, n_zero)
{
    pb_future *dummy = NULL;
    for (int m = 0; m < 3; m++) {
        CHECK_INT(pb_wait(NULL, 0, k_modes[m], 0), ==, 0);
        CHECK_INT(pb_wait(NULL, 0, k_modes[m], PB_FOREVER), ==, 0);
        CHECK_INT(pb_wait(&dummy, 0, k_modes[m], 1000), ==, 0);
    }
}

PBC_CASE(wait, already_done)
{
    fixture fx;
    fixture_init(&fx, backend, false);

    pb_future *done_only[] = {fx.ok, fx.bad};
    for (int m = 0; m < 3; m++) {
        STEP("mode %d over done futures, forever", m);
        CHECK_INT(pb_wait(done_only, 2, k_modes[m], PB_FOREVER), ==, 2);
        CHECK_INT(pb_wait(done_only, 2, k_modes[m], 0), ==, 2);
    }

    STEP("FIRST_COMPLETED is satisfied by a done future");
    pb_future *mixed[] = {fx.g1, fx.ok};
    CHECK_INT(pb_wait(mixed, 2, PB_FIRST_COMPLETED, PB_FOREVER), ==, 1);

    STEP("FIRST_EXCEPTION is satisfied by a failed future");
    pb_future *withbad[] = {fx.g1, fx.bad, fx.other};
    CHECK_INT(pb_wait(withbad, 3, PB_FIRST_EXCEPTION, PB_FOREVER), ==, 1);

    STEP("FIRST_EXCEPTION is not satisfied by a successful one");
    CHECK_INT(pb_wait(mixed, 2, PB_FIRST_EXCEPTION, 0), ==, 1);
    CHECK_INT(pb_wait(mixed, 2, PB_FIRST_EXCEPTION, 5 * 1000 * 1000), ==, 1);

    STEP("ALL_COMPLETED with one running: times out, returns the done count");
    CHECK_INT(pb_wait(mixed, 2, PB_ALL_COMPLETED, 0), ==, 1);
    CHECK_INT(pb_wait(mixed, 2, PB_ALL_COMPLETED, 5 * 1000 * 1000), ==, 1);
    CHECK_STATE_ALL(fx.g1, PB_RUNNING);
    fixture_done(&fx);
}

PBC_CASE(wait, duplicates_count_once)
{
    fixture fx;
    fixture_init(&fx, backend, false);
    pb_future *same[] = {fx.ok, fx.ok, fx.ok};
    for (int m = 0; m < 3; m++)
        CHECK_INT(pb_wait(same, 3, k_modes[m], PB_FOREVER), ==, 1);
    pb_future *two[] = {fx.ok, fx.bad, fx.ok, fx.bad, fx.bad};
    for (int m = 0; m < 3; m++)
        CHECK_INT(pb_wait(two, 5, k_modes[m], PB_FOREVER), ==, 2);
    pb_future *withrun[] = {fx.ok, fx.g1, fx.ok, fx.g1};
    CHECK_INT(pb_wait(withrun, 4, PB_FIRST_COMPLETED, PB_FOREVER), ==, 1);
    CHECK_INT(pb_wait(withrun, 4, PB_ALL_COMPLETED, 0), ==, 1);
    CHECK_INT(pb_wait(withrun, 4, PB_ALL_COMPLETED, 1000 * 1000), ==, 1);
    fixture_done(&fx);
}

PBC_CASE(wait, timeouts_are_not_errors)
{
    fixture fx;
    fixture_init(&fx, backend, false);
    pb_future *running[] = {fx.g1, fx.other};
    const int64_t timeouts[] = {0, 1, 1000 * 1000, 10 * 1000 * 1000};
    for (int m = 0; m < 3; m++) {
        for (size_t t = 0; t < sizeof timeouts / sizeof timeouts[0]; t++) {
            STEP("mode %d, timeout %lld", m, (long long)timeouts[t]);
            CHECK_INT(pb_wait(running, 2, k_modes[m], timeouts[t]), ==, 0);
            CHECK_INT(pb_wait(running, 1, k_modes[m], timeouts[t]), ==, 0);
        }
    }
    CHECK_STATE_ALL(fx.g1, PB_RUNNING);
    fixture_done(&fx);
}

typedef struct wait_job {
    pb_future **fs;
    size_t n;
    pb_return_when when;
    int rc;
    atomic_int returned;
} wait_job;

static void *wait_main(void *p)
{
    wait_job *j = p;
    j->rc = pb_wait(j->fs, j->n, j->when, PB_FOREVER);
    atomic_store(&j->returned, 1);
    return NULL;
}

PBC_CASE(wait, cancelled_is_done_but_not_an_exception)
{
    fixture fx;
    fixture_init(&fx, backend, true);
    pb_future *t = fx.pending;
    CHECK(pb_future_cancel(t));

    pb_future *only[] = {t};
    for (int m = 0; m < 3; m++)
        CHECK_INT(pb_wait(only, 1, k_modes[m], PB_FOREVER), ==, 1);
    pb_future *mixed[] = {fx.g1, t};
    CHECK_INT(pb_wait(mixed, 2, PB_FIRST_COMPLETED, PB_FOREVER), ==, 1);
    CHECK_INT(pb_wait(mixed, 2, PB_ALL_COMPLETED, 0), ==, 1);
    CHECK_INT(pb_wait(mixed, 2, PB_FIRST_EXCEPTION, 0), ==, 1);

    STEP("FIRST_EXCEPTION over a cancelled and a running future keeps waiting");
    wait_job j = {.fs = mixed, .n = 2, .when = PB_FIRST_EXCEPTION, .rc = 12345};
    atomic_init(&j.returned, 0);
    pbc_thread th;
    pbc_thread_start(&th, wait_main, &j);
    pbc_sleep_ms(50);
    CHECK_MSG(!atomic_load(&j.returned),
              "pb_wait(FIRST_EXCEPTION) returned %d while no future had failed and one "
              "was still running: a cancelled future is not an exception", j.rc);
    pbc_gate_open(&fx.blocked.gate);
    pbc_thread_join(&th);
    CHECK_INT(j.rc, ==, 2); /* all done now */
    fixture_done(&fx);
}

PBC_CASE(wait, woken_by_completion_and_cancel)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pbc_gate ga, gb;
    pbc_gate_init(&ga);
    pbc_gate_init(&gb);
    pb_future *a = pbc_submit_gate(pool, &ga);
    pb_future *b = pbc_submit_gate(pool, &gb);
    AWAIT_RUNNING(a);
    AWAIT_RUNNING(b);
    pb_future *pair[] = {a, b};

    STEP("FIRST_COMPLETED woken by one completion");
    wait_job j1 = {.fs = pair, .n = 2, .when = PB_FIRST_COMPLETED, .rc = 12345};
    atomic_init(&j1.returned, 0);
    pbc_thread t1;
    pbc_thread_start(&t1, wait_main, &j1);
    wait_job j2 = {.fs = pair, .n = 2, .when = PB_ALL_COMPLETED, .rc = 12345};
    atomic_init(&j2.returned, 0);
    pbc_thread t2;
    pbc_thread_start(&t2, wait_main, &j2);
    pbc_sleep_ms(20);
    pbc_gate_open(&ga);
    pbc_thread_join(&t1);
    CHECK_INT(j1.rc, >=, 1);
    CHECK_MSG(!atomic_load(&j2.returned) || pb_future_done(b),
              "pb_wait(ALL_COMPLETED) returned while a future was running");

    STEP("ALL_COMPLETED woken by the last completion");
    pbc_gate_open(&gb);
    pbc_thread_join(&t2);
    CHECK_INT(j2.rc, ==, 2);

    STEP("FIRST_COMPLETED woken by a cancel");
    pbc_blocked blocked;
    BLOCKED_SETUP(&blocked, pool, true);
    CHECK_INT(blocked.workers, ==, 2);
    pb_future *t = blocked.pending;
    pb_future *waitset[] = {blocked.blockers[0], t, blocked.blockers[1]};
    wait_job j3 = {.fs = waitset, .n = 3, .when = PB_FIRST_COMPLETED, .rc = 12345};
    atomic_init(&j3.returned, 0);
    pbc_thread t3;
    pbc_thread_start(&t3, wait_main, &j3);
    pbc_sleep_ms(20);
    CHECK(!atomic_load(&j3.returned));
    CHECK(pb_future_cancel(t));
    pbc_thread_join(&t3);
    CHECK_INT(j3.rc, ==, 1);

    pbc_blocked_teardown(&blocked);
    pb_future_release(a);
    pb_future_release(b);
}
