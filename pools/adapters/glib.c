/*
 * adapters/glib.c — the `glib` backend: GLib's GThreadPool behind the
 * futures API.
 *
 * GThreadPool is the pool most C programs on a GNOME stack already have:
 * g_thread_pool_push() hands a pointer to up to max_threads threads that call
 * one function on it. This file measures it as GLib users run it, and adds
 * only the bookkeeping the futures contract needs.
 *
 * DESIGN
 *
 * Threads. An exclusive GThreadPool with max_threads = workers: GLib starts
 * all `workers` threads at once and they serve only this pool until it is
 * freed. (GLib's other mode, threads shared between pools and borrowed on
 * push, would let a thread wander off to another pool mid-benchmark, and
 * would make "worker i is bound to PU i", "the initializer ran once in each
 * worker" and "no thread outlives destroy" mean nothing.)
 *
 * Start items. Right after creation the pool gets `workers` start items ahead
 * of any task. Each one takes a worker index, notes its thread id, binds the
 * thread to that PU if pinning was asked (pb__placement_bind_thread) and
 * records the binding obtained, runs the initializer, and then waits until
 * all start items have been taken. A thread waiting there cannot take another
 * item, so the start items land on `workers` distinct threads: every thread
 * is bound and initialised exactly once, before any task runs. create() waits
 * until every thread has bound itself when pinning, so pb_pool_binding() is
 * exact once it returns.
 *
 * Threads at destroy. GLib never lets a pool's threads be joined: freed, they
 * go to a process-wide cache of idle threads (GLib keeps fewer than
 * g_thread_pool_get_max_unused_threads(), default 2) or end on their own a
 * moment later. The contract says no thread of the pool outlives destroy, so
 * destroy asks GLib to end its idle threads (g_thread_pool_stop_unused_threads,
 * public API meant for this) until none of the pool's threads is left in
 * /proc/self/task. That also ends idle threads other GLib pools of the process
 * parked in the cache; they are idle by definition and GLib starts new ones
 * when needed. Pinned threads first put back the mask they started with,
 * that of the thread that created the pool (stop items, the start items'
 * mirror image), so a thread another pool might grab from the cache in
 * between is never left pinned.
 *
 * The queue. GLib's own GAsyncQueue carries the work: one item per task, a
 * token of the shared adapter core (adapter-int.h), which runs the oldest
 * future queued on our side; tokens are chained (pushed by submit only when
 * fewer than `workers` wait, else by the worker whose token starts), so a
 * burst does not pay GLib's condition-variable wake-up of an idle thread
 * on every push. GLib offers no way to take items back out of
 * its queue; with tokens nothing needs to be: a future cancelled while
 * queued is dropped by the first token that meets it, which runs the next
 * one instead, or nothing. GLib calls our function with its own queue unlocked, so the
 * core's lock and GLib's never nest.
 *
 * Completion happens in the GLib thread that ran the task (pb_task_run, then
 * pb_future_complete: the result buffer is adopted, not copied), so
 * done-callbacks run in the worker, as with the thread backend.
 *
 * Shutdown is the shared core's (submit refused, queued futures cancelled,
 * wait until nothing is held). The GThreadPool itself is freed only in
 * destroy, which runs with no other call on the pool, so no push can race
 * with g_thread_pool_free(); free waits (immediate = FALSE) until every
 * thread has returned from our function, after which no GLib thread touches
 * this pool's memory.
 *
 * Not supported (the table's `unsupported`): task_timeout (a thread cannot
 * be killed), max_tasks_per_worker (GThreadPool never retires a thread on
 * request), worker_program (exec backend only).
 */
#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pb/backend.h>

#include "adapter-int.h"

#define PB__GLIB_STR2(x) #x
#define PB__GLIB_STR(x) PB__GLIB_STR2(x)
#define PB__GLIB_VERSION                                                               \
    PB__GLIB_STR(GLIB_MAJOR_VERSION) "." PB__GLIB_STR(GLIB_MINOR_VERSION) "." PB__GLIB_STR( \
        GLIB_MICRO_VERSION)

typedef struct gpool {
    GThreadPool *gp;
    int workers;
    bool push_failed; /* an item may sit in GLib's queue with no thread for it */
    pb__adapter *core; /* futures, initializer, pinning, start-up */

    /* Stop items (under mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;   /* stop items taken */
} gpool;

/* destroy frees the pool once g_thread_pool_free() has seen every thread
 * return from run_item(). GLib orders that with its own futex-based locks,
 * which ThreadSanitizer does not see; under TSan these annotations state the
 * same order so it does not report the free as racing with the workers. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define pb__glib_release(p) __tsan_release(p)
#define pb__glib_acquire(p) __tsan_acquire(p)
#else
#define pb__glib_release(p) ((void)(p))
#define pb__glib_acquire(p) ((void)(p))
#endif

/* What GLib carries: a token (one per submit), or a control item. */
static char token_marker, start_marker, stop_marker;

