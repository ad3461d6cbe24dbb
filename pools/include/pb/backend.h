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
 * "worker_program"), or "crash_recovery" for a backend whose worker's death
 * takes the whole program down with it (the mpi backend: a dead rank ends
 * the MPI job), so that no one makes a worker crash on purpose; reason is a
 * phrase that completes "not supported (...)": "a thread cannot be
 * killed". */
typedef struct pb_unsupported {
    const char *option;
    const char *reason;
} pb_unsupported;

/* A check of a benchmark scenario that this backend fails by the design of
 * the library it adapts, not by a bug (Python's ProcessPoolExecutor breaks
 * the whole pool when a worker dies; a multiprocessing.Pool never hears of
 * it): the case is still recorded as failed, with the library's own error,
 * and marked with `why` as a documented departure, which does not fail the
 * run (results/FORMAT.md). The benchmark's counterpart of the conformance
 * suite's departures tables (tests/conformance/departures/). */
typedef struct pb_departure {
    const char *scenario; /* "faults" */
    const char *check;    /* "exactly_one_failed" */
    const char *why;      /* a phrase: "a worker's death breaks the whole pool" */
} pb_departure;

/* One setting a backend takes through pb_pool_opts.options ("key=value"). */
typedef struct pb_backend_option {
    const char *key;          /* "transport" */
    const char *values;       /* what it takes, for `list`: "socket|shm", "count" */
    const char *default_text; /* the value when not given (NULL: none) */
    const char *description;  /* one line */
} pb_backend_option;

/* ---- The library's own loop: the reference of the "adapter tax" ----
 *
 * A backend that adapts another library (GLib, libuv, oneTBB, OpenMP, Asio,
 * or a user's own) may also drive that library through the library's own
 * API, with no pb_future in between: the speed a program written for that
 * library gets. The `native` scenario (bench/scenarios/native.c) runs it in
 * the same run as the adapter's cases, and the harness holds the adapter's
 * round trip, burst, chunked burst and METG against it: adapter result ÷
 * native result, the "adapter tax" (results/FORMAT.md, `ratio_to_native`).
 *
 * The job is one of two measurements:
 *   PB_NATIVE_BURST      push n tasks as fast as the library takes them,
 *                        then wait until all n have run, counting
 *                        completions the way a program of that library
 *                        would (a counter, the library's own wait); elapsed
 *                        is from before the first push to after the caller
 *                        saw the last completion.
 *   PB_NATIVE_ROUNDTRIP  n times: one task, and the caller waiting for it
 *                        through the library's own completion mechanism
 *                        (a GAsyncQueue, libuv's after_cb on the loop,
 *                        oneTBB's task_arena::execute, OpenMP's taskwait,
 *                        an Asio std::future); times[i] is the i-th round
 *                        trip in ns, from before handing the task over to
 *                        after the caller got it back.
 * A task is job->task(job->ud, i), called exactly once for each i in
 * [0, n) in one of the library's threads: that call is the task's whole
 * body (the scenario checks that every i ran). A library whose workers are
 * other processes (MPI ranks, an interpreter's worker processes) cannot
 * call it: its loop does what the task stands for itself — `chunk` items
 * per task, each busy on the monotonic clock for `spin` ns (0: nothing) —
 * and reports in `completed` how many tasks ran. Before measuring, run
 * `warmup` round trips of an empty task (threads started and awake).
 */
typedef enum pb_native_kind { PB_NATIVE_BURST, PB_NATIVE_ROUNDTRIP } pb_native_kind;

