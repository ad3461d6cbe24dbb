/*
 * compare-out.c — the reports of `poolbench compare` (and `poolbench ab`):
 * text for a terminal, Markdown for a pull-request comment, JSON for tools.
 *
 * Every report says first which kind of comparison it is (a paired A/B
 * session, two separate runs, or two machines) and its verdict, then the
 * evidence. The text report lists every metric. The Markdown one is read
 * in a pull request, where GitHub cuts a comment at 65,536 characters: it
 * leads with the verdict, its table holds only what changed (regressions,
 * improvements, and regressions that do not gate, each marked), at most
 * MD_MAX_ROWS of them, and the rest is counted per backend in a collapsed
 * section — a few kilobytes for ten backends. The JSON report has every row.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare-int.h"
#include "results.h"

#define MD_MAX_ROWS 60 /* table rows of the Markdown report */
#define MD_MAX_NOTES 20 /* items of each list in it */

const char *const pbr__verdict_names[] = {"unchanged", "too few repetitions", "not significant",
                                          "regression", "improvement"};
const char *const pbr__verdict_keys[] = {"unchanged", "too_few_repetitions", "not_significant",
                                         "regression", "improvement"};

static const char *verdict_name(const report *r, const row *w)
{
    if (w->v == V_TOO_FEW && r->kind == K_PAIRED)
        return "too few pairs";
    return pbr__verdict_names[w->v];
}

/* ------------------------------------------------------------------------
 * Cells
 * ------------------------------------------------------------------------ */

