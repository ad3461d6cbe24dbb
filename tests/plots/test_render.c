/*
 * test_render.c — `poolbench plot` end to end, in process: every chart drawn
 * by gnuplot from the golden results files, as PNG and as SVG, each output
 * checked to be a valid file of its kind (PNG: signature, IHDR first, every
 * chunk's CRC, IEND last; SVG: well-formed XML with an <svg> root, parsed by
 * GLib's GMarkup). Also: the lines printed, skip lines, temporary files
 * cleaned up, and the exit status and message of every bad-input path,
 * including gnuplot missing from PATH and a script gnuplot rejects.
 *
 * `poolbench plot` prints to stdout/stderr; run_plot() points both at files for
 * the call and reads them back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "plots.h"

#define DATA PB_TEST_DATA_DIR "/plots"

static char work[256]; /* this test's scratch folder */
static char tmpdir[300];

static const char *const all_charts[] = {"latency",   "cdf-roundtrip", "cdf-retrieval",
                                         "granularity", "map",         "timeout",
                                         "lifecycle", "history",       "compare"};
#define NCHARTS (sizeof all_charts / sizeof all_charts[0])

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    char chunk[8192];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(f);
    fclose(m);
    if (len)
        *len = n;
    return buf;
}

/* Runs `poolbench plot` (pbr_command_main) with argv (NULL-terminated, "plot" first); the text it
 * printed lands in *out and *err (caller frees). Returns its exit status. */
static int run_plot(const char **argv, char **out, char **err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    char **copy = calloc((size_t)argc + 1, sizeof *copy);
    for (int i = 0; i < argc; i++)
        copy[i] = strdup(argv[i]);
    char opath[320], epath[320];
    snprintf(opath, sizeof opath, "%s/stdout", work);
    snprintf(epath, sizeof epath, "%s/stderr", work);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    int status = pbr_command_main(&pb_plot_command, argc, copy);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    for (int i = 0; i < argc; i++)
        free(copy[i]);
    free(copy);
    *out = slurp(opath, NULL);
    *err = slurp(epath, NULL);
    return status;
}

/* ---- PNG ---------------------------------------------------------------- */

static uint32_t crc32_of(const unsigned char *p, size_t n, uint32_t crc)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks a PNG file's structure; returns its width and height. */
static void check_png(const char *path, uint32_t *w, uint32_t *h)
{
    size_t len;
    unsigned char *b = (unsigned char *)slurp(path, &len);
    if (!b)
        fail_msg("%s: not written", path);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 + 25 + 12 || memcmp(b, sig, 8))
        fail_msg("%s: no PNG signature", path);
    size_t off = 8;
    int chunks = 0;
    bool iend = false, idat = false;
    while (off + 12 <= len) {
        uint32_t n = be32(b + off);
        if (off + 12 + n > len)
            fail_msg("%s: chunk %d runs past the end", path, chunks);
        const unsigned char *type = b + off + 4;
        if (chunks == 0) {
            if (memcmp(type, "IHDR", 4) || n != 13)
                fail_msg("%s: first chunk is not a 13-byte IHDR", path);
            *w = be32(type + 4);
            *h = be32(type + 8);
        }
        if (crc32_of(type, 4 + n, 0) != be32(type + 4 + n))
            fail_msg("%s: bad CRC in chunk %.4s", path, (const char *)type);
        idat |= !memcmp(type, "IDAT", 4);
        chunks++;
        off += 12 + n;
        if (!memcmp(type, "IEND", 4)) {
            iend = true;
            break;
        }
    }
    if (!iend || off != len || !idat)
        fail_msg("%s: no IDAT, or IEND missing or not last", path);
    assert_true(*w > 0 && *h > 0);
    free(b);
}

/* ---- SVG ---------------------------------------------------------------- */

typedef struct svg_seen {
    char root[32];
    int depth, elements;
} svg_seen;

