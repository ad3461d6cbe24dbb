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
#include <stdio.h>

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

/* Writes doc to path atomically: a temporary file in the same folder
 * (unnamed until the rename where the filesystem allows, so not even a
 * SIGKILL leaves it behind), fsync, rename, fsync of the folder. path "-" is
 * standard output (written, flushed, not atomic). The new file has mode 0666
 * less the umask, or the permission bits of the file it replaces; a target
 * that is no longer a regular file or absent (a device, a FIFO, a link put
 * there since pbr_out_check) is not replaced. Installs no signal handler: a
 * program that must not be ended mid-write holds its signals off around
 * the call. Returns 0, or -errno with a message naming the path in err. */
int pbr_write_atomic(const char *path, const json_t *doc, char *err, size_t errlen);

/* An input of a command the results must not overwrite: {path, what it is
 * for messages ("the suite")}. */
typedef struct pbr_input {
    const char *path;
    const char *what;
} pbr_input;

/* Whether a results file may be written where `given` says (files.c says
 * why each rule): "-" (standard output), a new path in an existing folder
 * where a file can be created, a regular file, or a symbolic link to one
 * (followed); never a device, FIFO, socket or folder, one of inputs[0..n),
 * or a file of the running program or its libraries. Call it before
 * measuring. Returns 0 with the path to hand to pbr_write_atomic in
 * path[0..pathlen) ("-", given, or the file a link leads to), or -errno
 * with one line in err starting with `what` ("--out /dev/null: is a
 * character device, not a results file ..."). */
int pbr_out_check(const char *what, const char *given, const pbr_input *inputs, size_t ninputs,
                  char *path, size_t pathlen, char *err, size_t errlen);

/* The largest results file poolbench reads (a run of thousands of cases
 * stays far below it). */
#define PBR_RESULTS_MAX_BYTES ((size_t)256 << 20)

/* Reads a whole input file into *text (NUL-terminated, *len bytes without
 * the NUL; free() it). path "-" is standard input. Anything but a regular
 * file (a FIFO, a device, a folder) is refused without blocking or reading
 * it, and so is more than cap bytes. Returns 0, or -errno with one line in
 * err naming the file, and `what` it should have been ("results file"):
 * "runs/x: is a FIFO, not a results file (...)", "...: too large for a
 * results file (... at most 256 MiB)". */
int pbr_read_text(const char *path, size_t cap, const char *what, char **text, size_t *len,
                  char *err, size_t errlen);

/* Reads and checks a results file: valid JSON, schema PBR_SCHEMA, the required
 * fields of FORMAT.md with the right types. Returns the document (caller owns
 * it) or NULL with one line in err naming the file and what is wrong
 * ("results/a.json: not a poolbench results file (schema 'x/2', expected
 * 'poolbench-results/1')", "...: truncated JSON at line 40", ...). path "-"
 * is standard input; the file is read with pbr_read_text() (so capped at
 * PBR_RESULTS_MAX_BYTES); a key twice in one object, or two cases with the
 * same backend, scenario and parameters, make it invalid. */
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

/* A short label for a case, for people: "thread/roundtrip payload=8", any
 * control character in it escaped (pbr_escape). Caller frees. */
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

/* Text read from a file, made safe to print (format.c): writes s into
 * buf[0..len) with every control character — C0 (a newline, an escape that
 * starts a terminal sequence), DEL, C1 (U+0080..U+009F) — and every byte
 * that is not UTF-8 written as an escape ("\n", "\t", "\x1b", "\u009b"),
 * so a name from a results file can neither break a line of a table or a
 * message nor drive the terminal. Always NUL-terminates when len > 0
 * (truncating); returns the length the whole escaped text needs. */
size_t pbr_escape(char *buf, size_t len, const char *s);

/* pbr_escape() for printing in place: s itself when it needs no escape,
 * else an escaped copy in one of PBR_PRINTABLE_SLOTS buffers of the calling
 * thread, valid until as many more calls in that thread (so one printf may
 * hold that many). NULL prints as "". Never NULL (a copy that cannot be
 * made is "?"). */
#define PBR_PRINTABLE_SLOTS 8
const char *pbr_printable(const char *s);

/* json_dumpf() for output a person may read on a terminal: JSON escapes C0
 * controls itself, and this also writes the C1 ones (U+0080..U+009F, which
 * some terminals act on) as \u escapes. 0 or -1, as json_dumpf. */
int pbr_json_print(const json_t *json, FILE *out, size_t flags);

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

/* Reads the results files (*paths)[0..*n): 0 with *docs a malloc'd array of
 * the runs (free with pbr_docs_free) and *paths, *n replaced by their names:
 * a file's path, or "PATH[host]" for each run of a merged file (free with
 * pbr_paths_free, as before). At the first file that does not read (or is
 * an A/B session or a noise calibration): -EINVAL (-ENOMEM) with one line in
 * err, and *paths, *n untouched. */
