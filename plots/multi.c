/*
 * multi.c — the charts drawn from several results files: the history of chosen
 * metrics across runs, and base against new per case.
 *
 * HISTORY
 *   Runs are ordered by run.started_unix (ties keep command-line order). A
 *   panel is one SCENARIO/METRIC pair; a series is one case (backend and
 *   parameters) of it, followed across the runs that have it. A point is the
 *   median with its 95% confidence interval. Series and step changes come
 *   from results/history.c (pbr_history_series: a median outside the previous
 *   run's 95% CI of the median), so the chart marks exactly what
 *   `poolbench history` prints.
 *
 * COMPARE
 *   Cases are matched on backend, scenario and canonical params, as
 *   `poolbench compare` does. Each row shows one metric of one case, scaled
 *   so the base median is 100%: the base's CI as a band, the new median with
 *   its CI. The verdict drawn is deliberately modest — better or worse only
 *   when the two intervals do not overlap — because a chart cannot carry the
 *   significance test; `poolbench compare` is the gate.
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot-int.h"
#include "results.h"

#define PB__HISTORY_MAX_PANELS 4

static bool matches(const char *const *patterns, const char *scenario, const char *metric)
{
    char sm[256];
    snprintf(sm, sizeof sm, "%s/%s", scenario, metric);
    for (const char *const *p = patterns; *p; p++)
        if (fnmatch(*p, sm, 0) == 0)
            return true;
    return false;
}

static void put_subtitle_var(pb__plot_data *out, const char *sub)
{
    pb__plot_var_str(out, "subtitle", sub);
}

/* Line type of a backend, as extract.c assigns them: fixed for ours, the
 * others numbered from 4 in the order this chart meets them. */
static int lt_of(const char *backend, const char **others, size_t *nothers)
{
    int lt = pb__plot_fixed_lt(backend);
    if (lt)
        return lt;
    for (size_t i = 0; i < *nothers; i++)
        if (!strcmp(others[i], backend))
            return 4 + (int)i;
    if (*nothers < PB__PLOT_MAX_SERIES)
        others[(*nothers)++] = backend;
    return 4 + (int)(*nothers - 1);
}

/* ---- history ------------------------------------------------------------ */

typedef struct hseries {
    const pbr_series *src;
    json_t *params; /* parsed from src->params_key */
    char label[128];
    size_t panel;
    int lt;
    pbr_history_point *pts;
    size_t n;
} hseries;

typedef struct hpanel {
    const char *scenario, *metric, *unit;
} hpanel;

static int cmp_series(const void *a, const void *b)
{
    const hseries *p = a, *q = b;
    if (p->panel != q->panel)
        return p->panel < q->panel ? -1 : 1;
    if (p->lt != q->lt)
        return p->lt - q->lt;
    return (p->src > q->src) - (p->src < q->src); /* first appearance */
}

/* The legend title of a series: the backend and the parameters that tell
 * the panel's series apart ("thread", or "thread payload=8" when payloads
 * differ). */
static void history_label(hseries *all, size_t n, hseries *h)
{
    size_t off = (size_t)snprintf(h->label, sizeof h->label, "%s", h->src->backend);
    const char *key;
    json_t *v;
    json_object_foreach(h->params, key, v) {
        bool varies = false;
        for (size_t t = 0; t < n && !varies; t++) {
            if (all[t].panel != h->panel)
                continue;
            const json_t *w = json_object_get(all[t].params, key);
            varies = !w || !json_equal(v, (json_t *)w);
        }
        if (!varies || off >= sizeof h->label)
            continue;
        if (json_is_integer(v))
            off += (size_t)snprintf(h->label + off, sizeof h->label - off, " %s=%lld", key,
                                    (long long)json_integer_value(v));
        else if (json_is_number(v))
            off += (size_t)snprintf(h->label + off, sizeof h->label - off, " %s=%g", key,
                                    json_number_value(v));
        else if (json_is_string(v))
            off += (size_t)snprintf(h->label + off, sizeof h->label - off, " %s=%s", key,
                                    json_string_value(v));
    }
}

