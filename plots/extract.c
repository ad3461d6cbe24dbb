/*
 * extract.c — from a results document to the data files the chart scripts read.
 *
 * Each extractor selects the cases a chart needs (scenario, metric and x
 * parameter come from the chart table in plot.c), groups them into series and
 * writes a plain whitespace table; see plot-int.h for the file conventions.
 * Nothing here draws or prints.
 *
 * WHICH CASES COUNT
 *   A case contributes when its backend is not "floor", its outcome is "ok",
 *   and it has the metric in the unit the chart expects. Failed cases are left
 *   out on purpose: a run whose check failed may have measured something else
 *   than it meant to (a broken order, a missing result), and a chart is read
 *   without its footnotes. When nothing is left, the skip line counts what was
 *   found instead ("2 skipped: threads cannot be killed") so the reader knows
 *   whether the scenario did not run or did not apply.
 *
 * SERIES
 *   A series is one backend plus the values of the case's parameters other
 *   than the chart's x parameter. Its legend title names the backend and only
 *   the parameters whose values differ between the selected cases, so a run
 *   with one payload says "thread", a payload sweep says "thread payload=8".
 *   Series are ordered by backend (thread, fork, exec, then the others as they
 *   first appear), then by first appearance.
 *
 * NUMBERS
 *   Values are written as the results file has them (ns, tasks/s), with six
 *   significant digits; scripts choose display units. NaN marks a missing
 *   value, which gnuplot skips.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plot-int.h"
#include "results.h"

/* ---- pb__plot_data ------------------------------------------------------ */

int pb__plot_data_init(pb__plot_data *d)
{
    memset(d, 0, sizeof *d);
    d->data = open_memstream(&d->data_buf, &d->data_len);
    d->vars = open_memstream(&d->vars_buf, &d->vars_len);
    if (!d->data || !d->vars) {
        pb__plot_data_free(d);
        return -ENOMEM;
    }
    return 0;
}

/* Closes a memory stream (a no-op when already closed). A write that failed
 * on one can only have been out of memory: -ENOMEM. */
static int close_stream(FILE **f)
{
    int rc = 0;
    if (*f) {
        if (ferror(*f))
            rc = -ENOMEM;
        if (fclose(*f))
            rc = -ENOMEM;
        *f = NULL;
    }
    return rc;
}

int pb__plot_data_finish(pb__plot_data *d)
{
    int rc = close_stream(&d->data);
    int rc2 = close_stream(&d->vars);
    return rc ? rc : rc2;
}

void pb__plot_data_free(pb__plot_data *d)
{
    pb__plot_data_finish(d);
    free(d->data_buf);
    free(d->vars_buf);
    d->data_buf = d->vars_buf = NULL;
    d->data_len = d->vars_len = 0;
}

int pb__plot_skip(pb__plot_data *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
    return PB__PLOT_SKIP;
}

void pb__plot_var_int(pb__plot_data *d, const char *name, long long v)
{
    fprintf(d->vars, "%s=%lld; ", name, v);
}

void pb__plot_var_num(pb__plot_data *d, const char *name, double v)
{
    if (isfinite(v))
        fprintf(d->vars, "%s=%.6g; ", name, v);
    else
        fprintf(d->vars, "%s=NaN; ", name);
}

void pb__plot_var_str(pb__plot_data *d, const char *name, const char *v)
{
    fprintf(d->vars, "%s='", name);
    /* Control characters from a file shown as escapes, never as bytes in the
     * script or the chart (an SVG holding one is not XML). */
    for (const char *p = pbr_printable(v); *p; p++) {
        if (*p == '\'')
            fputc('\'', d->vars); /* gnuplot: '' inside '...' is one quote */
        fputc(*p, d->vars);
    }
    fputs("'; ", d->vars);
}

void pb__plot_put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.6g", v);
    else
        fputs(" NaN", f);
}

void pb__plot_put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (s = pbr_printable(s); *s; s++)
        if (*s != '"')
            fputc(*s, f);
    fputc('"', f);
}

int pb__plot_fixed_lt(const char *backend)
{
    static const char *const fixed[] = {"thread", "fork", "exec"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(backend, fixed[i]))
            return i + 1;
    return 0;
}

/* ---- small helpers ------------------------------------------------------ */

/* An x value: integers (granularities, chunk sizes, deadlines in ns) exactly,
 * so the data file reads as the results do. */
static void put_x(FILE *f, double x)
{
    if (isfinite(x) && x == floor(x) && fabs(x) < 1e15)
        fprintf(f, "%.0f", x);
    else if (isfinite(x))
        fprintf(f, "%.6g", x);
    else
        fputs("NaN", f);
}

/* Durations for labels: "0", "250 ns", "100 µs", "1.5 ms", "2 s". A zero
 * deadline reads better as a bare 0 on an axis than as "0 ns". */
static void format_ns(char *buf, size_t len, double ns)
{
    if (ns == 0)
        snprintf(buf, len, "0");
    else
        pbr_format_value(buf, len, "ns", ns, PBR_FORMAT_CHART);
}

static bool unit_ok(const pb__plot_source *src, const char *unit)
{
    if (!src->unit)
        return true;
    if (!strcmp(src->unit, unit))
        return true;
    /* Efficiency may be stored as a ratio; it is drawn as %. */
    return !strcmp(src->unit, "%") && !strcmp(unit, "ratio");
}

/* The factor that turns a metric's values into the unit the script expects. */
static double unit_scale(const pb__plot_source *src, const json_t *metric)
{
    if (src->unit && !strcmp(src->unit, "%") && !strcmp(pbr_json_str(metric, "unit", ""), "ratio"))
        return 100.0;
    return 1.0;
}

/* Line type of a backend: fixed for ours, so each keeps its colour from run
 * to run; the others follow in order of first appearance in the document. */
static int backend_lt(const json_t *doc, const char *backend)
{
    int lt = pb__plot_fixed_lt(backend);
    if (lt)
        return lt;
    lt = 4;
    const json_t *results = json_object_get(doc, "results");
    const char *seen[PB__PLOT_MAX_SERIES];
    size_t nseen = 0, i;
    const json_t *c;
    json_array_foreach(results, i, c) {
        const char *b = pbr_json_str(c, "backend", "");
        if (!strcmp(b, "floor") || pb__plot_fixed_lt(b))
            continue;
        if (!strcmp(b, backend))
            return lt;
        bool dup = false;
        for (size_t k = 0; k < nseen; k++)
            dup = dup || !strcmp(seen[k], b);
        if (!dup && nseen < PB__PLOT_MAX_SERIES) {
            seen[nseen++] = b;
            lt++;
        }
    }
    return lt;
}

