/*
 * compare.c — `poolbench compare BASE.json NEW.json`: a regression verdict a
 * CI job can gate a merge on.
 *
 * DESIGN
 *
 * Cases are matched on backend, scenario and parameters (pbr_params_key: the
 * params as canonical JSON), then metrics by name. For each metric the report
 * gives both medians (p50 over all samples), the change in %, and the p-value
 * of a two-sided Mann–Whitney U test over the per-repetition values (the
 * `repetitions` arrays), which is what makes a verdict robust on a noisy
 * runner: one slow repetition cannot make a regression.
 *
 * Verdicts, in the order they are decided:
 *   unchanged            |change| <= threshold (default 5%)
 *   too few repetitions  fewer than PBR__MIN_REPS on a side: said plainly,
 *                        never guessed (with 5 a side, complete separation
 *                        gives p = 2/252 = 0.008, just under alpha = 0.01;
 *                        with 4 it cannot go below 0.029)
 *   not significant      p >= alpha (default 0.01)
 *   regression           worse by the metric's own direction
 *   improvement          better
 * A metric whose `trusted` flag is false on either side is marked
 * "untrusted" next to its verdict: the verdict stands, the reader is warned.
 *
 * Also reported: cases or metrics present on one side only; checks that
 * passed (or did not exist) in BASE and fail in NEW — these count as
 * regressions, a pool that breaks its contract is worse than a slow one; the
 * geometric mean of new/base per backend (for "higher is better" metrics
 * base/new, so above 1 is always worse); and a warning when the environments
 * differ in what makes numbers incomparable (CPU model, kernel, build type,
 * compiler, architecture, PU count).
 *
 * Exit status: 0 no regression, 1 at least one regression (or newly failing
 * check), 2 bad usage or input: an unreadable, truncated or foreign file,
 * another schema version, or two files with no case in common.
 */
#include <errno.h>
#include <stddef.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "results-int.h"
#include "results.h"

#define PBR__MIN_REPS 5

typedef enum {
    V_UNCHANGED,
    V_TOO_FEW,
    V_NOT_SIGNIFICANT,
    V_REGRESSION,
    V_IMPROVEMENT,
} verdict;

static const char *const verdict_names[] = {"unchanged", "too few repetitions",
                                            "not significant", "regression", "improvement"};
static const char *const verdict_keys[] = {"unchanged", "too_few_repetitions",
                                           "not_significant", "regression", "improvement"};

typedef struct row {
    const json_t *bcase, *ncase; /* borrowed from the documents */
    char *label;
    const char *backend, *metric, *unit;
    bool higher;
    double base, now;
    bool has_change;
    double change_pct;
    bool has_p, exact;
    double p, u;
    size_t nb, nn;
    bool trusted; /* both sides */
    verdict v;
} row;

typedef struct note {
    char *label;
    const char *what; /* metric, check name or env field (borrowed) */
    const char *a, *b; /* reason, or base/new values (borrowed) */
} note;

typedef struct report {
    const char *base_path, *new_path;
    const json_t *base, *now;
    double threshold, alpha;
    const char *metric_glob;
    row *rows;
    size_t nrows, cap_rows;
    note *only_base, *only_new, *failing, *env;
    size_t nonly_base, nonly_new, nfailing, nenv;
    size_t cap_ob, cap_on, cap_f, cap_e;
    size_t common_cases, compared_cases, regressions;
} report;

static bool push_note(note **v, size_t *n, size_t *cap, char *label, const char *what,
                      const char *a, const char *b)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        note *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(label);
            return false;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = (note){label, what, a, b};
    return true;
}

static void free_notes(note *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].label);
    free(v);
}

static void report_free(report *r)
{
    for (size_t i = 0; i < r->nrows; i++)
        free(r->rows[i].label);
    free(r->rows);
    free_notes(r->only_base, r->nonly_base);
    free_notes(r->only_new, r->nonly_new);
    free_notes(r->failing, r->nfailing);
    free_notes(r->env, r->nenv);
}

