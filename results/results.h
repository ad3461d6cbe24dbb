/*
 * results.h — statistics and the results file (see FORMAT.md beside this).
 *
 * The harness measures; this library summarises samples into metrics, collects
 * the environment, and writes and reads results documents. Everything that
 * reads a results file (compare, export, history, plot) goes through
 * pbr_read(), so a bad file gets the same clear message everywhere.
 *
 * JSON is built with jansson; functions named _new return a new reference the
 * caller owns (json_decref it), in jansson's style.
 */
#ifndef PB_RESULTS_H
#define PB_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PBR_SCHEMA "poolbench-results/1"

typedef enum { PBR_LOWER, PBR_HIGHER } pbr_better;

typedef struct pbr_summary {
    size_t n;
    double min, mean, stddev, p50, p90, p99, p999, max;
    double ci_low, ci_high; /* 95% CI of the median, from order statistics */
    double mad;             /* median absolute deviation, unscaled */
    size_t outliers;        /* |x - p50| > 3 * 1.4826 * mad */
} pbr_summary;

/* Summarises x[0..n) (not modified). Percentiles interpolate linearly between
 * order statistics (type 7, as numpy's default). n = 0 → all zero. Returns 0 or
 * -ENOMEM. */
int pbr_summarize(const double *x, size_t n, pbr_summary *out);

/* The p-th percentile (0..100) of sorted[0..n), type 7. */
double pbr_percentile_sorted(const double *sorted, size_t n, double p);

/* A METRIC object (FORMAT.md) from per-repetition samples: reps[r][0..lens[r])
 * for r < nreps. The summary is over all samples pooled; `repetitions` holds
 * each repetition's median; `trusted` is computed as FORMAT.md says; a
 * log-linear histogram is included when include_histogram. NULL on ENOMEM or
 * when there is no sample at all. */
json_t *pbr_metric_new(const char *unit, pbr_better better, const double *const *reps,
                       const size_t *lens, size_t nreps, bool include_histogram);

/* The `environment` object of FORMAT.md for this machine and build. */
json_t *pbr_environment_new(void);

/* A new empty document: {"schema", "run": run (stolen), "environment": env
 * (stolen), "results": []}. */
json_t *pbr_document_new(json_t *run, json_t *env);

/* Writes doc to path atomically: a temporary file in the same folder, fsync,
 * rename. Returns 0, or -errno with a message naming the path in err. */
int pbr_write_atomic(const char *path, const json_t *doc, char *err, size_t errlen);

/* Reads and checks a results file: valid JSON, schema PBR_SCHEMA, the required
 * fields of FORMAT.md with the right types. Returns the document (caller owns
 * it) or NULL with one line in err naming the file and what is wrong
 * ("results/a.json: not a poolbench results file (schema 'x/2', expected
 * 'poolbench-results/1')", "...: truncated JSON at line 40", ...). */
json_t *pbr_read(const char *path, char *err, size_t errlen);

/* Checks an in-memory document as pbr_read does; 0 or -EINVAL with err. */
int pbr_validate(const json_t *doc, const char *name, char *err, size_t errlen);

/* The params object of a case as canonical JSON (sorted keys, compact):
 * the key used to match cases across files. Caller frees. */
char *pbr_params_key(const json_t *params);

/* A short label for a case: "thread/roundtrip payload=8". Caller frees. */
char *pbr_case_label(const json_t *result_case);

#endif /* PB_RESULTS_H */