static void svg_start(GMarkupParseContext *ctx, const gchar *name, const gchar **attr_names,
                      const gchar **attr_values, gpointer ud, GError **error)
{
    (void)ctx, (void)attr_names, (void)attr_values, (void)error;
    svg_seen *s = ud;
    if (s->depth == 0 && !s->root[0])
        snprintf(s->root, sizeof s->root, "%s", name);
    s->depth++;
    s->elements++;
}

static void svg_end(GMarkupParseContext *ctx, const gchar *name, gpointer ud, GError **error)
{
    (void)ctx, (void)name, (void)error;
    ((svg_seen *)ud)->depth--;
}

static void check_svg(const char *path)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text || len == 0)
        fail_msg("%s: not written or empty", path);
    GMarkupParser parser = {.start_element = svg_start, .end_element = svg_end};
    svg_seen seen = {0};
    GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &seen, NULL);
    GError *error = NULL;
    if (!g_markup_parse_context_parse(ctx, text, (gssize)len, &error) ||
        !g_markup_parse_context_end_parse(ctx, &error))
        fail_msg("%s: not well-formed XML: %s", path, error ? error->message : "?");
    g_markup_parse_context_free(ctx);
    if (strcmp(seen.root, "svg"))
        fail_msg("%s: root element is <%s>, not <svg>", path, seen.root);
    assert_true(seen.elements > 20); /* a chart, not an empty canvas */
    assert_non_null(strstr(text, "viewBox=\"0 0 800 "));
    free(text);
}

/* ---- helpers ------------------------------------------------------------ */

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/pb-plot-test.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(work))
        return -1;
    /* The driver's temporary folders go here, so the test sees them. */
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", work);
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1);
    unsetenv("POOLBENCH_PLOTS_DIR");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    return system(cmd) == 0 ? 0 : -1;
}

/* Every chart from run.json + new.json (two files: history and compare
 * too), in fmt; each printed path, in chart-table order, is a valid file. */
static void render_all(const char *fmt)
{
    char out_dir[320];
    snprintf(out_dir, sizeof out_dir, "%s/%s", work, fmt);
    const char *argv[] = {"plot", DATA "/run.json", DATA "/new.json", "--out", out_dir,
                          "--format", fmt, NULL};
    char *out, *err;
    int status = run_plot(argv, &out, &err);
    if (status != 0)
        fail_msg("exit %d; stderr:\n%s", status, err);
    assert_string_equal(err, ""); /* nothing skipped: the fixtures have it all */
    const char *line = out;
    for (size_t i = 0; i < NCHARTS; i++) {
        char want[400];
        snprintf(want, sizeof want, "%s/%s.%s\n", out_dir, all_charts[i], fmt);
        if (strncmp(line, want, strlen(want)))
            fail_msg("line %zu of the output is not %s", i + 1, want);
        line += strlen(want);
        want[strlen(want) - 1] = '\0';
        if (!strcmp(fmt, "png")) {
            uint32_t w, h;
            check_png(want, &w, &h);
            assert_int_equal(w, 800);
            assert_true(h >= 500);
        } else {
            check_svg(want);
        }
    }
    assert_string_equal(line, "");
    /* Only the charts: data files went to a temporary folder, now gone. */
    assert_int_equal(count_entries(out_dir), (int)NCHARTS);
    assert_int_equal(count_entries(tmpdir), 0);
    free(out);
    free(err);
}

static void test_png(void **state)
{
    (void)state;
    render_all("png");
}

static void test_svg(void **state)
{
    (void)state;
    render_all("svg");
}

/* --keep-data: NAME.dat beside each chart; --chart picks charts. */
static void test_keep_data_and_chart(void **state)
{
    (void)state;
    char out_dir[320];
    snprintf(out_dir, sizeof out_dir, "%s/keep", work);
    const char *argv[] = {"plot", "--chart", "map,timeout", "--keep-data", "--out", out_dir,
                          DATA "/run.json", NULL};
    char *out, *err;
    assert_int_equal(run_plot(argv, &out, &err), 0);
    char want[800];
    snprintf(want, sizeof want, "%s/map.png\n%s/timeout.png\n", out_dir, out_dir);
    assert_string_equal(out, want);
    assert_int_equal(count_entries(out_dir), 4);
    char path[400];
    snprintf(path, sizeof path, "%s/map.dat", out_dir);
    char *dat = slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "\"fork\" p50 ci_low ci_high\n"));
    free(dat);
    free(out);
    free(err);
}