/* The `repetitions` values of a metric; *n = 0 when absent. Caller frees. */
static double *reps_of(const json_t *m, size_t *n)
{
    json_t *a = json_object_get(m, "repetitions");
    *n = json_array_size(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}

static bool add_row(report *r, const json_t *bc, const json_t *nc, const char *mname,
                    const json_t *bm, const json_t *nm)
{
    if (r->nrows == r->cap_rows) {
        size_t c = r->cap_rows ? r->cap_rows * 2 : 32;
        row *nv = realloc(r->rows, c * sizeof *nv);
        if (!nv)
            return false;
        r->rows = nv;
        r->cap_rows = c;
    }
    row *w = &r->rows[r->nrows];
    memset(w, 0, sizeof *w);
    w->bcase = bc;
    w->ncase = nc;
    w->label = pbr_case_label(bc);
    if (!w->label)
        return false;
    r->nrows++;
    w->backend = pbr_json_str(bc, "backend", "");
    w->metric = mname;
    w->unit = pbr_json_str(bm, "unit", "");
    w->higher = !strcmp(pbr_json_str(bm, "better", "lower"), "higher");
    w->base = pbr_json_num(bm, "p50", 0);
    w->now = pbr_json_num(nm, "p50", 0);
    w->trusted = json_is_true(json_object_get(bm, "trusted")) &&
                 json_is_true(json_object_get(nm, "trusted"));
    if (w->base != 0) {
        w->has_change = true;
        w->change_pct = (w->now - w->base) / fabs(w->base) * 100.0;
    } else if (w->now == 0) {
        w->has_change = true; /* 0 -> 0 */
    }

    double *xb = reps_of(bm, &w->nb), *xn = reps_of(nm, &w->nn);
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
        w->u = t.u;
        w->exact = t.exact;
    }

    bool beyond = !w->has_change || fabs(w->change_pct) > r->threshold;
    bool worse = w->higher ? w->now < w->base : w->now > w->base;
    if (!beyond)
        w->v = V_UNCHANGED;
    else if (w->nb < PBR__MIN_REPS || w->nn < PBR__MIN_REPS || !w->has_p)
        w->v = V_TOO_FEW;
    else if (w->p >= r->alpha)
        w->v = V_NOT_SIGNIFICANT;
    else
        w->v = worse ? V_REGRESSION : V_IMPROVEMENT;
    if (w->v == V_REGRESSION)
        r->regressions++;
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

static bool compare_case(report *r, const json_t *bc, const json_t *nc)
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
            if (!add_row(r, bc, nc, mname, bm, nm))
                return false;
        } else if (!push_note(&r->only_base, &r->nonly_base, &r->cap_ob, pbr_case_label(bc),
                              mname, NULL, NULL)) {
            return false;
        }
    }
    json_t *nm;
    json_object_foreach(json_object_get(nc, "metrics"), mname, nm)
    {
        if (fnmatch(r->metric_glob, mname, 0) ||
            json_object_get(json_object_get(bc, "metrics"), mname))
            continue;
        if (!push_note(&r->only_new, &r->nonly_new, &r->cap_on, pbr_case_label(nc), mname, NULL,
                       NULL))
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
        if (!push_note(&r->failing, &r->nfailing, &r->cap_f, pbr_case_label(nc),
                       pbr_json_str(ck, "name", ""), pbr_json_str(ck, "reason", ""), NULL))
            return false;
    }
    /* A case that now fails without a failing check (the run errored). */
    if (!any && !strcmp(pbr_json_str(nc, "outcome", ""), "failed") &&
        strcmp(pbr_json_str(bc, "outcome", ""), "failed")) {
        if (!push_note(&r->failing, &r->nfailing, &r->cap_f, pbr_case_label(nc), "outcome",
                       pbr_json_str(nc, "reason", ""), NULL))
            return false;
    }
    return true;
}

/* An environment field as text ("" when absent). */
static const char *env_text(const json_t *doc, const char *field, char *buf, size_t len)
{
    const json_t *env = json_object_get(doc, "environment");
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

static bool compare_env(report *r)
{
    static const char *const fields[] = {"cpu_model", "kernel",   "build_type",
                                         "compiler",  "arch",     "topology.pus"};
    static char bufs[2][sizeof fields / sizeof fields[0]][32];
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *a = env_text(r->base, fields[i], bufs[0][i], sizeof bufs[0][i]);
        const char *b = env_text(r->now, fields[i], bufs[1][i], sizeof bufs[1][i]);
        if (strcmp(a, b) && !push_note(&r->env, &r->nenv, &r->cap_e, NULL, fields[i], a, b))
            return false;
    }
    return true;
}

