/*
 * future.c — the future: state machine, waiting, callbacks, references.
 *
 * Every backend's futures are these; a backend only moves them between
 * threads or processes and reports back (pb/backend.h).
 *
 * DESIGN
 *
 * State lives in one 32-bit word, `state`, that is also the futex result
 * waiters sleep on. Transitions:
 *
 *     PENDING --set_running--> RUNNING --complete--> FINISHED
 *     PENDING --cancel-------> CANCELLED
 *     PENDING --complete-----> FINISHED   (a backend may skip set_running)
 *
 * set_running and cancel race for PENDING with a compare-and-swap, so exactly
 * one wins: a future is never both cancelled and handed to a worker. The two
 * transitions into a done state (complete, cancel) happen under the future's
 * lock, which also guards the list of callbacks and waiters: whoever makes
 * the future done takes the list under the lock, so a callback is either
 * taken by the completer or, if added later, sees a done future and runs at
 * once in the adding thread — never both, never neither. While the completer
 * is still running callbacks (`delivering`), a late one is appended for the
 * completer to run after the others, so "in the order added" holds even when
 * adding races with completion.
 *
 * Waking. Result waiters spin briefly on `state`, then count themselves in
 * `sleepers` and futex-wait on `state`. The completer stores the done state
 * and then reads `sleepers` (both sequentially consistent, Dekker style), so
 * either the waiter sees the done state before sleeping or the completer sees
 * the sleeper and wakes it: no lost wake-up, and no syscall when nobody
 * sleeps. pb_wait and as_completed register a pb__waiter instead, notified
 * with the future's lock held (so a waiter that unregisters under the same
 * lock can be freed as soon as it has done so).
 *
 * Quiet completion. A backend may complete a future from a thread that must
 * not run the user's callbacks (a caller waiting on a process pool reads its
 * workers' results itself: pb_backend.help). Then the waiters are notified
 * and woken as usual, but the callbacks stay in the list, `delivering` set
 * so that later ones queue behind them, until the backend's own thread runs
 * them (pb_future_run_callbacks()). pb__future_wait() gives such a backend
 * the waiting thread first; the pool's struct is kept alive by the futures
 * that may call into it (pool.c).
 *
 * Cancels noticed late. A backend whose own pool tells wait() and
 * as_completed() about a cancel only when it takes the cancelled future off
 * its queue (Python's concurrent.futures; backend.h, cancel_noticed_late)
 * gets the same from pb_wait and as_completed: while such a cancel is not
 * yet noticed, a delivery puts the waiters back into the entries list
 * instead of notifying them, pb__future_counts_done() says "not done", and
 * pb_future_cancel_noticed() notifies them later. Result waiters, callbacks
 * and the state see the cancel at once, as in Python.
 *
 * Completion order. A process-wide counter is taken when a future becomes
 * done (before its waiters are told) and again after the last waiter was
 * told, both under the future's lock (pb_future_completion_order). The
 * counter is read-modify-written with acq_rel ordering, so last(f) <
 * first(g) means f's notifications happen before g's: that is the order an
 * as_completed iterator must honour, and what its check in the benchmark
 * holds it to. One atomic per completion (two when someone waits).
 *
 * Help-while-waiting. A thread running a task of pool P (through
 * pb_future_task_run, which notes P in a thread-local for the task's
 * length) that waits in pb__future_wait for another future of P, where P's
 * backend fills `help_nested` (backend.h), does not just sleep: it asks the
 * backend to run one queued task of P here, and again while that finds
 * one, and only when the queue is empty sleeps on the future's state for a
 * short nap (HELP_NAP_MIN, doubling to HELP_NAP_MAX) before asking again —
 * the backend's queue has no word a waiter could sleep on together with the
 * future's, so new subtasks queued meanwhile (by a task running elsewhere)
 * are found within one nap. That is the whole cost of helping: while a
 * nested task waits with nothing queued, its worker wakes up to
 * 1/HELP_NAP_MAX times a second. The task run by helping nests on the
 * helper's stack; HELP_DEPTH_MAX bounds that (deeper waits block as
 * without help). A waiter that is no worker of the future's pool — the
 * program's own threads, a worker of another pool — never helps, so
 * closed-loop measurements and callbacks run where they always did.
 *
 * Memory. One allocation per future: the struct followed by the argument
 * bytes. The result is adopted from the worker's outcome without copying
 * (thread backends), or copied once from the bytes a process sent. Results,
 * messages and the future itself are freed at the last release; whoever makes
 * a future done holds a reference while doing so, so the wake-up never
 * touches freed memory.
 *
 * Debug builds assert the cheap invariants above where they must hold: the
 * `_locked` helpers run with the lock taken, a done state is stored once and
 * only from not-done, a future discarded was never handed over, and no
 * reference is taken on or dropped from a future with none left. (A future
 * a backend drops without finishing it is that backend's bug, which
 * `poolbench stress` reports: the core does not abort over it.)
 */
