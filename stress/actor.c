/*
 * actor.c — one thread of a stress run and the futures it holds: records,
 * callbacks, submitting a probe, cancelling one, retiring one. See actor.h.
 *
 * A future's life here: pbs__submit_probe() records what its probe was
 * told (pbs_expect) and adds the drawn callbacks; operations look at it
 * (result with a timeout, wait, as_completed, cancel, another callback);
 * pbs__retire() finally waits for it up to the patience, judges the done
 * future and its outcome (expect.c), checks each callback ran exactly once
 * and in order, and releases it. A future not done within the patience is
 * lost: kept aside and looked at again once the pool is destroyed, when it
 * must be done.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actor.h"
#include "workloads.h"

#define US (1000LL)

static _Atomic uint64_t stale_callbacks;

void pbs__stale_callbacks_reset(void)
{
    atomic_store(&stale_callbacks, 0);
}

uint64_t pbs__stale_callbacks(void)
{
    return atomic_load(&stale_callbacks);
}

int pbs__actor_init(pbs_actor *a, pbs_world *w, int index)
{
    memset(a, 0, sizeof *a);
    a->w = w;
    a->log.index = index;
    a->tally.log = &a->log;
    pb_rng_seed(&a->rng, w->o.seed, (uint64_t)index);
    a->ring = calloc(PBS_RING, sizeof *a->ring);
    if (!a->ring)
        return PB_ENOMEM;
    return 0;
}

void pbs__actor_free(pbs_actor *a)
{
    if (a->ring)
        for (size_t i = 0; i < PBS_RING; i++)
            free(a->ring[i].echo);
    free(a->ring);
    free(a->lost);
    free(a->buf);
    pbs__tally_free(&a->tally);
    a->ring = NULL;
    a->lost = NULL;
    a->buf = NULL;
}

uint64_t pbs__actor_next_id(const pbs_actor *a)
{
    return ((uint64_t)a->log.index << 40) | (a->seq + 1);
}

static uint64_t take_id(pbs_actor *a)
{
    uint64_t id = pbs__actor_next_id(a);
    a->seq++;
    return id;
}

static uint8_t *scratch(pbs_actor *a, size_t n)
{
    if (n > a->bufcap) {
        size_t cap = a->bufcap ? a->bufcap : 4096;
        while (cap < n)
            cap *= 2;
        uint8_t *b = realloc(a->buf, cap);
        if (!b)
            return NULL;
        a->buf = b;
        a->bufcap = cap;
    }
    return a->buf;
}

void pbs__fill_random(pb_rng *rng, uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t v = pb_rng_next(rng);
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = pb_rng_next(rng);
        memcpy(p, &v, n);
    }
}

/* ------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------ */

/* The next ring slot that holds nothing still tracked. Slots are reused
 * only PBS_RING allocations later, long after their future was retired. */
static pbs_rec *rec_alloc(pbs_actor *a)
{
    for (size_t tries = 0; tries < PBS_RING; tries++) {
        pbs_rec *r = &a->ring[a->ring_next++ & (PBS_RING - 1)];
        if (r->live || r->lost)
            continue;
        free(r->echo);
        atomic_store(&r->f, NULL);
        r->echo = NULL;
        memset(&r->x, 0, sizeof r->x);
        r->op = a->log.op;
        r->ncb = 0;
        r->lost = r->seen = false;
        r->seen_code = 0;
        atomic_store(&r->cb_seq, 0);
        atomic_store(&r->cb_bad, 0);
        for (int i = 0; i < PBS_CALLBACKS_MAX; i++) {
            r->cbs[i].rec = r;
            r->cbs[i].idx = (uint8_t)i;
            atomic_store(&r->cbs[i].runs, 0);
            atomic_store(&r->cbs[i].seq, 0);
        }
        return r;
    }
    return NULL;
}

static void lost_add(pbs_actor *a, pbs_rec *r)
{
    if (a->nlost == a->caplost) {
        size_t cap = a->caplost ? 2 * a->caplost : 16;
        pbs_rec **m = realloc(a->lost, cap * sizeof *m);
        if (!m) {
            /* Cannot track it further: drop our reference now (the future
             * stays valid for whoever else holds it). */
            r->lost = false;
            r->live = false;
            pb_future_release(atomic_load(&r->f));
            return;
        }
        a->lost = m;
        a->caplost = cap;
    }
    a->lost[a->nlost++] = r;
}

