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

#include "command.h"

#define PBR_SCHEMA "poolbench-results/1"

typedef enum { PBR_LOWER, PBR_HIGHER } pbr_better;

typedef struct pbr_summary {
    size_t n;
    double min, mean, stddev, p50, p90, p99, p999, max;
    double ci_low, ci_high; /* 95% CI of the median, from the samples' order statistics */
    double mad;             /* median absolute deviation, unscaled */
    size_t outliers;        /* |x - p50| > 3 * 1.4826 * mad (mad 0: 3 * 1.253314 *
                               the mean absolute deviation from p50) */
} pbr_summary;

/* Summarises x[0..n) (not modified). Percentiles interpolate linearly between
 * order statistics (type 7, as numpy's default). n = 0 → all zero. Returns 0 or
 * -ENOMEM. */
int pbr_summarize(const double *x, size_t n, pbr_summary *out);

/* The p-th percentile (0..100) of sorted[0..n), type 7. */
double pbr_percentile_sorted(const double *sorted, size_t n, double p);

/* Widens [*ci_low, *ci_high], a 95% confidence interval of the median from
 * pooled samples, to cover the same order-statistic interval taken over the
 * repetitions' medians medians[0..nreps) (with 5 or fewer: their min and
 * max), so that a metric whose repetitions disagree gets an interval as wide
 * as their disagreement (stats.c says why). nreps < 2 leaves it as it is. */
void pbr_ci_repetitions(const double *medians, size_t nreps, double *ci_low, double *ci_high);

/* A METRIC object (FORMAT.md) from per-repetition samples: reps[r][0..lens[r])
 * for r < nreps. The summary is over all samples pooled, but for the 95% CI
 * of the median, which also covers the repetition medians' own interval
 * (pbr_ci_repetitions); `repetitions` holds
 * each repetition's median; `trusted` is computed as FORMAT.md says; a
 * log-linear histogram is included when include_histogram. NULL on ENOMEM or
 * when there is no sample at all. */
json_t *pbr_metric_new(const char *unit, pbr_better better, const double *const *reps,
                       const size_t *lens, size_t nreps, bool include_histogram);

/* The `environment` object of FORMAT.md for this machine and build. */
json_t *pbr_environment_new(void);

/* A new empty document: {"schema", "run": run, "environment": env,
 * "results": []}. run and env are stolen, even on failure; NULL (either of
 * them NULL, or ENOMEM) on failure. */
json_t *pbr_document_new(json_t *run, json_t *env);

/* What the `run` object of a document says (FORMAT.md). */
typedef struct pbr_run_info {
    const char *kind;    /* "run" or "stress" */
    const char *command; /* the command line */
    const char *suite;   /* its name; "" for stress */
    double started_unix; /* CLOCK_REALTIME at the start; `started` is written from it */
    double duration_s;
    bool complete;
    int repetitions, warmup, workers;
    const char *pin;
} pbr_run_info;

/* The `run` object, with this build's poolbench_version. NULL on ENOMEM. */
json_t *pbr_run_new(const pbr_run_info *info);

/* Writes doc to path atomically: a temporary file in the same folder, fsync,
 * rename. Returns 0, or -errno with a message naming the path in err. */
int pbr_write_atomic(const char *path, const json_t *doc, char *err, size_t errlen);

/* Reads and checks a results file: valid JSON, schema PBR_SCHEMA, the required
 * fields of FORMAT.md with the right types. Returns the document (caller owns
 * it) or NULL with one line in err naming the file and what is wrong
 * ("results/a.json: not a poolbench results file (schema 'x/2', expected
 * 'poolbench-results/1')", "...: truncated JSON at line 40", ...). path "-"
 * is standard input. */
json_t *pbr_read(const char *path, char *err, size_t errlen);

/* An installed poolbench's data folder <sub> ("suites", "plots"), found
 * relative to the running executable (paths.c): into buf, 0, or -ENOENT
 * when there is none (a program run from its build tree), -ENAMETOOLONG. */
int pbr_install_dir(const char *sub, char *buf, size_t len);

