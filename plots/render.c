/*
 * render.c — drawing a set of charts from results documents: what `poolbench
 * plot` prints and what `poolbench report` embeds come from here.
 *
 * For each chart of the table (plot.c) that is wanted and fits the number of
 * documents: its extractor writes the data and the variables (extract.c,
 * multi.c), the data goes to a file in a scratch folder, and gnuplot runs
 * the chart's script on it (gnuplot.c). Each chart ends in one outcome —
 * drawn (its path), skipped (one line saying what the results lack) or
 * failed (gnuplot's complaint) — and one chart's trouble never stops the
 * others. Nothing here prints: the callers decide what the user sees.
 *
 * Every chart gets the variables common.gp documents: title (the table's),
 * chart_id (its name as an identifier, the SVG's internal name), besides the
 * extractor's. gnuplot's SVG terminal titles every file "Gnuplot" or, with
 * a name, with that identifier; a drawn SVG's <title> is then rewritten to
 * the chart's real title, which is what a browser tab and a screen reader
 * show.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot-int.h"
#include "results.h"

int pb__plot_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(buf, &st))
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Appends name='value' to f, doubling any ' as gnuplot wants. */
static void put_assign(FILE *f, const char *name, const char *value)
{
    fprintf(f, "%s='", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputc('\'', f);
        if (*p != '\n' && *p != '\r')
            fputc(*p, f);
    }
    fputs("'; ", f);
}

static int write_file(const char *path, const char *buf, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    size_t w = fwrite(buf, 1, len, f);
    int rc = (w != len || ferror(f)) ? -EIO : 0;
    if (fclose(f) && !rc)
        rc = -errno;
    return rc;
}

/* gnuplot's complaints, up to 20 lines, into why (indented lines). */
static void read_errors(const char *errfile, char *why, size_t len)
{
    FILE *f = fopen(errfile, "r");
    if (!f)
        return;
    char line[512];
    size_t off = strlen(why);
    int shown = 0;
    while (fgets(line, sizeof line, f) && shown < 20 && off < len) {
        if (line[0] == '\n')
            continue;
        off += (size_t)snprintf(why + off, len - off, "\n    %.*s", (int)strcspn(line, "\n"),
                                line);
        shown++;
    }
    fclose(f);
}

/* The file at path, read whole (NUL-terminated); NULL when it cannot be. */
char *pb__plot_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Rewrites the <title> gnuplot gave an SVG (the chart's identifier) to the
 * chart's title, XML-escaped. 0 or -errno (the chart stays as drawn). */
static int svg_retitle(const char *path, const char *id, const char *title)
{
    size_t len;
    char *svg = pb__plot_slurp(path, &len);
    if (!svg)
        return -errno ? -errno : -EIO;
    char old[160];
    snprintf(old, sizeof old, "<title>%s</title>", id);
    char *at = strstr(svg, old);
    if (!at) {
        free(svg);
        return 0;
    }
    char *out = NULL;
    size_t olen = 0;
    FILE *m = open_memstream(&out, &olen);
    if (!m) {
        free(svg);
        return -ENOMEM;
    }
    fwrite(svg, 1, (size_t)(at - svg), m);
    fputs("<title>", m);
    for (const char *p = title; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", m); break;
        case '<': fputs("&lt;", m); break;
        case '>': fputs("&gt;", m); break;
        default: fputc(*p, m);
        }
    }
    fputs("</title>", m);
    fputs(at + strlen(old), m);
    int rc = fclose(m) ? -ENOMEM : 0;
    if (rc == 0)
        rc = write_file(path, out, olen);
    free(out);
    free(svg);
    return rc;
}

/* chart name -> an identifier: "cdf-roundtrip" -> "cdf_roundtrip". */
static void chart_id(const char *name, char *buf, size_t len)
{
    size_t i = 0;
    for (; name[i] && i + 1 < len; i++)
        buf[i] = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                         (name[i] >= '0' && name[i] <= '9')
                     ? name[i]
                     : '_';
    buf[i] = '\0';
}

