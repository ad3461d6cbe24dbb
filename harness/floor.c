/*
 * floor.c — which backend metric is held against which floor measurement.
 *
 * The floor is what this machine can do at best for the same hand-off,
 * measured in the same run on the same CPUs; a backend's ratio to it stays
 * comparable across machines and noisy runs where raw nanoseconds do not.
 * The pairing depends on two things the harness learns from a pool of each
 * backend through the public API (so pools plugged in from outside are
 * paired the same way):
 *
 *   - where its tasks run, by asking a task for its pid: in the harness's
 *     own process (thread, glib, libuv) or in other processes (fork, exec);
 *   - whether its hand-offs spin, by pb_pool_spins(): a worker or a waiting
 *     caller that busy-waits a few µs before it sleeps answers much faster
 *     than one that sleeps at once, at the price of CPU time.
 *
 * That gives four kinds of backend, and each metric below names its floor
 * for each kind:
 *
 *   round trip (roundtrip, errors): a sleeping pool against the sleeping
 *     ping-pong (futex between threads, pipes between processes), a spinning
 *     pool against the spinning one (spin_pingpong between threads or
 *     processes);
 *   bursts (throughput of empty tasks, map): against the rate of streaming
 *     one item per hand-off without waiting for an answer — the 1→1 mutex
 *     queue between threads, the one-way pipe stream between processes;
 *   start-up: one pthread_create + join, or posix_spawn of a tiny program;
 *   a timeout's overshoot: a condition-variable timed wait for the same
 *     deadline with the default timer slack, as a pool's caller has it —
 *     except for a timeout of 0, which in this API is a poll that need not
 *     wait at all. timedwait_tight (1 ns of slack) is measured beside it.
 *
 * A backend whose hand-offs are of another kind has rows of its own, which
 * replace the general ones for its metrics, whatever its kind: the mpi
 * backend's workers are ranks of an MPI job, so its round trips (and
 * failing tasks) are held against MPI's own ping-pong between rank 0 and
 * rank 1, its bursts (empty tasks, map) against a one-way stream of MPI
 * messages, and its start-up — the ranks exist before the pool, so starting
 * one is messages to its ranks and a first task — against the same
 * ping-pong. Those floors are measured only where that backend can run
 * (under mpiexec).
 *
 * Each metric's "floor" object in the results names the floor case (its
 * scenario, the parameter that picks it, the metric) and the kind of
 * hand-off it stands for, which the summary prints next to the ratio.
 * ratio_to_floor (FORMAT.md) is p50 / floor p50 for lower-is-better metrics
 * and floor p50 / p50 for higher-is-better ones, so in both cases 1 is "as
 * good as the floor" and larger is worse.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "runner.h"

/* Kinds of backend, the index into a pairing. */
enum { THREADS_SLEEP, THREADS_SPIN, PROCS_SLEEP, PROCS_SPIN };

static const pbh_floor_choice round_trip[PBH_FLOOR_KINDS] = {
    [THREADS_SLEEP] = {"futex_pingpong", NULL, NULL, "roundtrip", "sleeping"},
    [THREADS_SPIN] = {"spin_pingpong", "between", "threads", "roundtrip", "spinning"},
    [PROCS_SLEEP] = {"pipe_pingpong", NULL, NULL, "roundtrip", "sleeping"},
    [PROCS_SPIN] = {"spin_pingpong", "between", "processes", "roundtrip", "spinning"},
};

static const pbh_floor_choice stream[PBH_FLOOR_KINDS] = {
    [THREADS_SLEEP] = {"queue", NULL, NULL, "rate", "queue"},
    [THREADS_SPIN] = {"queue", NULL, NULL, "rate", "queue"},
    [PROCS_SLEEP] = {"pipe_stream", NULL, NULL, "rate", "stream"},
    [PROCS_SPIN] = {"pipe_stream", NULL, NULL, "rate", "stream"},
};

static const pbh_floor_choice startup[PBH_FLOOR_KINDS] = {
    [THREADS_SLEEP] = {"thread_start", NULL, NULL, "startup", "start"},
    [THREADS_SPIN] = {"thread_start", NULL, NULL, "startup", "start"},
    [PROCS_SLEEP] = {"spawn", NULL, NULL, "startup", "start"},
    [PROCS_SPIN] = {"spawn", NULL, NULL, "startup", "start"},
};

