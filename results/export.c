/*
 * export.c — `poolbench export`: a results file in the shapes CI tools read.
 *
 * googlebench   Google Benchmark's JSON (--benchmark_format=json): a
 *               `context` object and a `benchmarks` array, so Google
 *               Benchmark's tools/compare.py and CI actions that read its
 *               format ("googlecpp") consume poolbench results.
 *
 *               Google Benchmark measures the time of an iteration and
 *               reports rates as counters beside it, so a metric becomes a
 *               benchmark family (named backend/scenario/k:v/metric) as
 *               follows. A time (ns) is the time per iteration as it is.
 *               A task rate (tasks/s, any "/s" but bytes) is the time per
 *               item, 1e9 / rate ns, with the rate as its items_per_second
 *               counter: an iteration is one task, as with SetItemsProcessed
 *               of 1 per iteration. A byte rate (bytes/s) is not an
 *               iteration of its own: it becomes the bytes_per_second
 *               counter of its case's time per iteration — the case's
 *               headline metric when that is a time (payload: the echo's
 *               round trip), else its first time metric — value for value
 *               by repetition, as SetBytesProcessed reports it beside the
 *               time; a case with no time metric has no iteration to hang
 *               it on, and its byte rate is left out. Dimensionless metrics
 *               (ratio, count, %) have no place in a time field and are
 *               left out too: use bench-custom or csv for them.
 *
 *               Rows, as Google Benchmark writes them with repetitions:
 *               one "iteration" row per repetition (its time, and its
 *               counters, from the `repetitions` arrays), then, with at
 *               least two repetitions, the aggregate rows mean, median,
 *               stddev and cv. Aggregates are computed as Google
 *               Benchmark's ComputeStats does: each statistic over the
 *               per-repetition values — of the time, and separately of each
 *               counter (the stddev row's items_per_second is the standard
 *               deviation of the repetitions' rates, never a rate made from
 *               a standard deviation of times); median of two is their
 *               mean, stddev is the sample standard deviation, cv is
 *               stddev / mean with aggregate_unit "percentage". A failed
 *               case's rows carry error_occurred and get no aggregates, as
 *               Google Benchmark leaves errored runs out of them. --rows
 *               picks the rows: `--rows median` gives one row per metric
 *               under a name of its own, which is what github-action-
 *               benchmark's googlecpp tool needs (it takes every row as a
 *               benchmark, so repetitions that share a name collide), and
 *               `--rows mean,median,stddev,cv` is Google Benchmark's
 *               --benchmark_report_aggregates_only.
 *
 *               cpu_time is the CPU time the case spent per task, the
 *               pool's and its caller's (cpu_per_task +
 *               submitter_cpu_per_task, FORMAT.md), value for value by
 *               repetition as real_time, so those two metrics are not
 *               families of their own. A case with no CPU figure (a floor,
 *               an MPI pool, a file from before poolbench measured it)
 *               repeats real_time there and says so in the row's `label`,
 *               as Google Benchmark's tools show it.
 *
 * bench-custom  github-action-benchmark's custom tools: an array of
 *               {name, unit, value, range, extra}. The tool is told one
 *               direction per file (customSmallerIsBetter or
 *               customBiggerIsBetter), so --better lower (the default) or
 *               --better higher selects the metrics of that direction.
 *               value is the median; range is "± d", d the larger distance
 *               from the median to an end of its 95% confidence interval —
 *               the interval that respects repetitions (pbr_ci_repetitions,
 *               applied again here so files written before it get it too).
 *
 * csv           one row per metric with every statistic, for spreadsheets
 *               and scripts; rows of several files concatenate (the run's
 *               start time and git revision are columns).
 *
 * The export is built in memory and written only when it is whole, so a
 * failure prints its one line and nothing on standard output (no CSV header
 * without rows). A value the format cannot hold — an aggregate that
 * overflows, as the stddev of repetitions like [1e300, -1e300] does — is an
 * error naming the case and the metric, not a malformed or partial file.
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "results-int.h"
#include "results.h"

typedef struct xopts {
    const char *format, *better, *metric, *rows, *path;
    unsigned row_mask; /* googlebench: the rows to write (GB_ROW_*) */
} xopts;