#include <assert.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core-int.h"

typedef struct pb__entry {
    pb_done_fn fn;     /* user callback, or NULL for a waiter */
    void *ud;          /* callback data, or the pb__waiter */
} pb__entry;

#define PB__INLINE_ENTRIES 2

struct pb_future {
    _Atomic uint32_t state;    /* pb_state; the futex word result waiters sleep on */
    _Atomic uint32_t sleepers; /* threads in futex_wait on state */
    _Atomic int refs;
    pb__lock lock;             /* guards entries and the done transitions */
    bool spin;                 /* waiters spin before sleeping (per backend) */

    bool notice_late;          /* the backend notices cancels late (see DESIGN) */
    _Atomic bool noticed;      /* ...and has noticed this one's */

    pb_pool *pool;             /* for the backend's cancel hint and help */
    bool helped;               /* the pool's backend helps waiters: pool is retained */
    const pb_task *task;
    void *slot;                /* the backend's */

    int64_t submitted, started, ended, completed;
    uint64_t order_first, order_last; /* completion order; written under the lock */

    /* The outcome, written once before the done state is published. */
    int code, task_code, signal, exit_status;
    void *data;
    size_t len;
    char *message;

    /* Callbacks and waiters, in the order added. */
    pb__entry *entries;        /* inline_entries or heap */
    uint32_t nentries, capentries;
    bool delivering;           /* the completer is running callbacks */
    pb__entry inline_entries[PB__INLINE_ENTRIES];

    size_t arg_len;
    unsigned char arg[];       /* the argument copy */
};

static inline bool state_done(uint32_t s)
{
    return s == PB_FINISHED || s == PB_CANCELLED;
}

/* Help-while-waiting (see DESIGN): the pool whose task this thread runs
 * (NULL: none), and how many helped tasks are nested on its stack. */
static _Thread_local pb_pool *running_pool;
static _Thread_local unsigned help_depth;

#define HELP_NAP_MIN 2000     /* ns */
#define HELP_NAP_MAX 50000    /* ns */
#define HELP_DEPTH_MAX 256

/* Whether f's lock is taken (by someone: the lock keeps no owner). For
 * assertions in the `_locked` helpers. */
static inline bool locked(pb_future *f)
{
    return atomic_load_explicit(&f->lock, memory_order_relaxed) != PB__LOCK_INIT;
}

pb_future *pb__future_new(pb_pool *pool, const pb_task *task, const void *arg, size_t len,
                          int refs, int64_t submitted)
{
    pb_future *f = malloc(sizeof *f + len);
    if (!f)
        return NULL;
    atomic_init(&f->state, PB_PENDING);
    atomic_init(&f->sleepers, 0);
    atomic_init(&f->refs, refs);
    atomic_init(&f->lock, PB__LOCK_INIT);
    f->pool = pool;
    f->helped = pb__pool_retain_for_help(pool);
    f->spin = pb__pool_waiter_spins(pool);
    f->notice_late = pb__pool_cancel_noticed_late(pool);
    atomic_init(&f->noticed, false);
    f->task = task;
    f->slot = NULL;
    f->submitted = submitted ? submitted : pb_now_ns();
    f->started = f->ended = f->completed = 0;
    f->order_first = f->order_last = 0;
    f->code = f->task_code = f->signal = f->exit_status = 0;
    f->data = NULL;
    f->len = 0;
    f->message = NULL;
    f->entries = f->inline_entries;
    f->nentries = 0;
    f->capentries = PB__INLINE_ENTRIES;
    f->delivering = false;
    f->arg_len = len;
    if (len && arg) /* NULL arg: the caller fills pb_future_arg() itself */
        memcpy(f->arg, arg, len);
    return f;
}

static void future_free(pb_future *f)
{
    if (f->helped)
        pb__pool_release(f->pool);
    free(f->data);
    free(f->message);
    if (f->entries != f->inline_entries)
        free(f->entries);
    free(f);
}