/* Returns 0, or 2 with a message printed (no common case, nothing matched). */
static int build_report(report *r)
{
    const json_t *bres = json_object_get(r->base, "results");
    const json_t *nres = json_object_get(r->now, "results");
    size_t nb = json_array_size(bres), nn = json_array_size(nres);
    char **bk = calloc(nb + 1, sizeof *bk), **nk = calloc(nn + 1, sizeof *nk);
    bool *nmatched = calloc(nn + 1, sizeof *nmatched);
    int status = 2;
    if (!bk || !nk || !nmatched)
        goto nomem;
    for (size_t i = 0; i < nb; i++)
        if (!(bk[i] = pbr_params_key(json_object_get(json_array_get(bres, i), "params"))))
            goto nomem;
    for (size_t i = 0; i < nn; i++)
        if (!(nk[i] = pbr_params_key(json_object_get(json_array_get(nres, i), "params"))))
            goto nomem;

    for (size_t i = 0; i < nb; i++) {
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
            if (!push_note(&r->only_base, &r->nonly_base, &r->cap_ob, pbr_case_label(bc), NULL,
                           NULL, NULL))
                goto nomem;
            continue;
        }
        r->common_cases++;
        if (!compare_case(r, bc, nc))
            goto nomem;
    }
    for (size_t j = 0; j < nn; j++)
        if (!nmatched[j] && !push_note(&r->only_new, &r->nonly_new, &r->cap_on,
                                       pbr_case_label(json_array_get(nres, j)), NULL, NULL,
                                       NULL))
            goto nomem;
    if (!compare_env(r))
        goto nomem;

    if (r->common_cases == 0)
        fprintf(stderr,
                "poolbench compare: %s and %s have no case in common (same backend, scenario "
                "and parameters): nothing to compare\n",
                pbr_printable(r->base_path), pbr_printable(r->new_path));
    else if (r->nrows == 0 && r->nfailing == 0)
        fprintf(stderr,
                "poolbench compare: no metric of the %zu case%s in common matches --metric "
                "'%s'\n",
                r->common_cases, r->common_cases == 1 ? "" : "s", r->metric_glob);
    else
        status = 0;
    goto out;
nomem:
    fprintf(stderr, "poolbench compare: out of memory\n");
out:
    for (size_t i = 0; bk && i < nb; i++)
        free(bk[i]);
    for (size_t i = 0; nk && i < nn; i++)
        free(nk[i]);
    free(bk);
    free(nk);
    free(nmatched);
    return status;
}

/* ------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------ */

typedef struct geo {
    const char *backend;
    double sumlog;
    size_t n;
} geo;

/* Geometric mean of new/base (base/new for "higher") per backend, in order
 * of first appearance. Returns the number of backends; *out malloc'd. */
static size_t geomeans(const report *r, geo **out)
{
    geo *g = calloc(r->nrows + 1, sizeof *g);
    size_t ng = 0;
    if (!g) {
        *out = NULL;
        return 0;
    }
    for (size_t i = 0; i < r->nrows; i++) {
        const row *w = &r->rows[i];
        if (!(w->base > 0) || !(w->now > 0))
            continue;
        size_t k = 0;
        while (k < ng && strcmp(g[k].backend, w->backend))
            k++;
        if (k == ng)
            g[ng++].backend = w->backend;
        g[k].sumlog += w->higher ? log(w->base / w->now) : log(w->now / w->base);
        g[k].n++;
    }
    *out = g;
    return ng;
}

static void fmt_change(char *buf, size_t len, const row *w)
{
    if (w->has_change)
        snprintf(buf, len, "%+.1f%%", w->change_pct);
    else
        snprintf(buf, len, "n/a");
}

static void fmt_p(char *buf, size_t len, const row *w)
{
    if (!w->has_p)
        snprintf(buf, len, "-");
    else if (w->p < 0.0001)
        snprintf(buf, len, "<0.0001");
    else
        snprintf(buf, len, "%.4f", w->p);
}

static void fmt_verdict(char *buf, size_t len, const row *w, bool markdown)
{
    const char *name = verdict_names[w->v];
    if (w->v == V_REGRESSION)
        name = markdown ? "**regression**" : "REGRESSION";
    snprintf(buf, len, "%s%s", name, w->trusted ? "" : ", untrusted");
}

