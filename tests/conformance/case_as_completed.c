/*
 * case_as_completed.c — the as_completed iterator: done futures first, each
 * future once, then completion order; the deadline counts from creation and a
 * timeout is sticky; n = 0; freeing early.
 */
#include "conformance.h"

static pb_future *next_or_fail(pb_as_completed *it)
{
    pb_future *f = NULL;
    CHECK_OK(pb_as_completed_next(it, &f));
    CHECK(f != NULL);
    CHECK_MSG(pb_future_done(f), "as_completed yielded a future that is not done");
    return f;
}

static void expect_eof(pb_as_completed *it)
{
    pb_future *f = (pb_future *)&f;
    CHECK_CODE(pb_as_completed_next(it, &f), PB_EOF);
    CHECK_CODE(pb_as_completed_next(it, &f), PB_EOF);
}

PBC_CASE(as_completed, done_first_then_completion_order)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pbc_gate ga, gc;
    pbc_gate_init(&ga);
    pbc_gate_init(&gc);
    pb_future *b = pbc_submit_u64(pool, 2);
    pb_future *d = pbc_submit_u64(pool, 4);
    CHECK_RESULT_U64(b, 2);
    CHECK_RESULT_U64(d, 4);
    pb_future *a = pbc_submit_gate(pool, &ga);
    pb_future *c = pbc_submit_gate(pool, &gc);
    AWAIT_RUNNING(a);
    AWAIT_RUNNING(c);

    pb_future *fs[] = {a, b, c, d};
    pb_as_completed *it = NULL;
    CHECK_OK(pb_as_completed_new(fs, 4, PB_FOREVER, &it));
    STEP("the two done futures come first");
    pb_future *x = next_or_fail(it);
    pb_future *y = next_or_fail(it);
    CHECK_MSG((x == b && y == d) || (x == d && y == b),
              "as_completed did not yield the already-done futures first");
    STEP("then the order they complete in");
    pbc_gate_open(&gc);
    CHECK(next_or_fail(it) == c);
    pbc_gate_open(&ga);
    CHECK(next_or_fail(it) == a);
    expect_eof(it);
    pb_as_completed_free(it);

    STEP("completion order kept when several completed before next()");
    pbc_blocked blocked;
    BLOCKED_SETUP(&blocked, pool, true);
    enum { K = 6 };
    pb_future *p[K];
    for (int i = 0; i < K; i++)
        p[i] = pbc_submit_u64(pool, 1000 + (uint64_t)i);
    CHECK_OK(pb_as_completed_new(p, K, PB_FOREVER, &it));
    const int order[K] = {3, 0, 5, 1, 4, 2};
    for (int i = 0; i < K; i++)
        CHECK_MSG(pb_future_cancel(p[order[i]]),
                  "future %d, submitted after a PENDING one, was not PENDING", order[i]);
    for (int i = 0; i < K; i++) {
        pb_future *f = next_or_fail(it);
        CHECK_MSG(f == p[order[i]], "yield %d is not the %d-th future to complete", i, i);
    }
    expect_eof(it);
    pb_as_completed_free(it);

    pbc_blocked_teardown(&blocked);
    pb_future_release(a);
    pb_future_release(b);
    pb_future_release(c);
    pb_future_release(d);
    pbc_release_all(p, K);
}

PBC_CASE(as_completed, duplicates_once)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pbc_gate g;
    pbc_gate_init(&g);
    pb_future *a = pbc_submit_gate(pool, &g);
    pb_future *b = pbc_submit_u64(pool, 9);
    CHECK_RESULT_U64(b, 9);
    pb_future *fs[] = {b, b, a, b, a};
    pb_as_completed *it = NULL;
    CHECK_OK(pb_as_completed_new(fs, 5, PB_FOREVER, &it));
    CHECK(next_or_fail(it) == b);
    pbc_gate_open(&g);
    CHECK(next_or_fail(it) == a);
    expect_eof(it);
    pb_as_completed_free(it);

    STEP("all duplicates of done futures");
    pb_future *dd[] = {b, a, b, a, a};
    CHECK_OK(pb_as_completed_new(dd, 5, 0, &it));
    pb_future *x = next_or_fail(it);
    pb_future *y = next_or_fail(it);
    CHECK(x != y);
    CHECK((x == a || x == b) && (y == a || y == b));
    expect_eof(it);
    pb_as_completed_free(it);

    pb_pool_destroy(pool);
    pb_future_release(a);
    pb_future_release(b);
}

PBC_CASE(as_completed, cancelled_count_as_done)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), true);
    pb_future *t = b.pending;
    CHECK(pb_future_cancel(t));
    pb_future *fs[] = {b.blockers[0], t};
    pb_as_completed *it = NULL;
    CHECK_OK(pb_as_completed_new(fs, 2, PB_FOREVER, &it));
    CHECK(next_or_fail(it) == t);
    pbc_gate_open(&b.gate);
    CHECK(next_or_fail(it) == b.blockers[0]);
    expect_eof(it);
    pb_as_completed_free(it);
    pbc_blocked_teardown(&b);
}

typedef struct opener {
    pbc_gate *gate;
    int64_t at; /* pb_now_ns() value to open at */
} opener;

static void *opener_main(void *p)
{
    opener *o = p;
    int64_t now;
    while ((now = pb_now_ns()) < o->at)
        pbc_sleep_ms((int)((o->at - now) / 1000000) + 1);
    pbc_gate_open(o->gate);
    return NULL;
}

