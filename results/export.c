/*
 * export.c — `poolbench export`: a results file in the shapes CI tools read.
 *
 * googlebench   Google Benchmark's JSON (--benchmark_format=json): a
 *               `context` object and a `benchmarks` array, so Google
 *               Benchmark's tools/compare.py and CI actions that read its
 *               format ("googlecpp") consume poolbench results. Each metric
 *               becomes a benchmark family named backend/scenario/k:v/metric
 *               with one "iteration" entry per repetition (its value from
 *               `repetitions`) and "aggregate" entries mean, median, stddev
 *               and cv computed over those repetition values — exactly what
 *               Google Benchmark aggregates over, which is also what
 *               compare.py's U test wants. Google Benchmark measures time, so
 *               time metrics (ns) are written as they are and rates
 *               (tasks/s, bytes/s) as the time per item, 1e9 / rate ns,
 *               with the rate itself as the items_per_second or
 *               bytes_per_second counter; lower real_time is then better for
 *               both, as those tools assume. Dimensionless metrics (ratio,
 *               count, %) have no place in a time field and are left out:
 *               use bench-custom or csv for them.
 *
 * bench-custom  github-action-benchmark's custom tools: an array of
 *               {name, unit, value, range, extra}. The tool is told one
 *               direction per file (customSmallerIsBetter or
 *               customBiggerIsBetter), so --better lower (the default) or
 *               --better higher selects the metrics of that direction.
 *               value is the median, range "± half the 95% CI of the median".
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
    const char *format, *better, *metric, *path;
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

/* One Google Benchmark entry; counter is the rate's counter name or NULL. */
static json_t *gb_entry_new(const char *run_name, const char *suffix, size_t family,
                            const char *run_type, size_t reps, long long rep_index,
                            long long iterations, const char *aggregate, double t,
                            const char *counter, const json_t *c)
{
    char name[1024];
    snprintf(name, sizeof name, "%s%s%s", run_name, suffix ? "_" : "", suffix ? suffix : "");
    json_t *e = json_pack("{s:s,s:I,s:I,s:s,s:s,s:I}", "name", name, "family_index",
                          (json_int_t)family, "per_family_instance_index", (json_int_t)0,
                          "run_name", run_name, "run_type", run_type, "repetitions",
                          (json_int_t)reps);
    if (!e)
        return NULL;
    int rc = 0;
    if (rep_index >= 0)
        rc |= json_object_set_new(e, "repetition_index", json_integer(rep_index));
    rc |= json_object_set_new(e, "threads", json_integer(1));
    if (aggregate) {
        rc |= json_object_set_new(e, "aggregate_name", json_string(aggregate));
        rc |= json_object_set_new(e, "aggregate_unit",
                                  json_string(strcmp(aggregate, "cv") ? "time" : "percentage"));
    }
    rc |= json_object_set_new(e, "iterations", json_integer(iterations));
    rc |= json_object_set_new(e, "real_time", json_real(t));
    rc |= json_object_set_new(e, "cpu_time", json_real(t));
    if (!aggregate || strcmp(aggregate, "cv"))
        rc |= json_object_set_new(e, "time_unit", json_string("ns"));
    if (counter && (!aggregate || strcmp(aggregate, "cv")) && t > 0)
        rc |= json_object_set_new(e, counter, json_real(1e9 / t));
    if (!strcmp(pbr_json_str(c, "outcome", "ok"), "failed")) {
        rc |= json_object_set_new(e, "error_occurred", json_true());
        rc |= json_object_set_new(e, "error_message", json_string(pbr_json_str(c, "reason", "")));
    }
    if (rc) {
        json_decref(e);
        return NULL;
    }
    return e;
}

/* Appends a metric's family to benchmarks; 0 (also when skipped), -ENOMEM,
 * or -ERANGE with err naming what cannot be written. */
