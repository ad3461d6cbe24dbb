/*
 * as_completed.c — tasks of random lengths, taken as they complete.
 *
 * N `spin` tasks of random lengths (uniform in [0, max_spin], the same
 * sequence on every backend) are submitted, then an as_completed iterator
 * hands them back. The sample is the delivery latency: t(next() returned
 * it) - ended, the worker's timestamp of the task's end.
 *
 * Checks:
 *   each_once  every future came back exactly once, then PB_EOF;
 *   order      the order follows the completion timestamps (`completed`, set
 *              when the pool marked the future done): futures already done
 *              when the iterator was created come first, then each later one
 *              no earlier than the one before it. The timestamp is taken
 *              just before the iterator hears of the completion, so two
 *              futures completing within a moment of each other on two
 *              threads may be heard of in either order: inversions up to
 *              `slack` are not counted. A completing thread preempted
 *              between its timestamp and the notification makes a rare
 *              larger one (up to a scheduler tick: seen at 2 in 100 with
 *              libuv's 4 threads on 2 CPUs), so up to 4% of the yields (at
 *              least two) may be out of order. An iterator that ignored
 *              completion order and yielded in submission order would get
 *              about 17% of its yields wrong with these random lengths on
 *              2 workers, and fails.
 */
#include "common.h"

typedef struct slot {
    pb_future *f;
    size_t index;
} slot;

static int by_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const slot *)a)->f, y = (uintptr_t)((const slot *)b)->f;
    return x < y ? -1 : x > y;
}

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t n = (size_t)pb_sc_num(sc, "tasks");
    int64_t max_spin = pb_sc_num(sc, "max_spin"), slack = pb_sc_num(sc, "slack");
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    pb_future **fs = pbs_calloc(sc, n, sizeof *fs);
    int64_t *len = pbs_calloc(sc, n, sizeof *len);
    pb_future **order = pbs_calloc(sc, n, sizeof *order);
    int64_t *yielded = pbs_calloc(sc, n, sizeof *yielded);
    slot *slots = pbs_calloc(sc, n, sizeof *slots);
    size_t *seen = pbs_calloc(sc, n, sizeof *seen);
    if (!fs || !len || !order || !yielded || !slots || !seen) {
        rc = PB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        len[i] = max_spin ? (int64_t)(pb_sc_random(sc) % (uint64_t)(max_spin + 1)) : 0;
    pb_samples *m = pb_sc_metric(sc, "delivery", "ns", PBR_LOWER, n);

    size_t submitted = 0;
    pb_sc_cost_begin(sc);
    for (; submitted < n; submitted++)
        if ((rc = pbs_submit(sc, pool, pb_workload("spin"), &len[submitted], sizeof len[submitted],
                             &fs[submitted])))
            goto out;
    pb_as_completed *it;
    int64_t created = pb_now_ns();
    rc = pb_as_completed_new(fs, n, PB_FOREVER, &it);
    if (rc) {
        pb_sc_fail(sc, rc, "pb_as_completed_new failed: %s", pb_strerror(rc));
        goto out;
    }
    size_t k = 0;
    int last = 0;
    for (;;) {
        pb_future *f;
        last = pb_as_completed_next(it, &f);
        if (last != 0 || k == n)
            break;
        yielded[k] = pb_now_ns();
        order[k++] = f;
    }
    pb_sc_cost_end(sc, k, NULL);
    pb_as_completed_free(it);

    /* Which future each yield was, without a quadratic search. */
    for (size_t i = 0; i < n; i++)
        slots[i] = (slot){fs[i], i};
    qsort(slots, n, sizeof *slots, by_ptr);
    size_t unknown = 0, dups = 0, inversions = 0, early_after = 0;
    int64_t worst = 0, prev = 0;
    bool later_seen = false;
    for (size_t j = 0; j < k; j++) {
        slot key = {order[j], 0};
        slot *s = bsearch(&key, slots, n, sizeof *slots, by_ptr);
        if (!s) {
            unknown++;
            continue;
        }
        if (seen[s->index]++)
            dups++;
        pb_times t;
        pb_future_times(order[j], &t);
        if (t.ended)
            pb_samples_add(m, (double)(yielded[j] - t.ended));
        if (t.completed <= created) {
            /* Done before the iterator existed: must come before the rest. */
            early_after += later_seen;
            continue;
        }
        later_seen = true;
        if (prev && t.completed + slack < prev) {
            inversions++;
            worst = prev - t.completed > worst ? prev - t.completed : worst;
        }
        if (t.completed > prev)
            prev = t.completed;
    }
    pb_sc_check(sc, "each_once", k == n && last == PB_EOF && !dups && !unknown,
                "%zu of %zu futures yielded (%zu twice, %zu unknown), then %s", k, n, dups, unknown,
                pb_strerror(last));
    size_t allowed = n / 25 > 2 ? n / 25 : 2;
    pb_sc_check(sc, "order", inversions <= allowed && early_after == 0,
                "%zu of %zu futures yielded after one that completed later (worst by %lld ns; "
                "slack %lld ns, %zu allowed); %zu already-done futures came after newly completed "
                "ones",
                inversions, n, (long long)worst, (long long)slack, allowed, early_after);
out:
    pbs_release_all(fs, n);
    free(fs);
    free(len);
    free(order);
    free(yielded);
    free(slots);
    free(seen);
    return rc;
}

static const pb_param params[] = {
    {"tasks", PB_PARAM_COUNT, "200", "tasks per repetition", 1, NULL},
    {"max_spin", PB_PARAM_NS, "1ms", "task lengths are uniform in [0, max_spin]", 0, NULL},
    {"slack", PB_PARAM_NS, "100us", "order check: completions this close may swap", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_as_completed = {
    .name = "as_completed",
    .summary = "tasks of random lengths taken as they complete: delivery latency; checks the order",
    .headline = "delivery",
    .params = params,
    .run = run,
};