/* Extracts and draws one chart into *o. Returns 0, or -ENOMEM/-errno for
 * failures that stop the whole rendering. */
static int draw(const pb__plot_render_opts *ro, const char *gnuplot, const char *scripts,
                const char *data_dir, const pb__plot_chart *chart, const pb__plot_input *in,
                pb__plot_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->chart = chart;
    pb__plot_data d;
    int rc = pb__plot_data_init(&d);
    if (rc < 0)
        return rc;
    rc = chart->extract(chart, in, &d);
    int frc = pb__plot_data_finish(&d);
    if (rc < 0 || frc < 0) {
        pb__plot_data_free(&d);
        return rc < 0 ? rc : frc;
    }
    if (rc == PB__PLOT_SKIP) {
        o->status = PB__PLOT_SKIPPED;
        snprintf(o->why, sizeof o->why, "%s", d.why);
        pb__plot_data_free(&d);
        return 0;
    }

    char datafile[PATH_MAX], errfile[PATH_MAX], id[64];
    snprintf(datafile, sizeof datafile, "%s/%s.dat", data_dir, chart->name);
    snprintf(errfile, sizeof errfile, "%s/%s.gnuplot-errors", data_dir, chart->name);
    snprintf(o->path, sizeof o->path, "%s/%s.%s", ro->out_dir, chart->name, ro->format);
    chart_id(chart->name, id, sizeof id);
    o->status = PB__PLOT_FAILED;
    rc = write_file(datafile, d.data_buf, d.data_len);
    if (rc < 0) {
        snprintf(o->why, sizeof o->why, "cannot write %.900s: %s", datafile, strerror(-rc));
        pb__plot_data_free(&d);
        return 0;
    }

    char *assign = NULL;
    size_t alen = 0;
    FILE *a = open_memstream(&assign, &alen);
    if (!a) {
        pb__plot_data_free(&d);
        return -ENOMEM;
    }
    const char *title = chart->title ? chart->title : chart->summary;
    put_assign(a, "datafile", datafile);
    put_assign(a, "outfile", o->path);
    put_assign(a, "fmt", ro->format);
    put_assign(a, "title", title);
    put_assign(a, "chart_id", id);
    fputs(d.vars_buf ? d.vars_buf : "", a);
    pb__plot_data_free(&d);
    if (fclose(a)) {
        free(assign);
        return -ENOMEM;
    }

    /* A stale chart from an earlier run must not pass for this one. */
    unlink(o->path);
    rc = pb__plot_run_gnuplot(gnuplot, scripts, chart->script, assign, errfile);
    free(assign);
    struct stat sb;
    if (rc < 0) {
        snprintf(o->why, sizeof o->why, "cannot run %s: %s", gnuplot, strerror(-rc));
    } else if (rc > 0) {
        snprintf(o->why, sizeof o->why, "gnuplot failed drawing it from %.900s/%s (exit status %d):",
                 scripts, chart->script, rc);
        read_errors(errfile, o->why, sizeof o->why);
        unlink(o->path); /* a half-drawn chart must not look like a result */
    } else if (stat(o->path, &sb) || sb.st_size == 0) {
        snprintf(o->why, sizeof o->why, "gnuplot wrote nothing to %.900s:", o->path);
        read_errors(errfile, o->why, sizeof o->why);
        unlink(o->path);
    } else {
        if (!strcmp(ro->format, "svg"))
            (void)svg_retitle(o->path, id, title);
        o->status = PB__PLOT_DRAWN;
    }
    unlink(errfile);
    if (!ro->keep_data)
        unlink(datafile);
    return 0;
}

/* The run the per-run charts show: the one that started last (the last
 * named among equals). */
size_t pb__plot_newest(json_t *const *docs, size_t n)
{
    size_t best = 0;
    double tbest = -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_object_get(json_object_get(docs[i], "run"), "started_unix");
        double v = json_is_number(t) ? json_number_value(t) : 0;
        if (v >= tbest) {
            tbest = v;
            best = i;
        }
    }
    return best;
}

