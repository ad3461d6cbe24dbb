/*
 * compare.c — `poolbench compare`: a regression verdict a CI job can gate a
 * merge on, from a paired A/B session or from two separate runs.
 *
 * DESIGN
 *
 * Two kinds of comparison, and the report's first line says which:
 *
 *   PAIRED (`compare AB.json`, and `poolbench ab` itself). BASE and NEW were
 *   run in interleaved pairs in one session (ab.c), so what drifted on the
 *   machine hit both members of a pair alike. Each metric's verdict comes
 *   from its pairs: d_i = log(NEW_i / BASE_i) (BASE/NEW for higher-is-better
 *   metrics, so d > 0 is worse), the effect is exp(median d) - 1, its 95%
 *   confidence interval the order-statistic interval of the median ratio,
 *   and the test a two-sided Wilcoxon signed-rank test of the d_i (paired.c).
 *   This is the strong test: it measures the change against the variation
 *   between pairs, which includes the drift between runs. The session
 *   measures its own noise too: the pairs' log ratios spread around their
 *   median, and a median ratio within three of its robust standard errors
 *   (1.2533 * 1.4826 MAD / sqrt(n): pbr_noise_band_pct) is noise, however
 *   one-sided the pairs. Nine pairs all on one side happen by chance alone
 *   (p = 2/512), so what makes them a regression is also a change larger
 *   than the pairs' own scatter.
 *
 *   SEPARATE (`compare BASE.json NEW.json`). Two runs made apart: minutes,
 *   days or machines. A Mann-Whitney U test over each run's per-repetition
 *   values only sees the spread within each run, not the drift between
 *   them (a loaded machine moves the same revision's figures by tens of
 *   percent). So a metric measured against a floor in both runs is judged
 *   by its ratio to that floor — the machine's own hand-off measured in the
 *   same run, which moves with the machine — and the test runs over the
 *   repetitions divided by each run's floor; other metrics are judged by
 *   their values. Both figures are shown. A metric that either run marked
 *   untrusted (FORMAT.md: a spread too wide to compare) is reported but sets
 *   no exit status unless --strict: an untrusted figure never fails a build
 *   on its own.
 *
 * Verdicts, in the order they are decided:
 *   unchanged            the judged change within the threshold: the larger
 *                        of --threshold, given --noise the metric's
 *                        calibrated noise band (ab.c, pbr_noise_band_pct),
 *                        and for a session the pairs' own noise band
 *   too few repetitions  fewer than PBR__MIN_REPS a side (separate) or
 *   / too few pairs      PBR__MIN_PAIRS pairs (paired): said, never guessed
 *   not significant      p >= alpha (default 0.01)
 *   regression           worse by the metric's own direction
 *   improvement          better
 *
 * Which regressions gate. Every metric is judged and shown, but by default
 * only a case's headline metric (the figure its chart draws, which the
 * results file names: `headline`) sets exit status 1; --gate all lets
 * every metric. A suite's session judges thousands of metrics (the ci
 * suite over twelve backends: some 5,000, most of them secondary — the
 * parts of a round trip, user and system CPU, each worker's memory), and
 * with nine pairs no test can hold the chance of a false alarm among so
 * many to alpha: the smallest p nine pairs can give is 2/512, and a
 * Bonferroni bound over 5,000 metrics asks for 2e-6. Measured on the 2-CPU
 * machine poolbench is developed on, five A/A sessions of one build against
 * itself (idle and beside a CPU hog) flagged 3 to 10 metrics each
 * (0.06-0.20%), not one of them a headline regression, and with every
 * metric gating four of the five failed on nothing. The headlines are one
 * family of a few hundred, the figures a reader compares pools by; as in
 * Mozilla's Perfherder (alerting metrics) and Chromium's dashboards
 * (important metrics), the rest inform but do not alert. A case that names no
 * headline (an older results file) has every metric gate.
 *
 * The floor cases are the machine, not the code: their rows are shown (the
 * machine changed when they moved) and never gate. A check that never
 * failed in BASE and fails in NEW gates: a pool that breaks its contract is
 * worse than a slow one. Cases and metrics on one side only, and
 * environments that differ in what makes numbers incomparable, are listed.
 *
 * Hosts. Every run names its host. Two runs of different hosts are two
 * machines, not two commits: compare refuses them unless --across-hosts
 * says that is the question, and then its first line says so. Merged files
 * (matrix.c) are compared host by host.
 *
 * Exit status: 0 no regression that gates, 1 at least one (or a newly
 * failing check), 2 bad usage or input.
 */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "compare-int.h"
#include "results-int.h"
#include "results.h"

#define PBR__MIN_REPS 5
#define PBR__MIN_PAIRS 8

/* ------------------------------------------------------------------------
 * Rows and notes
 * ------------------------------------------------------------------------ */

