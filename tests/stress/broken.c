/*
 * broken.c — a deliberately broken pool, registered as backend "broken",
 * for showing that `poolbench stress` catches what it claims to catch.
 *
 * It is a plain, correct thread pool (one FIFO under one mutex, N threads,
 * written against pb/backend.h only) until a breakage is switched on with
 * pbt_broken_set(); then every BROKEN_EVERY-th task is mistreated, or its
 * shutdown or destroy misbehaves:
 *   DROP        the result is dropped: the future succeeds with no bytes
 *   LOSE        one future (only the first victim, since each costs the
 *               stress run its patience) is taken by a worker (RUNNING, so
 *               no cancel can hide it) and never completed; only futures
 *               the caller holds count, not the chunks of a map, which the
 *               run may abandon unread (pb_map_free) and so never miss
 *   SPURIOUS    the task runs, but the future fails with PB_EBROKEN anyway
 *   WRONG_ID    the future gets the result of the task before it
 *   LEAK_FD     destroy leaves an fd open
 *   LEAK_THREAD destroy leaves a thread running
 *   HANG        shutdown(wait) never returns, once the pool has run
 *               BROKEN_EVERY tasks (so a one-task warm-up pool is spared)
 * task_timeout, max_tasks_per_worker and initializers are declared
 * unsupported in its table, so the core refuses them with PB_ENOTSUP, as a
 * pool that cannot do them must.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pb/backend.h>

#include "broken.h"

#define MAX_WORKERS 16

typedef struct bpool {
    pthread_mutex_t mu;
    pthread_cond_t work, idle;
    pb_future *head, *tail;
    bool closed;
    size_t inflight;
    int nthreads;
    pthread_t threads[MAX_WORKERS];
    pb_future **lost;
    size_t nlost, caplost;
    _Atomic uint64_t ran;
    void *prev_result; /* WRONG_ID: the last result, handed to the next victim */
    size_t prev_len;
} bpool;

static _Atomic int mode = PBT_BROKEN_NONE;
static _Atomic uint64_t counter;

void pbt_broken_set(pbt_breakage m)
{
    atomic_store(&mode, m);
    atomic_store(&counter, 0);
}

static bool victim(void)
{
    return (atomic_fetch_add(&counter, 1) + 1) % PBT_BROKEN_EVERY == 0;
}

static void push_locked(bpool *p, pb_future *f)
{
    *pb_future_slot(f) = NULL;
    if (p->tail)
        *pb_future_slot(p->tail) = f;
    else
        p->head = f;
    p->tail = f;
}

static pb_future *pop_locked(bpool *p)
{
    pb_future *f = p->head;
    if (f) {
        p->head = *pb_future_slot(f);
        if (!p->head)
            p->tail = NULL;
    }
    return f;
}

static void done_one(bpool *p)
{
    pthread_mutex_lock(&p->mu);
    if (--p->inflight == 0)
        pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->mu);
}

/* LOSE: the worker took f (it is RUNNING: nobody can cancel it now) and
 * forgets it, keeping the reference the core gave us. */
static bool lose(bpool *p, pb_future *f)
{
    pthread_mutex_lock(&p->mu);
    if (p->nlost == p->caplost) {
        size_t cap = p->caplost ? 2 * p->caplost : 16;
        pb_future **m = realloc(p->lost, cap * sizeof *m);
        if (!m) {
            pthread_mutex_unlock(&p->mu);
            return false;
        }
        p->lost = m;
        p->caplost = cap;
    }
    p->lost[p->nlost++] = f;
    pthread_mutex_unlock(&p->mu);
    return true;
}

