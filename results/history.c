/*
 * history.c — a metric across many results files, with step changes marked:
 * pbr_history_list()/pbr_history_series() and `poolbench history`.
 *
 * A history answers "when did this get slower?". Three things make its
 * answer trustworthy:
 *
 *   Comparable runs only. A series is one case and metric within one group
 *   of runs that can be compared at all: the same host, suite, workers, pin
 *   policy and kind of run. A pinned run and an unpinned one, or two
 *   machines of a CI matrix, are separate series (the group is printed with
 *   each), never one line with a jump in it.
 *
 *   Points told apart. Runs are ordered by run.started_unix (not by file
 *   name), and each point has a label, date, time and revision, made
 *   distinct within its series ("#2" after a repeat), so no two points of a
 *   chart share an x label.
 *
 *   Steps that are changes, not noise. Steps are found by binary
 *   segmentation, the change-point method of E-divisive and of MongoDB's
 *   performance CI (Daly et al., ICPE 2020), on the series of medians: the
 *   split of a segment with the largest change between the median of the
 *   runs before and after it (weighted by sqrt(nl nr / n), so that a change
 *   between two stretches of runs counts for more than one next to a single
 *   run) is a change point when (a) that change exceeds
 *   the noise band — the larger of --threshold (default 5%), the metric's
 *   calibrated band (--noise) and three robust standard deviations of the
 *   series' own run-to-run moves — and (b) a Mann-Whitney U test between
 *   the repetitions of the runs before and after it is significant (alpha
 *   0.01). Then each side is searched the same way. A change inside the
 *   noise band (a +0.1% move of the clock's cost) is never a step, however
 *   significant; one wild run among steady ones moves no median and is no
 *   step, unless it is the latest run (then nothing after it says yet
 *   whether it is noise, and it is shown).
 *
 * The plots driver draws the history chart from pbr_history_series(), so the
 * chart and this table always agree on which points are steps.
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "results-int.h"
#include "results.h"

/* ------------------------------------------------------------------------
 * The library part
 * ------------------------------------------------------------------------ */

typedef struct order_ent {
    size_t idx;
    double t;
} order_ent;

static int cmp_order(const void *a, const void *b)
{
    const order_ent *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

size_t *pbr_time_order(const json_t *const *docs, size_t ndocs)
{
    order_ent *o = malloc((ndocs ? ndocs : 1) * sizeof *o);
    size_t *r = malloc((ndocs ? ndocs : 1) * sizeof *r);
    if (!o || !r) {
        free(o);
        free(r);
        return NULL;
    }
    for (size_t i = 0; i < ndocs; i++) {
        o[i].idx = i;
        o[i].t = pbr_json_num(json_object_get(docs[i], "run"), "started_unix", 0.0);
    }
    qsort(o, ndocs, sizeof *o, cmp_order);
    for (size_t i = 0; i < ndocs; i++)
        r[i] = o[i].idx;
    free(o);
    return r;
}

void pbr_series_free(pbr_series *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].backend);
        free(s[i].scenario);
        free(s[i].params_key);
        free(s[i].metric);
        free(s[i].label);
        free(s[i].unit);
        free(s[i].host);
        free(s[i].suite);
        free(s[i].pin);
        free(s[i].kind);
        free(s[i].group);
    }
    free(s);
}

/* The group of a run: what must be equal for two runs to be compared. */
typedef struct group {
    const char *host, *suite, *pin, *kind;
    int workers;
} group;

static group group_of(const json_t *doc)
{
    const json_t *run = json_object_get(doc, "run");
    return (group){pbr_doc_host(doc), pbr_json_str(run, "suite", ""),
                   pbr_json_str(run, "pin", "none"), pbr_json_str(run, "kind", "run"),
                   (int)pbr_json_num(run, "workers", 0)};
}

bool pbr_series_has_run(const pbr_series *s, const json_t *doc)
{
    group g = group_of(doc);
    return !strcmp(g.host, s->host) && !strcmp(g.suite, s->suite) && !strcmp(g.pin, s->pin) &&
           !strcmp(g.kind, s->kind) && g.workers == s->workers;
}

