/*
 * ops.c — the operations a stress submitter draws, and the main thread's
 * batches at the end of a run.
 *
 * SCHEDULE
 *
 * A submitter draws an operation kind from a weighted table, then every
 * random parameter of that operation (sizes, payload bytes, timeouts, which
 * of its futures to wait on, ...) from its own stream, before calling the
 * pool. No draw depends on what the pool did or how long it took: the
 * futures a submitter holds change only through its own operations (a
 * future leaves the list only when it is retired, whatever its state), so
 * operation N of thread T is the same for a given seed on every run.
 *
 * Each operation calls the pool and hands what came back to expect.c:
 * outcomes of futures and of map items alike go through pbs__judge(), timed
 * waits through pbs__judge_timed_out() and pbs__judge_wakeup(). What is
 * checked here is only what the operation itself promises (a wait's count,
 * an iterator yielding each future once).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"
#include "sys.h"
#include "workloads.h"

#define MS (1000000LL)
#define US (1000LL)

static const char *const when_names[] = {"FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"};

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The future-holding operations begin with their description. */
static void begin(pbs_actor *a, pbs_opdesc d)
{
    pbs__op_begin(&a->w->journal, &a->log, &d);
}

static void end(pbs_actor *a)
{
    pbs__op_end(&a->log);
}

/* ------------------------------------------------------------------------
 * Drawing probes
 * ------------------------------------------------------------------------ */

/* Draws a probe's kind among those the run injects. */
static pbs_inner draw_inner(pbs_actor *a, uint32_t fail, uint32_t crash, uint32_t hang)
{
    unsigned f = a->w->faults;
    uint64_t x = pb_rng_below(&a->rng, 1000000);
    uint64_t edge = 0;
    if (x < (edge += (f & PBS_FAULT_FAIL) ? fail : 0))
        return PBS_INNER_FAIL;
    if (x < (edge += (f & PBS_FAULT_SEGV) ? crash : 0))
        return PBS_INNER_SEGV;
    if (x < (edge += (f & PBS_FAULT_ABORT) ? crash : 0))
        return PBS_INNER_ABORT;
    if (x < (edge += (f & PBS_FAULT_EXIT) ? crash : 0))
        return PBS_INNER_EXIT;
    if (x < (edge += (f & PBS_FAULT_HANG) ? hang : 0))
        return PBS_INNER_HANG;
    return (x & 7) < 3 ? PBS_INNER_ECHO : PBS_INNER_CHECKSUM;
}

/* A probe's plan; quick: no delay. */
static void draw_plan(pbs_actor *a, pbs_plan *p, bool quick)
{
    pbs_world *w = a->w;
    p->inner = draw_inner(a, w->rate_fail, w->rate_crash, w->rate_hang);
    uint64_t s = pb_rng_below(&a->rng, 100);
    p->len = s < 70 ? (uint32_t)pb_rng_below(&a->rng, 257)
           : s < 95 ? (uint32_t)pb_rng_range(&a->rng, 257, 8192)
                    : (uint32_t)pb_rng_range(&a->rng, 8193, 65536);
    uint64_t d = pb_rng_below(&a->rng, 100);
    if (quick || d < 50) {
        p->delay = PBS_DELAY_NONE;
        p->delay_ns = 0;
    } else if (d < 80) {
        p->delay = PBS_DELAY_SLEEP;
        p->delay_ns = pb_rng_range(&a->rng, 1 * US, 500 * US);
    } else if (d < 99) {
        p->delay = PBS_DELAY_SPIN;
        p->delay_ns = pb_rng_range(&a->rng, 1 * US, 200 * US);
    } else {
        p->delay = PBS_DELAY_SLEEP;
        p->delay_ns = pb_rng_range(&a->rng, 1 * MS, 5 * MS);
    }
    p->fail_code = (int32_t)pb_rng_range(&a->rng, 1, 1000);
    p->ncb = pb_rng_below(&a->rng, 100) < 40 ? (int)pb_rng_range(&a->rng, 1, PBS_CALLBACKS_MAX)
                                              : 0;
}

/* A timeout for a wait: polls, short, medium, or the patience. */
static int64_t draw_timeout(pbs_actor *a)
{
    uint64_t k = pb_rng_below(&a->rng, 100);
    if (k < 25)
        return 0;
    if (k < 65)
        return pb_rng_range(&a->rng, 1 * US, 2 * MS);
    if (k < 95)
        return pb_rng_range(&a->rng, 2 * MS, 30 * MS);
    return a->w->o.patience;
}

