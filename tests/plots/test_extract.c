/*
 * test_extract.c — the data behind each chart, from golden results files.
 *
 * Two kinds of check. Golden: each chart's data file and gnuplot variables,
 * extracted from tests/data/plots/run.json (and new.json, history/), must
 * equal tests/data/plots/expected/CHART.{dat,vars} byte for byte, so any
 * change to what a chart shows is a visible diff. Regenerate them with
 *     PB_UPDATE_GOLDEN=1 ./test_extract
 * and read the diff before committing. Independent: the numbers in those
 * files are checked against the results file itself, read here with
 * jansson (p50 of each backend, the floor the metric names, CDF shape,
 * steps as pbr_history_series() reports them), and the skip reasons for
 * results that lack a chart's data.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plot-int.h"
#include "results.h"

#define DATA PB_TEST_DATA_DIR "/plots"

static json_t *load(const char *name)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", DATA, name);
    json_t *doc = pbr_read(path, err, sizeof err);
    if (!doc)
        fail_msg("cannot read fixture: %s", err);
    return doc;
}

/* Runs one chart's extractor over docs; returns its status, d finished. */
static int extract(const char *chart, json_t **docs, const char **names, size_t n,
                   const char *const *metrics, pb__plot_data *d)
{
    const pb__plot_chart *c = pb__plot_chart_find(chart);
    assert_non_null(c);
    assert_int_equal(pb__plot_data_init(d), 0);
    pb__plot_input in = {.docs = docs, .paths = names, .ndocs = n, .metrics = metrics};
    int rc = c->extract(c, &in, d);
    assert_int_equal(pb__plot_data_finish(d), 0);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* Compares text with expected/NAME, or writes it there when updating. */
static void golden(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/expected/%s", DATA, name);
    if (getenv("PB_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return;
    }
    char *want = slurp(path);
    if (!want)
        fail_msg("missing golden file %s (PB_UPDATE_GOLDEN=1 writes it)", path);
    if (strcmp(want, text)) {
        /* Name the first line that differs. */
        const char *a = want, *b = text;
        int line = 1;
        while (*a && *a == *b) {
            line += *a == '\n';
            a++;
            b++;
        }
        print_error("%s differs from the extraction at line %d:\n  want: %.*s\n  got:  %.*s\n",
                    path, line, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
        free(want);
        fail();
    }
    free(want);
}

static void golden_pair(const char *chart, const pb__plot_data *d)
{
    char name[128];
    snprintf(name, sizeof name, "%s.dat", chart);
    golden(name, d->data_buf);
    snprintf(name, sizeof name, "%s.vars", chart);
    golden(name, d->vars_buf);
}

/* The metric `metric` of the case (backend, scenario) with params matching
 * key=value (value < 0: any). */
static const json_t *metric_of(const json_t *doc, const char *backend, const char *scenario,
                               const char *key, double value, const char *metric)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "backend")), backend) ||
            strcmp(json_string_value(json_object_get(c, "scenario")), scenario))
            continue;
        if (key) {
            const json_t *v = json_object_get(json_object_get(c, "params"), key);
            if (!json_is_number(v) || json_number_value(v) != value)
                continue;
        }
        const json_t *m = json_object_get(json_object_get(c, "metrics"), metric);
        if (m)
            return m;
    }
    return NULL;
}

/* The same, for a string parameter. */
static const json_t *metric_of_s(const json_t *doc, const char *backend, const char *scenario,
                                 const char *key, const char *value, const char *metric)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        const char *v = json_string_value(json_object_get(json_object_get(c, "params"), key));
        if (!strcmp(json_string_value(json_object_get(c, "backend")), backend) &&
            !strcmp(json_string_value(json_object_get(c, "scenario")), scenario) && v &&
            !strcmp(v, value))
            return json_object_get(json_object_get(c, "metrics"), metric);
    }
    return NULL;
}

static double stat(const json_t *m, const char *k)
{
    return json_number_value(json_object_get(m, k));
}

/* The numeric fields after the quoted label of the row starting with
 * "label" in block `block` (0-based, blocks separated by two blank lines).
 * Returns the number of fields read into v. */
