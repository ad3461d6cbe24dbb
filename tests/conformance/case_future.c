/*
 * case_future.c — one future's life: states, cancel rules, result and error
 * with every kind of timeout, waiters woken by completion and by cancel, task
 * outcomes (results, failures with code and message), timestamps, argument
 * copies, and futures that outlive their pool or lose their last caller
 * reference before they finish.
 */
#include "conformance.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- States and cancel ---- */

PBC_CASE(state, pending_running_finished)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), true);
    CHECK_STATE_ALL(b.blockers[0], PB_RUNNING);
    pbc_gate g2;
    pbc_gate_init(&g2);
    pb_future *x = pbc_submit_gate(b.pool, &g2);
    CHECK_STATE_ALL(x, PB_PENDING);
    CHECK_CODE(pb_future_result(x, 0, NULL, NULL), PB_ETIMEDOUT);

    STEP("PENDING -> RUNNING");
    pbc_gate_open(&b.gate);
    AWAIT_RUNNING(x);
    CHECK_STATE_ALL(x, PB_RUNNING);
    CHECK_CODE(pb_future_result(x, 0, NULL, NULL), PB_ETIMEDOUT);
    /* With one worker, everything before x has run; a process backend may
     * still be recording those results (x can be RUNNING in the worker's own
     * queue before then), so wait for them rather than expect them. */
    CHECK_OK(pb_future_result(b.blockers[0], PB_FOREVER, NULL, NULL));
    CHECK_STATE_ALL(b.blockers[0], PB_FINISHED);
    for (int i = 0; i < PBC_BACKLOG; i++) {
        CHECK_RESULT_U64(b.backlog[i], (uint64_t)i);
        CHECK_STATE_ALL(b.backlog[i], PB_FINISHED);
    }
    CHECK_STATE_ALL(x, PB_RUNNING);

    STEP("RUNNING -> FINISHED");
    pbc_gate_open(&g2);
    size_t len = 99;
    CHECK_OK(pb_future_result(x, PB_FOREVER, NULL, &len));
    CHECK_INT(len, ==, 0);
    CHECK_STATE_ALL(x, PB_FINISHED);

    pbc_blocked_teardown(&b);
    CHECK_STATE_ALL(x, PB_FINISHED);
    pb_future_release(x);
}

PBC_CASE(state, cancel_pending)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    pb_future *t = b.pending;

    STEP("cancel a PENDING future");
    CHECK(pb_future_cancel(t));
    CHECK_STATE_ALL(t, PB_CANCELLED);
    CHECK_MSG(pb_future_cancel(t), "cancelling a cancelled future must return true");
    CHECK_STATE_ALL(t, PB_CANCELLED);

    const void *data = (const void *)&b;
    size_t len = 4242;
    CHECK_CODE(pb_future_result(t, 0, &data, &len), PB_ECANCELED);
    CHECK_CODE(pb_future_result(t, 1000 * 1000, &data, &len), PB_ECANCELED);
    CHECK_CODE(pb_future_result(t, PB_FOREVER, &data, &len), PB_ECANCELED);
    pb_error err;
    memset(&err, 0, sizeof err);
    CHECK_OK(pb_future_error(t, 0, &err));
    CHECK_CODE(err.code, PB_ECANCELED);
    CHECK(err.message != NULL);
    CHECK_OK(pb_future_error(t, PB_FOREVER, &err));
    CHECK_CODE(err.code, PB_ECANCELED);

    pbc_gate_open(&b.gate);
    CHECK_OK(pb_pool_shutdown(b.pool, true, false));
    /* Everything else ran; the cancelled one never did. */
    for (int i = 0; i < PBC_BACKLOG - 1; i++)
        CHECK_RESULT_U64(b.backlog[i], (uint64_t)i);
    CHECK_STATE_ALL(t, PB_CANCELLED);
    CHECK(pb_future_cancel(t));
    pbc_blocked_teardown(&b);
}