/* ------------------------------------------------------------------------
 * Submitting and cancelling
 * ------------------------------------------------------------------------ */

static bool op_submit(pbs_actor *a)
{
    pbs_plan p;
    draw_plan(a, &p, false);
    begin(a, (pbs_opdesc){.kind = PBS_OP_SUBMIT, .id = pbs__actor_next_id(a), .n = p.len,
                          .m = (uint32_t)p.ncb, .when = (uint8_t)p.inner, .timeout = p.delay_ns});
    pbs__make_room(a, 1);
    int rc = pbs__submit_probe(a, &p);
    end(a);
    return rc != PB_ESHUTDOWN;
}

/* A burst of quick tasks, then cancels of some of them: the later ones are
 * likely still pending, which is the case cancel is about. */
static bool op_burst_cancel(pbs_actor *a)
{
    uint32_t n = (uint32_t)pb_rng_range(&a->rng, 4, 24);
    pbs_plan plans[24];
    for (uint32_t i = 0; i < n; i++) {
        draw_plan(a, &plans[i], true);
        plans[i].delay = PBS_DELAY_SLEEP;
        plans[i].delay_ns = pb_rng_range(&a->rng, 20 * US, 300 * US);
    }
    uint32_t ncancel = (uint32_t)pb_rng_range(&a->rng, 1, n);
    uint32_t which[24];
    for (uint32_t i = 0; i < ncancel; i++) /* mostly the last ones: likely still pending */
        which[i] = n - 1 - (uint32_t)pb_rng_below(&a->rng, n < 8 ? n : 8);
    begin(a, (pbs_opdesc){.kind = PBS_OP_BURST_CANCEL, .id = pbs__actor_next_id(a), .n = n,
                          .m = ncancel});
    pbs__make_room(a, n);
    size_t first = a->nlive;
    uint32_t submitted = 0;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        if ((rc = pbs__submit_probe(a, &plans[i])) == 0)
            submitted++;
    for (uint32_t i = 0; i < ncancel; i++)
        if (which[i] < submitted)
            pbs__cancel_and_check(a, a->live[first + which[i]]);
    end(a);
    return rc != PB_ESHUTDOWN;
}

static void op_cancel(pbs_actor *a)
{
    pbs_rec *r = a->nlive ? a->live[pb_rng_below(&a->rng, a->nlive)] : NULL;
    begin(a, (pbs_opdesc){.kind = PBS_OP_CANCEL, .id = r ? r->x.id : 0, .n = r != NULL});
    if (r)
        pbs__cancel_and_check(a, r);
    end(a);
}

/* Adds a callback to one of the futures held, pending or done. On a done
 * future it may run here and now, or — when the completing thread is still
 * running the earlier callbacks — there, after them (the order is kept);
 * either way it must run exactly once, in order, which retire checks. */
static void op_callback(pbs_actor *a)
{
    pbs_rec *r = a->nlive ? a->live[pb_rng_below(&a->rng, a->nlive)] : NULL;
    begin(a, (pbs_opdesc){.kind = PBS_OP_CALLBACK, .id = r ? r->x.id : 0, .n = r != NULL});
    if (r)
        pbs__add_callback(a, r);
    end(a);
}

static void op_retire(pbs_actor *a)
{
    size_t k = 0;
    if (a->nlive)
        k = pb_rng_below(&a->rng, 10) == 0
                ? a->nlive
                : (size_t)pb_rng_range(&a->rng, 1, a->nlive < 6 ? (int64_t)a->nlive : 6);
    size_t picks[PBS_LIVE_MAX];
    for (size_t i = 0; i < k; i++)
        picks[i] = (size_t)pb_rng_below(&a->rng, a->nlive - i);
    begin(a, (pbs_opdesc){.kind = PBS_OP_RETIRE, .n = (uint32_t)k,
                          .id = k ? a->live[picks[0]]->x.id : 0});
    for (size_t i = 0; i < k; i++)
        pbs__retire_live(a, picks[i]);
    end(a);
}

/* ------------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------------ */