/* The line type of a backend's k-th series (k from 0): the backend's colour,
 * solid, then dashed, then dotted (common.gp defines 1-8, 9-16, 17-24). */
int pb__plot_series_lt(int backend_lt, size_t k)
{
    return (backend_lt - 1) % 8 + 1 + 8 * (int)(k % 3);
}

/* ---- selecting cases ---------------------------------------------------- */

typedef struct pick {
    const json_t *kase;
    const json_t *metric;
    const char *backend;
    int blt;          /* the backend's line type */
    double x;         /* the x parameter's value; NaN when none */
    char *series_key; /* backend + canonical params without the x parameter */
    size_t series;    /* index into the series list once grouped */
} pick;

typedef struct selection {
    pick *picks;
    size_t n;
    /* What was found but could not be used, for the skip line. */
    size_t found, failed, skipped, no_metric, bad_unit, bad_param;
    char reason[160]; /* the first skipped/failed case's reason */
    char unit_seen[32];
} selection;

static void selection_free(selection *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->picks[i].series_key);
    free(s->picks);
    memset(s, 0, sizeof *s);
}

/* The params object without key `drop`, as canonical JSON. */
static char *params_key_without(const json_t *params, const char *drop)
{
    json_t *copy = json_is_object(params) ? json_copy((json_t *)params) : json_object();
    if (!copy)
        return NULL;
    if (drop)
        json_object_del(copy, drop);
    char *key = pbr_params_key(copy);
    json_decref(copy);
    return key;
}

static int series_key_of(const char *backend, const json_t *params, const char *drop,
                         char **out)
{
    char *pk = params_key_without(params, drop);
    if (!pk)
        return -ENOMEM;
    size_t len = strlen(backend) + strlen(pk) + 2;
    *out = malloc(len);
    if (!*out) {
        free(pk);
        return -ENOMEM;
    }
    snprintf(*out, len, "%s\n%s", backend, pk);
    free(pk);
    return 0;
}

static int cmp_pick(const void *a, const void *b)
{
    const pick *p = a, *q = b;
    if (p->blt != q->blt)
        return p->blt - q->blt;
    if (p->series != q->series)
        return p->series < q->series ? -1 : 1;
    if (p->x != q->x && !isnan(p->x) && !isnan(q->x))
        return p->x < q->x ? -1 : 1;
    /* Stable by document order otherwise: kase pointers follow the array. */
    return (p->kase > q->kase) - (p->kase < q->kase);
}

/* Collects the usable cases of src in doc, groups them into series (pick
 * .series numbers series in order of first appearance within each backend)
 * and sorts them by backend, series, x. Returns 0 or -ENOMEM. */
static int add_pick(selection *s, size_t *cap, const json_t *doc, const json_t *c,
                    const json_t *m, double x, const char *drop)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        pick *np = realloc(s->picks, nc * sizeof *np);
        if (!np)
            return -ENOMEM;
        s->picks = np;
        *cap = nc;
    }
    pick *p = &s->picks[s->n];
    memset(p, 0, sizeof *p);
    p->kase = c;
    p->metric = m;
    p->backend = pbr_json_str(c, "backend", "");
    p->blt = backend_lt(doc, p->backend);
    p->x = x;
    if (series_key_of(p->backend, json_object_get(c, "params"), drop, &p->series_key) < 0)
        return -ENOMEM;
    s->n++;
    return 0;
}

/* A metric family "efficiency_g%": whether name is prefix, a number, suffix;
 * the number in *x. */
static bool family_match(const char *family, const char *name, double *x)
{
    const char *pct = strchr(family, '%');
    size_t pre = (size_t)(pct - family), suf = strlen(pct + 1), len = strlen(name);
    if (len <= pre + suf || strncmp(name, family, pre) || strcmp(name + len - suf, pct + 1))
        return false;
    char *end;
    *x = strtod(name + pre, &end);
    return end == name + len - suf;
}

static bool usable_unit(selection *s, const pb__plot_source *src, const json_t *m)
{
    if (unit_ok(src, pbr_json_str(m, "unit", "")))
        return true;
    s->bad_unit++;
    snprintf(s->unit_seen, sizeof s->unit_seen, "%s", pbr_json_str(m, "unit", ""));
    return false;
}

/* Collects the usable cases of src in doc, groups them into series (pick
 * .series numbers series in order of first appearance) and sorts them by
 * backend, series, x. A source whose metric names a family ("efficiency_g%")
 * takes every metric of the family from each case, x being the number in
 * its name. Returns 0 or -ENOMEM. */
static int select_cases(const json_t *doc, const pb__plot_source *src, selection *s)
{
    memset(s, 0, sizeof *s);
    const json_t *results = json_object_get(doc, "results");
    size_t cap = 0, i;
    const json_t *c;
    bool family = strchr(src->metric, '%') != NULL;
    json_array_foreach(results, i, c) {
        if (strcmp(pbr_json_str(c, "scenario", ""), src->scenario) ||
            !strcmp(pbr_json_str(c, "backend", ""), "floor"))
            continue;
        s->found++;
        const char *outcome = pbr_json_str(c, "outcome", "");
        if (strcmp(outcome, "ok")) {
            if (!strcmp(outcome, "skipped"))
                s->skipped++;
            else
                s->failed++;
            if (!s->reason[0])
                snprintf(s->reason, sizeof s->reason, "%s: %s", pbr_json_str(c, "backend", ""),
                         pbr_json_str(c, "reason", ""));
            continue;
        }
        const json_t *metrics = json_object_get(c, "metrics");
        if (family) {
            const char *name;
            const json_t *m;
            size_t before = s->n;
            json_object_foreach((json_t *)metrics, name, m) {
                double x;
                if (!family_match(src->metric, name, &x) || !usable_unit(s, src, m))
                    continue;
                if (add_pick(s, &cap, doc, c, m, x, NULL) < 0)
                    return -ENOMEM;
            }
            if (s->n == before && !s->bad_unit)
                s->no_metric++;
            continue;
        }
        const json_t *m = json_object_get(metrics, src->metric);
        if (!json_is_object(m)) {
            s->no_metric++;
            continue;
        }
        if (!usable_unit(s, src, m))
            continue;
        double x = NAN;
        if (src->param) {
            const json_t *pv = json_object_get(json_object_get(c, "params"), src->param);
            if (!json_is_number(pv)) {
                s->bad_param++;
                continue;
            }
            x = json_number_value(pv);
        }
        if (add_pick(s, &cap, doc, c, m, x, src->param) < 0)
            return -ENOMEM;
    }
    /* Number the series in order of first appearance. */
    size_t nseries = 0;
    for (size_t a = 0; a < s->n; a++) {
        size_t b;
        for (b = 0; b < a; b++)
            if (!strcmp(s->picks[a].series_key, s->picks[b].series_key))
                break;
        s->picks[a].series = b < a ? s->picks[b].series : nseries++;
    }
    if (s->n) /* qsort(NULL, 0, ...) is undefined */
        qsort(s->picks, s->n, sizeof *s->picks, cmp_pick);
    return 0;
}

