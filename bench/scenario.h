/*
 * scenario.h — what poolbench measures: the pb_scenario table entry and the
 * context a scenario runs in.
 *
 * A scenario is one file in bench/scenarios/ that ends with one pb_scenario
 * table entry and is listed once in bench/scenarios/list.h (stress-ng's
 * stressor_info_t, one X-macro list). Nothing else needs to change to add
 * one: `poolbench list` shows it, suites can name it, the harness runs it over
 * every backend and summarises what it hands back.
 *
 * DESIGN
 *
 * The harness owns measurement: it expands parameter sweeps into cases,
 * creates and destroys pools, interleaves backends repetition by repetition,
 * runs warm-ups, records where workers were bound, and turns raw samples into
 * statistics (results/results.h). A scenario only drives a pool through the
 * public futures API (pb/pool.h) — never a backend's internals, so a pool
 * plugged in from outside is measured by exactly the same code — and hands
 * back, for one repetition:
 *   - samples: raw values of named metrics, each with a unit and a direction
 *     (lower or higher is better). Latencies are one sample per operation, in
 *     CLOCK_MONOTONIC nanoseconds (pb_now_ns()); rates are one sample per
 *     repetition;
 *   - checks: named pass/fail verdicts with a reason when they fail;
 *   - or a verdict on the whole case: skipped (with why) or failed (with why).
 *
 * Bounds. Every number has a floor (`min`) and a ceiling (`max`, or its
 * kind's PB_PARAM_MAX_*): a value outside is refused when the suite is read.
 * A wait or task whose length a parameter sets must still end soon after
 * pb_sc_stopping() turns true (the workloads `spin` and `sleep` end early on
 * their own, see workloads.h), so even an hour-long setting can be
 * interrupted.
 *
 * Measuring, not the harness. pb_sc_metric() allocates the sample array up
 * front (pass how many samples will come); pb_samples_add() then only stores
 * a double. Nothing in a measured region should allocate, print or format:
 * take timestamps, store them, and work out the samples afterwards. Checks
 * are formatted once per repetition, after the measured loop.
 *
 * Parameters. Each scenario declares its parameters with defaults. A default
 * (or a suite's override) with several comma-separated values is a sweep:
 * the harness runs one case per value (the cartesian product if several
 * parameters sweep). Numbers are kept in base units — nanoseconds for
 * durations, bytes for sizes — and may be written with a unit in suites and
 * defaults ("100us", "4KiB").
 *
 * Skips. A case that does not apply to a backend is reported as skipped with
 * the reason, never as passed: pb_sc_pool_create() marks the case skipped
 * when the backend answers PB_ENOTSUP (say, task_timeout on threads), and the
 * harness skips PB_SC_NEEDS_PROCESS scenarios on backends whose tasks run in
 * the harness's own process (a crashing task would take the harness down).
 *
 * Threads. A scenario runs in the harness's main thread and may start threads
 * of its own (contention, floor ping-pong); the context's functions may be
 * called from any of them except where a function says otherwise, but the
 * samples array of one metric must be filled by one thread at a time.
 */
#ifndef PB_BENCH_SCENARIO_H
#define PB_BENCH_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pb/pool.h>

#include "results.h"

/* ------------------------------------------------------------------------
 * The table entry
 * ------------------------------------------------------------------------ */

typedef enum {
    PB_PARAM_COUNT, /* a plain non-negative integer */
    PB_PARAM_NS,    /* a duration in nanoseconds: 1500, "100us", "1ms", "2s" */
    PB_PARAM_BYTES, /* a size in bytes: 8, "4KiB", "1MiB" */
    PB_PARAM_WORD   /* one of `choices` */
} pb_param_kind;

typedef struct pb_param {
    const char *name;
    pb_param_kind kind;
    const char *defaults;    /* "1" or a sweep "0,100us,1ms" (one case per value) */
    const char *description; /* one line for `poolbench list` */
    int64_t min;             /* numbers: smallest value accepted (the largest: its
                                kind's PB_PARAM_MAX_*) */
    const char *const *choices; /* PB_PARAM_WORD: the words allowed, NULL-terminated */
} pb_param;

/* What a number may be at most: every duration, count and size is bounded
 * by what can run, so a typo ("3153600000s", 10^15 samples) is refused when
 * the suite is read, naming the parameter and the limit, instead of a run
 * that never ends, memory that runs out, or arithmetic that overflows (8 x
 * 1 hour still fits an int64_t of nanoseconds many times over). A scenario
 * that needs less says so in its check(). */
#define PB_PARAM_MAX_NS ((int64_t)3600 * 1000000000) /* 1 hour */
#define PB_PARAM_MAX_COUNT ((int64_t)1000000)
#define PB_PARAM_MAX_BYTES ((int64_t)256 << 20)      /* 256 MiB */
/* Samples one metric of one case may keep over its repetitions (32 MB of
 * doubles): see pb_scenario.kept. */