void pb__future_discard(pb_future *f)
{
    /* Only a future no backend ever took: still PENDING, nothing waits. */
    assert(atomic_load(&f->state) == PB_PENDING && f->nentries == 0);
    future_free(f);
}

void pb_future_retain(pb_future *f)
{
    if (f) {
        int before = atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
        assert(before > 0);
        (void)before;
    }
}

void pb_future_release(pb_future *f)
{
    if (!f)
        return;
    int before = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    assert(before > 0);
    if (before == 1)
        future_free(f);
}

/* ---- Reading ---- */

pb_state pb_future_state(const pb_future *f)
{
    return f ? (pb_state)atomic_load_explicit(&f->state, memory_order_acquire) : PB_PENDING;
}

bool pb_future_done(const pb_future *f)
{
    return f && state_done(atomic_load_explicit(&f->state, memory_order_acquire));
}

bool pb_future_running(const pb_future *f)
{
    return pb_future_state(f) == PB_RUNNING;
}

bool pb_future_cancelled(const pb_future *f)
{
    return f && pb_future_state(f) == PB_CANCELLED;
}

/* A cancel that pb_wait and as_completed do not see yet (see DESIGN). */
static inline bool cancel_unnoticed(const pb_future *f, uint32_t s)
{
    return s == PB_CANCELLED && f->notice_late &&
           !atomic_load_explicit(&f->noticed, memory_order_acquire);
}

bool pb__future_counts_done(const pb_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    return state_done(s) && !cancel_unnoticed(f, s);
}

int pb__future_code(const pb_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    return s == PB_CANCELLED ? PB_ECANCELED : f->code;
}

/* The completion counter (see "Completion order" above). */
static _Atomic uint64_t completion_counter;

/* The next value of the completion counter (1 the first). */
static uint64_t order_next(void)
{
    return atomic_fetch_add_explicit(&completion_counter, 1, memory_order_acq_rel) + 1;
}

int pb_future_completion_order(const pb_future *f, uint64_t *first, uint64_t *last)
{
    if (!f || !first || !last || !pb_future_done(f))
        return PB_EINVAL;
    /* Written by the completer under the lock, the last one after the done
     * state is visible: taking the lock waits for it. */
    pb__lock_acquire((pb__lock *)&f->lock);
    *first = f->order_first;
    *last = f->order_last;
    pb__lock_release((pb__lock *)&f->lock);
    return 0;
}

int pb_future_times(const pb_future *f, pb_times *t)
{
    if (!f || !t)
        return PB_EINVAL;
    /* completed is written before the done state is published: read the
     * state first so a done future's times are complete. */
    bool done = pb_future_done(f);
    t->submitted = f->submitted;
    t->started = done ? f->started : 0;
    t->ended = done ? f->ended : 0;
    t->completed = done ? f->completed : 0;
    return 0;
}

const pb_task *pb_future_task(const pb_future *f)
{
    return f->task;
}

const void *pb_future_arg(const pb_future *f, size_t *len)
{
    if (len)
        *len = f->arg_len;
    return f->arg;
}

void **pb_future_slot(pb_future *f)
{
    return &f->slot;
}

/* ---- Waiting ---- */

pb_pool *pb__running_pool(void)
{
    return running_pool;
}

/* pb__future_wait for a worker of f's pool whose backend helps (see
 * DESIGN): runs queued tasks of the pool until f is done or the deadline
 * passes, napping on f's state while nothing is queued. */
static int help_wait(pb_future *f, int64_t deadline)
{
    int64_t nap = HELP_NAP_MIN;
    for (;;) {
        help_depth++;
        bool ran = pb__pool_help_nested(f->pool);
        help_depth--;
        uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
        if (state_done(s))
            return 0;
        int64_t now = pb_now_ns();
        if (deadline >= 0 && now >= deadline)
            return PB_ETIMEDOUT;
        if (ran) {
            nap = HELP_NAP_MIN;
            continue;
        }
        int64_t until = now + nap;
        if (deadline >= 0 && deadline < until)
            until = deadline;
        pb__sleep(&f->state, &f->sleepers, s, until);
        if (nap < HELP_NAP_MAX)
            nap = nap * 2 < HELP_NAP_MAX ? nap * 2 : HELP_NAP_MAX;
    }
}

static bool future_done(void *ud)
{
    return state_done(atomic_load_explicit(&((pb_future *)ud)->state, memory_order_acquire));
}