static bool push_note(note_list *l, char *label, const char *what, const char *a, const char *b)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        note *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            free(label);
            return false;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = (note){label, what, a, b};
    return true;
}

static void free_notes(note_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].label);
    free(l->v);
}

static void report_free(report *r)
{
    for (size_t i = 0; i < r->nrows; i++)
        free(r->rows[i].label);
    free(r->rows);
    free_notes(&r->only_base);
    free_notes(&r->only_new);
    free_notes(&r->failing);
    free_notes(&r->env);
    free_notes(&r->hosts_only);
}

/* The label of a case: "host: backend/scenario params" with several hosts. */
static char *case_label(const report *r, const json_t *c, const char *host)
{
    char *l = pbr_case_label(c);
    if (!l || r->nhosts < 2 || !*host)
        return l;
    size_t len = strlen(host) + strlen(l) + 3;
    char *h = malloc(len);
    if (h)
        snprintf(h, len, "%s: %s", host, l);
    free(l);
    return h;
}

static row *new_row(report *r, const json_t *c, const char *host, const char *mname,
                    const char *unit, const char *better)
{
    if (r->nrows == r->cap_rows) {
        size_t nc = r->cap_rows ? r->cap_rows * 2 : 64;
        row *nv = realloc(r->rows, nc * sizeof *nv);
        if (!nv)
            return NULL;
        r->rows = nv;
        r->cap_rows = nc;
    }
    row *w = &r->rows[r->nrows];
    memset(w, 0, sizeof *w);
    if (!(w->label = case_label(r, c, host)))
        return NULL;
    r->nrows++;
    w->host = host;
    w->backend = pbr_json_str(c, "backend", "");
    w->scenario = pbr_json_str(c, "scenario", "");
    w->params = json_object_get(c, "params");
    w->metric = mname;
    w->unit = unit;
    w->higher = !strcmp(better, "higher");
    w->floor = !strcmp(w->backend, "floor");
    const char *headline = json_string_value(json_object_get(c, "headline"));
    w->headline = !headline || !strcmp(headline, mname);
    w->worse_pct = NAN;
    return w;
}

/* The threshold of a row: --threshold, or its calibrated band if larger. */
static void set_threshold(const report *r, row *w, size_t pairs)
{
    w->threshold = r->threshold;
    if (!r->noise)
        return;
    char *key = pbr_params_key(w->params);
    double sigma = key ? pbr_noise_sigma(r->noise, w->backend, w->scenario, key, w->metric) : -1;
    free(key);
    if (sigma < 0)
        return;
    w->calibrated = true;
    double band = pbr_noise_band_pct(sigma, pairs);
    if (band > w->threshold)
        w->threshold = band;
}

/* The verdict from what the row holds, and the tallies. */
static void decide(report *r, row *w, size_t min_n)
{
    bool beyond = isnan(w->worse_pct) || fabs(w->worse_pct) > w->threshold;
    if (!beyond)
        w->v = V_UNCHANGED;
    else if (w->nb < min_n || w->nn < min_n || !w->has_p)
        w->v = V_TOO_FEW;
    else if (w->p >= r->alpha)
        w->v = V_NOT_SIGNIFICANT;
    else
        w->v = w->worse_pct > 0 ? V_REGRESSION : V_IMPROVEMENT;
    w->gates = !w->floor && (w->trusted || r->strict) && (w->headline || r->gate_all);
    if (w->v == V_REGRESSION && w->gates)
        r->regressions++;
    else if (w->v == V_REGRESSION) {
        r->regressions_ungated++;
        if (!w->floor && !w->headline && !r->gate_all)
            r->ungated_secondary++;
    }
    else if (w->v == V_IMPROVEMENT && !w->floor)
        r->improvements++;
}

/* ------------------------------------------------------------------------
 * Two separate runs
 * ------------------------------------------------------------------------ */

/* The `repetitions` values of a metric, each times scale; *n = 0 when
 * absent. Caller frees. */
