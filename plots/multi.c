/*
 * multi.c — the charts drawn from several results files: the history of chosen
 * metrics across runs, and base against new per case.
 *
 * HISTORY
 *   Runs are ordered by run.started_unix (ties keep command-line order). A
 *   panel is one SCENARIO/METRIC pair; a series is one case (backend and
 *   parameters) of it, followed across the runs that have it. A point is the
 *   median with its 95% confidence interval. Series (comparable runs only:
 *   one host, suite, workers and pin policy) and step changes (change
 *   points beyond the noise band) come from results/history.c, so the chart
 *   marks exactly what `poolbench history` prints. Each run's label (date,
 *   time, revision) is distinct: a repeat gets "#2".
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
#include <stdarg.h>
#include <stdio.h>
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

/* Whether the metric mname of a case of scenario is drawn: it matches the
 * --metric patterns, or else it is the case's headline (its scenario's
 * table wrote it), or else, for files from before headlines were written,
 * the case's first metric. */
static bool metric_wanted(const pb__plot_input *in, const char *scenario, const char *mname,
                          const char *headline, bool first)
{
    if (in->metrics)
        return matches(in->metrics, scenario, mname);
    return headline ? !strcmp(mname, headline) : first;
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

/* One history chart in the making. */
typedef struct hchart {
    pbr_series *all; /* every series of the documents */
    size_t nall;
    hseries *series; /* those drawn, panel by panel once sorted */
    size_t nseries;
    hpanel panels[PB__HISTORY_MAX_PANELS];
    size_t npanels;
    size_t dropped;  /* panels or series that matched but did not fit */
    size_t *order;   /* document indices in time order */
    size_t *run_of;  /* run_of[doc index]: its x position */
} hchart;

static void hchart_free(hchart *h)
{
    if (h->series)
        for (size_t s = 0; s < h->nseries; s++) {
            json_decref(h->series[s].params);
            free(h->series[s].pts);
        }
    free(h->series);
    free(h->order);
    free(h->run_of);
    pbr_series_free(h->all, h->nall);
}

/* The panel for src's SCENARIO/METRIC, added if there is room; npanels
 * when there is none. */
static size_t panel_of(hchart *h, const pbr_series *src)
{
    size_t p;
    for (p = 0; p < h->npanels; p++)
        if (!strcmp(h->panels[p].scenario, src->scenario) &&
            !strcmp(h->panels[p].metric, src->metric))
            return p;
    if (h->npanels == PB__HISTORY_MAX_PANELS)
        return h->npanels;
    h->panels[p] = (hpanel){src->scenario, src->metric, src->unit};
    return h->npanels++;
}

/* The series whose SCENARIO/METRIC matches a pattern, with their points.
 * 0 or -ENOMEM. */
static int select_series(hchart *h, const pb__plot_input *in, const char *const *patterns)
{
    if (!(h->series = calloc(PB__PLOT_MAX_SERIES, sizeof *h->series)))
        return -ENOMEM;
    const char *others[PB__PLOT_MAX_SERIES];
    size_t nothers = 0;
    for (size_t i = 0; i < h->nall; i++) {
        const pbr_series *src = &h->all[i];
        if (!matches(patterns, src->scenario, src->metric))
            continue;
        size_t p = panel_of(h, src);
        if (p == h->npanels || h->nseries == PB__PLOT_MAX_SERIES) {
            h->dropped++;
            continue;
        }
        hseries *s = &h->series[h->nseries];
        s->src = src;
        s->panel = p;
        s->lt = lt_of(src->backend, others, &nothers);
        if (!(s->params = json_loads(src->params_key, 0, NULL)))
            return -ENOMEM;
        h->nseries++;
        if (pbr_history_series((const json_t *const *)in->docs, in->ndocs, src, NULL, &s->pts,
                               &s->n) < 0)
            return -ENOMEM;
    }
    for (size_t k = 0; k < h->nseries; k++)
        history_label(h->series, h->nseries, &h->series[k]);
    qsort(h->series, h->nseries, sizeof *h->series, cmp_series);
    return 0;
}

/* Block 0: one row per run, in time order. 0 or -ENOMEM. */
static int put_runs(hchart *h, const pb__plot_input *in, FILE *f)
{
    h->order = pbr_time_order((const json_t *const *)in->docs, in->ndocs);
    h->run_of = malloc((in->ndocs ? in->ndocs : 1) * sizeof *h->run_of);
    if (!h->order || !h->run_of)
        return -ENOMEM;
    for (size_t r = 0; r < in->ndocs; r++)
        h->run_of[h->order[r]] = r;
    char(*labels)[64] = calloc(in->ndocs ? in->ndocs : 1, sizeof *labels);
    if (!labels)
        return -ENOMEM;
    fputs("run label\n", f);
    for (size_t r = 0; r < in->ndocs; r++) {
        /* "11-21 08:00\nabc1234": date and revision on two lines; a label
         * seen before gets " #2", " #3": no two runs share one. */
        char one[48];
        pbr_run_label(in->docs[h->order[r]], one, sizeof one);
        char *gap = strchr(one, ' ') ? strchr(strchr(one, ' ') + 1, ' ') : NULL;
        if (gap)
            snprintf(labels[r], sizeof labels[r], "%.*s\\n%s", (int)(gap - one), one, gap + 1);
        else
            snprintf(labels[r], sizeof labels[r], "%s", *one ? one : "run");
        int same = 1;
        for (size_t k = 0; k < r; k++)
            same += !strcmp(labels[k], labels[r]);
        fprintf(f, "%zu ", r);
        if (same > 1) {
            char d[80];
            snprintf(d, sizeof d, "%s #%d", labels[r], same);
            pb__plot_put_str(f, d);
        } else {
            pb__plot_put_str(f, labels[r]);
        }
        fputc('\n', f);
    }
    free(labels);
    return 0;
}

/* Appends a word to a space-separated list in buf. */
static void add_word(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_word(char *buf, size_t size, const char *fmt, ...)
{
    size_t off = strlen(buf);
    if (off + 1 >= size)
        return;
    if (off)
        buf[off++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + off, size - off, fmt, ap);
    va_end(ap);
}

/* One block per series of panel p; adds each one's line type to lts.
 * Returns how many series the panel has; counts steps in *nsteps. */
static size_t put_panel(const hchart *h, size_t p, FILE *f, char *lts, size_t ltsize,
                        size_t *nsteps)
{
    size_t in_panel = 0, of_backend = 0;
    for (size_t k = 0; k < h->nseries; k++) {
        const hseries *s = &h->series[k];
        if (s->panel != p)
            continue;
        fputs("\n\n", f);
        pb__plot_put_str(f, s->label);
        fputs(" p50 ci_low ci_high step\n", f);
        for (size_t i = 0; i < s->n; i++) {
            const pbr_history_point *pt = &s->pts[i];
            fprintf(f, "%zu", h->run_of[pt->doc]);
            pb__plot_put_num(f, pt->p50);
            pb__plot_put_num(f, pt->ci_low);
            pb__plot_put_num(f, pt->ci_high);
            fprintf(f, " %d\n", pt->step == 0 ? 0 : pt->worse ? 1 : -1);
            *nsteps += pt->step != 0;
        }
        bool first = in_panel == 0 || strcmp(h->series[k - 1].src->backend, s->src->backend);
        of_backend = first ? 0 : of_backend + 1;
        add_word(lts, ltsize, "%d", pb__plot_series_lt(s->lt, of_backend));
        in_panel++;
    }
    return in_panel;
}

/* Every panel's blocks, and the variables that say how they are laid out. */
static void put_panels(const hchart *h, const pb__plot_input *in, pb__plot_data *out)
{
    size_t nsteps = 0;
    char lts[512] = "", counts[64] = "", titles[512] = "", units[128] = "";
    for (size_t p = 0; p < h->npanels; p++) {
        add_word(counts, sizeof counts, "%zu", put_panel(h, p, out->data, lts, sizeof lts, &nsteps));
        /* Panel titles and units as gnuplot words: double-quoted. */
        add_word(titles, sizeof titles, "\"%s: %s\"", h->panels[p].scenario, h->panels[p].metric);
        add_word(units, sizeof units, "\"%s\"", h->panels[p].unit);
    }
    pb__plot_var_int(out, "nruns", (long long)in->ndocs);
    pb__plot_var_int(out, "npanels", (long long)h->npanels);
    pb__plot_var_str(out, "panel_series", counts);
    pb__plot_var_str(out, "panel_titles", titles);
    pb__plot_var_str(out, "panel_units", units);
    pb__plot_var_str(out, "lts", lts);
    pb__plot_var_int(out, "nsteps", (long long)nsteps);
    char sub[256];
    const char *first = pbr_json_str(json_object_get(in->docs[h->order[0]], "run"), "started", "");
    const char *last =
        pbr_json_str(json_object_get(in->docs[h->order[in->ndocs - 1]], "run"), "started", "");
    snprintf(sub, sizeof sub, "%zu runs, %.10s to %.10s%s", in->ndocs, first, last,
             h->dropped ? " · more matched than one chart can show: narrow --metric" : "");
    put_subtitle_var(out, sub);
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

    hchart h = {0};
    int rc = pbr_history_list((const json_t *const *)in->docs, in->ndocs, &h.all, &h.nall);
    if (rc == 0)
        rc = select_series(&h, in, patterns);
    if (rc == 0 && h.nseries == 0) {
        char pats[256] = "";
        for (const char *const *p = patterns; *p; p++)
            add_word(pats, sizeof pats, "%s%s", *p, p[1] ? "," : "");
        rc = pb__plot_skip(out, "no case in these files has a metric matching %s", pats);
    }
    if (rc == 0) {
        fprintf(out->data, "# poolbench plot: %s — %s\n", chart->name, chart->summary);
        fprintf(out->data,
                "# runs in time order; block 0 names them, then one block per series:\n"
                "# run p50 ci_low ci_high step (the median left the previous run's 95%% CI:\n"
                "# 1 in the metric's bad direction, -1 in its good one)\n");
        rc = put_runs(&h, in, out->data);
    }
    if (rc == 0)
        put_panels(&h, in, out);
    hchart_free(&h);
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
            pbr_printable(in->paths[0]), pbr_printable(in->paths[1]));
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
        const char *headline = pbr_json_str(c, "headline", NULL);
        const char *mname;
        const json_t *m;
        bool first_metric = true;
        json_object_foreach(json_object_get(c, "metrics"), mname, m) {
            bool want = metric_wanted(in, scenario, mname, headline, first_metric);
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

/* ---- hosts -------------------------------------------------------------- */

/* The hosts of docs in order of first appearance, each with its newest run:
 * hosts[k] names the host, runs[k] indexes docs. Returns the count. */
static size_t newest_per_host(const pb__plot_input *in, const char **hosts, size_t *runs,
                              size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < in->ndocs; i++) {
        const char *h = pbr_doc_host(in->docs[i]);
        double t = pbr_json_num(json_object_get(in->docs[i], "run"), "started_unix", 0);
        size_t k = 0;
        while (k < n && strcmp(hosts[k], h))
            k++;
        if (k == n) {
            if (n == max)
                continue;
            hosts[n] = h;
            runs[n++] = i;
        } else if (t >= pbr_json_num(json_object_get(in->docs[runs[k]], "run"), "started_unix",
                                     0)) {
            runs[k] = i;
        }
    }
    return n;
}

/* The backend the hosts chart shows: the one asked for, else the first
 * pool backend of the first run. */
static const char *hosts_backend(const pb__plot_input *in)
{
    if (in->backend)
        return in->backend;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(in->docs[0], "results"), i, c) {
        const char *b = pbr_json_str(c, "backend", "");
        if (strcmp(b, "floor"))
            return b;
    }
    return NULL;
}

/* One backend across hosts: for each case of that backend (its headline
 * metric, or the --metric patterns), one bar per host, the newest run of
 * each, in % of the first host's median with the 95% CI.
 * Data: one table, header "case" then "HOST HOST_lo HOST_hi" per host; a
 * host without the case has NaN there.
 * Vars: nhosts, ncases, backend, subtitle. */
int pb__extract_hosts(const pb__plot_chart *chart, const pb__plot_input *in, pb__plot_data *out)
{
    const char *hosts[PB__PLOT_MAX_SERIES];
    size_t runs[PB__PLOT_MAX_SERIES];
    size_t nh = newest_per_host(in, hosts, runs, PB__PLOT_MAX_SERIES);
    if (nh < 2)
        return pb__plot_skip(out, "the runs given come from %s host (%s): merge the results "
                                  "of two or more (poolbench merge)",
                             nh ? "one" : "no", nh ? hosts[0] : "");
    const char *backend = hosts_backend(in);
    if (!backend)
        return pb__plot_skip(out, "no pool backend in %s", in->paths[runs[0]]);
    const json_t *first = in->docs[runs[0]];
    FILE *f = out->data;
    fprintf(f, "# poolbench plot: %s — %s\n# backend %s; values in %% of host %s's median\n",
            chart->name, chart->summary, backend, hosts[0]);
    fputs("case", f);
    for (size_t h = 0; h < nh; h++) {
        fputc(' ', f);
        pb__plot_put_str(f, hosts[h]);
        fputs(" lo hi", f);
    }
    fputc('\n', f);
    size_t ncases = 0, i;
    const json_t *c;
    json_array_foreach(json_object_get(first, "results"), i, c) {
        if (strcmp(pbr_json_str(c, "backend", ""), backend) ||
            strcmp(pbr_json_str(c, "outcome", ""), "ok"))
            continue;
        const char *scenario = pbr_json_str(c, "scenario", "");
        const char *headline = pbr_json_str(c, "headline", NULL);
        char *key = pbr_params_key(json_object_get(c, "params"));
        if (!key)
            return -ENOMEM;
        const char *mname;
        const json_t *m;
        bool first_metric = true;
        json_object_foreach(json_object_get(c, "metrics"), mname, m) {
            bool want = metric_wanted(in, scenario, mname, headline, first_metric);
            first_metric = false;
            double b50 = pbr_json_num(m, "p50", 0);
            if (!want || !(b50 > 0))
                continue;
            char cl[160], label[200];
            compare_label(first, c, cl, sizeof cl);
            /* The backend is the chart's: the label is the rest. */
            const char *rest = strchr(cl, '/') ? strchr(cl, '/') + 1 : cl;
            snprintf(label, sizeof label, "%s: %s", rest, mname);
            pb__plot_put_str(f, label);
            for (size_t h = 0; h < nh; h++) {
                const json_t *hc = pbr_find_case(in->docs[runs[h]], backend, scenario, key);
                const json_t *hm = json_object_get(json_object_get(hc, "metrics"), mname);
                double k = 100.0 / b50;
                pb__plot_put_num(f, pbr_json_num(hm, "p50", NAN) * k);
                pb__plot_put_num(f, pbr_json_num(hm, "ci_low", NAN) * k);
                pb__plot_put_num(f, pbr_json_num(hm, "ci_high", NAN) * k);
            }
            fputc('\n', f);
            ncases++;
        }
        free(key);
    }
    if (ncases == 0)
        return pb__plot_skip(out, "no ok case of backend '%s' in %s", backend,
                             in->paths[runs[0]]);
    pb__plot_var_int(out, "nhosts", (long long)nh);
    pb__plot_var_int(out, "ncases", (long long)ncases);
    pb__plot_var_str(out, "backend", backend);
    char sub[256] = "";
    snprintf(sub, sizeof sub, "%zu hosts, the newest run of each; %% of %s's median (lower "
                              "is faster for times, slower for rates)",
             nh, hosts[0]);
    put_subtitle_var(out, sub);
    return 0;
}
