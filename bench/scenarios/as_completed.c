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
 *   order      the yields follow completion order as the futures core
 *              recorded it (pb_future_completion_order), counted only on
 *              unambiguous evidence, so a busy machine cannot fail a
 *              correct iterator:
 *                - a future this scenario saw done before it created the
 *                  iterator must come before every future the iterator was
 *                  notified of (those completed after it registered);
 *                - of two notified futures f and g, f must come first when
 *                  f's completion, waiters told, was over before g's began
 *                  (last(f) < first(g)).
 *              Completions that overlapped (a completing thread preempted
 *              between its two counter readings) may come in either order
 *              and are not counted. Timestamps cannot draw that line: a
 *              thread preempted between its clock read and the
 *              notification makes a "late" yield of a correct iterator. An
 *              iterator that yielded in submission order fails: with random
 *              task lengths on two or more workers, many of its adjacent
 *              yields are inverted. The check's evidence (pairs compared,
 *              inversions, already-done futures) is in the case's checks.
 */
#include "common.h"

void pbs_completion_order_check(const pbs_yield *y, size_t k, pbs_order_evidence *ev)
{
    memset(ev, 0, sizeof *ev);
    bool notified_seen = false;
    /* The largest first() among the notified futures yielded so far, against
     * which each later yield's last() is held. */
    uint64_t max_first = 0;
    for (size_t j = 0; j < k; j++) {
        if (y[j].done_before) {
            ev->early++;
            ev->early_after += notified_seen;
            continue;
        }
        if (y[j].last == y[j].first)
            continue; /* done between the two looks: no order is promised */
        ev->notified++;
        notified_seen = true;
        /* An earlier yield whose completion began after this one's had
         * ended, waiters told: this one should have come first. */
        if (max_first > y[j].last)
            ev->inversions++;
        if (y[j].first > max_first)
            max_first = y[j].first;
    }
}

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
    int64_t max_spin = pb_sc_num(sc, "max_spin");
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    pb_future **fs = pbs_calloc(sc, n, sizeof *fs);
    int64_t *len = pbs_calloc(sc, n, sizeof *len);
    pb_future **order = pbs_calloc(sc, n, sizeof *order);
    int64_t *yielded = pbs_calloc(sc, n, sizeof *yielded);
    slot *slots = pbs_calloc(sc, n, sizeof *slots);
    size_t *seen = pbs_calloc(sc, n, sizeof *seen);
    bool *done_before = pbs_calloc(sc, n, sizeof *done_before);
    pbs_yield *ys = pbs_calloc(sc, n, sizeof *ys);
    if (!fs || !len || !order || !yielded || !slots || !seen || !done_before || !ys) {
        rc = PB_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        len[i] = max_spin ? (int64_t)(pb_sc_random(sc) % (uint64_t)(max_spin + 1)) : 0;
    pb_samples *m = pb_sc_metric(sc, "delivery", "ns", PBR_LOWER, n);

    size_t submitted = 0;
    for (; submitted < n; submitted++)
        if ((rc = pbs_submit(sc, pool, pb_workload("spin"), &len[submitted], sizeof len[submitted],
                             &fs[submitted])))
            goto out;
    /* Done now, so done when the iterator looks: these come first. */
    for (size_t i = 0; i < n; i++)
        done_before[i] = pb_future_done(fs[i]);
    pb_as_completed *it;
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
    pb_as_completed_free(it);

    /* Which future each yield was, without a quadratic search. */
    for (size_t i = 0; i < n; i++)
        slots[i] = (slot){fs[i], i};
    qsort(slots, n, sizeof *slots, by_ptr);
    size_t unknown = 0, dups = 0, ny = 0;
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
        ys[ny].done_before = done_before[s->index];
        pb_future_completion_order(order[j], &ys[ny].first, &ys[ny].last);
        ny++;
    }
    pbs_order_evidence ev;
    pbs_completion_order_check(ys, ny, &ev);
    pb_sc_check(sc, "each_once", k == n && last == PB_EOF && !dups && !unknown,
                "%zu of %zu futures yielded (%zu twice, %zu unknown), then %s", k, n, dups, unknown,
                pb_strerror(last));
    pb_sc_check(sc, "order", ev.inversions == 0 && ev.early_after == 0,
                "%zu of %zu futures notified after the iterator registered were yielded after "
                "one whose completion began after theirs had ended; %zu of %zu already-done "
                "futures came after notified ones",
                ev.inversions, ev.notified, ev.early_after, ev.early);
out:
    pbs_release_all(fs, n);
    free(fs);
    free(len);
    free(order);
    free(yielded);
    free(slots);
    free(seen);
    free(done_before);
    free(ys);
    return rc;
}

static const pb_param params[] = {
    {"tasks", PB_PARAM_COUNT, "200", "tasks per repetition", 1, NULL},
    {"max_spin", PB_PARAM_NS, "1ms", "task lengths are uniform in [0, max_spin]", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_as_completed = {
    .name = "as_completed",
    .summary = "tasks of random lengths taken as they complete: delivery latency; checks the order",
    .headline = "delivery",
    .params = params,
    .run = run,
    .kept = "tasks",
};