static void fmt_pct(char *buf, size_t len, bool has, double v)
{
    if (has && isfinite(v))
        snprintf(buf, len, "%+.1f%%", v);
    else
        snprintf(buf, len, has ? "n/a" : "");
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

static void fmt_verdict(char *buf, size_t len, const report *r, const row *w, bool markdown)
{
    const char *name = verdict_name(r, w);
    if (w->v == V_REGRESSION && w->gates)
        name = markdown ? "**regression**" : "REGRESSION";
    const char *tail = "";
    if (w->floor && (w->v == V_REGRESSION || w->v == V_IMPROVEMENT))
        tail = " (the machine's floor: not gating)";
    else if (w->v == V_REGRESSION && !w->gates)
        tail = w->trusted || r->strict ? " (not the headline: not gating)"
                                       : " (untrusted: not gating)";
    else if (!w->trusted && !w->floor && w->v != V_TOO_FEW)
        tail = ", untrusted";
    snprintf(buf, len, "%s%s", name, tail);
}

enum { NCOL = 8 };

static const char *second_head(const report *r)
{
    return r->kind == K_PAIRED ? "95% CI" : "vs floor";
}

static void row_cells(const report *r, const row *w, char cells[NCOL][160], bool markdown)
{
    snprintf(cells[0], 160, "%s", w->label);
    pbr_escape(cells[1], 160, w->metric);
    pbr_format_value(cells[2], 160, w->unit, w->base, PBR_FORMAT_TABLE);
    pbr_format_value(cells[3], 160, w->unit, w->now, PBR_FORMAT_TABLE);
    fmt_pct(cells[4], 160, w->has_change, w->change_pct);
    if (r->kind == K_PAIRED && w->has_ci)
        snprintf(cells[5], 160, "%+.1f%% .. %+.1f%%", w->ci_low_pct, w->ci_high_pct);
    else
        fmt_pct(cells[5], 160, w->has_norm, w->norm_pct);
    fmt_p(cells[6], 160, w);
    fmt_verdict(cells[7], 160, r, w, markdown);
}

/* ------------------------------------------------------------------------
 * The opening: which comparison, of what
 * ------------------------------------------------------------------------ */

static const char *session_mode(const report *r)
{
    return pbr_json_str(json_object_get(r->ab, "run"), "mode", "interleaved");
}

static size_t session_pairs(const report *r)
{
    return json_array_size(json_object_get(r->ab, "pairs"));
}

/* The first line: the kind of comparison (in text after "poolbench
 * compare: ", so in lower case there). */
static void kind_line(FILE *out, const report *r, bool markdown)
{
    const char *b = markdown ? "**" : "";
    const char *words[][2] = {{"paired A/B session", "Paired A/B session"},
                              {"two machines, not two commits", "Two machines, not two commits"},
                              {"two separate runs", "Two separate runs"}};
    int m = markdown ? 1 : 0;
    if (r->kind == K_PAIRED) {
        bool duet = !strcmp(session_mode(r), "duet");
        fprintf(out,
                "%s%s%s: %zu %s pairs of BASE and NEW in one session on one host; each verdict "
                "comes from the pairs' ratios.\n",
                b, words[0][m], b, session_pairs(r),
                duet ? "duet (both at once, each on its own CPUs)" : "interleaved (ABBA)");
    } else if (r->across_hosts) {
        fprintf(out,
                "%s%s%s (--across-hosts): host '%s' (base) against host '%s' (new); a change "
                "here is the machines' difference.\n",
                b, words[1][m], b, r->base_host, r->new_host);
    } else {
        fprintf(out,
                "%s%s%s, not paired: a metric measured against the same run's floor is judged "
                "by that ratio, others by their values; untrusted metrics do not gate%s. "
                "(`poolbench ab` pairs BASE and NEW: the stronger test.)\n",
                b, words[2][m], b, r->strict ? " (but --strict: here they do)" : "");
        if (r->nhosts > 1)
            fprintf(out, "%sHosts%s: %zu, each compared with itself.\n", b, b, r->nhosts);
    }
}

static void side_line(FILE *out, const char *prefix, const char *tag, const char *path,
                      const json_t *doc, bool markdown)
{
    const json_t *run = json_object_get(doc, "run");
    const json_t *env = json_object_get(doc, "environment");
    const char *q = markdown ? "`" : "";
    fprintf(out, "%s%s %s%s%s: %s, revision %s, %.0f repetitions, host %s%s\n", prefix, tag, q,
            pbr_printable(path), q, pbr_printable(pbr_json_str(run, "started", "?")),
            pbr_printable(pbr_json_str(env, "git_revision", "?")),
            pbr_json_num(run, "repetitions", 0), pbr_printable(pbr_json_str(env, "host", "?")),
            json_is_false(json_object_get(run, "complete")) ? " (incomplete: interrupted run)"
                                                            : "");
}

static void session_lines(FILE *out, const char *prefix, const report *r, bool markdown)
{
    const json_t *run = json_object_get(r->ab, "run");
    const char *q = markdown ? "`" : "";
    for (int s = 0; s < 2; s++) {
        const json_t *side = json_object_get(r->ab, s ? "new" : "base");
        const json_t *env = json_object_get(side, "environment");
        fprintf(out, "%s%s %s%s%s: revision %s\n", prefix, s ? "new " : "base", q,
                pbr_printable(pbr_json_str(side, "program", "?")), q,
                pbr_printable(pbr_json_str(env, "git_revision", "?")));
    }
    fprintf(out,
            "%ssession %s%s%s: suite %s, started %s, %.0f of %.0f pairs, %.0f repetition%s a run, "
            "host %s%s\n",
            prefix, q, pbr_printable(r->base_path), q,
            pbr_printable(pbr_json_str(run, "suite", "?")),
            pbr_printable(pbr_json_str(run, "started", "?")), (double)session_pairs(r),
            pbr_json_num(run, "pairs", 0), pbr_json_num(run, "repetitions", 0),
            pbr_json_num(run, "repetitions", 0) == 1 ? "" : "s",
            pbr_json_str(json_object_get(json_object_get(r->ab, "base"), "environment"), "host",
                         "?"),
            json_is_false(json_object_get(run, "complete")) ? " (incomplete: interrupted)" : "");
}

/* What the regressions that do not gate are. */
static const char *ungated_what(const report *r)
{
    if (r->ungated_secondary == 0)
        return "of untrusted figures";
    if (r->ungated_secondary == r->regressions_ungated)
        return "of metrics other than their case's headline";
    return "of untrusted figures or of metrics other than their case's headline";
}

static void rule_line(FILE *out, const char *prefix, const report *r)
{
    const char *test = r->kind == K_PAIRED
                           ? "two-sided Wilcoxon signed-rank test of the pairs' log ratios"
                           : "two-sided Mann-Whitney U test over the repetitions, divided by "
                             "the floor where judged against it";
    fprintf(out, "%sa regression is worse by more than %g%%%s%s with p < %g (%s)\n", prefix,
            r->threshold, r->noise ? " or the metric's calibrated noise band" : "",
            r->kind == K_PAIRED ? " or its pairs' own noise band" : "", r->alpha, test);
    bool secondary = false; /* a metric that is not its case's headline */
    for (size_t i = 0; i < r->nrows && !secondary; i++)
        secondary = !r->rows[i].headline;
    if (secondary)
        fprintf(out, "%s%s\n", prefix,
                r->gate_all ? "every metric's regression gates (--gate all)"
                            : "every metric is judged; only a regression of its case's "
                              "headline metric gates (--gate all: any)");
    if (r->noise)
        fprintf(out, "%snoise bands from %s\n", prefix, r->noise_path);
}

/* ------------------------------------------------------------------------
 * Text
 * ------------------------------------------------------------------------ */

static void text_table(FILE *out, const report *r)
{
    const char *head[NCOL] = {"case", "metric", "base", "new", "change", second_head(r), "p",
                              "verdict"};
    size_t w[NCOL];
    for (int c = 0; c < NCOL; c++)
        w[c] = strlen(head[c]);
    char cells[NCOL][160];
    for (size_t i = 0; i < r->nrows; i++) {
        row_cells(r, &r->rows[i], cells, false);
        for (int c = 0; c < NCOL; c++)
            if (strlen(cells[c]) > w[c])
                w[c] = strlen(cells[c]);
    }
    for (size_t i = 0; i <= r->nrows; i++) {
        if (i)
            row_cells(r, &r->rows[i - 1], cells, false);
        for (int c = 0; c < NCOL; c++) {
            const char *t = i ? cells[c] : head[c];
            bool right = c >= 2 && c <= 6;
            if (c + 1 == NCOL)
                fprintf(out, "%s\n", t);
            else
                fprintf(out, right ? "%*s  " : "%-*s  ", (int)w[c], t);
        }
    }
}

typedef struct tally {
    const char *backend;
    size_t n, v[5];
    double sumlog;
    size_t nlog;
} tally;

/* Per backend: verdict counts and the geometric mean of new/base (base/new
 * for higher-is-better metrics: above 1 is worse). *out malloc'd. */
static size_t tallies(const report *r, tally **out)
{
    tally *t = calloc(r->nrows + 1, sizeof *t);
    size_t nt = 0;
    *out = t;
    if (!t)
        return 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const row *w = &r->rows[i];
        size_t k = 0;
        while (k < nt && strcmp(t[k].backend, w->backend))
            k++;
        if (k == nt)
            t[nt++].backend = w->backend;
        t[k].n++;
        t[k].v[w->v]++;
        if (w->base > 0 && w->now > 0) {
            t[k].sumlog += w->higher ? log(w->base / w->now) : log(w->now / w->base);
            t[k].nlog++;
        }
    }
    return nt;
}

