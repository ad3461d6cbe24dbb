/*
 * wait.c — waiting on many futures: pb_wait and the as_completed iterator.
 *
 * DESIGN
 *
 * Both register one pb__waiter on every distinct future that is not yet
 * done. A future notifies its waiters with its own lock held, at the moment it
 * becomes done; the waiter records that in its own counters or queue and
 * bumps `seq`, a futex word the waiting thread sleeps on (with the absolute
 * deadline), only issuing a wake when someone sleeps. Unregistering takes each
 * future's lock, so once it returns no notification can reach the waiter and
 * it may go out of scope. Duplicates are removed first (sorting a copy of the
 * pointers), so counting "distinct futures done" is exact and each future is
 * yielded once.
 *
 * "Done" here is pb__future_counts_done(): a cancel of a backend that
 * notices cancels late counts only once noticed (future.c says why).
 *
 * pb_wait counts done futures and failed ones in atomics: the condition is
 * checked in O(1) per wake-up, whatever n is. as_completed keeps a ready
 * queue sized for every future (each is pushed exactly once), so notifying
 * never allocates.
 *
 * Debug builds assert what the design promises: each future is pushed on
 * the ready queue at most once (so it never overflows) and yielded once.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core-int.h"

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (pb_future *const *)a, y = (uintptr_t) * (pb_future *const *)b;
    return x < y ? -1 : x > y;
}

/* A sorted, de-duplicated copy of fs; *m its length. NULL on ENOMEM. */
static pb_future **distinct(pb_future *const *fs, size_t n, size_t *m)
{
    pb_future **d = malloc((n ? n : 1) * sizeof *d);
    if (!d)
        return NULL;
    memcpy(d, fs, n * sizeof *d);
    qsort(d, n, sizeof *d, ptr_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || d[k - 1] != d[i])
            d[k++] = d[i];
    *m = k;
    return d;
}

static bool is_exception(int code)
{
    return code == PB_ETASK || code == PB_EBROKEN || code == PB_EKILLED;
}

/* A notification: seq changes, whoever sleeps on it wakes. */
static void bump(_Atomic uint32_t *seq, _Atomic uint32_t *sleepers)
{
    atomic_fetch_add(seq, 1);
    pb__wake(seq, sleepers, INT_MAX);
}

/* ---- pb_wait ---- */

typedef struct wait_state {
    pb__waiter base;
    _Atomic uint32_t seq, sleepers;
    _Atomic size_t done, failed;
} wait_state;

static void wait_notify(pb__waiter *w, pb_future *f)
{
    wait_state *ws = (wait_state *)w;
    assert(pb_future_done(f));
    atomic_fetch_add(&ws->done, 1);
    if (is_exception(pb__future_code(f)))
        atomic_fetch_add(&ws->failed, 1);
    bump(&ws->seq, &ws->sleepers);
}

static bool satisfied(pb_return_when when, size_t done, size_t failed, size_t n)
{
    switch (when) {
    case PB_FIRST_COMPLETED:
        return done >= 1 || n == 0;
    case PB_FIRST_EXCEPTION:
        return failed >= 1 || done == n;
    default:
        return done == n;
    }
}

int pb_wait(pb_future *const *fs, size_t n, pb_return_when when, int64_t timeout)
{
    if ((!fs && n) || !pb__timeout_valid(timeout) ||
        (when != PB_FIRST_COMPLETED && when != PB_FIRST_EXCEPTION && when != PB_ALL_COMPLETED))
        return PB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return PB_EINVAL;
    if (n == 0)
        return 0;
    int64_t deadline = pb__deadline(timeout);

    size_t m;
    pb_future **d = distinct(fs, n, &m);
    if (!d)
        return PB_ENOMEM;

    /* A first look without registering: often enough. */
    size_t done = 0, failed = 0;
    for (size_t i = 0; i < m; i++) {
        if (pb__future_counts_done(d[i])) {
            done++;
            failed += is_exception(pb__future_code(d[i]));
        }
    }
    if (satisfied(when, done, failed, m) || timeout == 0) {
        free(d);
        return (int)done;
    }

    wait_state ws = {.base.notify = wait_notify};
    bool *registered = calloc(m, sizeof *registered);
    if (!registered) {
        free(d);
        return PB_ENOMEM;
    }
    int err = 0;
    size_t pre_done = 0, pre_failed = 0;
    for (size_t i = 0; i < m && !err; i++) {
        int r = pb__future_add_waiter(d[i], &ws.base);
        if (r == 1) {
            registered[i] = true;
        } else if (r == 0) {
            pre_done++;
            pre_failed += is_exception(pb__future_code(d[i]));
        } else {
            err = r;
        }
    }

    while (!err) {
        uint32_t seen = atomic_load(&ws.seq);
        if (satisfied(when, pre_done + atomic_load(&ws.done),
                      pre_failed + atomic_load(&ws.failed), m))
            break;
        if (deadline >= 0 && pb_now_ns() >= deadline)
            break;
        pb__sleep(&ws.seq, &ws.sleepers, seen, deadline);
    }

    for (size_t i = 0; i < m; i++)
        if (registered[i])
            pb__future_remove_waiter(d[i], &ws.base);
    done = 0;
    for (size_t i = 0; i < m; i++)
        done += pb__future_counts_done(d[i]);
    free(registered);
    free(d);
    return err ? err : (int)(done > INT32_MAX ? INT32_MAX : done);
}