static int row(const char *text, int block, const char *label, double *v, int max)
{
    const char *p = text;
    for (int b = 0; b < block; b++) {
        p = strstr(p, "\n\n\n");
        if (!p)
            return -1;
        p += 3;
    }
    const char *end = strstr(p, "\n\n\n");
    char want[128];
    snprintf(want, sizeof want, "\"%s\"", label);
    for (const char *line = p; line && *line && (!end || line < end);
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, want, strlen(want)) || line[strlen(want)] != ' ')
            continue;
        const char *q = line + strlen(want);
        int n = 0;
        while (n < max && *q && *q != '\n') {
            while (*q == ' ')
                q++;
            if (*q == '"') { /* a string field: skip it */
                q = strchr(q + 1, '"');
                q = q ? q + 1 : "";
                v[n++] = NAN;
                continue;
            }
            char *e;
            v[n] = strtod(q, &e);
            if (e == q)
                break;
            q = e;
            n++;
        }
        return n;
    }
    return -1;
}

static void assert_close(double got, double want)
{
    if (!(fabs(got - want) <= 1e-5 * fabs(want) + 1e-9))
        fail_msg("got %.9g, want %.9g", got, want);
}

static json_t *run_doc;
static json_t *new_doc;
static json_t *sparse_doc;

static int setup(void **state)
{
    (void)state;
    run_doc = load("run.json");
    new_doc = load("new.json");
    sparse_doc = load("sparse.json");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(run_doc);
    json_decref(new_doc);
    json_decref(sparse_doc);
    return 0;
}

static const char *run_name[] = {"run.json"};

static void test_latency(void **state)
{
    (void)state;
    pb__plot_data d;
    assert_int_equal(extract("latency", &run_doc, run_name, 1, NULL, &d), 0);
    golden_pair("latency", &d);
    static const struct { const char *backend, *floor; } want[] = {
        {"thread", "futex_pingpong"}, {"fork", "pipe_pingpong"}, {"exec", "pipe_pingpong"}};
    for (size_t i = 0; i < 3; i++) {
        double v[8];
        /* lt p50 p99 p999 floor "floor_name" */
        assert_int_equal(row(d.data_buf, 0, want[i].backend, v, 8), 6);
        assert_int_equal((int)v[0], (int)i + 1);
        const json_t *m = metric_of(run_doc, want[i].backend, "roundtrip", NULL, 0, "roundtrip");
        assert_close(v[1], stat(m, "p50"));
        assert_close(v[2], stat(m, "p99"));
        assert_close(v[3], stat(m, "p999"));
        const json_t *fm = metric_of(run_doc, "floor", want[i].floor, NULL, 0, "roundtrip");
        assert_close(v[4], stat(fm, "p50"));
    }
    assert_non_null(strstr(d.vars_buf, "nrows=3; "));
    assert_non_null(strstr(d.vars_buf, "has_floor=1; "));
    pb__plot_data_free(&d);
}

/* F must rise from 0 to 1 over increasing x, one block per series, labels
 * naming the parameter that varies (via) and not the one that does not. */
static void check_cdf_blocks(const char *text, int nblocks)
{
    const char *p = text;
    int blocks = 0;
    while ((p = strchr(p, '"'))) {
        blocks++;
        const char *line = strchr(p, '\n') + 1;
        double lastx = 0, lastf = -1, f = 0;
        int points = 0;
        while (*line && *line != '\n' && *line != '"') {
            double x;
            assert_int_equal(sscanf(line, "%lf %lf", &x, &f), 2);
            assert_true(x > lastx);
            assert_true(f >= lastf && f >= 0 && f <= 1);
            if (points == 0)
                assert_true(f == 0);
            lastx = x;
            lastf = f;
            points++;
            line = strchr(line, '\n') + 1;
        }
        assert_true(points >= 2);
        assert_true(f == 1);
        p = line;
    }
    assert_int_equal(blocks, nblocks);
}

