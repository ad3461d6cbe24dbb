/*
 * workloads.h — the task functions scenarios submit (bench/workloads.c).
 *
 * Every workload is a PB_TASK, registered by name when the program loads, so
 * the same function runs in a thread worker, a forked worker and an exec'd
 * copy of poolbench. Arguments and results are raw bytes in this machine's
 * byte order (every worker runs on this machine).
 *
 *   noop      does nothing; empty result.
 *   spin      busy for N ns (argument: int64_t N), looping on the monotonic
 *             clock — the clock is the calibration, so N ns of CPU time are
 *             spent whatever the CPU's speed. Returns its argument.
 *   sleep     sleeps N ns (argument: int64_t N) to an absolute deadline.
 *             Returns its argument.
 *   echo      returns its argument.
 *   checksum  returns the 64-bit FNV-1a hash of its argument (uint64_t).
 *   fail      fails with the int32_t code in its argument (1 when empty) and
 *             the message pb_workload_fail_message() formats.
 *   report    returns a pb_report: the CPU it ran on, its pid and thread id.
 *   crash     kills its worker: argument "segv" (a real invalid access),
 *             "abort", or "exit" (_exit(3)). Core dumps are disabled first.
 *             Only for workers in another process.
 *   hang      never returns (sleeps until task_timeout kills its worker, or
 *             the run is interrupted); for task_timeout.
 *   work      one task of a task shape (below): argument a pb_work, the
 *             kind of work and its length. Returns nothing.
 *   nest      a nested task: submits subtasks to its own pool and waits for
 *             them (below). Returns a pb_nest_result.
 *
 * Interruption. A run must end soon after Ctrl-C or SIGTERM, yet `spin`,
 * `sleep` (and the spin of `report`) may be asked for up to an hour, and
 * `hang` for ever. So they watch a stop flag, and end early — failing with
 * code EINTR, "interrupted" — once pb_workloads_interrupt() was called. The
 * flag must reach tasks wherever they run: in this process (threads), in
 * workers forked from it, and in exec'd workers, which are fresh images. So
 * pb_workloads_share_stop() puts it in a shared memory page (a memfd, mapped
 * shared) before any pool exists: forked workers inherit the mapping, and an
 * exec'd worker — told the fd's number in POOLBENCH_WORKLOAD_STOP_FD, the fd
 * being inherited — maps it read-only at load time, after checking that the
 * fd is that memfd, then closes it and drops the variable, so nothing it
 * starts inherits either. (Other programs the process starts meanwhile
 * inherit the fd too; it holds one flag.) Without sharing, the flag is this
 * process's alone.
 *
 *
 * Task shapes. A burst of tasks (throughput, granularity) or an open-loop
 * schedule of them (load) is drawn from a shape: durations from a
 * distribution around a mean (the scenario's granularity), the kind of work
 * each does, and a load imbalance. Every draw comes from pb_rng seeded with
 * the shape's seed and a stream the scenario picks per repetition, so the
 * same seed (a parameter, recorded in the results) gives the same tasks in
 * the same order on every backend and in every run: a run replays exactly.
 *
 *   dist       fixed        every task takes the mean g;
 *              uniform      uniform in [0, 2g];
 *              exponential  exponential with mean g;
 *              bimodal      9 short : 1 long, the long 10 times the short
 *                           (short = g / 1.9, long = 10 g / 1.9);
 *              pareto       heavy-tailed: Pareto with shape 1.5 (infinite
 *                           variance), scale 0.347 g, clipped at 100 g so
 *                           the mean is g.
 *   kind       spin         busy on the CPU (the clock is the calibration);
 *              memory       streams over a buffer twice the last-level
 *                           cache (pb_workload_buffer_size()), so it waits on
 *                           memory, not the core; a process's first memory
 *                           task also faults the buffer in;
 *              sleep        sleeps, as a task blocked on I/O does;
 *              mix          each task one of the three, drawn evenly.
 *   imbalance  k >= 1: one worker's share of the tasks — every task whose
 *              index is a multiple of the pool's workers, 1 in W — takes k
 *              times its drawn duration (after Task Bench's load-imbalance
 *              kernel); a pool that balances load spreads them.
 *
 * Nested tasks (`nest`, the `nested` scenario). A task submits its subtasks
 * to pb_task_pool() and waits for each with pb_future_result(), to a
 * deadline shared by the whole tree: a wait that passes it finds out why.
 * Subtasks that never started (pb_future_cancel succeeds) mean the pool's
 * workers all wait on work queued behind them: the task fails with task
 * code PB_NEST_DEADLOCK + its depth and a message saying so ("deadlock at
 * depth 2: ..."). A subtask still running gets until the second deadline
 * (`grace`), then the task fails with PB_NEST_TIMEOUT + its depth (slow,
 * not stuck). A subtask's failure fails its parent with the same code and
 * message, so the root reports the deepest wait that gave up; subtasks not
 * yet started are cancelled on the way, and nothing is left waiting once
 * the grace has passed. Where there is no pool to submit to (a worker
 * process: pool.h, "Nested tasks") the task fails with code PB_ENOTSUP.
 *   fib   fib(n): up to `cutoff` computed in the task (the slow way, the
 *         leaves' work); above, subtasks fib(n-1) and fib(n-2), summed
 *         (fork-join, nesting depth n - cutoff).
 *   tree  `depth` levels of `fanout` subtasks each; a leaf spins `leaf` ns.
 * The result: the value (fib's, or the number of leaves), and how many
 * tasks the subtree ran.
 */