/* History: the series and step changes come from pbr_history_list() and
 * pbr_history_series() (results/history.c), so the chart marks exactly the
 * steps `poolbench history` prints. Runs are ordered by run.started_unix;
 * a panel is one SCENARIO/METRIC, a series one case of it.
 *
 * Data: block 0 "run label" (one row per run, in time order); then one block
 * per series, panel by panel: "run p50 ci_low ci_high step", step 1 for a
 * step in the metric's bad direction, -1 in its good direction, 0 none.
 * Vars: nruns, npanels, panel_series, panel_titles, panel_units, lts,
 * nsteps, subtitle. */
int pb__extract_history(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out)
{
    pbr_series *all = NULL;
    size_t nall = 0;
    hseries *series = NULL;
    size_t nseries = 0, npanels = 0, dropped_panels = 0, dropped_series = 0;
    hpanel panels[PB__HISTORY_MAX_PANELS];
    size_t *order = NULL, *run_of = NULL;
    int rc = pbr_history_list((const json_t *const *)in->docs, in->ndocs, &all, &nall);
    if (rc < 0)
        return rc;
    rc = -ENOMEM;

    /* The default patterns are the chart's sources. */
    const char *defaults[PB__PLOT_MAX_SOURCES + 1];
    char defbuf[PB__PLOT_MAX_SOURCES][128];
    size_t nd = 0;
    for (size_t s = 0; s < PB__PLOT_MAX_SOURCES && chart->sources[s].scenario; s++) {
        snprintf(defbuf[nd], sizeof defbuf[nd], "%s/%s", chart->sources[s].scenario,
                 chart->sources[s].metric);
        defaults[nd] = defbuf[nd];
        nd++;
    }
    defaults[nd] = NULL;
    const char *const *patterns = in->metrics ? in->metrics : defaults;

    series = calloc(PB__PLOT_MAX_SERIES, sizeof *series);
    if (!series)
        goto done;
    const char *others[PB__PLOT_MAX_SERIES];
    size_t nothers = 0;
    for (size_t i = 0; i < nall; i++) {
        const pbr_series *src = &all[i];
        if (!matches(patterns, src->scenario, src->metric))
            continue;
        size_t p;
        for (p = 0; p < npanels; p++)
            if (!strcmp(panels[p].scenario, src->scenario) && !strcmp(panels[p].metric, src->metric))
                break;
        if (p == npanels) {
            if (npanels == PB__HISTORY_MAX_PANELS) {
                dropped_panels++;
                continue;
            }
            panels[p] = (hpanel){src->scenario, src->metric, src->unit};
            npanels++;
        }
        if (nseries == PB__PLOT_MAX_SERIES) {
            dropped_series++;
            continue;
        }
        hseries *h = &series[nseries];
        h->src = src;
        h->panel = p;
        h->lt = lt_of(src->backend, others, &nothers);
        h->params = json_loads(src->params_key, 0, NULL);
        if (!h->params)
            goto done;
        nseries++;
        if (pbr_history_series((const json_t *const *)in->docs, in->ndocs, src->backend,
                               src->scenario, src->params_key, src->metric, &h->pts, &h->n) < 0)
            goto done;
    }
    if (nseries == 0) {
        char pats[256] = "";
        size_t off = 0;
        for (const char *const *p = patterns; *p && off < sizeof pats; p++)
            off += (size_t)snprintf(pats + off, sizeof pats - off, "%s%s", off ? ", " : "", *p);
        rc = pb__plot_skip(out, "no case in these files has a metric matching %s", pats);
        goto done;
    }
    for (size_t s = 0; s < nseries; s++)
        history_label(series, nseries, &series[s]);
    qsort(series, nseries, sizeof *series, cmp_series);

    /* Runs in time order; run_of[doc index] is the x position. */
    order = pbr_time_order((const json_t *const *)in->docs, in->ndocs);
    run_of = malloc((in->ndocs ? in->ndocs : 1) * sizeof *run_of);
    if (!order || !run_of)
        goto done;
    for (size_t r = 0; r < in->ndocs; r++)
        run_of[order[r]] = r;

    FILE *f = out->data;
    fprintf(f, "# poolbench plot: %s — %s\n", chart->name, chart->summary);
    fprintf(f, "# runs in time order; block 0 names them, then one block per series:\n"
               "# run p50 ci_low ci_high step (the median left the previous run's 95%% CI:\n"
               "# 1 in the metric's bad direction, -1 in its good one)\n");
    fputs("run label\n", f);
    for (size_t r = 0; r < in->ndocs; r++) {
        const json_t *doc = in->docs[order[r]];
        const char *started = pbr_json_str(json_object_get(doc, "run"), "started", "");
        const char *rev = pbr_json_str(json_object_get(doc, "environment"), "git_revision", "");
        char label[64];
        /* "11-21 08:00\nabc1234": date and revision on two lines. */
        if (strlen(started) >= 16)
            snprintf(label, sizeof label, "%.5s %.5s%s%.7s", started + 5, started + 11,
                     rev[0] ? "\\n" : "", rev);
        else
            snprintf(label, sizeof label, "run %zu", r + 1);
        fprintf(f, "%zu ", r);
        pb__plot_put_str(f, label);
        fputc('\n', f);
    }
    size_t nsteps = 0;
    char lts[512] = "", counts[64] = "", titles[512] = "", units[128] = "";
    size_t loff = 0, coff = 0, toff = 0, uoff = 0;
    for (size_t p = 0; p < npanels; p++) {
        size_t in_panel = 0, of_backend = 0;
        for (size_t s = 0; s < nseries; s++) {
            hseries *h = &series[s];
            if (h->panel != p)
                continue;
            fputs("\n\n", f);
            pb__plot_put_str(f, h->label);
            fputs(" p50 ci_low ci_high step\n", f);
            for (size_t k = 0; k < h->n; k++) {
                const pbr_history_point *pt = &h->pts[k];
                fprintf(f, "%zu", run_of[pt->doc]);
                pb__plot_put_num(f, pt->p50);
                pb__plot_put_num(f, pt->ci_low);
                pb__plot_put_num(f, pt->ci_high);
                fprintf(f, " %d\n", pt->step == 0 ? 0 : pt->worse ? 1 : -1);
                nsteps += pt->step != 0;
            }
            bool first = in_panel == 0 || strcmp(series[s - 1].src->backend, h->src->backend);
            of_backend = first ? 0 : of_backend + 1;
            if (loff < sizeof lts)
                loff += (size_t)snprintf(lts + loff, sizeof lts - loff, "%s%d", loff ? " " : "",
                                         pb__plot_series_lt(h->lt, of_backend));
            in_panel++;
        }
        if (coff < sizeof counts)
            coff += (size_t)snprintf(counts + coff, sizeof counts - coff, "%s%zu",
                                     p ? " " : "", in_panel);
        /* Panel titles and units as gnuplot words: double-quoted. */
        if (toff < sizeof titles)
            toff += (size_t)snprintf(titles + toff, sizeof titles - toff, "%s\"%s: %s\"",
                                     p ? " " : "", panels[p].scenario, panels[p].metric);
        if (uoff < sizeof units)
            uoff += (size_t)snprintf(units + uoff, sizeof units - uoff, "%s\"%s\"", p ? " " : "",
                                     panels[p].unit);
    }
    pb__plot_var_int(out, "nruns", (long long)in->ndocs);
    pb__plot_var_int(out, "npanels", (long long)npanels);
    pb__plot_var_str(out, "panel_series", counts);
    pb__plot_var_str(out, "panel_titles", titles);
    pb__plot_var_str(out, "panel_units", units);
    pb__plot_var_str(out, "lts", lts);
    pb__plot_var_int(out, "nsteps", (long long)nsteps);
    char sub[256];
    const char *first = pbr_json_str(json_object_get(in->docs[order[0]], "run"), "started", "");
    const char *last =
        pbr_json_str(json_object_get(in->docs[order[in->ndocs - 1]], "run"), "started", "");
    snprintf(sub, sizeof sub, "%zu runs, %.10s to %.10s%s", in->ndocs, first, last,
             dropped_panels || dropped_series
                 ? " · more matched than one chart can show: narrow --metric"
                 : "");
    put_subtitle_var(out, sub);
    rc = 0;
done:
    if (series)
        for (size_t s = 0; s < nseries; s++) {
            json_decref(series[s].params);
            free(series[s].pts);
        }
    free(series);
    free(order);
    free(run_of);
    pbr_series_free(all, nall);
    return rc;
}