static bool series_init(pbr_series *s, const char *backend, const char *scenario,
                        const char *key, const char *mname, const json_t *c, const json_t *m,
                        const group *g)
{
    memset(s, 0, sizeof *s);
    char words[512];
    snprintf(words, sizeof words, "host %s, suite %s, workers %d, pin %s%s%s", g->host,
             g->suite, g->workers, g->pin, strcmp(g->kind, "run") ? ", " : "",
             strcmp(g->kind, "run") ? g->kind : "");
    s->backend = strdup(backend);
    s->scenario = strdup(scenario);
    s->params_key = strdup(key);
    s->metric = strdup(mname);
    s->label = pbr_case_label(c);
    s->unit = strdup(pbr_json_str(m, "unit", ""));
    s->better = !strcmp(pbr_json_str(m, "better", "lower"), "higher") ? PBR_HIGHER : PBR_LOWER;
    s->host = strdup(g->host);
    s->suite = strdup(g->suite);
    s->pin = strdup(g->pin);
    s->kind = strdup(g->kind);
    s->workers = g->workers;
    s->group = strdup(words);
    return s->backend && s->scenario && s->params_key && s->metric && s->label && s->unit &&
           s->host && s->suite && s->pin && s->kind && s->group;
}

int pbr_history_list(const json_t *const *docs, size_t ndocs, pbr_series **series,
                     size_t *nseries)
{
    size_t *order = pbr_time_order(docs, ndocs);
    if (!order)
        return -ENOMEM;
    pbr_series *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t oi = 0; oi < ndocs; oi++) {
        const json_t *doc = docs[order[oi]];
        group g = group_of(doc);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(doc, "results"), i, c)
        {
            const char *backend = pbr_json_str(c, "backend", "");
            const char *scenario = pbr_json_str(c, "scenario", "");
            char *key = pbr_params_key(json_object_get(c, "params"));
            if (!key)
                goto nomem;
            const char *mname;
            json_t *m;
            json_object_foreach(json_object_get(c, "metrics"), mname, m)
            {
                bool seen = false;
                for (size_t k = 0; k < n && !seen; k++)
                    seen = !strcmp(v[k].metric, mname) && !strcmp(v[k].backend, backend) &&
                           !strcmp(v[k].scenario, scenario) && !strcmp(v[k].params_key, key) &&
                           pbr_series_has_run(&v[k], doc);
                if (seen)
                    continue;
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 32;
                    pbr_series *nv = realloc(v, nc * sizeof *nv);
                    if (!nv) {
                        free(key);
                        goto nomem;
                    }
                    v = nv;
                    cap = nc;
                }
                bool ok = series_init(&v[n], backend, scenario, key, mname, c, m, &g);
                n++;
                if (!ok) {
                    free(key);
                    goto nomem;
                }
            }
            free(key);
        }
    }
    free(order);
    *series = v;
    *nseries = n;
    return 0;
nomem:
    free(order);
    pbr_series_free(v, n);
    return -ENOMEM;
}

void pbr_run_label(const json_t *doc, char *buf, size_t len)
{
    const char *started = pbr_json_str(json_object_get(doc, "run"), "started", "");
    const char *rev = pbr_json_str(json_object_get(doc, "environment"), "git_revision", "");
    if (strlen(started) >= 16)
        snprintf(buf, len, "%.5s %.5s%s%.7s", started + 5, started + 11, *rev ? " " : "", rev);
    else
        snprintf(buf, len, "%s%s%.7s", started, *rev ? " " : "", rev);
}

/* ---- Change points ---- */

/* The median of the p50s of points [a, b). */
static double median_p50(const pbr_history_point *p, size_t a, size_t b, double *scratch)
{
    size_t n = 0;
    for (size_t i = a; i < b; i++)
        scratch[n++] = p[i].p50;
    return pbr__median(scratch, n);
}

typedef struct cp_ctx {
    const json_t *const *docs;
    const pbr_series *s;
    pbr_history_point *p;
    double band;     /* log(1 + band) */
    double alpha;
    double *scratch; /* room for every point */
} cp_ctx;

/* The repetitions of the metric in the runs of points [a, b), pooled (the
 * p50 of a run without them); *n their count. Caller frees. */
