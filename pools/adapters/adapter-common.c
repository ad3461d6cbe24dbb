/*
 * adapter-common.c — the bookkeeping every adapter shares: held futures,
 * the initializer and the broken pool, pinning (adapter-int.h says what and
 * why).
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "adapter-int.h"
#include "placement-int.h"
#include "sync-int.h"

struct pb__adapter {
    int workers;

    /* Queued futures: a FIFO linked through pb_future_slot. */
    pb__lock lock;              /* guards head, tail and `shut` */
    pb_future *head, *tail;
    _Atomic size_t nqueued;     /* their number (written under the lock) */
    bool shut;
    /* Twice the number of futures held, plus 1 once shutdown(wait) waits:
     * the futex word it sleeps on (see put_outstanding). */
    _Atomic uint32_t outstanding;

    /* Chained tokens (pb__adapter_chain): tokens posted and not yet
     * started, at most `workers`. */
    int (*post)(void *ud);
    void *post_ud;
    _Atomic int waiting_tokens;

    /* The initializer. */
    const pb_task *init_task;   /* NULL: none */
    void *init_arg;
    size_t init_len;
    _Atomic(char *) broken;     /* "initializer failed: ...", once set */
    bool lazy;                  /* run it before a thread's first task */
    uintptr_t id;               /* this pool, in threads' words */
    pthread_mutex_t init_mu;
    pthread_t *inited;          /* threads that ran the initializer, under init_mu */
    size_t ninited, capinited;

    /* Pinning. */
    pb__placement *placement;   /* NULL: "none" */
    hwloc_bitmap_t home;        /* the creating thread's mask (pinned only) */
    pthread_mutex_t bind_mu;    /* guards the rest */
    char (*bindings)[128];      /* per worker */

    /* The pool's own threads starting (pb__adapter_worker_started). */
    pthread_cond_t start_cv;
    int next_index, started, held, bind_error;
    pid_t *tids;                /* per worker, 0 until it started */
};

/* ---- The thread word ---- */

static pthread_once_t word_once = PTHREAD_ONCE_INIT;
static pthread_key_t word_key;
static bool word_ok;

static void word_init(void)
{
    word_ok = pthread_key_create(&word_key, NULL) == 0;
}

uintptr_t pb__adapter_thread_word(void)
{
    pthread_once(&word_once, word_init);
    return word_ok ? (uintptr_t)pthread_getspecific(word_key) : 0;
}

void pb__adapter_set_thread_word(uintptr_t v)
{
    pthread_once(&word_once, word_init);
    if (word_ok)
        pthread_setspecific(word_key, (void *)v);
}

/* ---- Life ---- */

static _Atomic uintptr_t next_id = 1;

int pb__adapter_new(const pb_pool_opts *opts, pb__adapter **out)
{
    pb__adapter *a = calloc(1, sizeof *a);
    if (!a)
        return PB_ENOMEM;
    a->workers = opts->workers;
    atomic_init(&a->lock, PB__LOCK_INIT);
    pthread_mutex_init(&a->init_mu, NULL);
    pthread_mutex_init(&a->bind_mu, NULL);
    pthread_cond_init(&a->start_cv, NULL);
    a->id = atomic_fetch_add(&next_id, 1);
    *out = a;

    if (!(a->tids = calloc((size_t)a->workers, sizeof *a->tids)))
        return PB_ENOMEM;
    if (opts->initializer) {
        a->init_task = pb_task_find(opts->initializer);
        a->init_len = opts->init_len;
        if (opts->init_len) {
            if (!(a->init_arg = malloc(opts->init_len)))
                return PB_ENOMEM;
            memcpy(a->init_arg, opts->init_arg, opts->init_len);
        }
    }
    int r = pb__placement_new(opts->pin, opts->workers, &a->placement);
    if (r || !a->placement)
        return r;
    hwloc_topology_t topo;
    if (!(a->bindings = calloc((size_t)a->workers, sizeof *a->bindings)) ||
        !(a->home = hwloc_bitmap_alloc()))
        return PB_ENOMEM;
    if (pb__topology(&topo) == 0 && hwloc_get_cpubind(topo, a->home, HWLOC_CPUBIND_THREAD) != 0)
        hwloc_bitmap_zero(a->home); /* unknown: nothing to put back */
    /* Until a thread binds itself as worker i (libraries whose threads join
     * later), worker i's binding is the one it will get: one PU, which is
     * "" (no restriction) only when the process may run on one PU only. */
    bool one = pb__cpu_count() == 1;
    for (int i = 0; i < a->workers; i++)
        if (one || pb__placement_cpus(a->placement, i, a->bindings[i], sizeof a->bindings[i]))
            a->bindings[i][0] = 0;
    return 0;
}

