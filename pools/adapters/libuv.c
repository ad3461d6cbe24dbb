/*
 * adapters/libuv.c — the `libuv` backend: libuv's threadpool, fed through
 * uv_queue_work() from a private event loop.
 *
 * libuv runs blocking work for an event loop on a process-wide pool of
 * threads: uv_queue_work(loop, req, work_cb, after_cb) runs work_cb on one of
 * them and then after_cb on the loop's thread. This file drives that pool
 * the way a libuv program does, and adds what the futures contract needs.
 *
 * DESIGN
 *
 * Threads. The pool owns one thread running a private uv_loop_t (created
 * with every signal blocked, so neither it nor the libuv threadpool threads
 * it starts on first use ever take the host's signals). The workers are
 * libuv's threadpool threads: there are UV_THREADPOOL_SIZE of them (default
 * 4, at most 1024), read once from the environment when any code in the
 * process first queues work, and shared by every loop in the process. So
 * `workers` cannot be larger than that: create says so (PB_ENOTSUP) rather
 * than pretend.
 *
 * Submission: the cost libuv's model forces. uv_queue_work() may only be
 * called on the loop's thread, so a caller in any other thread — every
 * caller of a futures API — must hand the request to the loop thread first.
 * submit queues the future in the shared core's FIFO (adapter-int.h) and,
 * unless `workers` requests (tokens) are already out, asks the loop for one
 * more: a counter, and uv_async_send() only for the first request since the
 * loop last took them, so one wake-up of the loop carries a burst. The loop
 * thread's async callback queues the requests with uv_queue_work(). That hop
 * — a second thread that must run between a submit and a worker, on a small
 * machine a thread competing for the same CPUs — is libuv's price, not the
 * adapter's: the `native` scenario measures libuv's own burst from the loop
 * thread, and the adapter tax shows what the hop costs.
 *
 * Completion. work_cb, on the threadpool thread, runs the oldest queued
 * future and completes it right there (pb__adapter_run_next). Completing in
 * after_cb instead would add a second hop — threadpool → loop (libuv's
 * internal async) → waiter — to every result for nothing: the contract only
 * asks that completion happen in the thread that finished the task, and
 * done-callbacks then run in the threadpool thread just as they run in the
 * worker for the thread backend. libuv brings every request back to the
 * loop thread anyway (after_cb): a request that ran a future goes straight
 * back into libuv's queue when more futures are queued than requests wait
 * or are asked for — the way a libuv program chains work from after_cb —
 * so in a burst the caller asks the loop for nothing after the first
 * `workers` requests; the others go to a free list for reuse. No
 * allocation per task, no lock of the loop's.
 *
 * Cancellation is the shared core's: a future cancelled while queued is
 * skipped by the request that meets it. (uv_cancel() could take a request
 * out of libuv's queue without waking a thread, but only from the loop
 * thread and only before a thread has it; a request that finds nothing to
 * run costs one hop, and one mechanism serves every case.)
 *
 * Slots: fewer workers than threadpool threads, or pinning. Then each
 * running task holds one of `workers` slots, slot i being worker i (bound,
 * when pinning, to worker i's PUs: a threadpool thread binds itself when it
 * takes a slot other than the one it is bound to, and keeps that binding
 * while the pool lives, so a thread that keeps taking its slot pays nothing
 * again). A threadpool thread whose request finds every slot taken returns
 * to libuv at once, leaving the future queued; a thread that holds a slot
 * runs the next queued future before giving the slot back, and gives it
 * back only when none is queued (both decided under `smu`, so a future is
 * never left queued with a slot free and no request on its way). So at
 * most `workers` tasks run at once, in submission order (the core's FIFO),
 * and no threadpool thread ever blocks for us: a second libuv user in the
 * process (another pool, libuv's file system calls) never waits behind this
 * pool's queue. Without slots (workers = threadpool size, unpinned) every
 * request runs where libuv hands it, with no lock of ours.
 *
 * Initializer. Threadpool threads are anonymous and shared, so "once in each
 * worker" means: a thread runs the initializer before the first task of this
 * pool it picks up (pb__adapter_initialize_lazily). A failure breaks the pool.
 *
 * Pinning leaves the threads it bound bound until destroy, which hands every
 * threadpool thread one `unbind` request; each waits (up to a second) until
 * all of them are taken, so that no thread takes two, and the ones this pool
 * bound put back the mask they started with (the pool creator's). A thread held by someone else's long
 * request at that moment stays bound, to the PUs of one of this pool's
 * workers: libuv offers no other way to reach its threads.
 *
 * Not supported (the table's `unsupported`): task_timeout (a thread cannot
 * be killed), max_tasks_per_worker (libuv never replaces a threadpool
 * thread), worker_program (exec backend only); and workers above the
 * threadpool size, refused in create.
 *
 * What outlives destroy: the loop, its thread and its fds do not. libuv's
 * threadpool threads, and the pipe libuv keeps for its signal lock, are
 * libuv's, created on first use and kept for the life of the process.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include <pb/backend.h>

#include "adapter-int.h"

/* libuv's threadpool limit (src/threadpool.c, MAX_THREADPOOL_SIZE). */
#if UV_VERSION_HEX >= 0x011e00 /* 1.30.0 raised it from 128 */
#define PB__UV_MAX_THREADPOOL 1024
#else
#define PB__UV_MAX_THREADPOOL 128
#endif
#define PB__UV_DEFAULT_THREADPOOL 4

