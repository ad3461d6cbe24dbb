/*
 * test_summary.c — the table `poolbench run` prints, from results files:
 * every skip reason printed once and whole under the table (however long,
 * for every backend it applies to), each skipped row pointing at it; and
 * "which pool for what" at the end, its answers checked against the
 * results read here independently.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results.h"
#include "runner.h"

static json_t *load(const char *path)
{
    char err[512];
    json_t *doc = pbr_read(path, err, sizeof err);
    if (!doc)
        fail_msg("%s", err);
    return doc;
}

static char *summary_of(const json_t *doc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    pbh_print_summary(f, doc);
    fclose(f);
    return text;
}

static size_t count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* A document with a skip reason far longer than a terminal line, the same
 * for three backends but for their names. */
static json_t *with_long_skips(void)
{
    json_t *doc = load(PB_TEST_DATA_DIR "/quick-base.json");
    json_t *results = json_object_get(doc, "results");
    static const char *const backends[] = {"glib", "libuv", "tbb"};
    for (size_t i = 0; i < 3; i++) {
        char reason[400];
        snprintf(reason, sizeof reason,
                 "%s runs tasks on threads: a crash in a task would end the run, and "
                 "threads cannot be killed, so neither a crash nor a hang past task_timeout "
                 "can be injected here (the fork and exec pools cover faults)",
                 backends[i]);
        json_array_append_new(results,
                              json_pack("{s:s,s:s,s:{s:s},s:s,s:s,s:{},s:[]}", "backend",
                                        backends[i], "scenario", "faults", "params", "fault",
                                        "segv", "outcome", "skipped", "reason", reason,
                                        "metrics", "checks"));
    }
    return doc;
}

static void skip_reasons_once_and_whole(void **state)
{
    (void)state;
    json_t *doc = with_long_skips();
    char *text = summary_of(doc);
    /* Whole: the end of the long reason is there; once: one note for the
     * three backends, the backend's name made generic. */
    const char *tail = "can be injected here (the fork and exec pools cover faults)";
    if (count(text, tail) != 1)
        fail_msg("the long reason appears %zu times:\n%s", count(text, tail), text);
    assert_non_null(strstr(text, "on glib, libuv, tbb: it runs tasks on threads: a crash in a "
                                 "task would end the run, and threads cannot be killed"));
    /* thread's own faults skip (quick-base) is a note of its own. */
    assert_non_null(strstr(text, "skipped, and why:\n  [1] faults on thread: "));
    /* Every skipped row points at a note, and no row holds a reason. */
    size_t rows = count(text, "  skipped [");
    assert_true(rows >= 4);
    assert_int_equal(count(text, "skipped: "), 0);
    free(text);
    json_decref(doc);
}

/* The best backend by a metric's p50 among ok, non-floor cases of a
 * scenario with param = value (NULL: any), computed here. */
static const char *best_by(const json_t *doc, const char *scenario, const char *metric,
                           const char *param, double value, bool higher, double *v)
{
    const char *best = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        const char *b = json_string_value(json_object_get(c, "backend"));
        if (strcmp(json_string_value(json_object_get(c, "scenario")), scenario) ||
            strcmp(json_string_value(json_object_get(c, "outcome")), "ok") || !strcmp(b, "floor"))
            continue;
        if (param && json_number_value(json_object_get(json_object_get(c, "params"), param)) !=
                         value)
            continue;
        double p = json_number_value(
            json_object_get(json_object_get(json_object_get(c, "metrics"), metric), "p50"));
        if (!best || (higher ? p > *v : p < *v)) {
            best = b;
            *v = p;
        }
    }
    return best;
}

static void digest_at_the_end(void **state)
{
    (void)state;
    json_t *doc = load(PB_TEST_DATA_DIR "/plots/run.json");
    char *text = summary_of(doc);
    /* The digest ends the summary. */
    assert_non_null(strstr(text, "\nwhich pool for what (this run, this machine):\n"));
    assert_true(strstr(text, "which pool for what") > strstr(text, "skipped, and why:"));
    double v;
    const char *fast = best_by(doc, "throughput", "throughput", "granularity", 0, true, &v);
    char want[128];
    snprintf(want, sizeof want, "fastest for tiny tasks     %s: ", fast);
    assert_non_null(strstr(text, want));
    const char *rt = best_by(doc, "roundtrip", "roundtrip", NULL, 0, false, &v);
    assert_string_equal(rt, "fork:transport=shm");
    snprintf(want, sizeof want, "lowest round trip          %s: ", rt);
    assert_non_null(strstr(text, want));
    /* The fixture measures CPU per task and a load sweep: both answered. */
    assert_non_null(strstr(text, "cheapest CPU per task      "));
    assert_null(strstr(text, "cheapest CPU per task      not measured in this run"));
    assert_non_null(strstr(text, "lowest p99 under load      "));
    assert_null(strstr(text, "lowest p99 under load      not measured in this run"));
    assert_non_null(strstr(text, "survives worker crashes    fork (recovers in "));
    assert_non_null(strstr(text, "not applicable to thread: "));
    free(text);

    /* With CPU per task measured (the cost metrics), the cheapest is named. */
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "scenario")), "throughput"))
            continue;
        const char *b = json_string_value(json_object_get(c, "backend"));
        double cpu = !strcmp(b, "exec") ? 900 : 2000;
        json_t *m = json_deep_copy(json_object_get(json_object_get(c, "metrics"), "throughput"));
        json_object_set_new(m, "unit", json_string("ns"));
        json_object_set_new(m, "p50", json_real(cpu));
        json_object_set_new(json_object_get(c, "metrics"), "cpu_per_task", m);
        /* The pool's alone: the caller's share, which the fixture has, apart. */
        json_object_del(json_object_get(c, "metrics"), "submitter_cpu_per_task");
    }
    char *with_cpu = summary_of(doc);
    assert_non_null(strstr(with_cpu, "cheapest CPU per task      exec: 900 ns"));
    free(with_cpu);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skip_reasons_once_and_whole),
        cmocka_unit_test(digest_at_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
