/*
 * test_suite.c — suite files (good ones, and each kind of malformed one),
 * parameter values with units, and the case plan built from a suite:
 * sweeps, their product, --scenario, and the floor cases added.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner.h"
#include "scenario.h"
#include "suite.h"

#ifndef PB_SUITES_DIR
#error "PB_SUITES_DIR must name bench/suites"
#endif

/* ---- Parameter values ---- */

static const pb_param *param(const char *scenario, const char *name)
{
    const pb_scenario *s = pb_scenario_find(scenario);
    assert_non_null(s);
    const pb_param *p = pb_scenario_param(s, name);
    assert_non_null(p);
    return p;
}

static int64_t parse_ok(const pb_param *p, const char *text)
{
    pb_param_value v;
    char err[256] = "";
    assert_int_equal(pb_param_parse(p, text, &v, err, sizeof err), 0);
    return v.num;
}

static void parse_bad(const pb_param *p, const char *text, const char *fragment)
{
    pb_param_value v;
    char err[256] = "";
    assert_int_equal(pb_param_parse(p, text, &v, err, sizeof err), PB_EINVAL);
    if (!strstr(err, fragment))
        fail_msg("'%s': message '%s' lacks '%s'", text, err, fragment);
}

static void test_values(void **state)
{
    (void)state;
    const pb_param *t = param("timeout", "timeout");
    assert_int_equal(parse_ok(t, "0"), 0);
    assert_int_equal(parse_ok(t, "1500"), 1500);
    assert_int_equal(parse_ok(t, "100us"), 100000);
    assert_int_equal(parse_ok(t, "1.5ms"), 1500000);
    assert_int_equal(parse_ok(t, "2s"), 2000000000);
    assert_int_equal(parse_ok(t, "250ns"), 250);
    parse_bad(t, "1.5ns", "duration");
    parse_bad(t, "abc", "duration");
    parse_bad(t, "10 ms", "duration");
    parse_bad(t, "-1ms", "duration");
    parse_bad(t, "1h", "duration");
    parse_bad(t, "", "duration");

    const pb_param *b = param("payload", "size");
    assert_int_equal(parse_ok(b, "8"), 8);
    assert_int_equal(parse_ok(b, "8B"), 8);
    assert_int_equal(parse_ok(b, "4KiB"), 4096);
    assert_int_equal(parse_ok(b, "1MiB"), 1048576);
    parse_bad(b, "4KB", "size");

    const pb_param *c = param("map", "chunksize");
    assert_int_equal(parse_ok(c, "16"), 16);
    parse_bad(c, "1.5", "whole number");
    parse_bad(c, "1e3", "whole number");
    assert_int_equal(parse_ok(c, "0"), 0); /* automatic chunks */
    parse_bad(c, "16us", "whole number");
    parse_bad(param("map", "tasks"), "0", "at least 1");

    const pb_param *w = param("retrieval", "via");
    pb_param_value v;
    char err[256];
    assert_int_equal(pb_param_parse(w, "callback", &v, err, sizeof err), 0);
    assert_string_equal(v.word, "callback");
    parse_bad(w, "callbacks", "one of result, callback, as_completed");

    /* Lists, and formatting back. */
    pb_param_value *list;
    size_t n;
    assert_int_equal(pb_param_parse_list(t, "0,100us,1ms,10ms", &list, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    char buf[32];
    const char *want[] = {"0", "100us", "1ms", "10ms"};
    for (size_t i = 0; i < n; i++) {
        pb_param_format(t, &list[i], buf, sizeof buf);
        assert_string_equal(buf, want[i]);
    }
    free(list);
    assert_int_equal(pb_param_parse_list(t, "1ms,,2ms", &list, &n, err, sizeof err), PB_EINVAL);
    assert_non_null(strstr(err, "empty value"));
    pb_param_value kib = {.num = 65536};
    pb_param_format(b, &kib, buf, sizeof buf);
    assert_string_equal(buf, "64KiB");
}

/* Every scenario's defaults parse: a bad default would abort a run. */
static void test_defaults(void **state)
{
    (void)state;
    size_t n;
    const pb_scenario *const *all = pb_scenarios(&n);
    assert_true(n >= 21);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(all[i]->run);
        assert_non_null(all[i]->headline);
        assert_ptr_equal(pb_scenario_find(all[i]->name), all[i]);
        for (const pb_param *p = all[i]->params; p && p->name; p++) {
            pb_param_value *v;
            size_t k;
            char err[256] = "";
            if (pb_param_parse_list(p, p->defaults, &v, &k, err, sizeof err) != 0)
                fail_msg("%s.%s default '%s': %s", all[i]->name, p->name, p->defaults, err);
            free(v);
        }
    }
    assert_null(pb_scenario_find("nosuch"));
}

/* ---- Suites ---- */

static pbh_suite *parse(const char *text)
{
    pbh_suite *s = NULL;
    char err[512] = "";
    int rc = pbh_suite_parse(text, "good.json", &s, err, sizeof err);
    if (rc)
        fail_msg("good suite refused: %s", err);
    return s;
}

static void test_good_suite(void **state)
{
    (void)state;
    pbh_suite *s = parse("{\"description\": \"d\", \"repetitions\": 7, \"warmup\": 2,"
                         " \"backends\": [\"thread\", \"fork\"], \"floor\": false,"
                         " \"workers\": 3, \"pin\": \"compact\","
                         " \"scenarios\": [\"roundtrip\","
                         "   {\"name\": \"timeout\", \"params\": {\"timeout\": [\"100us\", 2000000],"
                         "                                    \"samples\": 5}},"
                         "   {\"name\": \"retrieval\", \"params\": {\"via\": \"result,callback\"}}]}");
    assert_string_equal(s->description, "d");
    assert_int_equal(s->repetitions, 7);
    assert_int_equal(s->warmup, 2);
    assert_int_equal(s->nbackends, 2);
    assert_string_equal(s->backends[1], "fork");
    assert_false(s->floor);
    assert_int_equal(s->workers, 3);
    assert_string_equal(s->pin, "compact");
    assert_int_equal(s->nentries, 3);
    assert_string_equal(s->entries[0].scenario->name, "roundtrip");
    assert_int_equal(s->entries[0].noverrides, 0);
    const pbh_entry *e = &s->entries[1];
    assert_int_equal(e->noverrides, 2);
    assert_string_equal(e->overrides[0].param->name, "timeout");
    assert_int_equal(e->overrides[0].nvalues, 2);
    assert_int_equal(e->overrides[0].values[0].num, 100000);
    assert_int_equal(e->overrides[0].values[1].num, 2000000);
    assert_int_equal(e->overrides[1].values[0].num, 5);
    assert_int_equal(s->entries[2].overrides[0].nvalues, 2);
    assert_string_equal(s->entries[2].overrides[0].values[1].word, "callback");
    pbh_suite_free(s);

    /* Defaults: repetitions 5, warmup 1, every backend, the floor on. */
    s = parse("{\"scenarios\": [\"map\"], \"backends\": \"all\"}");
    assert_int_equal(s->repetitions, 5);
    assert_int_equal(s->warmup, 1);
    assert_int_equal(s->nbackends, 0);
    assert_true(s->floor);
    assert_int_equal(s->workers, -1);
    assert_null(s->pin);
    pbh_suite_free(s);
}

typedef struct bad_case {
    const char *text;
    const char *field;   /* must appear in the message ("" for none) */
    const char *problem; /* must appear in the message */
} bad_case;

static void test_bad_suites(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"{\"scenarios\": [\"roundtrip\"", "", "not valid JSON at line 1"},
        {"", "", "not valid JSON"},
        {"[\"roundtrip\"]", "", "a suite is a JSON object, got an array"},
        {"{\"scenarios\": [\"roundtrip\"], \"repetition\": 3}", "repetition", "unknown field"},
        {"{\"repetitions\": 3}", "scenarios", "missing"},
        {"{\"scenarios\": \"roundtrip\"}", "scenarios", "expected an array, got a string"},
        {"{\"scenarios\": []}", "scenarios", "empty"},
        {"{\"scenarios\": [3]}", "scenarios[0]", "expected a scenario name or an object"},
        {"{\"scenarios\": [{\"params\": {}}]}", "scenarios[0].name", "missing"},
        {"{\"scenarios\": [{\"name\": 1}]}", "scenarios[0].name", "expected a string, got a number"},
        {"{\"scenarios\": [{\"name\": \"map\", \"param\": {}}]}", "scenarios[0].param", "unknown field"},
        {"{\"scenarios\": [\"roundtrip\", {\"name\": \"rondtrip\"}]}", "scenarios[1].name",
         "unknown scenario 'rondtrip'"},
        {"{\"scenarios\": [\"rondtrip\"]}", "scenarios[0]", "unknown scenario 'rondtrip'"},
        {"{\"scenarios\": [{\"name\": \"map\", \"params\": {\"chunk\": 4}}]}",
         "scenarios[0].params.chunk", "scenario 'map' has no parameter 'chunk' (it has: chunksize, tasks)"},
        {"{\"scenarios\": [{\"name\": \"map\", \"params\": []}]}", "scenarios[0].params",
         "expected an object"},
        {"{\"scenarios\": [{\"name\": \"map\", \"params\": {\"tasks\": 0}}]}",
         "scenarios[0].params.tasks", "at least 1"},
        {"{\"scenarios\": [{\"name\": \"map\", \"params\": {\"chunksize\": 1.5}}]}",
         "scenarios[0].params.chunksize", "expected a whole number, got 1.5"},
        {"{\"scenarios\": [{\"name\": \"timeout\", \"params\": {\"timeout\": 1.5}}]}",
         "scenarios[0].params.timeout", "expected a whole number (in ns or bytes) or a string"},
        {"{\"scenarios\": [{\"name\": \"map\", \"params\": {\"chunksize\": []}}]}",
         "scenarios[0].params.chunksize", "empty list"},
        {"{\"scenarios\": [{\"name\": \"map\", \"params\": {\"chunksize\": [1, \"x\"]}}]}",
         "scenarios[0].params.chunksize[1]", "whole number"},
        {"{\"scenarios\": [{\"name\": \"timeout\", \"params\": {\"timeout\": \"soon\"}}]}",
         "scenarios[0].params.timeout", "duration"},
        /* Bounded by what can run (test_bounds has the values alone). */
        {"{\"scenarios\": [{\"name\": \"timeout\", \"params\": {\"timeout\": \"3153600000s\"}}]}",
         "scenarios[0].params.timeout", "must be at most 3600s"},
        {"{\"scenarios\": [{\"name\": \"roundtrip\", \"params\": {\"samples\": 1000000000000000}}]}",
         "scenarios[0].params.samples", "must be at most 1000000"},
        {"{\"scenarios\": [{\"name\": \"map\", \"params\": {\"tasks\": 1000000000000}}]}",
         "scenarios[0].params.tasks", "must be at most 1000000"},
        {"{\"scenarios\": [{\"name\": \"payload\", \"params\": {\"size\": \"1000GiB\"}}]}",
         "scenarios[0].params.size", "must be at most 256MiB"},
        {"{\"scenarios\": [{\"name\": \"throughput\", \"params\": {\"granularity\": \"9000000000s\"}}]}",
         "scenarios[0].params.granularity", "must be at most 3600s"},
        {"{\"scenarios\": [{\"name\": \"timeout\", \"params\": {\"timeout\": \"0x10ms\"}}]}",
         "scenarios[0].params.timeout", "expected a duration"},
        {"{\"scenarios\": [{\"name\": \"timeout\", \"params\": {\"timeout\": true}}]}",
         "scenarios[0].params.timeout", "got a boolean"},
        {"{\"scenarios\": [{\"name\": \"retrieval\", \"params\": {\"via\": \"pigeon\"}}]}",
         "scenarios[0].params.via", "one of result, callback, as_completed"},
        {"{\"scenarios\": [{\"name\": \"retrieval\", \"params\": {\"via\": 1}}]}",
         "scenarios[0].params.via", "expected a string"},
        {"{\"scenarios\": [\"map\"], \"repetitions\": 0}", "repetitions", "between 1 and"},
        {"{\"scenarios\": [\"map\"], \"repetitions\": \"5\"}", "repetitions", "expected a whole number"},
        {"{\"scenarios\": [\"map\"], \"warmup\": -1}", "warmup", "between 0 and"},
        {"{\"scenarios\": [\"map\"], \"workers\": 100000}", "workers", "between 0 and 4096"},
        {"{\"scenarios\": [\"map\"], \"floor\": \"yes\"}", "floor", "expected true or false"},
        {"{\"scenarios\": [\"map\"], \"pin\": \"\"}", "pin", "expected a pin policy"},
        {"{\"scenarios\": [\"map\"], \"description\": 3}", "description", "expected a string"},
        {"{\"scenarios\": [\"map\"], \"backends\": []}", "backends", "an empty list runs nothing"},
        {"{\"scenarios\": [\"map\"], \"backends\": \"thread\"}", "backends", "expected \"all\" or an array"},
        {"{\"scenarios\": [\"map\"], \"backends\": [\"thread\", 2]}", "backends[1]", "expected a backend name"},
        {"{\"scenarios\": [\"map\"], \"backends\": [\"fork\", \"fork\"]}", "backends[1]", "listed twice"},
        {"{\"scenarios\": [\"map\"], \"scenarios\": [\"map\"]}", "", "duplicate object key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pbh_suite *s = NULL;
        char err[512] = "";
        int rc = pbh_suite_parse(cases[i].text, "bad.json", &s, err, sizeof err);
        if (rc != PB_EINVAL || s)
            fail_msg("case %zu (%s): accepted", i, cases[i].text);
        char want[256];
        snprintf(want, sizeof want, "bad.json: %s%s", cases[i].field, *cases[i].field ? ": " : "");
        if (strncmp(err, want, strlen(want)) || !strstr(err, cases[i].problem))
            fail_msg("case %zu (%s): message '%s' does not start with '%s' and say '%s'", i,
                     cases[i].text, err, want, cases[i].problem);
        assert_null(strchr(err, '\n'));
    }
}