/* The skip line for an empty selection. */
static int skip_empty(pb__plot_data *out, const pb__plot_source *src, const selection *s)
{
    if (s->found == 0)
        return pb__plot_skip(out, "no case of scenario '%s' in the results", src->scenario);
    if (s->bad_unit && s->bad_unit + s->failed + s->skipped + s->no_metric == s->found)
        return pb__plot_skip(out, "metric '%s' of scenario '%s' has unit '%s', the chart expects '%s'",
                             src->metric, src->scenario, s->unit_seen, src->unit);
    if (s->no_metric && !s->failed && !s->skipped)
        return pb__plot_skip(out, "scenario '%s' has no metric '%s'", src->scenario,
                             src->metric);
    if (s->bad_param)
        return pb__plot_skip(out, "scenario '%s' cases lack the numeric parameter '%s'",
                             src->scenario, src->param);
    return pb__plot_skip(out, "no usable case of scenario '%s' (%zu failed, %zu skipped%s%s)",
                         src->scenario, s->failed, s->skipped, s->reason[0] ? "; " : "",
                         s->reason);
}

/* select_cases() for a chart drawn from src alone, declining it through
 * skip_empty() when nothing is usable. Returns 0 with s->n > 0,
 * PB__PLOT_SKIP or -ENOMEM; s is to be freed with selection_free() in every
 * case. */
static int select_or_skip(const json_t *doc, const pb__plot_source *src, pb__plot_data *out,
                          selection *s)
{
    int rc = select_cases(doc, src, s);
    if (rc == 0 && s->n == 0)
        rc = skip_empty(out, src, s);
    return rc;
}

/* Whether parameter `key` takes more than one value among the picks. */
static bool param_varies(const selection *s, const char *key)
{
    const json_t *first = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const json_t *v = json_object_get(json_object_get(s->picks[i].kase, "params"), key);
        if (i == 0)
            first = v;
        else if (!(first && v ? json_equal((json_t *)first, (json_t *)v) : first == v))
            return true;
    }
    return false;
}

/* The legend title of a pick's series: the backend and the parameters that
 * vary among the picks (x excluded). */
static void series_label(const selection *s, const pick *p, const char *xparam, char *buf,
                         size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "%s", p->backend);
    const json_t *params = json_object_get(p->kase, "params");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        if (off >= len || (xparam && !strcmp(key, xparam)) || !param_varies(s, key))
            continue;
        if (json_is_string(v))
            off += (size_t)snprintf(buf + off, len - off, " %s=%s", key, json_string_value(v));
        else if (json_is_number(v))
            off += (size_t)snprintf(buf + off, len - off, " %s=%g", key, json_number_value(v));
        else if (json_is_boolean(v))
            off += (size_t)snprintf(buf + off, len - off, " %s=%s", key,
                                    json_is_true(v) ? "true" : "false");
    }
}

/* The line type of the series that starts at pick i of a sorted selection:
 * its backend's, varied by how many series of that backend came before. */
static int pick_lt(const selection *s, size_t i)
{
    size_t k = 0;
    for (size_t j = i; j > 0 && !strcmp(s->picks[j - 1].backend, s->picks[i].backend); j--)
        if (s->picks[j - 1].series != s->picks[j].series)
            k++;
    return pb__plot_series_lt(s->picks[i].blt, k);
}

/* Line types for the series of a sorted selection, space-separated into buf
 * (and into lts_out[] when given). Returns the number of series. */
static size_t series_lts(const selection *s, char *buf, size_t len, int *lts_out)
{
    size_t nseries = 0, off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0 && s->picks[i].series == s->picks[i - 1].series)
            continue;
        int lt = pick_lt(s, i);
            if (lts_out && nseries < PB__PLOT_MAX_SERIES)
            lts_out[nseries] = lt;
        if (off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s%d", nseries ? " " : "", lt);
        nseries++;
    }
    return nseries;
}

static void put_header_comment(FILE *f, const pb__plot_chart *chart, const pb__plot_input *in)
{
    fprintf(f, "# poolbench plot: %s — %s\n", chart->name, chart->summary);
    for (size_t i = 0; i < in->ndocs; i++)
        fprintf(f, "# from %s\n", pbr_printable(in->paths[i]));
}

static void put_subtitle(pb__plot_data *out, const json_t *doc)
{
    char *sub = pb__plot_run_subtitle(doc);
    pb__plot_var_str(out, "subtitle", sub ? sub : "");
    free(sub);
}

char *pb__plot_run_subtitle(const json_t *doc)
{
    const json_t *run = json_object_get(doc, "run");
    const json_t *env = json_object_get(doc, "environment");
    const char *suite = pbr_json_str(run, "suite", "");
    const char *started = pbr_json_str(run, "started", "");
    const char *rev = pbr_json_str(env, "git_revision", "");
    const json_t *topo = json_object_get(env, "topology");
    char when[32] = "";
    /* "2026-11-21T08:00:00Z" → "2026-11-21 08:00 UTC" */
    if (strlen(started) >= 16)
        snprintf(when, sizeof when, "%.10s %.5s UTC", started, started + 11);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "%s%s%s", suite[0] ? "suite " : "", suite, suite[0] ? " · " : "");
    fprintf(f, "%s", pbr_json_str(env, "host", ""));
    if (json_is_integer(json_object_get(topo, "pus")))
        fprintf(f, " (%lld PUs)", (long long)json_integer_value(json_object_get(topo, "pus")));
    if (when[0])
        fprintf(f, " · %s", when);
    if (rev[0])
        fprintf(f, " · rev %.12s", rev);
    if (json_is_false(json_object_get(run, "complete")))
        fprintf(f, " · INCOMPLETE RUN");
    if (fclose(f)) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- latency: p50 bars, p99/p99.9 markers, the floor --------------------- */

/* Whether floor case f fits case c: every parameter the two share has the
 * same value (the harness holds a timeout's overshoot against the timed wait
 * of the same deadline). Returns the number shared, or -1 on a mismatch. */