/* "backend/scenario/k:v/metric": a benchmark name without spaces (compare.py
 * and the CI actions split names on '/' and show them in URLs). */
static char *bench_name(const json_t *c, const char *metric)
{
    char *label = pbr_case_label(c); /* "backend/scenario k=v k2=v2" */
    if (!label)
        return NULL;
    size_t n = strlen(label) + strlen(metric) + 2;
    char *s = malloc(n);
    if (!s) {
        free(label);
        return NULL;
    }
    size_t o = 0;
    bool in_params = false;
    for (const char *p = label; *p; p++) {
        if (*p == ' ' && !in_params) {
            s[o++] = '/';
            in_params = true;
        } else if (*p == ' ') {
            s[o++] = '/';
        } else if (*p == '=' && in_params) {
            s[o++] = ':';
        } else {
            s[o++] = *p;
        }
    }
    free(label);
    snprintf(s + o, n - o, "/%s", metric);
    return s;
}

static bool is_rate(const char *unit)
{
    size_t l = strlen(unit);
    return l > 2 && !strcmp(unit + l - 2, "/s");
}

/* ---- googlebench ---------------------------------------------------------- */

/* The rows of a family, in Google Benchmark's order; --rows names them. */
enum { GB_ROW_REPS, GB_ROW_MEAN, GB_ROW_MEDIAN, GB_ROW_STDDEV, GB_ROW_CV, GB_NROWS };
static const char *const gb_row_names[GB_NROWS] = {"repetitions", "mean", "median", "stddev",
                                                   "cv"};
#define GB_ALL_ROWS ((1u << GB_NROWS) - 1)

/* A counter of a family: its name and one value per repetition. */
typedef struct gb_counter {
    const char *name;
    double *v;
} gb_counter;

/* A family: its name, per-repetition times (ns per iteration), samples per
 * repetition, and up to two counters. */
typedef struct gb_family {
    char *name;
    size_t nreps;
    double *t;
    long long iterations;
    gb_counter counters[2];
    size_t ncounters;
    double *cpu; /* CPU time per task per repetition; NaN when not measured */
} gb_family;

static void gb_family_free(gb_family *f)
{
    free(f->name);
    free(f->t);
    free(f->cpu);
    for (size_t k = 0; k < f->ncounters; k++)
        free(f->counters[k].v);
}

/* Google Benchmark's statistics (src/statistics.cc): over v[0..n), n >= 2. */
static double gb_mean(const double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}

static double gb_stat(int row, const double *v, size_t n)
{
    double mean = gb_mean(v, n), var = 0;
    for (size_t i = 0; i < n; i++)
        var += (v[i] - mean) * (v[i] - mean);
    double sd = sqrt(var / (double)(n - 1));
    switch (row) {
    case GB_ROW_MEAN: return mean;
    case GB_ROW_STDDEV: return sd;
    case GB_ROW_CV: return mean != 0 ? sd / mean : 0;
    default: { /* median: of the sorted copy, the middle one or the mean of two */
        double *s = malloc(n * sizeof *s);
        if (!s)
            return NAN;
        memcpy(s, v, n * sizeof *s);
        for (size_t i = 1; i < n; i++) /* insertion sort: a handful of repetitions */
            for (size_t k = i; k > 0 && s[k - 1] > s[k]; k--) {
                double x = s[k];
                s[k] = s[k - 1];
                s[k - 1] = x;
            }
        double med = pbr_percentile_sorted(s, n, 50.0);
        free(s);
        return med;
    }
    }
}