static void test_unknown_backend(void **state)
{
    (void)state;
    pbh_suite *s = parse("{\"scenarios\": [\"map\"], \"backends\": [\"thread\", \"nosuch\"]}");
    char err[512] = "";
    assert_int_equal(pbh_suite_check_backends(s, err, sizeof err), PB_EINVAL);
    assert_non_null(strstr(err, "backends[1]: unknown backend 'nosuch' (known: thread"));
    pbh_suite_free(s);
}

/* Lookup by name in $POOLBENCH_SUITES_DIR, paths, and what is refused. */
static void test_locate(void **state)
{
    (void)state;
    char dir[] = "/tmp/pbh-suites-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/mine.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"description\": \"mine\", \"scenarios\": [\"roundtrip\"]}", f);
    fclose(f);
    setenv("POOLBENCH_SUITES_DIR", dir, 1);

    pbh_suite *s = NULL;
    char err[512] = "";
    assert_int_equal(pbh_suite_load("mine", &s, err, sizeof err), 0);
    assert_string_equal(s->name, "mine");
    assert_string_equal(s->path, path);
    assert_string_equal(s->description, "mine");
    pbh_suite_free(s);
    assert_int_equal(pbh_suite_load(path, &s, err, sizeof err), 0);
    assert_string_equal(s->name, path);
    pbh_suite_free(s);

    assert_int_equal(pbh_suite_load("nosuch", &s, err, sizeof err), PB_ENOENT);
    assert_non_null(strstr(err, "unknown suite 'nosuch'"));
    assert_int_equal(pbh_suite_load("/nonexistent/x.json", &s, err, sizeof err), PB_ENOENT);
    assert_non_null(strstr(err, "/nonexistent/x.json: no such suite file"));
    assert_int_equal(pbh_suite_load(PB_HARNESS_TEST_DATA "/bad-truncated.json", &s, err, sizeof err),
                     PB_EINVAL);
    assert_non_null(strstr(err, "bad-truncated.json: not valid JSON at line"));

    unlink(path);
    rmdir(dir);
    unsetenv("POOLBENCH_SUITES_DIR");
}