static void *worker(void *arg)
{
    bpool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->closed)
            pthread_cond_wait(&p->work, &p->mu);
        pb_future *f = pop_locked(p);
        pthread_mutex_unlock(&p->mu);
        if (!f)
            return NULL;
        if (!pb_future_set_running(f)) {
            pb_future_release(f);
            done_one(p);
            continue;
        }
        if (atomic_load(&mode) == PBT_BROKEN_LOSE &&
            strcmp(pb_task_name(pb_future_task(f)), "pb__chunk") != 0 &&
            atomic_fetch_add(&counter, 1) + 1 == PBT_BROKEN_EVERY && lose(p, f)) {
            done_one(p);
            continue;
        }
        size_t len;
        const void *arg_bytes = pb_future_arg(f, &len);
        pb_outcome out;
        pb_task_run(pb_future_task(f), arg_bytes, len, &out);
        int m = atomic_load(&mode);
        if (m == PBT_BROKEN_DROP && out.code == 0 && victim()) {
            pb_future_set_result(f, NULL, 0, out.started, out.ended);
            pb_outcome_clear(&out);
        } else if (m == PBT_BROKEN_SPURIOUS && victim()) {
            pb_error e = {.code = PB_EBROKEN, .message = "spurious failure (broken backend)"};
            pb_future_set_error(f, &e, out.started, out.ended);
            pb_outcome_clear(&out);
        } else if (m == PBT_BROKEN_WRONG_ID && out.code == 0) {
            pthread_mutex_lock(&p->mu);
            void *prev = p->prev_result;
            size_t prev_len = p->prev_len;
            p->prev_result = malloc(out.len ? out.len : 1);
            if (p->prev_result)
                memcpy(p->prev_result, out.data, out.len);
            p->prev_len = out.len;
            pthread_mutex_unlock(&p->mu);
            if (prev && victim()) {
                pb_future_set_result(f, prev, prev_len, out.started, out.ended);
                pb_outcome_clear(&out);
            } else {
                pb_future_complete(f, &out);
            }
            free(prev);
        } else {
            pb_future_complete(f, &out);
        }
        pb_future_release(f);
        atomic_fetch_add(&p->ran, 1);
        done_one(p);
    }
}

static int b_create(const pb_pool_opts *o, void **state, int *workers)
{
    bpool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    int n = o->workers < MAX_WORKERS ? o->workers : MAX_WORKERS;
    for (; p->nthreads < n; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
            break;
    if (p->nthreads == 0) {
        free(p);
        return PB_ENOMEM;
    }
    *state = p;
    *workers = p->nthreads;
    return 0;
}

static int b_submit(void *state, pb_future *f)
{
    bpool *p = state;
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        return PB_ESHUTDOWN;
    }
    push_locked(p, f);
    p->inflight++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void b_shutdown(void *state, bool wait, bool cancel_futures)
{
    bpool *p = state;
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pb_future *list = NULL;
    if (cancel_futures) {
        list = p->head;
        p->head = p->tail = NULL;
    }
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    while (list) {
        pb_future *next = *pb_future_slot(list);
        pb_future_cancel(list);
        pb_future_release(list);
        done_one(p);
        list = next;
    }
    if (wait && atomic_load(&mode) == PBT_BROKEN_HANG && atomic_load(&p->ran) >= PBT_BROKEN_EVERY)
        for (;;)
            pause();
    if (wait) {
        pthread_mutex_lock(&p->mu);
        while (p->inflight)
            pthread_cond_wait(&p->idle, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void b_destroy(void *state)
{
    bpool *p = state;
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    for (size_t i = 0; i < p->nlost; i++)
        pb_future_release(p->lost[i]);
    free(p->lost);
    free(p->prev_result);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    free(p);
    if (atomic_load(&mode) == PBT_BROKEN_LEAK_FD) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        (void)fd; /* left open on purpose */
    }
    if (atomic_load(&mode) == PBT_BROKEN_LEAK_THREAD) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) == 0)
            pthread_detach(t);
    }
}

static const pb_backend broken_backend = {
    .name = "broken",
    .summary = "a thread pool with breakages switched on by tests",
    .create = b_create,
    .submit = b_submit,
    .shutdown = b_shutdown,
    .destroy = b_destroy,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "its threads cannot be killed"},
        {"max_tasks_per_worker", "its threads are never replaced"},
        {"initializer", "its threads run no initializer"},
        {NULL, NULL},
    },
};

int pbt_broken_register(void)
{
    static int done;
    if (done)
        return 0;
    int r = pb_backend_register(&broken_backend);
    done = r == 0;
    return r;
}
