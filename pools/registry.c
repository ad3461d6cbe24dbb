/*
 * registry.c — tasks by name, and running one.
 *
 * Tasks are found by name so that a worker process can run them: the name
 * travels over the wire, and every program image registers the same PB_TASKs
 * at load time. The registry is an open-addressing hash table of fixed size
 * whose slots are published with a release store and never change again, so
 * lookups (on every task a process worker runs) take no lock; registrations
 * serialise on a mutex.
 *
 * Running a task: pb_task_run() gives the function a pb_task_ctx on the
 * stack, naming the pool that runs it when there is one (nested tasks);
 * pb_task_return() and pb_task_fail() fill it; the outcome is handed back to
 * the backend with its buffers, which pb_future_complete() adopts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core-int.h"

#define PB__TASKS_MAX 4096 /* a power of two */
#define PB__TASK_NAME_MAX 255

struct pb_task {
    const char *name;
    pb_task_fn fn;
};

struct pb_task_ctx {
    void *data;
    size_t len;
    bool failed;
    int code;
    char *message;
    pb_pool *pool; /* the pool running the task (pb_future_task_run), or NULL */
};

static _Atomic(pb_task *) table[PB__TASKS_MAX];
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

const pb_task *pb_task_find(const char *name)
{
    if (!name)
        return NULL;
    uint32_t i = name_hash(name);
    for (uint32_t probe = 0; probe < PB__TASKS_MAX; probe++, i++) {
        pb_task *t = atomic_load_explicit(&table[i & (PB__TASKS_MAX - 1)], memory_order_acquire);
        if (!t)
            return NULL;
        if (!strcmp(t->name, name))
            return t;
    }
    return NULL;
}

const char *pb_task_name(const pb_task *task)
{
    return task ? task->name : "";
}

int pb_task_register(const char *name, pb_task_fn fn)
{
    if (!name || !*name || !fn || strlen(name) > PB__TASK_NAME_MAX)
        return PB_EINVAL;
    pb_task *t = malloc(sizeof *t);
    char *copy = pb__strdup(name);
    if (!t || !copy) {
        free(t);
        free(copy);
        return PB_ENOMEM;
    }
    t->name = copy;
    t->fn = fn;

    int r = PB_ENOMEM; /* the table is full */
    pthread_mutex_lock(&register_lock);
    uint32_t i = name_hash(name);
    for (uint32_t probe = 0; probe < PB__TASKS_MAX; probe++, i++) {
        _Atomic(pb_task *) *slot = &table[i & (PB__TASKS_MAX - 1)];
        pb_task *old = atomic_load_explicit(slot, memory_order_relaxed);
        if (!old) {
            atomic_store_explicit(slot, t, memory_order_release);
            r = 0;
            break;
        }
        if (!strcmp(old->name, name)) {
            r = PB_EINVAL;
            break;
        }
    }
    pthread_mutex_unlock(&register_lock);
    if (r) {
        free(copy);
        free(t);
    }
    return r;
}

void pb__task_register_static(const char *name, pb_task_fn fn)
{
    int r = pb_task_register(name, fn);
    if (r) {
        /* Runs before main(): two PB_TASKs with one name (or a full table)
         * is a broken program, not a runtime condition. */
        fprintf(stderr, "poolbench: cannot register task '%s': %s\n", name, pb_strerror(r));
        abort();
    }
}

/* ---- Running ---- */

int pb_task_return(pb_task_ctx *ctx, const void *data, size_t len)
{
    if (!ctx || (!data && len))
        return PB_EINVAL;
    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return PB_ENOMEM;
        memcpy(copy, data, len);
    }
    free(ctx->data);
    ctx->data = copy;
    ctx->len = len;
    return 0;
}

void pb__task_return_owned(pb_task_ctx *ctx, void *buf, size_t len)
{
    free(ctx->data);
    ctx->data = buf;
    ctx->len = len;
}

int pb_task_fail(pb_task_ctx *ctx, int code, const char *fmt, ...)
{
    if (!ctx)
        return PB_EINVAL;
    free(ctx->message);
    ctx->message = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        ctx->message = pb__vasprintf(fmt, ap);
        va_end(ap);
    }
    ctx->failed = true;
    ctx->code = code;
    return PB_ETASK;
}

pb_pool *pb_task_pool(pb_task_ctx *ctx)
{
    return ctx ? ctx->pool : NULL;
}

void pb__task_call(const pb_task *task, const void *arg, size_t len, pb_outcome *out)
{
    /* A worker thread of this process runs it through pb_future_task_run,
     * which names the pool; a worker process calls it directly (NULL). */
    pb_task_ctx ctx = {.pool = pb__running_pool()};
    task->fn(&ctx, arg, len);
    out->started = out->ended = 0;
    if (ctx.failed) {
        free(ctx.data);
        out->code = PB_ETASK;
        out->task_code = ctx.code;
        out->data = NULL;
        out->len = 0;
        out->message = ctx.message ? ctx.message : pb__strdup("");
    } else {
        out->code = 0;
        out->task_code = 0;
        out->data = ctx.data;
        out->len = ctx.len;
        out->message = NULL;
    }
}

void pb_task_run(const pb_task *task, const void *arg, size_t len, pb_outcome *out)
{
    int64_t started = pb_now_ns();
    pb__task_call(task, arg, len, out);
    out->started = started;
    out->ended = pb_now_ns();
}

void pb_outcome_clear(pb_outcome *out)
{
    free(out->data);
    free(out->message);
    memset(out, 0, sizeof *out);
}

/* ---- Small helpers ---- */

char *pb__vasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

char *pb__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int64_t pb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