/* ---- compare ------------------------------------------------------------ */

static char *doc_brief(const json_t *doc, const char *path)
{
    const json_t *run = json_object_get(doc, "run");
    const char *started = pbr_json_str(run, "started", "");
    const char *rev = pbr_json_str(json_object_get(doc, "environment"), "git_revision", "");
    const char *base = strrchr(path, '/');
    char *out = malloc(160);
    if (!out)
        return NULL;
    if (strlen(started) >= 16)
        snprintf(out, 160, "%.10s %.5s%s%.7s", started, started + 11, rev[0] ? " rev " : "", rev);
    else
        snprintf(out, 160, "%s", base ? base + 1 : path);
    return out;
}

/* Whether parameter `key` of scenario `scenario` takes more than one value
 * among doc's cases. */
static bool param_varies(const json_t *doc, const char *scenario, const char *key)
{
    const json_t *first = NULL, *c;
    bool seen = false;
    size_t i;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (strcmp(pbr_json_str(c, "scenario", ""), scenario))
            continue;
        const json_t *v = json_object_get(json_object_get(c, "params"), key);
        if (!seen) {
            first = v;
            seen = true;
        } else if (!(first && v ? json_equal((json_t *)first, (json_t *)v) : first == v)) {
            return true;
        }
    }
    return false;
}