static void test_cdf(void **state)
{
    (void)state;
    pb__plot_data d;
    assert_int_equal(extract("cdf-roundtrip", &run_doc, run_name, 1, NULL, &d), 0);
    golden_pair("cdf-roundtrip", &d);
    check_cdf_blocks(d.data_buf, 3);
    assert_non_null(strstr(d.data_buf, "\"thread\" F\n"));
    assert_null(strstr(d.data_buf, "samples=")); /* the same everywhere: not in labels */
    /* Every bucket edge of the histogram is one point: a bucket adds its
     * upper edge, and its lower edge too unless the previous bucket ended
     * there. */
    const json_t *h = json_object_get(
        metric_of(run_doc, "thread", "roundtrip", NULL, 0, "roundtrip"), "histogram");
    size_t nb = json_array_size(json_object_get(h, "counts")), edges = 0;
    for (size_t b = 0; b < nb; b++) {
        double lo = json_number_value(json_array_get(json_object_get(h, "lower"), b));
        edges += 1 + (b == 0 || lo != json_number_value(
                                          json_array_get(json_object_get(h, "upper"), b - 1)));
    }
    const char *blk = strstr(d.data_buf, "\"thread\" F\n");
    const char *blk_end = strstr(blk, "\n\n\n");
    size_t lines = 0; /* the header's newline and one per point but the last */
    for (const char *q = blk; q < blk_end; q++)
        lines += *q == '\n';
    assert_int_equal(lines, edges);
    pb__plot_data_free(&d);

    assert_int_equal(extract("cdf-retrieval", &run_doc, run_name, 1, NULL, &d), 0);
    golden_pair("cdf-retrieval", &d);
    check_cdf_blocks(d.data_buf, 9);
    /* via varies: one panel per value, each backend in its own colour in
     * each, the panel naming the value rather than the legend. */
    assert_null(strstr(d.data_buf, "via="));
    assert_non_null(strstr(d.vars_buf, "lts='1 2 3 1 2 3 1 2 3'; npanels=3; "
                                       "panel_series='3 3 3'; panel_titles='\"via=result\" "
                                       "\"via=callback\" \"via=as_completed\"'; "));
    /* Panel by panel: thread's callback block comes after every result block. */
    const char *r = strstr(d.data_buf, "\"exec\" F\n");
    const char *cb = strstr(r + 1, "\"thread\" F\n");
    assert_true(r && cb);
    const json_t *hr = json_object_get(
        metric_of_s(run_doc, "thread", "retrieval", "via", "callback", "retrieval"), "histogram");
    char first[64];
    snprintf(first, sizeof first, "\"thread\" F\n%.6g 0\n",
             json_number_value(json_array_get(json_object_get(hr, "lower"), 0)));
    assert_ptr_equal(strstr(r, first), cb);
    assert_non_null(strstr(d.vars_buf, "what='Retrieval latency'; "));
    pb__plot_data_free(&d);

    /* Without a varying parameter, one panel. */
    assert_int_equal(extract("cdf-roundtrip", &run_doc, run_name, 1, NULL, &d), 0);
    assert_non_null(strstr(d.vars_buf, "npanels=1; panel_series='3'; "));
    pb__plot_data_free(&d);
}

