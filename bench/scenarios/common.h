/*
 * common.h — small helpers the scenario files share (bench/scenarios/common.c).
 *
 * They turn a failed API call into a failed case with a message naming the
 * call, so scenario code can stay a straight line: `if ((rc = pbs_submit(...)))
 * return rc;`. None of them is meant for a measured region except where said.
 */
#ifndef PB_BENCH_SCENARIOS_COMMON_H
#define PB_BENCH_SCENARIOS_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "scenario.h"
#include "workloads.h"

/* pb_submit of workload `task`; on failure marks the case failed and returns
 * the code, or, when the backend cannot run the task at all (PB_ENOTSUP: a
 * Python pool without its twin), skipped with the backend's reason, and
 * returns PB_SC_SKIPPED. Cheap enough for measured regions (one lookup of
 * the task is done by the caller: pass the pb_task). */
int pbs_submit(pb_sc *sc, pb_pool *pool, const pb_task *task, const void *arg, size_t len,
               pb_future **out);

/* Waits for f; 0, or marks the case failed with the future's error and
 * returns the code. */
int pbs_result(pb_sc *sc, pb_future *f, const void **data, size_t *len);

/* n round trips of `noop`, unmeasured: wakes workers, faults in code and
 * buffers, so a fresh pool's first tasks do not count as typical. */
int pbs_warm(pb_sc *sc, pb_pool *pool, int n);

/* The pool of a repetition (harness-made); fails the case if there is none. */
pb_pool *pbs_pool(pb_sc *sc);

/* calloc that fails the case on ENOMEM. */
void *pbs_calloc(pb_sc *sc, size_t n, size_t size);

/* Releases fs[0..n) (NULL entries skipped). */
void pbs_release_all(pb_future **fs, size_t n);

/* Sleeps the calling thread for ns (a polite pause while waiting for
 * something that cannot be waited on). */
void pbs_nap(int64_t ns);

/* The outcomes of a scenario's tasks, for its "completed" check: pbs_tally()
 * each task's result code (0: it succeeded) as it comes, cheap enough for a
 * measured loop; pbs_check_completed() once afterwards. */
typedef struct pbs_outcomes {
    size_t total, failed;
    int first; /* the first failure's code */
} pbs_outcomes;

static inline void pbs_tally(pbs_outcomes *o, int rc)
{
    o->total++;
    if (rc && !o->failed++)
        o->first = rc;
}

/* Adds b's tally to a's (a's first failure stays first). */
void pbs_tally_merge(pbs_outcomes *a, const pbs_outcomes *b);

/* Records check "completed": every task tallied succeeded. */
void pbs_check_completed(pb_sc *sc, const pbs_outcomes *o);

/* The as_completed order check (as_completed.c), apart from the scenario so
 * tests can hold it to iterators that get the order wrong. One entry per
 * yield, in yield order: whether the future was seen done before the
 * iterator was created, and its pb_future_completion_order(). */
typedef struct pbs_yield {
    bool done_before;
    uint64_t first, last;
} pbs_yield;

typedef struct pbs_order_evidence {
    size_t early;       /* yields of futures done before the iterator */
    size_t early_after; /* ... that came after a notified one (wrong) */
    size_t notified;    /* yields of futures the iterator was notified of */
    size_t inversions;  /* notified yields after one whose completion began
                           after theirs had ended (wrong) */
} pbs_order_evidence;

void pbs_completion_order_check(const pbs_yield *y, size_t k, pbs_order_evidence *ev);

/* Destroys pool, waiting at most `limit` ns for pb_pool_destroy() to
 * return: a pool whose workers are stuck (nested tasks that never give up)
 * would hold the run forever. Returns 0 when it was destroyed; PB_ETIMEDOUT
 * when it was abandoned instead — its destroy goes on in a thread of its
 * own, blocking no signal the harness needs, and whatever the pool holds
 * stays until the program ends. */
int pbs_destroy_within(pb_pool *pool, int64_t limit);

/* ---- Task shapes (workloads.h): parameters of throughput, granularity
 * and load ---- */

/* The shape parameters, in a scenario's params table. */
#define PBS_SHAPE_PARAMS                                                                          \
    {"dist", PB_PARAM_WORD, "fixed",                                                              \
     "task durations around the granularity: fixed, uniform, exponential, bimodal (9 short : "   \
     "1 long), pareto (heavy tail)",                                                              \
     0, pb_dist_names},                                                                           \
    {"kind", PB_PARAM_WORD, "spin",                                                               \
     "what tasks do: spin (CPU), memory (stream a buffer twice the LLC), sleep (like blocking "  \
     "I/O), mix (each one of those)",                                                             \
     0, pb_work_names},                                                                           \
    {"imbalance", PB_PARAM_COUNT, "1", "one worker's share of the tasks takes k times longer "   \
     "(1: balanced)", 1, NULL},                                                                   \
    {"seed", PB_PARAM_COUNT, "1", "seed of the task draws: the same seed replays the same tasks", \
     0, NULL}

/* Largest imbalance factor accepted (check hooks use it). */
#define PBS_IMBALANCE_MAX 1000

/* The shape the case's parameters describe, with mean duration `mean` on a
 * pool of `workers`. */
void pbs_shape(pb_sc *sc, int64_t mean, int workers, pb_shape *out);