static void run_line(FILE *out, const char *tag, const char *path, const json_t *doc,
                     const char *prefix)
{
    const json_t *run = json_object_get(doc, "run");
    const char *q = prefix[0] == '-' ? "`" : ""; /* markdown: the path as code */
    fprintf(out, "%s%s %s%s%s: %s, revision %s, %.0f repetitions%s\n", prefix, tag, q,
            pbr_printable(path), q, pbr_printable(pbr_json_str(run, "started", "?")),
            pbr_printable(pbr_json_str(json_object_get(doc, "environment"), "git_revision", "?")),
            pbr_json_num(run, "repetitions", 0),
            json_is_false(json_object_get(run, "complete")) ? " (incomplete: interrupted run)"
                                                            : "");
}

enum { NCOL = 7 };

static void row_cells(const row *w, char cells[NCOL][128], bool markdown)
{
    snprintf(cells[0], 128, "%s", w->label); /* escaped already */
    pbr_escape(cells[1], 128, w->metric);
    pbr_format_value(cells[2], 128, w->unit, w->base, PBR_FORMAT_TABLE);
    pbr_format_value(cells[3], 128, w->unit, w->now, PBR_FORMAT_TABLE);
    fmt_change(cells[4], 128, w);
    fmt_p(cells[5], 128, w);
    fmt_verdict(cells[6], 128, w, markdown);
}

/* The table of rows, each column as wide as its widest cell. */
static void print_text_table(FILE *out, const report *r)
{
    static const char *const head[NCOL] = {"case", "metric", "base", "new",
                                           "change", "p", "verdict"};
    size_t w[NCOL];
    for (int c = 0; c < NCOL; c++)
        w[c] = strlen(head[c]);
    char cells[NCOL][128];
    for (size_t i = 0; i < r->nrows; i++) {
        row_cells(&r->rows[i], cells, false);
        for (int c = 0; c < NCOL; c++)
            if (strlen(cells[c]) > w[c])
                w[c] = strlen(cells[c]);
    }
    for (size_t i = 0; i <= r->nrows; i++) {
        if (i)
            row_cells(&r->rows[i - 1], cells, false);
        for (int c = 0; c < NCOL; c++) {
            const char *t = i ? cells[c] : head[c];
            bool right = c >= 2 && c <= 5;
            if (c + 1 == NCOL)
                fprintf(out, "%s\n", t);
            else
                fprintf(out, right ? "%*s  " : "%-*s  ", (int)w[c], t);
        }
    }
}

static void print_text_geomeans(FILE *out, const report *r)
{
    geo *g;
    size_t ng = geomeans(r, &g);
    if (ng) {
        fprintf(out, "\ngeometric mean of new/base per backend (base/new for higher-is-better "
                     "metrics; above 1 is worse):\n");
        size_t bw = 0;
        for (size_t k = 0; k < ng; k++)
            if (strlen(pbr_printable(g[k].backend)) > bw)
                bw = strlen(pbr_printable(g[k].backend));
        for (size_t k = 0; k < ng; k++) {
            double gm = exp(g[k].sumlog / (double)g[k].n);
            fprintf(out, "  %-*s  %.3f  (%+.1f%%, %zu metric%s)\n", (int)bw,
                    pbr_printable(g[k].backend), gm,
                    (gm - 1.0) * 100.0, g[k].n, g[k].n == 1 ? "" : "s");
        }
    }
    free(g);
}

/* Checks that started failing, cases on one side only, environments. */
static void print_text_notes(FILE *out, const report *r)
{
    if (r->nfailing) {
        fprintf(out, "\nchecks that started failing:\n");
        for (size_t i = 0; i < r->nfailing; i++)
            fprintf(out, "  %s: %s%s%s\n", r->failing[i].label,
                    pbr_printable(r->failing[i].what), r->failing[i].a[0] ? ": " : "",
                    pbr_printable(r->failing[i].a));
    }
    const note *lists[2] = {r->only_base, r->only_new};
    size_t counts[2] = {r->nonly_base, r->nonly_new};
    for (int s = 0; s < 2; s++) {
        if (!counts[s])
            continue;
        fprintf(out, "\nonly in %s (not compared):\n", s ? "new" : "base");
        for (size_t i = 0; i < counts[s]; i++)
            fprintf(out, "  %s%s%s\n", lists[s][i].label, lists[s][i].what ? ": " : "",
                    pbr_printable(lists[s][i].what));
    }
    if (r->nenv) {
        fprintf(out, "\nwarning: the environments differ, so the comparison may not be fair:\n");
        for (size_t i = 0; i < r->nenv; i++)
            fprintf(out, "  %s: '%s' (base) vs '%s' (new)\n", r->env[i].what,
                    pbr_printable(r->env[i].a), pbr_printable(r->env[i].b));
    }
}