/* "fork/map chunksize=16": backend/scenario and the parameters that tell the
 * scenario's cases apart (a parameter every case shares says nothing). */
static void compare_label(const json_t *doc, const json_t *c, char *buf, size_t len)
{
    const char *scenario = pbr_json_str(c, "scenario", "");
    size_t off = (size_t)snprintf(buf, len, "%s/%s", pbr_json_str(c, "backend", ""), scenario);
    const char *key;
    const json_t *v;
    json_object_foreach(json_object_get(c, "params"), key, v) {
        if (off >= len || !param_varies(doc, scenario, key))
            continue;
        if (json_is_integer(v))
            off += (size_t)snprintf(buf + off, len - off, " %s=%lld", key,
                                    (long long)json_integer_value(v));
        else if (json_is_number(v))
            off += (size_t)snprintf(buf + off, len - off, " %s=%g", key, json_number_value(v));
        else if (json_is_string(v))
            off += (size_t)snprintf(buf + off, len - off, " %s=%s", key, json_string_value(v));
    }
}

/* Data: one block, one row per (case, metric), rows in the new file's order:
 *   label lt base base_lo base_hi new new_lo new_hi verdict trusted
 * in % of the base median; verdict 1 better, -1 worse, 0 the intervals
 * overlap; trusted 0 when either side's metric is not trusted.
 * Vars: nrows, subtitle. */