static void test_granularity(void **state)
{
    (void)state;
    pb__plot_data d;
    assert_int_equal(extract("granularity", &run_doc, run_name, 1, NULL, &d), 0);
    golden_pair("granularity", &d);
    /* Blocks 0-2 throughput (tasks/s), 3-5 efficiency from the sweep (%),
     * 6 METG. Check one row of each against the results. */
    double v[8];
    const char *t = d.data_buf;
    /* fork's throughput at 10 µs: third row of block 1. */
    const char *blk = strstr(t, "\"fork\" p50 ci_low ci_high\n");
    assert_non_null(blk);
    const json_t *m = metric_of(run_doc, "fork", "throughput", "granularity", 10000, "throughput");
    char want[64];
    snprintf(want, sizeof want, "\n10000 %.6g %.6g %.6g\n", stat(m, "p50"), stat(m, "ci_low"),
             stat(m, "ci_high"));
    assert_non_null(strstr(blk, want));
    /* Efficiency comes from the sweep's metric family efficiency_g<NS>,
     * stored as a ratio and drawn in %. */
    m = metric_of(run_doc, "exec", "granularity", NULL, 0, "efficiency_g62500");
    snprintf(want, sizeof want, "\n62500 %.6g %.6g %.6g\n", 100 * stat(m, "p50"),
             100 * stat(m, "ci_low"), 100 * stat(m, "ci_high"));
    blk = strstr(t, "\"exec\" p50 ci_low ci_high\n");
    blk = strstr(blk + 1, "\"exec\" p50 ci_low ci_high\n"); /* exec's efficiency block */
    assert_non_null(blk);
    assert_non_null(strstr(blk, want));
    /* 10 points, 1 ms down by halves while >= 1 µs, ascending. */
    assert_non_null(strstr(blk, "\n1953 "));
    assert_true(strstr(blk, "\n1953 ") < strstr(blk, "\n1000000 "));
    /* METG rows: backend, lt, metg in ns. */
    assert_int_equal(row(t, 6, "exec", v, 4), 2);
    assert_int_equal((int)v[0], 3);
    assert_close(v[1], stat(metric_of(run_doc, "exec", "granularity", NULL, 0, "metg"), "p50"));
    assert_non_null(strstr(d.vars_buf, "ntput=3; "));
    assert_non_null(strstr(d.vars_buf, "neff=3; "));
    assert_non_null(strstr(d.vars_buf, "nmetg=3; "));
    assert_non_null(strstr(d.vars_buf, "gmin=1000; ")); /* the burst scenario's 1 µs */
    assert_non_null(strstr(d.vars_buf, "gmax=1e+06; "));
    assert_non_null(strstr(d.vars_buf, "has_zero=1; "));
    assert_non_null(strstr(d.vars_buf, "metg_note='METG(50%): thread "));
    pb__plot_data_free(&d);
}

static void test_map(void **state)
{
    (void)state;
    pb__plot_data d;
    assert_int_equal(extract("map", &run_doc, run_name, 1, NULL, &d), 0);
    golden_pair("map", &d);
    /* Rows sorted by chunk size; "tasks" is the same everywhere: no label. */
    const char *blk = strstr(d.data_buf, "\"exec\" p50 ci_low ci_high\n");
    assert_non_null(blk);
    const char *c1 = strstr(blk, "\n1 "), *c16 = strstr(blk, "\n16 "), *c256 = strstr(blk, "\n256 ");
    assert_true(c1 && c16 && c256 && c1 < c16 && c16 < c256);
    assert_null(strstr(d.data_buf, "tasks="));
    assert_non_null(strstr(d.vars_buf, "nseries=3; lts='1 2 3'; "));
    pb__plot_data_free(&d);
}

static void test_timeout(void **state)
{
    (void)state;
    pb__plot_data d;
    assert_int_equal(extract("timeout", &run_doc, run_name, 1, NULL, &d), 0);
    golden_pair("timeout", &d);
    double v[10];
    /* "1 ms" x floor p50 p99 (thread) p50 p99 (fork) p50 p99 (exec) */
    assert_int_equal(row(d.data_buf, 0, "1 ms", v, 10), 8);
    assert_close(v[0], 1e6);
    /* The floor of the same deadline (the harness matches the timeout). */
    assert_close(v[1], stat(metric_of(run_doc, "floor", "timedwait", "timeout", 1e6, "overshoot"),
                            "p50"));
    const json_t *m = metric_of(run_doc, "fork", "timeout", "timeout", 1e6, "overshoot");
    assert_close(v[4], stat(m, "p50"));
    assert_close(v[5], stat(m, "p99"));
    assert_int_equal(row(d.data_buf, 0, "0", v, 10), 8);
    assert_true(isnan(v[1])); /* a poll has no floor */
    assert_int_equal(row(d.data_buf, 0, "100 µs", v, 10), 8);
    assert_int_equal(row(d.data_buf, 0, "10 ms", v, 10), 8);
    assert_non_null(strstr(d.vars_buf, "has_floor=1; floor_name='timedwait'; "));
    pb__plot_data_free(&d);
}

