/*
 * test_document.c — the results file: writer atomicity, reader errors (one
 * kind each), validation, case keys and labels, the environment object, and
 * the golden files in tests/data.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"
#include "test-util.h"

#ifndef PB_TEST_DATA_DIR
#error "PB_TEST_DATA_DIR must name tests/data"
#endif

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pbr-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
                continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

/* Entries in tmpdir other than . and .. */
static int count_entries(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A small, valid document with one case and one metric. */
static json_t *make_doc(int ncases)
{
    json_t *run = json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:b,s:i,s:i,s:i,s:s,s:s}", "kind", "run",
                            "command", "poolbench run --suite quick", "suite", "quick",
                            "started", "2026-11-21T08:00:00Z", "started_unix", 1795000000.0,
                            "duration_s", 51.2, "complete", 1, "repetitions", 3, "warmup", 1,
                            "workers", 0, "pin", "none", "poolbench_version", "0.1.0");
    json_t *doc = pbr_document_new(run, pbr_environment_new());
    assert_non_null(doc);
    for (int c = 0; c < ncases; c++) {
        const double r0[] = {1000, 1010, 990}, r1[] = {1005, 995, 1000}, r2[] = {1002, 998, 1001};
        const double *reps[] = {r0, r1, r2};
        const size_t lens[] = {3, 3, 3};
        json_t *m = pbr_metric_new("ns", PBR_LOWER, reps, lens, 3, true);
        assert_non_null(m);
        json_t *cs = json_pack("{s:s,s:s,s:{s:i},s:s,s:s,s:{s:s,s:[s,s],s:b},s:{s:o},s:[{s:s,s:b,s:s}]}",
                               "backend", "thread", "scenario", "roundtrip", "params", "payload",
                               8 + c, "outcome", "ok", "reason", "", "binding", "policy", "none",
                               "workers", "", "", "tasks_on_binding", 1, "metrics", "roundtrip",
                               m, "checks", "name", "order", "passed", 1, "reason", "");
        assert_non_null(cs);
        assert_int_equal(json_array_append_new(json_object_get(doc, "results"), cs), 0);
    }
    return doc;
}

static void document_valid_and_environment(void **state)
{
    (void)state;
    json_t *doc = make_doc(2);
    char err[512] = "";
    if (pbr_validate(doc, "mem", err, sizeof err) != 0)
        fail_msg("%s", err);

    json_t *env = json_object_get(doc, "environment");
    assert_true(strlen(json_string_value(json_object_get(env, "host"))) > 0);
    assert_string_equal(json_string_value(json_object_get(env, "os")), "Linux");
    json_t *topo = json_object_get(env, "topology");
    assert_true(json_integer_value(json_object_get(topo, "pus")) >= 1);
    assert_true(json_integer_value(json_object_get(topo, "cores")) >= 1);
    assert_true(strlen(json_string_value(json_object_get(topo, "allowed_cpuset"))) > 0);
    assert_int_equal(json_array_size(json_object_get(env, "loadavg")), 3);
    /* The build defines these for the library; "unknown" would mean it did not. */
    assert_string_not_equal(json_string_value(json_object_get(env, "build_type")), "unknown");
    assert_true(json_is_string(json_object_get(json_object_get(env, "libraries"), "jansson")));
    json_decref(doc);
}

static void write_then_read_back(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/run.json", tmpdir);
    json_t *doc = make_doc(3);
    assert_int_equal(pbr_write_atomic(path, doc, err, sizeof err), 0);

    /* Only the target is left: the temporary file was renamed, not copied. */
    assert_int_equal(count_entries(), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    json_t *back = pbr_read(path, err, sizeof err);
    if (!back)
        fail_msg("%s", err);
    assert_true(json_equal(doc, back));

    /* Rewriting replaces the file whole. */
    json_t *small = make_doc(1);
    assert_int_equal(pbr_write_atomic(path, small, err, sizeof err), 0);
    json_t *back2 = pbr_read(path, err, sizeof err);
    assert_non_null(back2);
    assert_int_equal(json_array_size(json_object_get(back2, "results")), 1);
    assert_int_equal(count_entries(), 1);
    json_decref(doc);
    json_decref(small);
    json_decref(back);
    json_decref(back2);
}

static void failed_write_keeps_old_file(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/keep.json", tmpdir);
    json_t *old = make_doc(1);
    assert_int_equal(pbr_write_atomic(path, old, err, sizeof err), 0);

    /* A file-size limit makes write() fail with EFBIG part way, even for
     * root (permission tricks would not). SIGXFSZ would kill us: ignore it. */
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 512;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    json_t *big = make_doc(20);
    int rc = pbr_write_atomic(path, big, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);

    assert_int_equal(rc, -EFBIG);
    assert_contains(err, path);
    /* The old file is intact and no temporary file is left behind. */
    assert_int_equal(count_entries(), 1);
    json_t *back = pbr_read(path, err, sizeof err);
    if (!back)
        fail_msg("%s", err);
    assert_true(json_equal(old, back));
    json_decref(old);
    json_decref(big);
    json_decref(back);

    /* A folder that does not exist: the error names the path. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.json", tmpdir);
    json_t *doc = make_doc(1);
    assert_int_equal(pbr_write_atomic(bad, doc, err, sizeof err), -ENOENT);
    assert_contains(err, bad);
    json_decref(doc);
}

/* Writes text to tmpdir/name, reads it, expects failure with a message that
 * starts with the path and contains want. */
static void expect_read_error(const char *name, const char *text, const char *want)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (text)
        write_text(path, text);
    json_t *doc = pbr_read(path, err, sizeof err);
    if (doc) {
        json_decref(doc);
        fail_msg("%s was accepted", name);
    }
    assert_true(!strncmp(err, path, strlen(path)));
    assert_contains(err, want);
    assert_null(strchr(err, '\n')); /* one line */
}

/* The text of a valid document with one substitution applied. */
static char *doc_text_with(const char *from, const char *to)
{
    json_t *doc = make_doc(1);
    char *s = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!from)
        return s;
    char *at = strstr(s, from);
    assert_non_null(at);
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *r = malloc(n);
    snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    free(s);
    return r;
}