static void text_geomeans(FILE *out, const report *r)
{
    tally *t;
    size_t nt = tallies(r, &t);
    size_t bw = 0;
    for (size_t k = 0; k < nt; k++)
        if (t[k].nlog && strlen(t[k].backend) > bw)
            bw = strlen(t[k].backend);
    if (bw)
        fprintf(out, "\ngeometric mean of new/base per backend (base/new for higher-is-better "
                     "metrics; above 1 is worse):\n");
    for (size_t k = 0; k < nt; k++) {
        if (!t[k].nlog)
            continue;
        double gm = exp(t[k].sumlog / (double)t[k].nlog);
        fprintf(out, "  %-*s  %.3f  (%+.1f%%, %zu metric%s)\n", (int)bw,
                pbr_printable(t[k].backend), gm,
                (gm - 1.0) * 100.0, t[k].nlog, t[k].nlog == 1 ? "" : "s");
    }
    free(t);
}

/* Floors that moved beyond the threshold: the machine changed. */
static size_t floors_moved(const report *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nrows; i++)
        n += r->rows[i].floor && r->rows[i].has_change &&
             fabs(r->rows[i].change_pct) > r->rows[i].threshold;
    return n;
}

static void text_notes(FILE *out, const report *r)
{
    if (r->failing.n) {
        fprintf(out, "\nchecks that started failing:\n");
        for (size_t i = 0; i < r->failing.n; i++)
            fprintf(out, "  %s: %s%s%s\n", r->failing.v[i].label,
                    pbr_printable(r->failing.v[i].what), r->failing.v[i].a[0] ? ": " : "",
                    pbr_printable(r->failing.v[i].a));
    }
    if (r->kind == K_SEPARATE && floors_moved(r)) {
        fprintf(out, "\nthe machine changed between the runs: its floor moved (these never "
                     "gate):\n");
        for (size_t i = 0; i < r->nrows; i++) {
            const row *w = &r->rows[i];
            if (w->floor && w->has_change && fabs(w->change_pct) > w->threshold)
                fprintf(out, "  %s %s %+.1f%%\n", w->label, pbr_printable(w->metric),
                        w->change_pct);
        }
    }
    const note_list *lists[2] = {&r->only_base, &r->only_new};
    for (int s = 0; s < 2; s++) {
        if (!lists[s]->n)
            continue;
        fprintf(out, "\nonly in %s (not compared):\n", s ? "new" : "base");
        for (size_t i = 0; i < lists[s]->n; i++)
            fprintf(out, "  %s%s%s\n", lists[s]->v[i].label, lists[s]->v[i].what ? ": " : "",
                    pbr_printable(lists[s]->v[i].what));
    }
    for (size_t i = 0; i < r->hosts_only.n; i++)
        fprintf(out, "%shost '%s' only in %s (not compared)\n", i ? "" : "\n",
                pbr_printable(r->hosts_only.v[i].what), r->hosts_only.v[i].a);
    if (r->env.n) {
        fprintf(out, "\nwarning: the environments differ, so the comparison may not be fair:\n");
        for (size_t i = 0; i < r->env.n; i++)
            fprintf(out, "  %s: '%s' (base) vs '%s' (new)\n", r->env.v[i].what,
                    pbr_printable(r->env.v[i].a), pbr_printable(r->env.v[i].b));
    }
}