int pb__future_wait(pb_future *f, int64_t deadline)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    if (state_done(s))
        return 0;
    int64_t now = pb_now_ns();
    if (deadline >= 0 && now >= deadline)
        return PB_ETIMEDOUT;
    if (running_pool && running_pool == f->pool && help_depth < HELP_DEPTH_MAX &&
        pb__pool_helps_nested(f->pool))
        return help_wait(f, deadline);

    /* A backend that can deliver results in this very thread (a process
     * pool reading its workers' results) is asked first: then the result
     * reaches this thread in one wake-up fewer. It says 0 when it cannot
     * use this thread now. */
    while (f->helped) {
        int r = pb__pool_help(f->pool, future_done, f, deadline);
        if (state_done(atomic_load_explicit(&f->state, memory_order_acquire)))
            return 0;
        if (deadline >= 0 && pb_now_ns() >= deadline)
            return PB_ETIMEDOUT;
        if (r <= 0)
            break;
    }

    /* Spin a little: a worker on another core often finishes within it
     * (unless the backend says completion needs a thread we would starve).
     * Every 64 looks it yields: on a machine with fewer cores than runnable
     * threads the worker we wait for may need this very core. */
    int64_t spin_end = now + (f->spin ? PB__SPIN_NS_WAITER : 0);
    if (deadline >= 0 && deadline < spin_end)
        spin_end = deadline;
    for (unsigned i = 1; now < spin_end; i++) {
        pb__cpu_relax();
        if (state_done(atomic_load_explicit(&f->state, memory_order_acquire)))
            return 0;
        if ((i & 63) == 0) {
            if (pb_now_ns() >= spin_end)
                break;
            sched_yield();
        }
    }

    for (;;) {
        /* Not done as `s` was read; PENDING -> RUNNING also changes the word,
         * which only costs one more turn. */
        s = atomic_load(&f->state);
        int r = state_done(s) ? 0 : pb__sleep(&f->state, &f->sleepers, s, deadline);
        if (state_done(atomic_load_explicit(&f->state, memory_order_acquire)))
            return 0;
        if (r == -ETIMEDOUT || (deadline >= 0 && pb_now_ns() >= deadline))
            return PB_ETIMEDOUT;
    }
}

int pb_future_result(pb_future *f, int64_t timeout, const void **data, size_t *len)
{
    if (!f || !pb__timeout_valid(timeout))
        return PB_EINVAL;
    /* A done future needs no deadline (and no clock read). */
    int r = future_done(f) ? 0 : pb__future_wait(f, pb__deadline(timeout));
    if (r)
        return r;
    int code = pb__future_code(f);
    if (code == 0) {
        if (data)
            *data = f->data;
        if (len)
            *len = f->len;
    }
    return code;
}

int pb_future_error(pb_future *f, int64_t timeout, pb_error *err)
{
    if (!f || !err || !pb__timeout_valid(timeout))
        return PB_EINVAL;
    int r = future_done(f) ? 0 : pb__future_wait(f, pb__deadline(timeout));
    if (r)
        return r;
    err->code = pb__future_code(f);
    err->task_code = f->task_code;
    err->signal = f->signal;
    err->exit_status = f->exit_status;
    if (err->code == PB_ECANCELED)
        err->message = "cancelled";
    else
        err->message = f->message ? f->message : "";
    return 0;
}

/* ---- Callbacks and waiters ---- */

/* Lock held. */
static int entries_append(pb_future *f, pb_done_fn fn, void *ud)
{
    assert(locked(f));
    if (f->nentries == f->capentries) {
        uint32_t cap = f->capentries * 2;
        pb__entry *e;
        if (f->entries == f->inline_entries) {
            e = malloc(cap * sizeof *e);
            if (e)
                memcpy(e, f->inline_entries, sizeof f->inline_entries);
        } else {
            e = realloc(f->entries, cap * sizeof *e);
        }
        if (!e)
            return PB_ENOMEM;
        f->entries = e;
        f->capentries = cap;
    }
    f->entries[f->nentries++] = (pb__entry){fn, ud};
    return 0;
}