/* One Google Benchmark row: the repetition's (rep >= 0) or an aggregate's. */
static json_t *gb_row_new(const gb_family *f, size_t family_index, int row, size_t rep,
                          bool failed, const char *reason)
{
    bool agg = row != GB_ROW_REPS;
    char name[1024];
    snprintf(name, sizeof name, "%s%s%s", f->name, agg ? "_" : "", agg ? gb_row_names[row] : "");
    json_t *e = json_pack("{s:s,s:I,s:I,s:s,s:s,s:I}", "name", name, "family_index",
                          (json_int_t)family_index, "per_family_instance_index", (json_int_t)0,
                          "run_name", f->name, "run_type", agg ? "aggregate" : "iteration",
                          "repetitions", (json_int_t)f->nreps);
    if (!e)
        return NULL;
    int rc = 0;
    if (!agg)
        rc |= json_object_set_new(e, "repetition_index", json_integer((json_int_t)rep));
    rc |= json_object_set_new(e, "threads", json_integer(1));
    if (agg) {
        rc |= json_object_set_new(e, "aggregate_name", json_string(gb_row_names[row]));
        rc |= json_object_set_new(e, "aggregate_unit",
                                  json_string(row == GB_ROW_CV ? "percentage" : "time"));
    }
    if (failed) {
        rc |= json_object_set_new(e, "error_occurred", json_true());
        rc |= json_object_set_new(e, "error_message", json_string(reason));
    }
    /* Aggregates are over the repetitions: their count is the iterations. */
    rc |= json_object_set_new(e, "iterations",
                              json_integer(agg ? (json_int_t)f->nreps : f->iterations));
    double t = agg ? gb_stat(row, f->t, f->nreps) : f->t[rep];
    rc |= json_object_set_new(e, "real_time", json_real(t));
    bool has_cpu = f->cpu && !isnan(f->cpu[0]);
    double cpu = !has_cpu ? t : agg ? gb_stat(row, f->cpu, f->nreps) : f->cpu[rep];
    rc |= json_object_set_new(e, "cpu_time", json_real(cpu));
    if (!has_cpu)
        rc |= json_object_set_new(e, "label", json_string("cpu_time not measured: a copy of "
                                                          "real_time"));
    /* Google Benchmark writes the time unit on every row, cv's too. */
    rc |= json_object_set_new(e, "time_unit", json_string("ns"));
    for (size_t k = 0; k < f->ncounters; k++) {
        const gb_counter *c = &f->counters[k];
        double v = agg ? gb_stat(row, c->v, f->nreps) : c->v[rep];
        rc |= json_object_set_new(e, c->name, json_real(v));
    }
    if (rc) {
        json_decref(e);
        return NULL;
    }
    return e;
}

/* The names of the CPU time per task of a case: the pool's, the caller's. */
static const char *const cpu_metrics[] = {"cpu_per_task", "submitter_cpu_per_task"};

/* Into cpu[0..nr): case c's CPU time per task (pool + caller), repetition
 * by repetition when its repetitions number nr, else their median in each;
 * NaN throughout when the case has no such figure. */
static void case_cpu(const json_t *c, size_t nr, double *cpu)
{
    const json_t *metrics = json_object_get(c, "metrics");
    const json_t *a = json_object_get(metrics, cpu_metrics[0]);
    const json_t *b = json_object_get(metrics, cpu_metrics[1]);
    const json_t *ra = json_object_get(a, "repetitions"), *rb = json_object_get(b, "repetitions");
    bool each = json_array_size(ra) == nr && json_array_size(rb) == nr;
    double all = pbr_json_num(a, "p50", NAN) + pbr_json_num(b, "p50", NAN);
    for (size_t i = 0; i < nr; i++)
        cpu[i] = each ? json_number_value(json_array_get(ra, i)) +
                            json_number_value(json_array_get(rb, i))
                      : all;
}

/* A metric's per-repetition values (its median alone when the file has
 * none): a malloc'd array of *n values, NULL on ENOMEM. */