/* The broken message when there is no memory for the real one: the pool
 * must break all the same. Never freed. */
static char no_memory_message[] = "initializer failed (no memory for its message)";

void pb__adapter_free(pb__adapter *a)
{
    if (!a)
        return;
    free(a->init_arg);
    char *broken = atomic_load(&a->broken);
    if (broken != no_memory_message)
        free(broken);
    free(a->inited);
    pb__placement_free(a->placement);
    if (a->home)
        hwloc_bitmap_free(a->home);
    free(a->bindings);
    free(a->tids);
    pthread_cond_destroy(&a->start_cv);
    pthread_mutex_destroy(&a->bind_mu);
    pthread_mutex_destroy(&a->init_mu);
    free(a);
}

int pb__adapter_workers(const pb__adapter *a)
{
    return a->workers;
}

/* ---- Queued futures ---- */

static inline pb_future **next_of(pb_future *f)
{
    return (pb_future **)pb_future_slot(f);
}

/* Drops one held future from the count, waking shutdown(wait) at zero.
 * The decrement is the last access to the pool's memory: a waiter that sees
 * zero may free the pool at once (a library whose threads cannot be joined
 * may still be returning from a task then), and the wake-up only passes
 * the word's address to the kernel, which is harmless once it is freed.
 * The count and the "someone waits" bit share the word, so no one needs to
 * read a second flag after the decrement, and a pool nobody waits on never
 * makes the syscall. */
static void put_outstanding_n(pb__adapter *a, uint32_t n)
{
    _Atomic uint32_t *word = &a->outstanding;
    if (n && atomic_fetch_sub(word, 2 * n) == 2 * n + 1)
        pb__futex_wake(word, INT_MAX);
}

static void put_outstanding(pb__adapter *a)
{
    put_outstanding_n(a, 1);
}

int pb__adapter_hold(pb__adapter *a, pb_future *f)
{
    *next_of(f) = NULL;
    pb__lock_acquire(&a->lock);
    int r = a->shut ? PB_ESHUTDOWN : atomic_load(&a->broken) ? PB_EBROKEN : 0;
    if (!r) {
        if (a->tail)
            *next_of(a->tail) = f;
        else
            a->head = f;
        a->tail = f;
        atomic_fetch_add(&a->nqueued, 1);
        atomic_fetch_add(&a->outstanding, 2);
    }
    pb__lock_release(&a->lock);
    return r;
}

bool pb__adapter_take_back(pb__adapter *a, pb_future *f)
{
    bool took = false;
    pb__lock_acquire(&a->lock);
    for (pb_future *prev = NULL, *g = a->head; g && !took; prev = g, g = *next_of(g)) {
        if (g != f)
            continue;
        if (prev)
            *next_of(prev) = *next_of(f);
        else
            a->head = *next_of(f);
        if (a->tail == f)
            a->tail = prev;
        atomic_fetch_sub(&a->nqueued, 1);
        took = true;
    }
    pb__lock_release(&a->lock);
    if (took)
        put_outstanding(a); /* the core keeps f */
    return took;
}