int pb_future_add_done_callback(pb_future *f, pb_done_fn cb, void *ud)
{
    if (!f || !cb)
        return PB_EINVAL;
    pb__lock_acquire(&f->lock);
    if (!state_done(atomic_load_explicit(&f->state, memory_order_relaxed)) || f->delivering) {
        /* Not done, or done with earlier callbacks still running in the
         * completing thread: this one runs there, after them. */
        int r = entries_append(f, cb, ud);
        pb__lock_release(&f->lock);
        return r;
    }
    pb__lock_release(&f->lock);
    cb(f, ud);
    return 0;
}

int pb__future_add_waiter(pb_future *f, pb__waiter *w)
{
    int r = 0;
    pb__lock_acquire(&f->lock);
    if (!pb__future_counts_done(f))
        r = entries_append(f, NULL, w) == 0 ? 1 : PB_ENOMEM;
    pb__lock_release(&f->lock);
    return r;
}

void pb__future_remove_waiter(pb_future *f, pb__waiter *w)
{
    pb__lock_acquire(&f->lock);
    for (uint32_t i = 0; i < f->nentries; i++) {
        if (f->entries[i].fn == NULL && f->entries[i].ud == w) {
            memmove(&f->entries[i], &f->entries[i + 1],
                    (f->nentries - i - 1) * sizeof f->entries[0]);
            f->nentries--;
            break;
        }
    }
    pb__lock_release(&f->lock);
}

/* Takes the entries list out of f (lock held) into *out; returns its length.
 * Inline entries are copied into inl, so the future's storage is free again. */
static uint32_t take_entries_locked(pb_future *f, pb__entry inl[PB__INLINE_ENTRIES],
                                    pb__entry **out)
{
    assert(locked(f));
    pb__entry *entries = f->entries;
    uint32_t n = f->nentries;
    if (entries == f->inline_entries) {
        memcpy(inl, f->inline_entries, n * sizeof inl[0]);
        entries = inl;
    }
    f->entries = f->inline_entries;
    f->nentries = 0;
    f->capentries = PB__INLINE_ENTRIES;
    *out = entries;
    return n;
}

/* Notifies the waiters among entries[0..n), just taken out of f (lock
 * held), or, while f's cancel is not yet noticed, puts them back into f for
 * pb_future_cancel_noticed() (a waiter that cannot be put back for want of
 * memory is notified now). Returns whether entries holds callbacks. */
static bool waiters_locked(pb_future *f, pb__entry *entries, uint32_t n)
{
    assert(locked(f));
    bool hold = cancel_unnoticed(f, atomic_load_explicit(&f->state, memory_order_relaxed));
    bool callbacks = false, told = false;
    for (uint32_t i = 0; i < n; i++) {
        if (entries[i].fn) {
            callbacks = true;
            continue;
        }
        pb__waiter *w = entries[i].ud;
        if (!hold || entries_append(f, NULL, w) != 0) {
            w->notify(w, f);
            told = true;
        }
    }
    /* After the last waiter told: the end of this completion's order. */
    if (told)
        f->order_last = order_next();
    return callbacks;
}

static void run_callbacks(pb_future *f, pb__entry inl[PB__INLINE_ENTRIES], pb__entry *entries,
                          uint32_t n);

/* deliver_locked() for a completer that must not run the user's callbacks
 * (a waiter that reads a process pool's results itself): notifies waiters
 * and wakes result sleepers as deliver_locked() does, but leaves the
 * callbacks in place, marked `delivering` so that later ones are appended
 * behind them, for pb__future_run_callbacks(). Only for FINISHED (a cancel
 * is never quiet, so none is held back unnoticed here). Returns whether any
 * wait. */
static bool deliver_quietly_locked(pb_future *f)
{
    assert(locked(f) && atomic_load_explicit(&f->state, memory_order_relaxed) == PB_FINISHED);
    f->order_first = f->order_last = order_next();
    uint32_t k = 0;
    bool told = false;
    for (uint32_t i = 0; i < f->nentries; i++) {
        pb__entry e = f->entries[i];
        if (!e.fn) {
            ((pb__waiter *)e.ud)->notify(e.ud, f);
            told = true;
        } else {
            f->entries[k++] = e;
        }
    }
    if (told) /* after the last waiter told: the end of this completion's order */
        f->order_last = order_next();
    f->nentries = k;
    f->delivering = k > 0;
    pb__lock_release(&f->lock);
    pb__wake(&f->state, &f->sleepers, INT_MAX);
    return k > 0;
}