static int floor_fit(const json_t *f, const json_t *c)
{
    const json_t *fp = json_object_get(f, "params"), *cp = json_object_get(c, "params");
    const char *key;
    const json_t *v;
    int shared = 0;
    json_object_foreach((json_t *)fp, key, v) {
        const json_t *w = json_object_get(cp, key);
        if (!w)
            continue;
        if (!json_equal((json_t *)v, (json_t *)w))
            return -1;
        shared++;
    }
    return shared;
}

/* The p50 of the floor a case's metric names (FORMAT.md `floor`), or NaN;
 * the floor's scenario name in *name. Among the floor cases of that
 * scenario, the one sharing the most parameter values with the case. */
static double floor_p50(const json_t *doc, const json_t *kase, const json_t *metric,
                        const char **name)
{
    const json_t *fl = json_object_get(metric, "floor");
    *name = "";
    if (!json_is_object(fl))
        return NAN;
    const char *fb = pbr_json_str(fl, "backend", ""), *fs = pbr_json_str(fl, "scenario", ""),
               *fm = pbr_json_str(fl, "metric", "");
    size_t i;
    const json_t *c;
    double best = NAN;
    int best_fit = -1;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (strcmp(pbr_json_str(c, "backend", ""), fb) || strcmp(pbr_json_str(c, "scenario", ""), fs))
            continue;
        /* The floor object may name the floor case's own parameters
         * (spin_pingpong between=processes): only that case is the floor. */
        if (floor_fit(fl, c) < 0)
            continue;
        double v = pbr_json_num(json_object_get(json_object_get(c, "metrics"), fm), "p50", NAN);
        int fit = floor_fit(c, kase);
        if (!isnan(v) && fit > best_fit) {
            best = v;
            best_fit = fit;
        }
    }
    if (!isnan(best)) {
        *name = fs;
        return best;
    }
    /* The floor case is not in this file (a filtered run): recover it from
     * the ratio the harness computed in the same run. */
    double ratio = pbr_json_num(metric, "ratio_to_floor", NAN), p50 = pbr_json_num(metric, "p50", NAN);
    if (isfinite(ratio) && ratio > 0 && isfinite(p50)) {
        *name = fs;
        return !strcmp(pbr_json_str(metric, "better", ""), "higher") ? p50 * ratio : p50 / ratio;
    }
    return NAN;
}

/* Data: one block, one row per series:
 *   label lt p50 p99 p999 floor floor_name      (ns)
 * Vars: nrows, has_floor. */
int pb__extract_latency(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out)
{
    const pb__plot_source *src = &chart->sources[0];
    const json_t *doc = in->docs[0];
    selection s;
    int rc = select_or_skip(doc, src, out, &s);
    if (rc != 0)
        goto done;
    put_header_comment(out->data, chart, in);
    fprintf(out->data, "# scenario '%s', metric '%s', values in ns\n", src->scenario,
            src->metric);
    fprintf(out->data, "case lt p50 p99 p999 floor floor_name\n");
    int has_floor = 0;
    int lts[PB__PLOT_MAX_SERIES];
    char ltbuf[512];
    size_t nrows = series_lts(&s, ltbuf, sizeof ltbuf, lts);
    size_t row = 0;
    for (size_t i = 0; i < s.n && row < PB__PLOT_MAX_SERIES; i++) {
        const pick *p = &s.picks[i];
        if (i > 0 && p->series == s.picks[i - 1].series)
            continue; /* one row per series: a second case of it is a duplicate */
        char label[128];
        series_label(&s, p, NULL, label, sizeof label);
        const char *fname;
        double fl = floor_p50(doc, p->kase, p->metric, &fname);
        has_floor |= !isnan(fl);
        pb__plot_put_str(out->data, label);
        fprintf(out->data, " %d", lts[row]);
        pb__plot_put_num(out->data, pbr_json_num(p->metric, "p50", NAN));
        pb__plot_put_num(out->data, pbr_json_num(p->metric, "p99", NAN));
        pb__plot_put_num(out->data, pbr_json_num(p->metric, "p999", NAN));
        pb__plot_put_num(out->data, fl);
        fputc(' ', out->data);
        pb__plot_put_str(out->data, fname);
        fputc('\n', out->data);
        row++;
    }
    (void)nrows;
    pb__plot_var_int(out, "nrows", (long long)row);
    pb__plot_var_int(out, "has_floor", has_floor);
    put_subtitle(out, doc);
    rc = 0;
done:
    selection_free(&s);
    return rc;
}

/* ---- cdf: from the log-linear histogram --------------------------------- */

/* Writes one series' CDF points: (lower, F before the bucket) and (upper, F
 * after it) for each listed bucket, so the curve is exact at bucket edges and
 * linear inside a bucket. Values <= 0 cannot sit on a log axis: their mass is
 * counted, their points are not written. Returns the number of points. */
static size_t put_cdf(FILE *f, const json_t *hist)
{
    const json_t *lower = json_object_get(hist, "lower");
    const json_t *upper = json_object_get(hist, "upper");
    const json_t *counts = json_object_get(hist, "counts");
    size_t nb = json_array_size(counts);
    if (json_array_size(lower) != nb || (upper && json_array_size(upper) != nb))
        return 0;
    double total = 0;
    for (size_t i = 0; i < nb; i++)
        total += json_number_value(json_array_get(counts, i));
    if (total <= 0)
        return 0;
    double cum = 0, last_x = -1;
    size_t points = 0;
    for (size_t i = 0; i < nb; i++) {
        double lo = json_number_value(json_array_get(lower, i));
        double c = json_number_value(json_array_get(counts, i));
        /* Without upper bounds (an older writer), the next bucket's lower
         * bound stands in: the curve is then exact at lower bounds only. */
        double hi = upper ? json_number_value(json_array_get(upper, i))
                          : (i + 1 < nb ? json_number_value(json_array_get(lower, i + 1)) : lo);
        /* Adjacent buckets share an edge: one point there. */
        if (lo > 0 && lo != last_x) {
            fprintf(f, "%.6g %.6g\n", lo, cum / total);
            points++;
        }
        cum += c;
        if (hi > 0 && hi >= lo) {
            fprintf(f, "%.6g %.6g\n", hi, cum / total);
            last_x = hi;
            points++;
        }
    }
    return points;
}

/* The parameter to split a chart into panels by: the first one whose value
 * differs between the picks, when it takes between 2 and max values (NULL
 * otherwise). Its values, in order of first appearance, go to vals[]. */