static int gb_metric(json_t *benchmarks, size_t family, const json_t *c, const char *mname,
                     const json_t *m, char *err, size_t errlen)
{
    const char *unit = pbr_json_str(m, "unit", "");
    const char *counter = NULL;
    if (!strcmp(unit, "bytes/s"))
        counter = "bytes_per_second";
    else if (is_rate(unit))
        counter = "items_per_second";
    else if (strcmp(unit, "ns"))
        return 0;

    json_t *ra = json_object_get(m, "repetitions");
    size_t nr = json_array_size(ra);
    double *t = malloc((nr ? nr : 1) * sizeof *t);
    char *run_name = bench_name(c, mname);
    if (!t || !run_name) {
        free(t);
        free(run_name);
        return -ENOMEM;
    }
    if (nr == 0) { /* no repetition values: the median stands alone */
        t[0] = pbr_json_num(m, "p50", 0);
        nr = 1;
    } else {
        for (size_t i = 0; i < nr; i++)
            t[i] = json_number_value(json_array_get(ra, i));
    }
    for (size_t i = 0; i < nr; i++)
        if (counter)
            t[i] = t[i] > 0 ? 1e9 / t[i] : 0;

    long long n = (long long)pbr_json_num(m, "n", 0);
    long long per = n / (long long)nr > 0 ? n / (long long)nr : 1;
    int rc = 0;
    for (size_t i = 0; i < nr && rc == 0; i++)
        if (json_array_append_new(benchmarks, gb_entry_new(run_name, NULL, family, "iteration",
                                                           nr, (long long)i, per, NULL, t[i],
                                                           counter, c)))
            rc = -ENOMEM;

    pbr_summary s = {0};
    if (rc == 0 && pbr_summarize(t, nr, &s) < 0)
        rc = -ENOMEM;
    const char *names[] = {"mean", "median", "stddev", "cv"};
    double vals[] = {s.mean, s.p50, s.stddev, s.mean != 0 ? s.stddev / s.mean : 0};
    /* JSON has no infinity: a value that overflows has no place to go. */
    for (size_t i = 0; i < nr + 4 && rc == 0; i++) {
        double x = i < nr ? t[i] : vals[i - nr];
        if (!isfinite(x)) {
            char *label = pbr_case_label(c);
            snprintf(err, errlen,
                     "%s, metric '%s': the %s%s is not a finite number (the repetitions "
                     "overflow a double); Google Benchmark JSON cannot hold it",
                     label ? label : "a case", pbr_printable(mname),
                     i < nr ? "value of a repetition" : names[i - nr],
                     i < nr && counter ? " as a time" : "");
            free(label);
            rc = -ERANGE;
        }
    }
    for (size_t k = 0; k < 4 && rc == 0; k++)
        if (json_array_append_new(benchmarks,
                                  gb_entry_new(run_name, names[k], family, "aggregate", nr, -1,
                                               (long long)nr, names[k], vals[k], counter, c)))
            rc = -ENOMEM;
    free(t);
    free(run_name);
    return rc;
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
            size_t before = json_array_size(benchmarks);
            int rc = gb_metric(benchmarks, family, c, mname, m, err, errlen);
            if (rc < 0) {
                json_decref(benchmarks);
                json_decref(ctx);
                return rc;
            }
            if (json_array_size(benchmarks) > before) {
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
            double lo = pbr_json_num(m, "ci_low", 0), hi = pbr_json_num(m, "ci_high", 0);
            char range[64], extra[512], p90[48], p99[48], clo[48], chi[48];
            snprintf(range, sizeof range, "± %.6g", (hi - lo) / 2);
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

static const xopts export_defaults = {.better = "lower", .metric = "*"};

static const pbr_option export_options[] = {
    {.name = "format", .key = 'f',
     PBR_CHOICE(xopts, format, "googlebench", "bench-custom", "csv"), .required = true,
     .arg = "FMT", .help = "googlebench, bench-custom or csv (required)"},
    {.name = "better", PBR_CHOICE(xopts, better, "lower", "higher"), .arg = "DIR",
     .help = "bench-custom: lower (default; customSmallerIsBetter) or\n"
             "higher (customBiggerIsBetter)"},
    {.name = "metric", PBR_STRING(xopts, metric), .arg = "GLOB",
     .help = "export only metrics whose name matches (default: all)"},
    {0},
};

static void export_formats_help(FILE *out)
{
    fprintf(out,
            "formats:\n"
            "  googlebench   Google Benchmark JSON (context + benchmarks): per metric one\n"
            "                iteration entry per repetition and mean/median/stddev/cv\n"
            "                aggregates; time metrics in ns, rates as ns per item with an\n"
            "                items_per_second/bytes_per_second counter; ratio, count and %%\n"
            "                metrics are left out (use bench-custom or csv)\n"
            "  bench-custom  github-action-benchmark's custom format: [{name, unit, value,\n"
            "                range, extra}] for the metrics of one direction (--better)\n"
            "  csv           one row per metric with every statistic\n");
}

static int run_export(const pbr_args *a);

const pbr_command pbr_export_command = {
    .name = "export",
    .summary = "convert a results file for CI tools (googlebench, bench-custom, csv)",
    .synopsis = "--format FMT [OPTIONS] IN.json",
    .about = "Writes a results file to standard output in a format CI tools read.",
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