/* ------------------------------------------------------------------------
 * Callbacks
 * ------------------------------------------------------------------------ */

static void on_done(pb_future *f, void *ud)
{
    pbs_cb *c = ud;
    pbs_rec *r = c->rec;
    if (atomic_load(&r->f) != f) {
        /* Its record was retired and reused: this callback ran twice, or
         * long after its future was done. */
        atomic_fetch_add(&stale_callbacks, 1);
        return;
    }
    if (!pb_future_done(f))
        atomic_fetch_add(&r->cb_bad, 1);
    uint32_t s = atomic_fetch_add(&r->cb_seq, 1);
    atomic_store(&c->seq, s);
    /* Last touch of the record: once runs is seen, it may be reused. */
    atomic_fetch_add_explicit(&c->runs, 1, memory_order_release);
}

void pbs__add_callback(pbs_actor *a, pbs_rec *r)
{
    if (r->ncb >= PBS_CALLBACKS_MAX)
        return;
    pbs_cb *c = &r->cbs[r->ncb++];
    int rc = pb_future_add_done_callback(atomic_load(&r->f), on_done, c);
    if (rc) {
        r->ncb--;
        pbs__violation(&a->w->journal, &a->log, PBS_CHECK_API,
                       "pb_future_add_done_callback on #%llx returned %s, expected 0",
                       (unsigned long long)r->x.id, pbs__code_name(rc));
    }
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Waits (up to the patience) for every callback of r to have run, then
 * checks each ran exactly once, in the order added. */
static void check_callbacks(pbs_actor *a, pbs_rec *r)
{
    pbs_journal *j = &a->w->journal;
    unsigned long long id = (unsigned long long)r->x.id;
    int64_t deadline = pb_now_ns() + a->w->o.patience;
    for (int i = 0; i < r->ncb; i++) {
        while (atomic_load_explicit(&r->cbs[i].runs, memory_order_acquire) == 0 &&
               pb_now_ns() < deadline)
            sleep_ns(50 * US);
        uint32_t runs = atomic_load_explicit(&r->cbs[i].runs, memory_order_acquire);
        if (runs != 1)
            pbs__violation(j, &a->log, PBS_CHECK_CALLBACKS,
                           "callback %d of future #%llx (%s) ran %u times, expected once", i + 1,
                           id, pbs__inner_text(r->x.inner), runs);
        a->tally.counts.callbacks += runs;
    }
    for (int i = 1; i < r->ncb; i++)
        if (atomic_load(&r->cbs[i].seq) < atomic_load(&r->cbs[i - 1].seq))
            pbs__violation(j, &a->log, PBS_CHECK_CALLBACKS,
                           "callbacks of future #%llx ran out of order: callback %d before %d", id,
                           i + 1, i);
    if (atomic_load(&r->cb_bad))
        pbs__violation(j, &a->log, PBS_CHECK_CALLBACKS,
                       "a callback of future #%llx found it not done while running", id);
}

/* ------------------------------------------------------------------------
 * Submitting, cancelling, retiring
 * ------------------------------------------------------------------------ */

/* Fills r->x from plan p and the payload drawn for it. */
static void expect_from_plan(pbs_rec *r, uint64_t id, const pbs_plan *p, const uint8_t *payload)
{
    r->x.id = id;
    r->x.inner = (uint8_t)p->inner;
    r->x.len = p->len;
    r->x.fail_code = p->fail_code;
    if (p->inner == PBS_INNER_CHECKSUM)
        r->x.sum = pb_workload_checksum(payload, p->len);
    if (p->inner == PBS_INNER_ECHO) {
        r->echo = malloc(p->len ? p->len : 1);
        if (r->echo)
            memcpy(r->echo, payload, p->len);
        r->x.payload = r->echo;
    }
}

static void forget_echo(pbs_rec *r)
{
    free(r->echo);
    r->echo = NULL;
    r->x.payload = NULL;
}

int pbs__submit_probe(pbs_actor *a, const pbs_plan *p)
{
    pbs_world *w = a->w;
    pbs_rec *r = rec_alloc(a);
    uint64_t id = take_id(a);
    uint8_t *payload = scratch(a, p->len ? p->len : 1);
    if (!payload || !r) {
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "out of memory in the harness");
        return PB_ENOMEM;
    }
    const void *inner_arg = payload;
    size_t inner_len = p->len;
    if (p->inner == PBS_INNER_FAIL) {
        inner_arg = &p->fail_code;
        inner_len = sizeof p->fail_code;
    }
    pbs__fill_random(&a->rng, payload, p->len);
    expect_from_plan(r, id, p, payload);
    size_t cap = pbs__probe_size(inner_len) + 1;
    uint8_t *arg = malloc(cap);
    size_t alen = arg ? pbs__probe_build(arg, cap, id, p->inner, p->delay, p->delay_ns,
                                         inner_arg, inner_len)
                      : 0;
    if (!alen) {
        free(arg);
        forget_echo(r);
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "out of memory in the harness");
        return PB_ENOMEM;
    }
    pb_future *f = NULL;
    int rc = pb_submit(w->pool, w->probe, arg, alen, &f);
    free(arg);
    if (rc) {
        forget_echo(r);
        if (rc == PB_ESHUTDOWN) {
            if (!atomic_load(&w->shutdown_begun))
                pbs__violation(&w->journal, &a->log, PBS_CHECK_SHUTDOWN,
                               "pb_submit returned PB_ESHUTDOWN, but the pool was not shut down");
            return rc;
        }
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "pb_submit returned %s, expected 0",
                       pbs__code_name(rc));
        return rc;
    }
    atomic_store(&r->f, f);
    r->live = true;
    assert(a->nlive < PBS_LIVE_MAX);
    a->live[a->nlive++] = r;
    a->tally.counts.futures++;
    for (int i = 0; i < p->ncb; i++)
        pbs__add_callback(a, r);
    return 0;
}