PBC_CASE(state, cancel_running_or_finished)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), false);
    pb_future *r = b.blockers[0];

    STEP("cancel a RUNNING future");
    CHECK_MSG(!pb_future_cancel(r), "cancel of a RUNNING future must return false");
    CHECK_STATE_ALL(r, PB_RUNNING);
    CHECK(!pb_future_cancel(r));

    pbc_gate_open(&b.gate);
    CHECK_OK(pb_future_result(r, PB_FOREVER, NULL, NULL));
    STEP("cancel a FINISHED future");
    CHECK_MSG(!pb_future_cancel(r), "cancel of a FINISHED future must return false");
    CHECK_STATE_ALL(r, PB_FINISHED);
    CHECK_OK(pb_future_result(r, 0, NULL, NULL));

    STEP("cancel a failed (FINISHED) future");
    int32_t code = 5;
    char arg[16];
    memcpy(arg, &code, sizeof code);
    memcpy(arg + sizeof code, "boom", 4);
    pb_future *f = pbc_submit(b.pool, "conf_fail", arg, sizeof code + 4);
    CHECK_CODE(pb_future_result(f, PB_FOREVER, NULL, NULL), PB_ETASK);
    CHECK_STATE_ALL(f, PB_FINISHED);
    CHECK(!pb_future_cancel(f));
    CHECK_CODE(pb_future_result(f, 0, NULL, NULL), PB_ETASK);

    pbc_blocked_teardown(&b);
    pb_future_release(f);
}

/* ---- result / error and their timeouts ---- */

PBC_CASE(result, timeouts_leave_future_usable)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), false);
    pb_future *f = b.blockers[0];

    static const char sentinel[] = "untouched";
    const int64_t timeouts[] = {0, 1, 1000 * 1000, 20 * 1000 * 1000};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        STEP("result and error with timeout %lld ns on a running future",
             (long long)timeouts[i]);
        const void *data = sentinel;
        size_t len = 4242;
        CHECK_CODE(pb_future_result(f, timeouts[i], &data, &len), PB_ETIMEDOUT);
        CHECK_MSG(data == sentinel && len == 4242,
                  "PB_ETIMEDOUT from pb_future_result wrote to its outputs");
        pb_error err, copy;
        memset(&err, 0xab, sizeof err);
        memcpy(&copy, &err, sizeof err);
        CHECK_CODE(pb_future_error(f, timeouts[i], &err), PB_ETIMEDOUT);
        CHECK_MSG(memcmp(&err, &copy, sizeof err) == 0,
                  "PB_ETIMEDOUT from pb_future_error wrote to *err");
        CHECK_STATE_ALL(f, PB_RUNNING);
    }
    pb_times t;
    CHECK_OK(pb_future_times(f, &t));
    CHECK_INT(t.completed, ==, 0);

    pbc_gate_open(&b.gate);
    STEP("result forever once the task can finish");
    CHECK_OK(pb_future_result(f, PB_FOREVER, NULL, NULL));
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        CHECK_OK(pb_future_result(f, timeouts[i], NULL, NULL));
        pb_error err;
        memset(&err, 0xab, sizeof err);
        CHECK_OK(pb_future_error(f, timeouts[i], &err));
        CHECK_CODE(err.code, 0);
        CHECK_MSG(err.message != NULL && err.message[0] == '\0',
                  "a successful future's error message must be \"\"");
    }

    STEP("a finite timeout that does not expire");
    pb_future *e = pbc_submit_u64(b.pool, 77);
    const void *data = NULL;
    size_t len = 0;
    CHECK_OK(pb_future_result(e, 60LL * 1000 * 1000 * 1000, &data, &len));
    CHECK_INT(len, ==, 8);
    uint64_t v;
    memcpy(&v, data, 8);
    CHECK_INT(v, ==, 77);

    pbc_blocked_teardown(&b);
    pb_future_release(e);
}

typedef struct waiter {
    pb_future *f;
    int how; /* 0 result, 1 error, 2 pb_wait FIRST_COMPLETED, 3 pb_wait ALL, 4 long finite result */
    int rc;
    pb_error err;
    uint64_t value;
    size_t len;
    atomic_int returned;
} waiter;