/* The shape parameters checked together with the granularity parameter
 * `mean` (the check hook's share): imbalance at most PBS_IMBALANCE_MAX.
 * Returns 0 or PB_EINVAL with err set. */
int pbs_shape_check(const pb_scenario *s, const pb_param_value *v, char *err, size_t errlen);

/* The tasks of one burst or schedule, drawn before anything is measured. */
typedef struct pbs_tasks {
    const pb_task *task; /* `spin`/`noop` for the plain shape, else `work` */
    size_t n;
    int64_t g;           /* plain shape: every task spins g ns (0: noop) */
    pb_work *works;      /* otherwise: n arguments of `work` */
    double total;        /* ns of work in all n tasks */
} pbs_tasks;

/* Draws n tasks of shape from the stream `stream` of its seed (scenarios
 * pass one per repetition and purpose, pbs_stream()). Returns 0, or
 * PB_ENOMEM with the case failed. */
int pbs_tasks_draw(pb_sc *sc, const pb_shape *shape, size_t n, uint64_t stream, pbs_tasks *t);
void pbs_tasks_free(pbs_tasks *t);

/* The argument of task i. */
static inline const void *pbs_task_arg(const pbs_tasks *t, size_t i, size_t *len)
{
    if (t->works) {
        *len = sizeof t->works[i];
        return &t->works[i];
    }
    *len = t->g ? sizeof t->g : 0;
    return t->g ? &t->g : NULL;
}

/* A stream for pbs_tasks_draw: this repetition's (warm-ups included),
 * told apart by `purpose` (a burst's index in a sweep, say). */
uint64_t pbs_stream(const pb_sc *sc, unsigned purpose);

/* A burst (throughput.c, granularity.c, load.c's capacity): submits the n
 * tasks of t into fs[0..n) as fast as it can — one pb_submit each, or all
 * in one pb_submit_many when many — then takes every result in order;
 * *elapsed is the time from before the first submit to after the last
 * result. Records check "completed". Returns 0 or the submit's error (case
 * failed). */
int pbs_burst(pb_sc *sc, pb_pool *pool, const pbs_tasks *t, bool many, pb_future **fs,
              int64_t *elapsed);

/* Holds every worker busy (submit.c, cancel.c): submits one `sleep` task of
 * hold ns per worker into fs[*k], fs[*k + 1], ... (advancing *k past each
 * one submitted, so the caller releases fs[0..*k)), then waits until each
 * has left PENDING, so that what is queued next waits behind running tasks.
 * Returns 0, or a negative code with the case failed (a submit failed, or a
 * holder was still pending after 10 s). */
int pbs_hold_workers(pb_sc *sc, pb_pool *pool, int64_t hold, pb_future **fs, size_t *k);

/* The burst size for granularity g: min(tasks, work * workers / g), at
 * least 1; tasks when g is 0. */
size_t pbs_burst_size(int64_t tasks, int64_t work, int workers, int64_t g);

/* ---- For floor measurements ---- */

/* Reads or writes exactly len bytes (retrying short transfers and EINTR);
 * false on end of file or an error. Safe in a forked child. */
bool pbs_io(int fd, void *buf, size_t len, bool write_it);

/* A child process joined to the caller by two pipes: each side reads `in`
 * and writes `out`. SIGPIPE is blocked in the calling thread while the child
 * lives (a dying child must not kill poolbench); any pending one is consumed
 * before the mask is restored. */
typedef struct pbs_child {
    pid_t pid;   /* 0 in the child */
    int in, out; /* this side's ends */
    sigset_t old_mask;
} pbs_child;

/* Forks the child, bound where the pools' worker 0 is bound
 * (pb_sc_floor_cpus). Returns 0 in both processes (c->pid tells which), or a
 * negative code with the case failed. The child may only use what is safe
 * after fork() in a threaded process (read, write, _exit) and ends with
 * _exit. */
int pbs_child_start(pb_sc *sc, pbs_child *c);

/* In the caller: closes both pipes (the child sees end of file), reaps the
 * child and restores the signal mask. */
void pbs_child_end(pbs_child *c);

/* The timed-wait floors: pthread_cond_timedwait on a CLOCK_MONOTONIC
 * condition variable nobody signals, `samples` times with the deadline
 * `timeout` after the call; records metric "overshoot" (ns past the
 * deadline). slack_ns > 0 sets this thread's timer slack for the
 * measurement (restored after); 0 keeps the default. */
int pbs_timedwait_floor(pb_sc *sc, unsigned long slack_ns);

/* One point of a METG(50%) sweep (granularity.c, native.c): n tasks
 * holding `work` ns of work in all (n g for tasks of granularity g) on
 * `workers` workers took `elapsed` ns. Returns the point's efficiency,
 * (work / workers) / elapsed, and lowers *best (-1: none yet) to the
 * point's effective granularity, elapsed * workers / n, when the efficiency
 * is at least 50%. */
double pbs_metg_point(size_t n, double work, int workers, int64_t elapsed, double *best);

/* The same, and records the point's efficiency_g<NS> and throughput_g<NS>
 * metrics (one value per repetition; NS the nominal granularity g in ns).
 * Nothing for a point that took no time. */
void pbs_metg_record(pb_sc *sc, size_t n, int64_t g, double work, int workers, int64_t elapsed,
                     double *best);

#endif /* PB_BENCH_SCENARIOS_COMMON_H */