#define PB__PLOT_MAX_PANELS 6

static const char *facet_of(const selection *s, const json_t **vals, size_t *nvals)
{
    *nvals = 0;
    if (s->n == 0)
        return NULL;
    const char *key;
    const json_t *v;
    json_object_foreach(json_object_get(s->picks[0].kase, "params"), key, v) {
        if (!param_varies(s, key))
            continue;
        size_t n = 0;
        for (size_t i = 0; i < s->n && n <= PB__PLOT_MAX_PANELS; i++) {
            const json_t *w = json_object_get(json_object_get(s->picks[i].kase, "params"), key);
            size_t k;
            for (k = 0; k < n; k++)
                if (w && json_equal((json_t *)vals[k], (json_t *)w))
                    break;
            if (k == n && w && n < PB__PLOT_MAX_PANELS + 1) {
                if (n < PB__PLOT_MAX_PANELS)
                    vals[n] = w;
                n++;
            }
        }
        if (n >= 2 && n <= PB__PLOT_MAX_PANELS) {
            *nvals = n;
            return key;
        }
        return NULL; /* too many values for panels: one chart, many lines */
    }
    return NULL;
}

/* "via=result" */
static void facet_title(const char *key, const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        snprintf(buf, len, "%s=%s", key, json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%s=%lld", key, (long long)json_integer_value(v));
    else
        snprintf(buf, len, "%s=%g", key, json_number_value(v));
}

/* Data: one block per series, header "label" F, rows "x_ns F(x)". When one
 * parameter besides the backend varies (retrieval's via), the chart has one
 * panel per value, blocks ordered panel by panel, each backend in its own
 * colour in every panel.
 * Vars: nseries, lts, npanels, panel_series (blocks per panel), panel_titles
 * (quoted words; "" with one panel), what. */
int pb__extract_cdf(const pb__plot_chart *chart, const pb__plot_input *in, pb__plot_data *out)
{
    const pb__plot_source *src = &chart->sources[0];
    const json_t *doc = in->docs[0];
    selection s;
    int rc = select_or_skip(doc, src, out, &s);
    if (rc != 0)
        goto done;
    const json_t *fvals[PB__PLOT_MAX_PANELS];
    size_t nf = 0;
    const char *facet = facet_of(&s, fvals, &nf);
    size_t npanels = facet ? nf : 1;

    put_header_comment(out->data, chart, in);
    fprintf(out->data, "# scenario '%s', metric '%s': x in ns, F(x) = share of samples <= x,\n"
                       "# exact at the histogram's bucket edges\n",
            src->scenario, src->metric);
    char lts[512] = "", counts[64] = "", titles[512] = "";
    size_t off = 0, coff = 0, toff = 0, nseries = 0;
    for (size_t f = 0; f < npanels; f++) {
        size_t in_panel = 0, of_backend = 0;
        const char *last_backend = NULL;
        for (size_t i = 0; i < s.n && nseries < PB__PLOT_MAX_SERIES; i++) {
            const pick *p = &s.picks[i];
            if (i > 0 && p->series == s.picks[i - 1].series)
                continue;
            if (facet) {
                const json_t *w = json_object_get(json_object_get(p->kase, "params"), facet);
                if (!w || !json_equal((json_t *)w, (json_t *)fvals[f]))
                    continue;
            }
            const json_t *hist = json_object_get(p->metric, "histogram");
            if (!json_is_object(hist))
                continue;
            char label[128];
            series_label(&s, p, facet, label, sizeof label);
            /* The block is built apart so a histogram without points leaves
             * no header behind. */
            char *blk = NULL;
            size_t blen = 0;
            FILE *b = open_memstream(&blk, &blen);
            if (!b) {
                rc = -ENOMEM;
                goto done;
            }
            size_t pts = put_cdf(b, hist);
            if (fclose(b)) {
                free(blk);
                rc = -ENOMEM;
                goto done;
            }
            if (pts) {
                fputs(nseries ? "\n\n" : "", out->data);
                pb__plot_put_str(out->data, label);
                fputs(" F\n", out->data);
                fwrite(blk, 1, blen, out->data);
                of_backend = last_backend && !strcmp(last_backend, p->backend) ? of_backend + 1 : 0;
                last_backend = p->backend;
                if (off < sizeof lts)
                    off += (size_t)snprintf(lts + off, sizeof lts - off, "%s%d",
                                            nseries ? " " : "",
                                            pb__plot_series_lt(p->blt, of_backend));
                nseries++;
                in_panel++;
            }
            free(blk);
        }
        char title[96] = "";
        if (facet)
            facet_title(facet, fvals[f], title, sizeof title);
        if (coff < sizeof counts)
            coff += (size_t)snprintf(counts + coff, sizeof counts - coff, "%s%zu", f ? " " : "",
                                     in_panel);
        if (toff < sizeof titles)
            toff += (size_t)snprintf(titles + toff, sizeof titles - toff, "%s\"%s\"",
                                     f ? " " : "", title);
    }
    if (nseries == 0) {
        rc = pb__plot_skip(out, "metric '%s' of scenario '%s' has no histogram", src->metric,
                           src->scenario);
        goto done;
    }
    pb__plot_var_int(out, "nseries", (long long)nseries);
    pb__plot_var_str(out, "lts", lts);
    pb__plot_var_int(out, "npanels", (long long)npanels);
    pb__plot_var_str(out, "panel_series", counts);
    pb__plot_var_str(out, "panel_titles", titles);
    pb__plot_var_str(out, "what", chart->what ? chart->what : src->metric);
    put_subtitle(out, doc);
    rc = 0;
done:
    selection_free(&s);
    return rc;
}

/* ---- sweeps: a metric against a numeric parameter ----------------------- */

/* Writes the blocks of one selection: per series a header ("label" and the
 * column names given) and rows "x p50 ci_low ci_high", values times scale.
 * Appends the series' line types to lts. `native`: the series are outside
 * libraries' own loops, labelled "<series> native" and drawn in their
 * backend's second (dashed) line type, beside the adapter's. Returns the
 * number of blocks. */
static size_t put_sweep_blocks(FILE *f, const selection *s, const pb__plot_source *src,
                               size_t already, char *lts, size_t ltslen, bool native)
{
    size_t nseries = 0, off = strlen(lts);
    for (size_t i = 0; i < s->n; i++) {
        const pick *p = &s->picks[i];
        bool new_series = i == 0 || p->series != s->picks[i - 1].series;
        if (new_series) {
            if (already + nseries >= PB__PLOT_MAX_SERIES)
                break;
            char label[160];
            series_label(s, p, src->param, label, sizeof label - 8);
            if (native)
                strcat(label, " native");
            fputs(already + nseries ? "\n\n" : "", f);
            pb__plot_put_str(f, label);
            fputs(" p50 ci_low ci_high\n", f);
            if (off < ltslen)
                off += (size_t)snprintf(lts + off, ltslen - off, "%s%d", off ? " " : "",
                                        native ? pb__plot_series_lt(p->blt, 1) : pick_lt(s, i));
            nseries++;
        }
        double k = unit_scale(src, p->metric);
        put_x(f, p->x);
        pb__plot_put_num(f, k * pbr_json_num(p->metric, "p50", NAN));
        pb__plot_put_num(f, k * pbr_json_num(p->metric, "ci_low", NAN));
        pb__plot_put_num(f, k * pbr_json_num(p->metric, "ci_high", NAN));
        fputc('\n', f);
    }
    return nseries;
}

/* map (and any "metric against a parameter" chart). Data: one block per
 * series, rows "x p50 ci_low ci_high". Vars: nseries, lts. */
int pb__extract_sweep(const pb__plot_chart *chart, const pb__plot_input *in, pb__plot_data *out)
{
    const pb__plot_source *src = &chart->sources[0];
    selection s;
    int rc = select_or_skip(in->docs[0], src, out, &s);
    if (rc != 0)
        goto done;
    put_header_comment(out->data, chart, in);
    fprintf(out->data, "# scenario '%s', metric '%s' (%s) against parameter '%s'\n",
            src->scenario, src->metric, src->unit ? src->unit : "", src->param);
    char lts[512] = "";
    size_t n = put_sweep_blocks(out->data, &s, src, 0, lts, sizeof lts, false);
    pb__plot_var_int(out, "nseries", (long long)n);
    pb__plot_var_str(out, "lts", lts);
    put_subtitle(out, in->docs[0]);
    rc = 0;
done:
    selection_free(&s);
    return rc;
}

/* Keeps of s only the native bursts of one task per item (native scenario,
 * loop=burst, chunksize=1): what the throughput of no-op and spinning
 * tasks is held against. */
static void keep_plain_bursts(selection *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++) {
        const json_t *params = json_object_get(s->picks[i].kase, "params");
        const json_t *chunk = json_object_get(params, "chunksize");
        if (strcmp(pbr_json_str(params, "loop", ""), "burst") ||
            (json_is_integer(chunk) && json_integer_value(chunk) != 1))
            free(s->picks[i].series_key);
        else
            s->picks[kept++] = s->picks[i];
    }
    s->n = kept;
}