static void reader_errors(void **state)
{
    (void)state;
    expect_read_error("missing.json", NULL, "cannot open: No such file or directory");
    expect_read_error("empty.json", "\n  \n", "empty file");

    char *full = doc_text_with(NULL, NULL);
    /* Cut after line 40: a truncated write. */
    char *p = full;
    for (int line = 1; line < 40; line++)
        p = strchr(p, '\n') + 1;
    p[0] = '\0';
    expect_read_error("truncated.json", full, "truncated JSON at line 40");
    free(full);

    expect_read_error("garbage.json", "{\"schema\": \"poolbench-results/1\",\n \"run\": nope}",
                      "invalid JSON at line 2");
    expect_read_error("array.json", "[1, 2]", "not a poolbench results file (the top level is an array");
    expect_read_error("noschema.json", "{\"run\": {}}", "not a poolbench results file (no 'schema' field)");
    expect_read_error("other.json", "{\"schema\": \"chrome-trace/3\"}",
                      "not a poolbench results file (schema 'chrome-trace/3', expected "
                      "'poolbench-results/1')");

    char *t = doc_text_with("\"poolbench-results/1\"", "\"poolbench-results/2\"");
    expect_read_error("v2.json", t, "written by another version of poolbench: schema "
                                    "'poolbench-results/2', this poolbench reads "
                                    "'poolbench-results/1'");
    free(t);

    t = doc_text_with("\"started_unix\"", "\"started_unix_typo\"");
    expect_read_error("nofield.json", t, "missing field 'run.started_unix'");
    free(t);

    t = doc_text_with("\"p50\": ", "\"p50\": \"fast\", \"was\": ");
    expect_read_error("type.json", t,
                      "field 'results[0].metrics.roundtrip.p50' should be a number, not a string");
    free(t);

    t = doc_text_with("\"outcome\": \"ok\"", "\"outcome\": \"fine\"");
    expect_read_error("enum.json", t,
                      "field 'results[0].outcome' is 'fine', expected one of 'ok', 'failed', 'skipped'");
    free(t);

    t = doc_text_with("\"n\": 9", "\"n\": 9.5");
    expect_read_error("int.json", t,
                      "field 'results[0].metrics.roundtrip.n' should be an integer, not a real number");
    free(t);

    /* Counts are never negative (the schema's minimum 0). */
    t = doc_text_with("\"n\": 9", "\"n\": -9");
    expect_read_error("negn.json", t,
                      "field 'results[0].metrics.roundtrip.n' should be >= 0, not -9");
    free(t);

    t = doc_text_with("\"counts\": [", "\"counts\": [-1, ");
    expect_read_error("negcount.json", t,
                      "field 'results[0].metrics.roundtrip.histogram.counts[0]' should be >= "
                      "0, not -1");
    free(t);

    t = doc_text_with("\"passed\": true", "\"passed\": \"yes\"");
    expect_read_error("check.json", t,
                      "field 'results[0].checks[0].passed' should be a boolean, not a string");
    free(t);

    t = doc_text_with("\"counts\": [", "\"counts\": [1, ");
    expect_read_error("hist.json", t, "lower, upper and counts differ in length");
    free(t);

    /* An integral real is an integer (as JSON Schema has it). */
    t = doc_text_with("\"n\": 9", "\"n\": 9.0");
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/intreal.json", tmpdir);
    write_text(path, t);
    free(t);
    json_t *ok = pbr_read(path, err, sizeof err);
    if (!ok)
        fail_msg("%s", err);
    json_decref(ok);

    /* A folder is not a file. */
    char err2[512];
    assert_null(pbr_read(tmpdir, err2, sizeof err2));
    assert_contains(err2, "is a folder");
}