static void text_result(FILE *out, const report *r)
{
    fputc('\n', out);
    if (r->regressions == 0 && r->failing.n == 0) {
        fprintf(out, "result: no regression (%zu metric%s in %zu case%s compared", r->nrows,
                r->nrows == 1 ? "" : "s", r->compared_cases, r->compared_cases == 1 ? "" : "s");
        if (r->regressions_ungated)
            fprintf(out, "; %zu regression%s %s shown, not gating", r->regressions_ungated,
                    r->regressions_ungated == 1 ? "" : "s", ungated_what(r));
        fprintf(out, ")\n");
        return;
    }
    fprintf(out, "result:");
    const char *sep = " ";
    if (r->regressions) {
        fprintf(out, "%s%zu regression%s", sep, r->regressions, r->regressions == 1 ? "" : "s");
        sep = ", ";
    }
    if (r->failing.n)
        fprintf(out, "%s%zu check%s started failing", sep, r->failing.n,
                r->failing.n == 1 ? "" : "s");
    fputc('\n', out);
    for (size_t i = 0; i < r->nrows; i++) {
        const row *x = &r->rows[i];
        if (x->v != V_REGRESSION || !x->gates)
            continue;
        char ch[32], p[32];
        fmt_pct(ch, sizeof ch, true, x->worse_pct);
        fmt_p(p, sizeof p, x);
        fprintf(out, "  %s %s %s%s (p %s %s)\n", x->label, pbr_printable(x->metric), ch,
                x->judged_norm ? " vs floor" : "", p[0] == '<' ? "<" : "=",
                p[0] == '<' ? p + 1 : p);
    }
}

void pbr__compare_text(FILE *out, const report *r)
{
    fputs("poolbench compare: ", out);
    kind_line(out, r, false);
    if (r->kind == K_PAIRED) {
        session_lines(out, "  ", r, false);
    } else {
        side_line(out, "  ", "base", r->base_path, r->base_doc, false);
        side_line(out, "  ", "new ", r->new_path, r->new_doc, false);
    }
    rule_line(out, "  ", r);
    fputc('\n', out);
    text_table(out, r);
    text_geomeans(out, r);
    text_notes(out, r);
    text_result(out, r);
}

/* ------------------------------------------------------------------------
 * Markdown
 * ------------------------------------------------------------------------ */