static bool wanted(const char *const *charts, const char *name)
{
    if (!charts)
        return true;
    for (const char *const *c = charts; *c; c++)
        if (!strcmp(*c, name))
            return true;
    return false;
}

int pb__plot_render(const pb__plot_render_opts *ro, pb__plot_outcome **outcomes, size_t *n,
                    char *err, size_t errlen)
{
    *outcomes = NULL;
    *n = 0;
    char *gnuplot = pb__plot_find_gnuplot();
    if (!gnuplot) {
        snprintf(err, errlen, "gnuplot not found on PATH; install it with "
                              "'sudo apt-get install gnuplot-nox' (or 'make deps')");
        return -ENOENT;
    }
    const char *scripts = pb__plot_scripts_dir(err, errlen);
    int rc = scripts ? pb__plot_mkdir_p(ro->out_dir) : -ENOENT;
    if (scripts && rc < 0)
        snprintf(err, errlen, "cannot create output folder %s: %s", ro->out_dir, strerror(-rc));
    char tmpdir[PATH_MAX] = "";
    const char *data_dir = ro->out_dir;
    if (rc == 0 && !ro->keep_data) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/poolbench-plot.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            rc = -errno;
            snprintf(err, errlen, "cannot create a temporary folder in %s: %s",
                     t && *t ? t : "/tmp", strerror(errno));
            tmpdir[0] = '\0';
        }
        data_dir = tmpdir;
    }
    size_t ncharts;
    const pb__plot_chart *charts = pb__plot_charts(&ncharts);
    pb__plot_outcome *out = rc == 0 ? calloc(ncharts, sizeof *out) : NULL;
    if (rc == 0 && !out) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    size_t newest = pb__plot_newest(ro->docs, ro->ndocs);
    pb__plot_input one = {.docs = ro->docs + newest, .paths = ro->paths + newest, .ndocs = 1,
                          .metrics = ro->metrics};
    pb__plot_input all = {.docs = ro->docs, .paths = ro->paths, .ndocs = ro->ndocs,
                          .metrics = ro->metrics, .backend = ro->backend};
    bool hosts = false; /* runs of more than one host */
    for (size_t i = 1; i < ro->ndocs; i++)
        hosts |= strcmp(pbr_doc_host(ro->docs[i]), pbr_doc_host(ro->docs[0])) != 0;
    for (size_t i = 0; rc == 0 && i < ncharts; i++) {
        const pb__plot_chart *c = &charts[i];
        if (!wanted(ro->charts, c->name))
            continue;
        const pb__plot_input *in = &one;
        if (c->kind == PB__PLOT_HOSTS) {
            /* Only for runs of several hosts, unless asked for by name: its
             * extractor then says why not. */
            if (!hosts && !ro->charts)
                continue;
            in = &all;
        } else if (c->kind != PB__PLOT_PER_RUN) {
            bool fits = c->kind == PB__PLOT_HISTORY ? ro->ndocs >= 2 : ro->ndocs == 2;
            if (!fits) {
                /* Not a lack in the results: only worth a line when asked for. */
                if (ro->charts) {
                    out[*n] = (pb__plot_outcome){.chart = c, .status = PB__PLOT_SKIPPED};
                    snprintf(out[*n].why, sizeof out[*n].why, "needs %s results files, got %zu",
                             c->kind == PB__PLOT_HISTORY ? "two or more" : "exactly two",
                             ro->ndocs);
                    (*n)++;
                }
                continue;
            }
            in = &all;
        }
        rc = draw(ro, gnuplot, scripts, data_dir, c, in, &out[*n]);
        if (rc < 0)
            snprintf(err, errlen, "%s while drawing %s", strerror(-rc), c->name);
        else
            (*n)++;
    }
    if (tmpdir[0])
        rmdir(tmpdir);
    free(gnuplot);
    if (rc < 0) {
        free(out);
        *n = 0;
        return rc;
    }
    *outcomes = out;
    return 0;
}