static double *rep_values(const json_t *m, size_t *n)
{
    const json_t *ra = json_object_get(m, "repetitions");
    size_t nr = json_array_size(ra);
    double *v = malloc((nr ? nr : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < nr; i++)
        v[i] = json_number_value(json_array_get(ra, i));
    if (nr == 0)
        v[nr++] = pbr_json_num(m, "p50", 0);
    *n = nr;
    return v;
}

/* The case's time per iteration that a byte rate is a counter of: its
 * headline metric when that is a time, else its first time metric. */
static const char *iteration_metric(const json_t *c)
{
    const json_t *metrics = json_object_get(c, "metrics");
    const char *h = pbr_json_str(c, "headline", NULL);
    if (h && !strcmp(pbr_json_str(json_object_get(metrics, h), "unit", ""), "ns"))
        return h;
    const char *name;
    json_t *m;
    json_object_foreach((json_t *)metrics, name, m)
    {
        if (!strcmp(pbr_json_str(m, "unit", ""), "ns"))
            return name;
    }
    return NULL;
}

/* Builds the family of metric mname of case c into *f. Returns 1 when the
 * metric makes a family, 0 when it does not (a byte rate, a dimensionless
 * metric), -ENOMEM. */
static int gb_family_of(const json_t *c, const char *mname, const json_t *m, gb_family *f)
{
    memset(f, 0, sizeof *f);
    const char *unit = pbr_json_str(m, "unit", "");
    bool time = !strcmp(unit, "ns");
    if (!time && (!is_rate(unit) || !strcmp(unit, "bytes/s")))
        return 0;
    for (size_t k = 0; k < sizeof cpu_metrics / sizeof cpu_metrics[0]; k++)
        if (!strcmp(mname, cpu_metrics[k]))
            return 0; /* carried as every family's cpu_time */
    f->name = bench_name(c, mname);
    f->t = rep_values(m, &f->nreps);
    f->cpu = f->t ? malloc(f->nreps * sizeof *f->cpu) : NULL;
    if (!f->name || !f->t || !f->cpu)
        return -ENOMEM;
    case_cpu(c, f->nreps, f->cpu);
    long long n = (long long)pbr_json_num(m, "n", 0);
    f->iterations = n / (long long)f->nreps > 0 ? n / (long long)f->nreps : 1;
    if (!time) { /* a task rate: time per item, the rate as its counter */
        gb_counter *k = &f->counters[f->ncounters++];
        k->name = "items_per_second";
        if (!(k->v = malloc(f->nreps * sizeof *k->v)))
            return -ENOMEM;
        for (size_t i = 0; i < f->nreps; i++) {
            k->v[i] = f->t[i];
            f->t[i] = f->t[i] > 0 ? 1e9 / f->t[i] : 0;
        }
        return 1;
    }
    const char *it = iteration_metric(c);
    if (!it || strcmp(it, mname))
        return 1;
    /* The case's time per iteration: its byte rate, if any, rides along. */
    const char *bname;
    json_t *bm;
    json_object_foreach(json_object_get(c, "metrics"), bname, bm)
    {
        if (strcmp(pbr_json_str(bm, "unit", ""), "bytes/s"))
            continue;
        size_t nb;
        double *v = rep_values(bm, &nb);
        if (!v)
            return -ENOMEM;
        if (nb != f->nreps) { /* not repetition for repetition: no pairing */
            free(v);
            continue;
        }
        f->counters[f->ncounters++] = (gb_counter){"bytes_per_second", v};
        break;
    }
    return 1;
}

/* 0 when every value family f's rows would hold is a finite number; else
 * -ERANGE with err naming the case and metric: JSON has no infinity, so a
 * value that overflows (the stddev of repetitions like [1e300, -1e300]) has
 * no place to go. */
static int gb_finite(const gb_family *f, const json_t *c, const char *mname, char *err,
                     size_t errlen)
{
    const char *what = NULL;
    for (size_t i = 0; i < f->nreps && !what; i++)
        if (!isfinite(f->t[i]))
            what = "value of a repetition";
    for (int row = GB_ROW_MEAN; !what && f->nreps >= 2 && row < GB_NROWS; row++)
        if (!isfinite(gb_stat(row, f->t, f->nreps)))
            what = gb_row_names[row];
    if (!what)
        return 0;
    char *label = pbr_case_label(c);
    snprintf(err, errlen,
             "%s, metric '%s': the %s is not a finite number (the repetitions overflow a "
             "double); Google Benchmark JSON cannot hold it",
             label ? label : "a case", pbr_printable(mname), what);
    free(label);
    return -ERANGE;
}

/* Appends a family's rows to benchmarks. 0 or -ENOMEM. */
static int gb_put_family(json_t *benchmarks, const gb_family *f, size_t index, const json_t *c,
                         unsigned rows)
{
    bool failed = !strcmp(pbr_json_str(c, "outcome", "ok"), "failed");
    const char *reason = pbr_json_str(c, "reason", "");
    /* Google Benchmark aggregates two repetitions or more, none that failed;
     * without aggregates, the repetition rows are the family. */
    bool aggregates = f->nreps >= 2 && !failed;
    if (!aggregates || (rows & (1u << GB_ROW_REPS)))
        for (size_t r = 0; r < f->nreps; r++)
            if (json_array_append_new(benchmarks,
                                      gb_row_new(f, index, GB_ROW_REPS, r, failed, reason)))
                return -ENOMEM;
    for (int row = GB_ROW_MEAN; aggregates && row < GB_NROWS; row++)
        if ((rows & (1u << row)) &&
            json_array_append_new(benchmarks, gb_row_new(f, index, row, 0, false, "")))
            return -ENOMEM;
    return 0;
}

static json_t *gb_context_new(const json_t *doc)
{
    const json_t *run = json_object_get(doc, "run");
    const json_t *env = json_object_get(doc, "environment");
    const char *gov = pbr_json_str(env, "governor", "unknown");
    const char *bt = pbr_json_str(env, "build_type", "");
    json_t *la = json_object_get(env, "loadavg");
    return json_pack(
        "{s:s,s:s,s:s,s:I,s:I,s:b,s:[],s:O,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "date",
        pbr_json_str(run, "started", ""), "host_name", pbr_json_str(env, "host", ""), "executable",
        "poolbench", "num_cpus",
        (json_int_t)pbr_json_num(json_object_get(env, "topology"), "pus", 0), "mhz_per_cpu",
        (json_int_t)0, "cpu_scaling_enabled",
        strcmp(gov, "performance") != 0 && strcmp(gov, "unknown") != 0, "caches", "load_avg",
        la ? la : json_null(), "library_build_type",
        !strcmp(bt, "Debug") ? "debug" : "release", "poolbench_version",
        pbr_json_str(run, "poolbench_version", ""), "git_revision",
        pbr_json_str(env, "git_revision", ""), "cpu_model", pbr_json_str(env, "cpu_model", ""),
        "kernel", pbr_json_str(env, "kernel", ""), "suite", pbr_json_str(run, "suite", ""),
        "command", pbr_json_str(run, "command", ""), "complete",
        !json_is_false(json_object_get(run, "complete")));
}

/* Counts exported metrics in *count. Returns 0, -ENOMEM, or another
 * negative code with err set. */
static int export_googlebench(FILE *out, const json_t *doc, const xopts *o, size_t *count,
                              char *err, size_t errlen)
{
    json_t *benchmarks = json_array();
    json_t *ctx = gb_context_new(doc);
    if (!benchmarks || !ctx) {
        json_decref(benchmarks);
        json_decref(ctx);
        return -ENOMEM;
    }
    size_t i, family = 0;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c)
    {
        const char *mname;
        json_t *m;
        json_object_foreach(json_object_get(c, "metrics"), mname, m)
        {
            if (fnmatch(o->metric, mname, 0))
                continue;
            gb_family f;
            int rc = gb_family_of(c, mname, m, &f);
            bool made = rc > 0;
            if (made)
                rc = gb_finite(&f, c, mname, err, errlen);
            if (made && rc == 0)
                rc = gb_put_family(benchmarks, &f, family, c, o->row_mask);
            gb_family_free(&f);
            if (rc < 0) {
                json_decref(benchmarks);
                json_decref(ctx);
                return rc;
            }
            if (made) {
                family++;
                (*count)++;
            }
        }
    }
    json_t *gb = json_pack("{s:o,s:o}", "context", ctx, "benchmarks", benchmarks);
    if (!gb)
        return -ENOMEM;
    int rc = *count ? pbr_json_print(gb, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : 0;
    if (*count)
        fputc('\n', out);
    json_decref(gb);
    return rc < 0 ? -EIO : 0;
}

/* A metric's 95% CI of the median, respecting its repetitions (files
 * written before the CI did so get it here). 0 or -ENOMEM. */
static int metric_ci(const json_t *m, double *lo, double *hi)
{
    *lo = pbr_json_num(m, "ci_low", 0);
    *hi = pbr_json_num(m, "ci_high", 0);
    size_t n = json_array_size(json_object_get(m, "repetitions"));
    if (n < 2)
        return 0;
    double *v = rep_values(m, &n);
    if (!v)
        return -ENOMEM;
    pbr_ci_repetitions(v, n, lo, hi);
    free(v);
    return 0;
}

static int export_custom(FILE *out, const json_t *doc, const xopts *o, size_t *count,
                         char *err, size_t errlen)
{
    (void)err, (void)errlen;
    json_t *arr = json_array();
    if (!arr)
        return -ENOMEM;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c)
    {
        const char *mname;
        json_t *m;
        json_object_foreach(json_object_get(c, "metrics"), mname, m)
        {
            if (fnmatch(o->metric, mname, 0) || strcmp(pbr_json_str(m, "better", ""), o->better))
                continue;
            char *name = bench_name(c, mname);
            const char *unit = pbr_json_str(m, "unit", "");
            double lo, hi, p50 = pbr_json_num(m, "p50", 0);
            if (metric_ci(m, &lo, &hi) < 0) {
                free(name);
                json_decref(arr);
                return -ENOMEM;
            }
            double d = fmax(p50 - lo, hi - p50);
            char range[64], extra[512], p90[48], p99[48], clo[48], chi[48];
            snprintf(range, sizeof range, "± %.6g", d > 0 ? d : 0);
            pbr_format_value(p90, sizeof p90, unit, pbr_json_num(m, "p90", 0), PBR_FORMAT_TABLE);
            pbr_format_value(p99, sizeof p99, unit, pbr_json_num(m, "p99", 0), PBR_FORMAT_TABLE);
            pbr_format_value(clo, sizeof clo, unit, lo, PBR_FORMAT_TABLE);
            pbr_format_value(chi, sizeof chi, unit, hi, PBR_FORMAT_TABLE);
            snprintf(extra, sizeof extra,
                     "n=%.0f repetitions=%zu p90=%s p99=%s 95%% CI of the median=[%s, %s] "
                     "trusted=%s outcome=%s",
                     pbr_json_num(m, "n", 0), json_array_size(json_object_get(m, "repetitions")),
                     p90, p99, clo, chi, json_is_true(json_object_get(m, "trusted")) ? "yes" : "no",
                     pbr_json_str(c, "outcome", "?"));
            json_t *e = name ? json_pack("{s:s,s:s,s:f,s:s,s:s}", "name", name, "unit", unit,
                                         "value", pbr_json_num(m, "p50", 0), "range", range, "extra",
                                         extra)
                             : NULL;
            free(name);
            if (!e || json_array_append_new(arr, e)) {
                json_decref(arr);
                return -ENOMEM;
            }
            (*count)++;
        }
    }
    int rc = *count ? pbr_json_print(arr, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : 0;
    if (*count)
        fputc('\n', out);
    json_decref(arr);
    return rc < 0 ? -EIO : 0;
}

/* A CSV field: control characters escaped as everywhere (pbr_escape; so no
 * line break is left), quoted when it holds a comma or a quote (RFC 4180). */
static void csv_field(FILE *out, const char *s)
{
    s = pbr_printable(s);
    if (!strpbrk(s, ",\"")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void csv_num(FILE *out, const json_t *m, const char *key)
{
    json_t *v = json_object_get(m, key);
    fputc(',', out);
    if (json_is_integer(v))
        fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        fprintf(out, "%.15g", json_real_value(v));
}

static int export_csv(FILE *out, const json_t *doc, const xopts *o, size_t *count, char *err,
                      size_t errlen)
{
    (void)err, (void)errlen;
    static const char *const nums[] = {"n",   "min", "mean", "stddev", "p50",     "p90",
                                       "p99", "p999", "max", "ci_low", "ci_high", "mad",
                                       "outliers"};
    const json_t *run = json_object_get(doc, "run");
    const char *started = pbr_json_str(run, "started", "");
    const char *rev = pbr_json_str(json_object_get(doc, "environment"), "git_revision", "");
    fputs("run_started,git_revision,backend,scenario,params,outcome,metric,unit,better", out);
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
        fprintf(out, ",%s", nums[k]);
    fputs(",trusted,repetitions,ratio_to_floor\n", out);

    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c)
    {
        char *key = pbr_params_key(json_object_get(c, "params"));
        if (!key)
            return -ENOMEM;
        const char *mname;
        json_t *m;
        json_object_foreach(json_object_get(c, "metrics"), mname, m)
        {
            if (fnmatch(o->metric, mname, 0))
                continue;
            const char *f[] = {started,
                               rev,
                               pbr_json_str(c, "backend", ""),
                               pbr_json_str(c, "scenario", ""),
                               key,
                               pbr_json_str(c, "outcome", ""),
                               mname,
                               pbr_json_str(m, "unit", ""),
                               pbr_json_str(m, "better", "")};
            for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
                if (k)
                    fputc(',', out);
                csv_field(out, f[k]);
            }
            for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++)
                csv_num(out, m, nums[k]);
            fprintf(out, ",%s,%zu", json_is_true(json_object_get(m, "trusted")) ? "true" : "false",
                    json_array_size(json_object_get(m, "repetitions")));
            csv_num(out, m, "ratio_to_floor");
            fputc('\n', out);
            (*count)++;
        }
        free(key);
    }
    return 0;
}