static void *waiter_main(void *p)
{
    waiter *w = p;
    const void *data = NULL;
    switch (w->how) {
    case 0:
        w->rc = pb_future_result(w->f, PB_FOREVER, &data, &w->len);
        break;
    case 1:
        w->rc = pb_future_error(w->f, PB_FOREVER, &w->err);
        break;
    case 2:
        w->rc = pb_wait(&w->f, 1, PB_FIRST_COMPLETED, PB_FOREVER);
        break;
    case 3:
        w->rc = pb_wait(&w->f, 1, PB_ALL_COMPLETED, PB_FOREVER);
        break;
    default:
        w->rc = pb_future_result(w->f, 600LL * 1000 * 1000 * 1000, &data, &w->len);
        break;
    }
    if ((w->how == 0 || w->how == 4) && w->rc == 0 && w->len == 8)
        memcpy(&w->value, data, 8);
    atomic_store(&w->returned, 1);
    return NULL;
}

enum { NWAITERS = 5 };

static void start_waiters(waiter *ws, pbc_thread *ts, pb_future *f)
{
    for (int i = 0; i < NWAITERS; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].f = f;
        ws[i].how = i;
        ws[i].rc = 12345;
        pbc_thread_start(&ts[i], waiter_main, &ws[i]);
    }
    /* Give them a chance to block; correctness does not depend on it. */
    pbc_sleep_ms(20);
    for (int i = 0; i < NWAITERS; i++)
        CHECK_MSG(!atomic_load(&ws[i].returned),
                  "waiter %d returned %d (%s) while f could not be done (every worker "
                  "blocked, f %s)", i, ws[i].rc, pb_strerror(ws[i].rc),
                  pbc_state_name(pb_future_state(f)));
}

PBC_CASE(result, waiters_woken_by_completion)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), false);
    uint64_t v = 0x1122334455667788ull;
    pb_future *f = pbc_submit_u64(b.pool, v); /* queued behind the blockers */
    waiter ws[NWAITERS];
    pbc_thread ts[NWAITERS];
    start_waiters(ws, ts, f);
    pbc_gate_open(&b.gate);
    for (int i = 0; i < NWAITERS; i++)
        pbc_thread_join(&ts[i]);
    CHECK_CODE(ws[0].rc, 0);
    CHECK_INT(ws[0].len, ==, 8);
    CHECK_INT(ws[0].value, ==, v);
    CHECK_CODE(ws[1].rc, 0);
    CHECK_CODE(ws[1].err.code, 0);
    CHECK_INT(ws[2].rc, ==, 1);
    CHECK_INT(ws[3].rc, ==, 1);
    CHECK_CODE(ws[4].rc, 0);
    CHECK_INT(ws[4].value, ==, v);
    pbc_blocked_teardown(&b);
    pb_future_release(f);
}

static void *cancel_main(void *p)
{
    pbc_sleep_ms(20);
    CHECK_MSG(pb_future_cancel(p), "cancel of a PENDING future returned false");
    return NULL;
}

PBC_CASE(result, waiters_woken_by_cancel)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    pb_future *t = b.pending;

    waiter ws[NWAITERS];
    pbc_thread ts[NWAITERS];
    start_waiters(ws, ts, t);
    pbc_thread canceller;
    pbc_thread_start(&canceller, cancel_main, t);
    STEP("waiting in this thread too, while another thread cancels");
    CHECK_CODE(pb_future_result(t, PB_FOREVER, NULL, NULL), PB_ECANCELED);
    pbc_thread_join(&canceller);
    for (int i = 0; i < NWAITERS; i++)
        pbc_thread_join(&ts[i]);
    CHECK_CODE(ws[0].rc, PB_ECANCELED);
    CHECK_CODE(ws[1].rc, 0);
    CHECK_CODE(ws[1].err.code, PB_ECANCELED);
    CHECK_INT(ws[2].rc, ==, 1);
    CHECK_INT(ws[3].rc, ==, 1);
    CHECK_CODE(ws[4].rc, PB_ECANCELED);
    pbc_blocked_teardown(&b);
}

/* ---- Task outcomes ---- */

static pb_future *submit_fail(pb_pool *pool, int32_t code, const char *msg)
{
    size_t n = strlen(msg);
    char *arg = malloc(sizeof code + n);
    CHECK(arg != NULL);
    memcpy(arg, &code, sizeof code);
    memcpy(arg + sizeof code, msg, n);
    pb_future *f = pbc_submit(pool, "conf_fail", arg, sizeof code + n);
    free(arg);
    return f;
}

