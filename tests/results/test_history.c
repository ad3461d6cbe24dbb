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

/* The series of backend/scenario/metric with params key in s[0..ns). */
static const pbr_series *find_series(const pbr_series *s, size_t ns, const char *backend,
                                     const char *scenario, const char *key, const char *metric)
{
    for (size_t i = 0; i < ns; i++)
        if (!strcmp(s[i].backend, backend) && !strcmp(s[i].scenario, scenario) &&
            !strcmp(s[i].params_key, key) && !strcmp(s[i].metric, metric))
            return &s[i];
    return NULL;
}

/* Multiplies the p50, interval and repetitions of thread's round trip in
 * doc by f. */
static void scale_roundtrip(json_t *doc, double f)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "backend")), "thread") ||
            strcmp(json_string_value(json_object_get(c, "scenario")), "roundtrip"))
            continue;
        json_t *m = json_object_get(json_object_get(c, "metrics"), "roundtrip");
        const char *keys[] = {"p50", "ci_low", "ci_high"};
        for (size_t k = 0; k < 3; k++)
            json_object_set_new(m, keys[k],
                                json_real(json_number_value(json_object_get(m, keys[k])) * f));
        json_t *reps = json_object_get(m, "repetitions");
        for (size_t k = 0; k < json_array_size(reps); k++)
            json_array_set_new(reps, k, json_real(json_number_value(json_array_get(reps, k)) * f));
    }
}

static void series(void **state)
{
    (void)state;
    json_t **docs;
    char **p;
    size_t n;
    load(&docs, &p, &n);

    /* The list: every (case, metric) once, in first-appearance order. */
    pbr_series *s;
    size_t ns;
    assert_int_equal(pbr_history_list((const json_t *const *)docs, n, &s, &ns), 0);
    assert_int_equal(ns, 23); /* 3 floor + 3 x 4 round trip + 3 x 2 throughput + 2 recovery */
    assert_string_equal(s[0].backend, "floor");
    assert_string_equal(s[0].metric, "call");
    const pbr_series *rt = find_series(s, ns, "thread", "roundtrip", "{\"payload\":8}", "roundtrip");
    assert_non_null(rt);
    assert_string_equal(rt->label, "thread/roundtrip payload=8");
    assert_string_equal(rt->unit, "ns");
    assert_int_equal(rt->better, PBR_LOWER);
    assert_string_equal(rt->group, "host vm, suite ci, workers 0, pin none");
    for (size_t i = 0; i < ns; i++)
        if (!strcmp(s[i].metric, "throughput"))
            assert_int_equal(s[i].better, PBR_HIGHER);

    pbr_history_point *pts;
    size_t np;
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, rt, NULL, &pts, &np), 0);
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
    assert_string_equal(pts[0].label, "12-01 08:00 00000ab");
    assert_string_equal(pts[3].git_revision, "00000abc0003");
    /* One change point: the runs from the fourth on, about 20% slower. */
    for (size_t i = 0; i < np; i++) {
        assert_int_equal(pts[i].step, i == 3 ? 1 : 0);
        assert_int_equal(pts[i].worse, i == 3);
    }
    assert_true(pts[3].step_pct > 15 && pts[3].step_pct < 25);
    assert_near(pts[3].change_pct, (pts[3].p50 - pts[2].p50) / pts[2].p50 * 100, 1e-9);
    assert_near(pts[0].change_pct, 0, 0);
    free(pts);

    /* A threshold above the step: none. */
    pbr_history_opts wide = {.threshold = 30, .alpha = 0.01};
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, rt, &wide, &pts, &np), 0);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(pts[i].step, 0);
    free(pts);

    /* A series nobody has: no point, no error. */
    pbr_series none = *rt;
    none.params_key = "{\"payload\":9}";
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, &none, NULL, &pts, &np), 0);
    assert_int_equal(np, 0);
    assert_null(pts);
    pbr_series_free(s, ns);
    unload(docs, p, n);
}

/* A change inside the noise band is no step, however significant; steps
 * hold within one group of runs; repeated labels are told apart. */
static void noise_and_groups(void **state)
{
    (void)state;
    json_t **docs;
    char **p;
    size_t n;
    load(&docs, &p, &n);
    /* Undo the 20% step (runs d and b), then make them 1% slower: every
     * repetition moves, so the test alone would call it significant. */
    for (size_t i = 0; i < n; i++)
        if (strstr(p[i], "run-d") || strstr(p[i], "run-b"))
            scale_roundtrip(docs[i], 1.01 / 1.2);
    pbr_series *s;
    size_t ns;
    assert_int_equal(pbr_history_list((const json_t *const *)docs, n, &s, &ns), 0);
    const pbr_series *rt = find_series(s, ns, "thread", "roundtrip", "{\"payload\":8}", "roundtrip");
    pbr_history_point *pts;
    size_t np;
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, rt, NULL, &pts, &np), 0);
    assert_int_equal(np, 5);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(pts[i].step, 0);
    free(pts);
    /* With no band at all the same 1% is a step: it was the band. */
    pbr_history_opts none = {.threshold = 0, .alpha = 0.01};
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, rt, &none, &pts, &np), 0);
    size_t steps = 0;
    for (size_t i = 0; i < np; i++)
        steps += pts[i].step != 0;
    assert_true(steps >= 1);
    free(pts);
    pbr_series_free(s, ns);

    /* A pinned run and another host's: series of their own. */
    json_object_set_new(json_object_get(docs[0], "run"), "pin", json_string("compact"));
    json_object_set_new(json_object_get(docs[1], "environment"), "host", json_string("other"));
    assert_int_equal(pbr_history_list((const json_t *const *)docs, n, &s, &ns), 0);
    assert_int_equal(ns, 3 * 23);
    rt = find_series(s, ns, "thread", "roundtrip", "{\"payload\":8}", "roundtrip");
    assert_string_equal(rt->host, "vm");
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, rt, NULL, &pts, &np), 0);
    assert_int_equal(np, 3);
    for (size_t i = 0; i < np; i++)
        assert_true(pts[i].doc != 0 && pts[i].doc != 1);
    free(pts);
    pbr_series_free(s, ns);

    /* Two runs of the same minute and revision: distinct labels. */
    for (size_t i = 2; i < n; i++) {
        json_object_set_new(json_object_get(docs[i], "run"), "started",
                            json_string("2026-12-09T08:00:00Z"));
        json_object_set_new(json_object_get(docs[i], "environment"), "git_revision",
                            json_string("abcdef0"));
    }
    assert_int_equal(pbr_history_list((const json_t *const *)docs, n, &s, &ns), 0);
    rt = find_series(s, ns, "thread", "roundtrip", "{\"payload\":8}", "roundtrip");
    assert_int_equal(pbr_history_series((const json_t *const *)docs, n, rt, NULL, &pts, &np), 0);
    assert_int_equal(np, 3);
    assert_string_equal(pts[0].label, "12-09 08:00 abcdef0");
    assert_string_equal(pts[1].label, "12-09 08:00 abcdef0 #2");
    assert_string_equal(pts[2].label, "12-09 08:00 abcdef0 #3");
    free(pts);
    pbr_series_free(s, ns);
    unload(docs, p, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(paths), cmocka_unit_test(series),
                                       cmocka_unit_test(noise_and_groups)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