static const pbh_floor_choice timed_wait[PBH_FLOOR_KINDS] = {
    [THREADS_SLEEP] = {"timedwait", NULL, NULL, "overshoot", "timed wait"},
    [THREADS_SPIN] = {"timedwait", NULL, NULL, "overshoot", "timed wait"},
    [PROCS_SLEEP] = {"timedwait", NULL, NULL, "overshoot", "timed wait"},
    [PROCS_SPIN] = {"timedwait", NULL, NULL, "overshoot", "timed wait"},
};

static const pbh_floor_ref refs[] = {
    {"roundtrip", "roundtrip", NULL, true, 0, round_trip, NULL},
    {"errors", "roundtrip", NULL, true, 0, round_trip, NULL},
    {"throughput", "throughput", "granularity", true, 0, stream, NULL},
    {"map", "throughput", NULL, true, 0, stream, NULL},
    {"startup", "startup", NULL, true, 0, startup, NULL},
    /* Not for timeout 0: that is a poll, which no wait should be held
     * against (the floor still measures it, for the record). */
    {"timeout", "overshoot", "timeout", false, 0, timed_wait, "timeout"},
};

/* The same choice for every kind of backend. */
#define ANY_KIND(...) {__VA_ARGS__, __VA_ARGS__, __VA_ARGS__, __VA_ARGS__}

static const pbh_floor_choice mpi_round_trip[PBH_FLOOR_KINDS] =
    ANY_KIND({"mpi_pingpong", NULL, NULL, "roundtrip", "mpi ping-pong"});
static const pbh_floor_choice mpi_stream[PBH_FLOOR_KINDS] =
    ANY_KIND({"mpi_stream", NULL, NULL, "rate", "mpi stream"});

/* A row for one backend only, whose hand-offs are of another kind (mpi: MPI
 * messages between ranks). Its rows replace the general ones for its
 * metrics, and its floors are measured only where that backend can run
 * (pb_backend_summary() answers: mpi under mpiexec). */
typedef struct backend_ref {
    const char *backend;
    pbh_floor_ref ref;
} backend_ref;

static const backend_ref backend_refs[] = {
    {"mpi", {"roundtrip", "roundtrip", NULL, true, 0, mpi_round_trip, NULL}},
    {"mpi", {"errors", "roundtrip", NULL, true, 0, mpi_round_trip, NULL}},
    {"mpi", {"throughput", "throughput", "granularity", true, 0, mpi_stream, NULL}},
    {"mpi", {"map", "throughput", NULL, true, 0, mpi_stream, NULL}},
    {"mpi", {"startup", "startup", NULL, true, 0, mpi_round_trip, NULL}},
};

/* Floors measured beside a scenario without being its ratio's reference. */
static const struct {
    const char *floor, *scenario;
} beside[] = {
    {"timedwait_tight", "timeout"},
};

static const pbh_floor_mirror mirrors[] = {
    {"timedwait", "timeout", "timeout", "timeout"},
    {"timedwait_tight", "timeout", "timeout", "timeout"},
};

bool pbh_floor_serves(const char *floor, const char *scenario)
{
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        if (strcmp(refs[i].scenario, scenario))
            continue;
        for (int k = 0; k < PBH_FLOOR_KINDS; k++)
            if (!strcmp(refs[i].by_kind[k].scenario, floor))
                return true;
    }
    for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++)
        if (!strcmp(beside[i].floor, floor) && !strcmp(beside[i].scenario, scenario))
            return true;
    /* A backend's own floors, where that backend can run. */
    for (size_t i = 0; i < sizeof backend_refs / sizeof backend_refs[0]; i++) {
        const pbh_floor_ref *r = &backend_refs[i].ref;
        if (!strcmp(r->scenario, scenario) && !strcmp(r->by_kind[0].scenario, floor) &&
            pb_backend_summary(backend_refs[i].backend))
            return true;
    }
    return false;
}

