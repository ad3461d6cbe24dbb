/*
 * pb/pool.h — the poolbench futures API.
 *
 * One API over every pool backend: submit a task, get a future; wait for its
 * result with a timeout; carry a task's failure back to the caller; ordered map
 * with chunks; as_completed; wait; done-callbacks; cancel; shutdown. The
 * semantics follow Python's concurrent.futures and multiprocessing.Pool, with
 * the weak spots fixed: a cancelled future counts as done everywhere, a crashed
 * worker fails only the task it was running, an overdue task's worker is killed.
 * (Python's own pools, run as the py-* backends, keep their weak spots: see
 * cancel_noticed_late in pb/backend.h.)
 *
 * Conventions
 *   - Functions returning int return 0 (or a count) on success and a negative
 *     PB_E* code on failure; pb_strerror() names a code.
 *   - Timeouts are int64_t nanoseconds: PB_FOREVER waits forever, 0 polls, any
 *     other negative value is PB_EINVAL.
 *   - Every function is thread-safe, except pb_pool_destroy(), which must not
 *     race with other calls on the same pool.
 *   - The library installs no signal handlers, never prints and never exits
 *     the host program.
 */
#ifndef PB_POOL_H
#define PB_POOL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PB_VERSION_MAJOR 0
#define PB_VERSION_MINOR 1
#define PB_VERSION_PATCH 0
#define PB_VERSION_STRING "0.1.0"

#define PB_FOREVER ((int64_t)-1) /* timeouts are int64_t nanoseconds; 0 polls */

/* 0 or a negative code; pb_strerror(code) names it */
enum {
    PB_EINVAL = -EINVAL,
    PB_ENOMEM = -ENOMEM,
    PB_ENOENT = -ENOENT,
    PB_ETIMEDOUT = -ETIMEDOUT,
    PB_ECANCELED = -ECANCELED,
    PB_ESHUTDOWN = -ESHUTDOWN,
    PB_ETASK = -1001,   /* the task reported failure */
    PB_EBROKEN = -1002, /* its worker died (signal or exit), or the pool is broken */
    PB_EKILLED = -1003, /* it ran past task_timeout; its worker was killed */
    PB_EOF = -1004,     /* an iterator is exhausted */
    PB_ENOTSUP = -ENOTSUP /* this backend cannot do that */
};

/* A static, human-readable name for a code: PB_E* codes, any other negative
 * errno value (as strerror would name it), or "success" for 0. Never NULL. */
const char *pb_strerror(int code);

typedef struct pb_pool pb_pool;
typedef struct pb_future pb_future;
typedef struct pb_task pb_task;
typedef struct pb_task_ctx pb_task_ctx;

/* ------------------------------------------------------------------------
 * Tasks
 *
 * A task is a named function. Tasks are found by name, so a worker process
 * (fork or exec backend) can run them: the name travels, not the pointer.
 * ------------------------------------------------------------------------ */

typedef void (*pb_task_fn)(pb_task_ctx *ctx, const void *arg, size_t len);

/* Defines `static void name(pb_task_ctx *ctx, const void *arg, size_t len)`
 * and registers it as "name" when the program is loaded, before main() runs,
 * so every worker program image knows it too. Two PB_TASKs with one name in
 * one program are a programming error: the program aborts at load time. */