/* The oldest queued future, taken off the queue; NULL if there is none.
 * *more says whether another one is queued behind it. */
static pb_future *pop(pb__adapter *a, bool *more)
{
    pb__lock_acquire(&a->lock);
    pb_future *f = a->head;
    if (f) {
        a->head = *next_of(f);
        if (!a->head)
            a->tail = NULL;
        atomic_fetch_sub(&a->nqueued, 1);
    }
    *more = a->head != NULL;
    pb__lock_release(&a->lock);
    return f;
}

size_t pb__adapter_queued_count(pb__adapter *a)
{
    return atomic_load(&a->nqueued);
}

bool pb__adapter_queued(pb__adapter *a)
{
    pb__lock_acquire(&a->lock);
    bool any = a->head != NULL;
    pb__lock_release(&a->lock);
    return any;
}

/* Chained: posts a token unless `workers` are waiting already. Returns
 * false when the library refused it. */
static bool post_token(pb__adapter *a)
{
    int n = atomic_load(&a->waiting_tokens);
    do {
        if (n >= a->workers)
            return true; /* the waiting ones will run the next futures */
    } while (!atomic_compare_exchange_weak(&a->waiting_tokens, &n, n + 1));
    if (a->post(a->post_ud) == 0)
        return true;
    atomic_fetch_sub(&a->waiting_tokens, 1);
    return false;
}

static void run(pb__adapter *a, pb_future *f)
{
    if (pb_future_set_running(f)) {
        if (a->lazy)
            pb__adapter_initialize_once(a);
        const char *broken = atomic_load(&a->broken);
        if (broken) {
            pb_error e = {.code = PB_EBROKEN, .message = broken};
            pb_future_set_error(f, &e, 0, 0);
        } else {
            size_t len;
            const void *arg = pb_future_arg(f, &len);
            pb_outcome o;
            pb_task_run(pb_future_task(f), arg, len, &o);
            pb_future_complete(f, &o);
        }
    }
    pb_future_release(f);
}

bool pb__adapter_run_next(pb__adapter *a)
{
    if (a->post)
        atomic_fetch_sub(&a->waiting_tokens, 1); /* this one started */
    pb_future *f;
    bool more;
    uint32_t took = 0;
    /* Futures cancelled while queued are dropped on the way: a token runs
     * one task at most. */
    while ((f = pop(a, &more))) {
        took++;
        /* Chained: the next future gets its token now, from this thread,
         * before this one's task runs (it may take long). Should the
         * library refuse it, this token runs what is queued itself. */
        bool alone = a->post && more && !post_token(a);
        bool ran = pb_future_state(f) == PB_PENDING;
        run(a, f);
        if (ran && !alone)
            break;
    }
    /* The last access to the pool (see put_outstanding). */
    put_outstanding_n(a, took);
    return took > 0;
}

void pb__adapter_chain(pb__adapter *a, int (*post)(void *ud), void *ud)
{
    a->post = post;
    a->post_ud = ud;
}

int pb__adapter_submit(pb__adapter *a, pb_future *f)
{
    int r = pb__adapter_hold(a, f);
    if (r || post_token(a))
        return r;
    /* The library refused the token: take f back unless a token already
     * ran it. Others queued before it keep their token: one was waiting
     * (post_token found none only if none was needed for them). */
    return pb__adapter_take_back(a, f) ? PB_ENOMEM : 0;
}

bool pb__adapter_is_shut(pb__adapter *a)
{
    pb__lock_acquire(&a->lock);
    bool shut = a->shut;
    pb__lock_release(&a->lock);
    return shut;
}