static double *reps_of(const json_t *m, double scale, size_t *n)
{
    json_t *a = json_object_get(m, "repetitions");
    *n = json_array_size(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        v[i] = json_number_value(json_array_get(a, i)) * scale;
    return v;
}

/* The value of the floor a metric was held against, from its p50 and
 * ratio_to_floor (FORMAT.md); 0 when it was not. */
static double floor_value(const json_t *m, bool higher)
{
    double ratio = pbr_json_num(m, "ratio_to_floor", 0), p50 = pbr_json_num(m, "p50", 0);
    if (!(ratio > 0) || !(p50 > 0))
        return 0;
    return higher ? p50 * ratio : p50 / ratio;
}

static bool same_floor(const json_t *bm, const json_t *nm)
{
    const json_t *a = json_object_get(bm, "floor"), *b = json_object_get(nm, "floor");
    return a && b && json_equal((json_t *)a, (json_t *)b);
}

static bool add_separate_row(report *r, const json_t *bc, const char *host, const char *mname,
                             const json_t *bm, const json_t *nm)
{
    row *w = new_row(r, bc, host, mname, pbr_json_str(bm, "unit", ""),
                     pbr_json_str(bm, "better", "lower"));
    if (!w)
        return false;
    w->base = pbr_json_num(bm, "p50", 0);
    w->now = pbr_json_num(nm, "p50", 0);
    w->trusted = json_is_true(json_object_get(bm, "trusted")) &&
                 json_is_true(json_object_get(nm, "trusted"));
    if (!w->trusted)
        w->untrusted_why = "spread too wide in a run";
    if (w->base != 0) {
        w->has_change = true;
        w->change_pct = (w->now - w->base) / fabs(w->base) * 100.0;
    } else if (w->now == 0) {
        w->has_change = true; /* 0 -> 0 */
    }

    /* The floor-normalised figure, when both runs held it against one
     * floor: ratio_to_floor is larger-is-worse in both directions. */
    double fb = floor_value(bm, w->higher), fn = floor_value(nm, w->higher);
    if (fb > 0 && fn > 0 && same_floor(bm, nm)) {
        w->has_norm = true;
        w->norm_pct = (pbr_json_num(nm, "ratio_to_floor", 0) /
                           pbr_json_num(bm, "ratio_to_floor", 0) -
                       1.0) *
                      100.0;
        w->judged_norm = true;
        w->worse_pct = w->norm_pct;
    } else if (w->has_change && w->base != 0) {
        w->worse_pct = w->higher ? (w->base / (w->now > 0 ? w->now : NAN) - 1.0) * 100.0
                                 : w->change_pct;
        if (w->higher && !(w->now > 0))
            w->worse_pct = NAN;
    }

    /* The test over the repetitions, divided by each run's floor when the
     * verdict is on the floor-normalised figure. */
    double *xb = reps_of(bm, w->judged_norm ? 1.0 / fb : 1.0, &w->nb);
    double *xn = reps_of(nm, w->judged_norm ? 1.0 / fn : 1.0, &w->nn);
    if (!xb || !xn) {
        free(xb);
        free(xn);
        return false;
    }
    pbr_mwu t;
    int rc = w->nb && w->nn ? pbr_mann_whitney(xb, w->nb, xn, w->nn, &t) : -EINVAL;
    free(xb);
    free(xn);
    if (rc == -ENOMEM)
        return false;
    if (rc == 0) {
        w->has_p = true;
        w->p = t.p;
        w->stat = t.u;
        w->exact = t.exact;
    }
    set_threshold(r, w, 0);
    decide(r, w, PBR__MIN_REPS);
    return true;
}

static const json_t *find_check(const json_t *c, const char *name)
{
    size_t i;
    json_t *ck;
    json_array_foreach(json_object_get(c, "checks"), i, ck)
    {
        if (!strcmp(pbr_json_str(ck, "name", ""), name))
            return ck;
    }
    return NULL;
}

static bool compare_case(report *r, const json_t *bc, const json_t *nc, const char *host)
{
    size_t rows_before = r->nrows;
    const char *mname;
    json_t *bm;
    json_object_foreach(json_object_get(bc, "metrics"), mname, bm)
    {
        if (fnmatch(r->metric_glob, mname, 0))
            continue;
        json_t *nm = json_object_get(json_object_get(nc, "metrics"), mname);
        if (nm) {
            if (!add_separate_row(r, bc, host, mname, bm, nm))
                return false;
        } else if (!push_note(&r->only_base, case_label(r, bc, host), mname, NULL, NULL)) {
            return false;
        }
    }
    json_t *nm;
    json_object_foreach(json_object_get(nc, "metrics"), mname, nm)
    {
        if (fnmatch(r->metric_glob, mname, 0) ||
            json_object_get(json_object_get(bc, "metrics"), mname))
            continue;
        if (!push_note(&r->only_new, case_label(r, nc, host), mname, NULL, NULL))
            return false;
    }
    if (r->nrows > rows_before)
        r->compared_cases++;

    /* Checks that started failing: failing now, and passing or absent before. */
    size_t i;
    json_t *ck;
    bool any = false;
    json_array_foreach(json_object_get(nc, "checks"), i, ck)
    {
        if (json_is_true(json_object_get(ck, "passed")))
            continue;
        const json_t *old = find_check(bc, pbr_json_str(ck, "name", ""));
        if (old && !json_is_true(json_object_get(old, "passed")))
            continue;
        any = true;
        if (!push_note(&r->failing, case_label(r, nc, host), pbr_json_str(ck, "name", ""),
                       pbr_json_str(ck, "reason", ""), NULL))
            return false;
    }
    /* A case that now fails without a failing check (the run errored). */
    if (!any && !strcmp(pbr_json_str(nc, "outcome", ""), "failed") &&
        strcmp(pbr_json_str(bc, "outcome", ""), "failed")) {
        if (!push_note(&r->failing, case_label(r, nc, host), "outcome",
                       pbr_json_str(nc, "reason", ""), NULL))
            return false;
    }
    return true;
}

/* An environment field as text ("" when absent); buf holds numbers. */
static const char *env_text(const json_t *env, const char *field, char *buf, size_t len)
{
    const json_t *v;
    if (!strcmp(field, "topology.pus"))
        v = json_object_get(json_object_get(env, "topology"), "pus");
    else
        v = json_object_get(env, field);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return "";
}

/* Fields whose difference makes numbers incomparable, noted once. */
static bool compare_env(report *r, const json_t *benv, const json_t *nenv)
{
    static const char *const fields[] = {"cpu_model", "kernel",   "build_type",
                                         "compiler",  "arch",     "topology.pus"};
    static char bufs[2][sizeof fields / sizeof fields[0]][32];
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *a = env_text(benv, fields[i], bufs[0][i], sizeof bufs[0][i]);
        const char *b = env_text(nenv, fields[i], bufs[1][i], sizeof bufs[1][i]);
        bool seen = false;
        for (size_t k = 0; k < r->env.n && !seen; k++)
            seen = !strcmp(r->env.v[k].what, fields[i]);
        if (!seen && strcmp(a, b) && !push_note(&r->env, NULL, fields[i], a, b))
            return false;
    }
    return true;
}