#define PB_TASK(name)                                                         \
    static void name(pb_task_ctx *ctx, const void *arg, size_t len);          \
    __attribute__((constructor)) static void pb__register_task_##name(void)   \
    {                                                                         \
        pb__task_register_static(#name, name);                                \
    }                                                                         \
    static void name(pb_task_ctx *ctx __attribute__((unused)),                \
                     const void *arg __attribute__((unused)),                 \
                     size_t len __attribute__((unused)))

/* Registers fn under name. Returns 0, PB_EINVAL (NULL or empty name, NULL fn,
 * name already registered, name longer than 255 bytes) or PB_ENOMEM.
 * Tasks registered after main() starts are unknown to exec workers (a fresh
 * program image only knows what registers itself at load time, or before it
 * calls pb_worker_main_if_requested()). */
int pb_task_register(const char *name, pb_task_fn fn);

/* The registered task called name, or NULL if there is none. The pointer is
 * valid for the life of the program. */
const pb_task *pb_task_find(const char *name);

/* The task's name (never NULL). */
const char *pb_task_name(const pb_task *task);

/* Inside a task: sets its result to a copy of data[0..len). Called again, the
 * later result replaces the earlier. Returns 0 or PB_ENOMEM. */
int pb_task_return(pb_task_ctx *ctx, const void *data, size_t len);

/* Inside a task: marks it failed with code (any int the task chooses; the
 * caller sees it as pb_error.task_code) and a printf-style message. The future
 * then fails with PB_ETASK. Returns PB_ETASK, so `return pb_task_fail(...)`
 * reads naturally in helpers. */
int pb_task_fail(pb_task_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Nested tasks.
 *
 * A task may submit subtasks to the pool that runs it and wait for them
 * (fork-join recursion, a tree of tasks): pb_task_pool(ctx) is that pool.
 * Many pools deadlock here — every worker waits for a subtask queued behind
 * it, and nobody is left to run it. The `thread` backend does not: a task
 * of a pool waiting in pb_future_result() or pb_future_error() (and so in
 * pb_map_next()) for another future of the same pool helps while it waits
 * (help-while-waiting): its worker runs the pool's queued tasks, one at a
 * time, until the future it waits for is done or its timeout passes. So a
 * waiting task's result may come a little after its future is done (the
 * worker finishes the task it took first), and a worker may run a task in
 * the middle of another. pb_wait() and as_completed do not help: in a task,
 * wait for subtasks one by one with pb_future_result(). Other backends that
 * run tasks in threads of this process (the adapters) give the pool too,
 * and block while waiting, as their library does: whether they deadlock is
 * what poolbench's `nested` scenario measures. (A backend helps when it
 * fills pb_backend.help: pb/backend.h.)
 *
 * A task that runs in a worker process (fork, exec, mpi, and Python's
 * process pools) has no handle to its pool: pb_task_pool() is NULL there,
 * and pb_submit() on a pool created before a fork() — the copy a forked
 * worker inherits, which has none of its workers — returns PB_ENOTSUP. A
 * pool belongs to the process that created it; a task may create and use a
 * pool of its own anywhere.
 */

/* Inside a task: the pool running it, for submitting subtasks to (see
 * above), or NULL when there is none to submit to: the task runs in a
 * worker process, or outside any pool (pb_task_run). */
pb_pool *pb_task_pool(pb_task_ctx *ctx);

/* ------------------------------------------------------------------------
 * Pools
 * ------------------------------------------------------------------------ */

typedef struct pb_pool_opts {
    int workers;                   /* 0: one per PU of the allowed cpuset (mpi: one
                                      per worker rank of the MPI job) */
    const char *pin;               /* "none" (default), "compact", "scatter", or "0,2-3" */
    const char *initializer;       /* task run once in each worker first; NULL: none */
    const void *init_arg;
    size_t init_len;
    unsigned max_tasks_per_worker; /* 0: unlimited; a worker is replaced after N tasks */
    int64_t task_timeout;          /* 0: none; an overdue task's worker is killed */
    const char *worker_program;    /* exec: program run as worker; NULL: this program */
    const char *options;           /* the backend's own settings, "key=value,key=value"
                                      (`poolbench list` shows each backend's); NULL: none */
} pb_pool_opts;

/* Fills opts with the defaults (all zero/NULL: one worker per PU, no pinning). */
void pb_pool_opts_init(pb_pool_opts *opts);

/* Creates a pool of the named backend. opts may be NULL (defaults); its strings
 * and init_arg are copied. On success *out is the caller's pool (destroy it).
 * backend is a name, optionally followed by the backend's own settings:
 * "fork:transport=shm,prefetch=2" is the same as backend "fork" with
 * opts->options "transport=shm,prefetch=2" (both may be given; a key may
 * appear once in all). Returns 0 or:
 *   PB_ENOENT   unknown backend, unknown initializer task, or (exec) a worker
 *               program that does not exist;
 *   PB_EINVAL   workers < 0, a bad pin string, task_timeout < 0, an options
 *               string that is not key=value,... , a key the backend does not
 *               take or a value it refuses;
 *   PB_ENOTSUP  an option this backend cannot honour (pb_pool_last_error()
 *               says which);
 *   PB_ENOMEM, or another negative errno from starting workers. */