void pb__adapter_shutdown(pb__adapter *a, bool wait, bool cancel_futures)
{
    pb__lock_acquire(&a->lock);
    a->shut = true;
    pb_future *mine = NULL;
    if (cancel_futures) {
        /* Take the whole queue: the tokens in the library's hands find it
         * empty. */
        mine = a->head;
        a->head = a->tail = NULL;
        atomic_store(&a->nqueued, 0);
    }
    pb__lock_release(&a->lock);

    /* Cancelled unlocked: callbacks run here and may call back into the
     * pool. */
    while (mine) {
        pb_future *f = mine;
        mine = *next_of(f);
        pb_future_cancel(f); /* queued, so PENDING (or cancelled already) */
        pb_future_release(f);
        put_outstanding(a);
    }
    if (wait) {
        /* The bit stays set: after shutdown the count only goes down. */
        atomic_fetch_or(&a->outstanding, 1);
        uint32_t v;
        while ((v = atomic_load(&a->outstanding)) > 1)
            pb__futex_wait(&a->outstanding, v, -1);
    }
}

/* ---- The initializer ---- */

bool pb__adapter_has_initializer(const pb__adapter *a)
{
    return a->init_task != NULL;
}

const pb_task *pb__adapter_initializer(const pb__adapter *a, const void **arg, size_t *len)
{
    *arg = a->init_arg;
    *len = a->init_len;
    return a->init_task;
}

const char *pb__adapter_broken(pb__adapter *a)
{
    return atomic_load(&a->broken);
}

void pb__adapter_set_broken(pb__adapter *a, const char *why)
{
    char *msg = NULL;
    if (asprintf(&msg, "initializer failed: %s", why) < 0)
        msg = NULL;
    char *none = NULL;
    if (!atomic_compare_exchange_strong(&a->broken, &none, msg ? msg : no_memory_message))
        free(msg); /* an earlier failure's message stays */
}

void pb__adapter_initialize(pb__adapter *a)
{
    if (!a->init_task)
        return;
    pb_outcome o;
    pb_task_run(a->init_task, a->init_arg, a->init_len, &o);
    if (o.code)
        pb__adapter_set_broken(a, o.message && *o.message ? o.message
                                                          : "the initializer task failed");
    pb_outcome_clear(&o);
}

void pb__adapter_initialize_lazily(pb__adapter *a)
{
    a->lazy = a->init_task != NULL;
}

void pb__adapter_initialize_once(pb__adapter *a)
{
    if (!a->init_task || atomic_load(&a->broken) || pb__adapter_thread_word() == a->id)
        return;
    /* Not the last pool this thread initialised for: look it up. */
    pthread_t self = pthread_self();
    bool done = false;
    pthread_mutex_lock(&a->init_mu);
    for (size_t i = 0; i < a->ninited && !done; i++)
        done = pthread_equal(a->inited[i], self);
    pthread_mutex_unlock(&a->init_mu);

    if (!done) {
        pb__adapter_initialize(a);
        pthread_mutex_lock(&a->init_mu);
        if (a->ninited == a->capinited) {
            size_t cap = a->capinited ? 2 * a->capinited : 8;
            pthread_t *grown = realloc(a->inited, cap * sizeof *grown);
            if (grown) {
                a->inited = grown;
                a->capinited = cap;
            }
        }
        if (a->ninited < a->capinited)
            a->inited[a->ninited++] = self;
        else
            pb__adapter_set_broken(a, "out of memory recording which threads ran it");
        pthread_mutex_unlock(&a->init_mu);
    }
    pb__adapter_set_thread_word(a->id);
}

/* ---- Pinning ---- */

bool pb__adapter_pinned(const pb__adapter *a)
{
    return a->placement != NULL;
}

int pb__adapter_bind(pb__adapter *a, int worker)
{
    if (!a->placement)
        return 0;
    int r = pb__placement_bind_thread(a->placement, worker);
    if (r)
        return r;
    char buf[128];
    if (pb__binding_of_self_thread(buf, sizeof buf) != 0)
        buf[0] = 0;
    pthread_mutex_lock(&a->bind_mu);
    snprintf(a->bindings[worker], sizeof a->bindings[worker], "%s", buf);
    pthread_mutex_unlock(&a->bind_mu);
    return 0;
}