/* ---- Worker side ---- */

static void start_item(gpool *p)
{
    pb__adapter_worker_started(p->core, -1);
    pb__adapter_initialize(p->core);
    pb__adapter_worker_hold(p->core); /* see DESIGN */
}

static void stop_item(gpool *p)
{
    pb__adapter_unbind(p->core);
    pthread_mutex_lock(&p->mu);
    p->stopping++;
    pthread_cond_broadcast(&p->cv);
    while (p->stopping < p->workers)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* GLib calls this in a pool thread for every item pushed. */
static void run_item(gpointer data, gpointer user_data)
{
    gpool *p = user_data;
    if (data == &start_marker)
        start_item(p);
    else if (data == &stop_marker)
        stop_item(p);
    else
        pb__adapter_run_next(p->core);
    pb__glib_release(user_data); /* the last this thread does with the pool */
}

/* ---- The backend ---- */

/* A token (chained, adapter-int.h): one push per task. GLib queues the
 * item even when it cannot start a thread for it (an exclusive pool has
 * all its threads already): then the token is refused. */
static int post_token(void *ud)
{
    gpool *p = ud;
    GError *err = NULL;
    if (g_thread_pool_push(p->gp, &token_marker, &err))
        return 0;
    int r = -(err && err->domain == G_THREAD_ERROR ? EAGAIN : ENOMEM);
    g_clear_error(&err);
    p->push_failed = true;
    return r;
}

static int glib_submit(void *state, pb_future *f)
{
    gpool *p = state;
    return pb__adapter_submit(p->core, f);
}

static void glib_shutdown(void *state, bool wait, bool cancel_futures)
{
    gpool *p = state;
    pb__adapter_shutdown(p->core, wait, cancel_futures);
}

static void gpool_free(gpool *p)
{
    pb__adapter_free(p->core);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Ends GLib's idle threads: the nudge while waiting for the pool's threads
 * (see DESIGN: GLib cannot join them). */
static void stop_unused(void)
{
    g_thread_pool_stop_unused_threads();
}

static void glib_destroy(void *state)
{
    gpool *p = state;
    glib_shutdown(p, true, false);
    if (pb__adapter_pinned(p->core)) {
        /* Every start item has run (FIFO, and free below waits for all);
         * now each thread takes one stop item and unbinds itself. */
        for (int i = 0; i < p->workers; i++)
            g_thread_pool_push(p->gp, &stop_marker, NULL);
    }
    g_thread_pool_free(p->gp, p->push_failed, TRUE);
    pb__glib_acquire(p);
    pb__adapter_await_workers_gone(p->core, stop_unused);
    gpool_free(p);
}

static int glib_create(const pb_pool_opts *opts, void **state, int *workers)
{
    gpool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->workers = opts->workers;
    int r = pb__adapter_new(opts, &p->core);
    if (r) {
        gpool_free(p);
        return r;
    }
    pb__adapter_chain(p->core, post_token, p);

    /* GLib's threads, and those they start, block every signal: the host's
     * signals go to the host's threads. */
    sigset_t old;
    pb__adapter_block_signals(&old);
    GError *err = NULL;
    p->gp = g_thread_pool_new(run_item, p, p->workers, TRUE, &err);
    pb__adapter_restore_signals(&old);
    if (err) {
        /* Not every thread could be started. */
        r = pb_backend_error(-EAGAIN, "glib backend: cannot start %d threads: %s", p->workers,
                             err->message);
        g_error_free(err);
        if (p->gp)
            g_thread_pool_free(p->gp, TRUE, TRUE);
        gpool_free(p);
        return r;
    }

    for (int i = 0; i < p->workers; i++)
        g_thread_pool_push(p->gp, &start_marker, NULL); /* threads exist: cannot fail */
    if (pb__adapter_pinned(p->core)) {
        /* The binding obtained must be readable once create returns. */
        r = pb__adapter_await_started(p->core);
        if (r) {
            glib_destroy(p);
            return pb_backend_error(r, "glib backend: cannot bind worker threads: %s",
                                    pb_strerror(r));
        }
    }
    *state = p;
    *workers = p->workers;
    return 0;
}

static int glib_binding(void *state, int worker, char *buf, size_t size)
{
    gpool *p = state;
    return pb__adapter_binding(p->core, worker, buf, size);
}

/* ---- The native loop (pb/backend.h): GLib as GLib programs use it ---- */

typedef struct gnative {
    pb_native_job *job;
    GAsyncQueue *replies; /* round trips: each task pushes its item back */
    bool burst;           /* tasks of the burst count themselves instead */
    _Atomic size_t done;
    GMutex mu;
    GCond cv;
    bool all_done;
    pid_t *tids;          /* the pool's threads (under mu) */
    int ntids, workers;
} gnative;

/* Items are 1 for an empty warm-up task, i + 2 for task i, G_MAXSIZE to
 * start: one per thread, each waiting until all have come (as the
 * adapter's start items), so that every thread's id is known. */
static void native_item(gpointer data, gpointer user_data)
{
    gnative *n = user_data;
    gsize v = GPOINTER_TO_SIZE(data);
    size_t target = n->job->n;
    if (v == G_MAXSIZE) { /* a start item: note the thread, wait for the others */
        g_mutex_lock(&n->mu);
        n->tids[n->ntids++] = pb__adapter_tid();
        g_cond_broadcast(&n->cv);
        while (n->ntids < n->workers)
            g_cond_wait(&n->cv, &n->mu);
        g_mutex_unlock(&n->mu);
        return;
    }
    if (v > 1)
        n->job->task(n->job->ud, v - 2);
    if (!n->burst || v == 1) {
        g_async_queue_push(n->replies, data);
    } else if (atomic_fetch_add(&n->done, 1) + 1 == target) {
        g_mutex_lock(&n->mu);
        n->all_done = true;
        g_cond_signal(&n->cv);
        g_mutex_unlock(&n->mu);
    }
}

static int glib_native(const pb_pool_opts *opts, pb_native_job *job)
{
    int r = pb__native_refuse_pin("glib", opts);
    if (r)
        return r;
    gnative n = {.job = job, .replies = g_async_queue_new(), .workers = opts->workers};
    if (!(n.tids = calloc((size_t)opts->workers, sizeof *n.tids))) {
        g_async_queue_unref(n.replies);
        return PB_ENOMEM;
    }
    g_mutex_init(&n.mu);
    g_cond_init(&n.cv);
    sigset_t old;
    pb__adapter_block_signals(&old);
    GError *err = NULL;
    GThreadPool *gp = g_thread_pool_new(native_item, &n, opts->workers, TRUE, &err);
    pb__adapter_restore_signals(&old);
    if (err) {
        r = pb_backend_error(-EAGAIN, "glib native loop: cannot start %d threads: %s",
                             opts->workers, err->message);
        g_error_free(err);
        if (gp)
            g_thread_pool_free(gp, TRUE, TRUE);
    } else {
        for (int i = 0; i < opts->workers; i++)
            g_thread_pool_push(gp, GSIZE_TO_POINTER(G_MAXSIZE), NULL);
        for (size_t i = 0; i < job->warmup; i++) {
            g_thread_pool_push(gp, GSIZE_TO_POINTER(1), NULL);
            g_async_queue_pop(n.replies);
        }
        if (job->kind == PB_NATIVE_BURST) {
            n.burst = true;
            int64_t t0 = pb_now_ns();
            for (size_t i = 0; i < job->n; i++)
                g_thread_pool_push(gp, GSIZE_TO_POINTER(i + 2), NULL);
            g_mutex_lock(&n.mu);
            while (job->n && !n.all_done)
                g_cond_wait(&n.cv, &n.mu);
            g_mutex_unlock(&n.mu);
            job->elapsed = pb_now_ns() - t0;
        } else {
            for (size_t i = 0; i < job->n; i++) {
                int64_t t0 = pb_now_ns();
                g_thread_pool_push(gp, GSIZE_TO_POINTER(i + 2), NULL);
                g_async_queue_pop(n.replies);
                job->times[i] = pb_now_ns() - t0;
            }
        }
        job->threads = opts->workers;
        g_thread_pool_free(gp, FALSE, TRUE);
        /* GLib keeps freed pools' threads for reuse; end them, as destroy
         * does for the adapter's. */
        pb__adapter_await_threads_gone(n.tids, n.ntids, stop_unused);
    }
    g_async_queue_unref(n.replies);
    free(n.tids);
    g_cond_clear(&n.cv);
    g_mutex_clear(&n.mu);
    return r;
}

PB__ADAPTER_EXPORT const pb_backend pb__backend_glib = {
    .name = "glib",
    .summary = "GLib " PB__GLIB_VERSION " GThreadPool, exclusive threads",
    .create = glib_create,
    .submit = glib_submit,
    .shutdown = glib_shutdown,
    .destroy = glib_destroy,
    .binding = glib_binding,
    .native = glib_native,
    .native_summary = "g_thread_pool_push per task into an exclusive GThreadPool; round trips "
                      "through a GAsyncQueue",
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "a GThreadPool thread cannot be killed"},
        {"max_tasks_per_worker", "GThreadPool never retires a thread on request"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
};