static int64_t completed_at(pb_future *f)
{
    pb_times t;
    return pb_future_times(f, &t) == 0 ? t.completed : 0;
}

static void op_result(pbs_actor *a)
{
    pbs_world *w = a->w;
    pbs_rec *r = a->nlive ? a->live[pb_rng_below(&a->rng, a->nlive)] : NULL;
    int64_t timeout = draw_timeout(a);
    if (timeout == w->o.patience)
        timeout = 20 * MS; /* a patient wait here is a retire's job */
    begin(a, (pbs_opdesc){.kind = PBS_OP_RESULT, .id = r ? r->x.id : 0, .n = r != NULL,
                          .timeout = timeout});
    if (!r) {
        end(a);
        return;
    }
    unsigned long long id = (unsigned long long)r->x.id;
    pb_future *f = atomic_load(&r->f);
    const void *data = NULL;
    size_t len = 0;
    int64_t t0 = pb_now_ns();
    int code = pb_future_result(f, timeout, &data, &len);
    int64_t t1 = pb_now_ns();
    char what[96];
    if (code == PB_ETIMEDOUT) {
        snprintf(what, sizeof what, "pb_future_result(#%llx, %.3f ms)", id, timeout / 1e6);
        pbs__judge_timed_out(w, &a->tally, what, NULL, timeout, t0, t1);
    } else if (code == 0 || code == PB_ETASK || code == PB_EBROKEN || code == PB_EKILLED ||
               code == PB_ECANCELED) {
        if (r->seen && r->seen_code != code)
            pbs__violation(&w->journal, &a->log, PBS_CHECK_DONE,
                           "future #%llx was seen done with %s, now with %s", id,
                           pbs__code_name(r->seen_code), pbs__code_name(code));
        r->seen = true;
        r->seen_code = code;
        snprintf(what, sizeof what, "pb_future_result(#%llx) returned", id);
        pbs__judge_wakeup(w, &a->tally, what, "the future completed", completed_at(f), t0, t1);
    } else {
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "pb_future_result(#%llx) returned %s",
                       id, pbs__code_name(code));
    }
    end(a);
}

/* Draws a subset of the live futures (with repeats) into rs; returns its
 * size (0 when nothing is live). */
static size_t draw_subset(pbs_actor *a, pbs_rec **rs, size_t max)
{
    if (!a->nlive)
        return 0;
    size_t k = (size_t)pb_rng_range(&a->rng, 1, (int64_t)(a->nlive < max ? a->nlive : max));
    for (size_t i = 0; i < k; i++)
        rs[i] = a->live[pb_rng_below(&a->rng, a->nlive)];
    return k;
}

/* The futures of rs[0..k) into fs; returns how many distinct ones there are
 * (the subset may name a future more than once). */
static size_t subset_futures(pbs_rec **rs, size_t k, pb_future **fs)
{
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++) {
        fs[i] = atomic_load(&rs[i]->f);
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = fs[j] == fs[i];
        distinct += !dup;
    }
    return distinct;
}

static bool is_exception(pb_future *f)
{
    pb_error e;
    return pb_future_done(f) && pb_future_error(f, 0, &e) == 0 &&
           (e.code == PB_ETASK || e.code == PB_EBROKEN || e.code == PB_EKILLED);
}

/* What was done among fs[0..k) just after a wait returned: a superset of
 * what was done when it returned. */
typedef struct done_set {
    size_t done;
    bool exception;
    int64_t first, last, first_exception; /* completion times */
} done_set;

static done_set look_done(pb_future *const *fs, size_t k)
{
    done_set s = {.first = INT64_MAX, .first_exception = INT64_MAX};
    for (size_t i = 0; i < k; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = fs[j] == fs[i];
        if (dup || !pb_future_done(fs[i]))
            continue;
        s.done++;
        int64_t c = completed_at(fs[i]);
        if (c < s.first)
            s.first = c;
        if (c > s.last)
            s.last = c;
        if (is_exception(fs[i])) {
            s.exception = true;
            if (c < s.first_exception)
                s.first_exception = c;
        }
    }
    return s;
}

