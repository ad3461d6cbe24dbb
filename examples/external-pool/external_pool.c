/*
 * external_pool.c — a worker pool written outside poolbench, plugged in as
 * the backend "external".
 *
 * This is the smallest honest pool: `workers` pthreads, one FIFO queue, one
 * mutex and one condition variable. It is built as a shared object against
 * an installed poolbench (see CMakeLists.txt and README.md); when the harness
 * or the conformance suite loads it (--load ./libexternal_pool.so), the
 * constructor at the bottom registers the backend, and from then on it is
 * measured and checked exactly like the pools that ship with poolbench.
 *
 * What a backend does (pb/backend.h): take futures in submit(), hand each to
 * a worker, and report back. The futures core does everything else: the
 * state machine, waiting, callbacks, pb_wait, as_completed, map.
 *
 *   - submit() appends the future to the queue. The backend now owns one
 *     reference to it.
 *   - A worker pops it and calls pb_future_set_running(). If that returns
 *     false, the future was cancelled while it waited: skip it.
 *   - The worker runs the task with pb_task_run() and hands the outcome to
 *     pb_future_complete(), then drops its reference.
 *   - shutdown() closes the queue; with cancel_futures it cancels what is
 *     still queued; with wait it joins the workers, which leave once the
 *     queue is closed and empty (so queued work still runs otherwise).
 *
 * Options this pool does not implement are declared in its table
 * (.unsupported), each with the reason: the core refuses them with
 * PB_ENOTSUP and a message naming them — never ignored — so the
 * conformance suite reports those cases as skipped, with the reason, and
 * `poolbench list` shows them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <pb/backend.h>

typedef struct external_pool {
    pthread_mutex_t lock;       /* guards everything below but the threads */
    pthread_cond_t work;        /* signalled when the queue grows or closes */
    pb_future *head, *tail;     /* the queue, linked through pb_future_slot() */
    int closed;                 /* shutdown was called: no more submits */

    pthread_mutex_t join_lock;  /* the first shutdown(wait) joins, the others wait */
    int joined;
    int nthreads;
    pthread_t *threads;
} external_pool;

/* The queue link lives in the one pointer-sized slot a backend may use. */
static pb_future **next_of(pb_future *f)
{
    return (pb_future **)pb_future_slot(f);
}

/* Pops the next future, or returns NULL when the pool is closed and empty.
 * Called with the lock held. */
static pb_future *pop_locked(external_pool *p)
{
    while (!p->head && !p->closed)
        pthread_cond_wait(&p->work, &p->lock);
    pb_future *f = p->head;
    if (f) {
        p->head = *next_of(f);
        if (!p->head)
            p->tail = NULL;
    }
    return f;
}

static void *worker(void *arg)
{
    external_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        pb_future *f = pop_locked(p);
        pthread_mutex_unlock(&p->lock);
        if (!f)
            return NULL; /* closed and drained */

        if (pb_future_set_running(f)) { /* false: cancelled while queued */
            size_t len;
            const void *task_arg = pb_future_arg(f, &len);
            pb_outcome out;
            pb_task_run(pb_future_task(f), task_arg, len, &out);
            pb_future_complete(f, &out); /* wakes waiters, runs done-callbacks here */
        }
        pb_future_release(f);
    }
}

static void join_workers(external_pool *p)
{
    pthread_mutex_lock(&p->join_lock);
    if (!p->joined) {
        for (int i = 0; i < p->nthreads; i++)
            pthread_join(p->threads[i], NULL);
        p->joined = 1;
    }
    pthread_mutex_unlock(&p->join_lock);
}

static void external_shutdown(void *state, bool wait, bool cancel_futures)
{
    external_pool *p = state;
    pb_future *cancelled = NULL;
    pthread_mutex_lock(&p->lock);
    p->closed = 1;
    if (cancel_futures) {
        cancelled = p->head; /* take the whole queue */
        p->head = p->tail = NULL;
    }
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);

    /* Cancel outside the lock: done-callbacks run here, in this thread. */
    while (cancelled) {
        pb_future *next = *next_of(cancelled);
        pb_future_cancel(cancelled);
        pb_future_release(cancelled);
        cancelled = next;
    }
    if (wait)
        join_workers(p);
}

static void free_pool(external_pool *p)
{
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->join_lock);
    free(p->threads);
    free(p);
}

static void external_destroy(void *state)
{
    external_pool *p = state;
    external_shutdown(p, true, false); /* the core did this already; harmless */
    free_pool(p);
}

static int external_submit(void *state, pb_future *f)
{
    external_pool *p = state;
    *next_of(f) = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->closed) {
        pthread_mutex_unlock(&p->lock);
        return PB_ESHUTDOWN; /* the core keeps its reference */
    }
    if (p->tail)
        *next_of(p->tail) = f;
    else
        p->head = f;
    p->tail = f;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static int external_create(const pb_pool_opts *opts, void **state, int *workers)
{
    external_pool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    p->threads = calloc((size_t)opts->workers, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return PB_ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_mutex_init(&p->join_lock, NULL);

    for (int i = 0; i < opts->workers; i++) { /* the core resolved workers=0 already */
        int r = pthread_create(&p->threads[i], NULL, worker, p);
        if (r) {
            p->nthreads = i; /* stop and join the ones that started */
            external_shutdown(p, true, false);
            free_pool(p);
            return pb_backend_error(-r, "external pool: cannot start thread %d: %s", i,
                                    strerror(r));
        }
        p->nthreads = i + 1;
    }
    *state = p;
    *workers = p->nthreads;
    return 0;
}

static const pb_backend external_backend = {
    .name = "external",
    .summary = "example pool built out of tree: pthreads, one mutex, one condvar "
               "(examples/external-pool)",
    .create = external_create,
    .submit = external_submit,
    .cancel = NULL,  /* a cancelled future is skipped when a worker pops it */
    .shutdown = external_shutdown,
    .destroy = external_destroy,
    .binding = NULL, /* pb_pool_binding() answers PB_ENOTSUP */
    /* What this pool cannot do, said plainly: the core refuses these
     * options with PB_ENOTSUP before create() is called, quoting the
     * reason, and `poolbench list` shows them. */
    .unsupported = (const pb_unsupported[]){
        {"pin", "its threads are never bound"},
        {"initializer", "its threads run no initializer"},
        {"max_tasks_per_worker", "its threads are never replaced"},
        {"task_timeout", "a thread cannot be killed"},
        {"worker_program", "it runs no worker processes"},
        {NULL, NULL},
    },
};

/* Runs when the shared object is loaded (dlopen), before any pool exists. */
__attribute__((constructor)) static void external_pool_register(void)
{
    int r = pb_backend_register(&external_backend);
    if (r)
        fprintf(stderr, "external_pool: cannot register backend \"external\": %s\n",
                pb_strerror(r));
}
