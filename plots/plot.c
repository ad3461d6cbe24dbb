/*
 * plot.c — `poolbench plot RESULTS.json... [--out DIR] [--format png|svg]`.
 *
 * Reads the results files with pbr_read_all(), extracts for every chart the
 * data its gnuplot script needs (extract.c, multi.c) into a data file, and runs
 * gnuplot on the script kept in plots/ (gnuplot.c). Prints the path of each
 * chart written on stdout; a chart the results cannot feed is skipped with
 * one line on stderr saying why, and the others are still drawn.
 *
 * Which charts: with one file, the per-run charts of that file. With two,
 * also base-vs-new per case (the first file is the base) and the history;
 * with more, the history. A folder argument stands for its *.json files.
 * Per-run charts show the run that started last, so `poolbench plot
 * old.json new.json` and `poolbench plot results/runs/` show the newest.
 *
 * Exit status: 0 when every chart that could be drawn was drawn; 1 when
 * gnuplot failed on a chart or no chart could be drawn at all; 2 for bad
 * usage, an unreadable results file, or no gnuplot.
 *
 * THE CHART TABLE
 *   `charts` below is the one place that says which scenario and metric names
 *   feed which chart. When the harness renames something, change it here.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot-int.h"
#include "plots.h"
#include "results.h"

/* sources: scenario, metric, x parameter, unit the script expects. */
static const pb__plot_chart charts[] = {
    {"latency", "latency.gp",
     "round-trip latency per backend: p50 bars, p99 and p99.9 markers, the floor",
     PB__PLOT_PER_RUN, pb__extract_latency, NULL,
     {{"roundtrip", "roundtrip", NULL, "ns"}}},
    {"cdf-roundtrip", "cdf.gp", "distribution (CDF) of round-trip latency per backend",
     PB__PLOT_PER_RUN, pb__extract_cdf, "Round-trip latency",
     {{"roundtrip", "roundtrip", NULL, "ns"}}},
    {"cdf-retrieval", "cdf.gp",
     "distribution (CDF) of retrieval latency (task end to caller) per backend",
     PB__PLOT_PER_RUN, pb__extract_cdf, "Retrieval latency",
     {{"retrieval", "retrieval", NULL, "ns"}}},
    /* Throughput: [0] the burst scenario (it has no-op tasks), else [1] the
     * sweep's per-point metrics. Efficiency: [2] the sweep (denser), else
     * [3] the burst scenario. [4] METG(50%). [5] the outside libraries' own
     * bursts (native scenario), drawn beside [0]. */
    {"granularity", "granularity.gp",
     "throughput and efficiency against task granularity per backend, METG(50%) marked",
     PB__PLOT_PER_RUN, pb__extract_granularity, NULL,
     {{"throughput", "throughput", "granularity", "tasks/s"},
      {"granularity", "throughput_g%", NULL, "tasks/s"},
      {"granularity", "efficiency_g%", NULL, "%"},
      {"throughput", "efficiency", "granularity", "%"},
      {"granularity", "metg", NULL, "ns"},
      {"native", "throughput", "granularity", "tasks/s"}}},
    {"map", "map.gp", "ordered map throughput against chunk size per backend",
     PB__PLOT_PER_RUN, pb__extract_sweep, NULL,
     {{"map", "throughput", "chunksize", "tasks/s"}}},
    {"timeout", "timeout.gp", "overshoot of result(timeout) past its deadline, per backend",
     PB__PLOT_PER_RUN, pb__extract_grouped, NULL,
     {{"timeout", "overshoot", "timeout", "ns"}}},
    /* Each source is one kind of bar. */
    {"lifecycle", "lifecycle.gp", "start-up, shutdown and fault-recovery time per backend",
     PB__PLOT_PER_RUN, pb__extract_lifecycle, NULL,
     {{"startup", "startup", NULL, "ns"},
      {"startup", "shutdown", NULL, "ns"},
      {"faults", "recovery", NULL, "ns"}}},
    /* The default metrics of the history (--metric overrides), one panel
     * each. */
    {"history", "history.gp", "chosen metrics across runs, step changes marked",
     PB__PLOT_HISTORY, pb__extract_history, NULL,
     {{"roundtrip", "roundtrip", NULL, NULL}, {"startup", "startup", NULL, NULL}}},
    {"compare", "compare.gp", "base against new per case, relative to the base median",
     PB__PLOT_COMPARE, pb__extract_compare, NULL, {{NULL, NULL, NULL, NULL}}},
    {"hosts", "hosts.gp", "one backend across hosts side by side (runs of several hosts)",
     PB__PLOT_HOSTS, pb__extract_hosts, NULL, {{NULL, NULL, NULL, NULL}}},
};