/* The verdict, and each regression once more. */
static void print_text_result(FILE *out, const report *r)
{
    fputc('\n', out);
    if (r->regressions == 0 && r->nfailing == 0) {
        fprintf(out, "result: no regression (%zu metric%s in %zu case%s compared)\n", r->nrows,
                r->nrows == 1 ? "" : "s", r->compared_cases,
                r->compared_cases == 1 ? "" : "s");
        return;
    }
    fprintf(out, "result:");
    const char *sep = " ";
    if (r->regressions) {
        fprintf(out, "%s%zu regression%s", sep, r->regressions, r->regressions == 1 ? "" : "s");
        sep = ", ";
    }
    if (r->nfailing)
        fprintf(out, "%s%zu check%s started failing", sep, r->nfailing,
                r->nfailing == 1 ? "" : "s");
    fputc('\n', out);
    for (size_t i = 0; i < r->nrows; i++) {
        const row *x = &r->rows[i];
        if (x->v != V_REGRESSION)
            continue;
        char ch[32], p[32];
        fmt_change(ch, sizeof ch, x);
        fmt_p(p, sizeof p, x);
        fprintf(out, "  %s %s %s (p %s %s)\n", x->label, pbr_printable(x->metric), ch,
                p[0] == '<' ? "<" : "=",
                p[0] == '<' ? p + 1 : p);
    }
}

static void print_text(FILE *out, const report *r)
{
    fprintf(out, "poolbench compare\n");
    run_line(out, "base", r->base_path, r->base, "  ");
    run_line(out, "new ", r->new_path, r->now, "  ");
    fprintf(out,
            "  a regression is worse by more than %g%% with p < %g (two-sided Mann-Whitney U "
            "test over the repetitions)\n\n",
            r->threshold, r->alpha);
    print_text_table(out, r);
    print_text_geomeans(out, r);
    print_text_notes(out, r);
    print_text_result(out, r);
}