/* ---- throughput and efficiency against task granularity ------------------
 *
 * sources: [0] throughput against granularity (the burst scenario, with
 * no-op tasks), [1] throughput of the granularity sweep (used when [0] has
 * nothing), [2] efficiency of the sweep (denser; preferred), [3] efficiency
 * of the burst scenario (used when [2] has nothing), [4] METG(50%), [5] the
 * outside libraries' own bursts (native scenario), shown with [0].
 *
 * Data blocks, in order: ntput throughput series ("x p50 ci_low ci_high",
 * tasks/s; a library's own burst as "<backend> native", dashed), neff
 * efficiency series (same columns, %), then, when nmetg > 0,
 * one block "backend lt metg" (ns) with one row per backend.
 * Vars: ntput, lts_tput, neff, lts_eff, nmetg, metg_note (the METG values in
 * words), gmin and gmax (the smallest non-zero and the largest granularity in
 * ns: the script places granularity 0 relative to gmin), has_zero.
 */
int pb__extract_granularity(const pb__plot_chart *chart, const pb__plot_input *in,
                            pb__plot_data *out)
{
    const json_t *doc = in->docs[0];
    selection sel[6];
    memset(sel, 0, sizeof sel);
    int rc = 0;
    for (int k = 0; k < 6 && rc == 0; k++)
        rc = select_cases(doc, &chart->sources[k], &sel[k]);
    if (rc < 0)
        goto done;
    int ti = sel[0].n ? 0 : 1, ei = sel[2].n ? 2 : 3;
    const selection *tput = &sel[ti], *eff = &sel[ei], *metg = &sel[4];
    if (tput->n == 0 && eff->n == 0) {
        const pb__plot_source *a = &chart->sources[0], *b = &chart->sources[2];
        rc = pb__plot_skip(out, "no usable case of scenario '%s' (metric '%s') or '%s' "
                                "(metric '%s')",
                           a->scenario, a->metric, b->scenario, b->metric);
        goto done;
    }
    double gmin = INFINITY, gmax = 0;
    bool has_zero = false;
    const selection *both[2] = {tput, eff};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < both[k]->n; i++) {
            double g = both[k]->picks[i].x;
            if (g > 0 && g < gmin)
                gmin = g;
            if (g > gmax)
                gmax = g;
            has_zero |= g == 0;
        }
    if (!isfinite(gmin))
        gmin = gmax = 1000; /* only no-op tasks: place them at 1 µs / 4 */

    put_header_comment(out->data, chart, in);
    fprintf(out->data, "# x: task granularity in ns (0: no-op task); throughput in tasks/s "
                       "(%s/%s), efficiency in %% (%s/%s)\n",
            chart->sources[ti].scenario, chart->sources[ti].metric,
            chart->sources[ei].scenario, chart->sources[ei].metric);
    char lts_t[512] = "", lts_e[512] = "";
    size_t nt = put_sweep_blocks(out->data, tput, &chart->sources[ti], 0, lts_t, sizeof lts_t,
                                 false);
    if (ti == 0) {
        keep_plain_bursts(&sel[5]);
        nt += put_sweep_blocks(out->data, &sel[5], &chart->sources[5], nt, lts_t, sizeof lts_t,
                               true);
    }
    size_t ne = put_sweep_blocks(out->data, eff, &chart->sources[ei], nt, lts_e, sizeof lts_e,
                                 false);
    size_t nm = 0;
    char note[256] = "";
    size_t noff = 0;
    for (size_t i = 0; i < metg->n; i++) {
        const pick *p = &metg->picks[i];
        double v = pbr_json_num(p->metric, "p50", NAN);
        if (isnan(v))
            continue;
        if (nm == 0)
            fputs(nt + ne ? "\n\nbackend lt metg\n" : "backend lt metg\n", out->data);
        char label[128];
        series_label(metg, p, NULL, label, sizeof label);
        pb__plot_put_str(out->data, label);
        fprintf(out->data, " %d", p->blt);
        pb__plot_put_num(out->data, v);
        fputc('\n', out->data);
        char dur[32];
        format_ns(dur, sizeof dur, v);
        if (noff < sizeof note)
            noff += (size_t)snprintf(note + noff, sizeof note - noff, "%s%s %s",
                                     nm ? ", " : "METG(50%): ", label, dur);
        nm++;
    }
    pb__plot_var_int(out, "ntput", (long long)nt);
    pb__plot_var_str(out, "lts_tput", lts_t);
    pb__plot_var_int(out, "neff", (long long)ne);
    pb__plot_var_str(out, "lts_eff", lts_e);
    pb__plot_var_int(out, "nmetg", (long long)nm);
    pb__plot_var_str(out, "metg_note", note);
    pb__plot_var_num(out, "gmin", gmin);
    pb__plot_var_num(out, "gmax", gmax);
    pb__plot_var_int(out, "has_zero", has_zero);
    put_subtitle(out, doc);
    rc = 0;