const pbh_floor_mirror *pbh_floor_mirror_of(const char *floor)
{
    for (size_t i = 0; i < sizeof mirrors / sizeof mirrors[0]; i++)
        if (!strcmp(mirrors[i].floor, floor))
            return &mirrors[i];
    return NULL;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The floor case of choice f (its scenario, with parameter f->param equal
 * to f->value when set) whose `match` parameter equals that of params (any
 * when match is NULL). */
static const json_t *find_floor(const json_t *results, const pbh_floor_choice *f, const char *match,
                                const json_t *params)
{
    size_t i;
    const json_t *c;
    json_array_foreach(results, i, c)
    {
        if (strcmp(str(c, "backend"), "floor") || strcmp(str(c, "scenario"), f->scenario) ||
            strcmp(str(c, "outcome"), "ok"))
            continue;
        const json_t *fparams = json_object_get(c, "params");
        if (f->param && strcmp(str(fparams, f->param), f->value))
            continue;
        if (match) {
            const json_t *a = json_object_get(params, match);
            const json_t *b = json_object_get(fparams, match);
            if (!a || !b || !json_equal((json_t *)a, (json_t *)b))
                continue;
        }
        return c;
    }
    return NULL;
}

/* The "floor" object of a metric held against choice f. */
static json_t *floor_ref_new(const pbh_floor_choice *f)
{
    json_t *ref = json_pack("{s:s, s:s, s:s, s:s}", "backend", "floor", "scenario", f->scenario,
                            "metric", f->metric, "kind", f->kind);
    if (ref && f->param)
        json_object_set_new(ref, "params", json_pack("{s:s}", f->param, f->value));
    return ref;
}

/* Adds m's "floor" and ratio_to_floor from choice f, if its floor case was
 * measured. */
static void annotate_metric(const json_t *results, json_t *m, const pbh_floor_choice *f,
                            const char *match_param, const json_t *params)
{
    const json_t *fc = find_floor(results, f, match_param, params);
    const json_t *fm = fc ? json_object_get(json_object_get(fc, "metrics"), f->metric) : NULL;
    if (!fm)
        return;
    double fp50 = json_number_value(json_object_get(fm, "p50"));
    double p50 = json_number_value(json_object_get(m, "p50"));
    bool higher = !strcmp(str(m, "better"), "higher");
    double ratio = higher ? (p50 > 0 ? fp50 / p50 : NAN) : (fp50 > 0 ? p50 / fp50 : NAN);
    json_t *fref = floor_ref_new(f);
    if (fref)
        json_object_set_new(m, "floor", fref);
    /* A zero floor (a timed wait that returned at its deadline to the
     * nanosecond) has no meaningful ratio: leave it out rather than write
     * infinity. */
    if (isfinite(ratio))
        json_object_set_new(m, "ratio_to_floor", json_real(ratio));
}

/* The metric r is about, in case c, when r applies to c's parameters. */
static json_t *metric_of(json_t *c, const pbh_floor_ref *r)
{
    if (strcmp(str(c, "scenario"), r->scenario))
        return NULL;
    json_t *m = json_object_get(json_object_get(c, "metrics"), r->metric);
    if (m && r->when_param) {
        const json_t *v = json_object_get(json_object_get(c, "params"), r->when_param);
        if (!json_is_integer(v) || (json_integer_value(v) == r->when_value) != r->when_equal)
            return NULL;
    }
    return m;
}

/* Whether backend (a spec: "mpi:idle=sleep" is mpi) has rows of its own for
 * r's scenario and metric. */
static bool has_own_rows(const char *backend, const pbh_floor_ref *r)
{
    for (size_t k = 0; k < sizeof backend_refs / sizeof backend_refs[0]; k++)
        if (pbh_backend_is(backend_refs[k].backend, backend) &&
            !strcmp(backend_refs[k].ref.scenario, r->scenario) &&
            !strcmp(backend_refs[k].ref.metric, r->metric))
            return true;
    return false;
}

void pbh_floor_annotate(json_t *results, bool (*kind_of)(const char *backend, void *ud,
                                                         pbh_backend_kind *kind),
                        void *ud)
{
    size_t i;
    json_t *c;
    json_array_foreach(results, i, c)
    {
        const char *backend = str(c, "backend");
        if (!strcmp(backend, "floor"))
            continue;
        const json_t *params = json_object_get(c, "params");
        pbh_backend_kind bk;
        int k = -1; /* the backend's kind, once asked; -2: not probed */
        for (size_t r = 0; r < sizeof refs / sizeof refs[0]; r++) {
            json_t *m = metric_of(c, &refs[r]);
            if (!m || has_own_rows(backend, &refs[r]))
                continue;
            if (k == -1)
                k = kind_of(backend, ud, &bk)
                        ? (bk.in_process ? THREADS_SLEEP : PROCS_SLEEP) + (bk.spins ? 1 : 0)
                        : -2;
            if (k >= 0)
                annotate_metric(results, m, &refs[r].by_kind[k], refs[r].match_param, params);
        }
        /* A backend's own rows hold the same floor for every kind. */
        for (size_t r = 0; r < sizeof backend_refs / sizeof backend_refs[0]; r++) {
            const pbh_floor_ref *ref = &backend_refs[r].ref;
            json_t *m = pbh_backend_is(backend_refs[r].backend, backend) ? metric_of(c, ref) : NULL;
            if (m)
                annotate_metric(results, m, &ref->by_kind[0], ref->match_param, params);
        }
    }
}
