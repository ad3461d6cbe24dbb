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
 * than pretend. Every task goes to libuv's own FIFO as it is submitted.
 *
 * Fewer workers than threadpool threads: the turnstile. A threadpool thread
 * that picks up one of the pool's tasks waits at a turnstile until it is the
 * task's turn (tasks are numbered at submit; turns go in that order) and one
 * of `workers` slots is free; only then does it claim the future, which
 * stays PENDING, and cancellable, meanwhile. So at most `workers` tasks run
 * at once, and they start in submission order, as in any FIFO pool. No task
 * can wait for one still in libuv's queue: libuv hands tasks out in FIFO
 * order, so the task whose turn it is has always been picked up already.
 * For that, every task must pass the turnstile, cancelled ones included
 * (they pass without taking a slot): in this mode the loop does not skip
 * cancelled tasks and nothing is uv_cancel()ed. Capping in the loop thread
 * instead — handing libuv the next task from after_cb — would put a loop
 * round trip between every two tasks and measure that, not libuv: on the
 * quick suite's empty-task burst it was 60 times slower. The price of the
 * turnstile: while the pool is saturated, the other threadpool threads sit
 * in it, so a second libuv user in the same process (another pool, libuv's
 * file system calls) waits behind this pool's queue.
 *
 * Submission. uv_queue_work() may only be called on the loop thread, so
 * submit appends the future's item to the `incoming` list under `mu` and
 * calls uv_async_send(); the loop thread's async callback takes the incoming
 * items and queues each with uv_queue_work(). That hop is the price of
 * libuv's model and part of what is measured.
 *
 * Completion. work_cb, on the threadpool thread, claims the future with
 * pb_future_set_running() (skipping it if it was cancelled), runs the task
 * and completes the future right there. Completing in after_cb instead would
 * add a second hop — threadpool → loop (libuv's internal async) → waiter —
 * to every result for nothing: the contract only asks that completion happen
 * in the thread that finished the task, and done-callbacks then run in the
 * threadpool thread just as they run in the worker for the thread backend.
 * after_cb, on the loop thread, only does bookkeeping: forget the item and
 * release the backend's reference.
 *
 * Cancellation. A future cancelled while pending is skipped by work_cb (or by
 * the loop, if it has not reached libuv yet). Without a turnstile, the cancel
 * hint also asks the loop thread to uv_cancel() its request — uv_cancel()
 * works for work that no threadpool thread has picked up yet, and must run on
 * the loop thread — so it leaves libuv's queue without waking a thread.
 *
 * Items and their lifetime. Every held future has an item (the uv_work_t plus
 * links), found through pb_future_slot. All items are on the `held` list
 * (under `mu`) from submit until the loop thread finishes them. An item on
 * the cancel list is freed only once both the cancel request and the
 * finishing are done (`in_cancel_list`, `finished`, under `mu`); both happen
 * on the loop thread, so the one that comes second frees it.
 *
 * Shutdown. `shut` makes submit fail. cancel_futures marks every held item as
 * being cancelled (which keeps it alive), cancels the futures in the calling
 * thread (running ones refuse), then hands the items to the loop thread,
 * which uv_cancel()s them (without a turnstile) and frees them once done.
 * wait blocks until `held` is empty, i.e. until the loop thread has seen
 * every request come back. destroy then stops the loop (closing the async
 * handle lets uv_run() return), joins its thread and closes the loop.
 *
 * Initializer. Threadpool threads are anonymous and shared, so "once in each
 * worker" means: a thread runs the initializer before the first task of this
 * pool it picks up (a thread-local pool id makes the check one compare; a
 * list of initialised threads per pool covers threads that alternate between
 * pools). A failure breaks the pool as for the thread backend: that task and
 * every later one fail with PB_EBROKEN ("initializer failed: ..."), submit
 * returns PB_EBROKEN.
 *
 * Not supported, said plainly at create: pin other than "none" (threadpool
 * threads are shared and libuv offers no way to bind them), task_timeout (a
 * thread cannot be killed), max_tasks_per_worker (libuv never replaces a
 * threadpool thread), worker_program (exec backend only), and workers above
 * the threadpool size. pb_pool_binding() is PB_ENOTSUP: we never bind those
 * threads and cannot ask which ones run our tasks.
 *
 * What outlives destroy: the loop, its thread and its fds do not. libuv's
 * threadpool threads, and the pipe libuv keeps for its signal lock, are
 * libuv's, created on first use and kept for the life of the process.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct uitem {
    uv_work_t work;
    pb_future *f;
    upool *p;
    uitem *prev, *next;  /* the held list, under mu */
    uitem *qnext;        /* the incoming list, under mu */
    uitem *cnext;        /* the cancel list, under mu */
    uint64_t seq;        /* the task's number, for the turnstile */
    bool in_cancel_list; /* under mu */
    bool finished;       /* under mu: f released, off the held list */
    bool queued_to_uv;   /* loop thread only */
};