const pb__plot_chart *pb__plot_charts(size_t *n)
{
    *n = sizeof charts / sizeof charts[0];
    return charts;
}

const pb__plot_chart *pb__plot_chart_find(const char *name)
{
    for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++)
        if (!strcmp(charts[i].name, name))
            return &charts[i];
    return NULL;
}

static void charts_help(FILE *out)
{
    fprintf(out, "charts:\n");
    for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++)
        fprintf(out, "  %-14s %s\n", charts[i].name, charts[i].summary);
    fprintf(out, "\nThe scripts are plots/*.gp (or $POOLBENCH_PLOTS_DIR); edit them to restyle.\n");
}

/* Splits a comma-separated list into a NULL-terminated array of strings
 * pointing into `s` (modified). NULL on ENOMEM. */
static char **split_list(char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t)
            v[k++] = t;
    return v;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(buf, &st))
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Appends name='value' to f, doubling any ' as gnuplot wants. */
static void put_assign(FILE *f, const char *name, const char *value)
{
    fprintf(f, "%s='", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputc('\'', f);
        fputc(*p, f);
    }
    fputs("'; ", f);
}

static int write_file(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    size_t w = fwrite(buf, 1, len, f);
    int rc = (w != len || ferror(f)) ? -EIO : 0;
    if (fclose(f) && !rc)
        rc = -errno;
    return rc;
}

/* Prints gnuplot's complaints, indented, after a failure. */
static void show_errors(const char *errfile)
{
    FILE *f = fopen(errfile, "r");
    if (!f)
        return;
    char line[512];
    int shown = 0;
    while (fgets(line, sizeof line, f) && shown < 20) {
        if (line[0] == '\n')
            continue;
        fprintf(stderr, "    %s%s", line, strchr(line, '\n') ? "" : "\n");
        shown++;
    }
    fclose(f);
}

typedef struct plot_opts {
    const char *out_dir;
    const char *format;
    char **charts;  /* NULL: all */
    char **metrics; /* NULL: defaults */
    const char *backend; /* hosts: the backend shown */
    bool keep_data;
} plot_opts;

typedef struct plot_state {
    const plot_opts *opts;
    const char *gnuplot;
    const char *scripts;
    const char *data_dir;
    int drawn, failed, skipped;
} plot_state;

static bool chart_wanted(const plot_opts *o, const char *name)
{
    if (!o->charts)
        return true;
    for (char **c = o->charts; *c; c++)
        if (!strcmp(*c, name))
            return true;
    return false;
}

/* Extracts and draws one chart. Returns 0, or -ENOMEM/-errno for failures
 * that stop the whole command (the caller reports them). */
static int draw(plot_state *st, const pb__plot_chart *chart, const pb__plot_input *in)
{
    pb__plot_data d;
    int rc = pb__plot_data_init(&d);
    if (rc < 0)
        return rc;
    rc = chart->extract(chart, in, &d);
    int frc = pb__plot_data_finish(&d);
    if (rc < 0 || frc < 0) {
        pb__plot_data_free(&d);
        return rc < 0 ? rc : frc;
    }
    if (rc == PB__PLOT_SKIP) {
        fprintf(stderr, "poolbench plot: skipped %s: %s\n", chart->name, pbr_printable(d.why));
        st->skipped++;
        pb__plot_data_free(&d);
        return 0;
    }

    char datafile[PATH_MAX], outfile[PATH_MAX], errfile[PATH_MAX];
    snprintf(datafile, sizeof datafile, "%s/%s.dat", st->data_dir, chart->name);
    snprintf(errfile, sizeof errfile, "%s/%s.gnuplot-errors", st->data_dir, chart->name);
    snprintf(outfile, sizeof outfile, "%s/%s.%s", st->opts->out_dir, chart->name,
             st->opts->format);
    rc = write_file(datafile, d.data_buf, d.data_len);
    if (rc < 0) {
        fprintf(stderr, "poolbench plot: cannot write %s: %s\n", datafile, strerror(-rc));
        pb__plot_data_free(&d);
        st->failed++;
        return 0;
    }

    char *assign = NULL;
    size_t alen = 0;
    FILE *a = open_memstream(&assign, &alen);
    if (!a) {
        pb__plot_data_free(&d);
        return -ENOMEM;
    }
    put_assign(a, "datafile", datafile);
    put_assign(a, "outfile", outfile);
    put_assign(a, "fmt", st->opts->format);
    fputs(d.vars_buf ? d.vars_buf : "", a);
    pb__plot_data_free(&d);
    if (fclose(a)) {
        free(assign);
        return -ENOMEM;
    }

    /* A stale chart from an earlier run must not pass for this one. */
    unlink(outfile);
    rc = pb__plot_run_gnuplot(st->gnuplot, st->scripts, chart->script, assign, errfile);
    free(assign);
    struct stat sb;
    if (rc < 0) {
        fprintf(stderr, "poolbench plot: cannot run %s: %s\n", st->gnuplot, strerror(-rc));
        st->failed++;
    } else if (rc > 0) {
        fprintf(stderr, "poolbench plot: gnuplot failed drawing %s from %s/%s (exit status %d):\n",
                chart->name, st->scripts, chart->script, rc);
        show_errors(errfile);
        unlink(outfile); /* a half-drawn chart must not look like a result */
        st->failed++;
    } else if (stat(outfile, &sb) || sb.st_size == 0) {
        fprintf(stderr, "poolbench plot: gnuplot wrote nothing to %s for %s:\n", outfile,
                chart->name);
        show_errors(errfile);
        unlink(outfile);
        st->failed++;
    } else {
        printf("%s\n", outfile);
        fflush(stdout);
        st->drawn++;
    }
    unlink(errfile);
    if (!st->opts->keep_data)
        unlink(datafile);
    return 0;
}

