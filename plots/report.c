/*
 * report.c — `poolbench report RUN.json [BASE.json] --out DIR`: one static
 * HTML page that says what a run found, for people who open it in a
 * browser (as criterion.rs's and asv's reports are opened).
 *
 * DESIGN
 *
 * One file, DIR/index.html, that needs nothing else: no server, no script,
 * no font or style sheet fetched, so it can be mailed, attached to a CI job
 * or opened from a file manager years later. In order:
 *   - which pool for what (results/digest.c), the answers first;
 *   - the summary table: one row per case, its headline metric's median,
 *     p99 and ratio to the floor, untrusted figures flagged, skipped cases
 *     pointing at their reason, failed ones with theirs;
 *   - with a BASE, the compare verdicts: `poolbench compare BASE RUN
 *     --format json`, run as a child of this very program, so the page
 *     shows exactly the verdicts the CI gate computes (compare.c owns
 *     them), and the compare chart;
 *   - every chart the run can feed, drawn as SVG by the same code as
 *     `poolbench plot` (render.c) and embedded as data: URIs of <img>
 *     elements. An <img> rather than inline <svg>: gnuplot's SVGs reuse the
 *     same element ids (clip paths, gradients), which would collide between
 *     two charts inlined into one document; an image keeps each apart, and
 *     the browser tells whether it loaded;
 *   - the metrics not trusted, and why (FORMAT.md's rule);
 *   - the skip reasons, each once and whole;
 *   - the run and its environment.
 * Text from the results is escaped; the page is UTF-8.
 *
 * `--out -` writes the page to standard output. Exit status: 0 written; 1
 * a chart or the comparison could not be made (the page is still written,
 * saying so); 2 bad usage or an unreadable results file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot-int.h"
#include "plots.h"
#include "results.h"

extern char **environ;

/* ---- HTML helpers ---------------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fputc('?', f);
            else
                fputc(*s, f);
        }
    }
}

static void base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(t[v >> 18 & 63], f);
        fputc(t[v >> 12 & 63], f);
        fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? t[v & 63] : '=', f);
    }
}

static void cell_value(FILE *f, const json_t *m, const char *key)
{
    const json_t *v = json_object_get(m, key);
    if (!json_is_number(v)) {
        fputs("<td class=\"num\">–</td>", f);
        return;
    }
    char buf[48];
    pbr_format_value(buf, sizeof buf, pbr_json_str(m, "unit", ""), json_number_value(v),
                     PBR_FORMAT_CHART);
    fputs("<td class=\"num\">", f);
    esc(f, buf);
    fputs("</td>", f);
}

static const char style[] =
    "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:0 auto;max-width:1180px;"
    "padding:1em 2em;color:#222;line-height:1.4}"
    "h1{font-size:1.6em;margin-bottom:.1em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}"
    ".sub{color:#555;margin-top:0}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.92em}"
    "th,td{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    ".flag{display:inline-block;font-size:.75em;padding:0 .4em;border-radius:.6em;"
    "margin-left:.4em;background:#fde2b8;color:#7a4b00}"
    ".bad{background:#f7c6c6;color:#8a0000}.good{background:#c9ecd7;color:#0b5b2e}"
    ".plain{background:#eee;color:#444}summary{cursor:pointer;color:#333;margin:.5em 0}"
    ".skip{color:#777}figure{margin:1.2em 0;border:1px solid #eee;padding:.5em}"
    "figure img{max-width:100%;height:auto;display:block}"
    "figcaption{color:#555;font-size:.9em}nav a{margin-right:1em}"
    "code{background:#f4f4f4;padding:0 .2em}";

/* ---- the compare verdicts, from `poolbench compare --format json` ---------- */

/* Runs this program's own compare on base and run; its JSON output parsed
 * into *out (NULL with why when it could not). Returns compare's exit
 * status, or -errno. */