/* Results without a chart's data: that chart skipped with a reason on
 * stderr, the rest drawn, exit 0. */
static void test_skip_lines(void **state)
{
    (void)state;
    char out_dir[320];
    snprintf(out_dir, sizeof out_dir, "%s/sparse", work);
    const char *argv[] = {"plot", DATA "/sparse.json", "--out", out_dir, NULL};
    char *out, *err;
    assert_int_equal(run_plot(argv, &out, &err), 0);
    char want[400];
    snprintf(want, sizeof want, "%s/latency.png\n", out_dir);
    assert_string_equal(out, want);
    assert_non_null(strstr(err, "poolbench plot: skipped map: no case of scenario 'map' in the "
                                "results\n"));
    assert_non_null(strstr(err, "poolbench plot: skipped cdf-roundtrip: metric 'roundtrip' of "
                                "scenario 'roundtrip' has no histogram\n"));
    /* One file: no history/compare lines unless asked for. */
    assert_null(strstr(err, "history"));
    free(out);
    free(err);

    const char *argv2[] = {"plot", DATA "/sparse.json", "--out", out_dir, "--chart", "compare",
                           NULL};
    assert_int_equal(run_plot(argv2, &out, &err), 1); /* nothing drawn */
    assert_non_null(strstr(err, "skipped compare: needs exactly two results files, got 1\n"));
    assert_non_null(strstr(err, "no chart could be drawn"));
    free(out);
    free(err);
}

/* Default output folder: the results file's name without .json + -charts. */
static void test_default_out(void **state)
{
    (void)state;
    char src[400], copy[400];
    snprintf(src, sizeof src, "%s/sparse.json", DATA);
    snprintf(copy, sizeof copy, "%s/myrun.json", work);
    size_t len;
    char *text = slurp(src, &len);
    FILE *f = fopen(copy, "w");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    const char *argv[] = {"plot", copy, "--chart", "latency", NULL};
    char *out, *err;
    assert_int_equal(run_plot(argv, &out, &err), 0);
    char want[400];
    snprintf(want, sizeof want, "%s/myrun-charts/latency.png\n", work);
    assert_string_equal(out, want);
    free(out);
    free(err);
}

