/*
 * plot-int.h — internals of `poolbench plot`, shared by the driver (plot.c),
 * the data extraction (extract.c), the gnuplot runner (gnuplot.c) and tests.
 *
 * DESIGN
 *
 * A chart is one row of the chart table in plot.c: a name (which is also the
 * output file's base name), the gnuplot script in plots/ that draws it, how
 * many results files it needs, the extractor that turns the results into a
 * data file, and the scenario/metric/parameter names it reads. The names live
 * only in that table, so when the harness renames a scenario the fix is one
 * line there.
 *
 * An extractor never draws and never prints. It reads the parsed documents and
 * writes into a pb__plot_data:
 *   - `data`: the data file, a plain whitespace table gnuplot reads. Blocks
 *     are separated by two blank lines (gnuplot's `index`); the first line of
 *     each block is a header whose first field names the series (the legend
 *     title, via `set datafile columnheaders`). Lines starting with '#' are
 *     comments for the human reading the file.
 *   - `vars`: gnuplot assignments passed with `gnuplot -e` before the script:
 *     the dimensions of the data (how many series, whether a floor exists),
 *     the line type of each series, and a subtitle naming the run. Only data
 *     and sizes travel this way; every drawing decision is in the script.
 * or it declines with PB__PLOT_SKIP and one line in `why` that says what the
 * results lack ("no case of scenario 'map' with metric 'throughput'").
 *
 * The driver then writes `data` to a file and runs
 *     gnuplot -e "datafile='...'; outfile='...'; fmt='png'; <vars>" SCRIPT.gp
 * Scripts are found in $POOLBENCH_PLOTS_DIR, else PB_PLOTS_SOURCE_DIR (the
 * source tree, for a build that was not installed), else PB_PLOTS_INSTALL_DIR.
 *
 * Series colours: every backend of a run gets a fixed line type (thread 1,
 * fork 2, exec 3, the others 4, 5, ... in order of first appearance), so one
 * backend has one colour in every chart; plots/common.gp defines the
 * palette. Further series of the same backend (other parameter values) keep
 * its colour, dashed then dotted: see pb__plot_series_lt().
 */
#ifndef PB_PLOTS_PLOT_INT_H
#define PB_PLOTS_PLOT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* An extractor's "this chart cannot be drawn from these results". Distinct
 * from every negative errno. */
#define PB__PLOT_SKIP 1

/* Most series a chart draws, and most panels of the history chart. */
#define PB__PLOT_MAX_SERIES 64

typedef struct pb__plot_data {
    FILE *data;      /* the data file being written (open_memstream) */
    char *data_buf;  /* its contents once closed */
    size_t data_len;
    FILE *vars;      /* gnuplot assignments, "name=value; " each */
    char *vars_buf;
    size_t vars_len;
    char why[256];   /* PB__PLOT_SKIP: why this chart is not drawn */
} pb__plot_data;

/* Where a chart's numbers come from: a scenario, one of its metrics, the
 * parameter that is the chart's x axis (NULL when none), and the unit the
 * script expects (a metric in another unit is not drawn, and the skip line
 * says so). Efficiency is special: "ratio" is accepted and drawn as %.
 * A metric with a '%' names a family, the x value being the number in each
 * name: "efficiency_g%" takes efficiency_g1000 as the point x = 1000. */
typedef struct pb__plot_source {
    const char *scenario;
    const char *metric;
    const char *param;
    const char *unit;
} pb__plot_source;

typedef struct pb__plot_chart pb__plot_chart;

/* What an extractor reads. Per-run charts get the one document they are drawn
 * from; history and compare get every document in command-line order. */
typedef struct pb__plot_input {
    json_t *const *docs;
    const char *const *paths; /* paths[i] names docs[i] in messages */
    size_t ndocs;
    /* history/compare: "SCENARIO/METRIC" patterns (fnmatch), NULL-terminated;
     * NULL: the defaults (history: its chart's sources; compare: each
     * case's headline metric, as the results file names it). */
    const char *const *metrics;
    const char *backend; /* hosts: the backend shown; NULL: the first */
} pb__plot_input;

/* Returns 0, PB__PLOT_SKIP (out->why set) or -ENOMEM. */
typedef int (*pb__plot_extract_fn)(const pb__plot_chart *chart, const pb__plot_input *in,
                                   pb__plot_data *out);

typedef enum {
    PB__PLOT_PER_RUN, /* drawn from one results file (the last one given) */
    PB__PLOT_HISTORY, /* drawn from two or more files, ordered by run time */
    PB__PLOT_COMPARE, /* drawn from exactly two files: base, then new */
    PB__PLOT_HOSTS    /* drawn from runs of two or more hosts (a merged file) */
} pb__plot_kind;

