/*
 * nested.c — tasks that submit subtasks to their own pool and wait for them:
 * does the pool finish the tree, or deadlock?
 *
 * One repetition submits the root of a tree of `nest` tasks
 * (bench/workloads.h) to a fresh pool and waits for its result:
 *   fib   fork-join fib(cutoff + depth): a task above the cutoff submits
 *         fib(n-1) and fib(n-2) and waits for both; one at the cutoff or
 *         below computes its fib alone;
 *   tree  `depth` levels below the root, each task submitting `fanout`
 *         subtasks and waiting for them; a leaf spins `leaf` ns.
 * A pool whose waiting tasks block their workers deadlocks as soon as every
 * worker waits on subtasks queued behind it. The tasks find that out
 * themselves: every wait in the tree ends at one deadline (`deadline` after
 * the root was submitted), and a task whose subtasks had not even started
 * by then fails, naming its depth; the failure travels up to the root, and
 * every subtask not yet started is cancelled on the way. The case's outcome
 * is then `deadlock` (results/FORMAT.md) with that depth — the level at
 * which the pool ran out of workers — and the later repetitions do not run.
 * A subtask still running at the deadline is given as long again (slow is
 * not stuck): past that the case fails, saying the deadline was too short.
 *
 * Teardown never hangs the run: once the tree has given up, nothing in the
 * pool waits any more, so the pool is shut down (cancelling what is still
 * queued) and destroyed as usual — but within a limit, past which it is
 * abandoned (pbs_destroy_within) and the reason says so.
 *
 * Which pools can: the thread backend helps while waiting (pool.h, "Nested
 * tasks") and finishes; an adapter's library threads block in the wait, as
 * that library's own blocking waits do, and deadlock or not as the library
 * does; a pool whose tasks run in worker processes has no pool inside the
 * task (pb_task_pool() is NULL), so the root fails with ENOTSUP and the
 * case is skipped with that reason; a pool that cannot run `nest` at all (a
 * Python pool: no twin) is skipped as well.
 *
 * Metrics: elapsed (ns), the root's submit to its result, one per
 * repetition; per_task (ns), elapsed over the tasks of the tree. Check
 * "result": the root's value and task count are what the tree must give.
 */
#include <stdio.h>

#include "common.h"

static const char *const shapes[] = {"fib", "tree", NULL};

/* Tasks of a fib tree k = n - cutoff levels above the cutoff. */
static int64_t fib_tasks(int64_t k)
{
    int64_t a = 1, b = 1; /* T(-1), T(0) */
    for (int64_t i = 0; i < k; i++) {
        int64_t t = 1 + a + b;
        a = b;
        b = t;
    }
    return b;
}

/* Tasks of a tree of fanout f and depth d, and its leaves; -1 past limit. */
static int64_t tree_tasks(int64_t f, int64_t d, int64_t limit, int64_t *leaves)
{
    int64_t level = 1, total = 1;
    for (int64_t i = 0; i < d; i++) {
        level *= f;
        total += level;
        if (total > limit)
            return -1;
    }
    *leaves = level;
    return total;
}

#define MAX_TASKS 100000

static int check(const pb_scenario *s, const pb_param_value *v, char *err, size_t errlen)
{
    int64_t depth = pb_param_num(s, v, "depth"), cutoff = pb_param_num(s, v, "cutoff");
    int64_t fanout = pb_param_num(s, v, "fanout"), leaves;
    if (depth > 64 || cutoff > 30 || fanout > 64) {
        snprintf(err, errlen, "depth (%lld), cutoff (%lld) or fanout (%lld) is above its limit "
                 "(64, 30, 64)", (long long)depth, (long long)cutoff, (long long)fanout);
        return PB_EINVAL;
    }
    const char *shape = v[pb_scenario_param(s, "shape") - s->params].word;
    if (!strcmp(shape, "fib") ? fib_tasks(depth < 40 ? depth : 40) > MAX_TASKS || depth >= 40
                              : tree_tasks(fanout, depth, MAX_TASKS, &leaves) < 0) {
        snprintf(err, errlen, "a %s tree of depth %lld has more than %d tasks", shape,
                 (long long)depth, MAX_TASKS);
        return PB_EINVAL;
    }
    return 0;
}

/* What the root's failure says, as the case's verdict. */
static int verdict_of(pb_sc *sc, pb_future *root, int64_t deadline)
{
    pb_error e;
    if (pb_future_error(root, 0, &e) != 0)
        return pb_sc_fail(sc, PB_EINVAL, "internal error: the root task is not done");
    if (e.code != PB_ETASK)
        return pb_sc_fail(sc, e.code, "the root task failed: %s: %s", pb_strerror(e.code),
                          e.message);
    if (e.task_code >= PB_NEST_TIMEOUT)
        return pb_sc_fail(sc, PB_ETIMEDOUT, "%s: the deadline (%lld ms) is too short for this "
                          "pool", e.message, (long long)(deadline / 1000000));
    if (e.task_code >= PB_NEST_DEADLOCK)
        return pb_sc_deadlock(sc, e.task_code - PB_NEST_DEADLOCK, "%s", e.message);
    if (e.task_code == ENOTSUP)
        return pb_sc_skip(sc, "%s", e.message);
    return pb_sc_fail(sc, PB_ETASK, "the root task failed: %s", e.message);
}