/* Markdown table cell text: a pipe would end the cell. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static void md_table(FILE *out, const report *r, bool changed_only)
{
    fprintf(out, "| case | metric | base | new | change | p | verdict |\n"
                 "| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
    char cells[NCOL][128];
    for (size_t i = 0; i < r->nrows; i++) {
        if (changed_only && r->rows[i].v == V_UNCHANGED)
            continue;
        row_cells(&r->rows[i], cells, true);
        for (int c = 0; c < NCOL; c++) {
            fputs("| ", out);
            md_cell(out, cells[c]);
            fputc(' ', out);
        }
        fputs("|\n", out);
    }
}

static void print_markdown(FILE *out, const report *r)
{
    if (r->regressions == 0 && r->nfailing == 0)
        fprintf(out, "### poolbench compare: no regression\n\n");
    else if (r->nfailing == 0)
        fprintf(out, "### poolbench compare: %zu regression%s\n\n", r->regressions,
                r->regressions == 1 ? "" : "s");
    else if (r->regressions == 0)
        fprintf(out, "### poolbench compare: %zu check%s started failing\n\n", r->nfailing,
                r->nfailing == 1 ? "" : "s");
    else
        fprintf(out, "### poolbench compare: %zu regression%s, %zu check%s started failing\n\n",
                r->regressions, r->regressions == 1 ? "" : "s", r->nfailing,
                r->nfailing == 1 ? "" : "s");
    run_line(out, "**Base**", r->base_path, r->base, "- ");
    run_line(out, "**New**", r->new_path, r->now, "- ");
    fprintf(out,
            "\nA regression is worse by more than %g%% with p < %g (two-sided Mann–Whitney U "
            "test over the repetitions).\n\n",
            r->threshold, r->alpha);

    if (r->nenv) {
        fprintf(out, "> **Warning:** the environments differ, so the comparison may not be "
                     "fair:");
        for (size_t i = 0; i < r->nenv; i++)
            fprintf(out, "%s %s `%s` vs `%s`", i ? ";" : "", r->env[i].what,
                    pbr_printable(r->env[i].a), pbr_printable(r->env[i].b));
        fprintf(out, ".\n\n");
    }

    size_t changed = 0;
    for (size_t i = 0; i < r->nrows; i++)
        changed += r->rows[i].v != V_UNCHANGED;
    if (changed) {
        fprintf(out, "**Changes beyond %g%%**\n\n", r->threshold);
        md_table(out, r, true);
        fputc('\n', out);
    } else {
        fprintf(out, "No metric changed by more than %g%%.\n\n", r->threshold);
    }

    if (r->nfailing) {
        fprintf(out, "**Checks that started failing**\n\n");
        for (size_t i = 0; i < r->nfailing; i++) {
            fprintf(out, "- `%s`: %s%s", r->failing[i].label, pbr_printable(r->failing[i].what),
                    r->failing[i].a[0] ? ": " : "");
            md_cell(out, pbr_printable(r->failing[i].a));
            fputc('\n', out);
        }
        fputc('\n', out);
    }

    geo *g;
    size_t ng = geomeans(r, &g);
    if (ng) {
        fprintf(out, "**Geometric mean of new/base** (above 1 is worse):");
        for (size_t k = 0; k < ng; k++)
            fprintf(out, "%s %s %.3f", k ? " ·" : "", pbr_printable(g[k].backend),
                    exp(g[k].sumlog / (double)g[k].n));
        fprintf(out, "\n\n");
    }
    free(g);

    const note *lists[2] = {r->only_base, r->only_new};
    size_t counts[2] = {r->nonly_base, r->nonly_new};
    for (int s = 0; s < 2; s++) {
        if (!counts[s])
            continue;
        fprintf(out, "**Only in %s** (not compared):", s ? "new" : "base");
        for (size_t i = 0; i < counts[s]; i++)
            fprintf(out, "%s `%s%s%s`", i ? "," : "", lists[s][i].label,
                    lists[s][i].what ? ": " : "", pbr_printable(lists[s][i].what));
        fprintf(out, "\n\n");
    }

    fprintf(out, "<details><summary>All %zu metrics</summary>\n\n", r->nrows);
    md_table(out, r, false);
    fprintf(out, "\n</details>\n");
}

static json_t *notes_json_new(const note *v, size_t n, const char *k1, const char *k2,
                              const char *k3)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
        if (k1 && v[i].label)
            json_object_set_new(o, k1, json_string(v[i].label));
        if (k2 && v[i].what)
            json_object_set_new(o, k2, json_string(v[i].what));
        if (k3 && v[i].a)
            json_object_set_new(o, k3, json_string(v[i].a));
        if (v[i].b)
            json_object_set_new(o, "new", json_string(v[i].b));
    }
    return a;
}

static int print_json(FILE *out, const report *r)
{
    json_t *rows = json_array();
    for (size_t i = 0; rows && i < r->nrows; i++) {
        const row *w = &r->rows[i];
        json_t *o = json_pack(
            "{s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:f,s:f,s:o,s:o,s:I,s:I,s:b,s:s}", "backend",
            w->backend, "scenario", pbr_json_str(w->bcase, "scenario", ""), "params",
            json_object_get(w->bcase, "params"), "label", w->label, "metric", w->metric, "unit",
            w->unit, "better", w->higher ? "higher" : "lower", "base_p50", w->base, "new_p50",
            w->now, "change_pct", w->has_change ? json_real(w->change_pct) : json_null(),
            "p_value", w->has_p ? json_real(w->p) : json_null(), "base_repetitions",
            (json_int_t)w->nb, "new_repetitions", (json_int_t)w->nn, "trusted", w->trusted,
            "verdict", verdict_keys[w->v]);
        if (!o || json_array_append_new(rows, o)) {
            json_decref(rows);
            rows = NULL;
        }
        if (rows && w->has_p) {
            json_object_set_new(o, "u", json_real(w->u));
            json_object_set_new(o, "exact", json_boolean(w->exact));
        }
    }
    geo *g;
    size_t ng = geomeans(r, &g);
    json_t *gj = json_array();
    for (size_t k = 0; gj && k < ng; k++)
        json_array_append_new(gj, json_pack("{s:s,s:f,s:I}", "backend", g[k].backend,
                                            "ratio", exp(g[k].sumlog / (double)g[k].n),
                                            "metrics", (json_int_t)g[k].n));
    free(g);
    json_t *doc = json_pack(
        "{s:s,s:s,s:f,s:f,s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "base", r->base_path, "new",
        r->new_path, "threshold_pct", r->threshold, "alpha", r->alpha, "metric", r->metric_glob,
        "common_cases", (json_int_t)r->common_cases, "compared_cases", (json_int_t)r->compared_cases, "regressions", (json_int_t)r->regressions,
        "checks_started_failing", (json_int_t)r->nfailing, "comparisons", rows, "geomean", gj,
        "failing_checks", notes_json_new(r->failing, r->nfailing, "case", "check", "reason"),
        "only_in_base", notes_json_new(r->only_base, r->nonly_base, "case", "metric", NULL),
        "only_in_new", notes_json_new(r->only_new, r->nonly_new, "case", "metric", NULL),
        "environment_differences", notes_json_new(r->env, r->nenv, NULL, "field", "base"));
    if (!doc)
        return -ENOMEM;
    /* A report, not data: 15 digits print 0.2 as 0.2. */
    int rc = pbr_json_print(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_decref(doc);
    fputc('\n', out);
    return rc;
}

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