#define PB__UV_STR2(x) #x
#define PB__UV_STR(x) PB__UV_STR2(x)
#define PB__UV_VERSION                                                                     \
    PB__UV_STR(UV_VERSION_MAJOR) "." PB__UV_STR(UV_VERSION_MINOR) "." PB__UV_STR(UV_VERSION_PATCH)

typedef struct upool upool;
typedef struct uitem uitem;

/* A request: a token (adapter-int.h). Loop thread only, except `took`. */
struct uitem {
    uv_work_t work;
    upool *p;
    uitem *next; /* the free list */
    bool took;   /* work_cb took a future off the queue */
};

/* What a threadpool thread this pool bound remembers (under smu). */
typedef struct bound_thread {
    pthread_t id;
    int slot;
} bound_thread;

struct upool {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thread;
    int workers;
    pb__adapter *core;
    /* Tokens asked for and not yet started (slotted: not yet finished), at
     * most `workers`; of them, the ones the loop is still to queue, and
     * the ones in libuv's queue. */
    _Atomic int tokens;
    _Atomic int requested;
    _Atomic int waiting;
    uitem *free;               /* requests to reuse, loop thread only */
    _Atomic bool stopping;

    /* Slots (when `slotted`). */
    bool slotted;
    pthread_mutex_t smu;
    bool *slot_busy;           /* [workers] */
    int free_slots;
    bound_thread *bound;       /* threads bound to a slot */
    size_t nbound, capbound;
};

#define ITEM_OF(w) ((uitem *)((char *)(w) - offsetof(uitem, work)))

/* How many threads libuv's threadpool has (or will have): what libuv's
 * init_threads() computes from UV_THREADPOOL_SIZE, read as libuv reads it. */
static int threadpool_size(void)
{
    const char *val = getenv("UV_THREADPOOL_SIZE");
    unsigned n = PB__UV_DEFAULT_THREADPOOL;
    if (val)
        n = (unsigned)atoi(val);
    if (n == 0)
        n = 1;
    if (n > PB__UV_MAX_THREADPOOL)
        n = PB__UV_MAX_THREADPOOL;
    return (int)n;
}

/* libuv reads the variable once, at its first use in the process; so do we,
 * at our first pool, so that both agree unless something changes it later. */
static pthread_once_t size_once = PTHREAD_ONCE_INIT;
static int size_value;

static void size_init(void)
{
    size_value = threadpool_size();
}