/* Markdown table cell text: a pipe would end the cell, a newline the row. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
    }
}

static bool md_listed(const row *w)
{
    return !w->floor && (w->v == V_REGRESSION || w->v == V_IMPROVEMENT);
}

static void md_table(FILE *out, const report *r)
{
    fprintf(out, "| case | metric | base | new | change | %s | p | verdict |\n"
                 "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
            second_head(r));
    char cells[NCOL][160];
    size_t shown = 0, listed = 0;
    /* Gating regressions first, then the rest of what changed. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->nrows; i++) {
            const row *w = &r->rows[i];
            bool first = w->v == V_REGRESSION && w->gates;
            if (!md_listed(w) || first != (pass == 0))
                continue;
            listed++;
            if (shown == MD_MAX_ROWS)
                continue;
            shown++;
            row_cells(r, w, cells, true);
            for (int c = 0; c < NCOL; c++) {
                fputs("| ", out);
                md_cell(out, cells[c]);
                fputc(' ', out);
            }
            fputs("|\n", out);
        }
    }
    if (listed > shown)
        fprintf(out, "\n… and %zu more (`--format json` has every one).\n", listed - shown);
}

static void md_notes(FILE *out, const char *title, const note_list *l)
{
    if (!l->n)
        return;
    fprintf(out, "%s:", title);
    for (size_t i = 0; i < l->n && i < MD_MAX_NOTES; i++) {
        fprintf(out, "%s `", i ? "," : "");
        md_cell(out, l->v[i].label ? l->v[i].label : "");
        if (l->v[i].what) {
            fputs(l->v[i].label ? ": " : "", out);
            md_cell(out, pbr_printable(l->v[i].what));
        }
        fputc('`', out);
    }
    if (l->n > MD_MAX_NOTES)
        fprintf(out, " and %zu more", l->n - MD_MAX_NOTES);
    fprintf(out, "\n\n");
}

void pbr__compare_markdown(FILE *out, const report *r)
{
    /* The verdict first. */
    if (r->regressions == 0 && r->failing.n == 0)
        fprintf(out, "### poolbench compare: no regression\n\n");
    else if (r->failing.n == 0)
        fprintf(out, "### poolbench compare: %zu regression%s\n\n", r->regressions,
                r->regressions == 1 ? "" : "s");
    else if (r->regressions == 0)
        fprintf(out, "### poolbench compare: %zu check%s started failing\n\n", r->failing.n,
                r->failing.n == 1 ? "" : "s");
    else
        fprintf(out, "### poolbench compare: %zu regression%s, %zu check%s started failing\n\n",
                r->regressions, r->regressions == 1 ? "" : "s", r->failing.n,
                r->failing.n == 1 ? "" : "s");
    kind_line(out, r, true);
    size_t nlisted = 0;
    for (size_t i = 0; i < r->nrows; i++)
        nlisted += md_listed(&r->rows[i]);
    fprintf(out, "\n%zu metric%s in %zu case%s compared: %zu regression%s that gate%s, %zu "
                 "improvement%s",
            r->nrows, r->nrows == 1 ? "" : "s", r->compared_cases,
            r->compared_cases == 1 ? "" : "s", r->regressions, r->regressions == 1 ? "" : "s",
            r->regressions == 1 ? "s" : "", r->improvements, r->improvements == 1 ? "" : "s");
    if (r->regressions_ungated)
        fprintf(out, ", %zu regression%s %s (not gating)", r->regressions_ungated,
                r->regressions_ungated == 1 ? "" : "s", ungated_what(r));
    fprintf(out, ".\n\n");

    if (r->failing.n) {
        fprintf(out, "**Checks that started failing**\n\n");
        for (size_t i = 0; i < r->failing.n && i < MD_MAX_NOTES; i++) {
            fputs("- `", out);
            md_cell(out, r->failing.v[i].label);
            fprintf(out, "`: %s%s", pbr_printable(r->failing.v[i].what),
                    r->failing.v[i].a[0] ? ": " : "");
            md_cell(out, pbr_printable(r->failing.v[i].a));
            fputc('\n', out);
        }
        if (r->failing.n > MD_MAX_NOTES)
            fprintf(out, "- … and %zu more\n", r->failing.n - MD_MAX_NOTES);
        fputc('\n', out);
    }
    if (nlisted)
        md_table(out, r);
    else
        fprintf(out, "No metric regressed or improved beyond its threshold.\n");
    fputc('\n', out);

    if (r->kind == K_SEPARATE && floors_moved(r)) {
        fprintf(out, "> **The machine changed between the runs:** its floor moved (");
        size_t k = 0;
        for (size_t i = 0; i < r->nrows; i++) {
            const row *w = &r->rows[i];
            if (w->floor && w->has_change && fabs(w->change_pct) > w->threshold)
                fprintf(out, "%s%s %s %+.1f%%", k++ ? "; " : "", w->label, pbr_printable(w->metric),
                        w->change_pct);
        }
        fprintf(out, "). Absolute figures are not comparable; floor ratios are.\n\n");
    }
    if (r->env.n) {
        fprintf(out, "> **Warning:** the environments differ, so the comparison may not be "
                     "fair:");
        for (size_t i = 0; i < r->env.n; i++) {
            fprintf(out, "%s %s `", i ? ";" : "", r->env.v[i].what);
            md_cell(out, pbr_printable(r->env.v[i].a));
            fputs("` vs `", out);
            md_cell(out, pbr_printable(r->env.v[i].b));
            fputc('`', out);
        }
        fprintf(out, ".\n\n");
    }

    /* The rest, collapsed. */
    fprintf(out, "<details><summary>What was compared, and every verdict counted</summary>\n\n");
    if (r->kind == K_PAIRED) {
        session_lines(out, "- ", r, true);
    } else {
        side_line(out, "- ", "**Base**", r->base_path, r->base_doc, true);
        side_line(out, "- ", "**New**", r->new_path, r->new_doc, true);
    }
    rule_line(out, "- ", r);
    fputc('\n', out);
    tally *t;
    size_t nt = tallies(r, &t);
    fprintf(out, "| backend | metrics | regression | improvement | not significant | %s | "
                 "unchanged | geomean new/base |\n"
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            r->kind == K_PAIRED ? "too few pairs" : "too few repetitions");
    for (size_t k = 0; k < nt; k++) {
        fputs("| ", out);
        md_cell(out, pbr_printable(t[k].backend));
        fprintf(out, " | %zu | %zu | %zu | %zu | %zu | %zu | ", t[k].n, t[k].v[V_REGRESSION],
                t[k].v[V_IMPROVEMENT], t[k].v[V_NOT_SIGNIFICANT], t[k].v[V_TOO_FEW],
                t[k].v[V_UNCHANGED]);
        if (t[k].nlog)
            fprintf(out, "%.3f |\n", exp(t[k].sumlog / (double)t[k].nlog));
        else
            fprintf(out, "- |\n");
    }
    free(t);
    fputc('\n', out);
    md_notes(out, "**Only in base** (not compared)", &r->only_base);
    md_notes(out, "**Only in new** (not compared)", &r->only_new);
    for (size_t i = 0; i < r->hosts_only.n; i++)
        fprintf(out, "Host `%s` only in %s (not compared).\n\n",
                pbr_printable(r->hosts_only.v[i].what),
                r->hosts_only.v[i].a);
    fprintf(out, "</details>\n");
}

