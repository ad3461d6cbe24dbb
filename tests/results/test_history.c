/*
 * test_history.c — pbr_paths_expand, pbr_history_list and pbr_history_series
 * on tests/data/history: five daily runs named out of time order, thread's
 * round trip 20% slower from the fourth on (tests/data/make-fixtures.py).
 */
#include <errno.h>
#include <stdlib.h>

#include "results.h"
#include "test-util.h"

#ifndef PB_TEST_DATA_DIR
#error "PB_TEST_DATA_DIR must name tests/data"
#endif

static void load(json_t ***docs, char ***paths, size_t *n)
{
    const char *args[] = {PB_TEST_DATA_DIR "/history"};
    char err[512];
    if (pbr_paths_expand(args, 1, paths, n, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(*n, 5);
    *docs = calloc(*n, sizeof **docs);
    for (size_t i = 0; i < *n; i++) {
        (*docs)[i] = pbr_read((*paths)[i], err, sizeof err);
        if (!(*docs)[i])
            fail_msg("%s", err);
    }
}

static void unload(json_t **docs, char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
    pbr_paths_free(paths);
}

static void paths(void **state)
{
    (void)state;
    json_t **docs;
    char **p;
    size_t n;
    load(&docs, &p, &n);
    /* A folder gives its .json files in name order, NULL-terminated. */
    assert_contains(p[0], "/history/run-a.json");
    assert_contains(p[4], "/history/run-e.json");
    assert_null(p[5]);
    unload(docs, p, n);

    char **q;
    size_t m;
    char err[512];
    const char *missing[] = {PB_TEST_DATA_DIR "/no-such-thing"};
    assert_int_equal(pbr_paths_expand(missing, 1, &q, &m, err, sizeof err), -ENOENT);
    assert_contains(err, "no-such-thing: No such file or directory");
    const char *nojson[] = {PB_TEST_DATA_DIR "/golden"};
    assert_int_equal(pbr_paths_expand(nojson, 1, &q, &m, err, sizeof err), -ENOENT);
    assert_contains(err, "golden: no .json file in this folder");
    const char *file[] = {PB_TEST_DATA_DIR "/quick-base.json", PB_TEST_DATA_DIR "/history/"};
    assert_int_equal(pbr_paths_expand(file, 2, &q, &m, err, sizeof err), 0);
    assert_int_equal(m, 6);
    assert_contains(q[0], "quick-base.json");
    assert_contains(q[1], "/history/run-a.json"); /* no doubled slash */
    assert_null(strstr(q[1], "//"));
    pbr_paths_free(q);
}

static void series(void **state)
{
    (void)state;
    json_t **docs;
    char **p;
    size_t n;
    load(&docs, &p, &n);

    pbr_history_point *pts;
    size_t np;
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, "thread", "roundtrip",
                                        "{\"payload\":8}", "roundtrip", &pts, &np),
                     0);
    assert_int_equal(np, 5);
    /* Time order: e (Dec 1), c, a, d, b; p[] is in name order a..e. */
    const size_t want_doc[] = {4, 2, 0, 3, 1};
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(pts[i].doc, want_doc[i]);
        if (i)
            assert_true(pts[i].started_unix > pts[i - 1].started_unix);
        assert_true(pts[i].ci_low <= pts[i].p50 && pts[i].p50 <= pts[i].ci_high);
        assert_int_equal(pts[i].n, 1800);
    }
    assert_string_equal(pts[0].started, "2026-12-01T08:00:00Z");
    assert_string_equal(pts[3].git_revision, "00000abc0003");
    /* The step: the fourth run's median above the third run's interval. */
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(pts[i].step, i == 3 ? 1 : 0);
        assert_int_equal(pts[i].worse, i == 3);
    }
    assert_true(pts[3].p50 > pts[2].ci_high);
    assert_near(pts[3].change_pct, (pts[3].p50 - pts[2].p50) / pts[2].p50 * 100, 1e-9);
    assert_true(pts[3].change_pct > 15 && pts[3].change_pct < 25);
    assert_near(pts[0].change_pct, 0, 0);
    free(pts);

    /* A series nobody has: no point, no error. */
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, "thread", "roundtrip",
                                        "{\"payload\":9}", "roundtrip", &pts, &np),
                     0);
    assert_int_equal(np, 0);
    assert_null(pts);

    /* The list: every (case, metric) once, in first-appearance order. */
    pbr_series *s;
    size_t ns;
    assert_int_equal(pbr_history_list((const json_t *const *)docs, n, &s, &ns), 0);
    assert_int_equal(ns, 23); /* 3 floor + 3 x 4 round trip + 3 x 2 throughput + 2 recovery */
    assert_string_equal(s[0].backend, "floor");
    assert_string_equal(s[0].metric, "call");
    size_t k = 0;
    while (k < ns && !(strcmp(s[k].backend, "thread") == 0 && strcmp(s[k].metric, "roundtrip") == 0))
        k++;
    assert_true(k < ns);
    assert_string_equal(s[k].params_key, "{\"payload\":8}");
    assert_string_equal(s[k].label, "thread/roundtrip payload=8");
    assert_string_equal(s[k].unit, "ns");
    assert_int_equal(s[k].better, PBR_LOWER);
    for (size_t i = 0; i < ns; i++)
        if (!strcmp(s[i].metric, "throughput"))
            assert_int_equal(s[i].better, PBR_HIGHER);
    pbr_series_free(s, ns);
    unload(docs, p, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(paths), cmocka_unit_test(series)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