typedef struct pb_native_job {
    pb_native_kind kind;
    size_t n;                         /* tasks of the burst, or round trips */
    size_t warmup;                    /* unmeasured round trips first */
    void (*task)(void *ud, size_t i); /* the body of task i */
    void *ud;
    int64_t spin;                     /* what task i does, for workers that */
    size_t chunk;                     /* cannot call it: chunk x spin ns */
    int64_t *times;                   /* ROUNDTRIP: n entries, filled in */
    int64_t elapsed;                  /* BURST, out: ns */
    int threads;                      /* out: how many threads (or processes) ran tasks */
    size_t completed;                 /* out, workers in other processes: tasks run */
} pb_native_job;

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

    /* Optional: the scenario checks this backend is documented to fail
     * (pb_departure), ended by an entry whose scenario is NULL. */
    const pb_departure *departures;

    /* Optional: the settings this backend takes through pb_pool_opts.options
     * (or "name:key=value" in the backend name), ended by an entry whose key
     * is NULL. The core refuses a key not listed here (PB_EINVAL) before
     * create(); create() reads values with pb_pool_option() and refuses a
     * value it cannot use (PB_EINVAL, with pb_backend_error()). */
    const pb_backend_option *options;

    /* Optional: NULL when pools of this backend can be created in this
     * process; otherwise why not, in one line that says what to do instead
     * (the mpi backend outside an MPI launcher: "run it as mpiexec -n
     * <workers+1> ..."). pb_backend_summary() then returns NULL with this as
     * pb_pool_last_error(), so `poolbench run` leaves the backend out of
     * "every backend" with a note and refuses it when named, and
     * pb_pool_create() fails with PB_ENOTSUP quoting it. The table itself
     * stays visible to pb_backend_find(), so `poolbench list` still shows
     * what the backend is and what it cannot do. */
    const char *(*unavailable)(void);

    /* Optional: how many workers workers=0 means for this backend, when it
     * is not one per PU of the caller's allowed cpuset (the mpi backend: the
     * worker ranks of the MPI job). Called only while available. */
    int (*default_workers)(void);

    /* Optional: facts about this pool that its results should carry (the
     * settings of the library underneath, where its workers run), as one
     * JSON object written NUL-terminated into buf; see pb_pool_describe().
     * Returns the length written, or PB_EINVAL when size is too small. */
    int (*describe)(void *state, char *buf, size_t size);

    /* Optional: the library's own loop (see above), for backends over
     * another library. opts is as for create() (workers resolved, pin
     * checked; initializer and time limits do not apply). Set the library
     * up as its programs do with opts->workers threads where the library
     * can be told (job->threads says how many it really ran), run the job,
     * and tear everything down before returning: no thread, child or fd of
     * the job may be left but what the library keeps for the process (as
     * keeps_threads says). Returns 0, PB_ENOTSUP (a pin the loop cannot
     * honour, with pb_backend_error() saying why), PB_ENOMEM or another
     * negative code. NULL: the backend is a pool of its own (thread, fork,
     * exec), whose native speed is the adapter-free one already. */
    int (*native)(const pb_pool_opts *opts, pb_native_job *job);

    /* With native: one line for `poolbench list`, what the loop does
     * ("g_thread_pool_push; round trips through a GAsyncQueue"). */
    const char *native_summary;

    /* Optional: a figure this backend keeps, as pb_pool_stat() (pool.h)
     * names them. Returns 0 with *value, or PB_ENOTSUP for a name it does
     * not keep. NULL: PB_ENOTSUP for every name. */
    int (*stat)(void *state, const char *name, int64_t *value);

    /* Optional: the process ids of this pool's worker processes alive now,
     * as pb_pool_worker_pids() (pool.h) hands them out: up to max into
     * pids, returning how many there are (which may be more than max), or a
     * negative code. A pool whose workers are threads leaves it NULL. The
     * harness also finds, without asking, every process descending from its
     * own, so this is a cross-check and a guide, not the only way a pool's
     * processes are found. */
    int (*worker_pids)(void *state, pid_t *pids, int max);

    /* Optional: true for a pool whose own futures tell wait() and
     * as_completed() about a cancel only when the pool takes the cancelled
     * future off its queue, as Python's concurrent.futures does (a future
     * cancelled while queued counts for them once a worker reaches it; one
     * cancelled by shutdown(cancel_futures) never does). pb_wait and
     * pb_as_completed then treat this backend's futures the same way: a
     * cancelled one counts as done for them only after the backend calls
     * pb_future_cancel_noticed(). The future's state, result, error and
     * callbacks see the cancel at once, as in Python. false (default):
     * a cancelled future is done everywhere at once. */
    bool cancel_noticed_late;

    /* Optional: help for nested tasks. Runs one task queued in this pool, now,
     * in the calling thread — claim it (pb_future_set_running, skipping a
     * cancelled one), run it (pb_future_run) and release it, as a worker
     * would — and returns true; returns false at once when nothing is
     * queued. The core calls it only from a thread that is running a task of
     * this pool (inside pb_future_task_run(), so one of the pool's own
     * workers) while that task waits for the result of another future of
     * the same pool (nested tasks: pool.h, "Nested tasks"): the waiting
     * worker runs queued work instead of sleeping, so a pool whose workers
     * all wait on subtasks queued behind them still makes progress. It may
     * recurse (a task run here waits and helps in turn). NULL: a waiting
     * task blocks its worker, and a pool whose workers all wait on queued
     * subtasks deadlocks. */
    bool (*help_nested)(void *state);
} pb_backend;

