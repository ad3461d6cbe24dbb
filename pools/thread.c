/*
 * thread.c — the `thread` backend: a fixed set of pthreads sharing one queue.
 *
 * DESIGN
 *
 * Threads. `workers` threads, each optionally bound to its PU by the shared
 * placement code (placement-int.h), run the loop: take a future from the
 * queue, claim it with pb_future_set_running() (skipping it if it was
 * cancelled while queued), run the task in place, and complete the future
 * with the outcome — the result buffer the task produced is adopted, not
 * copied. Completion (and so the done-callbacks) happens in the worker.
 *
 * The queue. One intrusive FIFO (linked through pb_future_slot) under one
 * small lock, held only to push or pop — never while a task runs; a batch
 * (pb_submit_many) is linked outside the lock and appended in one step. `qlen`
 * mirrors the length outside the lock so idle workers can poll it cheaply.
 * Dispatch is work-conserving: a future is only ever taken by a worker that
 * is about to run it, so a ready task never waits behind a running one while
 * another worker idles.
 *
 * Waking. An idle worker first spins on `qlen` for a few µs — but only one
 * worker spins at a time (`nspinning` is 0 or 1), so spinning never takes the
 * submitter's core on a small machine — then counts itself in `nsleepers` and
 * sleeps on the futex `seq`. Submit pushes, bumps `seq`, and issues a wake
 * only when no worker spins and some sleep: while the pool is busy or a
 * worker spins, submit makes no syscall. The sleeper increments `nsleepers`
 * before re-checking `qlen`, and submit increments `qlen` before reading
 * `nsleepers` (all sequentially consistent), so a wake-up cannot be lost;
 * likewise the spinner stops counting in `nspinning` only after counting in
 * `nsleepers`. A worker that takes a task and sees more queued wakes the
 * next sleeper itself (a chain), which keeps bursts spreading across workers.
 *
 * Shutdown closes the queue under its lock (submit then fails with
 * PB_ESHUTDOWN), optionally takes every queued future out and cancels it, and
 * wakes everyone. Workers exit when the queue is closed and empty, so
 * wait=false still lets queued work finish. Joining happens once, under
 * `join_lock`, so concurrent or repeated shutdown(wait) calls all return
 * after the workers are gone.
 *
 * max_tasks_per_worker. A worker that has run its quota starts its own
 * replacement and exits; the replacement joins it first, and the slot's
 * thread id changes under `life`. Once shutdown begins joining, replacement is
 * refused (the old worker simply carries on), so the joiner always joins the
 * thread that ends last in each slot.
 *
 * Initializer. Each worker (and each replacement) runs it before its first
 * task. If it fails, the pool is broken: the first failure's message is kept,
 * every queued and later future fails with PB_EBROKEN ("initializer failed:
 * ..."), and submit returns PB_EBROKEN. Threads cannot be killed, so
 * task_timeout is PB_ENOTSUP.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core-int.h"
#include "placement-int.h"

typedef struct tpool tpool;

typedef struct worker {
    pthread_t tid;
    char binding[128];
} worker_slot;

typedef struct worker_start {
    tpool *tp;
    int index;
    bool has_prev;
    pthread_t prev; /* the thread this one replaces: joined first */
} worker_start;

struct tpool {
    pb__lock qlock;          /* guards head, tail, closed, broken */
    pb_future *head, *tail;
    _Atomic size_t qlen;
    _Atomic bool closed;
    char *broken;            /* the initializer's failure, once set */
    _Atomic uint32_t seq, nsleepers, nspinning;

    int nworkers;
    worker_slot *workers;
    pb__placement *placement;
    const pb_task *init;
    void *init_arg;
    size_t init_len;
    unsigned max_tasks;

    _Atomic uint32_t nbound; /* workers that have bound themselves */
    _Atomic int bind_error;

    pthread_mutex_t life;    /* guards workers[].tid and joining */
    bool joining;
    pthread_mutex_t join_lock;
    bool joined;
};

static void *worker_main(void *arg);

/* ---- The queue ---- */

static inline pb_future **next_of(pb_future *f)
{
    return (pb_future **)pb_future_slot(f);
}

