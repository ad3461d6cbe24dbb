/*
 * case_stress.c — races and volume: lost wakeups (many futures completing
 * while one thread waits in pb_wait, result or as_completed, many times over),
 * cancel racing with dispatch, callbacks racing with completion, submitters
 * on several threads, and a million tasks with every result checked.
 *
 * A lost wakeup shows up as a hang, which the runner's timeout turns into a
 * failure naming the last STEP.
 */
#include "conformance.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { ROUNDS = 400, K = 8 };

PBC_CASE(race, wakeup_in_wait)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pb_future *fs[K];
    for (int r = 0; r < ROUNDS; r++) {
        STEP("round %d: ALL_COMPLETED", r);
        for (int i = 0; i < K; i++)
            fs[i] = pbc_submit_u64(pool, (uint64_t)(r * K + i));
        CHECK_INT(pb_wait(fs, K, PB_ALL_COMPLETED, PB_FOREVER), ==, K);
        for (int i = 0; i < K; i++)
            CHECK(pb_future_done(fs[i]));
        pbc_release_all(fs, K);

        STEP("round %d: FIRST_COMPLETED until all done", r);
        for (int i = 0; i < K; i++)
            fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        int done = 0;
        while (done < K) {
            int n = pb_wait(fs, K, PB_FIRST_COMPLETED, PB_FOREVER);
            CHECK_INT(n, >=, 1);
            CHECK_INT(n, >=, done);
            done = n;
        }
        for (int i = 0; i < K; i++)
            CHECK_RESULT_U64(fs[i], (uint64_t)i);
        pbc_release_all(fs, K);

        STEP("round %d: FIRST_EXCEPTION with no failure waits for all", r);
        for (int i = 0; i < K; i++)
            fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        CHECK_INT(pb_wait(fs, K, PB_FIRST_EXCEPTION, PB_FOREVER), ==, K);
        pbc_release_all(fs, K);
    }
    pb_pool_destroy(pool);
}

PBC_CASE(race, wakeup_in_result)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    for (int r = 0; r < ROUNDS * 4; r++) {
        STEP("round %d", r);
        pb_future *f = pbc_submit_u64(pool, (uint64_t)r);
        CHECK_RESULT_U64(f, (uint64_t)r);
        pb_future *e = pbc_submit_u64(pool, (uint64_t)r);
        pb_error err;
        CHECK_OK(pb_future_error(e, PB_FOREVER, &err));
        CHECK_CODE(err.code, 0);
        pb_future_release(f);
        pb_future_release(e);
    }
    pb_pool_destroy(pool);
}

PBC_CASE(race, wakeup_in_as_completed)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pb_future *fs[K];
    for (int r = 0; r < ROUNDS; r++) {
        STEP("round %d", r);
        for (int i = 0; i < K; i++)
            fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        pb_as_completed *it = NULL;
        CHECK_OK(pb_as_completed_new(fs, K, PB_FOREVER, &it));
        unsigned seen = 0;
        for (int i = 0; i < K; i++) {
            pb_future *f = NULL;
            CHECK_OK(pb_as_completed_next(it, &f));
            int k = -1;
            for (int j = 0; j < K; j++) {
                if (fs[j] == f)
                    k = j;
            }
            CHECK_MSG(k >= 0, "as_completed yielded a future it was not given");
            CHECK_MSG(!(seen & (1u << k)), "as_completed yielded future %d twice", k);
            seen |= 1u << k;
            CHECK_RESULT_U64(f, (uint64_t)k);
        }
        pb_future *f = NULL;
        CHECK_CODE(pb_as_completed_next(it, &f), PB_EOF);
        pb_as_completed_free(it);
        pbc_release_all(fs, K);
    }
    pb_pool_destroy(pool);
}

typedef struct submitter {
    pb_pool *pool;
    int id;
} submitter;

static void *submitter_main(void *p)
{
    submitter *s = p;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t v = ((uint64_t)s->id << 32) | (uint64_t)r;
        pb_future *f = pbc_submit_u64(s->pool, v);
        CHECK_RESULT_U64(f, v);
        pb_future_release(f);
    }
    return NULL;
}

