/*
 * pb/backend.h — adding a pool to poolbench.
 *
 * A backend moves tasks to workers and reports back; everything else — the
 * future state machine, waiting, callbacks, pb_wait, as_completed, map, the
 * shutdown flag, option checking that does not depend on the backend — is the
 * shared futures core. A backend is one file that fills one pb_backend table.
 * Built-in backends are listed in pools/backends.c; anyone else calls
 * pb_backend_register() (before creating pools of that name).
 *
 * The life of a future, seen from a backend
 *   1. submit(state, f): the backend now holds one reference to f. It queues f
 *      and returns 0, or returns a negative code (PB_ESHUTDOWN, PB_EBROKEN,
 *      PB_ENOMEM) without keeping the reference.
 *   2. When a worker takes f: pb_future_set_running(f). false means f was
 *      cancelled meanwhile: skip it (and release it).
 *   3. The worker runs the task: pb_task_run() does that in-process and fills
 *      a pb_outcome, which pb_future_complete() moves into f without copying
 *      (pb_future_run() does steps 2 and 3 in one call).
 *      A backend whose results arrive as bytes (another process) uses
 *      pb_future_set_result() / pb_future_set_error() instead.
 *   4. pb_future_release(f).
 *   A backend whose results must be read by some thread of this process may
 *   also use the thread that waits for one (help(), below), completing
 *   futures there quietly (pb_future_set_result_quiet()) and leaving their
 *   callbacks to its own thread.
 *   Every future a backend accepted must reach a done state by the time
 *   destroy() returns: completed, failed, or cancelled with pb_future_cancel().
 *
 * Threads: submit, cancel and shutdown may be called from any thread,
 * concurrently. destroy is called once, after shutdown(wait=true), with no
 * other call running.
 */
#ifndef PB_BACKEND_H
#define PB_BACKEND_H

#include <pb/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One option a backend cannot honour, and why. option is a pb_pool_opts field
 * name ("task_timeout", "max_tasks_per_worker", "initializer", "pin",
 * "worker_program"); reason is a phrase that completes "not supported
 * (...)": "a thread cannot be killed". */
typedef struct pb_unsupported {
    const char *option;
    const char *reason;
} pb_unsupported;

/* One setting a backend takes through pb_pool_opts.options ("key=value"). */
typedef struct pb_backend_option {
    const char *key;          /* "transport" */
    const char *values;       /* what it takes, for `list`: "socket|shm", "count" */
    const char *default_text; /* the value when not given (NULL: none) */
    const char *description;  /* one line */
} pb_backend_option;

