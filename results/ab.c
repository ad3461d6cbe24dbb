/*
 * ab.c — the documents of paired A/B sessions and of calibrated noise, and
 * the names of every kind of file poolbench writes.
 *
 * AN A/B SESSION ("poolbench-ab/1", FORMAT.md) is what `poolbench ab BASE
 * NEW` measured: BASE and NEW run the same suite in interleaved pairs
 * (ABBA: A B, B A, A B, ...), or side by side (duet), and each pair adds one
 * value per side to every metric — the median of that run, its p50. Nothing
 * is judged here: the file keeps the measured values, and `compare AB.json`
 * (compare.c) judges them, so a verdict can be recomputed with other
 * thresholds or a noise calibration. Each case also counts, per side, the
 * pairs in which a check failed: a check that never failed in BASE and
 * fails in NEW is a regression whatever the numbers say.
 *
 * Values are matched across the two runs of a pair, and across pairs, by
 * backend, scenario and params (pbr_params_key) and then by metric name. A
 * value one side did not produce in a pair is null at that pair's index,
 * so every array has one entry per pair and index i is always pair i.
 *
 * A NOISE CALIBRATION ("poolbench-noise/1") is what A/A sessions (a program
 * against itself) say about each metric: sigma, a robust standard deviation
 * (1.4826 * MAD) of the log ratio of the two members of a pair. Nothing but
 * the machine's noise separates them, so sigma is how far a metric moves
 * when nothing changed. pbr_noise_band_pct() turns it into the change that
 * noise alone reaches, the threshold a gate uses for that metric instead of
 * one fixed percentage.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results-int.h"
#include "results.h"

#ifndef PB_VERSION
#define PB_VERSION "unknown"
#endif

/* ------------------------------------------------------------------------
 * Kinds of files
 * ------------------------------------------------------------------------ */

const char *pbr__schema_what(const char *schema)
{
    if (!strcmp(schema, PBR_AB_SCHEMA))
        return "an A/B session (poolbench ab)";
    if (!strcmp(schema, PBR_NOISE_SCHEMA))
        return "a noise calibration (poolbench calibrate)";
    if (!strcmp(schema, PBR_MATRIX_SCHEMA))
        return "runs merged from several hosts (poolbench merge)";
    return NULL;
}

const char *pbr__schema_use(const char *schema)
{
    if (!strcmp(schema, PBR_AB_SCHEMA))
        return "compare AB.json, or calibrate --from";
    if (!strcmp(schema, PBR_NOISE_SCHEMA))
        return "--noise";
    return "compare, history or plot";
}

/* ------------------------------------------------------------------------
 * A/B sessions
 * ------------------------------------------------------------------------ */

static json_t *side_new(const char *program)
{
    return json_pack("{s:s, s:o}", "program", program ? program : "", "environment",
                     json_null());
}

json_t *pbr_ab_new(const pbr_ab_info *in)
{
    char started[32];
    pbr__utc_text(in->started_unix, started, sizeof started);
    json_t *run = json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:f, s:b, s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:s}", "kind",
        "ab", "command", in->command ? in->command : "", "suite", in->suite ? in->suite : "",
        "started", started, "started_unix", in->started_unix, "duration_s", 0.0, "complete",
        false, "mode", in->duet ? "duet" : "interleaved", "interleave",
        in->interleave ? in->interleave : "suite", "pairs", in->pairs, "repetitions",
        in->repetitions, "warmup", in->warmup, "workers", in->workers, "pin",
        in->pin ? in->pin : "none", "poolbench_version", PB_VERSION);
    if (!run)
        return NULL;
    return json_pack("{s:s, s:o, s:o, s:o, s:[], s:[]}", "schema", PBR_AB_SCHEMA, "run", run,
                     "base", side_new(in->base_program), "new", side_new(in->new_program),
                     "pairs", "results");
}