PBC_CASE(race, submitters_on_many_threads)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { T = 4 };
    submitter ss[T];
    pbc_thread ts[T];
    for (int i = 0; i < T; i++) {
        ss[i] = (submitter){pool, i};
        pbc_thread_start(&ts[i], submitter_main, &ss[i]);
    }
    for (int i = 0; i < T; i++)
        pbc_thread_join(&ts[i]);
    pb_pool_destroy(pool);
}

static void count_cb(pb_future *f, void *ud)
{
    atomic_fetch_add((atomic_int *)ud, 1);
}

PBC_CASE(race, cancel_versus_dispatch)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { N = 5000 };
    atomic_int *counts = calloc(N, sizeof *counts);
    pb_future **fs = calloc(N, sizeof *fs);
    CHECK(counts != NULL && fs != NULL);
    bool *won = calloc(N, sizeof *won);
    CHECK(won != NULL);
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        atomic_init(&counts[i], 0);
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        CHECK_OK(pb_future_add_done_callback(fs[i], count_cb, &counts[i]));
        /* Cancel every other one at once, racing the worker that takes it. */
        if (i % 2 == 1) {
            won[i] = pb_future_cancel(fs[i]);
            if (won[i]) {
                cancelled++;
                CHECK_STATE_ALL(fs[i], PB_CANCELLED);
                CHECK_INT(atomic_load(&counts[i]), ==, 1);
            }
        }
    }
    for (int i = 0; i < N; i++) {
        STEP("future %d", i);
        if (won[i]) {
            CHECK_CODE(pb_future_result(fs[i], PB_FOREVER, NULL, NULL), PB_ECANCELED);
            CHECK_STATE_ALL(fs[i], PB_CANCELLED);
        } else {
            CHECK_RESULT_U64(fs[i], (uint64_t)i);
            CHECK_STATE_ALL(fs[i], PB_FINISHED);
            CHECK(!pb_future_cancel(fs[i]));
        }
    }
    pb_pool_destroy(pool);
    for (int i = 0; i < N; i++)
        CHECK_MSG(atomic_load(&counts[i]) == 1, "future %d: callback ran %d times", i,
                  atomic_load(&counts[i]));
    printf("    %d of %d cancels won the race against dispatch\n", cancelled, N / 2);
    pbc_release_all(fs, N);
    free(fs);
    free(counts);
    free(won);
}

typedef struct canceller {
    pb_future **fs;
    int n;
    bool *won;
} canceller;

static void *canceller_main(void *p)
{
    canceller *c = p;
    for (int i = c->n - 1; i >= 0; i--)
        c->won[i] = pb_future_cancel(c->fs[i]);
    return NULL;
}

PBC_CASE(race, cancel_from_another_thread)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    enum { N = 4000 };
    pb_future **fs = calloc(N, sizeof *fs);
    bool *won = calloc(N, sizeof *won);
    atomic_int *counts = calloc(N, sizeof *counts);
    CHECK(fs != NULL && won != NULL && counts != NULL);
    for (int i = 0; i < N; i++) {
        atomic_init(&counts[i], 0);
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
        CHECK_OK(pb_future_add_done_callback(fs[i], count_cb, &counts[i]));
    }
    canceller c = {fs, N, won};
    pbc_thread th;
    pbc_thread_start(&th, canceller_main, &c);
    /* Meanwhile this thread waits on them in order. */
    for (int i = 0; i < N; i++) {
        STEP("waiting for future %d", i);
        int rc = pb_future_result(fs[i], PB_FOREVER, NULL, NULL);
        CHECK_MSG(rc == 0 || rc == PB_ECANCELED, "future %d: %d (%s)", i, rc,
                  pb_strerror(rc));
    }
    pbc_thread_join(&th);
    for (int i = 0; i < N; i++) {
        if (won[i]) {
            CHECK_STATE_ALL(fs[i], PB_CANCELLED);
        } else {
            CHECK_STATE_ALL(fs[i], PB_FINISHED);
            CHECK_RESULT_U64(fs[i], (uint64_t)i);
        }
    }
    pb_pool_destroy(pool);
    for (int i = 0; i < N; i++)
        CHECK_INT(atomic_load(&counts[i]), ==, 1);
    pbc_release_all(fs, N);
    free(fs);
    free(won);
    free(counts);
}