static int threadpool_size_once(void)
{
    pthread_once(&size_once, size_init);
    return size_value;
}

/* ---- Slots (smu held) ---- */

/* A free slot for the calling thread, preferring the one it is bound to;
 * *was gets that one (-1: none). */
static int slot_take_locked(upool *p, int *was)
{
    pthread_t self = pthread_self();
    *was = -1;
    for (size_t i = 0; i < p->nbound; i++)
        if (pthread_equal(p->bound[i].id, self))
            *was = p->bound[i].slot;
    int s = *was >= 0 && !p->slot_busy[*was] ? *was : -1;
    for (int i = 0; s < 0 && i < p->workers; i++)
        if (!p->slot_busy[i])
            s = i;
    p->slot_busy[s] = true;
    p->free_slots--;
    return s;
}

/* Records that the calling thread is bound to slot s. */
static void note_bound_locked(upool *p, int slot)
{
    pthread_t self = pthread_self();
    for (size_t i = 0; i < p->nbound; i++)
        if (pthread_equal(p->bound[i].id, self)) {
            p->bound[i].slot = slot;
            return;
        }
    if (p->nbound == p->capbound) {
        size_t cap = p->capbound ? 2 * p->capbound : 8;
        bound_thread *grown = realloc(p->bound, cap * sizeof *grown);
        if (!grown)
            return; /* it is rebound next time: a cost, not an error */
        p->bound = grown;
        p->capbound = cap;
    }
    p->bound[p->nbound++] = (bound_thread){self, slot};
}

/* ---- Threadpool side ---- */

/* The slotted path (see DESIGN). Returns whether it took a future. */
static bool run_in_slot(upool *p)
{
    pthread_mutex_lock(&p->smu);
    if (p->free_slots == 0) {
        pthread_mutex_unlock(&p->smu);
        return false; /* a slot holder runs the future */
    }
    int was;
    int slot = slot_take_locked(p, &was);
    pthread_mutex_unlock(&p->smu);

    if (pb__adapter_pinned(p->core) && slot != was && pb__adapter_bind(p->core, slot) == 0) {
        pthread_mutex_lock(&p->smu);
        note_bound_locked(p, slot);
        pthread_mutex_unlock(&p->smu);
    }
    bool took = false;
    for (bool more = true; more;) {
        took |= pb__adapter_run_next(p->core);
        pthread_mutex_lock(&p->smu);
        more = pb__adapter_queued(p->core);
        if (!more) {
            p->slot_busy[slot] = false;
            p->free_slots++;
        }
        pthread_mutex_unlock(&p->smu);
    }
    return took;
}

static void work_cb(uv_work_t *w)
{
    uitem *it = ITEM_OF(w);
    upool *p = it->p;
    atomic_fetch_sub(&p->waiting, 1);
    if (p->slotted) {
        it->took = run_in_slot(p);
        atomic_fetch_sub(&p->tokens, 1);
    } else {
        atomic_fetch_sub(&p->tokens, 1);
        it->took = pb__adapter_run_next(p->core);
    }
}

/* ---- Tokens ---- */

/* Counts one more token unless `workers` are out already. */
static bool reserve_token(upool *p)
{
    int n = atomic_load(&p->tokens);
    do {
        if (n >= p->workers)
            return false;
    } while (!atomic_compare_exchange_weak(&p->tokens, &n, n + 1));
    return true;
}

static void after_cb(uv_work_t *w, int status);

/* On the loop thread: hands libuv one token. */
static void queue_token(upool *p, uitem *it)
{
    if (!it && (it = p->free))
        p->free = it->next;
    if (!it && !(it = malloc(sizeof *it))) {
        atomic_fetch_sub(&p->tokens, 1); /* the next submit asks again */
        return;
    }
    it->p = p;
    it->took = false;
    atomic_fetch_add(&p->waiting, 1);
    uv_queue_work(&p->loop, &it->work, work_cb, after_cb); /* fails only on NULL work_cb */
}