/* The suites we ship parse, name only registered backends, and plan. */
static void test_shipped(void **state)
{
    (void)state;
    const char *names[] = {"quick", "ci", "full"};
    for (size_t i = 0; i < 3; i++) {
        char path[512], err[512] = "";
        snprintf(path, sizeof path, "%s/%s.json", PB_SUITES_DIR, names[i]);
        pbh_suite *s = NULL;
        if (pbh_suite_load(path, &s, err, sizeof err))
            fail_msg("%s", err);
        assert_true(*s->description);
        if (pbh_suite_check_backends(s, err, sizeof err))
            fail_msg("%s", err);
        pbh_plan plan;
        assert_int_equal(pbh_plan_build(s, NULL, 0, &plan, err, sizeof err), 0);
        assert_true(plan.ncases > 0);
        pbh_plan_free(&plan);
        if (!strcmp(names[i], "ci"))
            assert_true(s->repetitions >= 9);
        pbh_suite_free(s);
    }
}

/* ---- The plan ---- */

static size_t count(const pbh_plan *p, const char *scenario)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ncases; i++)
        n += !strcmp(p->cases[i].scenario->name, scenario);
    return n;
}

static const pbh_case *find_case(const pbh_plan *p, const char *label)
{
    for (size_t i = 0; i < p->ncases; i++)
        if (!strcmp(p->cases[i].label, label))
            return &p->cases[i];
    return NULL;
}