/* The array `key` of obj, padded with nulls to n entries. */
static json_t *padded(json_t *obj, const char *key, size_t n)
{
    json_t *a = json_object_get(obj, key);
    if (!a) {
        a = json_array();
        if (!a || json_object_set_new(obj, key, a))
            return NULL;
    }
    while (json_array_size(a) < n)
        if (json_array_append_new(a, json_null()))
            return NULL;
    return a;
}

/* The session's entry for case c (created, with a copy of its identity,
 * if new). index maps "backend\nscenario\nparams_key" to entries. */
static json_t *ab_case(json_t *results, json_t *index, const json_t *c)
{
    char *key = pbr_params_key(json_object_get(c, "params"));
    if (!key)
        return NULL;
    const char *backend = pbr_json_str(c, "backend", ""), *scenario = pbr_json_str(c, "scenario", "");
    size_t len = strlen(backend) + strlen(scenario) + strlen(key) + 3;
    char *k = malloc(len);
    if (!k) {
        free(key);
        return NULL;
    }
    snprintf(k, len, "%s\n%s\n%s", backend, scenario, key);
    free(key);
    json_t *e = json_object_get(index, k);
    if (!e) {
        e = json_pack("{s:s, s:s, s:O, s:{}, s:[]}", "backend", backend, "scenario", scenario,
                      "params", json_object_get(c, "params"), "metrics", "checks");
        if (e && json_is_string(json_object_get(c, "headline")))
            json_object_set(e, "headline", json_object_get(c, "headline"));
        if (!e || json_array_append(results, e) || json_object_set(index, k, e)) {
            json_decref(e);
            free(k);
            return NULL;
        }
        json_decref(e); /* the array and the index hold it */
    }
    free(k);
    return e;
}

static json_t *index_new(const json_t *results)
{
    json_t *index = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(results, i, e)
    {
        char *key = pbr_params_key(json_object_get(e, "params"));
        if (!key) {
            json_decref(index);
            return NULL;
        }
        char k[1024];
        snprintf(k, sizeof k, "%s\n%s\n%s", pbr_json_str(e, "backend", ""),
                 pbr_json_str(e, "scenario", ""), key);
        free(key);
        if (json_object_set(index, k, e)) {
            json_decref(index);
            return NULL;
        }
    }
    return index;
}

/* The check `name` of entry e, created with zero counts if new. */
static json_t *ab_check(json_t *e, const char *name)
{
    json_t *checks = json_object_get(e, "checks");
    size_t i;
    json_t *ck;
    json_array_foreach(checks, i, ck)
    {
        if (!strcmp(pbr_json_str(ck, "name", ""), name))
            return ck;
    }
    ck = json_pack("{s:s, s:i, s:i, s:s, s:s}", "name", name, "base_failed", 0, "new_failed", 0,
                   "base_reason", "", "new_reason", "");
    if (!ck || json_array_append_new(checks, ck))
        return NULL;
    return ck;
}

static int count_failure(json_t *e, const char *name, const char *reason, int side)
{
    json_t *ck = ab_check(e, name);
    if (!ck)
        return -ENOMEM;
    const char *cnt = side ? "new_failed" : "base_failed";
    const char *why = side ? "new_reason" : "base_reason";
    json_object_set_new(ck, cnt, json_integer(json_integer_value(json_object_get(ck, cnt)) + 1));
    if (!*pbr_json_str(ck, why, ""))
        json_object_set_new(ck, why, json_string(reason ? reason : ""));
    return 0;
}

