/*
 * plot.c — `poolbench plot RESULTS.json... [--out DIR] [--format png|svg]`,
 * and the chart table.
 *
 * Reads the results files with pbr_read_all() and draws every chart they can
 * feed (render.c: extracted data, then gnuplot on the script kept in
 * plots/). Prints the path of each chart written on stdout; a chart the
 * results cannot feed is skipped with one line on stderr saying why, and the
 * others are still drawn.
 *
 * Which charts: with one file, the per-run charts of that file. With two,
 * also base-vs-new per case (the first file is the base) and the history;
 * with more, the history. A folder argument stands for its *.json files,
 * and - for standard input. Per-run charts show the run that started last,
 * so `poolbench plot old.json new.json` and `poolbench plot results/runs/`
 * show the newest. `--out -` writes the one chart asked for with --chart to
 * standard output.
 *
 * Exit status: 0 when every chart that could be drawn was drawn; 1 when
 * gnuplot failed on a chart or no chart could be drawn at all; 2 for bad
 * usage, an unreadable results file, or no gnuplot.
 *
 * THE CHART TABLE
 *   `charts` below is the one place that says which scenario and metric names
 *   feed which chart, and what each is titled. When the harness renames
 *   something, change it here. A new chart is one row here, its extractor
 *   (extract.c's helpers do the selecting, grouping and styling) and its
 *   script, which loads common.gp.
 */
#include <errno.h>
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
     "round-trip latency per backend: median, p99 and p99.9 against the floor of its kind",
     PB__PLOT_PER_RUN, pb__extract_latency,
     "Round-trip latency per backend (submit to result, one task in flight)",
     {{"roundtrip", "roundtrip", NULL, "ns"}}},
    {"cdf-roundtrip", "cdf.gp", "distribution (CDF) of round-trip latency per backend",
     PB__PLOT_PER_RUN, pb__extract_cdf, "Round-trip latency: distribution per backend",
     {{"roundtrip", "roundtrip", NULL, "ns"}}},
    {"cdf-retrieval", "cdf.gp",
     "distribution (CDF) of retrieval latency (task end to caller) per backend",
     PB__PLOT_PER_RUN, pb__extract_cdf,
     "Retrieval latency (task end to caller): distribution per backend",
     {{"retrieval", "retrieval", NULL, "ns"}}},
    /* Throughput: [0] the burst scenario (it has no-op tasks), else [1] the
     * sweep's per-point metrics. Efficiency: [2] the sweep (denser), else
     * [3] the burst scenario. [4] METG(50%). [5] the outside libraries' own
     * bursts (native scenario), drawn beside [0]. */
    {"granularity", "granularity.gp",
     "throughput and efficiency against task granularity per backend, METG(50%) marked",
     PB__PLOT_PER_RUN, pb__extract_granularity,
     "Throughput and efficiency against task granularity",
     {{"throughput", "throughput", "granularity", "tasks/s"},
      {"granularity", "throughput_g%", NULL, "tasks/s"},
      {"granularity", "efficiency_g%", NULL, "%"},
      {"throughput", "efficiency", "granularity", "%"},
      {"granularity", "metg", NULL, "ns"},
      {"native", "throughput", "granularity", "tasks/s"}}},
    /* Sweeps: each source is one panel, the metric against its parameter. */
    {"map", "sweep.gp", "ordered map throughput against chunk size per backend",
     PB__PLOT_PER_RUN, pb__extract_sweep, "Ordered map: throughput against chunk size",
     {{"map", "throughput", "chunksize", "tasks/s"}}},
    {"load", "load.gp",
     "latency against offered load (open loop), per backend: sojourn p50 solid, p99 dashed",
     PB__PLOT_PER_RUN, pb__extract_load, "Latency against offered load (open loop)",
     {{"load", "sojourn", "load", "ns"}}},
    {"contention", "sweep.gp",
     "several threads submitting to one pool: throughput and each submit's cost",
     PB__PLOT_PER_RUN, pb__extract_sweep, "Submitters sharing one pool",
     {{"contention", "throughput", "submitters", "tasks/s"},
      {"contention", "submit", "submitters", "ns"}}},
    {"payload", "sweep.gp", "payload size: echo round trip and bytes carried per second",
     PB__PLOT_PER_RUN, pb__extract_sweep, "Payload size: echo round trip and bytes per second",
     {{"payload", "roundtrip", "size", "ns"}, {"payload", "bytes_per_s", "size", "bytes/s"}}},
    {"timeout", "timeout.gp", "overshoot of result(timeout) past its deadline, per backend",
     PB__PLOT_PER_RUN, pb__extract_grouped,
     "Timeout overshoot: how late result(timeout) returns past its deadline",
     {{"timeout", "overshoot", "timeout", "ns"}}},
    /* Each source is one kind of mark. */
    {"lifecycle", "lifecycle.gp", "start-up, shutdown and fault-recovery time per backend",
     PB__PLOT_PER_RUN, pb__extract_lifecycle,
     "Start-up, shutdown and fault recovery per backend",
     {{"startup", "startup", NULL, "ns"},
      {"startup", "shutdown", NULL, "ns"},
      {"faults", "recovery", NULL, "ns"}}},
    /* What a pool costs: [0] the latency and [1] the burst throughput (its
     * parameter at 0: empty tasks) against [2] + [3] the CPU per task. */
    {"cost", "cost.gp",
     "round-trip latency and burst throughput against the CPU each task cost, per backend",
     PB__PLOT_PER_RUN, pb__extract_cost, "What a task costs: latency and throughput against CPU per task",
     {{"roundtrip", "roundtrip", NULL, "ns"},
      {"throughput", "throughput", "granularity", "tasks/s"},
      {NULL, "cpu_per_task", NULL, "ns"},
      {NULL, "submitter_cpu_per_task", NULL, "ns"}}},
    /* [0] speedup per worker count, [1] + [2] CPU per task per count. */
    {"scaling", "scaling.gp",
     "speedup against the number of workers with the ideal, and CPU per task",
     PB__PLOT_PER_RUN, pb__extract_scaling, "Scaling: speedup and CPU per task against workers",
     {{"scaling", "speedup_w%", NULL, "ratio"},
      {"scaling", "cpu_per_task_w%", NULL, "ns"},
      {"scaling", "submitter_cpu_per_task_w%", NULL, "ns"}}},
    /* The default metrics of the history (--metric overrides), one panel
     * each. */
    {"history", "history.gp", "chosen metrics across runs, step changes marked",
     PB__PLOT_HISTORY, pb__extract_history, "History: chosen metrics across runs",
     {{"roundtrip", "roundtrip", NULL, NULL}, {"startup", "startup", NULL, NULL}}},
    {"compare", "compare.gp", "base against new per case: new / base on a log scale, worst first",
     PB__PLOT_COMPARE, pb__extract_compare, "Base against new: change per case, worst first",
     {{NULL, NULL, NULL, NULL}}},
    {"hosts", "hosts.gp", "one backend across hosts side by side (runs of several hosts)",
     PB__PLOT_HOSTS, pb__extract_hosts, "One backend across hosts", {{NULL, NULL, NULL, NULL}}},
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