void pb__adapter_unbind(pb__adapter *a)
{
    hwloc_topology_t topo;
    if (a->placement && !hwloc_bitmap_iszero(a->home) && pb__topology(&topo) == 0)
        hwloc_set_cpubind(topo, a->home, HWLOC_CPUBIND_THREAD);
}

int pb__adapter_binding(pb__adapter *a, int worker, char *buf, size_t size)
{
    if (!size)
        return 0;
    if (!a->placement) {
        buf[0] = 0;
        return 0;
    }
    pthread_mutex_lock(&a->bind_mu);
    snprintf(buf, size, "%s", a->bindings[worker]);
    pthread_mutex_unlock(&a->bind_mu);
    return 0;
}

/* ---- The pool's own threads ---- */

int pb__adapter_worker_started(pb__adapter *a, int index)
{
    pthread_mutex_lock(&a->bind_mu);
    int i = index >= 0 ? index : a->next_index++;
    a->tids[i] = pb__adapter_tid();
    pthread_mutex_unlock(&a->bind_mu);
    int r = pb__adapter_bind(a, i);
    pthread_mutex_lock(&a->bind_mu);
    if (r && !a->bind_error)
        a->bind_error = r;
    a->started++;
    pthread_cond_broadcast(&a->start_cv);
    pthread_mutex_unlock(&a->bind_mu);
    return i;
}

void pb__adapter_worker_hold(pb__adapter *a)
{
    pthread_mutex_lock(&a->bind_mu);
    a->held++;
    pthread_cond_broadcast(&a->start_cv);
    while (a->held < a->workers)
        pthread_cond_wait(&a->start_cv, &a->bind_mu);
    pthread_mutex_unlock(&a->bind_mu);
}

int pb__adapter_await_started(pb__adapter *a)
{
    pthread_mutex_lock(&a->bind_mu);
    while (a->started < a->workers)
        pthread_cond_wait(&a->start_cv, &a->bind_mu);
    int r = a->bind_error;
    pthread_mutex_unlock(&a->bind_mu);
    return r;
}

void pb__adapter_await_workers_gone(pb__adapter *a, void (*nudge)(void))
{
    pb__adapter_await_threads_gone(a->tids, a->workers, nudge);
}

/* ---- Native loops ---- */

int pb__native_refuse_pin(const char *name, const pb_pool_opts *opts)
{
    if (!opts->pin || !strcmp(opts->pin, "none"))
        return 0;
    return pb_backend_error(PB_ENOTSUP, "%s native loop: pin=%s is not supported (it runs the "
                            "library's threads as the library's own programs do, unbound; "
                            "run with --pin none to measure it)", name, opts->pin);
}

/* ---- Threads and signals ---- */

pid_t pb__adapter_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static bool thread_exists(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld", (long)tid);
    return access(path, F_OK) == 0;
}

void pb__adapter_await_threads_gone(const pid_t *tids, int n, void (*nudge)(void))
{
    if (access("/proc/self/task", F_OK) != 0)
        return;
    const struct timespec pause = {0, 100 * 1000};
    for (int round = 0; round < 50000; round++) { /* 5 s of 100 µs pauses */
        if (nudge)
            nudge();
        bool left = false;
        for (int i = 0; i < n && !left; i++)
            left = tids[i] && thread_exists(tids[i]);
        if (!left)
            return;
        nanosleep(&pause, NULL);
    }
}

void pb__adapter_block_signals(void *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

void pb__adapter_restore_signals(const void *old)
{
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int pb__adapter_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
    sigset_t old;
    pb__adapter_block_signals(&old);
    int r = -pthread_create(t, NULL, fn, arg);
    pb__adapter_restore_signals(&old);
    if (!r && name)
        pthread_setname_np(*t, name);
    return r;
}