static void test_plan(void **state)
{
    (void)state;
    pbh_suite *s = parse("{\"scenarios\": ["
                         " {\"name\": \"throughput\", \"params\": {\"granularity\": [0, \"10us\"]}},"
                         " \"map\","
                         " {\"name\": \"timeout\", \"params\": {\"timeout\": \"1ms,10ms\"}},"
                         " {\"name\": \"submit\", \"params\": {\"backlog\": [0, 10], \"hold\": [\"1ms\", \"2ms\"]}}]}");
    pbh_plan p;
    char err[512] = "";
    assert_int_equal(pbh_plan_build(s, NULL, 0, &p, err, sizeof err), 0);
    assert_int_equal(count(&p, "throughput"), 2);
    assert_int_equal(count(&p, "map"), 4);     /* the default sweep 1,16,256,0 */
    assert_int_equal(count(&p, "timeout"), 2);
    assert_int_equal(count(&p, "submit"), 4);  /* the product of two sweeps */
    assert_non_null(find_case(&p, "map chunksize=16"));
    assert_non_null(find_case(&p, "throughput granularity=10us"));
    assert_non_null(find_case(&p, "submit backlog=10 hold=2ms"));
    const pbh_case *c = find_case(&p, "timeout timeout=10ms");
    assert_non_null(c);
    assert_int_equal(c->values[0].num, 10000000);
    assert_int_equal(c->values[1].num, 100); /* samples: the default */
    json_t *params = pbh_case_params_json_new(c);
    assert_int_equal(json_integer_value(json_object_get(params, "timeout")), 10000000);
    assert_int_equal(json_integer_value(json_object_get(params, "samples")), 100);
    json_decref(params);

    /* The floor comes first: the clock, the streams bursts and maps are held
     * against (no ping-pong: no round trip runs), and timed waits, with
     * both slacks, for exactly the timeouts run here. */
    assert_true(p.cases[0].scenario->flags & PB_SC_FLOOR);
    assert_int_equal(count(&p, "clock"), 1);
    assert_int_equal(count(&p, "queue"), 1);
    assert_int_equal(count(&p, "pipe_stream"), 1);
    assert_int_equal(count(&p, "futex_pingpong"), 0);
    assert_int_equal(count(&p, "pipe_pingpong"), 0);
    assert_int_equal(count(&p, "spin_pingpong"), 0);
    assert_int_equal(count(&p, "spawn"), 0);
    assert_int_equal(count(&p, "timedwait"), 2);
    assert_non_null(find_case(&p, "timedwait timeout=1ms"));
    assert_non_null(find_case(&p, "timedwait timeout=10ms"));
    assert_int_equal(count(&p, "timedwait_tight"), 2);
    assert_non_null(find_case(&p, "timedwait_tight timeout=10ms"));
    bool floor_done = false;
    for (size_t i = 0; i < p.ncases; i++) {
        bool fl = p.cases[i].scenario->flags & PB_SC_FLOOR;
        assert_false(fl && floor_done);
        floor_done |= !fl;
    }
    pbh_plan_free(&p);

    /* --scenario: the suite's entry for map, the defaults for startup, and
     * the floor for startup (thread start, spawn) but no ping-pong. */
    const char *only[] = {"map", "startup"};
    assert_int_equal(pbh_plan_build(s, only, 2, &p, err, sizeof err), 0);
    assert_int_equal(count(&p, "map"), 4);
    assert_int_equal(count(&p, "startup"), 1);
    assert_int_equal(count(&p, "throughput"), 0);
    assert_int_equal(count(&p, "spawn"), 1);
    assert_int_equal(count(&p, "thread_start"), 1);
    assert_int_equal(count(&p, "futex_pingpong"), 0);
    pbh_plan_free(&p);

    const char *unknown[] = {"map", "nosuch"};
    assert_int_equal(pbh_plan_build(s, unknown, 2, &p, err, sizeof err), PB_EINVAL);
    assert_non_null(strstr(err, "--scenario: unknown scenario 'nosuch'"));
    pbh_suite_free(s);

    /* The floor off: nothing but what was asked. */
    s = parse("{\"floor\": false, \"scenarios\": [\"roundtrip\"]}");
    assert_int_equal(pbh_plan_build(s, NULL, 0, &p, err, sizeof err), 0);
    assert_int_equal(p.ncases, 1);
    assert_string_equal(p.cases[0].label, "roundtrip");
    pbh_plan_free(&p);
    pbh_suite_free(s);
}