static void wake_one_if_needed(tpool *tp)
{
    if (atomic_load(&tp->nspinning) == 0 && atomic_load(&tp->nsleepers) > 0)
        pb__futex_wake(&tp->seq, 1);
}

/* Queues fs[0..n) at once: linked outside the lock, appended under it in
 * one step, one wake-up (a worker that finds more wakes the next). */
static int tpool_submit_many(void *state, pb_future *const *fs, size_t n)
{
    tpool *tp = state;
    for (size_t i = 0; i < n; i++)
        *next_of(fs[i]) = i + 1 < n ? fs[i + 1] : NULL;
    pb__lock_acquire(&tp->qlock);
    if (atomic_load_explicit(&tp->closed, memory_order_relaxed)) {
        pb__lock_release(&tp->qlock);
        return PB_ESHUTDOWN;
    }
    if (tp->broken) {
        pb__lock_release(&tp->qlock);
        return PB_EBROKEN;
    }
    if (tp->tail)
        *next_of(tp->tail) = fs[0];
    else
        tp->head = fs[0];
    tp->tail = fs[n - 1];
    atomic_fetch_add(&tp->qlen, n);
    pb__lock_release(&tp->qlock);
    atomic_fetch_add(&tp->seq, 1);
    wake_one_if_needed(tp);
    return 0;
}

static int tpool_submit(void *state, pb_future *f)
{
    return tpool_submit_many(state, &f, 1);
}

/* Pops the head, or NULL. *closed tells whether the queue is closed. */
static pb_future *pop(tpool *tp, bool *closed, const char **broken)
{
    pb__lock_acquire(&tp->qlock);
    pb_future *f = tp->head;
    if (f) {
        tp->head = *next_of(f);
        if (!tp->head)
            tp->tail = NULL;
        atomic_fetch_sub(&tp->qlen, 1);
    }
    *closed = atomic_load_explicit(&tp->closed, memory_order_relaxed);
    *broken = tp->broken;
    pb__lock_release(&tp->qlock);
    return f;
}

static bool work_or_closed(tpool *tp)
{
    return atomic_load(&tp->qlen) > 0 || atomic_load(&tp->closed);
}

/* Blocks until there may be work (or the queue closed). */
static void idle_wait(tpool *tp)
{
    uint32_t zero = 0;
    bool spinner = atomic_compare_exchange_strong(&tp->nspinning, &zero, 1);
    if (spinner) {
        int64_t end = pb_now_ns() + PB__SPIN_NS_WORKER;
        for (unsigned i = 1;; i++) {
            if (work_or_closed(tp)) {
                atomic_store(&tp->nspinning, 0);
                return;
            }
            pb__cpu_relax();
            if ((i & 63) == 0) {
                if (pb_now_ns() >= end)
                    break;
                /* On a machine with fewer cores than runnable threads, the
                 * spinner must not keep the submitter off its core. */
                sched_yield();
            }
        }
    }
    uint32_t seen = atomic_load(&tp->seq);
    atomic_fetch_add(&tp->nsleepers, 1);
    if (spinner)
        atomic_store(&tp->nspinning, 0);
    if (!work_or_closed(tp))
        pb__futex_wait(&tp->seq, seen, -1);
    atomic_fetch_sub(&tp->nsleepers, 1);
}

/* The next future to run, or NULL when the worker should exit. */
static pb_future *take(tpool *tp, const char **broken)
{
    for (;;) {
        bool closed;
        pb_future *f = pop(tp, &closed, broken);
        if (f) {
            if (atomic_load(&tp->qlen) > 0)
                wake_one_if_needed(tp);
            return f;
        }
        if (closed)
            return NULL;
        idle_wait(tp);
    }
}

/* ---- Workers ---- */

static void set_broken(tpool *tp, const char *why)
{
    char *msg = NULL;
    if (asprintf(&msg, "initializer failed: %s", why) < 0)
        msg = NULL;
    pb__lock_acquire(&tp->qlock);
    if (!tp->broken && msg) {
        tp->broken = msg;
        msg = NULL;
    }
    pb__lock_release(&tp->qlock);
    free(msg);
}

