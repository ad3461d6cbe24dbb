/*
 * plugin_inline.c — a pool from outside, for `poolbench run --load`.
 *
 * The smallest backend there is: no workers at all, each task runs inside
 * pb_submit in the caller's thread. Built as a shared object whose
 * constructor registers it with pb_backend_register(), exactly what a pool
 * author's plugin does; the tests load it into poolbench and run scenarios
 * over it next to ours.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <pb/backend.h>

typedef struct inline_pool {
    atomic_bool shut;
} inline_pool;

static int create(const pb_pool_opts *opts, void **state, int *workers)
{
    (void)opts;
    inline_pool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    *state = p;
    *workers = 1;
    return 0;
}

static int submit(void *state, pb_future *f)
{
    inline_pool *p = state;
    if (atomic_load(&p->shut))
        return PB_ESHUTDOWN;
    if (pb_future_set_running(f)) {
        size_t len;
        const void *arg = pb_future_arg(f, &len);
        pb_outcome out;
        pb_task_run(pb_future_task(f), arg, len, &out);
        pb_future_complete(f, &out);
    }
    pb_future_release(f);
    return 0;
}

static void shutdown_pool(void *state, bool wait, bool cancel_futures)
{
    (void)wait;
    (void)cancel_futures; /* nothing is ever queued */
    atomic_store(&((inline_pool *)state)->shut, true);
}

static void destroy(void *state)
{
    free(state);
}

static const pb_backend inline_backend = {
    .name = "inline",
    .summary = "test plugin: every task runs inside pb_submit, in the caller's thread",
    .create = create,
    .submit = submit,
    .shutdown = shutdown_pool,
    .destroy = destroy,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "tasks run in the caller, which cannot be killed"},
        {"max_tasks_per_worker", "it has no workers to recycle"},
        {"initializer", "it has no workers to initialise"},
        {"pin", "tasks run in the caller's thread"},
        {NULL, NULL},
    },
};

__attribute__((constructor)) static void register_inline(void)
{
    pb_backend_register(&inline_backend);
}