#define PB_MAX_KEPT_SAMPLES ((int64_t)4000000)

/* The largest value p accepts: its kind's PB_PARAM_MAX_*. */
int64_t pb_param_max(const pb_param *p);

enum {
    PB_SC_FLOOR = 1u << 0,        /* a floor measurement: runs once, backend "floor",
                                     with no pool */
    PB_SC_OWN_POOLS = 1u << 1,    /* the scenario creates its pools itself
                                     (pb_sc_pool_create); pb_sc_pool() is NULL */
    PB_SC_NEEDS_PROCESS = 1u << 2 /* skipped on backends whose tasks run in the
                                     harness's process */
};

typedef struct pb_sc pb_sc;

/* The result of a run function: 0 (measured; checks may still have failed),
 * PB_SC_SKIPPED (pb_sc_skip() said why), or a negative code (failed;
 * pb_sc_fail() said why, else the harness names the code). */
#define PB_SC_SKIPPED 1

struct pb_param_value; /* below */

typedef struct pb_scenario {
    const char *name;          /* stable identifier, used in suites and results */
    const char *summary;       /* one line for `poolbench list` */
    const char *headline;      /* the metric the summary table shows */
    const pb_param *params;    /* terminated by an entry with name NULL */
    unsigned flags;            /* PB_SC_* */
    const char *needs;         /* what a backend must offer, for `list` and skip
                                  reasons ("workers in other processes and
                                  task_timeout"); NULL: any backend */
    int (*run)(pb_sc *sc);     /* one repetition */
    /* Optional: checks one case's values together (values[i] is params[i]'s)
     * before anything runs, for what no single parameter's range can say
     * ("min is above max"). Returns 0, or PB_EINVAL with one line in err.
     * The harness refuses a plan holding such a case (bad input, exit 2), so
     * run() may take the combination as checked. */
    int (*check)(const struct pb_scenario *s, const struct pb_param_value *values, char *err,
                 size_t errlen);
    /* Optional: the PB_PARAM_COUNT parameter whose value is how many samples
     * one repetition keeps in a metric ("samples"). The harness keeps every
     * measured repetition's samples until the case ends, so it refuses,
     * before the run, a case where this times the repetitions passes
     * PB_MAX_KEPT_SAMPLES. NULL: a handful of samples per repetition. */
    const char *kept;
} pb_scenario;

/* Every scenario, floor measurements included, in list.h order; *n gets the
 * count. */
const pb_scenario *const *pb_scenarios(size_t *n);

/* The scenario called name, or NULL. */
const pb_scenario *pb_scenario_find(const char *name);

/* The declaration of a scenario's parameter, or NULL. */
const pb_param *pb_scenario_param(const pb_scenario *s, const char *name);

/* ------------------------------------------------------------------------
 * Parameter values (bench/scenario.c)
 * ------------------------------------------------------------------------ */

/* One value of a parameter: num for numbers, word for PB_PARAM_WORD (one of
 * the param's `choices`, so it lives as long as the program). */
typedef struct pb_param_value {
    int64_t num;
    const char *word;
} pb_param_value;

/* In a scenario's check(): the number given to parameter `name` in values.
 * Asking for a parameter the scenario did not declare is a programming error
 * (abort). */
int64_t pb_param_num(const pb_scenario *s, const pb_param_value *values, const char *name);

/* In a scenario's check(): 0 if parameter lo's value is not above hi's, else
 * PB_EINVAL with "parameter lo (V) is above hi (W)" in err. */
int pb_param_not_above(const pb_scenario *s, const pb_param_value *values, const char *lo,
                       const char *hi, char *err, size_t errlen);

/* Parses one value written as text ("100us", "4KiB", "12", "callback") for
 * param p. Returns 0, or PB_EINVAL with one line in err saying what was
 * expected ("expected a duration like 100us or 1ms, got 'x'"). */
int pb_param_parse(const pb_param *p, const char *text, pb_param_value *out, char *err,
                   size_t errlen);

/* Parses a comma-separated list of values; *out (malloc'd, caller frees) gets
 * *n >= 1 values. Returns 0, PB_EINVAL (err says why) or PB_ENOMEM. */
int pb_param_parse_list(const pb_param *p, const char *text, pb_param_value **out, size_t *n,
                        char *err, size_t errlen);

