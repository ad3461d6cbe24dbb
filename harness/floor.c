/*
 * floor.c — which backend metric is held against which floor measurement.
 *
 * The floor is what this machine can do at best for the same hand-off,
 * measured in the same run on the same CPUs; a backend's ratio to it stays
 * comparable across machines and noisy runs where raw nanoseconds do not.
 * The pairing depends on where a backend's tasks run, which the harness
 * learns by asking a pool's task for its pid (public API only, so pools
 * plugged in from outside are paired the same way):
 *
 *   - tasks in the harness's own process (thread, glib, libuv): the round
 *     trip is a hand-off between two threads, whose floor is a futex
 *     ping-pong; start-up is creating threads, whose floor is one
 *     pthread_create + join;
 *   - tasks in other processes (fork, exec): the round trip crosses process
 *     boundaries, whose floor is a pipe ping-pong with a child process;
 *     start-up is starting processes, whose floor is posix_spawn of a tiny
 *     program (poolbench itself, exiting at once).
 *
 * Throughput of empty tasks (granularity 0) is held against the rate of the
 * same ping-pong, i.e. one hand-off at a time: a ratio below 1 means the pool
 * overlaps hand-offs (batching, pipelining) rather than paying each in turn.
 * A timeout's overshoot is held against a condition-variable timed wait for
 * the same deadline — what any blocking wait with a timeout pays — except
 * for a timeout of 0, which in this API is a poll that need not wait at all.
 *
 * A backend whose hand-offs are of another kind has rows of its own, which
 * replace the general ones for its metrics: the mpi backend's workers are
 * ranks of an MPI job, so its round trips (and failing tasks) are held
 * against MPI's own ping-pong between rank 0 and rank 1, its bursts (empty
 * tasks, map) against a one-way stream of MPI messages, and its start-up —
 * the ranks exist before the pool, so starting one is messages to its ranks
 * and a first task — against the same ping-pong.
 *
 * ratio_to_floor (FORMAT.md) is p50 / floor p50 for lower-is-better metrics
 * and floor p50 / p50 for higher-is-better ones, so in both cases 1 is "as
 * good as the floor" and larger is worse.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "runner.h"

static const pbh_floor_ref refs[] = {
    {"roundtrip", "roundtrip", NULL, true, 0, "futex_pingpong", "pipe_pingpong", "roundtrip", NULL},
    {"errors", "roundtrip", NULL, true, 0, "futex_pingpong", "pipe_pingpong", "roundtrip", NULL},
    {"throughput", "throughput", "granularity", true, 0, "futex_pingpong", "pipe_pingpong", "rate",
     NULL},
    {"startup", "startup", NULL, true, 0, "thread_start", "spawn", "startup", NULL},
    /* Not for timeout 0: that is a poll, which no wait should be held
     * against (the floor still measures it, for the record). */
    {"timeout", "overshoot", "timeout", false, 0, "timedwait", "timedwait", "overshoot", "timeout"},
};

static const pbh_floor_backend_ref backend_refs[] = {
    {"mpi", {"roundtrip", "roundtrip", NULL, true, 0, "mpi_pingpong", "mpi_pingpong", "roundtrip", NULL}},
    {"mpi", {"errors", "roundtrip", NULL, true, 0, "mpi_pingpong", "mpi_pingpong", "roundtrip", NULL}},
    {"mpi", {"throughput", "throughput", "granularity", true, 0, "mpi_stream", "mpi_stream", "rate", NULL}},
    {"mpi", {"map", "throughput", NULL, true, 0, "mpi_stream", "mpi_stream", "rate", NULL}},
    {"mpi", {"startup", "startup", NULL, true, 0, "mpi_pingpong", "mpi_pingpong", "roundtrip", NULL}},
};

static const pbh_floor_mirror mirrors[] = {
    {"timedwait", "timeout", "timeout", "timeout"},
};

const pbh_floor_ref *pbh_floor_refs(size_t *n)
{
    *n = sizeof refs / sizeof refs[0];
    return refs;
}

const pbh_floor_backend_ref *pbh_floor_backend_refs(size_t *n)
{
    *n = sizeof backend_refs / sizeof backend_refs[0];
    return backend_refs;
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

/* The floor case `scenario` whose `match` parameter equals that of params
 * (any floor case of that scenario when match is NULL). */
static const json_t *find_floor(const json_t *results, const char *scenario, const char *match,
                                const json_t *params)
{
    size_t i;
    const json_t *c;
    json_array_foreach(results, i, c)
    {
        if (strcmp(str(c, "backend"), "floor") || strcmp(str(c, "scenario"), scenario) ||
            strcmp(str(c, "outcome"), "ok"))
            continue;
        if (match) {
            const json_t *a = json_object_get(params, match);
            const json_t *b = json_object_get(json_object_get(c, "params"), match);
            if (!a || !b || !json_equal((json_t *)a, (json_t *)b))
                continue;
        }
        return c;
    }
    return NULL;
}

/* Adds m's floor and ratio from the floor case of scenario fs, if measured. */
static void annotate_metric(const json_t *results, json_t *m, const pbh_floor_ref *r,
                            const char *fs, const json_t *params)
{
    const json_t *fc = find_floor(results, fs, r->match_param, params);
    const json_t *fm = fc ? json_object_get(json_object_get(fc, "metrics"), r->floor_metric) : NULL;
    if (!fm)
        return;
    double fp50 = json_number_value(json_object_get(fm, "p50"));
    double p50 = json_number_value(json_object_get(m, "p50"));
    bool higher = !strcmp(str(m, "better"), "higher");
    double ratio = higher ? (p50 > 0 ? fp50 / p50 : NAN) : (fp50 > 0 ? p50 / fp50 : NAN);
    json_t *ref = json_pack("{s:s, s:s, s:s}", "backend", "floor", "scenario", fs, "metric",
                            r->floor_metric);
    if (ref)
        json_object_set_new(m, "floor", ref);
    /* A zero floor (a timed wait that returned at its deadline to the
     * nanosecond) has no meaningful ratio: leave it out rather than
     * write infinity. */
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

void pbh_floor_annotate(json_t *results, int (*in_process)(const char *backend, void *ud),
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
        for (size_t k = 0; k < sizeof refs / sizeof refs[0]; k++) {
            const pbh_floor_ref *r = &refs[k];
            json_t *m = metric_of(c, r);
            if (!m || has_own_rows(backend, r))
                continue;
            int inproc = in_process(backend, ud);
            if (inproc >= 0)
                annotate_metric(results, m, r, inproc ? r->floor_in_process : r->floor_other,
                                params);
        }
        for (size_t k = 0; k < sizeof backend_refs / sizeof backend_refs[0]; k++) {
            const pbh_floor_ref *r = &backend_refs[k].ref;
            json_t *m = pbh_backend_is(backend_refs[k].backend, backend) ? metric_of(c, r) : NULL;
            if (m)
                annotate_metric(results, m, r, r->floor_other, params);
        }
    }
}
