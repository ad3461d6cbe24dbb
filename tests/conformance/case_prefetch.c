/*
 * case_prefetch.c — what a worker's own queue must not change.
 *
 * A backend may hand a worker more tasks than the one it runs (the process
 * backends' prefetch). The futures contract stays exact all the same, and
 * these cases check it through the public API, whatever the backend and its
 * settings (CMake runs the process backends with prefetch 0 and above, on
 * each transport):
 *   - RUNNING means handed to a worker: cancel() is false from then on and
 *     the task runs exactly once; a task cancelled while PENDING never runs;
 *   - a worker that dies fails only the task it was executing; the tasks it
 *     held and had not started run elsewhere, exactly once, and succeed;
 *   - task_timeout counts from the moment a task starts, not from when it
 *     was handed over;
 *   - max_tasks_per_worker: no worker runs more tasks than that;
 *   - a task's result reaches the caller while its worker runs the next
 *     task it holds, however long that one runs (a worker may tell of its
 *     results in batches; the caller must not depend on a later task
 *     ending).
 * How many times a task ran is counted with gate markers: every run of a
 * conf_gate task leaves one (conformance.h), so a task given a gate of its
 * own that is already open runs at once and leaves exactly one marker per
 * run.
 */
#include "conformance.h"

#include <stdlib.h>
#include <unistd.h>

enum { K = 8 };

/* K gates, already open: a conf_gate task on one of them runs straight
 * through, leaving one marker. */
static void open_gates(pbc_gate *g, int n)
{
    for (int i = 0; i < n; i++) {
        pbc_gate_init(&g[i]);
        pbc_gate_open(&g[i]);
    }
}

/* Whether the backend's tasks run in this very process. */
static bool in_process(pb_pool *pool)
{
    pb_future *f = pbc_submit(pool, "conf_whoami", NULL, 0);
    const void *data;
    size_t len;
    CHECK_OK(pb_future_result(f, PB_FOREVER, &data, &len));
    CHECK_INT(len, ==, sizeof(pbc_whoami));
    pbc_whoami w;
    memcpy(&w, data, sizeof w);
    pb_future_release(f);
    return w.pid == getpid();
}

PBC_CASE(prefetch, running_means_handed_over)
{
    pb_pool *pool = pbc_pool(backend, 1, NULL);
    pbc_gate block;
    pbc_gate_init(&block);
    pb_future *blocker = pbc_submit_gate(pool, &block);
    AWAIT(pbc_gate_started(&block) == 1);
    pbc_gate g[K];
    open_gates(g, K);
    pb_future *fs[K];
    for (int i = 0; i < K; i++)
        fs[i] = pbc_submit_gate(pool, &g[i]);
    /* Those the worker holds are RUNNING and cannot be cancelled; the others
     * are PENDING and can. Either way the state and cancel() agree. */
    bool cancelled[K];
    int held = 0;
    for (int i = 0; i < K; i++) {
        pb_state st = pb_future_state(fs[i]);
        CHECK_MSG(st == PB_PENDING || st == PB_RUNNING, "task %d is %s behind a blocked worker",
                  i, pbc_state_name(st));
        cancelled[i] = pb_future_cancel(fs[i]);
        CHECK_MSG(cancelled[i] == (st == PB_PENDING),
                  "task %d was %s and cancel() returned %s", i, pbc_state_name(st),
                  cancelled[i] ? "true" : "false");
        held += st == PB_RUNNING;
    }
    STEP("%d of %d tasks were in the worker's hands", held, K);
    pbc_gate_open(&block);
    CHECK_OK(pb_future_result(blocker, PB_FOREVER, NULL, NULL));
    for (int i = 0; i < K; i++) {
        int rc = pb_future_result(fs[i], PB_FOREVER, NULL, NULL);
        CHECK_CODE(rc, cancelled[i] ? PB_ECANCELED : 0);
    }
    pb_pool_destroy(pool);
    /* A cancelled task never ran; the others ran exactly once. */
    for (int i = 0; i < K; i++)
        CHECK_MSG(pbc_gate_started(&g[i]) == (cancelled[i] ? 0 : 1),
                  "task %d (%s) ran %d times", i, cancelled[i] ? "cancelled" : "not cancelled",
                  pbc_gate_started(&g[i]));
    pb_future_release(blocker);
    pbc_release_all(fs, K);
}

/* Opens the gate it is given after 50 ms: the first task then ends. */
static void *open_later(void *arg)
{
    pbc_sleep_ms(50);
    pbc_gate_open(arg);
    STEP("the first task ended: its result must reach the caller while the worker runs "
         "the second");
    return NULL;
}

PBC_CASE(prefetch, a_result_does_not_wait_for_the_next_task)
{
    /* Twice, each on a new pool (one whose tasks ran long holds fewer
     * ahead): the caller waiting on the result (it may read results
     * itself), then only looking at the future's state (someone else must
     * read). */
    for (int round = 0; round < 2; round++) {
        pb_pool *pool = pbc_pool(backend, 1, NULL);
        /* One batch, so that a worker that holds both receives them
         * together. The first task ends 50 ms on, when the caller surely
         * waits; the second waits for a gate that opens only once the
         * first one's result is in hand. */
        pbc_gate first, second;
        pbc_gate_init(&first);
        pbc_gate_init(&second);
        pb_bytes args[2] = { { first.path, strlen(first.path) },
                             { second.path, strlen(second.path) } };
        pb_future *fs[2];
        CHECK_OK(pb_submit_many(pool, pbc_task("conf_gate"), args, 2, fs));
        pbc_thread opener;
        pbc_thread_start(&opener, open_later, &first);
        if (round == 0)
            CHECK_OK(pb_future_result(fs[0], PB_FOREVER, NULL, NULL));
        else
            AWAIT(pb_future_done(fs[0]));
        pbc_thread_join(&opener);
        CHECK_OK(pb_future_result(fs[0], 0, NULL, NULL));
        pbc_gate_open(&second);
        CHECK_OK(pb_future_result(fs[1], PB_FOREVER, NULL, NULL));
        pb_pool_destroy(pool);
        pbc_release_all(fs, 2);
    }
}