int pbr_read_all(char ***paths, size_t *n, json_t ***docs, char *err, size_t errlen);
void pbr_docs_free(json_t **docs, size_t n);

/* Indices of docs[0..ndocs) ordered by run.started_unix, ties in the order
 * given. malloc'd (free()); NULL on ENOMEM. */
size_t *pbr_time_order(const json_t *const *docs, size_t ndocs);

/* One (backend, scenario, params, metric) series across documents, within
 * one group of comparable runs: the same host, suite, workers, pin policy
 * and kind of run. A pinned run and an unpinned one, or two machines, are
 * two series, never one. */
typedef struct pbr_series {
    char *backend, *scenario;
    char *params_key; /* pbr_params_key() of the case's params */
    char *metric;
    char *label;      /* pbr_case_label() of the case */
    char *unit;       /* from the first document that has it */
    pbr_better better;
    char *host, *suite, *pin, *kind; /* the group */
    int workers;
    char *group;      /* the group in words: "host vm, suite ci, workers 0, pin none" */
} pbr_series;

/* Every series found in docs[0..ndocs), in order of first appearance when
 * the documents are taken by run.started_unix (then by index). Returns 0
 * with *series (free with pbr_series_free) or -ENOMEM. */
int pbr_history_list(const json_t *const *docs, size_t ndocs, pbr_series **series,
                     size_t *nseries);
void pbr_series_free(pbr_series *series, size_t nseries);

/* Whether doc is a run of series s's group. */
bool pbr_series_has_run(const pbr_series *s, const json_t *doc);

/* One point of a history: one document's value of the metric. */
typedef struct pbr_history_point {
    size_t doc;               /* index into the docs array given */
    double started_unix;      /* run.started_unix */
    const char *started;      /* run.started (borrowed from the document) */
    const char *git_revision; /* environment.git_revision (borrowed) */
    char label[48];           /* "12-04 08:00 00000ab": distinct within the series
                                 ("#2" added to a repeated one) */
    double p50, ci_low, ci_high;
    long long n;
    bool trusted;
    double change_pct; /* p50 against the previous point's, in %; 0 for the first */
    int step;          /* +1 (-1): a change point begins here, the median of the
                          runs from here on above (below) that of the runs
                          before, beyond the noise band and significant; 0 none */
    double step_pct;   /* at a step: that change in %; else 0 */
    bool worse;        /* step != 0 in the metric's bad direction */
} pbr_history_point;

/* How steps are found (history.c): a change smaller than the band is noise,
 * whatever a test says. */
typedef struct pbr_history_opts {
    double threshold;     /* in %: the smallest step that matters (default 5) */
    double alpha;         /* significance of a step (default 0.01) */
    const json_t *noise;  /* a noise calibration (its band, if larger), or NULL */
} pbr_history_opts;

/* The series s over docs[0..ndocs): the runs of its group that have its
 * case and metric, ordered by run.started_unix (ties keep the order given),
 * with change points marked (opts NULL: the defaults). The same code serves
 * `poolbench history` and the history chart. Returns 0 with *points
 * (malloc'd, free() it; NULL when *npoints is 0) or -ENOMEM. */
int pbr_history_series(const json_t *const *docs, size_t ndocs, const pbr_series *s,
                       const pbr_history_opts *opts, pbr_history_point **points,
                       size_t *npoints);

/* A run's label on a time axis: "MM-DD HH:MM" and the first 7 characters of
 * its revision, into buf. */