/* Cancel returning true means the future is CANCELLED and done, its
 * callbacks have run and its result is PB_ECANCELED; false means it had
 * already started (RUNNING or FINISHED). */
void pbs__cancel_and_check(pbs_actor *a, pbs_rec *r)
{
    pbs_journal *j = &a->w->journal;
    unsigned long long id = (unsigned long long)r->x.id;
    pb_future *f = atomic_load(&r->f);
    bool ok = pb_future_cancel(f);
    pb_state st = pb_future_state(f);
    if (ok) {
        r->x.cancelled = true;
        if (st != PB_CANCELLED || !pb_future_done(f))
            pbs__violation(j, &a->log, PBS_CHECK_CANCEL,
                           "pb_future_cancel(#%llx) returned true but the state is %s", id,
                           pbs__state_name(st));
        for (int c = 0; c < r->ncb; c++)
            if (atomic_load(&r->cbs[c].runs) != 1)
                pbs__violation(j, &a->log, PBS_CHECK_CALLBACKS,
                               "pb_future_cancel(#%llx) returned before its callback %d ran", id,
                               c + 1);
        int code = pb_future_result(f, 0, NULL, NULL);
        if (code != PB_ECANCELED)
            pbs__violation(j, &a->log, PBS_CHECK_CANCEL,
                           "future #%llx was cancelled but pb_future_result says %s", id,
                           pbs__code_name(code));
    } else if (st == PB_PENDING || st == PB_CANCELLED) {
        pbs__violation(j, &a->log, PBS_CHECK_CANCEL,
                       "pb_future_cancel(#%llx) returned false but the state is %s", id,
                       pbs__state_name(st));
    }
}