static double *pooled(const cp_ctx *x, size_t a, size_t b, size_t *n)
{
    size_t cap = 0;
    for (size_t i = a; i < b; i++) {
        const json_t *c = pbr_find_case(x->docs[x->p[i].doc], x->s->backend, x->s->scenario,
                                        x->s->params_key);
        const json_t *m = json_object_get(json_object_get(c, "metrics"), x->s->metric);
        size_t k = json_array_size(json_object_get(m, "repetitions"));
        cap += k ? k : 1;
    }
    double *v = malloc((cap ? cap : 1) * sizeof *v);
    *n = 0;
    for (size_t i = a; v && i < b; i++) {
        const json_t *c = pbr_find_case(x->docs[x->p[i].doc], x->s->backend, x->s->scenario,
                                        x->s->params_key);
        const json_t *reps =
            json_object_get(json_object_get(json_object_get(c, "metrics"), x->s->metric),
                            "repetitions");
        if (json_array_size(reps) == 0)
            v[(*n)++] = x->p[i].p50;
        for (size_t k = 0; k < json_array_size(reps); k++)
            v[(*n)++] = json_number_value(json_array_get(reps, k));
    }
    return v;
}

/* Looks for change points in points [a, b); marks them. 0 or -ENOMEM. */
static int segment(cp_ctx *x, size_t a, size_t b)
{
    if (b - a < 2)
        return 0;
    /* The split with the largest change weighted by sqrt(nl nr / n), the
     * usual statistic of binary segmentation: a change between two long
     * stretches outweighs one between a stretch and a single run. */
    size_t best = 0;
    double best_w = 0, best_d = 0, best_lr = 0;
    for (size_t k = a + 1; k < b; k++) {
        double l = median_p50(x->p, a, k, x->scratch), r = median_p50(x->p, k, b, x->scratch);
        if (!(l > 0) || !(r > 0))
            continue;
        double d = fabs(log(r / l));
        double w = d * sqrt((double)(k - a) * (double)(b - k) / (double)(b - a));
        if (w > best_w) {
            best_w = w;
            best_d = d;
            best = k;
            best_lr = r / l;
        }
    }
    if (!best || best_d <= x->band)
        return 0; /* no change beyond the noise band here */
    size_t nl, nr;
    double *l = pooled(x, a, best, &nl), *r = pooled(x, best, b, &nr);
    if (!l || !r) {
        free(l);
        free(r);
        return -ENOMEM;
    }
    pbr_mwu t;
    int rc = pbr_mann_whitney(l, nl, r, nr, &t);
    free(l);
    free(r);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0 || t.p >= x->alpha)
        return 0;
    pbr_history_point *pt = &x->p[best];
    pt->step = best_lr > 1 ? 1 : -1;
    pt->step_pct = (best_lr - 1.0) * 100.0;
    pt->worse = x->s->better == PBR_HIGHER ? pt->step < 0 : pt->step > 0;
    rc = segment(x, a, best);
    return rc ? rc : segment(x, best, b);
}

/* Three robust standard deviations of the run-to-run moves of the series
 * (log p50 differences, 1.4826 MAD / sqrt 2), as a log ratio; 0 with fewer
 * than three moves. */
static double own_noise(const pbr_history_point *p, size_t n, double *scratch)
{
    size_t k = 0;
    for (size_t i = 1; i < n; i++)
        if (p[i].p50 > 0 && p[i - 1].p50 > 0)
            scratch[k++] = log(p[i].p50 / p[i - 1].p50);
    if (k < 3)
        return 0;
    return 3.0 * pbr__robust_sd(scratch, k) / sqrt(2.0);
}

static int find_steps(const json_t *const *docs, const pbr_series *s, const pbr_history_opts *o,
                      pbr_history_point *p, size_t n)
{
    double *scratch = malloc((n ? n : 1) * sizeof *scratch);
    if (!scratch)
        return -ENOMEM;
    double band = log(1.0 + o->threshold / 100.0);
    if (o->noise) {
        double sigma = pbr_noise_sigma(o->noise, s->backend, s->scenario, s->params_key,
                                       s->metric);
        if (sigma >= 0) {
            double b = log(1.0 + pbr_noise_band_pct(sigma, 0) / 100.0);
            if (b > band)
                band = b;
        }
    }
    double own = own_noise(p, n, scratch);
    if (own > band)
        band = own;
    cp_ctx x = {docs, s, p, band, o->alpha, scratch};
    int rc = segment(&x, 0, n);
    free(scratch);
    return rc;
}