/* A string member of obj, or dflt when it is absent or not a string. */
const char *pbr_json_str(const json_t *obj, const char *key, const char *dflt);

/* A number member of obj, or dflt when it is absent or not a number. */
double pbr_json_num(const json_t *obj, const char *key, double dflt);

/* Checks an in-memory document as pbr_read does; 0 or -EINVAL with err. */
int pbr_validate(const json_t *doc, const char *name, char *err, size_t errlen);

/* The params object of a case as canonical JSON (sorted keys, compact):
 * the key used to match cases across files. Caller frees. */
char *pbr_params_key(const json_t *params);

/* The first case of doc with this backend, scenario and pbr_params_key();
 * NULL when there is none (or no memory to compute a key). Borrowed. */
const json_t *pbr_find_case(const json_t *doc, const char *backend, const char *scenario,
                            const char *params_key);

/* A short label for a case: "thread/roundtrip payload=8". Caller frees. */
char *pbr_case_label(const json_t *result_case);

/* How pbr_format_value() writes a value (format.c explains the choice). */
typedef enum pbr_format_style {
    PBR_FORMAT_TABLE, /* fixed decimals per scale: "11.80 us", "181.3k tasks/s" */
    PBR_FORMAT_SHORT, /* three significant digits: "11.8 us", "181k tasks/s" */
    PBR_FORMAT_CHART, /* as SHORT, with "µs" (UTF-8: not for byte-counted columns) */
} pbr_format_style;

/* Writes v with its unit (a metric's FORMAT.md unit: "ns", "tasks/s",
 * "bytes/s", "%", "count", "ratio", or any other, shown after the number;
 * NULL reads as "") into buf[0..len), scaled for people: ns as ns, us, ms or
 * s; rates with k or M. Always NUL-terminates when len > 0; truncates a value
 * that does not fit. NaN and infinities come out as printf writes them:
 * callers that may hold one decide what to show instead. */
void pbr_format_value(char *buf, size_t len, const char *unit, double v, pbr_format_style style);

/* ------------------------------------------------------------------------
 * Many files: history, compare, plots
 * ------------------------------------------------------------------------ */

/* Expands command-line arguments into results file paths: a file (and "-",
 * standard input) is taken as is, a folder contributes its *.json files (not recursing) in name
 * order. Returns 0 with *paths a NULL-terminated array of *npaths strings
 * (free with pbr_paths_free), or -errno with one line in err naming the
 * argument ("runs/: cannot open folder: ...", "runs/: no .json file in this
 * folder"). Files are not read here: pbr_read() checks them. */
int pbr_paths_expand(const char *const *args, size_t nargs, char ***paths, size_t *npaths,
                     char *err, size_t errlen);
void pbr_paths_free(char **paths);

/* pbr_read() of paths[0..n): 0 with *docs a malloc'd array of n documents
 * (free with pbr_docs_free), or, at the first file that does not read,
 * -EINVAL (-ENOMEM) with pbr_read()'s one line in err and nothing kept. */
int pbr_read_all(char *const *paths, size_t n, json_t ***docs, char *err, size_t errlen);
void pbr_docs_free(json_t **docs, size_t n);

/* Indices of docs[0..ndocs) ordered by run.started_unix, ties in the order
 * given. malloc'd (free()); NULL on ENOMEM. */
size_t *pbr_time_order(const json_t *const *docs, size_t ndocs);

/* One (backend, scenario, params, metric) series across documents. */
typedef struct pbr_series {
    char *backend, *scenario;
    char *params_key; /* pbr_params_key() of the case's params */
    char *metric;
    char *label;      /* pbr_case_label() of the case */
    char *unit;       /* from the first document that has it */
    pbr_better better;
} pbr_series;

/* Every series found in docs[0..ndocs), in order of first appearance when
 * the documents are taken by run.started_unix (then by index). Returns 0
 * with *series (free with pbr_series_free) or -ENOMEM. */
int pbr_history_list(const json_t *const *docs, size_t ndocs, pbr_series **series,
                     size_t *nseries);
void pbr_series_free(pbr_series *series, size_t nseries);

