/*
 * history.c — a metric across many results files, with step changes marked:
 * pbr_history_list()/pbr_history_series() and `poolbench history`.
 *
 * A history answers "when did this get slower?". Points are ordered by
 * run.started_unix (the time the run began), not by file name, so files can
 * be named anyhow. A point is a step when its median lies outside the
 * previous point's 95% confidence interval of the median: a change that the
 * earlier run's own spread does not explain. It is a heuristic for where to
 * look, not a significance test (that is `poolbench compare`, which sees
 * every repetition); it only sees one interval, so on a noisy machine it
 * marks more steps than there are.
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
    }
    free(s);
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
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(docs[order[oi]], "results"), i, c)
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
                for (size_t s = 0; s < n && !seen; s++)
                    seen = !strcmp(v[s].metric, mname) && !strcmp(v[s].backend, backend) &&
                           !strcmp(v[s].scenario, scenario) && !strcmp(v[s].params_key, key);
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
                pbr_series *s = &v[n++];
                memset(s, 0, sizeof *s);
                s->backend = strdup(backend);
                s->scenario = strdup(scenario);
                s->params_key = strdup(key);
                s->metric = strdup(mname);
                s->label = pbr_case_label(c);
                s->unit = strdup(pbr_json_str(m, "unit", ""));
                s->better = !strcmp(pbr_json_str(m, "better", "lower"), "higher") ? PBR_HIGHER
                                                                              : PBR_LOWER;
                if (!s->backend || !s->scenario || !s->params_key || !s->metric || !s->label ||
                    !s->unit) {
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

int pbr_history_series(const json_t *const *docs, size_t ndocs, const char *backend,
                       const char *scenario, const char *params_key, const char *metric,
                       pbr_history_point **points, size_t *npoints)
{
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
        const json_t *c = pbr_find_case(doc, backend, scenario, params_key);
        json_t *m = c ? json_object_get(json_object_get(c, "metrics"), metric) : NULL;
        if (!m)
            continue;
        pbr_history_point *pt = &p[n];
        const json_t *run = json_object_get(doc, "run");
        pt->doc = order[oi];
        pt->started_unix = pbr_json_num(run, "started_unix", 0.0);
        pt->started = pbr_json_str(run, "started", "");
        pt->git_revision = pbr_json_str(json_object_get(doc, "environment"), "git_revision", "");
        pt->p50 = pbr_json_num(m, "p50", 0.0);
        pt->ci_low = pbr_json_num(m, "ci_low", pt->p50);
        pt->ci_high = pbr_json_num(m, "ci_high", pt->p50);
        pt->n = (long long)pbr_json_num(m, "n", 0.0);
        pt->trusted = json_is_true(json_object_get(m, "trusted"));
        pt->change_pct = 0.0;
        pt->step = 0;
        pt->worse = false;
        if (n > 0) {
            const pbr_history_point *prev = &p[n - 1];
            if (prev->p50 != 0.0)
                pt->change_pct = (pt->p50 - prev->p50) / fabs(prev->p50) * 100.0;
            if (pt->p50 > prev->ci_high)
                pt->step = 1;
            else if (pt->p50 < prev->ci_low)
                pt->step = -1;
            bool higher = !strcmp(pbr_json_str(m, "better", "lower"), "higher");
            pt->worse = higher ? pt->step < 0 : pt->step > 0;
        }
        n++;
    }
    free(order);
    if (n == 0) {
        free(p);
        return 0;
    }
    *points = p;
    *npoints = n;
    return 0;
}

/* ------------------------------------------------------------------------
 * poolbench history
 * ------------------------------------------------------------------------ */

/* A field for TSV: tabs and newlines would break the columns. */
static void tsv_field(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, out);
}

static void print_text_series(FILE *out, const pbr_series *s, const pbr_history_point *p,
                              size_t n, char **paths)
{
    fprintf(out, "%s: %s (%s, %s is better)\n", s->label, s->metric, s->unit,
            s->better == PBR_HIGHER ? "higher" : "lower");
    enum { NCOL = 7 };
    static const char *const head[NCOL] = {"started", "revision", "p50", "95% CI of the median",
                                           "n",       "change",   "file"};
    size_t w[NCOL];
    for (int c = 0; c < NCOL; c++)
        w[c] = strlen(head[c]);
    char(*cells)[NCOL][96] = calloc(n ? n : 1, sizeof *cells);
    if (!cells)
        return;
    for (size_t i = 0; i < n; i++) {
        char lo[40], hi[40];
        snprintf(cells[i][0], 96, "%s", p[i].started);
        snprintf(cells[i][1], 96, "%s", p[i].git_revision);
        pbr_format_value(cells[i][2], 96, s->unit, p[i].p50, PBR_FORMAT_TABLE);
        pbr_format_value(lo, sizeof lo, s->unit, p[i].ci_low, PBR_FORMAT_TABLE);
        pbr_format_value(hi, sizeof hi, s->unit, p[i].ci_high, PBR_FORMAT_TABLE);
        snprintf(cells[i][3], 96, "%s .. %s", lo, hi);
        snprintf(cells[i][4], 96, "%lld", p[i].n);
        if (i == 0)
            cells[i][5][0] = '\0';
        else
            snprintf(cells[i][5], 96, "%+.1f%%", p[i].change_pct);
        snprintf(cells[i][6], 96, "%s", paths[p[i].doc]);
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
            bool right = c == 2 || c == 4 || c == 5;
            fprintf(out, right ? " %*s" : " %-*s", (int)w[c], cells[i][c]);
        }
        const char *sep = "  ";
        if (p[i].step) {
            fprintf(out, "%sstep %s (%s)", sep, p[i].step > 0 ? "up" : "down",
                    p[i].worse ? "worse" : "better");
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
                pts, json_pack("{s:s,s:s,s:f,s:s,s:f,s:f,s:f,s:I,s:b,s:f,s:i,s:b}", "file",
                               paths[p[i].doc], "started", p[i].started, "started_unix",
                               p[i].started_unix, "git_revision", p[i].git_revision, "p50",
                               p[i].p50, "ci_low", p[i].ci_low, "ci_high", p[i].ci_high, "n",
                               (json_int_t)p[i].n, "trusted", p[i].trusted, "change_pct",
                               p[i].change_pct, "step", p[i].step, "worse", p[i].worse))) {
            json_decref(pts);
            pts = NULL;
        }
    }
    return json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:o}", "backend", s->backend, "scenario",
                     s->scenario, "params", params ? params : json_object(), "params_key",
                     s->params_key, "label", s->label, "metric", s->metric, "unit", s->unit,
                     "better", s->better == PBR_HIGHER ? "higher" : "lower", "points", pts);
}