/* Compares one run of BASE with one run of NEW (of host `host`, or two
 * machines). false on ENOMEM. */
static bool compare_runs(report *r, const json_t *base, const json_t *now, const char *host)
{
    const json_t *bres = json_object_get(base, "results");
    const json_t *nres = json_object_get(now, "results");
    size_t nb = json_array_size(bres), nn = json_array_size(nres);
    char **bk = calloc(nb + 1, sizeof *bk), **nk = calloc(nn + 1, sizeof *nk);
    bool *nmatched = calloc(nn + 1, sizeof *nmatched);
    bool ok = bk && nk && nmatched;
    for (size_t i = 0; ok && i < nb; i++)
        ok = (bk[i] = pbr_params_key(json_object_get(json_array_get(bres, i), "params")));
    for (size_t i = 0; ok && i < nn; i++)
        ok = (nk[i] = pbr_params_key(json_object_get(json_array_get(nres, i), "params")));
    for (size_t i = 0; ok && i < nb; i++) {
        const json_t *bc = json_array_get(bres, i);
        const json_t *nc = NULL;
        for (size_t j = 0; j < nn && !nc; j++) {
            const json_t *c = json_array_get(nres, j);
            if (!nmatched[j] && !strcmp(bk[i], nk[j]) &&
                !strcmp(pbr_json_str(bc, "backend", ""), pbr_json_str(c, "backend", "")) &&
                !strcmp(pbr_json_str(bc, "scenario", ""), pbr_json_str(c, "scenario", ""))) {
                nc = c;
                nmatched[j] = true;
            }
        }
        if (!nc) {
            ok = push_note(&r->only_base, case_label(r, bc, host), NULL, NULL, NULL);
            continue;
        }
        r->common_cases++;
        ok = compare_case(r, bc, nc, host);
    }
    for (size_t j = 0; ok && j < nn; j++)
        if (!nmatched[j])
            ok = push_note(&r->only_new, case_label(r, json_array_get(nres, j), host), NULL,
                           NULL, NULL);
    if (ok)
        ok = compare_env(r, json_object_get(base, "environment"),
                         json_object_get(now, "environment"));
    for (size_t i = 0; bk && i < nb; i++)
        free(bk[i]);
    for (size_t i = 0; nk && i < nn; i++)
        free(nk[i]);
    free(bk);
    free(nk);
    free(nmatched);
    return ok;
}

/* ------------------------------------------------------------------------
 * A paired session
 * ------------------------------------------------------------------------ */

/* Whether values holds a number (a side that measured the metric at all). */
static bool any_number(const json_t *values)
{
    size_t i;
    const json_t *x;
    json_array_foreach(values, i, x)
    {
        if (json_is_number(x))
            return true;
    }
    return false;
}