int pb_pool_create(const char *backend, const pb_pool_opts *opts, pb_pool **out);

/* A human-readable explanation of the last pb_pool_create() failure in the
 * calling thread ("" if none), or of a pb_submit() or pb_map_new() that
 * returned PB_ENOTSUP (it names what the backend cannot run). Valid until the
 * next such failure in this thread. */
const char *pb_pool_last_error(void);

/* The names of every backend (built in, then registered), NULL-terminated.
 * The array is valid until the next pb_backend_register(). */
const char *const *pb_backend_names(void);

/* A one-line description of the named backend, or NULL if unknown (or a
 * module backend that cannot be loaded, or one that cannot be used in this
 * process, like mpi outside an MPI launcher: pb_pool_last_error() says why).
 * Here and below, a backend name may carry settings ("fork:transport=shm");
 * only the name before ':' is looked up. */
const char *pb_backend_summary(const char *backend);

/* Why the named backend cannot honour option (a pb_pool_opts field name:
 * "task_timeout", "max_tasks_per_worker", "initializer", "pin",
 * "worker_program"), or NULL when it can or the backend is unknown.
 * pb_pool_create() refuses such an option with PB_ENOTSUP, quoting this. */
const char *pb_backend_unsupported(const char *backend, const char *option);

/* Why the named backend is documented to fail check `check` of benchmark
 * scenario `scenario` by the design of the library it adapts (backend.h,
 * pb_departure), or NULL when it is not (or the backend is unknown). */
const char *pb_backend_departure(const char *backend, const char *scenario, const char *check);

/* The number of workers the pool runs. */
int pb_pool_workers(const pb_pool *pool);

/* The name of the pool's backend. */
const char *pb_pool_backend(const pb_pool *pool);

/* Whether the pool's hand-offs spin: a worker waiting for work, or a caller
 * waiting for a result, busy-waits a few microseconds before it sleeps.
 * Such a pool answers sooner than one that sleeps at once, and pays in CPU
 * time; the spinning is bounded and an idle pool sleeps. The harness holds a
 * spinning pool's round trip against the machine's spinning floor
 * (spin_pingpong) and a sleeping pool's against the sleeping one (futex or
 * pipe ping-pong). false for NULL. */
bool pb_pool_spins(const pb_pool *pool);

/* Writes into buf (NUL-terminated, truncated to size) the CPUs worker i is
 * actually bound to, as a list like "0,2-3", or "" when it is not bound.
 * Returns 0, PB_EINVAL (i out of range) or PB_ENOTSUP (the backend cannot
 * tell). */
int pb_pool_binding(const pb_pool *pool, int worker, char *buf, size_t size);

/* Writes into buf (NUL-terminated) what the pool's backend says its results
 * should carry beside the figures, as one JSON object: the settings of the
 * library underneath and where the workers run (the mpi backend: ranks per
 * host, PUs, thread level, MCA settings, how idle ranks wait). A member
 * "untrusted" (a string) says why timings of this pool cannot be trusted on
 * this machine (more ranks spinning than PUs); the harness then marks the
 * metrics of that backend untrusted. Returns the length, PB_EINVAL (NULL
 * arguments, or buf too small) or PB_ENOTSUP (the backend says nothing). */
int pb_pool_describe(const pb_pool *pool, char *buf, size_t size);

/* A figure the backend keeps that the futures API cannot show. Names a
 * backend may answer:
 *   "gil_wait_ns"         the nanoseconds the calling thread has waited, in
 *                         all, for Python's global interpreter lock in its
 *                         calls into Python pools (py-* backends);
 *   "switch_interval_ns"  Python's thread switch interval
 *                         (sys.getswitchinterval()).
 * Returns 0 with *value set, PB_ENOTSUP (the backend does not keep it) or
 * PB_EINVAL. */