/* Delivers a done state just stored (the outcome was written before it),
 * with the lock held on entry; releases it. Notifies waiters under the lock
 * (so they may be freed right after they unregister), wakes result sleepers,
 * then runs the callbacks in this thread, in the order added. Callbacks added
 * while this runs them are appended (`delivering`) and run here after the
 * earlier ones, so the order holds even across threads. */
static void deliver_locked(pb_future *f)
{
    assert(locked(f) && state_done(atomic_load_explicit(&f->state, memory_order_relaxed)));
    pb__entry inl[PB__INLINE_ENTRIES], *entries;
    uint32_t n = take_entries_locked(f, inl, &entries);
    f->order_first = order_next();
    f->order_last = f->order_first;
    bool callbacks = waiters_locked(f, entries, n);
    f->delivering = callbacks;
    pb__lock_release(&f->lock);

    pb__wake(&f->state, &f->sleepers, INT_MAX);

    if (!callbacks) {
        if (entries != inl)
            free(entries);
        return;
    }
    run_callbacks(f, inl, entries, n);
}

/* Runs entries[0..n) (their callbacks), then those appended meanwhile,
 * until none is left; then clears `delivering`. Without the lock. */
static void run_callbacks(pb_future *f, pb__entry inl[PB__INLINE_ENTRIES], pb__entry *entries,
                          uint32_t n)
{
    for (;;) {
        for (uint32_t i = 0; i < n; i++)
            if (entries[i].fn)
                entries[i].fn(f, entries[i].ud);
        if (entries != inl)
            free(entries);
        pb__lock_acquire(&f->lock);
        n = take_entries_locked(f, inl, &entries);
        if (!waiters_locked(f, entries, n)) { /* waiters of an unnoticed cancel went back */
            f->delivering = false;
            pb__lock_release(&f->lock);
            if (entries != inl)
                free(entries);
            return;
        }
        pb__lock_release(&f->lock);
    }
}

void pb__future_run_callbacks(pb_future *f)
{
    pb__entry inl[PB__INLINE_ENTRIES];
    run_callbacks(f, inl, inl, 0);
}

void pb_future_run_callbacks(pb_future *f)
{
    pb__future_run_callbacks(f);
}

void pb_future_cancel_noticed(pb_future *f)
{
    if (!f)
        return;
    pb__lock_acquire(&f->lock);
    if (cancel_unnoticed(f, atomic_load_explicit(&f->state, memory_order_relaxed))) {
        atomic_store_explicit(&f->noticed, true, memory_order_release);
        /* Notify and drop the waiters held back; callbacks appended while a
         * delivery is still running them stay for it. */
        uint32_t k = 0;
        for (uint32_t i = 0; i < f->nentries; i++) {
            if (f->entries[i].fn)
                f->entries[k++] = f->entries[i];
            else
                ((pb__waiter *)f->entries[i].ud)->notify(f->entries[i].ud, f);
        }
        if (k < f->nentries) /* the waiters are told now: the completion's order ends now */
            f->order_last = order_next();
        f->nentries = k;
    }
    pb__lock_release(&f->lock);
}

/* FINISHED, with the outcome written and the lock held; releases it.
 * quiet: leave the callbacks (see deliver_quietly_locked); returns whether
 * any wait. */
static bool finish_locked(pb_future *f, bool quiet)
{
    assert(locked(f) && !state_done(atomic_load_explicit(&f->state, memory_order_relaxed)));
    f->completed = pb_now_ns();
    atomic_store(&f->state, PB_FINISHED);
    if (quiet)
        return deliver_quietly_locked(f);
    deliver_locked(f);
    return false;
}

/* ---- Transitions ---- */

bool pb_future_set_running(pb_future *f)
{
    uint32_t s = PB_PENDING;
    return atomic_compare_exchange_strong_explicit(&f->state, &s, PB_RUNNING,
                                                   memory_order_acq_rel, memory_order_acquire);
}

bool pb_future_cancel(pb_future *f)
{
    if (!f)
        return false;
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    if (s != PB_PENDING)
        return s == PB_CANCELLED;
    pb__lock_acquire(&f->lock);
    /* Completion takes this lock too: look again, so that a future which
     * finished since the check above keeps the times its completion wrote. */
    s = atomic_load_explicit(&f->state, memory_order_acquire);
    if (s != PB_PENDING) {
        pb__lock_release(&f->lock);
        return s == PB_CANCELLED;
    }
    /* Written before the state is published, undone if set_running wins
     * (a RUNNING future's `completed` is 0, and it cannot complete while we
     * hold the lock): nobody reads `completed` before seeing a done state. */
    f->completed = pb_now_ns();
    s = PB_PENDING;
    if (!atomic_compare_exchange_strong(&f->state, &s, PB_CANCELLED)) {
        f->completed = 0;
        pb__lock_release(&f->lock);
        return s == PB_CANCELLED;
    }
    /* The caller's reference keeps f alive through its callbacks, which may
     * release theirs; the backend still holds the one it was given. */
    deliver_locked(f);
    pb__pool_cancel_hint(f->pool, f);
    return true;
}