static void test_lifecycle(void **state)
{
    (void)state;
    pb__plot_data d;
    assert_int_equal(extract("lifecycle", &run_doc, run_name, 1, NULL, &d), 0);
    golden_pair("lifecycle", &d);
    assert_non_null(strstr(d.data_buf, "backend lt \"startup\" p99 \"shutdown\" p99 "
                                       "\"recovery fault=segv\" p99 \"recovery fault=abort\" p99 "
                                       "\"recovery fault=exit\" p99 \"recovery fault=hang\" p99\n"));
    double v[16];
    /* lt, then p50 p99 of startup, shutdown, recovery segv/abort/exit/hang */
    assert_int_equal(row(d.data_buf, 0, "thread", v, 16), 13);
    for (int k = 5; k < 13; k++)
        assert_true(isnan(v[k])); /* skipped on threads */
    assert_close(v[1], stat(metric_of(run_doc, "thread", "startup", NULL, 0, "startup"), "p50"));
    assert_int_equal(row(d.data_buf, 0, "exec", v, 16), 13);
    assert_close(v[5], stat(metric_of_s(run_doc, "exec", "faults", "fault", "segv", "recovery"),
                            "p50"));
    assert_close(v[12], stat(metric_of_s(run_doc, "exec", "faults", "fault", "hang", "recovery"),
                             "p99"));
    assert_non_null(strstr(d.vars_buf, "nkinds=6; "));
    /* One note per skipped scenario and backend, not one per fault kind. */
    assert_non_null(strstr(d.vars_buf, "notes='faults skipped on thread: needs process workers: "
                                       "a thread cannot be killed'; "));
    pb__plot_data_free(&d);
}

static void test_history(void **state)
{
    (void)state;
    /* Given in name order (h1..h5); the runs started h5, h2, h3, h1, h4. */
    json_t *docs[5];
    const char *names[5];
    char buf[5][32];
    for (int i = 0; i < 5; i++) {
        snprintf(buf[i], sizeof buf[i], "history/h%d.json", i + 1);
        names[i] = buf[i];
        docs[i] = load(buf[i]);
    }
    pb__plot_data d;
    assert_int_equal(extract("history", docs, names, 5, NULL, &d), 0);
    golden_pair("history", &d);
    /* Block 0: runs in time order, dated 11-10 .. 11-14. */
    const char *b0 = d.data_buf;
    const char *d10 = strstr(b0, "0 \"11-10 08:00"), *d14 = strstr(b0, "4 \"11-14 08:00");
    assert_true(d10 && d14 && d10 < d14);
    /* Steps agree with pbr_history_series: fork's round trip jumps at the
     * fourth run; the chart marks it as worse (1). */
    json_t *params = json_pack("{s:i}", "samples", 2000);
    char *key = pbr_params_key(params);
    json_decref(params);
    pbr_series *all;
    size_t nall;
    assert_int_equal(pbr_history_list((const json_t *const *)docs, 5, &all, &nall), 0);
    const pbr_series *fork = NULL;
    for (size_t i = 0; i < nall && !fork; i++)
        if (!strcmp(all[i].backend, "fork") && !strcmp(all[i].scenario, "roundtrip") &&
            !strcmp(all[i].params_key, key) && !strcmp(all[i].metric, "roundtrip"))
            fork = &all[i];
    assert_non_null(fork);
    pbr_history_point *pts;
    size_t n;
    assert_int_equal(pbr_history_series((const json_t *const *)docs, 5, fork, NULL, &pts, &n), 0);
    pbr_series_free(all, nall);
    assert_int_equal(n, 5);
    const char *blk = strstr(d.data_buf, "\"fork\" p50 ci_low ci_high step\n");
    assert_non_null(blk);
    for (size_t k = 0; k < n; k++) {
        char want[96];
        snprintf(want, sizeof want, "\n%zu %.6g %.6g %.6g %d\n", k, pts[k].p50, pts[k].ci_low,
                 pts[k].ci_high, pts[k].step ? (pts[k].worse ? 1 : -1) : 0);
        assert_non_null(strstr(blk, want));
    }
    assert_int_equal(pts[3].step, 1);
    free(pts);
    free(key);
    assert_non_null(strstr(d.vars_buf, "npanels=2; panel_series='3 3'; "));
    assert_non_null(strstr(d.vars_buf, "panel_units='\"ns\" \"ns\"'; "));
    pb__plot_data_free(&d);

    /* --metric picks the panels; a pattern matching nothing skips. */
    const char *only[] = {"startup/*", NULL};
    assert_int_equal(extract("history", docs, names, 5, only, &d), 0);
    assert_non_null(strstr(d.vars_buf, "npanels=1; "));
    pb__plot_data_free(&d);
    const char *none[] = {"map/*", NULL};
    assert_int_equal(extract("history", docs, names, 5, none, &d), PB__PLOT_SKIP);
    assert_non_null(strstr(d.why, "map/*"));
    pb__plot_data_free(&d);
    for (int i = 0; i < 5; i++)
        json_decref(docs[i]);
}