static void expect_bad(const char **argv, const char *message)
{
    char *out, *err;
    int status = run_plot(argv, &out, &err);
    if (status != 2 || !strstr(err, message))
        fail_msg("exit %d (want 2); stderr '%s' lacks '%s'", status, err, message);
    /* One clear line. */
    assert_int_equal((int)strlen(err) - 1, (int)strcspn(err, "\n"));
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void test_bad_input(void **state)
{
    (void)state;
    char trunc[400];
    snprintf(trunc, sizeof trunc, "%s/truncated.json", work);
    FILE *f = fopen(trunc, "w");
    fputs("{\"schema\": \"poolbench-results/1\", \"run\": {", f);
    fclose(f);
    const char *a1[] = {"plot", NULL};
    expect_bad(a1, "poolbench plot: needs results files or folders");
    const char *a2[] = {"plot", "/nonexistent/x.json", NULL};
    expect_bad(a2, "/nonexistent/x.json");
    const char *a3[] = {"plot", trunc, NULL};
    expect_bad(a3, trunc);
    const char *a4[] = {"plot", DATA "/run.json", "--format", "jpg", NULL};
    expect_bad(a4, "--format: expected png or svg, got 'jpg'");
    const char *a5[] = {"plot", DATA "/run.json", "--chart", "latency,pie", NULL};
    expect_bad(a5, "unknown chart 'pie'");
    const char *a6[] = {"plot", DATA "/run.json", "--metric", "roundtrip", NULL};
    expect_bad(a6, "--metric: 'roundtrip' is not SCENARIO/METRIC");
    const char *a7[] = {"plot", DATA "/run.json", "--bogus", NULL};
    expect_bad(a7, "unknown option '--bogus'");
    const char *a8[] = {"plot", DATA "/run.json", "--out", NULL};
    expect_bad(a8, "--out needs a value");
}

/* No gnuplot on PATH: how to install it, exit 2, nothing written. */
static void test_no_gnuplot(void **state)
{
    (void)state;
    char *saved = strdup(getenv("PATH") ? getenv("PATH") : "");
    char empty[320], out_dir[320];
    snprintf(empty, sizeof empty, "%s/empty-bin", work);
    snprintf(out_dir, sizeof out_dir, "%s/none", work);
    mkdir(empty, 0700);
    setenv("PATH", empty, 1);
    const char *argv[] = {"plot", DATA "/run.json", "--out", out_dir, NULL};
    expect_bad(argv, "gnuplot not found on PATH; install it with 'sudo apt-get install "
                     "gnuplot-nox' (or 'make deps')");
    setenv("PATH", saved, 1);
    free(saved);
    assert_int_equal(count_entries(out_dir), -1); /* not even the folder */
}

/* A script gnuplot rejects: that chart fails with gnuplot's message, no
 * half-written chart is left, the others are drawn, exit 1. And a scripts
 * folder without common.gp is bad input. */
static void test_script_errors(void **state)
{
    (void)state;
    char dir[320], path[400], out_dir[320];
    snprintf(dir, sizeof dir, "%s/scripts", work);
    snprintf(out_dir, sizeof out_dir, "%s/broken", work);
    mkdir(dir, 0700);
    static const char *const copy[] = {"common.gp", "map.gp"};
    for (size_t i = 0; i < 2; i++) {
        char src[400];
        size_t len;
        snprintf(src, sizeof src, "%s/%s", PB_PLOTS_SCRIPTS_DIR, copy[i]);
        snprintf(path, sizeof path, "%s/%s", dir, copy[i]);
        char *text = slurp(src, &len);
        assert_non_null(text);
        FILE *f = fopen(path, "w");
        fwrite(text, 1, len, f);
        fclose(f);
        free(text);
    }
    snprintf(path, sizeof path, "%s/latency.gp", dir);
    FILE *f = fopen(path, "w");
    fputs("load 'common.gp'\nplot datafile using 1:frobnicate\n", f);
    fclose(f);
    setenv("POOLBENCH_PLOTS_DIR", dir, 1);
    const char *argv[] = {"plot", DATA "/run.json", "--chart", "latency,map", "--out", out_dir,
                          NULL};
    char *out, *err;
    assert_int_equal(run_plot(argv, &out, &err), 1);
    assert_non_null(strstr(err, "poolbench plot: gnuplot failed drawing latency from "));
    assert_non_null(strstr(err, "    ")); /* gnuplot's own complaint, indented */
    char want[400];
    snprintf(want, sizeof want, "%s/map.png\n", out_dir);
    assert_string_equal(out, want);
    snprintf(path, sizeof path, "%s/latency.png", out_dir);
    assert_int_equal(access(path, F_OK), -1);
    free(out);
    free(err);

    setenv("POOLBENCH_PLOTS_DIR", work, 1); /* no common.gp there */
    const char *argv2[] = {"plot", DATA "/run.json", "--out", out_dir, NULL};
    expect_bad(argv2, "holds no common.gp");
    unsetenv("POOLBENCH_PLOTS_DIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png),          cmocka_unit_test(test_svg),
        cmocka_unit_test(test_keep_data_and_chart), cmocka_unit_test(test_skip_lines),
        cmocka_unit_test(test_default_out),  cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_no_gnuplot),   cmocka_unit_test(test_script_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