int pb_pool_stat(const pb_pool *pool, const char *name, int64_t *value);

/* The process ids of the pool's worker processes alive now (fork and exec
 * workers, a Python process pool's workers), for whoever accounts for the
 * CPU time and memory a pool spends (the harness reads /proc/<pid>). Writes
 * up to max of them into pids and returns how many there are (which may be
 * more than max; a worker being replaced is left out until its successor
 * runs), PB_ENOTSUP when the backend cannot tell (a pool whose workers are
 * threads), or PB_EINVAL. */
int pb_pool_worker_pids(const pb_pool *pool, pid_t *pids, int max);

/* Stops accepting work. wait: block until every running and queued task has
 * finished. cancel_futures: cancel every future still PENDING before this
 * returns (their callbacks run in this thread). wait=false still lets queued
 * work run unless cancel_futures. Repeatable; a later call may add wait or
 * cancel_futures. Returns 0. */
int pb_pool_shutdown(pb_pool *pool, bool wait, bool cancel_futures);

/* Shuts down (wait) if needed and frees the pool. Afterwards every future of
 * the pool is done, and no thread, child process or fd of the pool is left.
 * NULL is a no-op. Must not race with other calls on the same pool. */
void pb_pool_destroy(pb_pool *pool);

/* A run of bytes: an argument of pb_submit_many() and pb_map_new(). */
typedef struct pb_bytes {
    const void *data;
    size_t len;
} pb_bytes;

/* Submits task with a copy of arg[0..len) (NULL with len 0 is an empty
 * argument). On success *out is a new reference owned by the caller
 * (pb_future_release() it). Returns 0 or PB_EINVAL (NULL pool/task/out, NULL
 * arg with len > 0), PB_ESHUTDOWN (after shutdown), PB_EBROKEN (the pool is
 * broken: its initializer failed), PB_ENOTSUP (the backend cannot run this
 * task, say a Python pool that has no Python twin of it, or the pool was
 * created by the process this one was forked from — see "Nested tasks":
 * pb_pool_last_error() says which), PB_ENOMEM. */
int pb_submit(pb_pool *pool, const pb_task *task, const void *arg, size_t len,
              pb_future **out);

/* Submits task n times at once, the i-th with a copy of args[i] (args NULL:
 * every argument empty): out[i] is the i-th future, a new reference owned by
 * the caller. One call costs far less than n pb_submit() calls (one lock and
 * one hand-off to each worker for the whole batch). Returns 0 with every
 * out[i] set; or a negative code as pb_submit(), with every out[i] NULL:
 * nothing was submitted. (A pool plugged in from outside whose backend has
 * no batch submit gets one pb_submit per task, and a failure midway leaves
 * the futures already submitted in out and the others NULL; release them
 * all as usual: pb_future_release(NULL) is a no-op.) n = 0 returns 0. */
int pb_submit_many(pb_pool *pool, const pb_task *task, const pb_bytes *args, size_t n,
                   pb_future **out);

/* ------------------------------------------------------------------------
 * Futures
 * ------------------------------------------------------------------------ */

/* PENDING: queued in the pool. RUNNING: handed to a worker — running, or
 * waiting in that worker's own queue (a process pool's workers hold a few
 * tasks ahead when tasks are short: the `prefetch` setting); it runs exactly
 * once, and cannot be cancelled any more. A ready task never waits behind a
 * running one while another worker is idle. */
typedef enum { PB_PENDING, PB_RUNNING, PB_CANCELLED, PB_FINISHED } pb_state;

pb_state pb_future_state(const pb_future *f);
bool pb_future_done(const pb_future *f); /* FINISHED or CANCELLED */
bool pb_future_running(const pb_future *f);
bool pb_future_cancelled(const pb_future *f);

/* Cancels a PENDING future: it becomes CANCELLED and done, its waiters wake and
 * its callbacks run in this thread before this returns. Returns true if the
 * future is cancelled (now or already), false if it is running or finished. */
bool pb_future_cancel(pb_future *f);