static void test_compare(void **state)
{
    (void)state;
    json_t *docs[2] = {run_doc, new_doc};
    const char *names[2] = {"run.json", "new.json"};
    pb__plot_data d;
    assert_int_equal(extract("compare", docs, names, 2, NULL, &d), 0);
    golden_pair("compare", &d);
    double v[10];
    /* lt base base_lo base_hi new new_lo new_hi verdict trusted */
    assert_int_equal(row(d.data_buf, 0, "fork/roundtrip", v, 10), 9);
    const json_t *b = metric_of(run_doc, "fork", "roundtrip", NULL, 0, "roundtrip");
    const json_t *n = metric_of(new_doc, "fork", "roundtrip", NULL, 0, "roundtrip");
    assert_close(v[1], 100);
    assert_close(v[4], 100 * stat(n, "p50") / stat(b, "p50"));
    assert_true(v[4] > 120);
    assert_int_equal((int)v[7], -1); /* slower round trip: worse */
    assert_int_equal(row(d.data_buf, 0, "thread/roundtrip", v, 10), 9);
    assert_int_equal((int)v[7], 0);
    /* Headline metrics only by default: no "roundtrip: queueing" rows. */
    assert_null(strstr(d.data_buf, ": queueing"));
    pb__plot_data_free(&d);

    const char *q[] = {"roundtrip/queueing", NULL};
    assert_int_equal(extract("compare", docs, names, 2, q, &d), 0);
    assert_non_null(strstr(d.data_buf, "\"fork/roundtrip: queueing\""));
    assert_non_null(strstr(d.vars_buf, "nrows=3; "));
    pb__plot_data_free(&d);

    /* No common case: skipped. */
    json_t *pair[2] = {sparse_doc, new_doc};
    const char *map_only[] = {"map/*", NULL};
    assert_int_equal(extract("compare", pair, names, 2, map_only, &d), PB__PLOT_SKIP);
    pb__plot_data_free(&d);
}

/* Adds to doc a case of a scenario no table in plots/ knows, with metrics
 * "first" and "second" (copies of fork's round trip), headline as given
 * (NULL: none, as in files written before cases named their headline). */
static void add_new_scenario(json_t *doc, const char *headline)
{
    const json_t *m = metric_of(doc, "fork", "roundtrip", NULL, 0, "roundtrip");
    json_t *c = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:{s:O, s:O}, s:[]}", "backend", "thread",
                          "scenario", "newscenario", "params", "outcome", "ok", "reason", "",
                          "metrics", "first", m, "second", m, "checks");
    assert_non_null(c);
    if (headline)
        json_object_set_new(c, "headline", json_string(headline));
    json_array_append_new(json_object_get(doc, "results"), c);
}

/* The compare chart draws each case's headline metric as the results file
 * names it: a new scenario's chart needs nothing but its own table entry.
 * Without a headline (files from before cases named it), the case's first
 * metric, named in the row. */
/* One backend across hosts: the newest run of each host, one bar per host
 * per case, in % of the first host's median; one host is a skip. */