int pbr_history_series(const json_t *const *docs, size_t ndocs, const pbr_series *s,
                       const pbr_history_opts *opts, pbr_history_point **points,
                       size_t *npoints)
{
    static const pbr_history_opts defaults = {.threshold = PBR_THRESHOLD_SEPARATE,
                                              .alpha = 0.01};
    const pbr_history_opts *o = opts ? opts : &defaults;
    *points = NULL;
    *npoints = 0;
    size_t *order = pbr_time_order(docs, ndocs);
    pbr_history_point *p = malloc((ndocs ? ndocs : 1) * sizeof *p);
    if (!order || !p) {
        free(order);
        free(p);
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t oi = 0; oi < ndocs; oi++) {
        const json_t *doc = docs[order[oi]];
        if (!pbr_series_has_run(s, doc))
            continue;
        const json_t *c = pbr_find_case(doc, s->backend, s->scenario, s->params_key);
        json_t *m = c ? json_object_get(json_object_get(c, "metrics"), s->metric) : NULL;
        if (!m)
            continue;
        pbr_history_point *pt = &p[n];
        memset(pt, 0, sizeof *pt);
        const json_t *run = json_object_get(doc, "run");
        pt->doc = order[oi];
        pt->started_unix = pbr_json_num(run, "started_unix", 0.0);
        pt->started = pbr_json_str(run, "started", "");
        pt->git_revision = pbr_json_str(json_object_get(doc, "environment"), "git_revision", "");
        pbr_run_label(doc, pt->label, sizeof pt->label);
        /* Distinct labels: a repeat gets "#2", "#3", ... */
        int same = 1;
        for (size_t k = 0; k < n; k++) {
            char base[48];
            snprintf(base, sizeof base, "%s", p[k].label);
            char *hash = strstr(base, " #");
            if (hash)
                *hash = '\0';
            same += !strcmp(base, pt->label);
        }
        if (same > 1) {
            size_t l = strlen(pt->label);
            snprintf(pt->label + l, sizeof pt->label - l, " #%d", same);
        }
        pt->p50 = pbr_json_num(m, "p50", 0.0);
        pt->ci_low = pbr_json_num(m, "ci_low", pt->p50);
        pt->ci_high = pbr_json_num(m, "ci_high", pt->p50);
        pt->n = (long long)pbr_json_num(m, "n", 0.0);
        pt->trusted = json_is_true(json_object_get(m, "trusted"));
        if (n > 0 && p[n - 1].p50 != 0.0)
            pt->change_pct = (pt->p50 - p[n - 1].p50) / fabs(p[n - 1].p50) * 100.0;
        n++;
    }
    free(order);
    if (n == 0) {
        free(p);
        return 0;
    }
    if (find_steps(docs, s, o, p, n) < 0) {
        free(p);
        return -ENOMEM;
    }
    *points = p;
    *npoints = n;
    return 0;
}

/* ------------------------------------------------------------------------
 * poolbench history
 * ------------------------------------------------------------------------ */

/* A field for TSV: a tab or a newline would break the columns, and any
 * other control character is escaped as everywhere (pbr_escape). */
static void tsv_field(FILE *out, const char *s)
{
    fputs(pbr_printable(s), out);
}