/* Runs backend's native loop (its `native` function) with opts resolved as
 * pb_pool_create() resolves them (workers 0: one per PU the process may run
 * on; the pin checked; settings of the backend's own from opts->options and
 * the name). Returns what native() returned; PB_ENOTSUP when the backend has
 * none; PB_ENOENT, PB_EINVAL as pb_pool_create(). pb_pool_last_error() says
 * why on failure. */
int pb_native_run(const char *backend, const pb_pool_opts *opts, pb_native_job *job);

/* Within create(): copies into buf (NUL-terminated) the value of the backend
 * setting key: the one given, else its declared default_text. Returns 1 with
 * a value, 0 when there is none (buf gets ""), PB_EINVAL when it does not fit
 * in size bytes. */
int pb_pool_option(const pb_pool_opts *opts, const char *key, char *buf, size_t size);

/* The backend table registered under name (built in or added), or NULL.
 * The glib and libuv adapters are modules loaded on their first lookup; when
 * one cannot be loaded, NULL, and pb_pool_last_error() says why. */
const pb_backend *pb_backend_find(const char *name);

/* For a backend built as a loadable module (the glib, libuv and mpi
 * adapters): the address of another symbol the module exports, such as the
 * mpi module's floor measurements (pb/mpi.h), loading the module if need be.
 * NULL when the backend is not a module, cannot be loaded, or has no such
 * symbol. */
void *pb_backend_symbol(const char *backend, const char *symbol);

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

/* For a backend with cancel_noticed_late: its pool has taken the cancelled
 * future f off its queue, so pb_wait and as_completed now count f as done.
 * Does nothing for a future that is not cancelled or already noticed. */
void pb_future_cancel_noticed(pb_future *f);

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

/* Runs f's task on f's argument in the calling thread and fills *out, as
 * pb_task_run() does, as a task of f's pool: inside it pb_task_pool() is
 * that pool, and a wait for another future of that pool may help (the
 * backend's `help_nested`). A backend whose workers are threads of this process
 * runs tasks through this (or pb_future_run), so that nested tasks work on
 * it; f must be RUNNING (pb_future_set_running) and is not released. */
void pb_future_task_run(pb_future *f, pb_outcome *out);

/* The whole step of a worker that is a thread of this process: claims f
 * (pb_future_set_running), runs its task in the calling thread
 * (pb_future_task_run) and completes f with the outcome
 * (pb_future_complete). Returns false, doing nothing, if f was cancelled
 * while queued. Does not release f. */
bool pb_future_run(pb_future *f);

#ifdef __cplusplus
}
#endif

#endif /* PB_BACKEND_H */