int pb__extract_compare(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out)
{
    const json_t *base = in->docs[0], *neu = in->docs[1];
    FILE *f = out->data;
    size_t nrows = 0, unmatched = 0, zero_base = 0;
    const char *others[PB__PLOT_MAX_SERIES];
    size_t nothers = 0;
    fprintf(f, "# poolbench plot: %s — %s\n# base %s\n# new  %s\n", chart->name, chart->summary,
            in->paths[0], in->paths[1]);
    fputs("# values in % of the base median; verdict 1 better, -1 worse, 0 intervals overlap\n",
          f);
    fputs("case lt base base_lo base_hi new new_lo new_hi verdict trusted\n", f);
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(neu, "results"), i, c) {
        const char *backend = pbr_json_str(c, "backend", "");
        if (!strcmp(backend, "floor") || strcmp(pbr_json_str(c, "outcome", ""), "ok"))
            continue;
        char *key = pbr_params_key(json_object_get(c, "params"));
        if (!key)
            return -ENOMEM;
        const json_t *bc = pbr_find_case(base, backend, pbr_json_str(c, "scenario", ""), key);
        free(key);
        if (!bc || strcmp(pbr_json_str(bc, "outcome", ""), "ok")) {
            unmatched++;
            continue;
        }
        const char *scenario = pbr_json_str(c, "scenario", "");
        /* The case's own headline (its scenario's table wrote it); files
         * from before it was written: the first metric. */
        const char *headline = pbr_json_str(c, "headline", NULL);
        const char *mname;
        const json_t *m;
        bool first_metric = true;
        json_object_foreach(json_object_get(c, "metrics"), mname, m) {
            bool want = in->metrics ? matches(in->metrics, scenario, mname)
                                    : headline ? !strcmp(mname, headline) : first_metric;
            first_metric = false;
            if (!want)
                continue;
            const json_t *bm = json_object_get(json_object_get(bc, "metrics"), mname);
            double b50 = pbr_json_num(bm, "p50", NAN), n50 = pbr_json_num(m, "p50", NAN);
            if (isnan(b50) || isnan(n50))
                continue;
            if (b50 == 0) {
                zero_base++;
                continue;
            }
            double k = 100.0 / b50;
            double blo = pbr_json_num(bm, "ci_low", NAN) * k, bhi = pbr_json_num(bm, "ci_high", NAN) * k;
            double nlo = pbr_json_num(m, "ci_low", NAN) * k, nhi = pbr_json_num(m, "ci_high", NAN) * k;
            int verdict = 0;
            bool higher = !strcmp(pbr_json_str(m, "better", ""), "higher");
            if (nlo > bhi)
                verdict = higher ? 1 : -1;
            else if (nhi < blo)
                verdict = higher ? -1 : 1;
            bool trusted = json_is_true(json_object_get(m, "trusted")) &&
                           json_is_true(json_object_get(bm, "trusted"));
            char cl[160], label[192];
            compare_label(neu, c, cl, sizeof cl);
            if (headline && !strcmp(mname, headline))
                snprintf(label, sizeof label, "%s", cl);
            else
                snprintf(label, sizeof label, "%s: %s", cl, mname);
            pb__plot_put_str(f, label);
            fprintf(f, " %d", lt_of(backend, others, &nothers));
            pb__plot_put_num(f, 100.0);
            pb__plot_put_num(f, blo);
            pb__plot_put_num(f, bhi);
            pb__plot_put_num(f, n50 * k);
            pb__plot_put_num(f, nlo);
            pb__plot_put_num(f, nhi);
            fprintf(f, " %d %d\n", verdict, trusted ? 1 : 0);
            nrows++;
        }
    }
    if (nrows == 0) {
        if (unmatched)
            return pb__plot_skip(out, "no ok case of %s matches one of %s with the chosen metrics",
                                 in->paths[1], in->paths[0]);
        return pb__plot_skip(out, "no case in common between %s and %s with the chosen metrics",
                             in->paths[0], in->paths[1]);
    }
    char *b = doc_brief(base, in->paths[0]), *n = doc_brief(neu, in->paths[1]);
    char sub[400];
    snprintf(sub, sizeof sub, "base %s → new %s%s", b ? b : in->paths[0], n ? n : in->paths[1],
             zero_base ? " · cases with a zero base median left out" : "");
    free(b);
    free(n);
    pb__plot_var_int(out, "nrows", (long long)nrows);
    put_subtitle_var(out, sub);
    return 0;
}