static void print_text_series(FILE *out, const pbr_series *s, const pbr_history_point *p,
                              size_t n, char **paths)
{
    fprintf(out, "%s: %s (%s, %s is better) — %s\n", s->label, pbr_printable(s->metric),
            pbr_printable(s->unit), s->better == PBR_HIGHER ? "higher" : "lower",
            pbr_printable(s->group));
    enum { NCOL = 6 };
    static const char *const head[NCOL] = {"run", "p50", "95% CI of the median", "n", "change",
                                           "file"};
    size_t w[NCOL];
    for (int c = 0; c < NCOL; c++)
        w[c] = strlen(head[c]);
    char(*cells)[NCOL][96] = calloc(n ? n : 1, sizeof *cells);
    if (!cells)
        return;
    for (size_t i = 0; i < n; i++) {
        char lo[40], hi[40];
        pbr_escape(cells[i][0], 96, p[i].label);
        pbr_format_value(cells[i][1], 96, s->unit, p[i].p50, PBR_FORMAT_TABLE);
        pbr_format_value(lo, sizeof lo, s->unit, p[i].ci_low, PBR_FORMAT_TABLE);
        pbr_format_value(hi, sizeof hi, s->unit, p[i].ci_high, PBR_FORMAT_TABLE);
        snprintf(cells[i][2], 96, "%s .. %s", lo, hi);
        snprintf(cells[i][3], 96, "%lld", p[i].n);
        if (i == 0)
            cells[i][4][0] = '\0';
        else
            snprintf(cells[i][4], 96, "%+.1f%%", p[i].change_pct);
        pbr_escape(cells[i][5], 96, paths[p[i].doc]);
        for (int c = 0; c < NCOL; c++)
            if (strlen(cells[i][c]) > w[c])
                w[c] = strlen(cells[i][c]);
    }
    fputs(" ", out);
    for (int c = 0; c < NCOL; c++)
        fprintf(out, " %-*s", (int)w[c], head[c]);
    fputs("  note\n", out);
    for (size_t i = 0; i < n; i++) {
        fputs(" ", out);
        for (int c = 0; c < NCOL; c++) {
            bool right = c >= 1 && c <= 4;
            fprintf(out, right ? " %*s" : " %-*s", (int)w[c], cells[i][c]);
        }
        const char *sep = "  ";
        if (p[i].step) {
            fprintf(out, "%sstep %s %+.1f%% (%s)", sep, p[i].step > 0 ? "up" : "down",
                    p[i].step_pct, p[i].worse ? "worse" : "better");
            sep = ", ";
        }
        if (!p[i].trusted)
            fprintf(out, "%suntrusted", sep);
        fputc('\n', out);
    }
    fputc('\n', out);
    free(cells);
}

static json_t *series_json_new(const pbr_series *s, const pbr_history_point *p, size_t n,
                               char **paths)
{
    json_t *params = json_loads(s->params_key, JSON_DECODE_ANY, NULL);
    json_t *pts = json_array();
    for (size_t i = 0; pts && i < n; i++) {
        if (json_array_append_new(
                pts, json_pack("{s:s,s:s,s:s,s:f,s:s,s:f,s:f,s:f,s:I,s:b,s:f,s:i,s:f,s:b}",
                               "file", paths[p[i].doc], "label", p[i].label, "started",
                               p[i].started, "started_unix", p[i].started_unix, "git_revision",
                               p[i].git_revision, "p50", p[i].p50, "ci_low", p[i].ci_low,
                               "ci_high", p[i].ci_high, "n", (json_int_t)p[i].n, "trusted",
                               p[i].trusted, "change_pct", p[i].change_pct, "step", p[i].step,
                               "step_pct", p[i].step_pct, "worse", p[i].worse))) {
            json_decref(pts);
            pts = NULL;
        }
    }
    return json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:o}", "backend",
                     s->backend, "scenario", s->scenario, "params",
                     params ? params : json_object(), "params_key", s->params_key, "label",
                     s->label, "metric", s->metric, "unit", s->unit, "better",
                     s->better == PBR_HIGHER ? "higher" : "lower", "host", s->host, "suite",
                     s->suite, "workers", s->workers, "pin", s->pin, "kind", s->kind, "points",
                     pts);
}

typedef struct history_opts {
    const char *metric, *backend, *scenario, *host, *format, *noise;
    double threshold, alpha;
} history_opts;

static const history_opts history_defaults = {
    .metric = "*", .backend = "*", .scenario = "*", .host = "*", .format = "text",
    .threshold = PBR_THRESHOLD_SEPARATE, .alpha = 0.01};

