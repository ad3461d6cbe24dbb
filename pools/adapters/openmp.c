/*
 * adapters/openmp.c — the `openmp` backend: OpenMP tasks behind the futures
 * API, issued by one producer inside a long-lived parallel region.
 *
 * OpenMP programs use tasks from inside a parallel region: one thread (in a
 * `single` or `master` block) creates tasks, the rest of the team runs them
 * while they wait at the region's barrier. Tasks cannot be created from
 * outside a region, and a futures API is called from outside by any thread,
 * so this backend keeps one region open for the pool's whole life and makes
 * its master thread the producer that turns submitted futures into tasks.
 * Built with GCC it measures libgomp; the same file builds with any OpenMP
 * compiler.
 *
 * DESIGN
 *
 * Threads. create() starts one thread (every signal blocked, so it and the
 * team it starts never take the host's signals) which opens
 * `#pragma omp parallel num_threads(workers + 1)` with dynamic adjustment
 * off. Thread 0, the master, is the producer; threads 1..workers are the
 * workers: each binds itself to worker i's PUs when pinning, says it has
 * started, runs the initializer, and then waits at the region's closing
 * barrier, where OpenMP threads run queued tasks. create() returns once
 * every worker has started (and bound), or fails when the runtime gave a
 * smaller team (OMP_THREAD_LIMIT, say). The team belongs to the producer
 * thread: when it exits at destroy, the runtime ends the team's threads
 * (libgomp frees a master's thread pool at its exit), so nothing outlives
 * the pool — destroy waits until they are gone.
 *
 * Submission. submit queues the future in the shared core's FIFO
 * (adapter-int.h), whose tokens are chained: one `#pragma omp task` per
 * future, at most `workers` of them waiting at a time. A task created from
 * the caller's thread cannot be (it is outside the region): the producer
 * creates it, woken on a futex when it sleeps (after spinning briefly). A
 * task that starts while more futures are queued creates the next one
 * itself, in the team, so in a burst the producer is asked once and the
 * workers keep the stream going. The producer never runs a task: it would
 * be a worker too many (never more tasks at once than `workers`). And
 * since no more than `workers` tasks wait at a time, the runtime never
 * runs one at once in the creating thread instead of queueing it (libgomp
 * does that past 64 queued tasks per thread, LLVM's libomp when a thread's
 * deque of 256 is full).
 *
 * Cancellation is the shared core's: a future cancelled while queued is
 * skipped by the task that meets it.
 *
 * Not supported (the table's `unsupported`): task_timeout (a thread cannot
 * be killed), max_tasks_per_worker (a team's threads are not replaced),
 * worker_program (exec backend only).
 */
#include <dirent.h>
#include <limits.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pb/backend.h>

#include "adapter-int.h"
#include "sync-int.h"

#define PB__OMP_STR2(x) #x
#define PB__OMP_STR(x) PB__OMP_STR2(x)
#if defined(__clang__)
#define PB__OMP_RUNTIME "LLVM libomp, clang " __clang_version__
#elif defined(__GNUC__)
#define PB__OMP_RUNTIME "libgomp, GCC " __VERSION__
#else
#define PB__OMP_RUNTIME "the compiler's runtime"
#endif

/* How long the producer looks for tokens before it sleeps. */
#define PB__OMP_SPIN_NS 20000