PBC_CASE(prefetch, a_crash_fails_only_the_executing_task)
{
    const char *fatal = pb_backend_unsupported(backend, "crash_recovery");
    if (fatal)
        SKIP("%s cannot survive a worker's death: %s", backend, fatal);
    pb_pool *pool = pbc_pool(backend, 1, NULL);
    if (in_process(pool)) {
        pb_pool_destroy(pool);
        SKIP("%s runs tasks in this process: a worker cannot die alone", backend);
    }
    pbc_gate die;
    pbc_gate_init(&die);
    pb_future *victim = pbc_submit(pool, "conf_gate_then_die", die.path, strlen(die.path));
    AWAIT(pbc_gate_started(&die) == 1);
    /* Queued behind the doomed task: in its worker's hands or the pool's. */
    pbc_gate g[K];
    open_gates(g, K);
    pb_future *fs[K];
    for (int i = 0; i < K; i++)
        fs[i] = pbc_submit_gate(pool, &g[i]);
    int held = 0;
    for (int i = 0; i < K; i++)
        held += pb_future_state(fs[i]) == PB_RUNNING;
    STEP("%d of %d tasks were in the dying worker's hands", held, K);
    pbc_gate_open(&die);
    STEP("the result of the task whose worker died");
    CHECK_CODE(pb_future_result(victim, PB_FOREVER, NULL, NULL), PB_EBROKEN);
    pb_error err;
    CHECK_OK(pb_future_error(victim, 0, &err));
    CHECK_MSG(strstr(err.message, "killed by signal 9") != NULL,
              "the dead worker's task says \"%s\"", err.message);
    for (int i = 0; i < K; i++) {
        STEP("task %d, queued behind the task whose worker died", i);
        int rc = pb_future_result(fs[i], PB_FOREVER, NULL, NULL);
        if (rc) {
            CHECK_OK(pb_future_error(fs[i], 0, &err));
            FAIL("task %d failed with %s (%s): it had no part in the crash", i, pb_strerror(rc),
                 err.message);
        }
    }
    pb_pool_destroy(pool);
    for (int i = 0; i < K; i++)
        CHECK_MSG(pbc_gate_started(&g[i]) == 1, "task %d ran %d times, not once", i,
                  pbc_gate_started(&g[i]));
    pb_future_release(victim);
    pbc_release_all(fs, K);
}

PBC_CASE_TIMEOUT(prefetch, task_timeout_counts_from_the_start, 60)
{
    /* Each task sleeps 0.6 T: none may be killed, however many the worker
     * holds at once. Counted from the hand-over, the second would be at 1.2
     * T when it ends. 0.4 T (400 ms) of slack covers a loaded machine. */
    const int64_t T = 1000LL * 1000 * 1000;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.task_timeout = T;
    pb_pool *pool = pbc_pool(backend, 0, &o); /* PB_ENOTSUP: skipped, with the reason */
    enum { N = 3 };
    int64_t nap = T * 6 / 10;
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = pbc_submit(pool, "conf_sleep_ns", &nap, sizeof nap);
    STEP("one past its time limit, behind the others");
    pbc_gate never;
    pbc_gate_init(&never);
    pb_future *stuck = pbc_submit_gate(pool, &never);
    for (int i = 0; i < N; i++) {
        STEP("task %d of %d, each shorter than the limit", i, N);
        int rc = pb_future_result(fs[i], PB_FOREVER, NULL, NULL);
        if (rc) {
            pb_error err;
            CHECK_OK(pb_future_error(fs[i], 0, &err));
            FAIL("task %d failed with %s (%s): its time counted from before it started", i,
                 pb_strerror(rc), err.message);
        }
    }
    CHECK_CODE(pb_future_result(stuck, PB_FOREVER, NULL, NULL), PB_EKILLED);
    pb_pool_destroy(pool);
    pbc_release_all(fs, N);
    pb_future_release(stuck);
}

PBC_CASE(prefetch, max_tasks_never_exceeded)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.max_tasks_per_worker = 2;
    pb_pool *pool = pbc_pool(backend, 0, &o);
    /* All at once: a worker that was handed more than it may run would run
     * them. */
    enum { M = 24 };
    pb_future *fs[M];
    pbc_whoami w[M];
    for (int i = 0; i < M; i++)
        fs[i] = pbc_submit(pool, "conf_whoami", NULL, 0);
    for (int i = 0; i < M; i++) {
        const void *data;
        size_t len;
        CHECK_OK(pb_future_result(fs[i], PB_FOREVER, &data, &len));
        CHECK_INT(len, ==, sizeof w[i]);
        memcpy(&w[i], data, sizeof w[i]);
    }
    for (int i = 0; i < M; i++) {
        int same = 0;
        for (int k = 0; k < M; k++)
            same += w[k].pid == w[i].pid && w[k].tid == w[i].tid;
        CHECK_MSG(same <= 2, "a worker (pid %lld tid %lld) ran %d tasks with "
                  "max_tasks_per_worker = 2", (long long)w[i].pid, (long long)w[i].tid, same);
    }
    pb_pool_destroy(pool);
    pbc_release_all(fs, M);
}