typedef struct pb_backend {
    const char *name;    /* what pb_pool_create() and the harness call it */
    const char *summary; /* one line for `poolbench list` */

    /* Starts the pool. opts is complete: workers >= 1 (the core resolved 0),
     * pin is never NULL, the initializer (if any) exists, timeouts are valid,
     * options holds only keys the backend declared (from opts and the name),
     * each once, with the declared defaults added for keys not given.
     * opts and what it points to are valid only during this call: copy what
     * you keep. Options the backend cannot honour → PB_ENOTSUP, with pb_backend_error()
     * saying which. On success *state is the backend's and *workers the number
     * of workers it runs. */
    int (*create)(const pb_pool_opts *opts, void **state, int *workers);

    /* Queues f (see above). */
    int (*submit)(void *state, pb_future *f);

    /* Optional hint: f, which this backend holds, was just cancelled while
     * pending; the backend may drop it from its queue now instead of skipping
     * it later. Called without any core lock held. NULL: nothing to do. */
    void (*cancel)(void *state, pb_future *f);

    /* Stops accepting work (submit returns PB_ESHUTDOWN from now on). wait:
     * return only once every running and queued task is done. cancel_futures:
     * pb_future_cancel() every queued future before returning. Repeatable. */
    void (*shutdown)(void *state, bool wait, bool cancel_futures);

    /* Frees everything: no thread, child or fd may outlive this call. */
    void (*destroy)(void *state);

    /* Optional: the CPUs worker i is bound to ("" if unbound), as in
     * pb_pool_binding(). NULL: PB_ENOTSUP. */
    int (*binding)(void *state, int worker, char *buf, size_t size);

    /* Optional: NULL, or why this backend's threads outlive its pools (a
     * library whose worker threads are process-wide and cannot be stopped,
     * like libuv's threadpool). The conformance suite then reports "nothing
     * left after destroy" as skipped, with this reason, instead of failing. */
    const char *keeps_threads;

    /* Optional: true when futures are completed by a thread of the caller's
     * process that must be scheduled to deliver each result (a collector
     * reading from worker processes). A waiter then sleeps at once instead of
     * spinning first: on a small machine a spinning waiter keeps that thread
     * off the CPU it needs. false (default): waiters spin briefly, which
     * pays off when the completing thread is already running elsewhere. */
    bool waiter_sleeps;

    /* Optional: a thread is about to block until satisfied(ud) holds (a
     * future of this pool is done) or the absolute CLOCK_MONOTONIC deadline
     * passes (-1: none). A backend whose results must be read by some
     * thread of this process (a collector reading worker processes) may
     * read them in this one meanwhile, so that the result reaches the
     * waiter in two wake-ups (worker, waiter) instead of three (worker,
     * collector, waiter). Returns 1 once satisfied(ud) holds or the
     * deadline passed (the core looks again and may call again), 0 when it
     * cannot use this thread now (the core then waits as usual). It must not
     * run done-callbacks in this thread: pb_future_set_result_quiet() and
     * pb_future_set_error_quiet() leave them for the backend's own thread. Called without any core lock, from
     * any number of threads at once; never after destroy() began. NULL:
     * none. */
    int (*help)(void *state, bool (*satisfied)(void *ud), void *ud, int64_t deadline);

    /* Optional: queues fs[0..n) as submit() does, at once and all or
     * nothing: 0, or a negative code with none of them kept. NULL: the core
     * calls submit() for each. */
    int (*submit_many)(void *state, pb_future *const *fs, size_t n);

    /* Optional: whether this pool's hand-offs spin before they sleep (a
     * worker waiting for work, or a caller waiting for a result, busy-waits
     * a few µs), as pb_pool_spins() reports it; it may depend on the pool's
     * settings. NULL: false. */
    bool (*spins)(void *state);

    /* Optional: the options this backend cannot honour at all, each with its
     * reason, ended by an entry whose option is NULL. The core refuses a pool
     * that sets one of them (PB_ENOTSUP, "<name> backend: <option> is not
     * supported (<reason>)") before create() is called, and `poolbench list`,
     * the conformance skips and the results all quote these words, so they
     * are written once. A limit that depends on the value (more workers than
     * a library's fixed threadpool) stays a check in create(). */
    const pb_unsupported *unsupported;

    /* Optional: the settings this backend takes through pb_pool_opts.options
     * (or "name:key=value" in the backend name), ended by an entry whose key
     * is NULL. The core refuses a key not listed here (PB_EINVAL) before
     * create(); create() reads values with pb_pool_option() and refuses a
     * value it cannot use (PB_EINVAL, with pb_backend_error()). */
    const pb_backend_option *options;
} pb_backend;

/* Within create(): copies into buf (NUL-terminated) the value of the backend
 * setting key: the one given, else its declared default_text. Returns 1 with
 * a value, 0 when there is none (buf gets ""), PB_EINVAL when it does not fit
 * in size bytes. */
int pb_pool_option(const pb_pool_opts *opts, const char *key, char *buf, size_t size);

/* The backend table registered under name (built in or added), or NULL.
 * The glib and libuv adapters are modules loaded on their first lookup; when
 * one cannot be loaded, NULL, and pb_pool_last_error() says why. */
const pb_backend *pb_backend_find(const char *name);