void pbr_run_label(const json_t *doc, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Paired A/B sessions, noise calibrations, runs of many hosts (ab.c,
 * matrix.c; FORMAT.md describes the files)
 * ------------------------------------------------------------------------ */

#define PBR_AB_SCHEMA "poolbench-ab/1"
#define PBR_NOISE_SCHEMA "poolbench-noise/1"
#define PBR_MATRIX_SCHEMA "poolbench-matrix/1"

typedef struct pbr_ab_info {
    const char *command, *suite;
    const char *base_program, *new_program; /* as the user named them */
    double started_unix;
    bool duet;        /* both at once, each on its own CPUs (else interleaved) */
    const char *interleave; /* "scenario" or "suite": the unit of a pair's runs */
    int pairs;        /* planned */
    int repetitions, warmup, workers;
    const char *pin;
} pbr_ab_info;

/* A new, empty session document (run.complete false). NULL on ENOMEM. */
json_t *pbr_ab_new(const pbr_ab_info *info);

/* Adds one pair: what BASE's and NEW's runs measured (results documents),
 * one p50 per metric and side; the failed checks counted per side; the
 * sides' environments from the first pair. order is "AB", "BA" or "duet".
 * Returns 0 or -ENOMEM. */
int pbr_ab_add_pair(json_t *ab, const json_t *base, const json_t *now, const char *order);

/* Sets run.duration_s and run.complete. */
void pbr_ab_finish(json_t *ab, double duration_s, bool complete);

/* Checks a session document as readers need it; 0 or -EINVAL with err. */
int pbr_ab_validate(const json_t *doc, const char *name, char *err, size_t errlen);

/* A noise calibration from A/A sessions abs[0..n) (each a program against
 * itself): per metric, the robust standard deviation of the log ratio of a
 * pair's two values over every pair of every session. NULL on ENOMEM. */
json_t *pbr_noise_new(const json_t *const *abs, size_t n, const char *command);
int pbr_noise_validate(const json_t *doc, const char *name, char *err, size_t errlen);

/* The calibrated sigma of one metric, or -1 when noise has none (or fewer
 * than 2 pairs) for it. */
double pbr_noise_sigma(const json_t *noise, const char *backend, const char *scenario,
                       const char *params_key, const char *metric);

/* How many standard deviations of noise a change must exceed. */
#define PBR_NOISE_Z 3.0

/* The change, in %, that noise of this sigma alone rarely exceeds: for one
 * run against one run (pairs 0), or for the median ratio of that many
 * pairs. */
double pbr_noise_band_pct(double sigma, size_t pairs);

/* The default minimum effect, in %, of a paired session and of two
 * separate runs (compare --threshold). */
#define PBR_THRESHOLD_PAIRED 2.0
#define PBR_THRESHOLD_SEPARATE 5.0

/* How a session is judged (compare.c; compare's options). */
typedef struct pbr_verdict_opts {
    double threshold;  /* in %; < 0: PBR_THRESHOLD_PAIRED */
    double alpha;
    const char *metric; /* glob; NULL: all */
    const char *format; /* "text", "markdown" or "json"; NULL: text */
    const json_t *noise; /* a noise calibration, or NULL */
    const char *noise_path;
    bool gate_all;       /* every metric's regression gates, not the headlines' only */
} pbr_verdict_opts;

/* Judges an A/B session as `poolbench compare AB.json` does and prints the
 * report on out. Returns the exit status: 0 no regression, 1 a regression
 * or a check that started failing, 2 nothing to judge (told on stderr). */
int pbr_compare_session(const json_t *ab, const char *name, const pbr_verdict_opts *o, FILE *out);

/* Reads the noise calibration a --noise option names. 0, or 2 with one
 * line told on stderr. */
int pbr_read_noise(const char *path, json_t **noise);

/* What a file given to a reader is. */
typedef enum pbr_file_kind {
    PBR_FILE_RESULTS, /* a run's results (PBR_SCHEMA) */
    PBR_FILE_MATRIX,  /* runs of several hosts, merged */
    PBR_FILE_AB,      /* a paired A/B session */
    PBR_FILE_NOISE,   /* a noise calibration */
} pbr_file_kind;

/* Reads any of the files above, checked as its kind requires (a matrix's
 * runs as results). Returns the document with *kind, or NULL with one line
 * in err naming the file and what is wrong. */
json_t *pbr_read_any(const char *path, pbr_file_kind *kind, char *err, size_t errlen);

/* The host a results document was measured on ("" when unknown). */
const char *pbr_doc_host(const json_t *doc);

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

typedef struct pbr_wilcoxon_result {
    size_t n;              /* nonzero differences (the ones ranked) */
    double r_plus, r_minus; /* rank sums of the positive and negative ones */
    double w;              /* min(r_plus, r_minus) */
    double p;              /* two-sided p-value */
    bool exact;            /* p from the exact distribution (no zeros, no ties,
                              n <= 50) rather than the normal approximation */
} pbr_wilcoxon_result;

/* Two-sided Wilcoxon signed-rank test of d[0..n) against a centre of 0
 * (paired.c: zeros dropped, midranks for ties, as SciPy's defaults).
 * Returns 0 (all zeros: n 0 and p 1), -EINVAL when n is 0, -ENOMEM. */
int pbr_wilcoxon(const double *d, size_t n, pbr_wilcoxon_result *out);

/* ------------------------------------------------------------------------
 * The commands of this library (command.h)
 * ------------------------------------------------------------------------ */

extern const pbr_command pbr_compare_command; /* compare.c */
extern const pbr_command pbr_export_command;  /* export.c */
extern const pbr_command pbr_history_command; /* history.c */
extern const pbr_command pbr_merge_command;   /* matrix.c */

#endif /* PB_RESULTS_H */