static bool add_paired_row(report *r, const json_t *e, const char *mname, const json_t *m)
{
    /* A metric one side never measured (the case exists in one build only,
     * say a scenario that gained a parameter) is not a row of zeros: it is
     * listed as only in that side, as two separate runs' are. */
    bool in_base = any_number(json_object_get(m, "base"));
    bool in_new = any_number(json_object_get(m, "new"));
    if (!in_base || !in_new)
        return in_base == in_new ||
               push_note(in_base ? &r->only_base : &r->only_new, pbr_case_label(e), mname, NULL,
                         NULL);
    row *w = new_row(r, e, "", mname, pbr_json_str(m, "unit", ""),
                     pbr_json_str(m, "better", "lower"));
    if (!w)
        return false;
    const json_t *b = json_object_get(m, "base"), *n = json_object_get(m, "new");
    size_t np = json_array_size(b) < json_array_size(n) ? json_array_size(b) : json_array_size(n);
    double *xb = malloc((np ? np : 1) * sizeof *xb), *xn = malloc((np ? np : 1) * sizeof *xn);
    double *d = malloc((np ? np : 1) * sizeof *d), *ratio = malloc((np ? np : 1) * sizeof *ratio);
    if (!xb || !xn || !d || !ratio) {
        free(xb), free(xn), free(d), free(ratio);
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < np; i++) {
        const json_t *x = json_array_get(b, i), *y = json_array_get(n, i);
        if (!json_is_number(x) || !json_is_number(y) || !(json_number_value(x) > 0) ||
            !(json_number_value(y) > 0))
            continue;
        xb[k] = json_number_value(x);
        xn[k] = json_number_value(y);
        ratio[k] = xn[k] / xb[k];
        d[k] = w->higher ? -log(ratio[k]) : log(ratio[k]);
        k++;
    }
    w->nb = w->nn = k;
    w->trusted = k >= PBR__MIN_PAIRS;
    if (!w->trusted)
        w->untrusted_why = "too few pairs";
    bool ok = true;
    if (k > 0) {
        pbr_wilcoxon_result t;
        int rc = pbr_wilcoxon(d, k, &t);
        if (rc == -ENOMEM)
            ok = false;
        else if (rc == 0) {
            w->has_p = true;
            w->p = t.p;
            w->stat = t.w;
            w->exact = t.exact;
        }
        pbr_summary s;
        if (ok && pbr_summarize(ratio, k, &s) == 0) {
            w->has_change = true;
            w->change_pct = (s.p50 - 1.0) * 100.0;
            w->has_ci = true;
            w->ci_low_pct = (s.ci_low - 1.0) * 100.0;
            w->ci_high_pct = (s.ci_high - 1.0) * 100.0;
        } else {
            ok = false;
        }
        w->worse_pct = (exp(pbr__median(d, k)) - 1.0) * 100.0;
        w->base = pbr__median(xb, k);
        w->now = pbr__median(xn, k);
        /* The pairs' own noise: how far their median ratio moves when only
         * noise separates the pairs (d is sorted by now). */
        w->session_band = pbr_noise_band_pct(pbr__robust_sd(d, k), k);
    }
    free(xb), free(xn), free(d), free(ratio);
    if (!ok)
        return false;
    set_threshold(r, w, k);
    if (w->session_band > w->threshold)
        w->threshold = w->session_band;
    decide(r, w, PBR__MIN_PAIRS);
    return true;
}

static bool compare_session(report *r)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r->ab, "results"), i, e)
    {
        size_t before = r->nrows;
        const char *mname;
        json_t *m;
        json_object_foreach(json_object_get(e, "metrics"), mname, m)
        {
            if (fnmatch(r->metric_glob, mname, 0))
                continue;
            if (!add_paired_row(r, e, mname, m))
                return false;
        }
        if (r->nrows > before) {
            r->compared_cases++;
            r->common_cases++;
        }
        /* Checks that failed in NEW and never in BASE. */
        size_t k;
        json_t *ck;
        json_array_foreach(json_object_get(e, "checks"), k, ck)
        {
            if (pbr_json_num(ck, "new_failed", 0) > 0 && pbr_json_num(ck, "base_failed", 0) == 0 &&
                !push_note(&r->failing, pbr_case_label(e), pbr_json_str(ck, "name", ""),
                           pbr_json_str(ck, "new_reason", ""), NULL))
                return false;
        }
    }
    return compare_env(r, json_object_get(json_object_get(r->ab, "base"), "environment"),
                       json_object_get(json_object_get(r->ab, "new"), "environment"));
}

/* ------------------------------------------------------------------------
 * Reading the sides
 * ------------------------------------------------------------------------ */

/* The runs of one side: a results file is one, a merged file several. */
typedef struct side {
    json_t *doc;
    pbr_file_kind kind;
    const json_t **runs;
    size_t nruns;
} side;

static void side_free(side *s)
{
    free(s->runs);
    json_decref(s->doc);
}

/* Reads a side; with host non-NULL keeps only that host's run. 0, or 2
 * (told). */