/* Judges pb_wait's return n over [t0, t1] against what is done now. */
static void judge_wait(pbs_actor *a, pb_return_when when, size_t distinct, int n,
                       const done_set *s, int64_t timeout, int64_t t0, int64_t t1)
{
    pbs_world *w = a->w;
    if ((size_t)n > s->done)
        pbs__violation(&w->journal, &a->log, PBS_CHECK_WAIT,
                       "pb_wait(%s) counted %d futures done, but only %zu are", when_names[when],
                       n, s->done);
    bool all = (size_t)n == distinct;
    bool satisfied = when == PB_ALL_COMPLETED     ? all
                     : when == PB_FIRST_COMPLETED ? n >= 1
                                                  : (all || (n >= 1 && s->exception));
    char what[128], lost[128];
    if (!satisfied) {
        snprintf(what, sizeof what, "pb_wait(%s, %zu futures, %.3f ms) returning %d",
                 when_names[when], distinct, timeout / 1e6, n);
        snprintf(lost, sizeof lost, "pb_wait(%s, %zu futures) found only %d done",
                 when_names[when], distinct, n);
        pbs__judge_timed_out(w, &a->tally, what, lost, timeout, t0, t1);
        return;
    }
    /* When did the condition become true? */
    int64_t met = when == PB_ALL_COMPLETED     ? s->last
                  : when == PB_FIRST_COMPLETED ? s->first
                  : s->exception               ? s->first_exception
                                               : s->last;
    snprintf(what, sizeof what, "pb_wait(%s) returned", when_names[when]);
    pbs__judge_wakeup(w, &a->tally, what, "its condition was met", met, t0, t1);
}

static void op_wait(pbs_actor *a)
{
    pbs_rec *rs[16];
    size_t k = draw_subset(a, rs, 16);
    pb_return_when when = (pb_return_when)pb_rng_below(&a->rng, 3);
    int64_t timeout = draw_timeout(a);
    begin(a, (pbs_opdesc){.kind = PBS_OP_WAIT, .id = k ? rs[0]->x.id : 0, .n = (uint32_t)k,
                          .when = (uint8_t)when, .timeout = timeout});
    pb_future *fs[16];
    size_t distinct = subset_futures(rs, k, fs);
    int64_t t0 = pb_now_ns();
    int n = pb_wait(fs, k, when, timeout);
    int64_t t1 = pb_now_ns();
    if (k == 0 ? n != 0 : n < 0 || (size_t)n > distinct) {
        pbs__violation(&a->w->journal, &a->log, PBS_CHECK_API,
                       "pb_wait(%s, %zu futures) returned %d (of %zu distinct)", when_names[when],
                       k, n, distinct);
    } else if (k) {
        done_set s = look_done(fs, k);
        judge_wait(a, when, distinct, n, &s, timeout, t0, t1);
    }
    end(a);
}

/* One future yielded by as_completed at t1: given, once, done, in time. */
static bool judge_yield(pbs_actor *a, pbs_rec **rs, pb_future **fs, size_t k, bool *yielded,
                        pb_future *f, int64_t t0, int64_t t1)
{
    pbs_journal *j = &a->w->journal;
    size_t i = 0;
    while (i < k && fs[i] != f)
        i++;
    if (i == k) {
        pbs__violation(j, &a->log, PBS_CHECK_ITERATORS,
                       "as_completed yielded a future it was not given");
        return false;
    }
    unsigned long long id = (unsigned long long)rs[i]->x.id;
    if (yielded[i])
        pbs__violation(j, &a->log, PBS_CHECK_ITERATORS, "as_completed yielded future #%llx twice",
                       id);
    yielded[i] = true;
    if (!pb_future_done(f))
        pbs__violation(j, &a->log, PBS_CHECK_ITERATORS,
                       "as_completed yielded future #%llx before it was done", id);
    char what[64];
    snprintf(what, sizeof what, "as_completed yielded #%llx", id);
    pbs__judge_wakeup(a->w, &a->tally, what, "it completed", completed_at(f), t0, t1);
    return true;
}