/* Adds a backend from outside the library. The table must live as long as the
 * program. Returns 0, PB_EINVAL (NULL, missing function, empty or duplicate
 * name) or PB_ENOMEM. */
int pb_backend_register(const pb_backend *backend);

/* Within create(): sets the message pb_pool_last_error() will return.
 * Returns code, so `return pb_backend_error(PB_ENOTSUP, "...")` works. */
int pb_backend_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- What a backend may read of a future it holds ---- */

const pb_task *pb_future_task(const pb_future *f);
const void *pb_future_arg(const pb_future *f, size_t *len);

/* One pointer-sized field the backend owns while it holds f (a queue link,
 * the worker it went to, ...). NULL when submit() is called. */
void **pb_future_slot(pb_future *f);

/* ---- Reporting back ---- */

/* PENDING → RUNNING. Returns false if f was cancelled meanwhile (skip it). */
bool pb_future_set_running(pb_future *f);

/* RUNNING (or PENDING) → FINISHED with a copy of data[0..len). started and
 * ended are the worker's CLOCK_MONOTONIC timestamps of the task (0 if
 * unknown). Returns 0, PB_ENOMEM (then f fails with PB_EBROKEN instead), or
 * PB_EINVAL if f was already done (nothing changes). */
int pb_future_set_result(pb_future *f, const void *data, size_t len, int64_t started,
                         int64_t ended);

/* RUNNING (or PENDING) → FINISHED with an error: err->code is PB_ETASK,
 * PB_EBROKEN or PB_EKILLED; task_code, signal, exit_status and message
 * (copied; NULL means "") as in pb_error. Returns 0 or PB_EINVAL (bad code, or
 * f already done). */
int pb_future_set_error(pb_future *f, const pb_error *err, int64_t started, int64_t ended);

/* As pb_future_set_result() / pb_future_set_error(), for a thread that
 * must not run the user's done-callbacks (a waiter the backend uses through
 * help()): waiters are notified and woken, but the callbacks are left for
 * pb_future_run_callbacks(), which the backend must then call from its own
 * thread while holding a reference to f (later callbacks queue behind them,
 * so their order holds). Return 1 when callbacks were left, 0 when there
 * were none, or the negative codes of the functions above. */
int pb_future_set_result_quiet(pb_future *f, const void *data, size_t len, int64_t started,
                               int64_t ended);
int pb_future_set_error_quiet(pb_future *f, const pb_error *err, int64_t started,
                              int64_t ended);
void pb_future_run_callbacks(pb_future *f);

/* ---- Running a task in this process ---- */

typedef struct pb_outcome {
    int code;       /* 0, or PB_ETASK when the task called pb_task_fail() */
    int task_code;  /* PB_ETASK: the task's code */
    void *data;     /* the result (malloc'd, owned by the outcome), or NULL */
    size_t len;
    char *message;  /* PB_ETASK: the message (malloc'd), else NULL */
    int64_t started, ended; /* CLOCK_MONOTONIC around the call */
} pb_outcome;

/* Runs task on arg in the calling thread and fills *out (which need not be
 * initialised). Never fails: an allocation failure inside the task shows up
 * as PB_ETASK with task_code PB_ENOMEM. */
void pb_task_run(const pb_task *task, const void *arg, size_t len, pb_outcome *out);

/* Frees what an outcome owns and zeroes it. */
void pb_outcome_clear(pb_outcome *out);

/* Completes f with the outcome, moving its data and message into f (out is
 * cleared). Returns 0 or PB_EINVAL if f was already done (out is cleared
 * anyway). */
int pb_future_complete(pb_future *f, pb_outcome *out);

/* The whole step of a worker that is a thread of this process: claims f
 * (pb_future_set_running), runs its task in the calling thread (pb_task_run)
 * and completes f with the outcome (pb_future_complete). Returns false, doing
 * nothing, if f was cancelled while queued. Does not release f. */
bool pb_future_run(pb_future *f);

#ifdef __cplusplus
}
#endif

#endif /* PB_BACKEND_H */