/* ---- Loop thread ---- */

/* A token came back: if it ran a future and more are queued than tokens
 * wait for them (in libuv's queue, or asked for and on their way), it goes
 * straight back (libuv's own completion is the hop), else to the free
 * list. (A second token for a future the caller already asked one for
 * would only cost a hop: in a round trip the next submit usually comes
 * before this.) */
static void after_cb(uv_work_t *w, int status)
{
    (void)status; /* never uv_cancel()ed */
    uitem *it = ITEM_OF(w);
    upool *p = it->p;
    size_t covered = (size_t)(atomic_load(&p->waiting) + atomic_load(&p->requested));
    if (it->took && pb__adapter_queued_count(p->core) > covered && reserve_token(p)) {
        queue_token(p, it);
        return;
    }
    it->next = p->free;
    p->free = it;
}

static void async_cb(uv_async_t *a)
{
    upool *p = a->data;
    for (int n = atomic_exchange(&p->requested, 0); n > 0; n--)
        queue_token(p, NULL);
    if (atomic_load(&p->stopping))
        uv_close((uv_handle_t *)&p->async, NULL); /* uv_run() returns once closed */
}

static void *loop_main(void *arg)
{
    upool *p = arg;
    uv_run(&p->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- Unbinding at destroy (see DESIGN) ---- */

typedef struct unbind_round {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;    /* the requests, plus destroy until it gives up waiting */
    int taken, total;
    upool *p;    /* NULL once destroy stopped waiting */
    uv_work_t *reqs;
} unbind_round;

static void round_put_locked(unbind_round *r, bool *last)
{
    *last = --r->refs == 0;
}

static void round_free(unbind_round *r)
{
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r->reqs);
    free(r);
}

static void unbind_work(uv_work_t *w)
{
    unbind_round *r = w->data;
    pthread_mutex_lock(&r->mu);
    r->taken++;
    pthread_cond_broadcast(&r->cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    while (r->p && r->taken < r->total)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
            break;
    upool *p = r->p;
    bool mine = false;
    if (p) {
        pthread_mutex_lock(&p->smu);
        for (size_t i = 0; i < p->nbound && !mine; i++)
            mine = pthread_equal(p->bound[i].id, pthread_self());
        pthread_mutex_unlock(&p->smu);
        if (mine)
            pb__adapter_unbind(p->core);
    }
    pthread_mutex_unlock(&r->mu);
}

static void unbind_after(uv_work_t *w, int status)
{
    (void)status;
    unbind_round *r = w->data;
    bool last;
    pthread_mutex_lock(&r->mu);
    round_put_locked(r, &last);
    pthread_mutex_unlock(&r->mu);
    if (last)
        round_free(r);
}

/* On the loop thread, queued by destroy through the async callback's twin. */
static void unbind_threads(upool *p)
{
    int n = threadpool_size_once();
    unbind_round *r = calloc(1, sizeof *r);
    uv_work_t *reqs = r ? calloc((size_t)n, sizeof *reqs) : NULL;
    if (!reqs) {
        free(r);
        return; /* the threads stay bound: a cost, not an error */
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->refs = n + 1;
    r->total = n;
    r->p = p;
    r->reqs = reqs;
    for (int i = 0; i < n; i++) {
        reqs[i].data = r;
        uv_queue_work(&p->loop, &reqs[i], unbind_work, unbind_after);
    }
    /* Run the loop until every request is back, or a second has passed
     * with some still held by threads busy elsewhere. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool all = r->refs == 1;
        pthread_mutex_unlock(&r->mu);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (all || now.tv_sec - t0.tv_sec > 1)
            break;
        uv_run(&p->loop, UV_RUN_ONCE);
    }
    bool last;
    pthread_mutex_lock(&r->mu);
    r->p = NULL; /* requests still out there do nothing */
    pthread_cond_broadcast(&r->cv);
    round_put_locked(r, &last);
    pthread_mutex_unlock(&r->mu);
    if (last)
        round_free(r);
}

/* ---- The backend ---- */

static int uvb_submit(void *state, pb_future *f)
{
    upool *p = state;
    int r = pb__adapter_hold(p->core, f);
    if (r)
        return r;
    /* A token for it, unless `workers` are out: they run it. The loop is
     * woken by the first request since it last took them. */
    if (reserve_token(p) && atomic_fetch_add(&p->requested, 1) == 0)
        uv_async_send(&p->async);
    return 0;
}

static void uvb_shutdown(void *state, bool wait, bool cancel_futures)
{
    upool *p = state;
    pb__adapter_shutdown(p->core, wait, cancel_futures);
}

static void upool_free(upool *p)
{
    for (uitem *it = p->free, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    pb__adapter_free(p->core);
    pthread_mutex_destroy(&p->smu);
    free(p->slot_busy);
    free(p->bound);
    free(p);
}

static void uvb_destroy(void *state)
{
    upool *p = state;
    uvb_shutdown(p, true, false);
    atomic_store(&p->stopping, true);
    uv_async_send(&p->async);
    pthread_join(p->thread, NULL);
    /* Every request came back (uv_run returns only then), so no threadpool
     * thread touches this pool any more. Threads this pool bound are put
     * back on this thread's loop, now that it is ours. */
    if (p->nbound)
        unbind_threads(p);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    uv_loop_close(&p->loop);
    upool_free(p);
}

static int uvb_create(const pb_pool_opts *opts, void **state, int *workers)
{
    int size = threadpool_size_once();
    if (opts->workers > size)
        return pb_backend_error(PB_ENOTSUP,
                                "libuv backend: workers=%d is more than libuv's threadpool of "
                                "%d threads (UV_THREADPOOL_SIZE, read once per process, "
                                "default %d, at most %d: set it before the program starts)",
                                opts->workers, size, PB__UV_DEFAULT_THREADPOOL,
                                PB__UV_MAX_THREADPOOL);

    upool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    pthread_mutex_init(&p->smu, NULL);
    p->workers = opts->workers;
    int r = pb__adapter_new(opts, &p->core);
    if (!r)
        pb__adapter_initialize_lazily(p->core);
    if (!r && !(p->slot_busy = calloc((size_t)p->workers, sizeof *p->slot_busy)))
        r = PB_ENOMEM;
    if (r) {
        upool_free(p);
        return r;
    }
    p->slotted = opts->workers < size || pb__adapter_pinned(p->core);
    p->free_slots = p->workers;

    r = uv_loop_init(&p->loop);
    if (r) {
        upool_free(p);
        return pb_backend_error(r, "libuv backend: uv_loop_init: %s", uv_strerror(r));
    }
    r = uv_async_init(&p->loop, &p->async, async_cb);
    if (r) {
        uv_loop_close(&p->loop);
        upool_free(p);
        return pb_backend_error(r, "libuv backend: uv_async_init: %s", uv_strerror(r));
    }
    p->async.data = p;

    /* The loop thread, and the threadpool threads it may start, block every
     * signal: the host's signals go to the host's threads. */
    r = pb__adapter_thread_start(&p->thread, loop_main, p, "pb-uv-loop");
    if (r) {
        uv_close((uv_handle_t *)&p->async, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
        upool_free(p);
        return pb_backend_error(r, "libuv backend: cannot start the loop thread: %s",
                                pb_strerror(r));
    }
    *state = p;
    *workers = p->workers;
    return 0;
}

static int uvb_binding(void *state, int worker, char *buf, size_t size)
{
    upool *p = state;
    return pb__adapter_binding(p->core, worker, buf, size);
}

/* ---- The native loop (pb/backend.h): libuv as libuv programs use it ----
 *
 * The calling thread runs the loop: it queues the work itself, and the
 * completions come back to it as after_cb. No hop: this is the speed the
 * adapter's hop to its loop thread is held against. libuv cannot size its
 * threadpool per loop, so the loop uses all of it. */

typedef struct unative {
    pb_native_job *job;
    uv_loop_t loop;
    uv_work_t *reqs; /* one per task; reqs[n] for warm-up */
    size_t next;     /* round trips: the next task */
    size_t warm;     /* round trips: warm-ups left */
    int64_t t0;
} unative;

static void native_work(uv_work_t *w)
{
    unative *n = w->data;
    size_t i = (size_t)(w - n->reqs);
    if (i < n->job->n)
        n->job->task(n->job->ud, i);
}

static void native_done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
}

/* A round trip ended: record it, start the next. */
static void native_trip(uv_work_t *w, int status)
{
    (void)status;
    unative *n = w->data;
    int64_t now = pb_now_ns();
    if (n->warm) {
        n->warm--;
    } else {
        n->job->times[n->next] = now - n->t0;
        n->next++;
    }
    if (!n->warm && n->next == n->job->n)
        return;
    uv_work_t *req = n->warm ? &n->reqs[n->job->n] : &n->reqs[n->next];
    n->t0 = pb_now_ns();
    uv_queue_work(&n->loop, req, native_work, native_trip);
}

static int uvb_native(const pb_pool_opts *opts, pb_native_job *job)
{
    int r = pb__native_refuse_pin("libuv", opts);
    if (r)
        return r;
    unative n = {.job = job, .warm = job->warmup};
    n.reqs = calloc(job->n + 1, sizeof *n.reqs);
    if (!n.reqs)
        return PB_ENOMEM;
    for (size_t i = 0; i <= job->n; i++)
        n.reqs[i].data = &n;
    r = uv_loop_init(&n.loop);
    if (r) {
        free(n.reqs);
        return pb_backend_error(r, "libuv native loop: uv_loop_init: %s", uv_strerror(r));
    }
    /* Threadpool threads libuv starts now inherit this: no host signals. */
    sigset_t old;
    pb__adapter_block_signals(&old);
    if (job->kind == PB_NATIVE_ROUNDTRIP) {
        if (n.warm || job->n) {
            n.t0 = pb_now_ns();
            uv_queue_work(&n.loop, n.warm ? &n.reqs[job->n] : &n.reqs[0], native_work, native_trip);
        }
        uv_run(&n.loop, UV_RUN_DEFAULT);
    } else {
        for (size_t i = 0; i < job->warmup; i++) {
            uv_queue_work(&n.loop, &n.reqs[job->n], native_work, native_done);
            uv_run(&n.loop, UV_RUN_DEFAULT);
        }
        int64_t t0 = pb_now_ns();
        for (size_t i = 0; i < job->n; i++)
            uv_queue_work(&n.loop, &n.reqs[i], native_work, native_done);
        uv_run(&n.loop, UV_RUN_DEFAULT); /* returns once every after_cb ran */
        job->elapsed = pb_now_ns() - t0;
    }
    pb__adapter_restore_signals(&old);
    job->threads = threadpool_size_once();
    uv_loop_close(&n.loop);
    free(n.reqs);
    return 0;
}

PB__ADAPTER_EXPORT const pb_backend pb__backend_libuv = {
    .name = "libuv",
    .summary = "libuv " PB__UV_VERSION " uv_queue_work; every submit hops to a private loop "
               "thread first (only the loop's thread may queue work); workers <= the "
               "process-wide threadpool (UV_THREADPOOL_SIZE, default 4)",
    .create = uvb_create,
    .submit = uvb_submit,
    .shutdown = uvb_shutdown,
    .destroy = uvb_destroy,
    .binding = uvb_binding,
    .native = uvb_native,
    .native_summary = "uv_queue_work from the loop's own thread, completions as after_cb on it; "
                      "the whole threadpool",
    .keeps_threads = "libuv's threadpool threads are process-wide: started on first use, kept until exit",
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "a threadpool thread cannot be killed"},
        {"max_tasks_per_worker", "libuv never replaces a threadpool thread"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
};