/* ------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------ */

static json_t *notes_json_new(const note_list *l, const char *k1, const char *k2, const char *k3)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->n; i++) {
        json_t *o = json_object();
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
        if (k1 && l->v[i].label)
            json_object_set_new(o, k1, json_string(l->v[i].label));
        if (k2 && l->v[i].what)
            json_object_set_new(o, k2, json_string(l->v[i].what));
        if (k3 && l->v[i].a)
            json_object_set_new(o, k3, json_string(l->v[i].a));
        if (l->v[i].b)
            json_object_set_new(o, "new", json_string(l->v[i].b));
    }
    return a;
}

static json_t *num_or_null(bool has, double v)
{
    return has && isfinite(v) ? json_real(v) : json_null();
}

static json_t *row_json_new(const report *r, const row *w)
{
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:f,s:f,s:o,s:o,s:b,s:o,s:o,s:I,s:I,s:f,s:b,s:b,s:b,"
        "s:s}",
        "host", w->host, "backend", w->backend, "scenario", w->scenario, "params",
        w->params ? w->params : json_null(), "label", w->label, "metric", w->metric, "unit",
        w->unit, "better", w->higher ? "higher" : "lower", "base_p50", w->base, "new_p50", w->now,
        "change_pct", num_or_null(w->has_change, w->change_pct), "vs_floor_change_pct",
        num_or_null(w->has_norm, w->norm_pct), "judged_vs_floor", w->judged_norm, "worse_pct",
        num_or_null(true, w->worse_pct), "p_value", num_or_null(w->has_p, w->p),
        r->kind == K_PAIRED ? "pairs" : "base_repetitions", (json_int_t)w->nb,
        r->kind == K_PAIRED ? "pairs_new" : "new_repetitions", (json_int_t)w->nn, "threshold_pct",
        w->threshold, "calibrated", w->calibrated, "trusted", w->trusted, "gates", w->gates,
        "verdict", pbr__verdict_keys[w->v]);
    if (o)
        json_object_set_new(o, "headline", json_boolean(w->headline));
    if (!o)
        return NULL;
    if (r->kind == K_PAIRED)
        json_object_del(o, "pairs_new");
    if (w->has_p) {
        json_object_set_new(o, r->kind == K_PAIRED ? "w" : "u", json_real(w->stat));
        json_object_set_new(o, "exact", json_boolean(w->exact));
    }
    if (w->has_ci) {
        json_object_set_new(o, "ci_low_pct", json_real(w->ci_low_pct));
        json_object_set_new(o, "ci_high_pct", json_real(w->ci_high_pct));
        json_object_set_new(o, "session_band_pct", json_real(w->session_band));
    }
    return o;
}