static int run_compare(const char *base, const char *run, json_t **out, char *why, size_t len)
{
    *out = NULL;
    char tmpl[PATH_MAX];
    const char *t = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/poolbench-report.XXXXXX", t && *t ? t : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        snprintf(why, len, "cannot create a temporary file: %s", strerror(errno));
        return -errno;
    }
    char errpath[PATH_MAX + 8];
    snprintf(errpath, sizeof errpath, "%s.err", tmpl);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *argv[] = {(char *)"poolbench", (char *)"compare", (char *)"--format", (char *)"json",
                    (char *)"--", (char *)base, (char *)run, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    int status = -1;
    if (rc) {
        snprintf(why, len, "cannot run poolbench compare: %s", strerror(rc));
        status = -rc;
    } else {
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
        status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
        json_error_t je;
        *out = status <= 1 ? json_load_file(tmpl, 0, &je) : NULL;
        if (!*out) {
            char *msg = pb__plot_slurp(errpath, NULL);
            snprintf(why, len, "poolbench compare %s %s: %s", base, run,
                     msg && *msg ? msg : "no verdicts");
            free(msg);
        }
    }
    unlink(tmpl);
    unlink(errpath);
    return status;
}

static void put_compare(FILE *f, const json_t *cmp, const char *why)
{
    fputs("<h2 id=\"compare\">Against the base</h2>\n", f);
    if (!cmp) {
        fputs("<p class=\"bad\">The comparison could not be made: ", f);
        esc(f, why);
        fputs("</p>\n", f);
        return;
    }
    const json_t *rows = json_object_get(cmp, "comparisons");
    size_t n = json_array_size(rows), changed = 0, i;
    const json_t *r;
    json_array_foreach(rows, i, r) {
        const char *v = pbr_json_str(r, "verdict", "");
        changed += !strcmp(v, "regression") || !strcmp(v, "improvement");
    }
    fprintf(f, "<p>The verdicts of <code>poolbench compare</code> (Mann–Whitney U test over "
               "the repetitions): <strong>%lld regression(s)</strong>, %zu change(s) in all, "
               "over %zu metrics. Changes first.</p>\n",
            (long long)pbr_json_num(cmp, "regressions", 0), changed, n);
    /* Changes in one table, everything else folded below it. */
    static const char head[] = "<tr><th>case</th><th>metric</th><th>base</th><th>new</th>"
                               "<th>change</th><th>p</th><th>verdict</th></tr>\n";
    fprintf(f, "<table id=\"compare-table\">%s", head);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            fprintf(f, "</table>\n<details><summary>%zu metrics without a change</summary>\n"
                       "<table id=\"compare-rest\">%s", n - changed, head);
        json_array_foreach(rows, i, r) {
            const char *v = pbr_json_str(r, "verdict", "");
            bool ch = !strcmp(v, "regression") || !strcmp(v, "improvement");
            if (ch != (pass == 0))
                continue;
            const char *unit = pbr_json_str(r, "unit", "");
            char b[48], nw[48];
            pbr_format_value(b, sizeof b, unit, pbr_json_num(r, "base_p50", NAN),
                             PBR_FORMAT_CHART);
            pbr_format_value(nw, sizeof nw, unit, pbr_json_num(r, "new_p50", NAN),
                             PBR_FORMAT_CHART);
            fputs("<tr><td>", f);
            esc(f, pbr_json_str(r, "label", ""));
            fputs("</td><td>", f);
            esc(f, pbr_json_str(r, "metric", ""));
            fprintf(f, "</td><td class=\"num\">");
            esc(f, b);
            fputs("</td><td class=\"num\">", f);
            esc(f, nw);
            double c = pbr_json_num(r, "change_pct", NAN), p = pbr_json_num(r, "p_value", NAN);
            if (isnan(c))
                fputs("</td><td class=\"num\">–", f);
            else
                fprintf(f, "</td><td class=\"num\">%+.1f%%", c);
            if (isnan(p))
                fputs("</td><td class=\"num\">–", f);
            else
                fprintf(f, "</td><td class=\"num\">%.4f", p);
            fprintf(f, "</td><td><span class=\"flag%s\">",
                    !strcmp(v, "regression")    ? " bad"
                    : !strcmp(v, "improvement") ? " good"
                                                : " plain");
            esc(f, v);
            fputs("</span>", f);
            if (json_is_false(json_object_get(r, "trusted")))
                fputs("<span class=\"flag\">untrusted</span>", f);
            fputs("</td></tr>\n", f);
        }
    }
    fputs("</table></details>\n", f);
}