static void op_as_completed(pbs_actor *a)
{
    pbs_journal *j = &a->w->journal;
    pbs_rec *rs[16];
    size_t k = draw_subset(a, rs, 16);
    int64_t timeout = draw_timeout(a);
    begin(a, (pbs_opdesc){.kind = PBS_OP_AS_COMPLETED, .id = k ? rs[0]->x.id : 0,
                          .n = (uint32_t)k, .timeout = timeout});
    pb_future *fs[16];
    bool yielded[16] = {false};
    size_t distinct = subset_futures(rs, k, fs);
    int64_t t0 = pb_now_ns();
    pb_as_completed *it = NULL;
    int rc = pb_as_completed_new(fs, k, timeout, &it);
    if (rc) {
        pbs__violation(j, &a->log, PBS_CHECK_API, "pb_as_completed_new returned %s",
                       pbs__code_name(rc));
        end(a);
        return;
    }
    size_t got = 0;
    for (;;) {
        pb_future *f = NULL;
        rc = pb_as_completed_next(it, &f);
        int64_t t1 = pb_now_ns();
        if (rc == 0 && judge_yield(a, rs, fs, k, yielded, f, t0, t1)) {
            got++;
            continue;
        }
        if (rc == PB_EOF && got != distinct)
            pbs__violation(j, &a->log, PBS_CHECK_ITERATORS,
                           "as_completed ended after %zu of %zu distinct futures", got, distinct);
        if (rc == PB_ETIMEDOUT) {
            char what[64], lost[96];
            snprintf(what, sizeof what, "as_completed (%.3f ms)", timeout / 1e6);
            snprintf(lost, sizeof lost, "as_completed yielded only %zu of %zu futures", got,
                     distinct);
            pbs__judge_timed_out(a->w, &a->tally, what, lost, timeout, t0, t1);
            int again = pb_as_completed_next(it, &f);
            if (again != PB_ETIMEDOUT)
                pbs__violation(j, &a->log, PBS_CHECK_ITERATORS,
                               "as_completed returned %s after it had timed out",
                               pbs__code_name(again));
        }
        if (rc != 0 && rc != PB_EOF && rc != PB_ETIMEDOUT)
            pbs__violation(j, &a->log, PBS_CHECK_API, "pb_as_completed_next returned %s",
                           pbs__code_name(rc));
        break;
    }
    pb_as_completed_free(it);
    end(a);
}

/* ------------------------------------------------------------------------
 * map
 * ------------------------------------------------------------------------ */

/* One map: its items' expectations and the arguments built from them. */
typedef struct map_plan {
    uint64_t id;       /* the map's: its first item's */
    size_t n, cs;      /* items, chunk size */
    size_t stop;       /* items read before pb_map_free (n: all, then PB_EOF) */
    int64_t timeout;
    pbs_expect *items;
    uint64_t *ids;     /* items[i].id, for a chunk's unit */
    pb_bytes *args;
    uint8_t *space;
} map_plan;

static void map_plan_free(map_plan *m)
{
    free(m->items);
    free(m->ids);
    free(m->args);
    free(m->space);
}

/* Draws a map and builds its arguments. False without memory. */
static bool draw_map(pbs_actor *a, map_plan *m)
{
    pbs_world *w = a->w;
    memset(m, 0, sizeof *m);
    m->n = pb_rng_below(&a->rng, 5) == 0 ? (size_t)pb_rng_range(&a->rng, 1, 256)
                                          : (size_t)pb_rng_range(&a->rng, 1, 64);
    m->cs = pb_rng_below(&a->rng, 3) == 0 ? 1 : (size_t)pb_rng_range(&a->rng, 1, (int64_t)m->n);
    m->timeout = pb_rng_below(&a->rng, 100) < 15 ? pb_rng_range(&a->rng, 1 * MS, 20 * MS)
                                                 : w->o.patience;
    m->stop = pb_rng_below(&a->rng, 100) < 15 ? (size_t)pb_rng_below(&a->rng, m->n + 1) : m->n;
    uint8_t payload[128];
    size_t cap = pbs__probe_size(sizeof payload);
    m->items = calloc(m->n, sizeof *m->items);
    m->ids = malloc(m->n * sizeof *m->ids);
    m->args = malloc(m->n * sizeof *m->args);
    m->space = malloc(m->n * cap);
    m->id = pbs__actor_next_id(a);
    if (!m->items || !m->ids || !m->args || !m->space)
        return false;
    uint8_t *p = m->space;
    for (size_t i = 0; i < m->n; i++) {
        pbs_expect *x = &m->items[i];
        x->id = m->ids[i] = pbs__actor_next_id(a);
        a->seq++;
        x->inner = (uint8_t)draw_inner(a, w->map_rate_fail, w->map_rate_crash, w->map_rate_hang);
        if (x->inner == PBS_INNER_ECHO)
            x->inner = PBS_INNER_CHECKSUM;
        size_t len = (size_t)pb_rng_below(&a->rng, sizeof payload + 1);
        pbs__fill_random(&a->rng, payload, len);
        x->fail_code = (int32_t)pb_rng_range(&a->rng, 1, 1000);
        x->sum = pb_workload_checksum(payload, len);
        x->len = (uint32_t)len;
        bool fail = x->inner == PBS_INNER_FAIL;
        m->args[i].data = p;
        m->args[i].len =
            pbs__probe_build(p, cap, x->id, (pbs_inner)x->inner, PBS_DELAY_NONE, 0,
                             fail ? (const void *)&x->fail_code : payload,
                             fail ? sizeof x->fail_code : len);
        p += m->args[i].len;
    }
    return true;
}