/* The run the per-run charts show: the one that started last (the last
 * named among equals). */
static size_t newest_run(json_t *const *docs, size_t n)
{
    size_t best = 0;
    double tbest = -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_object_get(json_object_get(docs[i], "run"), "started_unix");
        double v = json_is_number(t) ? json_number_value(t) : 0;
        if (v >= tbest) {
            tbest = v;
            best = i;
        }
    }
    return best;
}

/* "results/runs/x.json" → "results/runs/x-charts"; a folder "runs/" →
 * "runs-charts". */
static char *default_out_dir(const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len > 5 && !strncmp(path + len - 5, ".json", 5))
        len -= 5;
    char *out = malloc(len + sizeof "-charts");
    if (out) {
        memcpy(out, path, len);
        strcpy(out + len, "-charts");
    }
    return out;
}

/* The command line, as parsed. */
typedef struct plot_cli {
    const char *out, *format, *chart, *metric, *backend;
    bool keep_data;
} plot_cli;

static const plot_cli plot_defaults = {.format = "png"};

static const pbr_option plot_options[] = {
    {.name = "out", .key = 'o', PBR_STRING(plot_cli, out), .arg = "DIR",
     .expect = "a folder name",
     .help = "where the charts go (default: the last argument without\n"
             ".json, plus -charts)"},
    {.name = "format", .key = 'f', PBR_CHOICE(plot_cli, format, "png", "svg"), .arg = "FMT",
     .help = "png (default, 800x500) or svg"},
    {.name = "chart", PBR_STRING(plot_cli, chart), .arg = "LIST",
     .help = "only these charts (comma-separated names, see below)"},
    {.name = "metric", PBR_STRING(plot_cli, metric), .arg = "LIST",
     .help = "history and compare: SCENARIO/METRIC patterns (shell\n"
             "globs, comma-separated), e.g. 'roundtrip/*,map/throughput'"},
    {.name = "backend", PBR_STRING(plot_cli, backend), .arg = "NAME",
     .help = "hosts: the backend shown (default: the first of the runs)"},
    {.name = "keep-data", PBR_FLAG(plot_cli, keep_data),
     .help = "keep each chart's data file (NAME.dat) beside it, to rerun\n"
             "its script by hand"},
    {0},
};

static int run_plot(const pbr_args *a);

const pbr_command pb_plot_command = {
    .name = "plot",
    .summary = "draw charts from results files with gnuplot",
    .synopsis = "RESULTS.json|DIR... [--out DIR] [--format png|svg]\n"
                "                      [--chart LIST] [--metric LIST] [--keep-data]",
    .about = "Draws charts from results files with gnuplot and prints the path of each.\n"
             "One file: the charts of that run. Two: also base (first) against new per\n"
             "case, and the history. More: the history of the chosen metrics across runs\n"
             "(ordered by when each run started). A folder stands for its *.json files,\n"
             "a merged file (poolbench merge) for its runs; runs of several hosts also\n"
             "get one backend across the hosts. The per-run charts show the run that\n"
             "started last.",
    .epilogue = "exit status: 0 every chart that could be drawn was drawn, 1 gnuplot failed\n"
                "on a chart or none could be drawn, 2 bad usage, an unreadable results file,\n"
                "or no gnuplot",
    .more_help = charts_help,
    .options = plot_options,
    .opts_size = sizeof(plot_cli),
    .defaults = &plot_defaults,
    .operands = "results files or folders",
    .min_operands = 1,
    .max_operands = -1,
    .run = run_plot,
};