/* Adds what one side's run measured as pair `pair` (0-based). */
static int add_side(json_t *results, json_t *index, const json_t *doc, size_t pair, int side)
{
    const char *arr = side ? "new" : "base";
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c)
    {
        json_t *e = ab_case(results, index, c);
        if (!e)
            return -ENOMEM;
        const char *outcome = pbr_json_str(c, "outcome", "");
        if (!strcmp(outcome, "skipped")) {
            json_object_set_new(e, side ? "new_skipped" : "base_skipped",
                                json_string(pbr_json_str(c, "reason", "")));
            continue;
        }
        const char *mname;
        json_t *m;
        json_object_foreach(json_object_get(c, "metrics"), mname, m)
        {
            json_t *em = json_object_get(json_object_get(e, "metrics"), mname);
            if (!em) {
                em = json_pack("{s:s, s:s}", "unit", pbr_json_str(m, "unit", ""), "better",
                               pbr_json_str(m, "better", "lower"));
                if (!em || json_object_set_new(json_object_get(e, "metrics"), mname, em))
                    return -ENOMEM;
            }
            json_t *a = padded(em, arr, pair);
            if (!a || json_array_append_new(a, json_real(pbr_json_num(m, "p50", 0.0))))
                return -ENOMEM;
        }
        bool any = false;
        size_t k;
        json_t *ck;
        json_array_foreach(json_object_get(c, "checks"), k, ck)
        {
            if (json_is_true(json_object_get(ck, "passed")))
                continue;
            any = true;
            if (count_failure(e, pbr_json_str(ck, "name", ""), pbr_json_str(ck, "reason", ""),
                              side) < 0)
                return -ENOMEM;
        }
        /* Failed without a failing check: the run of the case errored. */
        if (!any && !strcmp(outcome, "failed") &&
            count_failure(e, "outcome", pbr_json_str(c, "reason", ""), side) < 0)
            return -ENOMEM;
    }
    return 0;
}

int pbr_ab_add_pair(json_t *ab, const json_t *base, const json_t *now, const char *order)
{
    json_t *pairs = json_object_get(ab, "pairs");
    json_t *results = json_object_get(ab, "results");
    size_t pair = json_array_size(pairs);
    json_t *index = index_new(results);
    if (!index)
        return -ENOMEM;
    int rc = add_side(results, index, base, pair, 0);
    if (rc == 0)
        rc = add_side(results, index, now, pair, 1);
    json_decref(index);
    if (rc)
        return rc;
    /* Every array one entry per pair, even for what a side lacked. */
    size_t i;
    json_t *e;
    json_array_foreach(results, i, e)
    {
        const char *mname;
        json_t *m;
        json_object_foreach(json_object_get(e, "metrics"), mname, m)
        {
            if (!padded(m, "base", pair + 1) || !padded(m, "new", pair + 1))
                return -ENOMEM;
        }
    }
    const json_t *sides[2] = {base, now};
    const char *names[2] = {"base", "new"};
    for (int s = 0; s < 2; s++) {
        json_t *side = json_object_get(ab, names[s]);
        if (json_is_null(json_object_get(side, "environment")))
            json_object_set(side, "environment", json_object_get(sides[s], "environment"));
    }
    json_t *p = json_pack(
        "{s:s, s:f, s:f, s:s, s:s}", "order", order, "base_started",
        pbr_json_num(json_object_get(base, "run"), "started_unix", 0), "new_started",
        pbr_json_num(json_object_get(now, "run"), "started_unix", 0), "base_revision",
        pbr_json_str(json_object_get(base, "environment"), "git_revision", ""), "new_revision",
        pbr_json_str(json_object_get(now, "environment"), "git_revision", ""));
    if (!p || json_array_append_new(pairs, p))
        return -ENOMEM;
    return 0;
}

void pbr_ab_finish(json_t *ab, double duration_s, bool complete)
{
    json_t *run = json_object_get(ab, "run");
    json_object_set_new(run, "duration_s", json_real(duration_s));
    json_object_set_new(run, "complete", json_boolean(complete));
}