/* The unit item i ran in: its chunk, and the chunk's first crash or hang,
 * which ends the chunk's worker and the items after it. */
static pbs_unit map_unit(const map_plan *m, size_t i)
{
    size_t chunk = i / m->cs, c0 = chunk * m->cs, c1 = c0 + m->cs < m->n ? c0 + m->cs : m->n;
    size_t first = c1;
    for (size_t j = c0; j < c1 && first == c1; j++)
        if (pbs__inner_is_crash(m->items[j].inner) || m->items[j].inner == PBS_INNER_HANG)
            first = j;
    return (pbs_unit){.id = m->id,
                      .chunk = (uint32_t)chunk + 1,
                      .ids = m->ids + c0,
                      .nids = c1 - c0,
                      .cause = first < c1 ? m->items[first].inner : -1,
                      .first_cause = i == first};
}

/* Reads the map's items in order and judges each; returns whether the
 * iterator ran to its end without timing out or ending early. */
static bool read_map(pbs_actor *a, const map_plan *m, pb_map *mp, int64_t t0)
{
    pbs_world *w = a->w;
    unsigned long long id = (unsigned long long)m->id;
    for (size_t i = 0; i < m->stop; i++) {
        const void *data = NULL;
        size_t len = 0;
        pb_error e;
        memset(&e, 0, sizeof e);
        int rc = pb_map_next(mp, &data, &len, &e);
        if (rc == PB_ETIMEDOUT) {
            char what[96], lost[96];
            snprintf(what, sizeof what, "pb_map_next on map #%llx (%.3f ms)", id, m->timeout / 1e6);
            snprintf(lost, sizeof lost, "map #%llx: item %zu of %zu not done", id, i, m->n);
            pbs__judge_timed_out(w, &a->tally, what, lost, m->timeout, t0, pb_now_ns());
            int again = pb_map_next(mp, &data, &len, NULL);
            if (again != PB_ETIMEDOUT)
                pbs__violation(&w->journal, &a->log, PBS_CHECK_ITERATORS,
                               "pb_map_next returned %s after the map had timed out",
                               pbs__code_name(again));
            return false;
        }
        if (rc == PB_EOF) {
            pbs__violation(&w->journal, &a->log, PBS_CHECK_ITERATORS,
                           "map #%llx ended after %zu of %zu items", id, i, m->n);
            return false;
        }
        if (rc != 0 && rc != PB_ETASK && rc != PB_EBROKEN && rc != PB_EKILLED &&
            rc != PB_ECANCELED) {
            pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "pb_map_next returned %s",
                           pbs__code_name(rc));
            return true;
        }
        pbs_unit u = map_unit(m, i);
        char what[128];
        snprintf(what, sizeof what, "map #%llx item %zu (chunk %u of size %zu, %s)", id, i,
                 u.chunk - 1, m->cs, pbs__inner_text(m->items[i].inner));
        pbs__judge(w, &a->tally, &m->items[i], &u, what, rc, &e, data, len, t0, pb_now_ns());
    }
    return true;
}