PBC_CASE(task, failure_carries_code_and_message)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    char long_msg[3001];
    for (size_t i = 0; i < sizeof long_msg - 1; i++)
        long_msg[i] = (char)('a' + i % 26);
    long_msg[sizeof long_msg - 1] = '\0';
    const char *msgs[] = {"plain failure", "",
                          "with %s and %d and 100% format characters",
                          "line one\nline two\ttabbed", "utf-8: \xc5\xbelu\xc5\xa5ou\xc4\x8dk\xc3\xbd",
                          long_msg};
    const int32_t codes[] = {42, -7, 0, INT32_MAX, INT32_MIN, 1};
    enum { N = sizeof codes / sizeof codes[0] };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit_fail(pool, codes[i], msgs[i]);
    for (int i = 0; i < N; i++) {
        STEP("failure %d", i);
        const void *data = msgs;
        size_t len = 4242;
        CHECK_CODE(pb_future_result(fs[i], PB_FOREVER, &data, &len), PB_ETASK);
        pb_error err;
        memset(&err, 0, sizeof err);
        CHECK_OK(pb_future_error(fs[i], PB_FOREVER, &err));
        CHECK_CODE(err.code, PB_ETASK);
        CHECK_INT(err.task_code, ==, codes[i]);
        CHECK_INT(err.signal, ==, 0);
        CHECK_INT(err.exit_status, ==, 0);
        CHECK(err.message != NULL);
        CHECK_MSG(strcmp(err.message, msgs[i]) == 0,
                  "failure %d: message is \"%.200s\" (%zu bytes), expected \"%.200s\" "
                  "(%zu bytes)", i, err.message, strlen(err.message), msgs[i],
                  strlen(msgs[i]));
        CHECK_STATE_ALL(fs[i], PB_FINISHED);
    }
    /* The message stays valid until the last release, even past the pool. */
    pb_error keep;
    CHECK_OK(pb_future_error(fs[N - 1], 0, &keep));
    pb_pool_destroy(pool);
    CHECK_STR(keep.message, msgs[N - 1]);
    pbc_release_all(fs, N);
}

PBC_CASE(task, success_outcomes)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    const void *data;
    size_t len;

    STEP("a task that returns nothing succeeds with an empty result");
    pb_future *noop = pbc_submit(pool, "conf_noop", NULL, 0);
    len = 99;
    CHECK_OK(pb_future_result(noop, PB_FOREVER, &data, &len));
    CHECK_INT(len, ==, 0);
    pb_error err;
    CHECK_OK(pb_future_error(noop, 0, &err));
    CHECK_CODE(err.code, 0);
    CHECK_INT(err.task_code, ==, 0);
    CHECK_STR(err.message, "");

    STEP("NULL argument with length 0 is an empty argument");
    pb_future *empty = pbc_submit(pool, "conf_echo", NULL, 0);
    len = 99;
    CHECK_OK(pb_future_result(empty, PB_FOREVER, &data, &len));
    CHECK_INT(len, ==, 0);

    STEP("the later pb_task_return replaces the earlier");
    pb_future *twice = pbc_submit(pool, "conf_return_twice", NULL, 0);
    CHECK_OK(pb_future_result(twice, PB_FOREVER, &data, &len));
    CHECK_INT(len, ==, 6);
    CHECK(memcmp(data, "second", 6) == 0);

    STEP("result and error may be read with NULL outputs");
    CHECK_OK(pb_future_result(twice, 0, NULL, NULL));
    CHECK_OK(pb_future_result(twice, 0, &data, NULL));
    CHECK_OK(pb_future_result(twice, 0, NULL, &len));

    STEP("results of many sizes arrive intact");
    const uint64_t sizes[] = {1, 7, 4096, 65537, 4u << 20};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    pb_future *big[NS];
    for (int i = 0; i < NS; i++)
        big[i] = pbc_submit(pool, "conf_big", &sizes[i], sizeof sizes[i]);
    for (int i = 0; i < NS; i++) {
        CHECK_OK(pb_future_result(big[i], PB_FOREVER, &data, &len));
        CHECK_INT(len, ==, sizes[i]);
        const unsigned char *b = data;
        for (uint64_t k = 0; k < sizes[i]; k++)
            CHECK_MSG(b[k] == (unsigned char)((k * 31 + 7) & 0xff),
                      "byte %llu of a %llu-byte result is wrong", (unsigned long long)k,
                      (unsigned long long)sizes[i]);
    }

    STEP("arguments of many sizes arrive intact");
    size_t argsize = 3u << 20;
    unsigned char *arg = malloc(argsize);
    CHECK(arg != NULL);
    for (size_t k = 0; k < argsize; k++)
        arg[k] = (unsigned char)(k * 7 + 3);
    pb_future *echo = pbc_submit(pool, "conf_echo", arg, argsize);
    CHECK_OK(pb_future_result(echo, PB_FOREVER, &data, &len));
    CHECK_INT(len, ==, argsize);
    CHECK(memcmp(data, arg, argsize) == 0);
    free(arg);

    pb_pool_destroy(pool);
    /* Result bytes stay valid until the last release. */
    CHECK_OK(pb_future_result(twice, 0, &data, &len));
    CHECK(len == 6 && memcmp(data, "second", 6) == 0);
    pb_future_release(noop);
    pb_future_release(empty);
    pb_future_release(twice);
    pb_future_release(echo);
    pbc_release_all(big, NS);
}