static const xopts export_defaults = {.better = "lower", .metric = "*", .row_mask = GB_ALL_ROWS};

/* --rows: comma-separated names of gb_row_names. */
static int read_rows(const char *value, void *field, char *err, size_t errlen)
{
    unsigned mask = 0;
    const char *p = value;
    for (;;) {
        size_t len = strcspn(p, ",");
        int k;
        for (k = 0; k < GB_NROWS; k++)
            if (strlen(gb_row_names[k]) == len && !strncmp(p, gb_row_names[k], len))
                break;
        if (k == GB_NROWS) {
            snprintf(err, errlen, "expected a comma-separated list of repetitions, mean, median, "
                                  "stddev and cv, got '%s'", value);
            return -1;
        }
        mask |= 1u << k;
        if (!p[len])
            break;
        p += len + 1;
    }
    *(unsigned *)field = mask;
    return 0;
}

static const pbr_option export_options[] = {
    {.name = "format", .key = 'f',
     PBR_CHOICE(xopts, format, "googlebench", "bench-custom", "csv"), .required = true,
     .arg = "FMT", .help = "googlebench, bench-custom or csv (required)"},
    {.name = "better", PBR_CHOICE(xopts, better, "lower", "higher"), .arg = "DIR",
     .help = "bench-custom: lower (default; customSmallerIsBetter) or\n"
             "higher (customBiggerIsBetter)"},
    {.name = "metric", PBR_STRING(xopts, metric), .arg = "GLOB",
     .help = "export only metrics whose name matches (default: all)"},
    {.name = "rows", PBR_CALL(xopts, row_mask, read_rows), .arg = "LIST",
     .help = "googlebench: the rows of each metric, of repetitions, mean,\n"
             "median, stddev, cv (default: all, as Google Benchmark\n"
             "writes them); 'median' alone suits github-action-benchmark's\n"
             "googlecpp tool"},
    {0},
};