static int read_side(const char *path, const char *host, const char *opt, side *s)
{
    char err[1024];
    s->doc = pbr_read_any(path, &s->kind, err, sizeof err);
    if (!s->doc) {
        fprintf(stderr, "poolbench compare: %s\n", err);
        return 2;
    }
    if (s->kind == PBR_FILE_AB || s->kind == PBR_FILE_NOISE) {
        fprintf(stderr,
                "poolbench compare: %s: %s, not a results file (an A/B session is compared "
                "alone: poolbench compare %s)\n",
                path, pbr__schema_what(pbr_json_str(s->doc, "schema", "")),
                s->kind == PBR_FILE_AB ? path : "AB.json");
        return 2;
    }
    const json_t *runs = s->kind == PBR_FILE_MATRIX ? json_object_get(s->doc, "runs") : NULL;
    size_t n = runs ? json_array_size(runs) : 1;
    s->runs = malloc(n * sizeof *s->runs);
    if (!s->runs) {
        fprintf(stderr, "poolbench compare: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *d = runs ? json_array_get(runs, i) : s->doc;
        if (!host || !strcmp(pbr_doc_host(d), host))
            s->runs[s->nruns++] = d;
    }
    if (s->nruns == 0) {
        fprintf(stderr, "poolbench compare: %s: no run of host '%s' (%s)\n", path, host, opt);
        return 2;
    }
    return 0;
}

/* Pairs BASE's runs with NEW's: by host, or the two machines asked for.
 * 0, or 2 (told). */
static int compare_sides(report *r, const side *b, const side *n)
{
    if (r->across_hosts) {
        if (b->nruns != 1 || n->nruns != 1) {
            fprintf(stderr,
                    "poolbench compare: --across-hosts compares one run with one run; %s holds "
                    "%zu (pick one with --%s-host NAME)\n",
                    b->nruns != 1 ? r->base_path : r->new_path,
                    b->nruns != 1 ? b->nruns : n->nruns, b->nruns != 1 ? "base" : "new");
            return 2;
        }
        r->base_host = pbr_doc_host(b->runs[0]);
        r->new_host = pbr_doc_host(n->runs[0]);
        r->base_doc = b->runs[0];
        r->new_doc = n->runs[0];
        r->nhosts = 1;
        return compare_runs(r, b->runs[0], n->runs[0], "") ? 0 : -1;
    }
    /* One run a side of two different hosts: say what that would be. */
    if (b->nruns == 1 && n->nruns == 1 &&
        strcmp(pbr_doc_host(b->runs[0]), pbr_doc_host(n->runs[0]))) {
        fprintf(stderr,
                "poolbench compare: %s was measured on host '%s', %s on host '%s': that "
                "compares two machines, not two commits (give --across-hosts if that is the "
                "question)\n",
                r->base_path, pbr_doc_host(b->runs[0]), r->new_path, pbr_doc_host(n->runs[0]));
        return 2;
    }
    for (size_t i = 0; i < b->nruns; i++) {
        const char *h = pbr_doc_host(b->runs[i]);
        bool found = false;
        for (size_t j = 0; j < n->nruns && !found; j++)
            found = !strcmp(pbr_doc_host(n->runs[j]), h);
        r->nhosts += found;
    }
    for (size_t i = 0; i < b->nruns; i++) {
        const char *h = pbr_doc_host(b->runs[i]);
        const json_t *match = NULL;
        for (size_t j = 0; j < n->nruns && !match; j++)
            if (!strcmp(pbr_doc_host(n->runs[j]), h))
                match = n->runs[j];
        if (!match) {
            if (!push_note(&r->hosts_only, NULL, h, "base", NULL))
                return -1;
            continue;
        }
        if (!r->base_doc) {
            r->base_doc = b->runs[i];
            r->new_doc = match;
        }
        if (!compare_runs(r, b->runs[i], match, h))
            return -1;
    }
    for (size_t j = 0; j < n->nruns; j++) {
        const char *h = pbr_doc_host(n->runs[j]);
        bool found = false;
        for (size_t i = 0; i < b->nruns && !found; i++)
            found = !strcmp(pbr_doc_host(b->runs[i]), h);
        if (!found && !push_note(&r->hosts_only, NULL, h, "new", NULL))
            return -1;
    }
    if (r->nhosts == 0) {
        fprintf(stderr, "poolbench compare: %s and %s have no host in common (give "
                        "--across-hosts to compare two machines)\n",
                r->base_path, r->new_path);
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

typedef struct compare_opts {
    double threshold, alpha;
    const char *metric, *format, *noise, *base_host, *new_host, *gate;
    bool strict, across_hosts;
} compare_opts;

/* --threshold not given: PBR_THRESHOLD_PAIRED for a session, 5% for two
 * separate runs (whose drift a floor ratio only partly removes). */
static const compare_opts compare_defaults = {
    .threshold = -1, .alpha = 0.01, .metric = "*", .format = "text", .gate = "headline"};

static const pbr_option compare_options[] = {
    {.name = "threshold", PBR_REAL(compare_opts, threshold, 0, INFINITY), .arg = "PCT",
     .expect = "a percentage",
     .help = "smallest change that matters, in % (default: 2 for an A/B\n"
             "session, 5 for two runs); with --noise, a metric's calibrated\n"
             "band when that is larger"},
    {.name = "alpha", PBR_REAL(compare_opts, alpha, 0, 1), .above = true, .arg = "A",
     .help = "significance level (default 0.01)"},
    {.name = "noise", PBR_STRING(compare_opts, noise), .arg = "FILE", .expect = "a file name",
     .help = "noise bands from poolbench calibrate: each metric's threshold"},
    {.name = "strict", PBR_FLAG(compare_opts, strict),
     .help = "let untrusted metrics of separate runs set exit status 1 too"},
    {.name = "gate", PBR_CHOICE(compare_opts, gate, "headline", "all"), .arg = "WHICH",
     .help = "whose regressions set exit status 1: each case's headline\n"
             "metric (default), or all metrics"},
    {.name = "across-hosts", PBR_FLAG(compare_opts, across_hosts),
     .help = "compare runs of two different hosts: machines, not commits"},
    {.name = "base-host", PBR_STRING(compare_opts, base_host), .arg = "NAME",
     .expect = "a host name", .help = "of a merged BASE file, only this host's run"},
    {.name = "new-host", PBR_STRING(compare_opts, new_host), .arg = "NAME",
     .expect = "a host name", .help = "of a merged NEW file, only this host's run"},
    {.name = "metric", PBR_STRING(compare_opts, metric), .arg = "GLOB",
     .help = "compare only metrics whose name matches (default: all)"},
    {.name = "format", .key = 'f', PBR_CHOICE(compare_opts, format, "text", "markdown", "json"),
     .arg = "FMT", .help = "text (default), markdown (for a pull-request comment) or json"},
    {0},
};

#define PBR__STR(x) #x
#define PBR__XSTR(x) PBR__STR(x)

static int run_compare(const pbr_args *a);

const pbr_command pbr_compare_command = {
    .name = "compare",
    .summary = "compare an A/B session, or two results files; exit 1 on a regression",
    .synopsis = "AB.json | BASE.json NEW.json [OPTIONS]",
    .about =
        "Given an A/B session (poolbench ab), judges each metric by its interleaved\n"
        "pairs: the median ratio NEW/BASE, its 95% confidence interval, and a\n"
        "Wilcoxon signed-rank test of the pairs' log ratios (at least "
        PBR__XSTR(PBR__MIN_PAIRS) " pairs).\n"
        "Given two results files (two separate runs), matches cases by backend,\n"
        "scenario and parameters and judges each metric by its ratio to the same\n"
        "run's floor where both runs measured one (else by its values), with a\n"
        "two-sided Mann-Whitney U test over the repetitions (at least "
        PBR__XSTR(PBR__MIN_REPS) " a side);\n"
        "a metric either run marked untrusted is shown but sets no exit status\n"
        "unless --strict. A regression is a change in the metric's bad direction\n"
        "beyond the threshold AND significant at alpha; every metric is judged,\n"
        "but only each case's headline metric gates (--gate all: every metric);\n"
        "checks that passed in BASE and fail in NEW count too. The floor's own\n"
        "cases never gate. Runs of\n"
        "different hosts are compared only with --across-hosts; merged files\n"
        "(poolbench merge) are compared host by host.",
    .epilogue = "exit status: 0 no regression, 1 a regression or a newly failing check,\n"
                "2 bad usage, an unreadable or foreign file, or nothing in common",
    .options = compare_options,
    .opts_size = sizeof(compare_opts),
    .defaults = &compare_defaults,
    .operands = "an A/B session (AB.json), or two results files (BASE.json NEW.json)",
    .min_operands = 1,
    .max_operands = 2,
    .run = run_compare,
};


/* Reads path, which must be a file of kind `want`; else tells, after
 * prefix, what it is not (`instead`). 0, or 2. */
static int read_kind(const char *path, pbr_file_kind want, const char *prefix,
                     const char *instead, json_t **doc)
{
    char err[1024];
    pbr_file_kind kind;
    *doc = pbr_read_any(path, &kind, err, sizeof err);
    if (!*doc) {
        fprintf(stderr, "%s%s\n", prefix, err);
        return 2;
    }
    if (kind != want) {
        fprintf(stderr, "%s%s: %s\n", prefix, path, instead);
        json_decref(*doc);
        *doc = NULL;
        return 2;
    }
    return 0;
}

int pbr_read_noise(const char *path, json_t **noise)
{
    return read_kind(path, PBR_FILE_NOISE, "poolbench: --noise ",
                     "not a noise calibration (poolbench calibrate writes one)", noise);
}

/* Builds the report of r's operands. Returns 0, or 2 (told). */
static int build(report *r, const compare_opts *o, const pbr_args *a, side *b, side *n,
                 json_t **ab)
{
    if (a->nargs == 1) {
        if (read_kind(a->args[0], PBR_FILE_AB, "poolbench compare: ",
                      "one file is compared only when it is an A/B session (poolbench ab); "
                      "two results files are BASE.json NEW.json",
                      ab))
            return 2;
        if (o->across_hosts || o->base_host || o->new_host) {
            fprintf(stderr, "poolbench compare: %s: an A/B session ran on one host; "
                            "--across-hosts, --base-host and --new-host do not apply\n",
                    a->args[0]);
            return 2;
        }
        r->kind = K_PAIRED;
        r->ab = *ab;
        r->base_path = r->new_path = a->args[0];
        r->nhosts = 1;
        if (!compare_session(r))
            return -1;
    } else {
        if (read_side(a->args[0], o->base_host, "--base-host", b) ||
            read_side(a->args[1], o->new_host, "--new-host", n))
            return 2;
        r->kind = K_SEPARATE;
        int rc = compare_sides(r, b, n);
        if (rc)
            return rc;
    }
    if (r->common_cases == 0) {
        fprintf(stderr,
                "poolbench compare: %s%s%s have no case in common (same backend, scenario and "
                "parameters): nothing to compare\n",
                r->base_path, r->kind == K_PAIRED ? "'s sides" : " and ",
                r->kind == K_PAIRED ? "" : r->new_path);
        return 2;
    }
    if (r->nrows == 0 && r->failing.n == 0) {
        fprintf(stderr,
                "poolbench compare: no metric of the %zu case%s in common matches --metric "
                "'%s'\n",
                r->common_cases, r->common_cases == 1 ? "" : "s", r->metric_glob);
        return 2;
    }
    return 0;
}

/* Prints r in format; returns the exit status. */
static int print_report(report *r, const char *format, FILE *out)
{
    int status = 0;
    if (!strcmp(format, "text"))
        pbr__compare_text(out, r);
    else if (!strcmp(format, "markdown"))
        pbr__compare_markdown(out, r);
    else if (pbr__compare_json(out, r) < 0) {
        fprintf(stderr, "poolbench compare: cannot write the JSON report\n");
        status = 2;
    }
    if (status == 0 && fflush(out) != 0) {
        fprintf(stderr, "poolbench compare: cannot write the report\n");
        status = 2;
    }
    if (status == 0)
        status = r->regressions || r->failing.n ? 1 : 0;
    return status;
}

int pbr_compare_session(const json_t *ab, const char *name, const pbr_verdict_opts *o, FILE *out)
{
    report r = {.kind = K_PAIRED, .ab = ab, .base_path = name, .new_path = name, .nhosts = 1,
                .metric_glob = o->metric ? o->metric : "*",
                .threshold = o->threshold >= 0 ? o->threshold : PBR_THRESHOLD_PAIRED,
                .alpha = o->alpha, .noise = o->noise, .noise_path = o->noise_path,
                .gate_all = o->gate_all};
    int status;
    if (!compare_session(&r)) {
        fprintf(stderr, "poolbench: out of memory\n");
        status = 2;
    } else if (r.nrows == 0 && r.failing.n == 0) {
        fprintf(stderr, "poolbench: %s: no metric to compare (no pair finished, or nothing "
                        "matches --metric)\n",
                name);
        status = 2;
    } else {
        status = print_report(&r, o->format ? o->format : "text", out);
    }
    report_free(&r);
    return status;
}

static int run_compare(const pbr_args *a)
{
    const compare_opts *o = a->opts;
    report r = {.metric_glob = o->metric, .threshold = o->threshold, .alpha = o->alpha,
                .strict = o->strict, .across_hosts = o->across_hosts,
                .gate_all = !strcmp(o->gate, "all")};
    if (a->nargs == 2) {
        r.base_path = a->args[0];
        r.new_path = a->args[1];
    }
    if (r.threshold < 0)
        r.threshold = a->nargs == 1 ? PBR_THRESHOLD_PAIRED : PBR_THRESHOLD_SEPARATE;
    side b = {0}, n = {0};
    json_t *ab = NULL, *noise = NULL;
    int status = 0;
    if (o->noise) {
        status = pbr_read_noise(o->noise, &noise);
        r.noise = noise;
        r.noise_path = o->noise;
    }
    if (status == 0)
        status = build(&r, o, a, &b, &n, &ab);
    if (status < 0) {
        fprintf(stderr, "poolbench compare: out of memory\n");
        status = 2;
    }
    if (status == 0)
        status = print_report(&r, o->format, stdout);
    report_free(&r);
    side_free(&b);
    side_free(&n);
    json_decref(ab);
    json_decref(noise);
    return status;
}