done:
    for (int k = 0; k < 6; k++)
        selection_free(&sel[k]);
    return rc;
}

/* ---- grouped bars: one group per parameter value, one bar per series ------
 *
 * Used for timeout overshoot per deadline. Data: one block, a header
 * "group x floor s1 p99 s2 p99 ...", one row per parameter value:
 *   "label" x floor p50_1 p99_1 p50_2 p99_2 ...
 * Column 1 is the group's label ("100 µs"), column 2 its value in ns, column 3
 * the median of the floor the group's cases name (FORMAT.md `floor`; NaN when
 * none), then two columns per series, whose titles are the header's fields 4,
 * 6, ... Vars: nseries, nrows, lts, has_floor, floor_name.
 */
int pb__extract_grouped(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out)
{
    const pb__plot_source *src = &chart->sources[0];
    selection s;
    double *xs = NULL;
    int rc = select_or_skip(in->docs[0], src, out, &s);
    if (rc != 0)
        goto done;
    /* Distinct x values, ascending. */
    xs = malloc(s.n * sizeof *xs);
    if (!xs) {
        rc = -ENOMEM;
        goto done;
    }
    size_t nx = 0;
    for (size_t i = 0; i < s.n; i++) {
        size_t k = 0;
        while (k < nx && xs[k] < s.picks[i].x)
            k++;
        if (k < nx && xs[k] == s.picks[i].x)
            continue;
        memmove(xs + k + 1, xs + k, (nx - k) * sizeof *xs);
        xs[k] = s.picks[i].x;
        nx++;
    }
    /* The first pick of each series, in series order. */
    const pick *first[PB__PLOT_MAX_SERIES];
    size_t ns = 0;
    for (size_t i = 0; i < s.n && ns < PB__PLOT_MAX_SERIES; i++)
        if (i == 0 || s.picks[i].series != s.picks[i - 1].series)
            first[ns++] = &s.picks[i];
    char lts[512];
    series_lts(&s, lts, sizeof lts, NULL);

    put_header_comment(out->data, chart, in);
    fprintf(out->data, "# scenario '%s', metric '%s' in ns, grouped by parameter '%s' (ns); "
                       "per series: p50 and p99\n",
            src->scenario, src->metric, src->param);
    fputs("group x floor", out->data);
    for (size_t j = 0; j < ns; j++) {
        char label[128];
        series_label(&s, first[j], src->param, label, sizeof label);
        fputc(' ', out->data);
        pb__plot_put_str(out->data, label);
        fputs(" p99", out->data);
    }
    fputc('\n', out->data);
    bool has_floor = false;
    const char *floor_name = "";
    for (size_t k = 0; k < nx; k++) {
        char label[32];
        format_ns(label, sizeof label, xs[k]);
        pb__plot_put_str(out->data, label);
        fputc(' ', out->data);
        put_x(out->data, xs[k]);
        double fl = NAN;
        for (size_t i = 0; i < s.n && isnan(fl); i++)
            if (s.picks[i].x == xs[k])
                fl = floor_p50(in->docs[0], s.picks[i].kase, s.picks[i].metric, &floor_name);
        has_floor |= !isnan(fl);
        pb__plot_put_num(out->data, fl);
        for (size_t j = 0; j < ns; j++) {
            const pick *hit = NULL;
            for (size_t i = 0; i < s.n && !hit; i++)
                if (s.picks[i].series == first[j]->series && s.picks[i].x == xs[k])
                    hit = &s.picks[i];
            pb__plot_put_num(out->data, hit ? pbr_json_num(hit->metric, "p50", NAN) : NAN);
            pb__plot_put_num(out->data, hit ? pbr_json_num(hit->metric, "p99", NAN) : NAN);
        }
        fputc('\n', out->data);
    }
    pb__plot_var_int(out, "nseries", (long long)ns);
    pb__plot_var_int(out, "nrows", (long long)nx);
    pb__plot_var_str(out, "lts", lts);
    pb__plot_var_int(out, "has_floor", has_floor);
    pb__plot_var_str(out, "floor_name", has_floor ? floor_name : "");
    put_subtitle(out, in->docs[0]);
    rc = 0;
done:
    free(xs);
    selection_free(&s);
    return rc;
}

/* ---- life cycle: start-up, shutdown and fault recovery per backend --------
 *
 * sources: every non-empty entry is one kind of bar (start-up, shutdown,
 * recovery); a source whose scenario has several parameter sets (faults:
 * crash, hang) gives one bar kind per set. Data: one block, a header
 * "backend lt k1 k1_p99 k2 k2_p99 ...", one row per backend:
 *   "thread" 1 p50 p99 p50 p99 ...      (ns; NaN where the case is absent)
 * Vars: nkinds, nrows, notes (why a backend has no bar of a kind: "thread:
 * faults skipped (...)", for a footnote).
 */
#define PB__LIFE_MAX_KINDS 12

typedef struct life_kind {
    const pb__plot_source *src;
    const selection *sel;
    char params_key[256]; /* the canonical params of this kind */
    char label[96];
} life_kind;

/* The chart's data: what each source selected, the kinds of bars, and the
 * backends that have at least one. */
typedef struct life {
    selection sels[PB__PLOT_MAX_SOURCES];
    life_kind kinds[PB__LIFE_MAX_KINDS];
    size_t nk;
    const char *backends[PB__PLOT_MAX_SERIES]; /* in line-type order */
    int blts[PB__PLOT_MAX_SERIES];
    size_t nb;
} life;