/* ---- the page -------------------------------------------------------------- */

static void put_digest(FILE *f, const json_t *doc)
{
    pbr_digest_entry e[PBR_DIGEST_MAX];
    size_t n = pbr_digest(doc, e, PBR_DIGEST_MAX);
    fputs("<h2 id=\"digest\">Which pool for what</h2>\n<table id=\"digest-table\">\n"
          "<tr><th>for</th><th>this run's answer</th></tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><th>", f);
        esc(f, e[i].question);
        fprintf(f, "</th><td%s>", e[i].answered ? "" : " class=\"skip\"");
        esc(f, e[i].answer);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<p class=\"sub\">From this run on this machine only: the medians of "
          "one run, not a verdict on the pools.</p>\n", f);
}

/* The case's headline metric (its own `headline`, else the first). */
static const json_t *headline(const json_t *c, const char **name)
{
    const json_t *ms = json_object_get(c, "metrics");
    const char *h = pbr_json_str(c, "headline", NULL);
    const json_t *m = h ? json_object_get(ms, h) : NULL;
    if (m) {
        *name = h;
        return m;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ms, k, v) {
        *name = k;
        return v;
    }
    *name = "";
    return NULL;
}

#define PB__REPORT_NOTES 48

static void put_summary(FILE *f, const json_t *doc, pbr_skip_note *notes, size_t *nnotes)
{
    fputs("<h2 id=\"summary\">Every case</h2>\n<p>Each case's headline metric: median "
          "(p50), p99, and the ratio to this run's floor of the same kind (1 = as fast as "
          "the machine's own hand-off).</p>\n<table id=\"summary-table\"><tr><th>case</th>"
          "<th>metric</th><th>p50</th><th>p99</th><th>vs floor</th><th>notes</th></tr>\n",
          f);
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        char label[256];
        pb__plot_case_label(doc, c, label, sizeof label);
        const char *outcome = pbr_json_str(c, "outcome", "");
        fprintf(f, "<tr%s><td>", !strcmp(outcome, "ok") ? "" : " class=\"skip\"");
        esc(f, label);
        fputs("</td>", f);
        if (!strcmp(outcome, "skipped")) {
            int k = pbr_skip_note_add(notes, nnotes, PB__REPORT_NOTES, c);
            if (k)
                fprintf(f, "<td colspan=\"5\">skipped: see <a href=\"#skip-%d\">[%d]</a></td>"
                           "</tr>\n", k, k);
            else {
                fputs("<td colspan=\"5\">skipped: ", f);
                esc(f, pbr_json_str(c, "reason", ""));
                fputs("</td></tr>\n", f);
            }
            continue;
        }
        const char *name;
        const json_t *m = headline(c, &name);
        fputs("<td>", f);
        esc(f, name);
        fputs("</td>", f);
        cell_value(f, m, "p50");
        cell_value(f, m, "p99");
        const json_t *r = json_object_get(m, "ratio_to_floor");
        if (json_is_number(r))
            fprintf(f, "<td class=\"num\">%.2f×</td>", json_number_value(r));
        else
            fputs("<td class=\"num\">–</td>", f);
        fputs("<td>", f);
        if (m && !json_is_true(json_object_get(m, "trusted")))
            fputs("<span class=\"flag\" title=\"the spread is too wide to compare\">untrusted"
                  "</span>", f);
        if (!strcmp(outcome, "failed")) {
            fputs("<span class=\"flag bad\">failed</span> ", f);
            esc(f, pbr_json_str(c, "reason", ""));
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void put_untrusted(FILE *f, const json_t *doc)
{
    fputs("<h2 id=\"untrusted\">Metrics not trusted</h2>\n<p>A metric is not trusted when "
          "fewer than 3 repetitions were taken, its 95% confidence interval of the median is "
          "wider than 10% of the median, or its repetitions' medians spread by more than 25% "
          "(results/FORMAT.md). Such a figure is shown, never to be relied on alone.</p>\n", f);
    size_t i, n = 0;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (strcmp(pbr_json_str(c, "outcome", ""), "ok"))
            continue;
        const char *k;
        json_t *m;
        json_object_foreach(json_object_get(c, "metrics"), k, m) {
            if (json_is_true(json_object_get(m, "trusted")))
                continue;
            if (n++ == 0)
                fputs("<table id=\"untrusted-table\"><tr><th>case</th><th>metric</th>"
                      "<th>p50</th><th>95% CI</th><th>repetitions</th></tr>\n", f);
            char label[256], lo[48], hi[48];
            pb__plot_case_label(doc, c, label, sizeof label);
            const char *unit = pbr_json_str(m, "unit", "");
            pbr_format_value(lo, sizeof lo, unit, pbr_json_num(m, "ci_low", NAN),
                             PBR_FORMAT_CHART);
            pbr_format_value(hi, sizeof hi, unit, pbr_json_num(m, "ci_high", NAN),
                             PBR_FORMAT_CHART);
            fputs("<tr><td>", f);
            esc(f, label);
            fputs("</td><td>", f);
            esc(f, k);
            fputs("</td>", f);
            cell_value(f, m, "p50");
            fputs("<td class=\"num\">", f);
            esc(f, lo);
            fputs(" – ", f);
            esc(f, hi);
            fprintf(f, "</td><td class=\"num\">%zu</td></tr>\n",
                    json_array_size(json_object_get(m, "repetitions")));
        }
    }
    fputs(n ? "</table>\n" : "<p>None: every metric measured is trusted.</p>\n", f);
}

static void put_skips(FILE *f, const pbr_skip_note *notes, size_t n)
{
    if (!n)
        return;
    fputs("<h2 id=\"skipped\">Skipped, and why</h2>\n<ol>\n", f);
    for (size_t k = 0; k < n; k++) {
        fprintf(f, "<li id=\"skip-%zu\"><strong>", k + 1);
        esc(f, notes[k].scenario);
        fputs("</strong> on ", f);
        esc(f, notes[k].backends);
        fputs(": ", f);
        esc(f, notes[k].reason);
        fputs("</li>\n", f);
    }
    fputs("</ol>\n", f);
}

static void env_row(FILE *f, const char *name, const char *value)
{
    fputs("<tr><th>", f);
    esc(f, name);
    fputs("</th><td>", f);
    esc(f, value);
    fputs("</td></tr>\n", f);
}

static void put_environment(FILE *f, const json_t *doc)
{
    const json_t *run = json_object_get(doc, "run"), *env = json_object_get(doc, "environment");
    fputs("<h2 id=\"environment\">The run and its machine</h2>\n<table id=\"env-table\">\n", f);
    env_row(f, "command", pbr_json_str(run, "command", ""));
    env_row(f, "started", pbr_json_str(run, "started", ""));
    char buf[256];
    snprintf(buf, sizeof buf, "%.1f s%s", pbr_json_num(run, "duration_s", 0),
             json_is_false(json_object_get(run, "complete")) ? " (interrupted: incomplete)" : "");
    env_row(f, "duration", buf);
    snprintf(buf, sizeof buf, "%.0f measured, %.0f warm-up", pbr_json_num(run, "repetitions", 0),
             pbr_json_num(run, "warmup", 0));
    env_row(f, "repetitions", buf);
    env_row(f, "pinning", pbr_json_str(run, "pin", ""));
    static const char *const keys[] = {"host", "cpu_model", "os", "kernel", "arch", "governor",
                                       "compiler", "cflags", "build_type", "git_revision"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        env_row(f, keys[k], pbr_json_str(env, keys[k], ""));
    env_row(f, "topology", pbr_json_str(json_object_get(env, "topology"), "summary", ""));
    const json_t *la = json_object_get(env, "loadavg");
    snprintf(buf, sizeof buf, "%.2f %.2f %.2f", json_number_value(json_array_get(la, 0)),
             json_number_value(json_array_get(la, 1)), json_number_value(json_array_get(la, 2)));
    env_row(f, "load average", buf);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(env, "libraries"), k, v) {
        snprintf(buf, sizeof buf, "library %s", k);
        env_row(f, buf, json_string_value(v));
    }
    fputs("</table>\n", f);
}

static void put_chart(FILE *f, const pb__plot_outcome *o)
{
    const char *title = o->chart->title ? o->chart->title : o->chart->summary;
    if (o->status != PB__PLOT_DRAWN) {
        fputs("<p class=\"skip\">", f);
        esc(f, o->chart->name);
        fputs(": ", f);
        esc(f, o->status == PB__PLOT_SKIPPED ? "not drawn: " : "gnuplot failed: ");
        esc(f, o->why);
        fputs("</p>\n", f);
        return;
    }
    size_t len;
    char *svg = pb__plot_slurp(o->path, &len);
    if (!svg)
        return;
    fprintf(f, "<figure id=\"chart-%s\"><img class=\"chart\" alt=\"", o->chart->name);
    esc(f, title);
    fputs("\" src=\"data:image/svg+xml;base64,", f);
    base64(f, (const unsigned char *)svg, len);
    fputs("\"><figcaption>", f);
    esc(f, title);
    fputs(" — ", f);
    esc(f, o->chart->summary);
    fputs("</figcaption></figure>\n", f);
    free(svg);
}

/* ---- the command ----------------------------------------------------------- */

typedef struct report_cli {
    const char *out;
} report_cli;

static const pbr_option report_options[] = {
    {.name = "out", .key = 'o', PBR_STRING(report_cli, out), .arg = "DIR",
     .expect = "a folder name",
     .help = "the folder the page goes to, as DIR/index.html (default:\n"
             "RUN without .json, plus -report); - writes it to standard\n"
             "output"},
    {0},
};

static int run_report(const pbr_args *a);

const pbr_command pb_report_command = {
    .name = "report",
    .summary = "write one self-contained HTML page of a run (and against a base)",
    .synopsis = "RUN.json [BASE.json] [--out DIR|-]",
    .about = "Writes DIR/index.html: which pool for what, every case, every chart (SVG,\n"
             "in the page), the compare verdicts against BASE.json when given, the\n"
             "metrics not trusted, the skip reasons and the environment. It needs no\n"
             "server and nothing else: open it in a browser. - reads standard input.",
    .epilogue = "exit status: 0 written, 1 a chart or the comparison could not be made (the\n"
                "page says so), 2 bad usage or an unreadable results file",
    .options = report_options,
    .opts_size = sizeof(report_cli),
    .operands = "a results file RUN.json, and optionally a base BASE.json",
    .min_operands = 1,
    .max_operands = 2,
    .run = run_report,
};

/* "runs/x.json" -> "runs/x-report"; standard input -> "report". */
static char *default_dir(const char *path)
{
    if (!strcmp(path, "-"))
        return strdup("report");
    size_t len = strlen(path);
    if (len > 5 && !strcmp(path + len - 5, ".json"))
        len -= 5;
    char *out = malloc(len + sizeof "-report");
    if (out) {
        memcpy(out, path, len);
        strcpy(out + len, "-report");
    }
    return out;
}

/* Draws charts of docs into dir as SVG; outcomes appended to *all. */
static int draw(json_t **docs, const char **paths, size_t n, const char *const *charts,
                const char *dir, pb__plot_outcome **all, size_t *nall)
{
    pb__plot_render_opts ro = {.docs = docs, .paths = paths, .ndocs = n, .out_dir = dir,
                               .format = "svg", .charts = charts};
    pb__plot_outcome *o;
    size_t k;
    char err[1024];
    if (pb__plot_render(&ro, &o, &k, err, sizeof err) < 0) {
        fprintf(stderr, "poolbench report: %s\n", err);
        return -1;
    }
    pb__plot_outcome *grown = realloc(*all, (*nall + k + 1) * sizeof *grown);
    if (!grown) {
        free(o);
        return -1;
    }
    memcpy(grown + *nall, o, k * sizeof *o);
    *all = grown;
    *nall += k;
    free(o);
    return 0;
}

static int write_page(FILE *f, const json_t *doc, const char *run_path, const json_t *cmp,
                      const char *cmp_why, bool with_base, const pb__plot_outcome *charts,
                      size_t ncharts)
{
    const json_t *run = json_object_get(doc, "run");
    char *sub = pb__plot_run_subtitle(doc);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
          "poolbench report: ", f);
    esc(f, sub ? sub : run_path);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>poolbench report</h1>\n"
               "<p class=\"sub\">", style);
    esc(f, sub ? sub : "");
    fputs(" · ", f);
    esc(f, run_path);
    fputs("</p>\n", f);
    free(sub);
    if (json_is_false(json_object_get(run, "complete")))
        fputs("<p class=\"bad\">This run was interrupted: it holds the cases finished before."
              "</p>\n", f);
    fputs("<nav><a href=\"#digest\">which pool for what</a><a href=\"#summary\">every case</a>",
          f);
    if (with_base)
        fputs("<a href=\"#compare\">against the base</a>", f);
    fputs("<a href=\"#charts\">charts</a><a href=\"#untrusted\">not trusted</a>"
          "<a href=\"#environment\">environment</a></nav>\n", f);
    put_digest(f, doc);
    pbr_skip_note notes[PB__REPORT_NOTES];
    size_t nnotes = 0;
    if (with_base)
        put_compare(f, cmp, cmp_why);
    put_summary(f, doc, notes, &nnotes);
    fputs("<h2 id=\"charts\">Charts</h2>\n", f);
    for (size_t i = 0; i < ncharts; i++)
        put_chart(f, &charts[i]);
    put_untrusted(f, doc);
    put_skips(f, notes, nnotes);
    put_environment(f, doc);
    fprintf(f, "<p class=\"sub\">Written by poolbench report from %s. The file format: "
               "results/FORMAT.md.</p>\n</body></html>\n", run_path);
    return ferror(f) ? -1 : 0;
}