/* Waits up to timeout for f to be done. (On a pool whose workers are other
 * processes the waiting thread reads the pool's results itself, so the
 * result reaches it in one wake-up fewer; callbacks still run where
 * pb_future_add_done_callback() says.) Returns:
 *   0             finished; *data and *len (either may be NULL) hold the result,
 *                 valid until the future's last release;
 *   PB_ETIMEDOUT  not done yet; nothing written, the future unchanged;
 *   PB_ECANCELED  cancelled;
 *   PB_ETASK, PB_EBROKEN, PB_EKILLED  failed (pb_future_error() says more);
 *   PB_EINVAL     NULL f or a bad timeout. */
int pb_future_result(pb_future *f, int64_t timeout, const void **data, size_t *len);

typedef struct pb_error {
    int code;            /* 0 if the task succeeded, else PB_ETASK/EBROKEN/EKILLED/ECANCELED */
    int task_code;       /* PB_ETASK: the code the task passed to pb_task_fail */
    int signal;          /* PB_EBROKEN: the signal that killed the worker, or 0 */
    int exit_status;     /* PB_EBROKEN: the worker's exit status if it exited */
    const char *message; /* human-readable ("" on success); valid until the last release */
} pb_error;

/* Waits up to timeout for f to be done, then fills *err. Returns 0 (done;
 * err->code tells the outcome, PB_ECANCELED for a cancelled future),
 * PB_ETIMEDOUT (nothing written) or PB_EINVAL. */
int pb_future_error(pb_future *f, int64_t timeout, pb_error *err);

typedef struct pb_times {
    int64_t submitted, started, ended, completed;
} pb_times;

/* CLOCK_MONOTONIC ns: submit called; task began and ended (in the worker); the
 * caller's side saw it complete. 0 where not (yet) known; a cancelled future
 * has submitted and completed only. Returns 0 or PB_EINVAL. */
int pb_future_times(const pb_future *f, pb_times *t);

/* Where f's completion falls in the order in which the futures core saw
 * futures of this process become done: one process-wide counter, taken as f
 * became done (*first) and again once every pb_wait or as_completed waiting
 * on f had been told (*last; equal to *first when none was waiting). For
 * two futures f and g, last(f) < first(g) means f was done, and every
 * waiter had heard of it, before g began to complete: an as_completed
 * iterator waiting on both must yield f first. Unlike timestamps, this
 * order cannot be blurred by a thread preempted between its clock read and
 * its notification. Returns 0 with both written once f is done, PB_EINVAL
 * (NULL, or f not done: nothing written). */
int pb_future_completion_order(const pb_future *f, uint64_t *first, uint64_t *last);

typedef void (*pb_done_fn)(pb_future *f, void *ud);

/* Adds a callback run once when f is done, in the order added. It runs in the
 * thread that completes f (a worker thread, a process backend's collector, the
 * thread cancelling it or shutting the pool down), or here and now if f is
 * already done and its earlier callbacks have run (if the completing thread
 * is still running them, this one runs there, right after them, so the order
 * always holds). It may read f and retain/release it; it must not block.
 * Returns 0, PB_EINVAL or PB_ENOMEM. */
int pb_future_add_done_callback(pb_future *f, pb_done_fn cb, void *ud);

/* Reference counting: a future is freed at its last release. NULL is a no-op. */
void pb_future_retain(pb_future *f);
void pb_future_release(pb_future *f);

typedef enum { PB_FIRST_COMPLETED, PB_FIRST_EXCEPTION, PB_ALL_COMPLETED } pb_return_when;

/* Waits until the condition holds or the timeout passes: FIRST_COMPLETED, one
 * done; FIRST_EXCEPTION, one failed (ETASK, EBROKEN, EKILLED; a cancelled one is
 * done but not an exception) or all done; ALL_COMPLETED, all done. (A future of
 * a backend that notices cancels late, as Python's executors do, counts as
 * cancelled here only once its pool has noticed: pb/backend.h.) Returns the
 * number of distinct futures done when it returns (never an error on timeout),
 * or PB_EINVAL (NULL fs with n > 0, a NULL entry, bad when or timeout).
 * n = 0 returns 0 at once. Takes no references. */