static void params_key_and_label(void **state)
{
    (void)state;
    json_t *c = json_pack("{s:s,s:s,s:{s:s,s:f,s:f}}", "backend", "fork", "scenario", "map",
                          "params", "kind", "echo", "chunk", 16.0, "g", 0.25);
    char *key = pbr_params_key(json_object_get(c, "params"));
    assert_string_equal(key, "{\"chunk\":16,\"g\":0.25,\"kind\":\"echo\"}");
    free(key);

    json_t *same = json_pack("{s:i,s:s,s:f}", "chunk", 16, "kind", "echo", "g", 0.25);
    key = pbr_params_key(same);
    assert_string_equal(key, "{\"chunk\":16,\"g\":0.25,\"kind\":\"echo\"}");
    free(key);
    json_decref(same);

    key = pbr_params_key(NULL);
    assert_string_equal(key, "{}");
    free(key);

    char *label = pbr_case_label(c);
    assert_string_equal(label, "fork/map chunk=16 g=0.25 kind=echo");
    free(label);
    json_decref(c);

    c = json_pack("{s:s,s:s,s:{}}", "backend", "floor", "scenario", "clock", "params");
    label = pbr_case_label(c);
    assert_string_equal(label, "floor/clock");
    free(label);
    json_decref(c);
}

/* Every .json file in tests/data is a valid results file; every one in tests/data/bad
 * file is rejected. */
static void golden_files(void **state)
{
    (void)state;
    int good = 0, bad = 0;
    DIR *d = opendir(PB_TEST_DATA_DIR);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json"))
            continue;
        char path[600], err[512];
        snprintf(path, sizeof path, "%s/%s", PB_TEST_DATA_DIR, e->d_name);
        json_t *doc = pbr_read(path, err, sizeof err);
        if (!doc)
            fail_msg("%s", err);
        json_decref(doc);
        good++;
    }
    closedir(d);
    d = opendir(PB_TEST_DATA_DIR "/bad");
    assert_non_null(d);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json"))
            continue;
        char path[600], err[512];
        snprintf(path, sizeof path, "%s/bad/%s", PB_TEST_DATA_DIR, e->d_name);
        json_t *doc = pbr_read(path, err, sizeof err);
        if (doc)
            fail_msg("%s was accepted", path);
        bad++;
    }
    closedir(d);
    assert_true(good >= 3);
    assert_true(bad >= 2);
}

/* ---- pbr_document_new takes run and env even when it fails ---- */

/* An allocator for jansson that fails the fail_at-th allocation from now
 * (0: none) and counts the blocks alive. */
static long live_blocks;
static long allocs_left;

static void *counting_malloc(size_t n)
{
    if (allocs_left > 0 && --allocs_left == 0)
        return NULL;
    void *p = malloc(n);
    live_blocks += p != NULL;
    return p;
}

static void counting_free(void *p)
{
    live_blocks -= p != NULL;
    free(p);
}

static void document_new_never_leaks(void **state)
{
    (void)state;
    json_set_alloc_funcs(counting_malloc, counting_free);
    bool succeeded = false;
    /* Fail each allocation pbr_document_new makes in turn, then none: the
     * run and env objects handed to it are always gone afterwards. */
    for (long k = 1; k < 64 && !succeeded; k++) {
        allocs_left = 0;
        long before = live_blocks;
        json_t *run = json_pack("{s:s, s:i}", "kind", "run", "workers", 2);
        json_t *env = json_pack("{s:s}", "host", "test");
        assert_non_null(run);
        assert_non_null(env);
        allocs_left = k;
        json_t *doc = pbr_document_new(run, env);
        allocs_left = 0;
        succeeded = doc != NULL;
        json_decref(doc);
        if (live_blocks != before)
            fail_msg("allocation %ld failing: %ld blocks left behind", k, live_blocks - before);
    }
    assert_true(succeeded);
    /* NULL in: NULL out, the other one taken all the same. */
    long before = live_blocks;
    assert_null(pbr_document_new(NULL, json_object()));
    assert_null(pbr_document_new(json_object(), NULL));
    assert_int_equal(live_blocks, before);
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(document_valid_and_environment),
        cmocka_unit_test_setup_teardown(write_then_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_write_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(reader_errors, setup, teardown),
        cmocka_unit_test(params_key_and_label),
        cmocka_unit_test(golden_files),
        cmocka_unit_test(document_new_never_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