struct upool {
    uv_loop_t loop;
    uv_async_t async;
    pthread_t thread;
    int workers;
    bool capped; /* workers < threadpool threads: the turnstile caps them */
    pthread_mutex_t tmu;
    pthread_cond_t tcv;
    uint64_t next_seq;  /* the number the next submitted task gets, under mu */
    uint64_t turn;      /* the number whose turn it is, under tmu */
    int free_slots;     /* under tmu */

    pthread_mutex_t mu;
    pthread_cond_t idle; /* held became empty */
    uitem held;          /* sentinel */
    size_t nheld;
    int idle_waiters;
    uitem *in_head, *in_tail;
    uitem *cancels;
    bool shut, stopping;

    /* Initializer. */
    uint64_t id;
    pb__adapter_init init; /* the initializer, and the message once it failed */
    pthread_mutex_t init_mu;
    pthread_t *inited; /* threads that ran the initializer, under init_mu */
    size_t ninited, capinited;
};

#define ITEM_OF(w) ((uitem *)((char *)(w) - offsetof(uitem, work)))

static _Atomic uint64_t next_pool_id = 1;
/* The last pool this thread ran the initializer for: the thread word
 * (adapter-int.h) holds its id. */

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

/* ---- Initializer ---- */

/* Runs the initializer in the calling threadpool thread unless it already
 * ran there for this pool. */
static void ensure_initialised(upool *p)
{
    if (pb__adapter_thread_word() == (uintptr_t)p->id)
        return;
    pthread_t self = pthread_self();
    bool done = false;
    pthread_mutex_lock(&p->init_mu);
    for (size_t i = 0; i < p->ninited && !done; i++)
        done = pthread_equal(p->inited[i], self);
    pthread_mutex_unlock(&p->init_mu);

    if (!done) {
        pb__adapter_init_run(&p->init);

        pthread_mutex_lock(&p->init_mu);
        if (p->ninited == p->capinited) {
            size_t cap = p->capinited ? 2 * p->capinited : 8;
            pthread_t *grown = realloc(p->inited, cap * sizeof *grown);
            if (grown) {
                p->inited = grown;
                p->capinited = cap;
            }
        }
        if (p->ninited < p->capinited)
            p->inited[p->ninited++] = self;
        else
            pb__adapter_set_broken(&p->init, "out of memory recording which threads ran it");
        pthread_mutex_unlock(&p->init_mu);
    }
    pb__adapter_set_thread_word((uintptr_t)p->id);
}

/* ---- Threadpool side ---- */

static void work_cb(uv_work_t *w)
{
    uitem *it = ITEM_OF(w);
    upool *p = it->p;
    pb_future *f = it->f;
    bool slot = false;
    if (p->capped) {
        pthread_mutex_lock(&p->tmu);
        while (it->seq != p->turn || (p->free_slots == 0 && !pb_future_cancelled(f)))
            pthread_cond_wait(&p->tcv, &p->tmu);
        p->turn++;
        if (!pb_future_cancelled(f)) { /* a cancelled one passes without a slot */
            p->free_slots--;
            slot = true;
        }
        pthread_cond_broadcast(&p->tcv); /* the next turn's thread may go */
        pthread_mutex_unlock(&p->tmu);
    }
    if (pb_future_set_running(f)) {
        if (p->init.task && !pb__adapter_broken(&p->init))
            ensure_initialised(p);
        pb__adapter_run_claimed(&p->init, f);
    } /* else cancelled while queued */
    if (slot) {
        pthread_mutex_lock(&p->tmu);
        p->free_slots++;
        pthread_cond_broadcast(&p->tcv);
        pthread_mutex_unlock(&p->tmu);
    }
}