typedef struct history_opts {
    const char *metric, *backend, *scenario, *format;
} history_opts;

static const history_opts history_defaults = {
    .metric = "*", .backend = "*", .scenario = "*", .format = "text"};

static const pbr_option history_options[] = {
    {.name = "metric", PBR_STRING(history_opts, metric), .arg = "GLOB",
     .help = "metrics to show (default: all), e.g. 'roundtrip'"},
    {.name = "backend", PBR_STRING(history_opts, backend), .arg = "GLOB",
     .help = "backends to show (default: all)"},
    {.name = "scenario", PBR_STRING(history_opts, scenario), .arg = "GLOB",
     .help = "scenarios to show (default: all)"},
    {.name = "format", .key = 'f', PBR_CHOICE(history_opts, format, "text", "tsv", "json"),
     .arg = "FMT", .help = "text (default), tsv or json"},
    {0},
};

static int run_history(const pbr_args *a);

const pbr_command pbr_history_command = {
    .name = "history",
    .summary = "a metric across many results files, with step changes marked",
    .synopsis = "[OPTIONS] DIR|FILE...",
    .about = "A metric across many results files, ordered by the time each run started,\n"
             "with step changes marked: a run whose median lies outside the previous\n"
             "run's 95% confidence interval of the median. A folder stands for the\n"
             "*.json files in it.",
    .epilogue = "tsv has one line per point under a header line, columns: backend scenario\n"
                "params metric unit better started_unix started git_revision file p50 ci_low\n"
                "ci_high n trusted step (step: 1 up, -1 down, 0 none). json holds\n"
                "{\"series\": [{backend, scenario, params, params_key, label, metric, unit,\n"
                "better, points: [{file, started, started_unix, git_revision, p50, ci_low,\n"
                "ci_high, n, trusted, change_pct, step, worse}]}]}.\n\n"
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
        const char *f[] = {se->backend, se->scenario, se->params_key, se->metric,
                           se->unit,    se->better == PBR_HIGHER ? "higher" : "lower"};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
            tsv_field(out, f[k]);
            fputc('\t', out);
        }
        fprintf(out, "%.17g\t", pts[i].started_unix);
        tsv_field(out, pts[i].started);
        fputc('\t', out);
        tsv_field(out, pts[i].git_revision);
        fputc('\t', out);
        tsv_field(out, paths[pts[i].doc]);
        fprintf(out, "\t%.17g\t%.17g\t%.17g\t%lld\t%s\t%d\n", pts[i].p50, pts[i].ci_low,
                pts[i].ci_high, pts[i].n, pts[i].trusted ? "true" : "false", pts[i].step);
    }
}

/* Shows one series in the format asked for (json: appended to jout).
 * Returns 0 or -ENOMEM. */
static int show_series(const history_opts *o, const history_in *in, const pbr_series *se,
                       json_t *jout)
{
    pbr_history_point *pts;
    size_t npts;
    if (pbr_history_series((const json_t *const *)in->docs, in->npaths, se->backend,
                           se->scenario, se->params_key, se->metric, &pts, &npts) < 0)
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
    int rc = doc ? json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : -1;
    json_decref(doc);
    if (rc == 0)
        fputc('\n', stdout);
    return rc;
}

static int run_history(const pbr_args *a)
{
    const history_opts *o = a->opts;
    history_in in = {0};
    int status = load_history(a, &in);
    json_t *jout = !strcmp(o->format, "json") ? json_array() : NULL;
    if (status == 0 && !strcmp(o->format, "tsv"))
        printf("backend\tscenario\tparams\tmetric\tunit\tbetter\tstarted_unix\tstarted\t"
               "git_revision\tfile\tp50\tci_low\tci_high\tn\ttrusted\tstep\n");
    size_t shown = 0;
    for (size_t s = 0; status == 0 && s < in.nseries; s++) {
        const pbr_series *se = &in.series[s];
        if (fnmatch(o->metric, se->metric, 0) || fnmatch(o->backend, se->backend, 0) ||
            fnmatch(o->scenario, se->scenario, 0))
            continue;
        if (show_series(o, &in, se, jout) < 0) {
            fprintf(stderr, "poolbench history: out of memory\n");
            status = 2;
        }
        shown++;
    }
    if (status == 0 && shown == 0) {
        fprintf(stderr,
                "poolbench history: no series matches --metric '%s' --backend '%s' "
                "--scenario '%s' in the %zu file%s given\n",
                o->metric, o->backend, o->scenario, in.npaths, in.npaths == 1 ? "" : "s");
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
    history_in_free(&in);
    return status;
}