/* One `poolbench plot`, step by step: what it reads, with what, and where
 * it writes. */
typedef struct plot_job {
    plot_opts o;
    char *charts_buf, *metrics_buf; /* what o.charts and o.metrics point into */
    char **paths;
    size_t nfiles;
    json_t **docs;
    char *gnuplot;
    const char *scripts;
    char *out_alloc;
    char tmpdir[PATH_MAX];
    const char *data_dir;
} plot_job;

static void job_free(plot_job *j)
{
    if (j->tmpdir[0] && rmdir(j->tmpdir) && errno != ENOENT)
        fprintf(stderr, "poolbench plot: could not remove %s: %s\n", j->tmpdir, strerror(errno));
    pbr_docs_free(j->docs, j->nfiles);
    pbr_paths_free(j->paths);
    free(j->o.charts);
    free(j->o.metrics);
    free(j->charts_buf);
    free(j->metrics_buf);
    free(j->gnuplot);
    free(j->out_alloc);
}

static int nomem(void)
{
    fprintf(stderr, "poolbench plot: out of memory\n");
    return 2;
}

/* --chart: known names, at least one. 0, or 2 (told). */
static int read_chart_list(plot_job *j, const char *arg)
{
    if (!(j->charts_buf = strdup(arg)) || !(j->o.charts = split_list(j->charts_buf)))
        return nomem();
    if (!j->o.charts[0]) {
        fprintf(stderr, "poolbench plot: --chart: expected at least one chart name\n");
        return 2;
    }
    for (char **c = j->o.charts; *c; c++)
        if (!pb__plot_chart_find(*c)) {
            fprintf(stderr, "poolbench plot: --chart: unknown chart '%s' (charts:", *c);
            for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++)
                fprintf(stderr, " %s", charts[i].name);
            fprintf(stderr, ")\n");
            return 2;
        }
    return 0;
}

/* --metric: SCENARIO/METRIC patterns, at least one. 0, or 2 (told). */
static int read_metric_list(plot_job *j, const char *arg)
{
    if (!(j->metrics_buf = strdup(arg)) || !(j->o.metrics = split_list(j->metrics_buf)))
        return nomem();
    for (char **m = j->o.metrics; *m; m++)
        if (!strchr(*m, '/')) {
            fprintf(stderr, "poolbench plot: --metric: '%s' is not SCENARIO/METRIC "
                            "(e.g. roundtrip/roundtrip, map/*)\n", *m);
            return 2;
        }
    if (!j->o.metrics[0]) {
        fprintf(stderr, "poolbench plot: --metric: expected at least one SCENARIO/METRIC\n");
        return 2;
    }
    return 0;
}

/* The results files: read and checked. 0, or 2 (told). */
static int read_inputs(plot_job *j, const pbr_args *a)
{
    char err[512];
    int rc = pbr_paths_expand((const char *const *)a->args, (size_t)a->nargs, &j->paths,
                              &j->nfiles, err, sizeof err);
    if (rc == 0)
        rc = pbr_read_all(&j->paths, &j->nfiles, &j->docs, err, sizeof err);
    if (rc == -ENOMEM)
        return nomem();
    if (rc < 0) {
        fprintf(stderr, "poolbench plot: %s\n", err);
        return 2;
    }
    return 0;
}

/* gnuplot and the scripts. 0, or 2 (told). */
static int find_tools(plot_job *j)
{
    if (!(j->gnuplot = pb__plot_find_gnuplot())) {
        fprintf(stderr, "poolbench plot: gnuplot not found on PATH; install it with "
                        "'sudo apt-get install gnuplot-nox' (or 'make deps')\n");
        return 2;
    }
    char err[512];
    if (!(j->scripts = pb__plot_scripts_dir(err, sizeof err))) {
        fprintf(stderr, "poolbench plot: %s\n", err);
        return 2;
    }
    return 0;
}

/* The output folder, made; the data files' folder: beside the charts
 * (--keep-data) or a temporary one. 0, or 2 (told). */