static void test_hosts(void **state)
{
    (void)state;
    json_t *a = json_deep_copy(run_doc), *b = json_deep_copy(new_doc),
           *old_b = json_deep_copy(run_doc);
    json_object_set_new(json_object_get(a, "environment"), "host", json_string("alpha"));
    json_object_set_new(json_object_get(b, "environment"), "host", json_string("beta"));
    json_object_set_new(json_object_get(old_b, "environment"), "host", json_string("beta"));
    json_object_set_new(json_object_get(old_b, "run"), "started_unix", json_real(1.0));
    json_t *docs[3] = {a, old_b, b};
    const char *names[3] = {"a.json", "old-b.json", "b.json"};
    pb__plot_data d;
    /* One host only: skipped, saying why. */
    assert_int_equal(extract("hosts", docs, names, 1, NULL, &d), PB__PLOT_SKIP);
    assert_non_null(strstr(d.why, "one host (alpha)"));
    pb__plot_data_free(&d);

    assert_int_equal(extract("hosts", docs, names, 3, NULL, &d), 0);
    assert_non_null(strstr(d.vars_buf, "nhosts=2; "));
    assert_non_null(strstr(d.vars_buf, "backend='thread'; "));
    assert_non_null(strstr(d.data_buf, "case \"alpha\" lo hi \"beta\" lo hi\n"));
    /* thread's round trip: alpha at 100%, beta (its newer run, new.json)
     * at new/run of the medians. */
    const json_t *ma = metric_of(run_doc, "thread", "roundtrip", NULL, 0, "roundtrip");
    const json_t *mb = metric_of(new_doc, "thread", "roundtrip", NULL, 0, "roundtrip");
    const char *line = strstr(d.data_buf, "\n\"roundtrip: roundtrip\"");
    assert_non_null(line);
    double v[6];
    assert_int_equal(sscanf(line + strlen("\n\"roundtrip: roundtrip\""), "%lf %lf %lf %lf %lf %lf",
                            &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
                     6);
    assert_close(v[0], 100);
    assert_close(v[3], 100 * stat(mb, "p50") / stat(ma, "p50"));
    assert_close(v[5], 100 * stat(mb, "ci_high") / stat(ma, "p50"));
    pb__plot_data_free(&d);
    json_decref(a);
    json_decref(b);
    json_decref(old_b);
}

static void test_compare_headline(void **state)
{
    (void)state;
    static const struct {
        const char *headline, *row, *not_row;
    } cases[] = {
        {"second", "\"thread/newscenario\"", "thread/newscenario: first"},
        {NULL, "\"thread/newscenario: first\"", "thread/newscenario: second"},
    };
    const char *names[2] = {"run.json", "new.json"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *docs[2] = {json_deep_copy(run_doc), json_deep_copy(new_doc)};
        add_new_scenario(docs[0], cases[k].headline);
        add_new_scenario(docs[1], cases[k].headline);
        pb__plot_data d;
        assert_int_equal(extract("compare", docs, names, 2, NULL, &d), 0);
        assert_non_null(strstr(d.data_buf, cases[k].row));
        assert_null(strstr(d.data_buf, cases[k].not_row));
        pb__plot_data_free(&d);
        json_decref(docs[0]);
        json_decref(docs[1]);
    }
}

/* Results without a chart's data: that chart is skipped, saying why. */
static void test_skips(void **state)
{
    (void)state;
    static const struct { const char *chart, *why; } want[] = {
        {"cdf-roundtrip", "metric 'roundtrip' of scenario 'roundtrip' has no histogram"},
        {"cdf-retrieval", "no case of scenario 'retrieval' in the results"},
        {"granularity", "no usable case of scenario 'throughput'"},
        {"map", "no case of scenario 'map' in the results"},
        {"timeout", "no case of scenario 'timeout' in the results"},
        {"lifecycle", "no usable case for startup/startup, startup/shutdown, faults/recovery"},
    };
    const char *name[] = {"sparse.json"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        pb__plot_data d;
        assert_int_equal(extract(want[i].chart, &sparse_doc, name, 1, NULL, &d), PB__PLOT_SKIP);
        if (!strstr(d.why, want[i].why))
            fail_msg("%s: skip reason '%s' lacks '%s'", want[i].chart, d.why, want[i].why);
        pb__plot_data_free(&d);
    }
    pb__plot_data d;
    assert_int_equal(extract("latency", &sparse_doc, name, 1, NULL, &d), 0);
    assert_non_null(strstr(d.vars_buf, "has_floor=0; "));
    pb__plot_data_free(&d);
}

/* Failed cases are left out and counted; a metric in another unit is named. */
static void test_failed_and_units(void **state)
{
    (void)state;
    json_t *doc = json_deep_copy(run_doc);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        const char *s = json_string_value(json_object_get(c, "scenario"));
        if (!strcmp(s, "map")) {
            json_object_set_new(c, "outcome", json_string("failed"));
            json_object_set_new(c, "reason", json_string("order check failed"));
        }
        if (!strcmp(s, "roundtrip"))
            json_object_set_new(json_object_get(json_object_get(c, "metrics"), "roundtrip"),
                                "unit", json_string("ms"));
    }
    const char *name[] = {"edited.json"};
    pb__plot_data d;
    assert_int_equal(extract("map", &doc, name, 1, NULL, &d), PB__PLOT_SKIP);
    assert_non_null(strstr(d.why, "9 failed, 0 skipped; thread: order check failed"));
    pb__plot_data_free(&d);
    assert_int_equal(extract("latency", &doc, name, 1, NULL, &d), PB__PLOT_SKIP);
    assert_non_null(strstr(d.why, "has unit 'ms', the chart expects 'ns'"));
    pb__plot_data_free(&d);
    json_decref(doc);
}

