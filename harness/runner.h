/*
 * runner.h — the matrix runner behind `poolbench run`: cases, the plan, the
 * floor references, executing, and the summary.
 *
 * DESIGN
 *
 * A case is one scenario with one value for each of its parameters (sweeps
 * are expanded into one case per value, the cartesian product when several
 * parameters sweep). A cell is a case on one backend; floor cases have one
 * cell, on the pseudo-backend "floor". The run goes case by case; within a
 * case, repetition r of every backend runs before repetition r+1 (warm-ups
 * first, the same way), so slow drift on a shared machine — another job, a
 * thermal change — hits every backend alike instead of whichever ran last.
 * Floor cases run first, on the CPUs the pools' workers get.
 *
 * Every repetition of a pool scenario gets a fresh pool, created before and
 * destroyed after the measured run function, so no repetition inherits
 * another's queue, warm workers or broken state; scenarios warm their pool
 * up themselves where a cold first task would distort what they measure.
 *
 * The document is built as the run goes: every finished case is added to
 * it at once, and the caller's on_case hook (run.c: rewrite the results file
 * atomically) sees it after each, with run.complete = false, so whatever
 * ends the run, even SIGKILL, leaves the finished cases where they go.
 *
 * Interruption: SIGINT/SIGTERM/SIGHUP set pbh_stop. The runner finishes (or,
 * when the scenario notices pb_sc_stopping(), cuts short) the current
 * repetition, discards the unfinished case, and returns the document with the
 * cases that finished and run.complete = false.
 */
#ifndef PB_HARNESS_RUNNER_H
#define PB_HARNESS_RUNNER_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "scenario.h"
#include "suite.h"

/* Set by the signal handler; read between measurements. */
extern volatile sig_atomic_t pbh_stop;

typedef struct pbh_case {
    const pb_scenario *scenario;
    pb_param_value *values; /* one per declared parameter, in declaration order */
    size_t nvalues;
    bool *shown;            /* per parameter: part of the label (a sweep axis) */
    char *label;            /* "timeout timeout=1ms" */
    int entry;              /* the suite's scenarios[entry] it comes from; -1: none */
} pbh_case;

/* ---- The plan (plan.c) ---- */

typedef struct pbh_plan {
    pbh_case *cases; /* floor cases first, then the suite's, in its order */
    size_t ncases;
} pbh_plan;

/* At most this many cases in a run: sweeps multiply, and a plan is built
 * whole before anything runs. */
#define PBH_PLAN_MAX_CASES 10000

/* Expands the suite's entries into cases. `only` (NULL: all) restricts the
 * run to the named scenarios: entries of the suite with those names, and the
 * scenarios' defaults for names the suite does not list. Unless the suite
 * turns the floor off, the floor cases the selected scenarios are compared
 * with are added (floor.c), plus the clock cost. Returns 0, PB_EINVAL
 * (err: an unknown name in only; sweeps making more than PBH_PLAN_MAX_CASES
 * cases, counted before any is built; a case the suite asks for twice; a
 * combination a scenario's check refuses — each naming the file and field)
 * or PB_ENOMEM. */
int pbh_plan_build(const pbh_suite *suite, const char *const *only, size_t nonly, pbh_plan *plan,
                   char *err, size_t errlen);
void pbh_plan_free(pbh_plan *plan);

/* The samples a run would keep: for each case whose scenario says which
 * parameter counts them (pb_scenario.kept), that value times `repetitions`
 * must not pass PB_MAX_KEPT_SAMPLES. `reps_from` names where the number of
 * repetitions came from, for the message ("--repetitions", or NULL: the
 * suite). Returns 0, or PB_EINVAL with err naming the file, the field and
 * the limit. */
int pbh_plan_check_kept(const pbh_plan *plan, const pbh_suite *suite, int repetitions,
                        const char *reps_from, char *err, size_t errlen);

/* A case's parameters as a new JSON object (numbers and strings). */
json_t *pbh_case_params_json_new(const pbh_case *c);

/* ---- Floor references (floor.c) ---- */

/* Which floor case and metric a backend metric is compared with. The floor
 * depends on the kind of backend: where its tasks run (in the harness's
 * process or in other processes) and whether its hand-offs spin
 * (pb_pool_spins). A pairing holds one choice per kind (floor.c lists them). */