/* Checks type and presence of what readers of a session rely on. */
int pbr_ab_validate(const json_t *doc, const char *name, char *err, size_t errlen)
{
    const json_t *run = json_object_get(doc, "run");
    const json_t *pairs = json_object_get(doc, "pairs");
    const json_t *results = json_object_get(doc, "results");
#define AB_FAIL(...)                                                                    \
    do {                                                                                \
        int k_ = snprintf(err, errlen, "%s: ", name);                                   \
        if (k_ >= 0 && (size_t)k_ < errlen)                                             \
            snprintf(err + k_, errlen - (size_t)k_, __VA_ARGS__);                       \
        return -EINVAL;                                                                 \
    } while (0)
    if (!json_is_object(run) || !json_is_string(json_object_get(run, "suite")) ||
        !json_is_number(json_object_get(run, "started_unix")) ||
        !json_is_boolean(json_object_get(run, "complete")))
        AB_FAIL("A/B session without a valid 'run' (suite, started_unix, complete)");
    if (!json_is_object(json_object_get(doc, "base")) || !json_is_object(json_object_get(doc, "new")))
        AB_FAIL("A/B session without 'base' and 'new'");
    if (!json_is_array(pairs) || !json_is_array(results))
        AB_FAIL("A/B session without 'pairs' and 'results' arrays");
    size_t npairs = json_array_size(pairs), i;
    json_t *e;
    json_array_foreach(results, i, e)
    {
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "backend")) ||
            !json_is_string(json_object_get(e, "scenario")) ||
            !json_is_object(json_object_get(e, "params")) ||
            !json_is_object(json_object_get(e, "metrics")) ||
            !json_is_array(json_object_get(e, "checks")))
            AB_FAIL("results[%zu]: needs backend, scenario, params, metrics and checks", i);
        const char *mname;
        json_t *m;
        json_object_foreach(json_object_get(e, "metrics"), mname, m)
        {
            const char *better = pbr_json_str(m, "better", "");
            if (!json_is_string(json_object_get(m, "unit")) ||
                (strcmp(better, "lower") && strcmp(better, "higher")))
                AB_FAIL("results[%zu].metrics.%s: needs unit and better", i, mname);
            for (int s = 0; s < 2; s++) {
                const json_t *a = json_object_get(m, s ? "new" : "base");
                if (!json_is_array(a) || json_array_size(a) != npairs)
                    AB_FAIL("results[%zu].metrics.%s.%s: should be an array of %zu values "
                            "(one per pair)",
                            i, mname, s ? "new" : "base", npairs);
                size_t k;
                json_t *v;
                json_array_foreach(a, k, v)
                {
                    if (!json_is_number(v) && !json_is_null(v))
                        AB_FAIL("results[%zu].metrics.%s.%s[%zu]: should be a number or null",
                                i, mname, s ? "new" : "base", k);
                }
            }
        }
    }
#undef AB_FAIL
    return 0;
}

/* ------------------------------------------------------------------------
 * Noise calibrations
 * ------------------------------------------------------------------------ */