/* Common start of the three completions: returns with the lock held, or
 * false (lock released) if f is already done. */
static bool begin_complete(pb_future *f)
{
    pb__lock_acquire(&f->lock);
    if (state_done(atomic_load_explicit(&f->state, memory_order_relaxed))) {
        pb__lock_release(&f->lock);
        return false;
    }
    return true;
}

int pb_future_complete(pb_future *f, pb_outcome *out)
{
    if (!begin_complete(f)) {
        pb_outcome_clear(out);
        return PB_EINVAL;
    }
    f->code = out->code;
    f->task_code = out->task_code;
    f->data = out->data;
    f->len = out->len;
    f->message = out->message;
    f->started = out->started;
    f->ended = out->ended;
    out->data = NULL;
    out->message = NULL;
    out->len = 0;
    /* In-process completion happens in the worker right as the task ends:
     * that instant is when the caller's side sees it (saves a clock read on
     * the hottest path). */
    f->completed = out->ended ? out->ended : pb_now_ns();
    assert(!state_done(atomic_load_explicit(&f->state, memory_order_relaxed)));
    atomic_store(&f->state, PB_FINISHED);
    deliver_locked(f);
    return 0;
}

int pb__future_set_error_ex(pb_future *f, const pb_error *err, int64_t started, int64_t ended,
                            bool quiet)
{
    if (!err || (err->code != PB_ETASK && err->code != PB_EBROKEN && err->code != PB_EKILLED))
        return PB_EINVAL;
    char *msg = pb__strdup(err->message ? err->message : "");
    if (!begin_complete(f)) {
        free(msg);
        return PB_EINVAL;
    }
    f->code = err->code;
    f->task_code = err->task_code;
    f->signal = err->signal;
    f->exit_status = err->exit_status;
    f->message = msg; /* NULL on ENOMEM reads as "" */
    f->started = started;
    f->ended = ended;
    return finish_locked(f, quiet);
}

int pb__future_set_result_ex(pb_future *f, const void *data, size_t len, int64_t started,
                             int64_t ended, bool quiet)
{
    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy) {
            pb_error e = {.code = PB_EBROKEN, .message = "out of memory copying the result"};
            int r = pb__future_set_error_ex(f, &e, started, ended, quiet);
            return quiet ? r : PB_ENOMEM;
        }
        memcpy(copy, data, len);
    }
    if (!begin_complete(f)) {
        free(copy);
        return PB_EINVAL;
    }
    f->code = 0;
    f->data = copy;
    f->len = len;
    f->started = started;
    f->ended = ended;
    return finish_locked(f, quiet);
}

int pb_future_set_result(pb_future *f, const void *data, size_t len, int64_t started,
                         int64_t ended)
{
    return pb__future_set_result_ex(f, data, len, started, ended, false);
}

int pb_future_set_error(pb_future *f, const pb_error *err, int64_t started, int64_t ended)
{
    return pb__future_set_error_ex(f, err, started, ended, false);
}

int pb_future_set_result_quiet(pb_future *f, const void *data, size_t len, int64_t started,
                               int64_t ended)
{
    return pb__future_set_result_ex(f, data, len, started, ended, true);
}

int pb_future_set_error_quiet(pb_future *f, const pb_error *err, int64_t started,
                              int64_t ended)
{
    return pb__future_set_error_ex(f, err, started, ended, true);
}

void pb_future_task_run(pb_future *f, pb_outcome *out)
{
    pb_pool *outer = running_pool; /* a task run by helping, inside another */
    running_pool = f->pool;
    pb_task_run(f->task, f->arg, f->arg_len, out);
    running_pool = outer;
}

bool pb_future_run(pb_future *f)
{
    if (!pb_future_set_running(f))
        return false;
    pb_outcome o;
    pb_future_task_run(f, &o);
    pb_future_complete(f, &o);
    return true;
}