static bool op_map(pbs_actor *a)
{
    pbs_world *w = a->w;
    map_plan m;
    bool drawn = draw_map(a, &m);
    begin(a, (pbs_opdesc){.kind = PBS_OP_MAP, .id = m.id, .n = (uint32_t)m.n, .m = (uint32_t)m.cs,
                          .timeout = m.timeout});
    if (!drawn) {
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "out of memory in the harness");
        map_plan_free(&m);
        end(a);
        return true;
    }
    int64_t t0 = pb_now_ns();
    pb_map *mp = NULL;
    int rc = pb_map_new(w->pool, w->probe, m.args, m.n, m.cs, m.timeout, &mp);
    if (rc == PB_ESHUTDOWN && !atomic_load(&w->shutdown_begun))
        pbs__violation(&w->journal, &a->log, PBS_CHECK_SHUTDOWN,
                       "pb_map_new returned PB_ESHUTDOWN, but the pool was not shut down");
    else if (rc && rc != PB_ESHUTDOWN)
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "pb_map_new returned %s",
                       pbs__code_name(rc));
    if (rc == 0) {
        a->tally.counts.maps++;
        a->tally.counts.map_items += m.n;
        a->tally.counts.futures += m.n;
        if (read_map(a, &m, mp, t0) && m.stop == m.n) {
            int last = pb_map_next(mp, NULL, NULL, NULL);
            if (last != PB_EOF)
                pbs__violation(&w->journal, &a->log, PBS_CHECK_ITERATORS,
                               "map #%llx: after its %zu items pb_map_next returned %s, "
                               "expected PB_EOF",
                               (unsigned long long)m.id, m.n, pbs__code_name(last));
        }
        pb_map_free(mp);
    }
    map_plan_free(&m);
    end(a);
    return rc != PB_ESHUTDOWN;
}

/* ------------------------------------------------------------------------
 * Kills
 * ------------------------------------------------------------------------ */

/* Submits a victim probe and waits (briefly) for the pid of the worker
 * that started it; 0 if none did in time. */
static pid_t busy_worker(pbs_actor *a, const pbs_plan *victim)
{
    uint64_t id = pbs__actor_next_id(a);
    pid_t pid = 0;
    if (pbs__submit_probe(a, victim) == 0) {
        int64_t until = pb_now_ns() + 200 * MS;
        while (!(pid = pbs__probe_pid(id)) && pb_now_ns() < until)
            sleep_ns(100 * US);
    }
    return pid;
}

/* Sends SIGKILL to pid, on record first; returns 0 or -errno. */
static int send_kill(pbs_actor *a, pid_t pid)
{
    pbs_world *w = a->w;
    size_t slot = SIZE_MAX;
    if (pid && pid != w->self)
        slot = pbs__kills_add(&w->workers, &(pbs_kill){.pid = pid, .sig = SIGKILL,
                                                       .at = pb_now_ns(), .actor = a->log.index,
                                                       .op = a->log.op});
    int rc = slot != SIZE_MAX ? pbs__kill_child(pid, SIGKILL) : -ESRCH;
    if (rc != 0 && slot != SIZE_MAX)
        pbs__kills_withdraw(&w->workers, slot);
    return rc;
}

/* Kills a worker with SIGKILL, from outside, as a user's OOM killer would.
 * Half the time the victim is a worker caught running a probe submitted for
 * the purpose (found through the pid the probe records as it starts), so
 * the kill surely lands on a busy worker and must fail exactly that probe;
 * otherwise it is the most recently started worker, busy or idle. */
static void op_kill(pbs_actor *a)
{
    pbs_world *w = a->w;
    bool targeted = pb_rng_below(&a->rng, 2) == 0;
    uint64_t pick = pb_rng_next(&a->rng);
    pbs_plan victim;
    draw_plan(a, &victim, true);
    victim.inner = PBS_INNER_CHECKSUM;
    victim.delay = PBS_DELAY_SLEEP;
    victim.delay_ns = pb_rng_range(&a->rng, 2 * MS, 10 * MS);
    begin(a, (pbs_opdesc){.kind = PBS_OP_KILL, .n = targeted,
                          .id = targeted ? pbs__actor_next_id(a) : 0});
    pbs__make_room(a, 1);
    pid_t pid = targeted ? busy_worker(a, &victim) : 0;
    if (!pid)
        pid = pbs__workers_take_recent(&w->workers, pick, w->nworkers);
    int rc = send_kill(a, pid);
    if (rc == 0) {
        a->tally.counts.injected[__builtin_ctz(PBS_FAULT_KILL)]++;
    } else {
        a->tally.counts.kills_missed++;
        static _Atomic bool told;
        if (rc == -EPERM && !atomic_exchange(&told, true))
            pbs__note(&w->journal, "worker %d is not a child of this process: it cannot be killed "
                                   "safely, so that kill was skipped", (int)pid);
    }
    end(a);
}