static int start_worker(tpool *tp, int index, const pthread_t *prev, pthread_t *tid)
{
    worker_start *ws = malloc(sizeof *ws);
    if (!ws)
        return PB_ENOMEM;
    *ws = (worker_start){.tp = tp, .index = index, .has_prev = prev != NULL};
    if (prev)
        ws->prev = *prev;
    int r = pthread_create(tid, NULL, worker_main, ws);
    if (r) {
        free(ws);
        return -r;
    }
    return 0;
}

/* Starts a replacement for worker `index` (the calling thread). Returns true
 * if the caller should now exit. */
static bool recycle(tpool *tp, int index)
{
    bool replaced = false;
    pthread_mutex_lock(&tp->life);
    if (!tp->joining) {
        pthread_t self = pthread_self(), next;
        if (start_worker(tp, index, &self, &next) == 0) {
            tp->workers[index].tid = next;
            replaced = true;
        }
    }
    pthread_mutex_unlock(&tp->life);
    return replaced;
}

static void fail_broken(pb_future *f, const char *why)
{
    if (pb_future_set_running(f)) {
        pb_error e = {.code = PB_EBROKEN, .message = why};
        pb_future_set_error(f, &e, 0, 0);
    }
    pb_future_release(f);
}

static void *worker_main(void *arg)
{
    worker_start ws = *(worker_start *)arg;
    free(arg);
    tpool *tp = ws.tp;
    if (ws.has_prev)
        pthread_join(ws.prev, NULL);

    if (tp->placement) {
        worker_slot *w = &tp->workers[ws.index];
        int r = pb__placement_bind_thread(tp->placement, ws.index);
        if (r)
            atomic_store(&tp->bind_error, r);
        else if (!ws.has_prev) /* a replacement binds to the same PU */
            pb__binding_of_self_thread(w->binding, sizeof w->binding);
        if (!ws.has_prev) {
            atomic_fetch_add(&tp->nbound, 1);
            pb__futex_wake(&tp->nbound, INT_MAX);
        }
    }

    if (tp->init) {
        pb_outcome o;
        pb_task_run(tp->init, tp->init_arg, tp->init_len, &o);
        if (o.code)
            set_broken(tp, o.message && *o.message ? o.message : "the initializer task failed");
        pb_outcome_clear(&o);
    }

    unsigned done = 0;
    for (;;) {
        const char *broken;
        pb_future *f = take(tp, &broken);
        if (!f)
            break;
        if (broken) {
            fail_broken(f, broken);
            continue;
        }
        bool ran = pb_future_run(f); /* false: cancelled while queued */
        pb_future_release(f);
        if (ran && tp->max_tasks && ++done >= tp->max_tasks) {
            if (recycle(tp, ws.index))
                break;
            done = 0;
        }
    }
    return NULL;
}

/* Help-while-waiting (pb/backend.h, help_nested): a worker whose task waits for a
 * future of this pool runs the next queued task meanwhile, so nested tasks
 * cannot deadlock the pool. Does not count towards max_tasks_per_worker. */
static bool tpool_help(void *state)
{
    tpool *tp = state;
    if (atomic_load_explicit(&tp->qlen, memory_order_relaxed) == 0)
        return false;
    bool closed;
    const char *broken;
    pb_future *f = pop(tp, &closed, &broken);
    if (!f)
        return false;
    if (broken)
        fail_broken(f, broken);
    else {
        pb_future_run(f);
        pb_future_release(f);
    }
    return true;
}

/* ---- The backend ---- */

static void tpool_join(tpool *tp)
{
    pthread_mutex_lock(&tp->join_lock);
    if (!tp->joined) {
        pthread_mutex_lock(&tp->life);
        tp->joining = true;
        pthread_mutex_unlock(&tp->life);
        for (int i = 0; i < tp->nworkers; i++) {
            pthread_mutex_lock(&tp->life);
            pthread_t tid = tp->workers[i].tid;
            pthread_mutex_unlock(&tp->life);
            pthread_join(tid, NULL);
        }
        tp->joined = true;
    }
    pthread_mutex_unlock(&tp->join_lock);
}