#define PB__PLOT_MAX_SOURCES 6

struct pb__plot_chart {
    const char *name;    /* output base name: DIR/<name>.png */
    const char *script;  /* the .gp file in the plots directory */
    const char *summary; /* for --help and the skip lines */
    pb__plot_kind kind;
    pb__plot_extract_fn extract;
    const char *what; /* passed to the script as `what` (e.g. "Round trip"), or NULL */
    pb__plot_source sources[PB__PLOT_MAX_SOURCES]; /* meaning is the extractor's; see plot.c */
};

/* The chart table (plot.c) and lookup by name (NULL when unknown). */
const pb__plot_chart *pb__plot_charts(size_t *n);
const pb__plot_chart *pb__plot_chart_find(const char *name);

/* --- pb__plot_data (extract.c) ------------------------------------------ */

int pb__plot_data_init(pb__plot_data *d);
/* Closes the streams; data_buf/vars_buf then hold the text (NUL-terminated).
 * Returns 0 or -ENOMEM. */
int pb__plot_data_finish(pb__plot_data *d);
void pb__plot_data_free(pb__plot_data *d);
/* Declines the chart: returns PB__PLOT_SKIP with why formatted. */
int pb__plot_skip(pb__plot_data *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pb__plot_var_int(pb__plot_data *d, const char *name, long long v);
void pb__plot_var_num(pb__plot_data *d, const char *name, double v);
/* A gnuplot single-quoted string; a ' inside is doubled, as gnuplot wants. */
void pb__plot_var_str(pb__plot_data *d, const char *name, const char *v);

/* --- reading results and writing data files (extract.c; multi.c too) --- */

/* A data-file field after a space: "%.6g", or NaN (which gnuplot skips). */
void pb__plot_put_num(FILE *f, double v);
/* A data-file field gnuplot reads as one string: double quotes, inner ones
 * and line breaks dropped. */
void pb__plot_put_str(FILE *f, const char *s);
/* Line type 1-3 of our own backends (thread, fork, exec), so each keeps its
 * colour in every chart and run; 0 for any other backend. */
int pb__plot_fixed_lt(const char *backend);

/* The line type of a backend's k-th series (k from 0): the backend's colour
 * (line type 1-8), solid, then dashed (9-16), then dotted (17-24). */
int pb__plot_series_lt(int backend_lt, size_t k);

/* --- extractors (extract.c; history, compare and hosts in multi.c) ------ */

int pb__extract_latency(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out);
int pb__extract_cdf(const pb__plot_chart *chart, const pb__plot_input *in,
                    pb__plot_data *out);
int pb__extract_granularity(const pb__plot_chart *chart, const pb__plot_input *in,
                            pb__plot_data *out);
int pb__extract_sweep(const pb__plot_chart *chart, const pb__plot_input *in,
                      pb__plot_data *out);
int pb__extract_grouped(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out);
int pb__extract_lifecycle(const pb__plot_chart *chart, const pb__plot_input *in,
                          pb__plot_data *out);
int pb__extract_history(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out);
int pb__extract_compare(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out);
int pb__extract_hosts(const pb__plot_chart *chart, const pb__plot_input *in,
                      pb__plot_data *out);

/* A short description of the run for chart subtitles: "suite quick · host vm ·
 * 2026-11-21 08:00 UTC · rev abcdef1". Caller frees; NULL on ENOMEM. */
char *pb__plot_run_subtitle(const json_t *doc);

/* --- gnuplot (gnuplot.c) -------------------------------------------------- */

/* The directory holding the .gp scripts: $POOLBENCH_PLOTS_DIR if set, else
 * the first of PB_PLOTS_SOURCE_DIR, PB_PLOTS_INSTALL_DIR that holds
 * common.gp. NULL with err set when none does. */
const char *pb__plot_scripts_dir(char *err, size_t errlen);

/* The full path of `gnuplot` found on PATH (caller frees), or NULL. */
char *pb__plot_find_gnuplot(void);

/* Runs gnuplot on dir/script with `-e "<assignments>"`, its stderr captured in
 * errfile (truncated first). Returns gnuplot's exit status (0 fine), or
 * -errno when it could not be started. */
int pb__plot_run_gnuplot(const char *gnuplot, const char *dir, const char *script,
                         const char *assignments, const char *errfile);

#endif /* PB_PLOTS_PLOT_INT_H */
