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

#include "commands.h"
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
        o[i].t = pbr__num(json_object_get(docs[i], "run"), "started_unix", 0.0);
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
            const char *backend = pbr__str(c, "backend", "");
            const char *scenario = pbr__str(c, "scenario", "");
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
                s->unit = strdup(pbr__str(m, "unit", ""));
                s->better = !strcmp(pbr__str(m, "better", "lower"), "higher") ? PBR_HIGHER
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
        pt->started_unix = pbr__num(run, "started_unix", 0.0);
        pt->started = pbr__str(run, "started", "");
        pt->git_revision = pbr__str(json_object_get(doc, "environment"), "git_revision", "");
        pt->p50 = pbr__num(m, "p50", 0.0);
        pt->ci_low = pbr__num(m, "ci_low", pt->p50);
        pt->ci_high = pbr__num(m, "ci_high", pt->p50);
        pt->n = (long long)pbr__num(m, "n", 0.0);
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
            bool higher = !strcmp(pbr__str(m, "better", "lower"), "higher");
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

static void history_usage(FILE *out)
{
    fprintf(out,
            "usage: poolbench history [OPTIONS] DIR|FILE...\n\n"
            "A metric across many results files, ordered by the time each run started,\n"
            "with step changes marked: a run whose median lies outside the previous\n"
            "run's 95%% confidence interval of the median. A folder stands for the\n"
            "*.json files in it.\n\n"
            "options:\n"
            "  --metric GLOB    metrics to show (default: all), e.g. 'roundtrip'\n"
            "  --backend GLOB   backends to show (default: all)\n"
            "  --scenario GLOB  scenarios to show (default: all)\n"
            "  --format FMT     text (default), tsv or json\n"
            "  --help           print this help\n\n"
            "tsv has one line per point under a header line, columns: backend scenario\n"
            "params metric unit better started_unix started git_revision file p50 ci_low\n"
            "ci_high n trusted step (step: 1 up, -1 down, 0 none). json holds\n"
            "{\"series\": [{backend, scenario, params, params_key, label, metric, unit,\n"
            "better, points: [{file, started, started_unix, git_revision, p50, ci_low,\n"
            "ci_high, n, trusted, change_pct, step, worse}]}]}.\n\n"
            "exit status: 0 shown, 2 bad usage, an unreadable file, or nothing matched\n");
}

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

int pb_cmd_history(int argc, char **argv)
{
    const char *metric = "*", *backend = "*", *scenario = "*", *format = "text";
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    if (!files) {
        fprintf(stderr, "poolbench history: out of memory\n");
        return 2;
    }
    const pbr__opt opts[] = {{"--metric", &metric},
                             {"--backend", &backend},
                             {"--scenario", &scenario},
                             {"--format", &format}};
    for (int i = 1; i < argc; i++) {
        pbr__arg_kind kind =
            pbr__arg("history", argc, argv, &i, opts, sizeof opts / sizeof opts[0]);
        if (kind == PBR__ARG_HELP || kind == PBR__ARG_BAD) {
            if (kind == PBR__ARG_HELP)
                history_usage(stdout);
            free(files);
            return kind == PBR__ARG_HELP ? 0 : 2;
        }
        if (kind == PBR__ARG_OPTION)
            continue;
        files[nfiles++] = argv[i];
    }
    if (strcmp(format, "text") && strcmp(format, "tsv") && strcmp(format, "json")) {
        fprintf(stderr, "poolbench history: --format must be text, tsv or json, not '%s'\n",
                format);
        free(files);
        return 2;
    }
    if (nfiles == 0) {
        fprintf(stderr, "poolbench history: no results file or folder given (try poolbench "
                        "history --help)\n");
        free(files);
        return 2;
    }

    char err[1024];
    char **paths = NULL;
    size_t npaths = 0;
    json_t **docs = NULL;
    pbr_series *series = NULL;
    size_t nseries = 0;
    int status = 2;
    if (pbr_paths_expand(files, nfiles, &paths, &npaths, err, sizeof err) < 0 ||
        pbr_read_all(paths, npaths, &docs, err, sizeof err) < 0) {
        fprintf(stderr, "poolbench history: %s\n", err);
        goto out;
    }
    if (pbr_history_list((const json_t *const *)docs, npaths, &series, &nseries) < 0) {
        fprintf(stderr, "poolbench history: out of memory\n");
        goto out;
    }

    json_t *jout = !strcmp(format, "json") ? json_array() : NULL;
    if (!strcmp(format, "tsv"))
        printf("backend\tscenario\tparams\tmetric\tunit\tbetter\tstarted_unix\tstarted\t"
               "git_revision\tfile\tp50\tci_low\tci_high\tn\ttrusted\tstep\n");
    size_t shown = 0;
    for (size_t s = 0; s < nseries; s++) {
        const pbr_series *se = &series[s];
        if (fnmatch(metric, se->metric, 0) || fnmatch(backend, se->backend, 0) ||
            fnmatch(scenario, se->scenario, 0))
            continue;
        pbr_history_point *pts;
        size_t npts;
        if (pbr_history_series((const json_t *const *)docs, npaths, se->backend, se->scenario,
                               se->params_key, se->metric, &pts, &npts) < 0) {
            fprintf(stderr, "poolbench history: out of memory\n");
            json_decref(jout);
            goto out;
        }
        shown++;
        if (!strcmp(format, "text")) {
            print_text_series(stdout, se, pts, npts, paths);
        } else if (!strcmp(format, "tsv")) {
            for (size_t i = 0; i < npts; i++) {
                const char *f[] = {se->backend, se->scenario, se->params_key, se->metric,
                                   se->unit,    se->better == PBR_HIGHER ? "higher" : "lower"};
                for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
                    tsv_field(stdout, f[k]);
                    fputc('\t', stdout);
                }
                printf("%.17g\t", pts[i].started_unix);
                tsv_field(stdout, pts[i].started);
                fputc('\t', stdout);
                tsv_field(stdout, pts[i].git_revision);
                fputc('\t', stdout);
                tsv_field(stdout, paths[pts[i].doc]);
                printf("\t%.17g\t%.17g\t%.17g\t%lld\t%s\t%d\n", pts[i].p50, pts[i].ci_low,
                       pts[i].ci_high, pts[i].n, pts[i].trusted ? "true" : "false",
                       pts[i].step);
            }
        } else if (json_array_append_new(jout, series_json_new(se, pts, npts, paths)) < 0) {
            fprintf(stderr, "poolbench history: out of memory\n");
            free(pts);
            json_decref(jout);
            goto out;
        }
        free(pts);
    }
    if (shown == 0) {
        fprintf(stderr,
                "poolbench history: no series matches --metric '%s' --backend '%s' "
                "--scenario '%s' in the %zu file%s given\n",
                metric, backend, scenario, npaths, npaths == 1 ? "" : "s");
        json_decref(jout);
        goto out;
    }
    if (jout) {
        json_t *doc = json_pack("{s:o}", "series", jout);
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) < 0) {
            fprintf(stderr, "poolbench history: cannot write the JSON output\n");
            json_decref(doc);
            goto out;
        }
        json_decref(doc);
        fputc('\n', stdout);
    }
    status = fflush(stdout) == 0 ? 0 : 2;
    if (status)
        fprintf(stderr, "poolbench history: cannot write to standard output\n");
out:
    pbr_series_free(series, nseries);
    pbr_docs_free(docs, npaths);
    pbr_paths_free(paths);
    free(files);
    return status;
}