#define PBH_FLOOR_KINDS 4 /* threads sleeping, threads spinning, processes sleeping, spinning */

typedef struct pbh_floor_choice {
    const char *scenario;     /* the floor scenario */
    const char *param, *value; /* the floor case whose word parameter has this value (NULL: any) */
    const char *metric;       /* its metric */
    const char *kind;         /* the hand-off it stands for: "sleeping", "spinning", "queue",
                                 "stream", "start", "timed wait", "mpi ping-pong",
                                 "mpi stream" */
} pbh_floor_choice;

typedef struct pbh_floor_ref {
    const char *scenario, *metric; /* the backend metric */
    const char *when_param;        /* only when this parameter (NULL: always) ... */
    bool when_equal;               /* ... equals (true) or differs from (false) ... */
    int64_t when_value;            /* ... this value */
    const pbh_floor_choice *by_kind; /* [PBH_FLOOR_KINDS] */
    const char *match_param;       /* when set, must have the same value in both cases */
} pbh_floor_ref;

/* Whether floor scenario `floor` is measured when `scenario` runs: it is
 * the reference of one of its metrics for some kind of backend, or for a
 * backend with floors of its own that can run here (mpi under mpiexec), or
 * is measured beside it (timedwait_tight beside timeout). */
bool pbh_floor_serves(const char *floor, const char *scenario);

/* What the harness learned about a backend from a pool of it. */
typedef struct pbh_backend_kind {
    bool in_process; /* its tasks run in the harness's own process */
    bool spins;      /* pb_pool_spins() */
} pbh_backend_kind;

/* For floor scenario `floor`, the parameter whose values are taken from the
 * cases of another scenario in the same run (timedwait's timeout follows the
 * timeout scenario's), or NULL. */
typedef struct pbh_floor_mirror {
    const char *floor, *param, *scenario, *scenario_param;
} pbh_floor_mirror;
const pbh_floor_mirror *pbh_floor_mirror_of(const char *floor);

/* Adds `floor` and `ratio_to_floor` to every metric of results (the array of
 * CASE objects) that has a floor counterpart measured in the same run.
 * kind_of(backend) fills *kind and returns true, or false when the backend
 * could not be probed (its metrics then get no floor). */
void pbh_floor_annotate(json_t *results,
                        bool (*kind_of)(const char *backend, void *ud, pbh_backend_kind *kind),
                        void *ud);

/* ---- The adapter tax (native.c) ---- */

/* Adds `native` and `ratio_to_native` to every metric of results that has
 * a counterpart among the same backend's `native` cases. */
void pbh_native_annotate(json_t *results);

/* ---- Executing (runner.c) ---- */

typedef struct pbh_config {
    const char *const *backends; /* the pool backends to measure */
    size_t nbackends;
    const pbh_plan *plan;
    int repetitions, warmup, workers;
    const char *pin;
    bool quiet;
    const char *suite;   /* for run.suite */
    const char *command; /* for run.command */
    const char *host;    /* environment.host; NULL: the hostname */
    /* Called after every finished case with the document so far (floor
     * ratios filled in, run.complete false); NULL: not called. A negative
     * return (err set) ends the run: pbh_execute() returns it. */
    int (*on_case)(void *ud, const json_t *doc, char *err, size_t errlen);
    void *on_case_ud;
} pbh_config;

typedef struct pbh_outcome {
    bool interrupted;
    size_t cases_failed;  /* cells whose outcome is "failed" */
    size_t cases_written;
} pbh_outcome;

/* Runs the plan. Returns 0 with *doc (the results document; caller owns it),
 * or PB_EINVAL with err when the run options are refused before anything is
 * measured (a pin policy no backend accepts), or PB_ENOMEM, or what on_case
 * returned. */
int pbh_execute(const pbh_config *cfg, json_t **doc, pbh_outcome *out, char *err, size_t errlen);

/* ---- The summary table (summary.c) ---- */

/* Prints, per case of doc's results, backend, scenario, headline metric, p50,
 * p99 and the ratio to the floor, then the failed checks. */
void pbh_print_summary(FILE *out, const json_t *doc);

#endif /* PB_HARNESS_RUNNER_H */