typedef struct compare_opts {
    double threshold, alpha;
    const char *metric, *format;
} compare_opts;

static const compare_opts compare_defaults = {
    .threshold = 5, .alpha = 0.01, .metric = "*", .format = "text"};

static const pbr_option compare_options[] = {
    {.name = "threshold", PBR_REAL(compare_opts, threshold, 0, INFINITY), .arg = "PCT",
     .expect = "a percentage", .help = "smallest change that matters, in % (default 5)"},
    {.name = "alpha", PBR_REAL(compare_opts, alpha, 0, 1), .above = true, .arg = "A",
     .help = "significance level (default 0.01)"},
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
    .summary = "compare two results files; exit 1 on a significant regression",
    .synopsis = "BASE.json NEW.json [OPTIONS]",
    .about =
        "Compares two results files case by case (backend, scenario, parameters) and\n"
        "metric by metric: base and new medians, the change, and the p-value of a\n"
        "two-sided Mann-Whitney U test over the per-repetition values (exact for\n"
        "small samples without ties). A regression is a change in the metric's bad\n"
        "direction beyond the threshold AND significant at alpha; with fewer than\n"
        PBR__XSTR(PBR__MIN_REPS) " repetitions a side no verdict is given. Checks that passed\n"
        "in BASE and fail in NEW count as regressions too.",
    .epilogue = "exit status: 0 no regression, 1 a regression or a newly failing check,\n"
                "2 bad usage, an unreadable or foreign file, or no case in common",
    .options = compare_options,
    .opts_size = sizeof(compare_opts),
    .defaults = &compare_defaults,
    .operands = "two results files, BASE.json and NEW.json",
    .min_operands = 2,
    .max_operands = 2,
    .run = run_compare,
};

static int run_compare(const pbr_args *a)
{
    const compare_opts *o = a->opts;
    const char *const *files = (const char *const *)a->args;
    const char *format = o->format;
    report r = {.base_path = files[0], .new_path = files[1], .metric_glob = o->metric,
                .threshold = o->threshold, .alpha = o->alpha};

    char err[1024];
    json_t *base = pbr_read(files[0], err, sizeof err);
    if (!base) {
        fprintf(stderr, "poolbench compare: %s\n", err);
        return 2;
    }
    json_t *now = pbr_read(files[1], err, sizeof err);
    if (!now) {
        fprintf(stderr, "poolbench compare: %s\n", err);
        json_decref(base);
        return 2;
    }
    r.base = base;
    r.now = now;

    int status = build_report(&r);
    if (status == 0) {
        if (!strcmp(format, "text"))
            print_text(stdout, &r);
        else if (!strcmp(format, "markdown"))
            print_markdown(stdout, &r);
        else if (print_json(stdout, &r) < 0) {
            fprintf(stderr, "poolbench compare: cannot write the JSON report\n");
            status = 2;
        }
        if (status == 0 && fflush(stdout) != 0) {
            fprintf(stderr, "poolbench compare: cannot write to standard output\n");
            status = 2;
        }
        if (status == 0)
            status = r.regressions || r.nfailing ? 1 : 0;
    }
    report_free(&r);
    json_decref(base);
    json_decref(now);
    return status;
}