PBC_CASE(task, argument_is_copied)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), false);
    char buf[64];
    for (int i = 0; i < 64; i++)
        buf[i] = (char)i;
    pb_future *f = pbc_submit(b.pool, "conf_echo", buf, sizeof buf);
    memset(buf, 0xee, sizeof buf); /* before the task can have run */
    pbc_gate_open(&b.gate);
    const void *data;
    size_t len;
    CHECK_OK(pb_future_result(f, PB_FOREVER, &data, &len));
    CHECK_INT(len, ==, 64);
    for (int i = 0; i < 64; i++)
        CHECK_INT(((const char *)data)[i], ==, i);
    pbc_blocked_teardown(&b);
    pb_future_release(f);
}

/* ---- Times ---- */

PBC_CASE(times, ordering)
{
    pb_pool *pool = pbc_pool(backend, 1, NULL);
    pb_times t;

    STEP("a finished future");
    int64_t before = pb_now_ns();
    int64_t ns = 2 * 1000 * 1000;
    pb_future *f = pbc_submit(pool, "conf_sleep_ns", &ns, sizeof ns);
    CHECK_OK(pb_future_result(f, PB_FOREVER, NULL, NULL));
    int64_t after = pb_now_ns();
    CHECK_OK(pb_future_times(f, &t));
    CHECK_INT(t.submitted, >, 0);
    CHECK_INT(before, <=, t.submitted);
    CHECK_INT(t.submitted, <=, t.started);
    CHECK_INT(t.started, <=, t.ended);
    CHECK_INT(t.ended, <=, t.completed);
    CHECK_INT(t.completed, <=, after);
    CHECK_INT(t.started, >, 0);

    STEP("a failed future");
    int32_t code = 3;
    pb_future *e = pbc_submit(pool, "conf_fail", &code, sizeof code);
    CHECK_CODE(pb_future_result(e, PB_FOREVER, NULL, NULL), PB_ETASK);
    CHECK_OK(pb_future_times(e, &t));
    CHECK_INT(t.submitted, >, 0);
    CHECK_INT(t.submitted, <=, t.started);
    CHECK_INT(t.started, <=, t.ended);
    CHECK_INT(t.ended, <=, t.completed);
    CHECK_INT(t.started, >, 0);

    STEP("a pending and then cancelled future");
    pbc_blocked b;
    BLOCKED_SETUP(&b, pool, true);
    pb_future *p = b.pending;
    CHECK_OK(pb_future_times(p, &t));
    CHECK_INT(t.submitted, >, 0);
    CHECK_INT(t.started, ==, 0);
    CHECK_INT(t.ended, ==, 0);
    CHECK_INT(t.completed, ==, 0);
    CHECK(pb_future_cancel(p));
    int64_t cancelled_at = pb_now_ns();
    CHECK_OK(pb_future_times(p, &t));
    CHECK_INT(t.submitted, >, 0);
    CHECK_INT(t.started, ==, 0);
    CHECK_INT(t.ended, ==, 0);
    CHECK_INT(t.submitted, <=, t.completed);
    CHECK_INT(t.completed, <=, cancelled_at);

    pb_future_retain(p);
    pbc_blocked_teardown(&b);
    CHECK_OK(pb_future_times(p, &t));
    CHECK_INT(t.started, ==, 0);
    CHECK_INT(t.ended, ==, 0);
    pb_future_release(p);
    pb_future_release(f);
    pb_future_release(e);
}