int pb_wait(pb_future *const *fs, size_t n, pb_return_when when, int64_t timeout);

typedef struct pb_as_completed pb_as_completed;

/* An iterator over fs in completion order: the ones already done first, each
 * future once however often it appears (a cancel counts as pb_wait says). It holds its own reference to each
 * future until it yields it or is freed. The deadline counts from here.
 * Returns 0, PB_EINVAL or PB_ENOMEM. */
int pb_as_completed_new(pb_future *const *fs, size_t n, int64_t timeout,
                        pb_as_completed **out);

/* Yields the next done future into *f (borrowed: the caller's own reference,
 * or retain it). Returns 0, PB_EOF (all yielded), PB_ETIMEDOUT (the deadline
 * passed; every later call returns PB_ETIMEDOUT at once) or PB_EINVAL. */
int pb_as_completed_next(pb_as_completed *it, pb_future **f);

/* Frees the iterator and its remaining references. NULL is a no-op. */
void pb_as_completed_free(pb_as_completed *it);

typedef struct pb_map pb_map;

/* pb_map_new()'s chunksize that picks one as multiprocessing.Pool.map does. */
#define PB_MAP_CHUNK_AUTO ((size_t)0)

/* The chunk size PB_MAP_CHUNK_AUTO picks for n items on pool: n divided by
 * four times the pool's workers, rounded up, at least 1 — so each worker
 * gets about four chunks, enough to even out chunks that take unequal time,
 * few enough that the hand-off per chunk does not count. For 1,000,000
 * items on 2 workers: 125,000. */
size_t pb_map_chunksize(const pb_pool *pool, size_t n);

/* The same for n items on `workers` workers (less than 1 counts as 1), for
 * what has no pool: a library's own loop that chunks as map would. */
size_t pb_map_chunksize_for(int workers, size_t n);

/* Ordered map: submits task over every args[i] at once (copied), chunksize
 * items per unit of work (a chunk travels to a worker as one piece;
 * PB_MAP_CHUNK_AUTO: pb_map_chunksize(pool, n)). The deadline (timeout)
 * counts from here. Returns 0, PB_EINVAL (NULL pool, task or out; NULL args
 * with n > 0; bad timeout), PB_ESHUTDOWN, PB_EBROKEN or PB_ENOMEM. */
int pb_map_new(pb_pool *pool, const pb_task *task, const pb_bytes *args, size_t n,
               size_t chunksize, int64_t timeout, pb_map **out);

/* The next result, in submission order. Returns 0 (*data and *len hold it), the
 * item's own error code (PB_ETASK, PB_EBROKEN, PB_EKILLED, PB_ECANCELED; *err,
 * if not NULL, says more; iteration goes on), PB_ETIMEDOUT (the deadline
 * passed: the rest is cancelled and every later call returns PB_ETIMEDOUT) or
 * PB_EOF. data and err->message stay valid until the next pb_map_next() or
 * pb_map_free(). */
int pb_map_next(pb_map *m, const void **data, size_t *len, pb_error *err);

/* Cancels what is still pending, releases the rest without waiting for what
 * runs, and frees the map. NULL is a no-op. */
void pb_map_free(pb_map *m);

/* First thing in main(): when this process was started as an exec-backend
 * worker it runs the worker loop and exits; otherwise it returns 0 at once.
 * Under an MPI launcher (mpiexec -n W+1 PROGRAM ...) it also makes the MPI
 * job the mpi backend's: it initialises MPI (MPI_THREAD_MULTIPLE, unless the
 * program did so first) in every rank; ranks 1..W become workers that run
 * tasks until rank 0 finishes (at its exit, or its own MPI_Finalize) and then
 * exit; rank 0 returns 0 and runs the program. A negative code (with
 * pb_pool_last_error() saying why) means MPI could not be set up; the
 * program should then exit, since every rank would run it as rank 0. */
int pb_worker_main_if_requested(int argc, char **argv);

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t pb_now_ns(void);

/* Internal: the registration hook PB_TASK expands to. */
void pb__task_register_static(const char *name, pb_task_fn fn);

#ifdef __cplusplus
}
#endif

#endif /* PB_POOL_H */