/* ---- as_completed ---- */

typedef struct ac_index {
    pb_future *f;
    size_t i; /* its position in fs[] */
} ac_index;

struct pb_as_completed {
    pb__waiter base;
    _Atomic uint32_t seq, sleepers;
    pb__lock lock;        /* guards ready[], head, tail */
    pb_future **fs;       /* distinct futures, in first-appearance order; ours */
    ac_index *by_ptr;     /* fs sorted by address, to find a future's slot */
    unsigned char *st;    /* per fs[i]: AC_* flags */
    size_t n, yielded;
    size_t *ready;        /* indexes of done, not yet yielded futures; each pushed once */
    size_t head, tail;
    int64_t deadline;
    bool timed_out;
};

enum { AC_PENDING = 1, AC_REGISTERED = 2, AC_QUEUED = 4 };

static int index_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const ac_index *)a)->f, y = (uintptr_t)((const ac_index *)b)->f;
    return x < y ? -1 : x > y;
}

static size_t ac_slot(const pb_as_completed *it, pb_future *f)
{
    ac_index key = {f, 0};
    const ac_index *hit = bsearch(&key, it->by_ptr, it->n, sizeof key, index_cmp);
    assert(hit); /* only the iterator's own futures notify it */
    return hit->i;
}

/* Queues fs[i] as done, once. Called with it->lock held. */
static void ac_push_locked(pb_as_completed *it, size_t i)
{
    assert(i < it->n);
    if (!(it->st[i] & AC_QUEUED)) {
        assert(it->tail < it->n);
        it->st[i] |= AC_QUEUED;
        it->ready[it->tail++] = i;
    }
}

/* Runs under f's lock. Everything it does to the iterator happens under the
 * iterator's lock: once the consumer has taken that lock after the push, this
 * notifier no longer touches the iterator, so the consumer may free it (the
 * future it just yielded is done and will not notify again). */
static void ac_notify(pb__waiter *w, pb_future *f)
{
    pb_as_completed *it = (pb_as_completed *)w;
    size_t i = ac_slot(it, f);
    pb__lock_acquire(&it->lock);
    ac_push_locked(it, i);
    bump(&it->seq, &it->sleepers);
    pb__lock_release(&it->lock);
}

void pb_as_completed_free(pb_as_completed *it)
{
    if (!it)
        return;
    /* Wait out a notifier still inside ac_notify for a future already
     * yielded (it holds this lock until it is done with the iterator). */
    pb__lock_acquire(&it->lock);
    pb__lock_release(&it->lock);
    for (size_t i = 0; i < it->n; i++) {
        /* A notifier may still set AC_QUEUED in this byte, under the lock,
         * until remove_waiter below has run: read it under the lock too. */
        pb__lock_acquire(&it->lock);
        unsigned char st = it->st[i];
        pb__lock_release(&it->lock);
        if (!(st & AC_PENDING))
            continue;
        if (st & AC_REGISTERED)
            pb__future_remove_waiter(it->fs[i], &it->base);
        pb_future_release(it->fs[i]);
    }
    free(it->fs);
    free(it->by_ptr);
    free(it->st);
    free(it->ready);
    free(it);
}