static void export_formats_help(FILE *out)
{
    fprintf(out,
            "formats:\n"
            "  googlebench   Google Benchmark JSON (context + benchmarks): per metric one\n"
            "                iteration row per repetition, then mean/median/stddev/cv\n"
            "                rows computed as Google Benchmark does (over the repetitions'\n"
            "                values, counters too); times in ns per iteration; task\n"
            "                rates as ns per task with an items_per_second counter; a byte\n"
            "                rate as the bytes_per_second counter of its case's time per\n"
            "                iteration; ratio, count and %% metrics are left out (use\n"
            "                bench-custom or csv)\n"
            "  bench-custom  github-action-benchmark's custom format: [{name, unit, value,\n"
            "                range, extra}] for the metrics of one direction (--better)\n"
            "  csv           one row per metric with every statistic\n");
}

static int run_export(const pbr_args *a);

const pbr_command pbr_export_command = {
    .name = "export",
    .summary = "convert a results file for CI tools (googlebench, bench-custom, csv)",
    .synopsis = "--format FMT [OPTIONS] IN.json|-",
    .about = "Writes a results file (- reads standard input) to standard output in a\n"
             "format CI tools read.",
    .epilogue = "exit status: 0 written, 2 bad usage, an unreadable file, or nothing to export",
    .more_help = export_formats_help,
    .options = export_options,
    .opts_size = sizeof(xopts),
    .defaults = &export_defaults,
    .operands = "one results file",
    .min_operands = 1,
    .max_operands = 1,
    .run = run_export,
};