/* ---- Lifetimes ---- */

PBC_CASE(future, outlives_pool)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { N = 50 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = pbc_submit_u64(pool, (uint64_t)i * 3);
    pb_future *bad = submit_fail(pool, 9, "still here");
    STEP("destroying a pool with futures in flight");
    pb_pool_destroy(pool);
    for (int i = 0; i < N; i++) {
        CHECK_STATE_ALL(fs[i], PB_FINISHED);
        CHECK_RESULT_U64(fs[i], (uint64_t)i * 3);
        pb_times t;
        CHECK_OK(pb_future_times(fs[i], &t));
        CHECK_INT(t.completed, >, 0);
    }
    pb_error err;
    CHECK_OK(pb_future_error(bad, 0, &err));
    CHECK_CODE(err.code, PB_ETASK);
    CHECK_INT(err.task_code, ==, 9);
    CHECK_STR(err.message, "still here");
    pbc_release_all(fs, N);
    pb_future_release(bad);

    STEP("a pool destroyed after shutdown with cancel_futures");
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    CHECK_OK(pb_pool_shutdown(b.pool, false, true));
    pbc_gate_open(&b.gate);
    pb_pool_destroy(b.pool);
    b.pool = NULL;
    for (int i = 0; i < b.workers; i++)
        CHECK_STATE_ALL(b.blockers[i], PB_FINISHED);
    for (int i = 0; i < PBC_BACKLOG; i++) {
        CHECK(pb_future_done(b.backlog[i]));
        if (pb_future_cancelled(b.backlog[i]))
            CHECK_CODE(pb_future_result(b.backlog[i], 0, NULL, NULL), PB_ECANCELED);
        else
            CHECK_RESULT_U64(b.backlog[i], (uint64_t)i);
    }
    CHECK_STATE_ALL(b.pending, PB_CANCELLED);
    pbc_blocked_teardown(&b);
}

static atomic_int g_released_cb_ok;

static void released_cb(pb_future *f, void *ud)
{
    uint64_t want = (uint64_t)(uintptr_t)ud;
    const void *data = NULL;
    size_t len = 0;
    int rc = pb_future_result(f, 0, &data, &len);
    if (rc == PB_ECANCELED) {
        atomic_fetch_add(&g_released_cb_ok, 1);
        return;
    }
    CHECK_CODE(rc, 0);
    CHECK(len == 8);
    uint64_t v;
    memcpy(&v, data, 8);
    CHECK_INT(v, ==, want);
    atomic_fetch_add(&g_released_cb_ok, 1);
}

PBC_CASE(future, released_before_finish)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), false);
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        pb_future *f = pbc_submit_u64(b.pool, (uint64_t)i);
        CHECK_OK(pb_future_add_done_callback(f, released_cb, (void *)(uintptr_t)i));
        pb_future_release(f); /* the pool still holds it */
    }
    pbc_release_all(b.blockers, (size_t)b.workers);
    pbc_gate_open(&b.gate);
    CHECK_OK(pb_pool_shutdown(b.pool, true, false));
    pbc_blocked_teardown(&b);
    CHECK_INT(atomic_load(&g_released_cb_ok), ==, N);

    STEP("released futures cancelled by shutdown");
    atomic_store(&g_released_cb_ok, 0);
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), false);
    for (int i = 0; i < N; i++) {
        pb_future *f = pbc_submit_u64(b.pool, (uint64_t)i);
        CHECK_OK(pb_future_add_done_callback(f, released_cb, (void *)(uintptr_t)i));
        pb_future_release(f);
    }
    CHECK_OK(pb_pool_shutdown(b.pool, false, true));
    pbc_blocked_teardown(&b);
    CHECK_INT(atomic_load(&g_released_cb_ok), ==, N);
}