int pbr__compare_json(FILE *out, const report *r)
{
    json_t *rows = json_array();
    for (size_t i = 0; rows && i < r->nrows; i++) {
        json_t *o = row_json_new(r, &r->rows[i]);
        if (!o || json_array_append_new(rows, o)) {
            json_decref(rows);
            rows = NULL;
        }
    }
    tally *t;
    size_t nt = tallies(r, &t);
    json_t *gj = json_array();
    for (size_t k = 0; gj && k < nt; k++)
        if (t[k].nlog)
            json_array_append_new(gj, json_pack("{s:s,s:f,s:I}", "backend", t[k].backend,
                                                "ratio", exp(t[k].sumlog / (double)t[k].nlog),
                                                "metrics", (json_int_t)t[k].nlog));
    free(t);
    const char *kind = r->kind == K_PAIRED ? "paired" : r->across_hosts ? "across_hosts"
                                                                           : "separate";
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:f,s:f,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
        "kind", kind, "base", r->base_path, "new", r->new_path, "threshold_pct", r->threshold,
        "alpha", r->alpha, "metric", r->metric_glob, "strict", r->strict, "hosts",
        (json_int_t)r->nhosts, "common_cases", (json_int_t)r->common_cases, "compared_cases",
        (json_int_t)r->compared_cases, "regressions", (json_int_t)r->regressions,
        "regressions_not_gating", (json_int_t)r->regressions_ungated,
        "checks_started_failing", (json_int_t)r->failing.n, "comparisons", rows, "geomean", gj,
        "failing_checks", notes_json_new(&r->failing, "case", "check", "reason"), "only_in_base",
        notes_json_new(&r->only_base, "case", "metric", NULL), "only_in_new",
        notes_json_new(&r->only_new, "case", "metric", NULL), "environment_differences",
        notes_json_new(&r->env, NULL, "field", "base"), "hosts_on_one_side",
        notes_json_new(&r->hosts_only, NULL, "host", "side"));
    if (!doc)
        return -1;
    json_object_set_new(doc, "gate", json_string(r->gate_all ? "all" : "headline"));
    if (r->noise_path)
        json_object_set_new(doc, "noise", json_string(r->noise_path));
    if (r->across_hosts) {
        json_object_set_new(doc, "base_host", json_string(r->base_host));
        json_object_set_new(doc, "new_host", json_string(r->new_host));
    }
    /* A report, not data: 15 digits print 0.2 as 0.2. */
    int rc = pbr_json_print(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_decref(doc);
    fputc('\n', out);
    return rc;
}