static int run_export(const pbr_args *a)
{
    xopts o = *(const xopts *)a->opts;
    o.path = a->args[0];
    int (*fn)(FILE *, const json_t *, const xopts *, size_t *, char *, size_t) =
        !strcmp(o.format, "googlebench")  ? export_googlebench
        : !strcmp(o.format, "bench-custom") ? export_custom
                                            : export_csv;

    char err[1024];
    json_t *doc = pbr_read(o.path, err, sizeof err);
    if (!doc) {
        fprintf(stderr, "poolbench export: %s\n", err);
        return 2;
    }
    /* Built whole, then written: a failure leaves standard output empty. */
    char *text = NULL;
    size_t len = 0, count = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = mem ? fn(mem, doc, &o, &count, err, sizeof err) : -ENOMEM;
    if (mem && fclose(mem) != 0 && rc == 0)
        rc = -ENOMEM;
    json_decref(doc);
    const char *shown = strcmp(o.path, "-") ? pbr_printable(o.path) : "standard input";
    int status = 0;
    if (rc == -ENOMEM) {
        fprintf(stderr, "poolbench export: out of memory\n");
        status = 2;
    } else if (rc < 0) {
        fprintf(stderr, "poolbench export: %s: %s\n", shown, err);
        status = 2;
    } else if (count == 0) {
        fprintf(stderr, "poolbench export: %s: no metric to export as %s (--metric '%s'%s%s)\n",
                shown, o.format, o.metric,
                !strcmp(o.format, "bench-custom") ? ", --better " : "",
                !strcmp(o.format, "bench-custom") ? o.better : "");
        status = 2;
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "poolbench export: cannot write to standard output\n");
        status = 2;
    }
    free(text);
    return status;
}