/* A suite that parses, but whose plan is refused before any case is built,
 * with fragment in the message. */
static void plan_refused(const char *json, const char *fragment)
{
    pbh_suite *s = parse(json);
    pbh_plan p;
    char err[512] = "";
    assert_int_equal(pbh_plan_build(s, NULL, 0, &p, err, sizeof err), PB_EINVAL);
    if (!strstr(err, fragment))
        fail_msg("message '%s' lacks '%s'", err, fragment);
    assert_null(p.cases);
    pbh_suite_free(s);
}

/* Values each in range but wrong together: the plan is refused before
 * anything runs, naming the case and the parameters; a sweep with one bad
 * combination is refused whole. */
static void test_plan_checks(void **state)
{
    (void)state;
    static const struct {
        const char *json, *fragment;
    } bad[] = {
        {"{\"scenarios\": [{\"name\": \"contention\", \"params\": {\"submitters\": [1, 8], \"tasks\": 4}}]}",
         "case 'contention submitters=8': parameter submitters (8) is above tasks (4)"},
        {"{\"scenarios\": [{\"name\": \"granularity\", \"params\": {\"min\": \"2ms\", \"max\": \"1ms\"}}]}",
         "case 'granularity': parameter min (2ms) is above max (1ms)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        plan_refused(bad[i].json, bad[i].fragment);
    pbh_suite *s = parse("{\"scenarios\": [{\"name\": \"contention\", \"params\": {\"submitters\": 4, \"tasks\": 4}},"
                         " {\"name\": \"granularity\", \"params\": {\"min\": \"1ms\", \"max\": \"1ms\"}}]}");
    pbh_plan p;
    char err[512] = "";
    assert_int_equal(pbh_plan_build(s, NULL, 0, &p, err, sizeof err), 0);
    assert_int_equal(count(&p, "contention"), 1);
    assert_int_equal(count(&p, "granularity"), 1);
    pbh_plan_free(&p);
    pbh_suite_free(s);
}

/* Every number is bounded by what can run, refused with the parameter and
 * the limit; only plain decimal is a number. */
static void test_bounds(void **state)
{
    (void)state;
    const pb_param *t = param("timeout", "timeout");
    assert_int_equal(parse_ok(t, "3600s"), PB_PARAM_MAX_NS);
    parse_bad(t, "3601s", "must be at most 3600s");
    parse_bad(t, "3153600000s", "must be at most 3600s");
    parse_bad(t, "2000000000s", "must be at most 3600s"); /* 8 T overflowed int64_t */
    parse_bad(t, "1e20", "must be at most 3600s");        /* past int64_t */
    parse_bad(t, "0x10ms", "duration");                   /* strtod reads hex */
    parse_bad(t, "0X1p4", "duration");
    parse_bad(t, "inf", "duration");
    parse_bad(t, "nan", "duration");
    parse_bad(t, "1e", "duration");
    assert_int_equal(parse_ok(t, "1.5e3us"), 1500000);
    assert_int_equal(parse_ok(t, ".5ms"), 500000);
    const pb_param *n = param("roundtrip", "samples");
    assert_int_equal(parse_ok(n, "1000000"), PB_PARAM_MAX_COUNT);
    parse_bad(n, "1000000000000000", "must be at most 1000000");
    parse_bad(n, "0x10", "whole number");
    const pb_param *b = param("payload", "size");
    assert_int_equal(parse_ok(b, "256MiB"), PB_PARAM_MAX_BYTES);
    parse_bad(b, "1000GiB", "must be at most 256MiB");
}

/* Plans that would not fit are refused before a case is built; a case asked
 * for twice is refused; so are more samples kept than memory allows. */
static void test_plan_sizes(void **state)
{
    (void)state;
    /* 1000 x 1000 x 1000 cases: counted, not built. */
    size_t len = 0, dlen = 0;
    char *values = malloc(8 * 1000 + 1), *durations = malloc(10 * 1000 + 1);
    assert_non_null(values);
    assert_non_null(durations);
    values[0] = durations[0] = '\0';
    for (int i = 1; i <= 1000; i++) {
        len += (size_t)sprintf(values + len, "%s%d", i > 1 ? "," : "", i);
        dlen += (size_t)sprintf(durations + dlen, "%s%dus", i > 1 ? "," : "", i);
    }
    size_t cap = len + 2 * dlen + 256;
    char *json = malloc(cap);
    assert_non_null(json);
    snprintf(json, cap,
             "{\"floor\": false, \"scenarios\": [{\"name\": \"throughput\", \"params\": "
             "{\"tasks\": \"%s\", \"granularity\": \"%s\", \"work\": \"%s\"}}]}",
             values, durations, durations);
    plan_refused(json, "good.json: scenarios[0].params: sweeps over granularity (1000 values) x "
                       "tasks (1000 values) x work (1000 values) make more than 10000 cases");
    free(json);
    free(values);
    free(durations);

    /* Within one entry's limit, past the run's. */
    plan_refused("{\"floor\": false, \"scenarios\": ["
                 " {\"name\": \"timeout\", \"params\": {\"timeout\": \"1,2,3,4,5,6,7,8,9,10\","
                 "  \"samples\": \"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20\"}},"
                 " {\"name\": \"throughput\", \"params\": {\"tasks\": \"1,2,3,4,5,6,7,8,9,10\","
                 "  \"granularity\": \"1us,2us,3us,4us,5us,6us,7us,8us,9us,10us\", \"work\": \"1,2,3,4,"
                 "5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,"
                 "34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,"
                 "61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,"
                 "88,89,90,91,92,93,94,95,96,97,98,99,100\"}}]}",
                 "good.json: scenarios[1].params: sweeps over granularity (10 values) x tasks "
                 "(10 values) x work (100 values): 10000 cases, after the 200 before them");

    /* The same case twice: from two entries, and from one sweep. */
    plan_refused("{\"scenarios\": [\"roundtrip\", {\"name\": \"map\"}, \"roundtrip\"]}",
                 "good.json: case 'roundtrip' comes twice (scenarios[0] and scenarios[2] both "
                 "ask for it)");
    plan_refused("{\"scenarios\": [{\"name\": \"timeout\", \"params\": "
                 "{\"timeout\": \"1ms,2ms,1000us\"}}]}",
                 "case 'timeout timeout=1ms' comes twice (scenarios[0] lists one value twice)");

    /* A scenario's own limits: threads, bookkeeping. */
    plan_refused("{\"scenarios\": [{\"name\": \"callbacks\", \"params\": "
                 "{\"tasks\": 1000000, \"callbacks\": 100}}]}",
                 "tasks (1000000) x callbacks (100) must be at most 10000000");
    plan_refused("{\"scenarios\": [{\"name\": \"contention\", \"params\": "
                 "{\"submitters\": 100000, \"tasks\": 200000}}]}",
                 "submitters (100000) must be at most 1024");

    /* Samples kept: samples x repetitions, checked once the repetitions are
     * known (the suite's, or --repetitions). */
    pbh_suite *s = parse("{\"floor\": false, \"repetitions\": 5, \"scenarios\": ["
                         " {\"name\": \"roundtrip\", \"params\": {\"samples\": 1000000}}]}");
    pbh_plan p;
    char err[512] = "";
    assert_int_equal(pbh_plan_build(s, NULL, 0, &p, err, sizeof err), 0);
    assert_int_equal(pbh_plan_check_kept(&p, s, 4, NULL, err, sizeof err), 0);
    assert_int_equal(pbh_plan_check_kept(&p, s, 5, NULL, err, sizeof err), PB_EINVAL);
    if (!strstr(err, "good.json: scenarios[0].params.samples: 1000000 samples a repetition x 5 "
                     "repetitions (the suite's) keep 5000000 per metric"))
        fail_msg("message '%s'", err);
    assert_int_equal(pbh_plan_check_kept(&p, s, 1000000, "--repetitions", err, sizeof err),
                     PB_EINVAL);
    assert_non_null(strstr(err, "x 1000000 repetitions (--repetitions)"));
    pbh_plan_free(&p);
    pbh_suite_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),       cmocka_unit_test(test_plan_sizes),
        cmocka_unit_test(test_values),       cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_good_suite),   cmocka_unit_test(test_bad_suites),
        cmocka_unit_test(test_unknown_backend), cmocka_unit_test(test_locate),
        cmocka_unit_test(test_shipped),      cmocka_unit_test(test_plan),
        cmocka_unit_test(test_plan_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