/* Adds the kinds of source si: one per distinct params set. */
static void add_kinds(life *l, const pb__plot_source *src, size_t si)
{
    for (size_t i = 0; i < l->sels[si].n && l->nk < PB__LIFE_MAX_KINDS; i++) {
        const pick *p = &l->sels[si].picks[i];
        const char *pk = strchr(p->series_key, '\n') + 1;
        size_t k;
        for (k = 0; k < l->nk; k++)
            if (l->kinds[k].src == src && !strcmp(l->kinds[k].params_key, pk))
                break;
        if (k < l->nk)
            continue;
        life_kind *kind = &l->kinds[l->nk++];
        kind->src = src;
        kind->sel = &l->sels[si];
        snprintf(kind->params_key, sizeof kind->params_key, "%s", pk);
        /* "recovery" or, with parameters that vary, "recovery fault=segv":
         * the label minus the backend name. */
        char label[128];
        series_label(&l->sels[si], p, NULL, label, sizeof label);
        snprintf(kind->label, sizeof kind->label, "%s%s", src->metric, label + strlen(p->backend));
    }
}

/* Every backend with at least one kind, in line-type order. */
static void find_backends(life *l)
{
    for (size_t k = 0; k < l->nk; k++)
        for (size_t i = 0; i < l->kinds[k].sel->n; i++) {
            const pick *p = &l->kinds[k].sel->picks[i];
            size_t b;
            for (b = 0; b < l->nb; b++)
                if (!strcmp(l->backends[b], p->backend))
                    break;
            if (b < l->nb || l->nb == PB__PLOT_MAX_SERIES)
                continue;
            size_t at = l->nb;
            while (at > 0 && l->blts[at - 1] > p->blt) {
                l->backends[at] = l->backends[at - 1];
                l->blts[at] = l->blts[at - 1];
                at--;
            }
            l->backends[at] = p->backend;
            l->blts[at] = p->blt;
            l->nb++;
        }
}

/* The header, then one row per backend: p50 and p99 of each kind. */
static void put_life_rows(const life *l, FILE *f)
{
    fputs("# per backend, for each kind of bar: p50 and p99 in ns\n", f);
    fputs("backend lt", f);
    for (size_t k = 0; k < l->nk; k++) {
        fputc(' ', f);
        pb__plot_put_str(f, l->kinds[k].label);
        fputs(" p99", f);
    }
    fputc('\n', f);
    for (size_t b = 0; b < l->nb; b++) {
        pb__plot_put_str(f, l->backends[b]);
        fprintf(f, " %d", l->blts[b]);
        for (size_t k = 0; k < l->nk; k++) {
            const pick *hit = NULL;
            for (size_t i = 0; i < l->kinds[k].sel->n && !hit; i++) {
                const pick *p = &l->kinds[k].sel->picks[i];
                if (!strcmp(p->backend, l->backends[b]) &&
                    !strcmp(strchr(p->series_key, '\n') + 1, l->kinds[k].params_key))
                    hit = p;
            }
            pb__plot_put_num(f, hit ? pbr_json_num(hit->metric, "p50", NAN) : NAN);
            pb__plot_put_num(f, hit ? pbr_json_num(hit->metric, "p99", NAN) : NAN);
        }
        fputc('\n', f);
    }
}

/* The backends of l that skipped scenario, and the gist of the harness's
 * reason (up to its first ';'): "faults skipped on thread, glib: needs
 * workers in other processes", appended to notes. */
static void note_skips(const life *l, const json_t *doc, const char *scenario, char *notes,
                       size_t size)
{
    char who[256] = "", why[160] = "";
    size_t woff = 0;
    for (size_t b = 0; b < l->nb; b++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(doc, "results"), i, c) {
            if (strcmp(pbr_json_str(c, "scenario", ""), scenario) ||
                strcmp(pbr_json_str(c, "backend", ""), l->backends[b]) ||
                strcmp(pbr_json_str(c, "outcome", ""), "skipped"))
                continue;
            if (woff < sizeof who)
                woff += (size_t)snprintf(who + woff, sizeof who - woff, "%s%s", woff ? ", " : "",
                                         l->backends[b]);
            const char *reason = pbr_json_str(c, "reason", "");
            if (!why[0])
                snprintf(why, sizeof why, "%.*s", (int)strcspn(reason, ";"), reason);
            break;
        }
    }
    size_t noff = strlen(notes);
    if (who[0] && noff < size)
        snprintf(notes + noff, size - noff, "%s%s skipped on %s%s%s", noff ? "; " : "", scenario,
                 who, why[0] ? ": " : "", why);
}

int pb__extract_lifecycle(const pb__plot_chart *chart, const pb__plot_input *in,
                          pb__plot_data *out)
{
    const json_t *doc = in->docs[0];
    life l;
    memset(&l, 0, sizeof l);
    int rc = 0;
    size_t nsrc = 0;
    while (nsrc < PB__PLOT_MAX_SOURCES && chart->sources[nsrc].scenario)
        nsrc++;
    for (size_t si = 0; si < nsrc && rc == 0; si++)
        if ((rc = select_cases(doc, &chart->sources[si], &l.sels[si])) == 0)
            add_kinds(&l, &chart->sources[si], si);
    if (rc == 0 && l.nk == 0) {
        char what[160] = "";
        size_t off = 0;
        for (size_t si = 0; si < nsrc; si++)
            off += (size_t)snprintf(what + off, off < sizeof what ? sizeof what - off : 0,
                                    "%s%s/%s", si ? ", " : "", chart->sources[si].scenario,
                                    chart->sources[si].metric);
        rc = pb__plot_skip(out, "no usable case for %s", what);
    }
    if (rc == 0) {
        find_backends(&l);
        put_header_comment(out->data, chart, in);
        put_life_rows(&l, out->data);
        /* Footnote: per scenario, once, the backends that skipped it. */
        char notes[512] = "";
        for (size_t si = 0; si < nsrc; si++) {
            bool dup = false;
            for (size_t sj = 0; sj < si; sj++)
                dup |= !strcmp(chart->sources[sj].scenario, chart->sources[si].scenario);
            if (!dup)
                note_skips(&l, doc, chart->sources[si].scenario, notes, sizeof notes);
        }
        pb__plot_var_int(out, "nkinds", (long long)l.nk);
        pb__plot_var_int(out, "nrows", (long long)l.nb);
        pb__plot_var_str(out, "notes", notes);
        put_subtitle(out, doc);
    }
    for (size_t si = 0; si < PB__PLOT_MAX_SOURCES; si++)
        selection_free(&l.sels[si]);
    return rc;
}