static const pbr_option history_options[] = {
    {.name = "metric", PBR_STRING(history_opts, metric), .arg = "GLOB",
     .help = "metrics to show (default: all), e.g. 'roundtrip'"},
    {.name = "backend", PBR_STRING(history_opts, backend), .arg = "GLOB",
     .help = "backends to show (default: all)"},
    {.name = "scenario", PBR_STRING(history_opts, scenario), .arg = "GLOB",
     .help = "scenarios to show (default: all)"},
    {.name = "host", PBR_STRING(history_opts, host), .arg = "GLOB",
     .help = "hosts to show (default: all, each its own series)"},
    {.name = "threshold", PBR_REAL(history_opts, threshold, 0, INFINITY), .arg = "PCT",
     .expect = "a percentage", .help = "the smallest step that matters, in % (default 5)"},
    {.name = "alpha", PBR_REAL(history_opts, alpha, 0, 1), .above = true, .arg = "A",
     .help = "significance of a step (default 0.01)"},
    {.name = "noise", PBR_STRING(history_opts, noise), .arg = "FILE", .expect = "a file name",
     .help = "noise bands from poolbench calibrate: a metric's band, if\nlarger"},
    {.name = "format", .key = 'f', PBR_CHOICE(history_opts, format, "text", "tsv", "json"),
     .arg = "FMT", .help = "text (default), tsv or json"},
    {0},
};

static int run_history(const pbr_args *a);

const pbr_command pbr_history_command = {
    .name = "history",
    .summary = "a metric across many results files, with step changes marked",
    .synopsis = "[OPTIONS] DIR|FILE...",
    .about = "A metric across many results files, ordered by the time each run started.\n"
             "Only comparable runs share a series: same host, suite, workers and pin\n"
             "policy. A step is a change point (binary segmentation of the medians)\n"
             "larger than the noise band — --threshold, the metric's calibrated band\n"
             "(--noise), or the series' own run-to-run noise, whichever is largest —\n"
             "and significant by a Mann-Whitney U test of the repetitions before and\n"
             "after it. A folder stands for the *.json files in it; a merged file\n"
             "(poolbench merge) for the runs it holds.",
    .epilogue = "tsv has one line per point under a header line, columns: backend scenario\n"
                "params metric unit better host suite workers pin started_unix started\n"
                "label git_revision file p50 ci_low ci_high n trusted step step_pct (step:\n"
                "1 up, -1 down, 0 none). json holds {\"series\": [{backend, scenario,\n"
                "params, params_key, label, metric, unit, better, host, suite, workers, pin,\n"
                "kind, points: [{file, label, started, started_unix, git_revision, p50,\n"
                "ci_low, ci_high, n, trusted, change_pct, step, step_pct, worse}]}]}.\n\n"
                "exit status: 0 shown, 2 bad usage, an unreadable file, or nothing matched",
    .options = history_options,
    .opts_size = sizeof(history_opts),
    .defaults = &history_defaults,
    .operands = "results files or folders",
    .min_operands = 1,
    .max_operands = -1,
    .run = run_history,
};

/* The documents a history is drawn from, and every series in them. */
typedef struct history_in {
    char **paths;
    size_t npaths;
    json_t **docs;
    pbr_series *series;
    size_t nseries;
} history_in;

static void history_in_free(history_in *in)
{
    pbr_series_free(in->series, in->nseries);
    pbr_docs_free(in->docs, in->npaths);
    pbr_paths_free(in->paths);
}

/* Reads the files and folders named; 0, or 2 with the message told. */
static int load_history(const pbr_args *a, history_in *in)
{
    char err[1024];
    if (pbr_paths_expand((const char *const *)a->args, (size_t)a->nargs, &in->paths, &in->npaths,
                         err, sizeof err) < 0 ||
        pbr_read_all(&in->paths, &in->npaths, &in->docs, err, sizeof err) < 0) {
        fprintf(stderr, "poolbench history: %s\n", err);
        return 2;
    }
    if (pbr_history_list((const json_t *const *)in->docs, in->npaths, &in->series,
                         &in->nseries) < 0) {
        fprintf(stderr, "poolbench history: out of memory\n");
        return 2;
    }
    return 0;
}