static int run(pb_sc *sc)
{
    const char *shape = pb_sc_word(sc, "shape");
    int64_t depth = pb_sc_num(sc, "depth"), cutoff = pb_sc_num(sc, "cutoff");
    int64_t fanout = pb_sc_num(sc, "fanout"), deadline = pb_sc_num(sc, "deadline");
    bool fib = !strcmp(shape, "fib");
    int64_t want_tasks, want_value = 0;
    if (fib) {
        want_tasks = fib_tasks(depth);
        want_value = pb_nest_fib((int)(cutoff + depth));
    } else {
        want_tasks = tree_tasks(fanout, depth, MAX_TASKS, &want_value); /* check(): in range */
    }
    pb_pool *pool;
    int rc = pb_sc_pool_create(sc, NULL, &pool);
    if (rc)
        return pb_sc_outcome(rc);
    pb_samples *elapsed = pb_sc_metric(sc, "elapsed", "ns", PBR_LOWER, 1);
    pb_samples *per_task = pb_sc_metric(sc, "per_task", "ns", PBR_LOWER, 1);

    pb_sc_cost_begin(sc);
    int64_t t0 = pb_now_ns();
    pb_nest_arg root = {
        .shape = fib ? PB_NEST_FIB : PB_NEST_TREE,
        .level = 0,
        .n = (int32_t)(cutoff + depth),
        .cutoff = (int32_t)cutoff,
        .depth = (int32_t)depth,
        .fanout = (int32_t)fanout,
        .leaf = pb_sc_num(sc, "leaf"),
        .deadline = t0 + deadline,
        .grace = t0 + 2 * deadline,
    };
    pb_future *f = NULL;
    rc = pbs_submit(sc, pool, pb_workload("nest"), &root, sizeof root, &f);
    if (rc)
        pb_sc_cost_end(sc, 0, NULL);
    if (rc == 0) {
        /* The root gives up by the grace at the latest; a second on top
         * for its failure to arrive. */
        const void *data;
        size_t len;
        int r = pb_future_result(f, 2 * deadline + 1000000000, &data, &len);
        int64_t t1 = pb_now_ns();
        pb_sc_cost_end(sc, r == 0 ? (size_t)want_tasks : 0, NULL);
        if (r == 0 && len == sizeof(pb_nest_result)) {
            pb_nest_result res;
            memcpy(&res, data, sizeof res);
            pb_sc_check(sc, "result", res.value == want_value && res.tasks == want_tasks,
                        "the root returned %lld from %lld tasks, not %lld from %lld",
                        (long long)res.value, (long long)res.tasks, (long long)want_value,
                        (long long)want_tasks);
            pb_samples_add(elapsed, (double)(t1 - t0));
            pb_samples_add(per_task, (double)(t1 - t0) / (double)want_tasks);
        } else if (r == PB_ETIMEDOUT && pb_future_cancel(f)) {
            rc = pb_sc_deadlock(sc, 0, "the pool never started the root task");
        } else if (r == PB_ETIMEDOUT) {
            rc = pb_sc_fail(sc, PB_ETIMEDOUT, "the root task neither finished nor gave up "
                            "%lld ms after its deadline", (long long)(deadline / 1000000 + 1000));
        } else if (r == 0) {
            rc = pb_sc_fail(sc, PB_EINVAL, "the root returned %zu bytes, not a pb_nest_result", len);
        } else {
            rc = verdict_of(sc, f, deadline);
        }
        pb_future_release(f);
    }
    /* Whatever is still queued is not wanted; nothing waits any more. */
    pb_pool_shutdown(pool, false, true);
    if (pbs_destroy_within(pool, 2 * deadline + 5000000000LL) != 0 && rc != PB_SC_SKIPPED)
        pb_sc_fail(sc, PB_ETIMEDOUT, "the pool could not be destroyed after its tree gave up, "
                   "and was abandoned");
    return rc;
}

static const pb_param params[] = {
    {"shape", PB_PARAM_WORD, "fib,tree", "fib: fork-join fib(cutoff + depth); tree: fanout subtasks per task", 0, shapes},
    {"depth", PB_PARAM_COUNT, "8", "nesting depth: levels of tasks waiting on subtasks", 1, NULL},
    {"cutoff", PB_PARAM_COUNT, "15", "fib: n up to which a task computes fib alone", 2, NULL},
    {"fanout", PB_PARAM_COUNT, "2", "tree: subtasks each task submits", 1, NULL},
    {"leaf", PB_PARAM_NS, "10us", "tree: how long a leaf spins", 0, NULL},
    {"deadline", PB_PARAM_NS, "1s", "a wait past this (from the root's submit) on subtasks that never started is a deadlock", 1000000, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_nested = {
    .name = "nested",
    .summary = "tasks that submit subtasks to their own pool and wait: finished, or deadlock at depth d",
    .headline = "elapsed",
    .params = params,
    .flags = PB_SC_OWN_POOLS,
    .needs = "tasks that can reach their own pool (pb_task_pool)",
    .run = run,
    .check = check,
};
