/*
 * native.c — which adapter metric is held against which native one: the
 * "adapter tax".
 *
 * A pool from another library (glib, libuv, tbb, openmp, asio, a user's
 * module) runs its cases through the futures API like every pool; its
 * `native` cases (bench/scenarios/native.c) drive the same library through
 * its own API in the same run. Every adapter metric with a native
 * counterpart of the same backend gets
 *   native           {backend, scenario "native", metric, params}: the case
 *                    it is held against;
 *   ratio_to_native  adapter p50 ÷ native p50, in the metric's own
 *                    direction: for throughput 0.7 means 70% of the
 *                    library's own speed, for a round trip 3.0 means three
 *                    times as long.
 * The pairs are this one table; a parameter pair says which parameter of
 * the adapter's case must equal which of the native case, a fixed value
 * pins one more native parameter (a burst of one task per item for the
 * throughput scenario, of empty items for map's chunks). Backends that have
 * no native cases (thread, fork, exec: no outside library) get nothing.
 */
#include <math.h>
#include <string.h>

#include "runner.h"

typedef struct native_ref {
    const char *scenario, *metric; /* the adapter's */
    const char *loop, *native_metric;
    const char *match[2][2];       /* {adapter parameter, native parameter} */
    const char *fixed;             /* a native parameter that must be ... */
    int64_t fixed_value;           /* ... this */
} native_ref;

static const native_ref refs[] = {
    {"roundtrip", "roundtrip", "roundtrip", "roundtrip", {{NULL, NULL}}, NULL, 0},
    {"throughput", "throughput", "burst", "throughput", {{"granularity", "granularity"}},
     "chunksize", 1},
    {"throughput", "efficiency", "burst", "efficiency", {{"granularity", "granularity"}},
     "chunksize", 1},
    {"map", "throughput", "burst", "throughput", {{"chunksize", "chunksize"}}, "granularity", 0},
    {"granularity", "metg", "metg", "metg", {{"max", "max"}, {"min", "min"}}, NULL, 0},
};

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool same(const json_t *a, const json_t *b)
{
    return a && b && json_equal((json_t *)a, (json_t *)b);
}

/* The native case of backend that r pairs with a case whose parameters are
 * params, or NULL. */
static const json_t *find_native(const json_t *results, const char *backend, const native_ref *r,
                                 const json_t *params)
{
    size_t i;
    const json_t *c;
    json_array_foreach(results, i, c)
    {
        if (strcmp(str(c, "scenario"), "native") || strcmp(str(c, "backend"), backend) ||
            strcmp(str(c, "outcome"), "ok"))
            continue;
        const json_t *np = json_object_get(c, "params");
        if (strcmp(str(np, "loop"), r->loop))
            continue;
        bool ok = true;
        for (int k = 0; k < 2 && ok && r->match[k][0]; k++)
            ok = same(json_object_get(params, r->match[k][0]), json_object_get(np, r->match[k][1]));
        if (ok && r->fixed) {
            const json_t *v = json_object_get(np, r->fixed);
            ok = json_is_integer(v) && json_integer_value(v) == r->fixed_value;
        }
        if (ok)
            return c;
    }
    return NULL;
}

void pbh_native_annotate(json_t *results)
{
    size_t i;
    json_t *c;
    json_array_foreach(results, i, c)
    {
        const char *backend = str(c, "backend");
        if (!strcmp(backend, "floor") || strcmp(str(c, "outcome"), "ok"))
            continue;
        for (size_t k = 0; k < sizeof refs / sizeof refs[0]; k++) {
            const native_ref *r = &refs[k];
            json_t *m = json_object_get(json_object_get(c, "metrics"), r->metric);
            if (strcmp(str(c, "scenario"), r->scenario) || !m)
                continue;
            const json_t *n = find_native(results, backend, r, json_object_get(c, "params"));
            const json_t *nm = n ? json_object_get(json_object_get(n, "metrics"), r->native_metric)
                                 : NULL;
            if (!nm)
                continue;
            double p50 = json_number_value(json_object_get(m, "p50"));
            double np50 = json_number_value(json_object_get(nm, "p50"));
            json_object_set_new(m, "native",
                                json_pack("{s:s, s:s, s:s, s:O}", "backend", backend, "scenario",
                                          "native", "metric", r->native_metric, "params",
                                          json_object_get(n, "params")));
            if (np50 > 0 && isfinite(p50 / np50))
                json_object_set_new(m, "ratio_to_native", json_real(p50 / np50));
        }
    }
}