/* Writes a value for people: "100us", "4KiB", "12", "callback". */
void pb_param_format(const pb_param *p, const pb_param_value *v, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * The context of one repetition (implemented by the harness)
 * ------------------------------------------------------------------------ */

/* The backend being measured ("floor" for floor measurements). */
const char *pb_sc_backend(const pb_sc *sc);

/* The value of one of the scenario's parameters in this case. Asking for a
 * parameter the scenario did not declare is a programming error (abort). */
int64_t pb_sc_num(const pb_sc *sc, const char *param);
const char *pb_sc_word(const pb_sc *sc, const char *param);

/* The repetition: 0, 1, ... for measured ones; negative for warm-ups, whose
 * samples are discarded (their checks still count). */
int pb_sc_repetition(const pb_sc *sc);
bool pb_sc_warmup(const pb_sc *sc);

/* True once the user asked the run to stop (SIGINT/SIGTERM): the repetition
 * will be discarded, so a long loop may return early (return 0). */
bool pb_sc_stopping(const pb_sc *sc);

/* A pseudo-random number from a generator seeded by the case (scenario,
 * parameters, repetition), so every backend sees the same sequence. Call only
 * from the scenario's own thread. */
uint64_t pb_sc_random(pb_sc *sc);

/* ---- Pools ---- */

/* The pool options the run asked for (workers, pin); the rest default. */
void pb_sc_pool_opts(const pb_sc *sc, pb_pool_opts *opts);

/* The pool the harness created for this repetition with the run's options,
 * or NULL for PB_SC_OWN_POOLS and floor scenarios. The harness destroys it. */
pb_pool *pb_sc_pool(pb_sc *sc);

/* Creates a pool of the backend being measured with opts (NULL: the run's).
 * The first pool of a case records where its workers were bound. On failure
 * the case is marked — skipped when the backend answered PB_ENOTSUP, failed
 * otherwise, with pb_pool_last_error()'s explanation — and the code returned:
 * the run function should then return PB_SC_SKIPPED or the code (the helper
 * pb_sc_outcome() below maps it). */
int pb_sc_pool_create(pb_sc *sc, const pb_pool_opts *opts, pb_pool **out);

/* What a run function returns after pb_sc_pool_create() failed with code:
 * PB_SC_SKIPPED for PB_ENOTSUP, else code. */
int pb_sc_outcome(int code);

/* Checks where the pool's tasks run against the binding its workers report
 * (pb_pool_binding): runs a few `report` tasks and records, for the results'
 * `binding.tasks_on_binding`, whether each ran on a CPU of its worker's
 * binding. Call outside measured regions. Returns 0 or a negative code. */
int pb_sc_probe(pb_sc *sc, pb_pool *pool);

/* ---- Samples ---- */

typedef struct pb_samples {
    double *v;
    size_t n, cap;
} pb_samples;

/* The sample array of metric `name` for this repetition, created on first use
 * with room for `reserve` samples (it grows if more come, but growth is an
 * allocation: reserve what will come). unit is one of FORMAT.md's ("ns",
 * "tasks/s", "bytes/s", "ratio", "count", "%"). A metric keeps the unit and
 * direction it was first declared with. Returns NULL only on ENOMEM, after
 * which pb_samples_add(NULL, ...) is a no-op and the case fails. */
pb_samples *pb_sc_metric(pb_sc *sc, const char *name, const char *unit, pbr_better better,
                         size_t reserve);

/* Appends one sample. */
void pb__samples_grow(pb_samples *s, double v);
static inline void pb_samples_add(pb_samples *s, double v)
{
    if (s && s->n < s->cap)
        s->v[s->n++] = v;
    else
        pb__samples_grow(s, v);
}

/* ---- Verdicts ---- */

/* Records check `name` for this repetition. Several calls with one name in a
 * repetition combine: it passes only if all passed; the first failure's
 * reason is kept. A check failed in any repetition (warm-ups included) fails
 * the case. The message is the check's evidence whether it passed or not
 * (write it so it reads either way: "0 of 200 futures ..."): the results
 * keep the first failure's as `reason` and the last repetition's as
 * `evidence`. */
void pb_sc_check(pb_sc *sc, const char *name, bool passed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Marks the case skipped with a reason. Returns PB_SC_SKIPPED. */
int pb_sc_skip(pb_sc *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks the case failed (an operation failed, not a check) with a reason.
 * Returns code (negative; PB_EINVAL if code was not). */
int pb_sc_fail(pb_sc *sc, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- The floor ---- */

/* Where floor measurements put their second party (the thread or process
 * standing in for a worker): the CPUs worker i of the measured pools is bound
 * to under the run's pin policy. Fills *set (a cpu_set_t, passed as void* to
 * keep <sched.h> out of this header) and returns 1 when there is a binding,
 * 0 when workers are unbound (pin "none"). */
int pb_sc_floor_cpus(const pb_sc *sc, int worker, void *set);

/* The argument that makes poolbench exit at once: the floor's spawn
 * measurement starts this program with it. */
#define PB_FLOOR_CHILD_ARG "--pb-floor-child"

/* Called first thing in main() (after pb_worker_main_if_requested): exits
 * at once when argv is {program, PB_FLOOR_CHILD_ARG}; otherwise returns. */
void pb_floor_child_main_if_requested(int argc, char **argv);

#endif /* PB_BENCH_SCENARIO_H */