json_t *pbr_noise_new(const json_t *const *abs, size_t nabs, const char *command)
{
    json_t *metrics = json_array();
    json_t *index = json_object(); /* key -> {entry, values array} */
    if (!metrics || !index)
        goto nomem;
    for (size_t s = 0; s < nabs; s++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(abs[s], "results"), i, e)
        {
            char *pk = pbr_params_key(json_object_get(e, "params"));
            if (!pk)
                goto nomem;
            const char *mname;
            json_t *m;
            json_object_foreach(json_object_get(e, "metrics"), mname, m)
            {
                char k[2048];
                snprintf(k, sizeof k, "%s\n%s\n%s\n%s", pbr_json_str(e, "backend", ""),
                         pbr_json_str(e, "scenario", ""), pk, mname);
                json_t *slot = json_object_get(index, k);
                if (!slot) {
                    slot = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:[]}", "backend",
                                     pbr_json_str(e, "backend", ""), "scenario",
                                     pbr_json_str(e, "scenario", ""), "params",
                                     json_object_get(e, "params"), "metric", mname, "unit",
                                     pbr_json_str(m, "unit", ""), "better",
                                     pbr_json_str(m, "better", "lower"), "d");
                    if (!slot || json_object_set_new(index, k, slot) ||
                        json_array_append(metrics, slot)) {
                        free(pk);
                        goto nomem;
                    }
                }
                const json_t *b = json_object_get(m, "base"), *n = json_object_get(m, "new");
                for (size_t p = 0; p < json_array_size(b) && p < json_array_size(n); p++) {
                    double x = json_number_value(json_array_get(b, p));
                    double y = json_number_value(json_array_get(n, p));
                    if (json_is_number(json_array_get(b, p)) &&
                        json_is_number(json_array_get(n, p)) && x > 0 && y > 0)
                        json_array_append_new(json_object_get(slot, "d"), json_real(log(y / x)));
                }
            }
            free(pk);
        }
    }
    /* Each metric's sigma from its log ratios; the ratios themselves go. */
    size_t i;
    json_t *slot;
    json_array_foreach(metrics, i, slot)
    {
        json_t *d = json_object_get(slot, "d");
        size_t n = json_array_size(d);
        double *v = malloc((n ? n : 1) * sizeof *v);
        if (!v)
            goto nomem;
        for (size_t k = 0; k < n; k++)
            v[k] = json_number_value(json_array_get(d, k));
        double sigma = n >= 2 ? pbr__robust_sd(v, n) : 0.0;
        free(v);
        json_object_del(slot, "d");
        json_object_set_new(slot, "pairs", json_integer((json_int_t)n));
        json_object_set_new(slot, "sigma", json_real(sigma));
    }
    json_decref(index);
    index = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *env = nabs ? json_object_get(json_object_get(abs[0], "base"), "environment") : NULL;
    json_t *doc = json_pack("{s:s, s:s, s:f, s:i, s:O, s:o}", "schema", PBR_NOISE_SCHEMA,
                            "command", command ? command : "", "created_unix",
                            ts.tv_sec + ts.tv_nsec / 1e9, "sessions", (int)nabs, "environment",
                            env ? env : json_null(), "metrics", metrics);
    return doc;
nomem:
    json_decref(index);
    json_decref(metrics);
    return NULL;
}

int pbr_noise_validate(const json_t *doc, const char *name, char *err, size_t errlen)
{
    const json_t *metrics = json_object_get(doc, "metrics");
    if (!json_is_array(metrics)) {
        snprintf(err, errlen, "%s: noise calibration without a 'metrics' array", name);
        return -EINVAL;
    }
    size_t i;
    json_t *m;
    json_array_foreach(metrics, i, m)
    {
        double sigma = pbr_json_num(m, "sigma", -1);
        if (!json_is_string(json_object_get(m, "backend")) ||
            !json_is_string(json_object_get(m, "scenario")) ||
            !json_is_object(json_object_get(m, "params")) ||
            !json_is_string(json_object_get(m, "metric")) || !(sigma >= 0) ||
            !isfinite(sigma) || !json_is_integer(json_object_get(m, "pairs"))) {
            snprintf(err, errlen,
                     "%s: metrics[%zu]: needs backend, scenario, params, metric, pairs and a "
                     "sigma of at least 0",
                     name, i);
            return -EINVAL;
        }
    }
    return 0;
}

double pbr_noise_sigma(const json_t *noise, const char *backend, const char *scenario,
                       const char *params_key, const char *metric)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(noise, "metrics"), i, m)
    {
        if (strcmp(pbr_json_str(m, "metric", ""), metric) ||
            strcmp(pbr_json_str(m, "backend", ""), backend) ||
            strcmp(pbr_json_str(m, "scenario", ""), scenario))
            continue;
        char *k = pbr_params_key(json_object_get(m, "params"));
        bool same = k && !strcmp(k, params_key);
        free(k);
        if (same && pbr_json_num(m, "pairs", 0) >= 2)
            return pbr_json_num(m, "sigma", -1);
    }
    return -1;
}

double pbr_noise_band_pct(double sigma, size_t pairs)
{
    /* The median of n log ratios spreads about 1.2533 sigma / sqrt(n)
     * (the median's asymptotic efficiency against the mean); three of those
     * is what noise alone rarely exceeds. */
    double sd = pairs ? 1.2533 * sigma / sqrt((double)pairs) : sigma;
    return (exp(PBR_NOISE_Z * sd) - 1.0) * 100.0;
}
