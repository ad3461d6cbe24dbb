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
 * references, submitted at `submitted` (0: now; a batch shares one time).
 * NULL on ENOMEM. */
pb_future *pb__future_new(pb_pool *pool, const pb_task *task, const void *arg, size_t len,
                          int refs, int64_t submitted);

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

/* As pb_future_set_result() / pb_future_set_error(), for a backend that
 * completes f in a thread which must not run the user's done-callbacks (a
 * caller waiting on a process pool, reading results itself): with quiet,
 * waiters are notified and woken but the callbacks are left for
 * pb__future_run_callbacks(), which the backend must then call from its own
 * thread while holding a reference. Returns 1 when callbacks were left, 0,
 * or a negative code as the public functions. */
int pb__future_set_result_ex(pb_future *f, const void *data, size_t len, int64_t started,
                             int64_t ended, bool quiet);
int pb__future_set_error_ex(pb_future *f, const pb_error *err, int64_t started, int64_t ended,
                            bool quiet);
void pb__future_run_callbacks(pb_future *f);

/* ---- Tasks (registry.c) ---- */

/* Inside a task: sets its result to buf (malloc'd), taking ownership. */
void pb__task_return_owned(pb_task_ctx *ctx, void *buf, size_t len);

/* pb_task_run() without the two clock reads (started and ended are 0): for
 * the items of a chunk, whose times nobody sees. */
void pb__task_call(const pb_task *task, const void *arg, size_t len, pb_outcome *out);

/* ---- Pools (pool.c) ---- */

/* The backend hint after a successful cancel (pool may be NULL). */
void pb__pool_cancel_hint(pb_pool *pool, pb_future *f);

/* pb_submit_many without argument checks, for map: submits fs[0..n),
 * already built, each holding two references. Returns 0, or a negative code
 * with *submitted of them (a prefix) submitted — none, unless the backend
 * has no batch submit; the others are the caller's to discard. */
int pb__pool_submit_futures(pb_pool *pool, pb_future *const *fs, size_t n, size_t *submitted);

/* Whether waiters on this pool's futures should spin before sleeping. */
bool pb__pool_waiter_spins(const pb_pool *pool);

/* Whether the pool's backend helps its own waiting tasks (backend.h,
 * help_nested), and that help: runs one queued task of pool in the calling
 * thread; false when none was queued. */
bool pb__pool_helps_nested(const pb_pool *pool);
bool pb__pool_help_nested(pb_pool *pool);

/* When the pool's backend helps waiters (pb_backend.help): takes a
 * reference to pool (a future keeps its pool's struct alive, so that a
 * waiter may call into it however the pool's destruction races with the
 * wait) and returns true. pb__pool_release() gives it back. */
bool pb__pool_retain_for_help(pb_pool *pool);
void pb__pool_release(pb_pool *pool);

/* Lets the backend use the calling thread until satisfied(ud) or the
 * absolute deadline; returns what pb_backend.help returned, or 0 once the
 * pool is being destroyed. */
int pb__pool_help(pb_pool *pool, bool (*satisfied)(void *ud), void *ud, int64_t deadline);

/* Whether the pool's backend notices cancels late (backend.h). */
bool pb__pool_cancel_noticed_late(const pb_pool *pool);

#ifdef PB_TEST_KNOBS
/* The slowdown planted in backend's workers, in % (0: none): pool.c. */
double pb__test_slowdown_of(const char *backend);
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