static void tpool_shutdown(void *state, bool wait, bool cancel_futures)
{
    tpool *tp = state;
    pb_future *cancelled = NULL;
    pb__lock_acquire(&tp->qlock);
    atomic_store(&tp->closed, true);
    if (cancel_futures) {
        cancelled = tp->head;
        tp->head = tp->tail = NULL;
        atomic_store(&tp->qlen, 0);
    }
    pb__lock_release(&tp->qlock);
    atomic_fetch_add(&tp->seq, 1);
    pb__futex_wake(&tp->seq, INT_MAX);

    while (cancelled) {
        pb_future *next = *next_of(cancelled);
        pb_future_cancel(cancelled);
        pb_future_release(cancelled);
        cancelled = next;
    }
    if (wait)
        tpool_join(tp);
}

static void tpool_free(tpool *tp)
{
    pthread_mutex_destroy(&tp->life);
    pthread_mutex_destroy(&tp->join_lock);
    pb__placement_free(tp->placement);
    free(tp->workers);
    free(tp->init_arg);
    free(tp->broken);
    free(tp);
}

static void tpool_destroy(void *state)
{
    tpool *tp = state;
    tpool_shutdown(tp, true, false);
    tpool_free(tp);
}

static int tpool_create(const pb_pool_opts *opts, void **state, int *workers)
{
    tpool *tp = calloc(1, sizeof *tp);
    if (!tp)
        return PB_ENOMEM;
    pthread_mutex_init(&tp->life, NULL);
    pthread_mutex_init(&tp->join_lock, NULL);
    tp->nworkers = opts->workers;
    tp->max_tasks = opts->max_tasks_per_worker;
    tp->workers = calloc((size_t)opts->workers, sizeof *tp->workers);
    int r = tp->workers ? 0 : PB_ENOMEM;
    if (!r && opts->initializer) {
        tp->init = pb_task_find(opts->initializer);
        tp->init_len = opts->init_len;
        if (opts->init_len) {
            tp->init_arg = malloc(opts->init_len);
            if (tp->init_arg)
                memcpy(tp->init_arg, opts->init_arg, opts->init_len);
            else
                r = PB_ENOMEM;
        }
    }
    if (!r)
        r = pb__placement_new(opts->pin, opts->workers, &tp->placement);
    if (r) {
        tpool_free(tp);
        return r;
    }

    int started = 0;
    pthread_mutex_lock(&tp->life);
    for (; started < tp->nworkers; started++) {
        r = start_worker(tp, started, NULL, &tp->workers[started].tid);
        if (r)
            break;
    }
    pthread_mutex_unlock(&tp->life);
    if (r) {
        tp->nworkers = started; /* join only those that exist */
        tpool_destroy(tp);
        return pb_backend_error(r, "thread backend: cannot start worker %d: %s", started,
                                pb_strerror(r));
    }

    if (tp->placement) {
        /* The binding obtained must be readable once create returns. */
        uint32_t n;
        while ((n = atomic_load(&tp->nbound)) < (uint32_t)tp->nworkers)
            pb__futex_wait(&tp->nbound, n, -1);
        r = atomic_load(&tp->bind_error);
        if (r) {
            tpool_destroy(tp);
            return pb_backend_error(r, "thread backend: cannot bind worker threads: %s",
                                    pb_strerror(r));
        }
    }
    *state = tp;
    *workers = tp->nworkers;
    return 0;
}

static int tpool_binding(void *state, int worker, char *buf, size_t size)
{
    tpool *tp = state;
    snprintf(buf, size, "%s", tp->workers[worker].binding);
    return 0;
}

static bool tpool_spins(void *state)
{
    (void)state;
    return true; /* one idle worker spins for the next task; waiters spin for results */
}

const pb_backend pb__backend_thread = {
    .name = "thread",
    .summary = "pthreads sharing one queue; spin-then-sleep hand-off (poolbench)",
    .create = tpool_create,
    .submit = tpool_submit,
    .cancel = NULL, /* a cancelled future is skipped when a worker pops it */
    .shutdown = tpool_shutdown,
    .destroy = tpool_destroy,
    .binding = tpool_binding,
    .help_nested = tpool_help,
    .submit_many = tpool_submit_many,
    .spins = tpool_spins,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "a thread cannot be killed"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
};