static int run_report(const pbr_args *a)
{
    const report_cli *cli = a->opts;
    const char *run_path = a->args[0], *base_path = a->nargs > 1 ? a->args[1] : NULL;
    char err[1024];
    json_t *doc = pbr_read(run_path, err, sizeof err);
    json_t *base = doc && base_path ? pbr_read(base_path, err, sizeof err) : NULL;
    if (!doc || (base_path && !base)) {
        fprintf(stderr, "poolbench report: %s\n", err);
        json_decref(doc);
        return 2;
    }
    bool to_stdout = cli->out && !strcmp(cli->out, "-");
    char *dir = cli->out && !to_stdout ? strdup(cli->out) : default_dir(run_path);
    char charts_dir[PATH_MAX] = "";
    const char *t = getenv("TMPDIR");
    snprintf(charts_dir, sizeof charts_dir, "%s/poolbench-report-charts.XXXXXX",
             t && *t ? t : "/tmp");
    int status = 0;
    if (!dir || !mkdtemp(charts_dir)) {
        fprintf(stderr, "poolbench report: cannot create a temporary folder: %s\n",
                strerror(errno));
        charts_dir[0] = '\0';
        status = 2;
    }
    /* Charts: the run's, then base against run. */
    pb__plot_outcome *charts = NULL;
    size_t ncharts = 0;
    if (status == 0) {
        static const char *const per_run[] = {"latency", "cdf-roundtrip", "cdf-retrieval",
                                              "granularity", "map", "contention", "payload",
                                              "timeout", "lifecycle", NULL};
        json_t *one[1] = {doc};
        const char *one_path[1] = {run_path};
        if (draw(one, one_path, 1, per_run, charts_dir, &charts, &ncharts) < 0)
            status = 2;
        /* Charts the others add to the table are drawn too. */
        size_t n;
        const pb__plot_chart *all = pb__plot_charts(&n);
        const char *extra[64];
        size_t nextra = 0;
        for (size_t i = 0; i < n && nextra + 1 < 64; i++) {
            bool listed = false;
            for (const char *const *p = per_run; *p && !listed; p++)
                listed = !strcmp(*p, all[i].name);
            if (!listed && all[i].kind == PB__PLOT_PER_RUN)
                extra[nextra++] = all[i].name;
        }
        extra[nextra] = NULL;
        if (status == 0 && nextra &&
            draw(one, one_path, 1, extra, charts_dir, &charts, &ncharts) < 0)
            status = 2;
        static const char *const cmp_charts[] = {"compare", NULL};
        json_t *two[2] = {base, doc};
        const char *two_path[2] = {base_path, run_path};
        if (status == 0 && base && draw(two, two_path, 2, cmp_charts, charts_dir, &charts,
                                        &ncharts) < 0)
            status = 2;
    }
    json_t *cmp = NULL;
    char cmp_why[1024] = "";
    if (status == 0 && base && run_compare(base_path, run_path, &cmp, cmp_why,
                                           sizeof cmp_why) < 0)
        cmp = NULL;
    char page[PATH_MAX] = "";
    if (status == 0) {
        FILE *f = stdout;
        if (!to_stdout) {
            int rc = pb__plot_mkdir_p(dir);
            snprintf(page, sizeof page, "%s/index.html", dir);
            f = rc == 0 ? fopen(page, "w") : NULL;
            if (!f) {
                fprintf(stderr, "poolbench report: cannot write %s: %s\n", page,
                        strerror(rc ? -rc : errno));
                status = 2;
            }
        }
        if (f) {
            int rc = write_page(f, doc, run_path, cmp, cmp_why, base != NULL, charts, ncharts);
            if ((to_stdout ? fflush(f) : fclose(f)) != 0 || rc < 0) {
                fprintf(stderr, "poolbench report: cannot write %s\n",
                        to_stdout ? "to standard output" : page);
                status = 2;
            } else if (!to_stdout) {
                printf("%s\n", page);
            }
        }
    }
    /* A chart gnuplot failed on, or no comparison: the page says so, the
     * exit status too. */
    for (size_t i = 0; status == 0 && i < ncharts; i++)
        if (charts[i].status == PB__PLOT_FAILED) {
            fprintf(stderr, "poolbench report: chart %s: %s\n", charts[i].chart->name,
                    charts[i].why);
            status = 1;
        }
    if (status == 0 && base && !cmp) {
        fprintf(stderr, "poolbench report: %s\n", cmp_why);
        status = 1;
    }
    for (size_t i = 0; i < ncharts; i++)
        if (charts[i].status == PB__PLOT_DRAWN)
            unlink(charts[i].path);
    if (charts_dir[0])
        rmdir(charts_dir);
    free(charts);
    free(dir);
    json_decref(cmp);
    json_decref(base);
    json_decref(doc);
    return status;
}