/* A backend of our own keeps its colour whatever else is in the file; others
 * follow in order of appearance. */
static void test_line_types(void **state)
{
    (void)state;
    assert_int_equal(pb__plot_series_lt(1, 0), 1);
    assert_int_equal(pb__plot_series_lt(2, 1), 10);
    assert_int_equal(pb__plot_series_lt(3, 2), 19);
    assert_int_equal(pb__plot_series_lt(3, 3), 3);
    json_t *doc = json_deep_copy(sparse_doc);
    json_t *results = json_object_get(doc, "results");
    json_t *c = json_deep_copy(json_array_get(results, 0));
    json_object_set_new(c, "backend", json_string("glib"));
    json_array_insert_new(results, 0, c);
    json_t *e = json_deep_copy(json_array_get(results, 1));
    json_object_set_new(e, "backend", json_string("exec"));
    json_array_append_new(results, e);
    const char *name[] = {"x.json"};
    pb__plot_data d;
    assert_int_equal(extract("latency", &doc, name, 1, NULL, &d), 0);
    double v[8];
    assert_int_equal(row(d.data_buf, 0, "thread", v, 8), 6);
    assert_int_equal((int)v[0], 1);
    assert_int_equal(row(d.data_buf, 0, "exec", v, 8), 6);
    assert_int_equal((int)v[0], 3);
    assert_int_equal(row(d.data_buf, 0, "glib", v, 8), 6);
    assert_int_equal((int)v[0], 4);
    /* Rows in line-type order: thread, exec, glib. */
    assert_true(strstr(d.data_buf, "\"thread\"") < strstr(d.data_buf, "\"exec\""));
    assert_true(strstr(d.data_buf, "\"exec\"") < strstr(d.data_buf, "\"glib\""));
    pb__plot_data_free(&d);
    json_decref(doc);
}

static void test_var_quoting(void **state)
{
    (void)state;
    pb__plot_data d;
    assert_int_equal(pb__plot_data_init(&d), 0);
    pb__plot_var_str(&d, "s", "it's \"x\"\nnext");
    pb__plot_var_int(&d, "n", -3);
    pb__plot_var_num(&d, "x", NAN);
    /* A control character from a file shows as an escape, never as a byte
     * in the script (or the SVG: one would not be XML). */
    pb__plot_var_str(&d, "b", "\x1b[31mred");
    assert_int_equal(pb__plot_data_finish(&d), 0);
    assert_string_equal(d.vars_buf,
                        "s='it''s \"x\"\\nnext'; n=-3; x=NaN; b='\\x1b[31mred'; ");
    pb__plot_data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency),     cmocka_unit_test(test_cdf),
        cmocka_unit_test(test_granularity), cmocka_unit_test(test_map),
        cmocka_unit_test(test_timeout),     cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_history),     cmocka_unit_test(test_compare),
        cmocka_unit_test(test_compare_headline), cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_skips),       cmocka_unit_test(test_failed_and_units),
        cmocka_unit_test(test_line_types),  cmocka_unit_test(test_var_quoting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