/* ---- Loop thread ---- */

/* Forgets an item whose future is done (or was never run) and drops the
 * backend's reference. */
static void finish(upool *p, uitem *it)
{
    pb_future *f = it->f;
    pthread_mutex_lock(&p->mu);
    it->prev->next = it->next;
    it->next->prev = it->prev;
    *pb_future_slot(f) = NULL;
    it->finished = true;
    bool keep = it->in_cancel_list; /* the cancel list's processing frees it */
    if (--p->nheld == 0 && p->idle_waiters)
        pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->mu);
    pb_future_release(f);
    if (!keep)
        free(it);
}

static void after_cb(uv_work_t *w, int status)
{
    uitem *it = ITEM_OF(w);
    /* UV_ECANCELED: our uv_cancel() took it out of libuv's queue, which we
     * only ask for once the future is cancelled. Make sure all the same. */
    if (status == UV_ECANCELED && !pb_future_done(it->f))
        pb_future_cancel(it->f);
    finish(it->p, it);
}

static void async_cb(uv_async_t *a)
{
    upool *p = a->data;
    pthread_mutex_lock(&p->mu);
    uitem *in = p->in_head;
    p->in_head = p->in_tail = NULL;
    uitem *cancels = p->cancels;
    p->cancels = NULL;
    bool stopping = p->stopping;
    pthread_mutex_unlock(&p->mu);

    while (cancels) {
        uitem *it = cancels;
        cancels = it->cnext;
        pthread_mutex_lock(&p->mu);
        it->in_cancel_list = false;
        bool finished = it->finished;
        pthread_mutex_unlock(&p->mu);
        if (finished)
            free(it);
        else if (it->queued_to_uv && !p->capped) /* capped: it must pass the turnstile */
            uv_cancel((uv_req_t *)&it->work); /* UV_EBUSY once a thread has it */
        /* else it is in `in`, skipped below */
    }

    while (in) {
        uitem *it = in;
        in = it->qnext;
        if (!p->capped && pb_future_cancelled(it->f)) {
            finish(p, it); /* never reached libuv */
            continue;
        }
        it->queued_to_uv = true;
        uv_queue_work(&p->loop, &it->work, work_cb, after_cb); /* fails only on NULL work_cb */
    }

    if (stopping)
        uv_close((uv_handle_t *)&p->async, NULL); /* uv_run() returns once closed */
}