/* ------------------------------------------------------------------------
 * The submitter loop and the end
 * ------------------------------------------------------------------------ */

static const struct {
    pbs_opkind kind;
    unsigned w;
} weights[] = {
    {PBS_OP_SUBMIT, 330}, {PBS_OP_BURST_CANCEL, 40}, {PBS_OP_RESULT, 110},
    {PBS_OP_WAIT, 80},    {PBS_OP_AS_COMPLETED, 60}, {PBS_OP_CANCEL, 50},
    {PBS_OP_CALLBACK, 40}, {PBS_OP_MAP, 40},         {PBS_OP_RETIRE, 230},
    {PBS_OP_KILL, 2},
};

static pbs_opkind draw_kind(pbs_actor *a)
{
    bool kills = a->w->faults & PBS_FAULT_KILL;
    unsigned total = 0;
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++)
        if (weights[i].kind != PBS_OP_KILL || kills)
            total += weights[i].w;
    uint64_t x = pb_rng_below(&a->rng, total);
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++) {
        if (weights[i].kind == PBS_OP_KILL && !kills)
            continue;
        if (x < weights[i].w)
            return weights[i].kind;
        x -= weights[i].w;
    }
    return PBS_OP_RETIRE;
}

/* One operation; false once the pool was found shut down. */
static bool one_op(pbs_actor *a)
{
    switch (draw_kind(a)) {
    case PBS_OP_SUBMIT: return op_submit(a);
    case PBS_OP_BURST_CANCEL: return op_burst_cancel(a);
    case PBS_OP_RESULT: op_result(a); return true;
    case PBS_OP_WAIT: op_wait(a); return true;
    case PBS_OP_AS_COMPLETED: op_as_completed(a); return true;
    case PBS_OP_CANCEL: op_cancel(a); return true;
    case PBS_OP_CALLBACK: op_callback(a); return true;
    case PBS_OP_MAP: return op_map(a);
    case PBS_OP_KILL: op_kill(a); return true;
    default: op_retire(a); return true;
    }
}

void *pbs__submitter_main(void *arg)
{
    pbs_actor *a = arg;
    pbs_world *w = a->w;
    while (!atomic_load(&w->stopping)) {
        if (w->o.ops && a->log.op >= w->o.ops)
            break;
        if (!one_op(a))
            break;
    }
    pbs__drain(a);
    atomic_store_explicit(&a->finished, true, memory_order_release);
    return NULL;
}

void pbs__op_health(pbs_actor *a)
{
    size_t n = (size_t)(2 * a->w->nworkers + 2);
    if (n > PBS_LIVE_MAX)
        n = PBS_LIVE_MAX;
    begin(a, (pbs_opdesc){.kind = PBS_OP_HEALTH, .n = (uint32_t)n, .id = pbs__actor_next_id(a)});
    uint64_t ok_before = a->tally.counts.ok;
    for (size_t i = 0; i < n; i++) {
        pbs_plan p = {.inner = PBS_INNER_CHECKSUM, .len = 64, .delay = PBS_DELAY_NONE};
        if (pbs__submit_probe(a, &p))
            break;
    }
    while (a->nlive)
        pbs__retire_live(a, a->nlive - 1);
    if (a->tally.counts.ok == ok_before)
        pbs__violation(&a->w->journal, &a->log, PBS_CHECK_FAILURES,
                       "after the faults the pool completed none of %zu plain tasks", n);
    end(a);
}

void pbs__op_tail(pbs_actor *a, size_t n)
{
    if (n > PBS_LIVE_MAX)
        n = PBS_LIVE_MAX;
    begin(a, (pbs_opdesc){.kind = PBS_OP_TAIL, .n = (uint32_t)n, .id = pbs__actor_next_id(a)});
    for (size_t i = 0; i < n; i++) {
        pbs_plan p;
        draw_plan(a, &p, true);
        p.delay = PBS_DELAY_SLEEP;
        p.delay_ns = pb_rng_range(&a->rng, 100 * US, 2 * MS);
        if (pbs__submit_probe(a, &p))
            break;
    }
    end(a);
}