typedef struct opool {
    pb__adapter *core;
    int workers;
    pthread_t thread;

    _Atomic long tokens;         /* tokens the producer is to issue */
    _Atomic uint32_t wake;       /* the futex word the producer sleeps on */
    _Atomic uint32_t sleeping;   /* 1 while the producer may sleep */
    _Atomic bool stop;

    /* Start-up (under mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int team;
    bool producer_ready;
} opool;

/* ---- The producer's wake-ups ---- */

static void wake_producer(opool *p)
{
    atomic_fetch_add(&p->wake, 1);
    if (atomic_load(&p->sleeping))
        pb__futex_wake(&p->wake, 1);
}

/* ---- Tokens and the producer ---- */

static void issue(opool *p)
{
#pragma omp task firstprivate(p)
    pb__adapter_run_next(p->core);
}

/* A token (chained, adapter-int.h): one task per future. A thread of the
 * team (a task about to run its future) creates it at once; the caller's
 * thread, outside the region, leaves it to the producer. */
static int post_token(void *ud)
{
    opool *p = ud;
    if (pb__adapter_thread_word() == (uintptr_t)p) {
        issue(p);
        return 0;
    }
    atomic_fetch_add(&p->tokens, 1);
    if (atomic_load(&p->sleeping))
        wake_producer(p);
    return 0;
}

static void producer(opool *p)
{
    pb__adapter_set_thread_word((uintptr_t)p);
    for (;;) {
        while (atomic_load(&p->tokens) > 0) {
            atomic_fetch_sub(&p->tokens, 1);
            issue(p);
        }
        if (atomic_load(&p->stop))
            break;
        /* Nothing to do: spin a little, then sleep until a submit changes
         * `wake`. */
        uint32_t seen = atomic_load(&p->wake);
        int64_t until = pb_now_ns() + PB__OMP_SPIN_NS;
        while (!atomic_load(&p->tokens) && atomic_load(&p->wake) == seen && pb_now_ns() < until)
            pb__cpu_relax();
        if (atomic_load(&p->tokens) || atomic_load(&p->wake) != seen)
            continue;
        atomic_store(&p->sleeping, 1);
        if (!atomic_load(&p->tokens) && !atomic_load(&p->stop))
            pb__futex_wait(&p->wake, seen, -1);
        atomic_store(&p->sleeping, 0);
    }
}

/* ---- The region ---- */

static void worker_start(opool *p, int i)
{
    pb__adapter_set_thread_word((uintptr_t)p);
    pb__adapter_worker_started(p->core, i);
    pb__adapter_initialize(p->core);
}

static void *region_main(void *arg)
{
    opool *p = arg;
    omp_set_dynamic(0);
#pragma omp parallel num_threads(p->workers + 1)
    {
        int t = omp_get_thread_num();
        if (t == 0) {
            int team = omp_get_num_threads();
            pthread_mutex_lock(&p->mu);
            p->team = team;
            p->producer_ready = true;
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
            if (team == p->workers + 1)
                producer(p);
        } else {
            worker_start(p, t - 1);
        }
    } /* the closing barrier: workers run tasks here until the producer leaves */
    return NULL;
}

/* ---- The backend ---- */

static int omp_submit(void *state, pb_future *f)
{
    return pb__adapter_submit(((opool *)state)->core, f);
}

static void omp_shutdown(void *state, bool wait, bool cancel_futures)
{
    pb__adapter_shutdown(((opool *)state)->core, wait, cancel_futures);
}

static void opool_free(opool *p)
{
    pb__adapter_free(p->core);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void stop_region(opool *p)
{
    atomic_store(&p->stop, true);
    wake_producer(p);
    pthread_join(p->thread, NULL);
    /* The team's threads end on their own once the producer thread has
     * exited; wait until they have. */
    pb__adapter_await_workers_gone(p->core, NULL);
}

static void omp_destroy(void *state)
{
    opool *p = state;
    pb__adapter_shutdown(p->core, true, false);
    stop_region(p);
    opool_free(p);
}

static int omp_create(const pb_pool_opts *opts, void **state, int *workers)
{
    opool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->workers = opts->workers;
    int r = pb__adapter_new(opts, &p->core);
    if (!r) {
        pb__adapter_chain(p->core, post_token, p);
        r = pb__adapter_thread_start(&p->thread, region_main, p, "pb-omp-producer");
    }
    if (r) {
        opool_free(p);
        return r == PB_ENOMEM ? r : pb_backend_error(r, "openmp backend: cannot start: %s",
                                                     pb_strerror(r));
    }

    pthread_mutex_lock(&p->mu);
    while (!p->producer_ready)
        pthread_cond_wait(&p->cv, &p->mu);
    int team = p->team;
    pthread_mutex_unlock(&p->mu);
    r = team == p->workers + 1 ? pb__adapter_await_started(p->core) : 0;
    if (team != p->workers + 1 || r) {
        stop_region(p);
        opool_free(p);
        if (r)
            return pb_backend_error(r, "openmp backend: cannot bind worker threads: %s",
                                    pb_strerror(r));
        return pb_backend_error(-EAGAIN, "openmp backend: the runtime gave a team of %d "
                                "threads, %d asked for (one producer and %d workers; "
                                "OMP_THREAD_LIMIT?)", team, opts->workers + 1, opts->workers);
    }
    *state = p;
    *workers = p->workers;
    return 0;
}

static int omp_binding(void *state, int worker, char *buf, size_t size)
{
    return pb__adapter_binding(((opool *)state)->core, worker, buf, size);
}

/* ---- The native loop (pb/backend.h): tasks as OpenMP programs write them ----
 *
 * A parallel region of `workers` threads (run by a thread of its own, so
 * the team ends with it), one of which, in a `single` block, creates the
 * tasks: a burst is n `task`s and one `taskwait`; a round trip is one
 * `task` and one `taskwait`. The runtime decides where a task runs — the
 * creating thread itself at the taskwait, or at once when too many are
 * queued — as it does for any OpenMP program. */

typedef struct onative {
    pb_native_job *job;
    int workers;
} onative;

static void *native_main(void *arg)
{
    onative *n = arg;
    pb_native_job *job = n->job;
    omp_set_dynamic(0);
#pragma omp parallel num_threads(n->workers)
#pragma omp single
    {
        job->threads = omp_get_num_threads();
        for (size_t i = 0; i < job->warmup; i++) {
#pragma omp task
            {
            }
#pragma omp taskwait
        }
        if (job->kind == PB_NATIVE_BURST) {
            int64_t t0 = pb_now_ns();
            for (size_t i = 0; i < job->n; i++) {
#pragma omp task firstprivate(i)
                job->task(job->ud, i);
            }
#pragma omp taskwait
            job->elapsed = pb_now_ns() - t0;
        } else {
            for (size_t i = 0; i < job->n; i++) {
                int64_t t0 = pb_now_ns();
#pragma omp task firstprivate(i)
                job->task(job->ud, i);
#pragma omp taskwait
                job->times[i] = pb_now_ns() - t0;
            }
        }
    }
    return NULL;
}

static int omp_native(const pb_pool_opts *opts, pb_native_job *job)
{
    int r = pb__native_refuse_pin("openmp", opts);
    if (r)
        return r;
    onative n = {.job = job, .workers = opts->workers};
    pthread_t t;
    r = pb__adapter_thread_start(&t, native_main, &n, "pb-omp-native");
    if (r)
        return pb_backend_error(r, "openmp native loop: cannot start: %s", pb_strerror(r));
    pthread_join(t, NULL);
    return 0;
}

PB__ADAPTER_EXPORT const pb_backend pb__backend_openmp = {
    .name = "openmp",
    .summary = "OpenMP " PB__OMP_STR(_OPENMP) " tasks (" PB__OMP_RUNTIME "), one per task, "
               "created in a long-lived parallel region of workers + 1 threads by its producer "
               "thread and by the running tasks",
    .create = omp_create,
    .submit = omp_submit,
    .shutdown = omp_shutdown,
    .destroy = omp_destroy,
    .binding = omp_binding,
    .native = omp_native,
    .native_summary = "a region of workers threads, one creating the tasks in a single block; "
                      "bursts end with taskwait, round trips are task + taskwait",
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "an OpenMP thread cannot be killed"},
        {"max_tasks_per_worker", "an OpenMP team's threads are not replaced"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
};