/* Judges a done future: its state and times, then its outcome. */
static void judge_future(pbs_actor *a, pbs_rec *r, pb_future *f, int code, const void *data,
                         size_t len)
{
    pbs_world *w = a->w;
    pb_error e;
    pb_times t;
    if (!pbs__judge_done_future(w, &a->tally, r->x.id, f, code, r->seen, r->seen_code, &e, &t))
        return;
    char what[96];
    snprintf(what, sizeof what, "future #%llx (%s of %u bytes)", (unsigned long long)r->x.id,
             pbs__inner_text(r->x.inner), r->x.len);
    pbs_unit u = {.id = r->x.id, .ids = &r->x.id, .nids = 1, .cause = -1, .first_cause = true};
    pbs__judge(w, &a->tally, &r->x, &u, what, code, &e, data, len, t.submitted,
               t.completed ? t.completed : pb_now_ns());
}

void pbs__retire(pbs_actor *a, pbs_rec *r)
{
    pbs_world *w = a->w;
    assert(r->live);
    pb_future *f = atomic_load(&r->f);
    const void *data = NULL;
    size_t len = 0;
    int code = pb_future_result(f, w->o.patience, &data, &len);
    if (code == PB_ETIMEDOUT) {
        pbs__violation(&w->journal, &a->log, PBS_CHECK_LOST,
                       "future #%llx (%s) is not done %.1f s after it was waited for (state %s): "
                       "its result was lost",
                       (unsigned long long)r->x.id, pbs__inner_text(r->x.inner),
                       w->o.patience / 1e9, pbs__state_name(pb_future_state(f)));
        r->live = false;
        r->lost = true;
        lost_add(a, r);
        pbs__op_progress(&a->log);
        return;
    }
    if (code != 0 && code != PB_ETASK && code != PB_EBROKEN && code != PB_EKILLED &&
        code != PB_ECANCELED)
        pbs__violation(&w->journal, &a->log, PBS_CHECK_API, "pb_future_result(#%llx) returned %s",
                       (unsigned long long)r->x.id, pbs__code_name(code));
    else
        judge_future(a, r, f, code, data, len);
    check_callbacks(a, r);
    r->live = false;
    forget_echo(r);
    pb_future_release(f);
    pbs__op_progress(&a->log);
}

void pbs__retire_live(pbs_actor *a, size_t i)
{
    assert(i < a->nlive);
    pbs_rec *r = a->live[i];
    a->live[i] = a->live[--a->nlive];
    pbs__retire(a, r);
}

void pbs__make_room(pbs_actor *a, size_t room)
{
    while (a->nlive + room > PBS_LIVE_MAX)
        pbs__retire_live(a, (size_t)pb_rng_below(&a->rng, a->nlive));
}

void pbs__drain(pbs_actor *a)
{
    pbs_opdesc d = {.kind = PBS_OP_DRAIN, .n = (uint32_t)a->nlive,
                    .id = a->nlive ? a->live[0]->x.id : 0};
    pbs__op_begin(&a->w->journal, &a->log, &d);
    while (a->nlive)
        pbs__retire_live(a, a->nlive - 1);
    pbs__op_end(&a->log);
}

void pbs__actor_final(pbs_actor *a)
{
    pbs_journal *j = &a->w->journal;
    /* Futures still live (the main thread's tail) are done after destroy. */
    while (a->nlive) {
        pbs_rec *r = a->live[a->nlive - 1];
        pb_future *f = atomic_load(&r->f);
        if (pb_future_done(f)) {
            pbs__retire_live(a, a->nlive - 1);
            continue;
        }
        a->nlive--;
        pbs__violation(j, &a->log, PBS_CHECK_DONE,
                       "future #%llx (%s) is not done after pb_pool_destroy (state %s)",
                       (unsigned long long)r->x.id, pbs__inner_text(r->x.inner),
                       pbs__state_name(pb_future_state(f)));
        r->live = false;
        pb_future_release(f);
    }
    for (size_t i = 0; i < a->nlost; i++) {
        pbs_rec *r = a->lost[i];
        pb_future *f = atomic_load(&r->f);
        if (!pb_future_done(f))
            pbs__violation(j, &a->log, PBS_CHECK_DONE,
                           "lost future #%llx (%s) is still not done after pb_pool_destroy "
                           "(state %s)",
                           (unsigned long long)r->x.id, pbs__inner_text(r->x.inner),
                           pbs__state_name(pb_future_state(f)));
        r->lost = false;
        forget_echo(r);
        pb_future_release(f);
    }
    a->nlost = 0;
}