/* One point of a history: one document's value of the metric. */
typedef struct pbr_history_point {
    size_t doc;               /* index into the docs array given */
    double started_unix;      /* run.started_unix */
    const char *started;      /* run.started (borrowed from the document) */
    const char *git_revision; /* environment.git_revision (borrowed) */
    double p50, ci_low, ci_high;
    long long n;
    bool trusted;
    double change_pct; /* p50 against the previous point's, in %; 0 for the first */
    int step;          /* +1 (-1): p50 lies above (below) the previous point's
                          [ci_low, ci_high]; 0 otherwise and for the first point */
    bool worse;        /* step != 0 in the metric's bad direction */
} pbr_history_point;

/* The series of one (backend, scenario, params key, metric) over
 * docs[0..ndocs), ordered by run.started_unix (ties keep the order given).
 * Documents without that case or metric contribute no point. The same code
 * serves `poolbench history` and the history chart. Returns 0 with *points
 * (malloc'd, free() it; NULL when *npoints is 0) or -ENOMEM. */
int pbr_history_series(const json_t *const *docs, size_t ndocs, const char *backend,
                       const char *scenario, const char *params_key, const char *metric,
                       pbr_history_point **points, size_t *npoints);

/* ------------------------------------------------------------------------
 * Which pool for what (digest.c)
 * ------------------------------------------------------------------------ */

#define PBR_DIGEST_MAX 8

/* One question a person choosing a pool asks, answered from one run. */
typedef struct pbr_digest_entry {
    const char *question; /* "fastest for tiny tasks" (static) */
    bool answered;        /* false: not measured in this run (answer says so) */
    bool trusted;         /* the winner's figure is trusted (FORMAT.md) */
    char best[64];        /* the winning backend; "" when none */
    char answer[512];     /* one line: "thread: 6.4M tasks/s (no-op tasks); then ..." */
} pbr_digest_entry;

/* The digest of doc into out[0..max): the fastest for tiny tasks, the
 * lowest round trip, the cheapest CPU per task, the lowest p99 under load,
 * the backends that survive worker crashes — each from the ok cases of the
 * scenario that measures it, or "not measured in this run". Returns the
 * number of entries. */
size_t pbr_digest(const json_t *doc, pbr_digest_entry *out, size_t max);

/* "which pool for what (this run, this machine):" and one line per entry. */
void pbr_digest_print(FILE *out, const json_t *doc);

/* A skip reason shown once for the cases it stands for (digest.c). */
typedef struct pbr_skip_note {
    const char *scenario; /* borrowed from the document */
    char reason[512];     /* whole, the backend's own name made "it" */
    char backends[256];   /* "thread, glib, libuv" */
} pbr_skip_note;

/* The note number (from 1) of skipped case c in notes[0..*n), added (and
 * *n grown) when new; 0 when notes already holds max. */
int pbr_skip_note_add(pbr_skip_note *notes, size_t *n, size_t max, const json_t *c);

/* ------------------------------------------------------------------------
 * Significance
 * ------------------------------------------------------------------------ */

typedef struct pbr_mwu {
    double u;   /* U of the first sample: R1 - n1 (n1 + 1) / 2, midranks for ties */
    double p;   /* two-sided p-value */
    bool exact; /* p from the exact permutation distribution over midranks (n1 + n2
                   <= 60, ties or not) rather than the normal approximation with tie
                   and continuity correction */
} pbr_mwu;

/* Two-sided Mann-Whitney U test of x[0..n1) against y[0..n2). Returns 0,
 * -EINVAL when a sample is empty, -ENOMEM. */
int pbr_mann_whitney(const double *x, size_t n1, const double *y, size_t n2, pbr_mwu *out);

/* ------------------------------------------------------------------------
 * The commands of this library (command.h)
 * ------------------------------------------------------------------------ */

extern const pbr_command pbr_compare_command; /* compare.c */
extern const pbr_command pbr_export_command;  /* export.c */
extern const pbr_command pbr_history_command; /* history.c */

#endif /* PB_RESULTS_H */
