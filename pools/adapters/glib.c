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
 * when needed. Pinned threads first put back the CPU mask they had (stop
 * items, the start items' mirror image), so a thread another pool might grab
 * from the cache in between is never left pinned.
 *
 * The queue. GLib's own GAsyncQueue carries the work; GLib offers no way to
 * take items back out of it, so cancellation is done on our side. Each
 * future travels inside a small item that is also linked into a list of
 * queued items (under `mu`, through pb_future_slot). A worker that pops an
 * item unlinks it under `mu` before it claims the future with
 * pb_future_set_running(); the cancel hint and shutdown(cancel_futures)
 * unlink an item and clear its future pointer under the same lock, so an item
 * is claimed by exactly one of them and a worker that later pops an emptied
 * item just frees it. `mu` is never held while calling into GLib or while
 * anything that runs user code (tasks, done-callbacks) runs, and GLib calls
 * our function with its own queue unlocked, so the two locks never nest.
 *
 * Completion happens in the GLib thread that ran the task (pb_task_run, then
 * pb_future_complete: the result buffer is adopted, not copied), so
 * done-callbacks run in the worker, as with the thread backend.
 *
 * Shutdown. `shut` (under `mu`) makes submit fail with PB_ESHUTDOWN.
 * cancel_futures empties the list of queued items and cancels each future in
 * the calling thread. wait blocks until `outstanding` — the futures this
 * backend holds a reference to — reaches zero; whoever drops it to zero
 * broadcasts only if someone waits (`idle_waiters`, a Dekker pair with
 * `outstanding`, both sequentially consistent), so the common path costs an
 * atomic decrement. The GThreadPool itself is freed only in destroy, which
 * runs with no other call on the pool, so no push can race with
 * g_thread_pool_free(); free waits (immediate = FALSE) until every thread
 * has returned from our function, after which no GLib thread touches this
 * pool's memory.
 *
 * Not supported, said plainly at create: task_timeout (a thread cannot be
 * killed), max_tasks_per_worker (GThreadPool never retires a thread on
 * request), worker_program (exec backend only).
 */
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <pb/backend.h>

#include "adapter-int.h"
#include "placement-int.h"

#define PB__GLIB_STR2(x) #x
#define PB__GLIB_STR(x) PB__GLIB_STR2(x)
#define PB__GLIB_VERSION                                                               \
    PB__GLIB_STR(GLIB_MAJOR_VERSION) "." PB__GLIB_STR(GLIB_MINOR_VERSION) "." PB__GLIB_STR( \
        GLIB_MICRO_VERSION)

typedef struct gitem gitem;
struct gitem {
    pb_future *f;       /* NULL once taken out of the queue by a cancel */
    gitem *prev, *next; /* the list of queued items, under mu */
};

typedef struct gpool {
    GThreadPool *gp;
    int workers;
    bool push_failed; /* an item may sit in GLib's queue with no thread for it */

    pthread_mutex_t mu;
    pthread_cond_t cv;  /* startup progress, stop items, idle */
    gitem queued;       /* sentinel of the list of queued items */
    bool shut;

    _Atomic size_t outstanding; /* futures this backend holds a reference to */
    _Atomic int idle_waiters;

    /* Start and stop items (under mu). */
    int next_index; /* the worker index the next start item takes */
    int bound;      /* start items past binding */
    int started;    /* start items past the initializer */
    int stopping;   /* stop items taken */
    pid_t *tids;    /* each worker's thread id, 0 until its start item ran */

    pb__placement *placement; /* NULL: no pinning */
    hwloc_bitmap_t *saved;    /* each worker's CPU mask before binding */
    char (*bindings)[128];    /* each worker's binding obtained, "" if none */
    int bind_error;

    pb__adapter_init init; /* the initializer, and the message once it failed */
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

/* The two kinds of control item; tasks travel as gitems. */
static char start_marker, stop_marker;

/* The worker index of the calling thread in the pool it serves, plus one,
 * is the thread word (adapter-int.h): set by the start item, read by the
 * stop item of the same pool. */

/* ---- Bookkeeping ---- */

/* Takes a queued item's future out of the queue (under mu): unlinks the
 * item and empties it, so whoever pops it later just frees it. Returns the
 * future, which the caller now owns the backend's reference to; NULL if the
 * item was emptied already. */
static pb_future *take_locked(gitem *it)
{
    pb_future *f = it->f;
    if (!f)
        return NULL;
    it->f = NULL;
    it->prev->next = it->next;
    it->next->prev = it->prev;
    it->prev = it->next = NULL;
    *pb_future_slot(f) = NULL;
    return f;
}

/* Drops one held future from the count, waking shutdown(wait) at zero. */
static void put_outstanding(gpool *p)
{
    if (atomic_fetch_sub(&p->outstanding, 1) == 1 && atomic_load(&p->idle_waiters) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void wait_idle(gpool *p)
{
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->idle_waiters, 1);
    while (atomic_load(&p->outstanding) > 0)
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->idle_waiters, 1);
    pthread_mutex_unlock(&p->mu);
}

/* ---- Worker side ---- */

static void start_item(gpool *p)
{
    pthread_mutex_lock(&p->mu);
    int i = p->next_index++;
    p->tids[i] = (pid_t)syscall(SYS_gettid);
    pthread_mutex_unlock(&p->mu);
    pb__adapter_set_thread_word((uintptr_t)i + 1);

    int bind_error = 0;
    if (p->placement) {
        hwloc_topology_t topo;
        if (pb__topology(&topo) == 0 &&
            hwloc_get_cpubind(topo, p->saved[i], HWLOC_CPUBIND_THREAD) != 0)
            hwloc_bitmap_zero(p->saved[i]); /* unknown: nothing to put back */
        bind_error = pb__placement_bind_thread(p->placement, i);
        if (!bind_error)
            pb__binding_of_self_thread(p->bindings[i], sizeof p->bindings[i]);
    }
    pthread_mutex_lock(&p->mu);
    if (bind_error && !p->bind_error)
        p->bind_error = bind_error;
    p->bound++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);

    if (p->init.task)
        pb__adapter_init_run(&p->init);

    /* Hold this thread until every start item is taken (see DESIGN). */
    pthread_mutex_lock(&p->mu);
    p->started++;
    pthread_cond_broadcast(&p->cv);
    while (p->started < p->workers)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void stop_item(gpool *p)
{
    int i = (int)pb__adapter_thread_word() - 1;
    pb__adapter_set_thread_word(0);
    if (p->placement && i >= 0 && i < p->workers && !hwloc_bitmap_iszero(p->saved[i])) {
        hwloc_topology_t topo;
        if (pb__topology(&topo) == 0)
            hwloc_set_cpubind(topo, p->saved[i], HWLOC_CPUBIND_THREAD);
    }
    pthread_mutex_lock(&p->mu);
    p->stopping++;
    pthread_cond_broadcast(&p->cv);
    while (p->stopping < p->workers)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void run_one(gpool *p, gpointer data)
{
    if (data == &start_marker) {
        start_item(p);
        return;
    }
    if (data == &stop_marker) {
        stop_item(p);
        return;
    }

    gitem *it = data;
    pthread_mutex_lock(&p->mu);
    pb_future *f = take_locked(it);
    pthread_mutex_unlock(&p->mu);
    free(it);
    if (!f)
        return; /* cancelled while queued; the canceller dropped it */

    if (pb_future_set_running(f))
        pb__adapter_run_claimed(&p->init, f);
    pb_future_release(f);
    put_outstanding(p);
}

/* GLib calls this in a pool thread for every item pushed. */
static void run_item(gpointer data, gpointer user_data)
{
    run_one(user_data, data);
    pb__glib_release(user_data); /* the last this thread does with the pool */
}

#if GLIB_CHECK_VERSION(2, 70, 0)
/* GLib frees what is left in the queue of a pool freed with immediate=TRUE. */
static void free_item(gpointer data)
{
    if (data != &start_marker && data != &stop_marker)
        free(data); /* only emptied items can be left by then */
}
#endif

/* ---- The backend ---- */

static int glib_submit(void *state, pb_future *f)
{
    gpool *p = state;
    gitem *it = malloc(sizeof *it);
    if (!it)
        return PB_ENOMEM;
    it->f = f;

    pthread_mutex_lock(&p->mu);
    int r = p->shut ? PB_ESHUTDOWN : pb__adapter_broken(&p->init) ? PB_EBROKEN : 0;
    if (!r) {
        it->prev = p->queued.prev;
        it->next = &p->queued;
        it->prev->next = it;
        p->queued.prev = it;
        *pb_future_slot(f) = it;
        atomic_fetch_add(&p->outstanding, 1);
    }
    pthread_mutex_unlock(&p->mu);
    if (r) {
        free(it);
        return r;
    }

    GError *err = NULL;
    if (g_thread_pool_push(p->gp, it, &err))
        return 0;

    /* GLib queued the item but could not start a thread for it: take the
     * future back unless a worker (or a cancel) already has it, and fail the
     * submit. Look through f's slot, not at the item: a worker that popped
     * the item has freed it, but the core still holds f. */
    r = -(err && err->domain == G_THREAD_ERROR ? EAGAIN : ENOMEM);
    g_clear_error(&err);
    pthread_mutex_lock(&p->mu);
    p->push_failed = true;
    bool took_back = *pb_future_slot(f) == it && take_locked(it);
    pthread_mutex_unlock(&p->mu);
    if (!took_back)
        return 0; /* a worker or a cancel has it: the submit did succeed */
    atomic_fetch_sub(&p->outstanding, 1); /* the core still owns f */
    return r;
}

static void glib_cancel(void *state, pb_future *f)
{
    gpool *p = state;
    pthread_mutex_lock(&p->mu);
    gitem *it = *pb_future_slot(f);
    bool took = it && take_locked(it);
    pthread_mutex_unlock(&p->mu);
    if (took) {
        pb_future_release(f);
        put_outstanding(p);
    }
}

static void glib_shutdown(void *state, bool wait, bool cancel_futures)
{
    gpool *p = state;
    pthread_mutex_lock(&p->mu);
    p->shut = true;
    pthread_mutex_unlock(&p->mu);

    /* One at a time, so the list lock is never held across a cancel (whose
     * callbacks run here and may call back into the pool). */
    while (cancel_futures) {
        pthread_mutex_lock(&p->mu);
        gitem *it = p->queued.next;
        pb_future *f = it != &p->queued ? take_locked(it) : NULL;
        pthread_mutex_unlock(&p->mu);
        if (!f)
            break;
        pb_future_cancel(f); /* queued, so PENDING (or cancelled already) */
        pb_future_release(f);
        put_outstanding(p);
    }
    if (wait)
        wait_idle(p);
}

static void gpool_free(gpool *p)
{
    if (p->saved)
        for (int i = 0; i < p->workers; i++)
            hwloc_bitmap_free(p->saved[i]);
    free(p->saved);
    free(p->bindings);
    free(p->tids);
    pb__placement_free(p->placement);
    pb__adapter_init_free(&p->init);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static bool thread_exists(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld", (long)tid);
    return access(path, F_OK) == 0;
}

/* Waits until none of the pool's threads is left (see DESIGN). GLib cannot
 * join them, so: end GLib's idle threads, look, repeat. A thread that is
 * still on its way from the pool to GLib's cache is caught on a later round.
 * Bounded, so that a GLib that behaves otherwise costs time, not a hang. */
static void reap_threads(gpool *p)
{
    if (access("/proc/self/task", F_OK) != 0)
        return; /* no procfs: nothing to look at */
    const struct timespec pause = {0, 100 * 1000};
    for (int round = 0; round < 50000; round++) { /* 5 s of 100 µs pauses */
        g_thread_pool_stop_unused_threads();
        bool left = false;
        for (int i = 0; i < p->workers && !left; i++)
            left = p->tids[i] && thread_exists(p->tids[i]);
        if (!left)
            return;
        nanosleep(&pause, NULL);
    }
}

static void glib_destroy(void *state)
{
    gpool *p = state;
    glib_shutdown(p, true, false);
    if (p->placement) {
        /* Every start item has run (FIFO, and free below waits for all);
         * now each thread takes one stop item and unbinds itself. */
        for (int i = 0; i < p->workers; i++)
            g_thread_pool_push(p->gp, &stop_marker, NULL);
    }
    g_thread_pool_free(p->gp, p->push_failed, TRUE);
    pb__glib_acquire(p);
    reap_threads(p);
    gpool_free(p);
}

static int glib_create(const pb_pool_opts *opts, void **state, int *workers)
{
    gpool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->queued.prev = p->queued.next = &p->queued;
    p->workers = opts->workers;

    p->tids = calloc((size_t)p->workers, sizeof *p->tids);
    int r = p->tids ? 0 : PB_ENOMEM;
    if (!r)
        r = pb__placement_new(opts->pin, opts->workers, &p->placement);
    if (!r && p->placement) {
        p->saved = calloc((size_t)p->workers, sizeof *p->saved);
        p->bindings = calloc((size_t)p->workers, sizeof *p->bindings);
        r = p->saved && p->bindings ? 0 : PB_ENOMEM;
        for (int i = 0; !r && i < p->workers; i++)
            if (!(p->saved[i] = hwloc_bitmap_alloc()))
                r = PB_ENOMEM;
    }
    if (!r)
        r = pb__adapter_init_new(&p->init, opts);
    if (r) {
        gpool_free(p);
        return r;
    }

    GError *err = NULL;
#if GLIB_CHECK_VERSION(2, 70, 0)
    p->gp = g_thread_pool_new_full(run_item, p, free_item, p->workers, TRUE, &err);
#else
    p->gp = g_thread_pool_new(run_item, p, p->workers, TRUE, &err);
#endif
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
    if (p->placement) {
        /* The binding obtained must be readable once create returns. */
        pthread_mutex_lock(&p->mu);
        while (p->bound < p->workers)
            pthread_cond_wait(&p->cv, &p->mu);
        r = p->bind_error;
        pthread_mutex_unlock(&p->mu);
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
    if (size)
        snprintf(buf, size, "%s", p->bindings ? p->bindings[worker] : "");
    return 0;
}

PB__ADAPTER_EXPORT const pb_backend pb__backend_glib = {
    .name = "glib",
    .summary = "GLib " PB__GLIB_VERSION " GThreadPool, exclusive threads",
    .create = glib_create,
    .submit = glib_submit,
    .cancel = glib_cancel,
    .shutdown = glib_shutdown,
    .destroy = glib_destroy,
    .binding = glib_binding,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "a GThreadPool thread cannot be killed"},
        {"max_tasks_per_worker", "GThreadPool never retires a thread on request"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
};