/* ---- A million tasks ---- */

enum { MILLION = 1000 * 1000, WINDOW = 8192 };

/* Whether this pool's workers run in another process (observed, not named:
 * a task reports its pid). */
static bool workers_are_processes(pb_pool *pool)
{
    pb_future *f = pbc_submit(pool, "conf_whoami", NULL, 0);
    const void *data = NULL;
    size_t len = 0;
    CHECK_OK(pb_future_result(f, PB_FOREVER, &data, &len));
    CHECK_INT(len, ==, sizeof(pbc_whoami));
    pbc_whoami w;
    memcpy(&w, data, sizeof w);
    pb_future_release(f);
    return w.pid != (int64_t)getpid();
}

/* A million single submits for in-process workers. Each submit to a worker
 * process is a message through the kernel (about 20 s for a million on two
 * cores), so there the case submits 100 000 unless --slow asks for all;
 * million.map_chunks puts a full million through every backend. */
PBC_CASE_TIMEOUT(million, single_submits, 120)
{
    pb_pool *pool = pbc_pool(backend, 0, NULL);
    uint64_t total = MILLION;
    if (!pbc_slow() && workers_are_processes(pool)) {
        total = MILLION / 10;
        printf("    workers are processes: %llu single submits (a million with --slow)\n",
               (unsigned long long)total);
    }
    const pb_task *echo = pbc_task("conf_echo");
    pb_future **fs = calloc(WINDOW, sizeof *fs);
    CHECK(fs != NULL);
    for (uint64_t base = 0; base < total; base += WINDOW) {
        STEP("tasks %llu and on", (unsigned long long)base);
        uint64_t n = total - base < WINDOW ? total - base : WINDOW;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = base + i;
            int rc = pb_submit(pool, echo, &v, sizeof v, &fs[i]);
            CHECK_MSG(rc == 0, "submit %llu: %d (%s)", (unsigned long long)v, rc,
                      pb_strerror(rc));
        }
        for (uint64_t i = 0; i < n; i++) {
            const void *data = NULL;
            size_t len = 0;
            int rc = pb_future_result(fs[i], PB_FOREVER, &data, &len);
            CHECK_MSG(rc == 0 && len == 8, "task %llu: %d (%s), %zu bytes",
                      (unsigned long long)(base + i), rc, pb_strerror(rc), len);
            uint64_t v;
            memcpy(&v, data, 8);
            CHECK_MSG(v == base + i, "task %llu returned %llu",
                      (unsigned long long)(base + i), (unsigned long long)v);
            pb_future_release(fs[i]);
        }
    }
    free(fs);
    pb_pool_destroy(pool);
}

PBC_CASE_TIMEOUT(million, map_chunks, 120)
{
    pb_pool *pool = pbc_pool(backend, 0, NULL);
    uint64_t *vals = malloc(MILLION * sizeof *vals);
    pb_bytes *args = malloc(MILLION * sizeof *args);
    CHECK(vals != NULL && args != NULL);
    for (uint64_t i = 0; i < MILLION; i++) {
        vals[i] = i;
        args[i] = (pb_bytes){&vals[i], sizeof vals[i]};
    }
    pb_map *m = NULL;
    STEP("pb_map_new over a million items, chunks of 1024");
    CHECK_OK(pb_map_new(pool, pbc_task("conf_echo"), args, MILLION, 1024, PB_FOREVER, &m));
    free(args);
    free(vals); /* the map copied them */
    for (uint64_t i = 0; i < MILLION; i++) {
        const void *data = NULL;
        size_t len = 0;
        pb_error err;
        int rc = pb_map_next(m, &data, &len, &err);
        CHECK_MSG(rc == 0 && len == 8, "item %llu: %d (%s), %zu bytes",
                  (unsigned long long)i, rc, pb_strerror(rc), len);
        uint64_t v;
        memcpy(&v, data, 8);
        CHECK_MSG(v == i, "item %llu returned %llu", (unsigned long long)i,
                  (unsigned long long)v);
    }
    const void *data;
    size_t len;
    CHECK_CODE(pb_map_next(m, &data, &len, NULL), PB_EOF);
    pb_map_free(m);
    pb_pool_destroy(pool);
}