PBC_CASE(as_completed, deadline_counts_from_creation)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pbc_gate ga, gb;
    pbc_gate_init(&ga);
    pbc_gate_init(&gb);
    pb_future *a = pbc_submit_gate(pool, &ga);
    pb_future *b = pbc_submit_gate(pool, &gb);
    AWAIT_RUNNING(a);
    AWAIT_RUNNING(b);

    /* The iterator's deadline is 1 s after creation. next() is called just
     * after that (at 1.05 s) and b's gate opens at 1.8 s. An iterator that
     * (wrongly) counted its timeout from next() would still be waiting then
     * (until 2.05 s) and would yield b; the right one has already timed out.
     * Only a stall of 0.75 s between the two could make a right one see b. */
    const int64_t second = 1000LL * 1000 * 1000;
    int64_t created = pb_now_ns();
    pb_future *fs[] = {a, b};
    pb_as_completed *it = NULL;
    CHECK_OK(pb_as_completed_new(fs, 2, second, &it));
    opener o = {&gb, created + second + second * 8 / 10};
    pbc_thread th;
    pbc_thread_start(&th, opener_main, &o);

    pbc_gate_open(&ga);
    STEP("the first future completes before the deadline");
    CHECK(next_or_fail(it) == a);
    while (pb_now_ns() < created + second + second / 20)
        pbc_sleep_ms(5);
    STEP("next() after the deadline passed");
    pb_future *f = (pb_future *)&f;
    int rc = pb_as_completed_next(it, &f);
    CHECK_MSG(rc == PB_ETIMEDOUT,
              "pb_as_completed_next after the deadline returned %d (%s)%s", rc,
              pb_strerror(rc),
              rc == 0 ? ": it waited past the deadline set at creation" : "");
    CHECK_MSG(f == (pb_future *)&f, "PB_ETIMEDOUT wrote to *f");

    STEP("PB_ETIMEDOUT is sticky, even once the rest is done");
    pbc_thread_join(&th);
    CHECK_OK(pb_future_result(b, PB_FOREVER, NULL, NULL));
    CHECK_CODE(pb_as_completed_next(it, &f), PB_ETIMEDOUT);
    CHECK_CODE(pb_as_completed_next(it, &f), PB_ETIMEDOUT);
    pb_as_completed_free(it);

    pb_pool_destroy(pool);
    pb_future_release(a);
    pb_future_release(b);
}

PBC_CASE(as_completed, short_timeouts)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pbc_gate g;
    pbc_gate_init(&g);
    pb_future *a = pbc_submit_gate(pool, &g);
    pb_future *b = pbc_submit_u64(pool, 3);
    CHECK_RESULT_U64(b, 3);
    AWAIT_RUNNING(a);
    pb_future *fs[] = {a, b};
    const int64_t timeouts[] = {0, 1000 * 1000};
    for (size_t i = 0; i < 2; i++) {
        STEP("timeout %lld", (long long)timeouts[i]);
        pb_as_completed *it = NULL;
        CHECK_OK(pb_as_completed_new(fs, 2, timeouts[i], &it));
        CHECK(next_or_fail(it) == b); /* done: yielded even with timeout 0 */
        pb_future *f = NULL;
        CHECK_CODE(pb_as_completed_next(it, &f), PB_ETIMEDOUT);
        CHECK_CODE(pb_as_completed_next(it, &f), PB_ETIMEDOUT);
        pb_as_completed_free(it);
    }
    pbc_gate_open(&g);
    pb_pool_destroy(pool);
    pb_future_release(a);
    pb_future_release(b);
}

PBC_CASE(as_completed, empty_and_free_early)
{
    pb_future *none[1] = {NULL};
    pb_as_completed *it = NULL;
    CHECK_OK(pb_as_completed_new(none, 0, PB_FOREVER, &it));
    expect_eof(it);
    pb_as_completed_free(it);
    pb_as_completed_free(NULL);

    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pbc_gate g;
    pbc_gate_init(&g);
    pb_future *a = pbc_submit_gate(pool, &g);
    pb_future *b = pbc_submit_u64(pool, 8);
    pb_future *c = pbc_submit_gate(pool, &g);
    CHECK_RESULT_U64(b, 8);
    pb_future *fs[] = {a, b, c};

    STEP("free without iterating");
    CHECK_OK(pb_as_completed_new(fs, 3, PB_FOREVER, &it));
    pb_as_completed_free(it);

    STEP("free after one yield");
    CHECK_OK(pb_as_completed_new(fs, 3, PB_FOREVER, &it));
    CHECK(next_or_fail(it) == b);
    pb_as_completed_free(it);

    STEP("the iterator's own references: free it after the caller let go");
    CHECK_OK(pb_as_completed_new(fs, 3, PB_FOREVER, &it));
    pb_future_retain(c);  /* kept for the check below */
    pb_future_release(c); /* the caller's first reference */
    pb_future_release(a); /* a lives on in the iterator and in the pool */
    pbc_gate_open(&g);
    CHECK_OK(pb_future_result(c, PB_FOREVER, NULL, NULL));
    pb_as_completed_free(it);

    pb_pool_destroy(pool);
    pb_future_release(b);
    pb_future_release(c);
}