static void print_tsv_series(FILE *out, const pbr_series *se, const pbr_history_point *pts,
                             size_t npts, char *const *paths)
{
    for (size_t i = 0; i < npts; i++) {
        const char *f[] = {se->backend, se->scenario, se->params_key, se->metric, se->unit,
                           se->better == PBR_HIGHER ? "higher" : "lower", se->host, se->suite};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            tsv_field(out, f[k]);
            fputc('\t', out);
        }
        fprintf(out, "%d\t", se->workers);
        tsv_field(out, se->pin);
        fprintf(out, "\t%.17g\t", pts[i].started_unix);
        const char *g[] = {pts[i].started, pts[i].label, pts[i].git_revision, paths[pts[i].doc]};
        for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
            if (k)
                fputc('\t', out);
            tsv_field(out, g[k]);
        }
        fprintf(out, "\t%.17g\t%.17g\t%.17g\t%lld\t%s\t%d\t%.17g\n", pts[i].p50, pts[i].ci_low,
                pts[i].ci_high, pts[i].n, pts[i].trusted ? "true" : "false", pts[i].step,
                pts[i].step_pct);
    }
}

/* Shows one series in the format asked for (json: appended to jout).
 * Returns 0 or -ENOMEM. */
static int show_series(const history_opts *o, const pbr_history_opts *ho, const history_in *in,
                       const pbr_series *se, json_t *jout)
{
    pbr_history_point *pts;
    size_t npts;
    if (pbr_history_series((const json_t *const *)in->docs, in->npaths, se, ho, &pts, &npts) < 0)
        return -ENOMEM;
    int rc = 0;
    if (!strcmp(o->format, "text"))
        print_text_series(stdout, se, pts, npts, in->paths);
    else if (!strcmp(o->format, "tsv"))
        print_tsv_series(stdout, se, pts, npts, in->paths);
    else if (json_array_append_new(jout, series_json_new(se, pts, npts, in->paths)) < 0)
        rc = -ENOMEM;
    free(pts);
    return rc;
}

static int print_json_series(json_t *jout)
{
    json_t *doc = json_pack("{s:o}", "series", jout);
    int rc = doc ? pbr_json_print(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : -1;
    json_decref(doc);
    if (rc == 0)
        fputc('\n', stdout);
    return rc;
}

static int run_history(const pbr_args *a)
{
    const history_opts *o = a->opts;
    history_in in = {0};
    json_t *noise = NULL;
    int status = o->noise ? pbr_read_noise(o->noise, &noise) : 0;
    pbr_history_opts ho = {.threshold = o->threshold, .alpha = o->alpha, .noise = noise};
    if (status == 0)
        status = load_history(a, &in);
    json_t *jout = !strcmp(o->format, "json") ? json_array() : NULL;
    if (status == 0 && !strcmp(o->format, "tsv"))
        printf("backend\tscenario\tparams\tmetric\tunit\tbetter\thost\tsuite\tworkers\tpin\t"
               "started_unix\tstarted\tlabel\tgit_revision\tfile\tp50\tci_low\tci_high\tn\t"
               "trusted\tstep\tstep_pct\n");
    size_t shown = 0;
    for (size_t s = 0; status == 0 && s < in.nseries; s++) {
        const pbr_series *se = &in.series[s];
        if (fnmatch(o->metric, se->metric, 0) || fnmatch(o->backend, se->backend, 0) ||
            fnmatch(o->scenario, se->scenario, 0) || fnmatch(o->host, se->host, 0))
            continue;
        if (show_series(o, &ho, &in, se, jout) < 0) {
            fprintf(stderr, "poolbench history: out of memory\n");
            status = 2;
        }
        shown++;
    }
    if (status == 0 && shown == 0) {
        fprintf(stderr,
                "poolbench history: no series matches --metric '%s' --backend '%s' "
                "--scenario '%s' --host '%s' in the %zu run%s given\n",
                o->metric, o->backend, o->scenario, o->host, in.npaths,
                in.npaths == 1 ? "" : "s");
        status = 2;
    }
    if (status == 0 && jout) {
        int rc = print_json_series(jout);
        jout = NULL; /* stolen */
        if (rc < 0) {
            fprintf(stderr, "poolbench history: cannot write the JSON output\n");
            status = 2;
        }
    }
    if (status == 0 && fflush(stdout) != 0) {
        fprintf(stderr, "poolbench history: cannot write to standard output\n");
        status = 2;
    }
    json_decref(jout);
    json_decref(noise);
    history_in_free(&in);
    return status;
}