/* "results/runs/x.json" → "results/runs/x-charts"; a folder "runs/" →
 * "runs-charts"; standard input → "charts". */
static char *default_out_dir(const char *path)
{
    if (!strcmp(path, "-"))
        return strdup("charts");
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
             ".json, plus -charts); - writes the one chart --chart names\n"
             "to standard output"},
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
    .synopsis = "RESULTS.json|DIR|-... [--out DIR|-] [--format png|svg]\n"
                "                      [--chart LIST] [--metric LIST] [--keep-data]",
    .about = "Draws charts from results files with gnuplot and prints the path of each.\n"
             "One file: the charts of that run. Two: also base (first) against new per\n"
             "case, and the history. More: the history of the chosen metrics across runs\n"
             "(ordered by when each run started). A folder stands for its *.json files,\n"
             "a merged file (poolbench merge) for its runs, - for standard input; runs of\n"
             "several hosts also get one backend across the hosts. The per-run charts\n"
             "show the run that started last.",
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

/* One `poolbench plot`: what it reads and where it writes. */
typedef struct plot_job {
    char *charts_buf, *metrics_buf;
    char **charts, **metrics; /* NULL-terminated, pointing into the bufs; NULL: all */
    char **paths;
    size_t nfiles;
    json_t **docs;
    char *out_alloc;
    char tmp_out[PATH_MAX]; /* --out -: the scratch folder the chart is drawn in */
    const char *backend;    /* hosts: the backend shown (--backend) */
} plot_job;