int pb_as_completed_new(pb_future *const *fs, size_t n, int64_t timeout, pb_as_completed **out)
{
    if ((!fs && n) || !out || !pb__timeout_valid(timeout))
        return PB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return PB_EINVAL;

    pb_as_completed *it = calloc(1, sizeof *it);
    size_t cap = n ? n : 1;
    if (it) {
        it->fs = malloc(cap * sizeof *it->fs);
        it->by_ptr = malloc(cap * sizeof *it->by_ptr);
        it->st = calloc(cap, 1);
        it->ready = malloc(cap * sizeof *it->ready);
    }
    if (!it || !it->fs || !it->by_ptr || !it->st || !it->ready) {
        pb_as_completed_free(it);
        return PB_ENOMEM;
    }
    it->base.notify = ac_notify;
    it->deadline = pb__deadline(timeout);

    /* Distinct futures in order of first appearance: sort (address, position)
     * pairs, keep the first position of each address, and rebuild. */
    for (size_t i = 0; i < n; i++)
        it->by_ptr[i] = (ac_index){fs[i], i};
    qsort(it->by_ptr, n, sizeof *it->by_ptr, index_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && it->by_ptr[m - 1].f == it->by_ptr[i].f) {
            if (it->by_ptr[i].i < it->by_ptr[m - 1].i)
                it->by_ptr[m - 1].i = it->by_ptr[i].i;
            continue;
        }
        it->by_ptr[m++] = it->by_ptr[i];
    }
    /* Mark first positions, then compact fs in that order. */
    unsigned char *first = it->st; /* borrowed as scratch, cleared below */
    for (size_t k = 0; k < m; k++)
        first[it->by_ptr[k].i] = 1;
    for (size_t i = 0; i < n; i++)
        if (first[i])
            it->fs[it->n++] = fs[i];
    memset(it->st, 0, cap);
    for (size_t i = 0; i < it->n; i++)
        it->by_ptr[i] = (ac_index){it->fs[i], i};
    qsort(it->by_ptr, it->n, sizeof *it->by_ptr, index_cmp);

    for (size_t i = 0; i < it->n; i++) {
        pb_future_retain(it->fs[i]);
        it->st[i] = AC_PENDING;
    }
    /* The ones already done first, in the order given... */
    for (size_t i = 0; i < it->n; i++)
        if (pb__future_counts_done(it->fs[i]))
            ac_push_locked(it, i); /* not yet shared: no lock needed */
    /* ...then the rest in completion order (one that completes between the
     * two passes is found done here and queued now). */
    for (size_t i = 0; i < it->n; i++) {
        if (it->st[i] & AC_QUEUED)
            continue;
        int r = pb__future_add_waiter(it->fs[i], &it->base);
        if (r == 1) {
            pb__lock_acquire(&it->lock);
            it->st[i] |= AC_REGISTERED;
            pb__lock_release(&it->lock);
        } else if (r == 0) {
            pb__lock_acquire(&it->lock);
            ac_push_locked(it, i);
            pb__lock_release(&it->lock);
        } else {
            pb_as_completed_free(it);
            return r;
        }
    }
    *out = it;
    return 0;
}

int pb_as_completed_next(pb_as_completed *it, pb_future **f)
{
    if (!it || !f)
        return PB_EINVAL;
    if (it->timed_out)
        return PB_ETIMEDOUT;
    if (it->yielded == it->n)
        return PB_EOF;
    for (;;) {
        uint32_t seen = atomic_load(&it->seq);
        bool got = false;
        size_t i = 0;
        pb__lock_acquire(&it->lock);
        if (it->head < it->tail) {
            i = it->ready[it->head++];
            /* A done future has dropped its waiters: nothing to unregister. */
            it->st[i] &= (unsigned char)~(AC_PENDING | AC_REGISTERED);
            got = true;
        }
        pb__lock_release(&it->lock);
        if (got) {
            assert(it->yielded < it->n && pb_future_done(it->fs[i]));
            it->yielded++;
            *f = it->fs[i];
            /* Borrowed from here on: the caller holds its own reference. */
            pb_future_release(it->fs[i]);
            return 0;
        }
        if (it->deadline >= 0 && pb_now_ns() >= it->deadline) {
            it->timed_out = true;
            return PB_ETIMEDOUT;
        }
        pb__sleep(&it->seq, &it->sleepers, seen, it->deadline);
    }
}