#ifndef PB_BENCH_WORKLOADS_H
#define PB_BENCH_WORKLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pb/pool.h>

#include "rng.h"

/* The registered workload called name. An unknown name is a programming
 * error: the program aborts with a message. Referencing this function is
 * also what links workloads.c (and its PB_TASK registrations) into a
 * program. */
const pb_task *pb_workload(const char *name);

/* What the `report` task returns. */
typedef struct pb_report {
    int32_t cpu; /* sched_getcpu(), or -1 */
    int32_t pid;
    int32_t tid;
    int32_t reserved;
    int64_t now; /* pb_now_ns() in the task */
} pb_report;

/* What `spin` does: busy on the monotonic clock for ns (the `native`
 * scenario's tasks spin the same way outside any future). false when the
 * run is being interrupted, which ends the spin early. */
bool pb_workload_spin(int64_t ns);

/* 64-bit FNV-1a over data[0..len): what `checksum` returns. */
uint64_t pb_workload_checksum(const void *data, size_t len);

/* The message `fail` reports for code, written into buf. */
void pb_workload_fail_message(int32_t code, char *buf, size_t size);

/* ---- Task shapes ---- */

typedef enum pb_dist {
    PB_DIST_FIXED,
    PB_DIST_UNIFORM,
    PB_DIST_EXPONENTIAL,
    PB_DIST_BIMODAL,
    PB_DIST_PARETO
} pb_dist;

typedef enum pb_work_kind { PB_WORK_SPIN, PB_WORK_MEMORY, PB_WORK_SLEEP, PB_WORK_MIX } pb_work_kind;

/* The names of the enums above, in their order, NULL-terminated: the words
 * the scenarios' `dist` and `kind` parameters take. */
extern const char *const pb_dist_names[];
extern const char *const pb_work_names[];

/* The argument of `work`: ns of one kind of work (never PB_WORK_MIX: a mix
 * is drawn task by task). */
typedef struct pb_work {
    int64_t ns;
    int32_t kind;
    int32_t reserved; /* 0 */
} pb_work;

typedef struct pb_shape {
    pb_dist dist;
    int64_t mean;      /* ns, >= 0 */
    pb_work_kind kind;
    int64_t imbalance; /* >= 1 */
    int workers;       /* the pool's, for imbalance (>= 1) */
    uint64_t seed;
} pb_shape;

/* Draws the tasks of one shape, one after another. */
typedef struct pb_shaper {
    pb_shape shape;
    pb_rng rng;
    uint64_t index; /* of the next task */
} pb_shaper;

/* Starts drawing tasks of shape from stream `stream` of its seed. */
void pb_shaper_init(pb_shaper *s, const pb_shape *shape, uint64_t stream);

/* The next task: its kind and duration. */
pb_work pb_shaper_next(pb_shaper *s);

/* Whether shape is today's plain burst (fixed spinning tasks, balanced),
 * which scenarios run with `spin` (or `noop` for mean 0) rather than `work`,
 * so their figures stay what they were. */
bool pb_shape_plain(const pb_shape *shape);

/* What `work` does for one pb_work, in the calling thread. */
void pb_workload_run(const pb_work *w);

/* The size of the buffer memory work streams over: twice the last-level
 * cache this process sees (sysfs, else sysconf), between 16 MiB and 512 MiB. */
size_t pb_workload_buffer_size(void);

/* ---- Nested tasks ---- */

typedef enum { PB_NEST_FIB, PB_NEST_TREE } pb_nest_shape;

/* The argument of `nest`. The root has level 0. */
typedef struct pb_nest_arg {
    int32_t shape;    /* pb_nest_shape */
    int32_t level;    /* this task's depth below the root */
    int32_t n;        /* fib: this task's n */
    int32_t cutoff;   /* fib: n up to which the task computes alone */
    int32_t depth;    /* tree: levels below the root */
    int32_t fanout;   /* tree: subtasks per task */
    int64_t leaf;     /* tree: ns a leaf spins */
    int64_t deadline; /* CLOCK_MONOTONIC: a wait past it finds out why */
    int64_t grace;    /* CLOCK_MONOTONIC, >= deadline: the last a running
                         subtask is waited for */
} pb_nest_arg;

typedef struct pb_nest_result {
    int64_t value; /* fib(n), or the leaves of the subtree */
    int64_t tasks; /* tasks of the subtree, this one included */
} pb_nest_result;

/* Task codes of a nested task that gave up, plus the depth it waited at. */
#define PB_NEST_DEADLOCK 100000
#define PB_NEST_TIMEOUT 200000

/* fib(n) computed alone, for checking: what the fib tree returns. */
int64_t pb_nest_fib(int n);

/* Exit status of `crash exit`. */
#define PB_WORKLOAD_EXIT_STATUS 3

/* Puts the stop flag where worker processes started from now on see it
 * (see above). Call once, before any pool is created, while this process
 * has one thread (it sets an environment variable). Returns 0, or a
 * negative errno (the flag then stays this process's own). */
int pb_workloads_share_stop(void);

/* Asks every spin, sleep and hang running or starting from now on to end
 * early. Async-signal-safe: a signal handler may call it. */
void pb_workloads_interrupt(void);

/* Clears the request (a new run in the same process). */
void pb_workloads_resume(void);

/* Whether pb_workloads_interrupt() was called (and not resumed since). */
bool pb_workloads_interrupted(void);

#endif /* PB_BENCH_WORKLOADS_H */