static void job_free(plot_job *j)
{
    pbr_docs_free(j->docs, j->nfiles);
    pbr_paths_free(j->paths);
    free(j->charts);
    free(j->metrics);
    free(j->charts_buf);
    free(j->metrics_buf);
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
    if (!(j->charts_buf = strdup(arg)) || !(j->charts = split_list(j->charts_buf)))
        return nomem();
    if (!j->charts[0]) {
        fprintf(stderr, "poolbench plot: --chart: expected at least one chart name\n");
        return 2;
    }
    for (char **c = j->charts; *c; c++)
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
    if (!(j->metrics_buf = strdup(arg)) || !(j->metrics = split_list(j->metrics_buf)))
        return nomem();
    for (char **m = j->metrics; *m; m++)
        if (!strchr(*m, '/')) {
            fprintf(stderr, "poolbench plot: --metric: '%s' is not SCENARIO/METRIC "
                            "(e.g. roundtrip/roundtrip, map/*)\n", *m);
            return 2;
        }
    if (!j->metrics[0]) {
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

/* Copies the one chart drawn to standard output. 0, or 1 (told). */
static int chart_to_stdout(const pb__plot_outcome *o)
{
    size_t len;
    char *buf = pb__plot_slurp(o->path, &len);
    int rc = buf && fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
    if (rc)
        fprintf(stderr, "poolbench plot: cannot copy %s to standard output: %s\n", o->path,
                strerror(errno));
    free(buf);
    unlink(o->path);
    return rc;
}

/* Draws, then says what became of each chart. Returns the exit status. */
static int draw_and_tell(plot_job *j, const plot_cli *cli, const char *out_dir, bool to_stdout)
{
    pb__plot_render_opts ro = {
        .docs = j->docs, .paths = (const char *const *)j->paths, .ndocs = j->nfiles,
        .out_dir = out_dir, .format = cli->format, .charts = (const char *const *)j->charts,
        .metrics = (const char *const *)j->metrics, .keep_data = cli->keep_data && !to_stdout,
        .backend = j->backend};
    pb__plot_outcome *out;
    size_t n;
    char err[1024];
    int rc = pb__plot_render(&ro, &out, &n, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "poolbench plot: %s\n", err);
        return 2;
    }
    int drawn = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        const pb__plot_outcome *o = &out[i];
        if (o->status == PB__PLOT_SKIPPED) {
            fprintf(stderr, "poolbench plot: skipped %s: %s\n", o->chart->name, o->why);
        } else if (o->status == PB__PLOT_FAILED) {
            fprintf(stderr, "poolbench plot: %s: %s\n", o->chart->name, o->why);
            failed++;
        } else if (to_stdout) {
            failed += chart_to_stdout(o);
            drawn++;
        } else {
            printf("%s\n", o->path);
            fflush(stdout);
            drawn++;
        }
    }
    free(out);
    if (drawn == 0 && failed == 0)
        fprintf(stderr, "poolbench plot: no chart could be drawn from %s\n",
                j->paths[pb__plot_newest(j->docs, j->nfiles)]);
    return failed > 0 || drawn == 0 ? 1 : 0;
}

static int run_plot(const pbr_args *a)
{
    const plot_cli *cli = a->opts;
    plot_job j = {.backend = cli->backend};
    int status = 0;
    if (cli->chart)
        status = read_chart_list(&j, cli->chart);
    if (status == 0 && cli->metric)
        status = read_metric_list(&j, cli->metric);
    bool to_stdout = cli->out && !strcmp(cli->out, "-");
    if (status == 0 && to_stdout && (!j.charts || j.charts[1])) {
        fprintf(stderr, "poolbench plot: --out -: name the one chart to write with --chart "
                        "NAME\n");
        status = 2;
    }
    if (status == 0)
        status = read_inputs(&j, a);
    const char *out_dir = cli->out;
    if (status == 0 && to_stdout) {
        const char *t = getenv("TMPDIR");
        snprintf(j.tmp_out, sizeof j.tmp_out, "%s/poolbench-chart.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(j.tmp_out)) {
            fprintf(stderr, "poolbench plot: cannot create a temporary folder: %s\n",
                    strerror(errno));
            j.tmp_out[0] = '\0';
            status = 2;
        }
        out_dir = j.tmp_out;
    } else if (status == 0 && !out_dir) {
        if (!(j.out_alloc = default_out_dir(a->args[a->nargs - 1])))
            status = nomem();
        out_dir = j.out_alloc;
    }
    if (status == 0)
        status = draw_and_tell(&j, cli, out_dir, to_stdout);
    if (j.tmp_out[0])
        rmdir(j.tmp_out);
    job_free(&j);
    return status;
}