static int make_dirs(plot_job *j, const char *last_arg)
{
    if (!j->o.out_dir) {
        if (!(j->out_alloc = default_out_dir(last_arg)))
            return nomem();
        j->o.out_dir = j->out_alloc;
    }
    int rc = mkdir_p(j->o.out_dir);
    if (rc < 0) {
        fprintf(stderr, "poolbench plot: cannot create output folder %s: %s\n", j->o.out_dir,
                strerror(-rc));
        return 2;
    }
    j->data_dir = j->o.out_dir;
    if (j->o.keep_data)
        return 0;
    const char *t = getenv("TMPDIR");
    snprintf(j->tmpdir, sizeof j->tmpdir, "%s/poolbench-plot.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(j->tmpdir)) {
        fprintf(stderr, "poolbench plot: cannot create a temporary folder in %s: %s\n",
                t && *t ? t : "/tmp", strerror(errno));
        j->tmpdir[0] = '\0';
        return 2;
    }
    j->data_dir = j->tmpdir;
    return 0;
}

/* Which documents chart c is drawn from: the newest run, or all of them
 * (history, compare); NULL when their number does not fit the chart. */
static const pb__plot_input *chart_input(const plot_job *j, const pb__plot_chart *c,
                                         const pb__plot_input *one, const pb__plot_input *all)
{
    if (c->kind == PB__PLOT_PER_RUN)
        return one;
    if (c->kind == PB__PLOT_HOSTS) {
        /* Only when the runs come from several hosts: its extractor says
         * why not when asked for by name. */
        for (size_t i = 1; i < j->nfiles; i++)
            if (strcmp(pbr_doc_host(j->docs[i]), pbr_doc_host(j->docs[0])))
                return all;
        return j->o.charts ? all : NULL;
    }
    bool fits = c->kind == PB__PLOT_HISTORY ? j->nfiles >= 2 : j->nfiles == 2;
    if (fits)
        return all;
    /* Not a lack in the results: only worth a line when asked for. */
    if (j->o.charts)
        fprintf(stderr, "poolbench plot: skipped %s: needs %s results files, got %zu\n", c->name,
                c->kind == PB__PLOT_HISTORY ? "two or more" : "exactly two", j->nfiles);
    return NULL;
}

/* Draws every chart wanted. Returns the exit status: 0, or 1 when a chart
 * failed or none could be drawn. */
static int draw_all(plot_job *j)
{
    plot_state st = {.opts = &j->o, .gnuplot = j->gnuplot, .scripts = j->scripts,
                     .data_dir = j->data_dir};
    const char *const *cpaths = (const char *const *)j->paths;
    size_t newest = newest_run(j->docs, j->nfiles);
    pb__plot_input one = {.docs = j->docs + newest, .paths = cpaths + newest, .ndocs = 1,
                          .metrics = (const char *const *)j->o.metrics};
    pb__plot_input all = {.docs = j->docs, .paths = cpaths, .ndocs = j->nfiles,
                          .metrics = (const char *const *)j->o.metrics,
                          .backend = j->o.backend};
    for (size_t i = 0; i < sizeof charts / sizeof charts[0]; i++) {
        const pb__plot_chart *c = &charts[i];
        const pb__plot_input *in = chart_wanted(&j->o, c->name) ? chart_input(j, c, &one, &all)
                                                                : NULL;
        int rc = in ? draw(&st, c, in) : 0;
        if (rc < 0) {
            fprintf(stderr, "poolbench plot: %s while drawing %s\n", strerror(-rc), c->name);
            return 1;
        }
    }
    if (st.drawn == 0 && st.failed == 0)
        fprintf(stderr, "poolbench plot: no chart could be drawn from %s\n",
                pbr_printable(j->paths[newest]));
    return st.failed > 0 || st.drawn == 0 ? 1 : 0;
}

static int run_plot(const pbr_args *a)
{
    const plot_cli *cli = a->opts;
    plot_job j = {.o = {.out_dir = cli->out, .format = cli->format, .keep_data = cli->keep_data,
                        .backend = cli->backend}};
    int status = 0;
    if (cli->chart)
        status = read_chart_list(&j, cli->chart);
    if (status == 0 && cli->metric)
        status = read_metric_list(&j, cli->metric);
    if (status == 0)
        status = read_inputs(&j, a);
    if (status == 0)
        status = find_tools(&j);
    if (status == 0)
        status = make_dirs(&j, a->args[a->nargs - 1]);
    if (status == 0)
        status = draw_all(&j);
    job_free(&j);
    return status;
}