static void *loop_main(void *arg)
{
    upool *p = arg;
    uv_run(&p->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- The backend ---- */

static int uvb_submit(void *state, pb_future *f)
{
    upool *p = state;
    uitem *it = calloc(1, sizeof *it);
    if (!it)
        return PB_ENOMEM;
    it->f = f;
    it->p = p;

    pthread_mutex_lock(&p->mu);
    int r = p->shut ? PB_ESHUTDOWN : pb__adapter_broken(&p->init) ? PB_EBROKEN : 0;
    if (!r) {
        it->prev = p->held.prev;
        it->next = &p->held;
        it->prev->next = it;
        p->held.prev = it;
        p->nheld++;
        it->seq = p->next_seq++;
        *pb_future_slot(f) = it;
        if (p->in_tail)
            p->in_tail->qnext = it;
        else
            p->in_head = it;
        p->in_tail = it;
    }
    pthread_mutex_unlock(&p->mu);
    if (r) {
        free(it);
        return r;
    }
    uv_async_send(&p->async);
    return 0;
}

static void uvb_cancel(void *state, pb_future *f)
{
    upool *p = state;
    if (p->capped)
        return; /* every task must pass the turnstile: work_cb skips it there */
    pthread_mutex_lock(&p->mu);
    uitem *it = *pb_future_slot(f);
    bool queued = it && !it->in_cancel_list;
    if (queued) {
        it->in_cancel_list = true;
        it->cnext = p->cancels;
        p->cancels = it;
    }
    pthread_mutex_unlock(&p->mu);
    if (queued)
        uv_async_send(&p->async);
}

static void uvb_shutdown(void *state, bool wait, bool cancel_futures)
{
    upool *p = state;
    uitem *mine = NULL, **tail = &mine;
    pthread_mutex_lock(&p->mu);
    p->shut = true;
    if (cancel_futures) {
        /* Marking an item as on the cancel list keeps it alive while we
         * work on it unlocked; retaining its future keeps that alive. */
        for (uitem *it = p->held.next; it != &p->held; it = it->next) {
            if (it->in_cancel_list)
                continue; /* its future is cancelled already */
            it->in_cancel_list = true;
            pb_future_retain(it->f);
            it->cnext = NULL;
            *tail = it;
            tail = &it->cnext;
        }
    }
    pthread_mutex_unlock(&p->mu);

    if (mine) {
        for (uitem *it = mine; it; it = it->cnext) {
            pb_future_cancel(it->f); /* refuses running ones; callbacks run here */
            pb_future_release(it->f);
        }
        pthread_mutex_lock(&p->mu);
        *tail = p->cancels;
        p->cancels = mine;
        pthread_mutex_unlock(&p->mu);
        uv_async_send(&p->async);
    }

    if (wait) {
        pthread_mutex_lock(&p->mu);
        p->idle_waiters++;
        while (p->nheld > 0)
            pthread_cond_wait(&p->idle, &p->mu);
        p->idle_waiters--;
        pthread_mutex_unlock(&p->mu);
    }
}

static void upool_free(upool *p)
{
    pthread_cond_destroy(&p->tcv);
    pthread_mutex_destroy(&p->tmu);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->init_mu);
    free(p->inited);
    pb__adapter_init_free(&p->init);
    free(p);
}

static void uvb_destroy(void *state)
{
    upool *p = state;
    uvb_shutdown(p, true, false);
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_mutex_unlock(&p->mu);
    uv_async_send(&p->async);
    pthread_join(p->thread, NULL);
    /* Nothing is left to run: every request came back before shutdown(wait)
     * returned, and the async handle is closed. */
    if (uv_loop_close(&p->loop) == UV_EBUSY) {
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
    }
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
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->init_mu, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->held.prev = p->held.next = &p->held;
    p->workers = opts->workers;
    pthread_mutex_init(&p->tmu, NULL);
    pthread_cond_init(&p->tcv, NULL);
    p->capped = opts->workers < size;
    p->free_slots = opts->workers;
    p->id = atomic_fetch_add(&next_pool_id, 1);
    int r = pb__adapter_init_new(&p->init, opts);
    if (r) {
        upool_free(p);
        return r;
    }

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
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = -pthread_create(&p->thread, NULL, loop_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        uv_close((uv_handle_t *)&p->async, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
        upool_free(p);
        return pb_backend_error(r, "libuv backend: cannot start the loop thread: %s",
                                pb_strerror(r));
    }
    pthread_setname_np(p->thread, "pb-uv-loop");

    *state = p;
    *workers = p->workers;
    return 0;
}

PB__ADAPTER_EXPORT const pb_backend pb__backend_libuv = {
    .name = "libuv",
    .summary = "libuv " PB__UV_VERSION " uv_queue_work from a private loop thread; "
               "workers <= the process-wide threadpool (UV_THREADPOOL_SIZE, default 4)",
    .create = uvb_create,
    .submit = uvb_submit,
    .cancel = uvb_cancel,
    .shutdown = uvb_shutdown,
    .destroy = uvb_destroy,
    .binding = NULL, /* PB_ENOTSUP: libuv's threads are not ours to ask */
    .keeps_threads = "libuv's threadpool threads are process-wide: started on first use, kept until exit",
    .unsupported = (const pb_unsupported[]){
        {"pin", "libuv's threadpool threads are shared by the whole process and cannot be bound"},
        {"task_timeout", "a threadpool thread cannot be killed"},
        {"max_tasks_per_worker", "libuv never replaces a threadpool thread"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
};
