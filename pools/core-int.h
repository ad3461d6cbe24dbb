/*
 * core-int.h — what the pieces of the futures core share with each other.
 *
 * Not for backends (they use pb/backend.h) except where a function says so.
 */
#ifndef PB_CORE_INT_H
#define PB_CORE_INT_H

#include <stdarg.h>

#include <pb/backend.h>
#include <pb/pool.h>

#include "sync-int.h"

/* ---- Futures (future.c) ---- */

/* Something a waiter (pb_wait, as_completed) registers on a future: notify
 * is called once, with the future's lock held, when the future becomes done.
 * It must be quick and must not touch the future's lock or callbacks. */
typedef struct pb__waiter pb__waiter;
struct pb__waiter {
    void (*notify)(pb__waiter *w, pb_future *f);
};

/* A new PENDING future for task with a copy of arg, holding `refs`
 * references. NULL on ENOMEM. */
pb_future *pb__future_new(pb_pool *pool, const pb_task *task, const void *arg, size_t len,
                          int refs);

/* Frees a future nobody has seen (submission failed). */
void pb__future_discard(pb_future *f);

/* Registers w on f unless f is already done. Returns 1 if registered, 0 if
 * f was done (w will not be notified), PB_ENOMEM. */
int pb__future_add_waiter(pb_future *f, pb__waiter *w);

/* Unregisters w from f if it is still registered (f not yet done). */
void pb__future_remove_waiter(pb_future *f, pb__waiter *w);

/* Whether pb_wait and as_completed count f as done: done, unless it is a
 * cancel its backend has not noticed yet (backend.h, cancel_noticed_late). */
bool pb__future_counts_done(const pb_future *f);

/* The outcome code of a done future: 0, PB_ECANCELED, PB_ETASK, ... */
int pb__future_code(const pb_future *f);

/* Waits until f is done or the absolute deadline (-1: none) passes.
 * Returns 0 or PB_ETIMEDOUT. A worker of f's pool helps meanwhile
 * (future.c, "Help-while-waiting"). */
int pb__future_wait(pb_future *f, int64_t deadline);

/* The pool whose task the calling thread is running (pb_future_task_run),
 * or NULL. */
pb_pool *pb__running_pool(void);

/* ---- Tasks (registry.c) ---- */

/* Inside a task: sets its result to buf (malloc'd), taking ownership. */
void pb__task_return_owned(pb_task_ctx *ctx, void *buf, size_t len);

/* ---- Pools (pool.c) ---- */

/* The backend hint after a successful cancel (pool may be NULL). */
void pb__pool_cancel_hint(pb_pool *pool, pb_future *f);

/* pb_submit without argument checks, for map: submits an already-built
 * future holding two references. Returns 0 or a negative code (the future
 * then is the caller's to discard). */
int pb__pool_submit_future(pb_pool *pool, pb_future *f);

/* Whether waiters on this pool's futures should spin before sleeping. */
bool pb__pool_waiter_spins(const pb_pool *pool);

/* Whether the pool's backend helps while waiting (backend.h, help), and
 * that help: runs one queued task of pool in the calling thread; false when
 * none was queued. */
bool pb__pool_helps(const pb_pool *pool);
bool pb__pool_help(pb_pool *pool);

/* Whether the pool's backend notices cancels late (backend.h). */
bool pb__pool_cancel_noticed_late(const pb_pool *pool);

#ifdef PB_TEST_KNOBS
/* The planted slowdown of this pool's round trips, in % (pool.c). */
double pb__pool_test_slowdown(const pb_pool *pool);
#endif

/* Whether the pool has been shut down (for map's PB_ESHUTDOWN). */
bool pb__pool_is_shutdown(const pb_pool *pool);

/* A backend built as a loadable module (backends.c lists them; pool.c loads
 * one on first lookup). `loaded`, `handle` and `error` are guarded by
 * pool.c's lock.
 *
 * A module whose workers are processes someone else starts (the mpi module:
 * mpiexec starts every rank with the same program) names the environment
 * variable that launcher sets in each process it starts, and the function
 * (int fn(int argc, char **argv)) that pb_worker_main_if_requested() calls
 * in such a process: it turns a worker rank into a worker and never returns
 * there, and returns 0 in the rank that runs the program. */
typedef struct {
    const char *name;   /* the backend's name, e.g. "glib" */
    const char *file;   /* the module, in <libpbpools' directory>/poolbench/ */
    const char *symbol; /* its const pb_backend */
    const char *launch_env;    /* set in every process the launcher starts; NULL: none */
    const char *worker_symbol; /* the module's worker entry point, for launch_env */
    const pb_backend *loaded;
    void *handle;
    char error[320]; /* why loading failed (it is not tried again) */
} pb__module_backend;

/* pb_worker_main_if_requested()'s part for module backends with a launcher
 * (see above): 0 when this process was not started by one (or is not the
 * process it started, but a child of it); else what the module's worker
 * entry point returns in rank 0, or a negative code with the message set. */
int pb__module_worker_main(int argc, char **argv);

/* ---- Small helpers ---- */

/* Formats into a new malloc'd string; NULL on ENOMEM. */
char *pb__vasprintf(const char *fmt, va_list ap);
char *pb__strdup(const char *s);

#endif /* PB_CORE_INT_H */
