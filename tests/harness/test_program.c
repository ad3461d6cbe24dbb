/*
 * test_program.c — the poolbench program end to end.
 *
 *   test_program cli        bad command lines and suites: exit 2, one line
 *                           on stderr naming what was wrong, no results file
 *   test_program e2e        a tiny suite with every scenario over every
 *                           backend: exit 0, a file pbr_read accepts (and the
 *                           JSON Schema, when python3-jsonschema is there)
 *                           holding a case per backend and scenario, floor
 *                           ratios, bindings, skips with reasons
 *   test_program interrupt  SIGINT and SIGTERM after the first case: exit
 *                           130, the finished cases written, complete=false
 *   test_program plugin     a backend from a shared object (--load): listed,
 *                           measured next to ours, held against the floor
 *
 * Nothing here checks how long anything took: the interrupt test waits for
 * the progress line that says the second case began, not for a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <pb/pool.h>

#include "results.h"

#ifndef POOLBENCH
#error "POOLBENCH must name the poolbench program"
#endif

extern char **environ;

static char tmpdir[128];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pbh-test-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, got, m);
    fclose(f);
    fclose(m);
    return buf;
}

typedef struct outcome {
    int status; /* exit status, or 128 + signal */
    char *out, *err;
} outcome;

static void outcome_free(outcome *o)
{
    free(o->out);
    free(o->err);
}

static int exit_status(int wstatus)
{
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

/* Runs poolbench with args (NULL-terminated), stdout and stderr captured. */
static outcome run_poolbench(const char *const *args)
{
    char out_path[256], err_path[256];
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    const char *argv[64] = {POOLBENCH};
    size_t n = 1;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int e = posix_spawn(&pid, POOLBENCH, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e)
        fail_msg("cannot start %s: %s", POOLBENCH, strerror(e));
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        assert_int_equal(errno, EINTR);
    outcome o = {exit_status(ws), slurp(out_path), slurp(err_path)};
    return o;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- Bad command lines ---- */

typedef struct bad_cli {
    const char *args[8];
    const char *fragment; /* the one stderr line must contain this */
} bad_cli;

static void test_cli(void **state)
{
    (void)state;
    char out[256];
    snprintf(out, sizeof out, "%s/never.json", tmpdir);
    const char *tiny = PB_HARNESS_TEST_DATA "/tiny.json";
    const bad_cli cases[] = {
        {{"run", "--bogus"}, "poolbench run: unknown option '--bogus'"},
        {{"run", "stray"}, "poolbench run: unexpected argument 'stray'"},
        {{"run", "--workers"}, "poolbench run: --workers needs a value"},
        {{"run", "--workers", "abc"}, "--workers: expected a whole number from 0 to 4096, got 'abc'"},
        {{"run", "--workers=-1"}, "--workers: expected a whole number"},
        {{"run", "--repetitions", "0"}, "--repetitions: expected a whole number from 1"},
        {{"run", "--warmup", "x"}, "--warmup: expected a whole number"},
        {{"run", "--suite", tiny, "--backend", "nosuch"}, "--backend: unknown backend 'nosuch' (known: thread"},
        {{"run", "--suite", tiny, "--backend", "thread,,fork"}, "--backend: empty name"},
        {{"run", "--suite", tiny, "--backend", "thread,thread"}, "'thread' named twice"},
        {{"run", "--suite", tiny, "--scenario", "nosuch"}, "--scenario: unknown scenario 'nosuch'"},
        {{"run", "--suite", "nosuch"}, "unknown suite 'nosuch'"},
        {{"run", "--suite", "/nonexistent/x.json"}, "/nonexistent/x.json: no such suite file"},
        {{"run", "--suite", PB_HARNESS_TEST_DATA "/bad-scenario.json"},
         "bad-scenario.json: scenarios[1].name: unknown scenario 'rondtrip'"},
        {{"run", "--suite", PB_HARNESS_TEST_DATA "/bad-truncated.json"},
         "bad-truncated.json: not valid JSON at line"},
        {{"run", "--suite", tiny, "--out", "/nonexistent/dir/x.json"}, "folder '/nonexistent/dir' does not exist"},
        {{"run", "--suite", tiny, "--out", tmpdir}, "is a folder, not a file"},
        {{"run", "--suite", tiny, "--pin", "", "--out", out}, "--pin: empty policy"},
        {{"run", "--suite", tiny, "--pin", "0-", "--out", out}, "refuses this pool (--pin '0-'"},
        {{"run", "--suite", tiny, "--pin", "garbage", "--out", out}, "refuses this pool (--pin 'garbage'"},
        {{"run", "--suite", tiny, "--backend", "thread,fork:x=1,y=2", "--out", out},
         "backend 'fork:x=1,y=2' refuses this pool (--pin 'none', --workers 0): fork backend: "
         "unknown option 'x' (it takes: transport, prefetch)"},
        {{"run", "--suite", tiny, "--backend", "thread:=", "--out", out}, "'=' is not key=value"},
        {{"run", "--load", "/nonexistent/plugin.so"}, "poolbench run: --load /nonexistent/plugin.so:"},
        {{"list", "--bogus"}, "poolbench list: unknown option '--bogus'"},
        {{"list", "--load", "/nonexistent/plugin.so"}, "poolbench list: --load /nonexistent/plugin.so:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome o = run_poolbench(cases[i].args);
        const char *nl = strchr(o.err, '\n');
        if (o.status != 2 || !strstr(o.err, cases[i].fragment) || !nl || nl[1])
            fail_msg("case %zu (%s %s ...): status %d, stderr '%s' (want 2 and one line with '%s')", i,
                     cases[i].args[0], cases[i].args[1], o.status, o.err, cases[i].fragment);
        assert_false(exists(out));
        outcome_free(&o);
    }

    /* --help is not an error. */
    const char *helps[][3] = {{"run", "--help"}, {"list", "--help"}};
    for (size_t i = 0; i < 2; i++) {
        outcome o = run_poolbench(helps[i]);
        assert_int_equal(o.status, 0);
        char want[64];
        snprintf(want, sizeof want, "usage: poolbench %s", helps[i][0]);
        assert_non_null(strstr(o.out, want));
        outcome_free(&o);
    }

    /* list names every backend, scenario, floor measurement and suite. */
    const char *list[] = {"list", NULL};
    outcome o = run_poolbench(list);
    assert_int_equal(o.status, 0);
    for (const char *const *b = pb_backend_names(); *b; b++)
        assert_non_null(strstr(o.out, *b));
    const char *names[] = {"roundtrip", "granularity", "faults", "futex_pingpong", "timedwait",
                           "chunksize", "1,16,256", "quick", "ci", "full"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(o.out, names[i]))
            fail_msg("poolbench list does not mention '%s'", names[i]);
    outcome_free(&o);
}

/* ---- A tiny suite over every backend ---- */

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const json_t *find(const json_t *results, const char *backend, const char *scenario)
{
    size_t i;
    const json_t *c;
    json_array_foreach(results, i, c)
    {
        if (!strcmp(str(c, "backend"), backend) && !strcmp(str(c, "scenario"), scenario))
            return c;
    }
    return NULL;
}

static void test_e2e(void **state)
{
    (void)state;
    char out[256];
    snprintf(out, sizeof out, "%s/tiny-results.json", tmpdir);
    const char *args[] = {"run", "--suite", PB_HARNESS_TEST_DATA "/tiny.json", "--out", out, NULL};
    outcome o = run_poolbench(args);
    if (o.status != 0) {
        /* cmocka cuts long messages: the output goes to stderr first. */
        fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", o.out, o.err);
        fail_msg("poolbench run exited %d (its output is above)", o.status);
    }
    assert_non_null(strstr(o.out, "BACKEND"));
    char want[300];
    snprintf(want, sizeof want, "results: %s", out);
    assert_non_null(strstr(o.out, want));
    outcome_free(&o);

    char err[512] = "";
    json_t *doc = pbr_read(out, err, sizeof err);
    if (!doc)
        fail_msg("pbr_read: %s", err);
    const json_t *run = json_object_get(doc, "run");
    assert_true(json_is_true(json_object_get(run, "complete")));
    assert_string_equal(str(run, "kind"), "run");
    assert_int_equal(json_integer_value(json_object_get(run, "repetitions")), 1);
    const json_t *results = json_object_get(doc, "results");

    const char *scenarios[] = {"submit", "roundtrip", "retrieval", "timeout", "throughput",
                               "granularity", "map", "as_completed", "cancel", "callbacks",
                               "errors", "faults", "contention", "startup", "payload"};
    for (const char *const *b = pb_backend_names(); *b; b++) {
        for (size_t s = 0; s < sizeof scenarios / sizeof scenarios[0]; s++) {
            const json_t *c = find(results, *b, scenarios[s]);
            if (!c)
                fail_msg("no case for %s/%s", *b, scenarios[s]);
            const char *result = str(c, "outcome");
            if (!strcmp(result, "failed"))
                fail_msg("%s/%s failed: %s", *b, scenarios[s], str(c, "reason"));
            if (!strcmp(result, "skipped")) {
                assert_true(*str(c, "reason"));
                continue;
            }
            assert_string_equal(result, "ok");
            /* Where the workers were bound is recorded for pool cases. */
            const json_t *binding = json_object_get(c, "binding");
            assert_non_null(binding);
            assert_string_equal(str(binding, "policy"), "none");
            assert_true(json_array_size(json_object_get(binding, "workers")) >= 1);
            assert_true(json_object_size(json_object_get(c, "metrics")) >= 1);
        }
        /* Crash scenarios never run on workers inside poolbench. */
        const json_t *faults = find(results, *b, "faults");
        if (!strcmp(*b, "thread"))
            assert_string_equal(str(faults, "outcome"), "skipped");
        if (!strcmp(*b, "fork") || !strcmp(*b, "exec")) {
            assert_string_equal(str(faults, "outcome"), "ok");
            assert_non_null(json_object_get(json_object_get(faults, "metrics"), "recovery"));
        }
        /* Round trips are held against the floor of their kind: the
         * thread pool spins (pb_pool_spins), so against the spinning
         * ping-pong between threads; fork sleeps, so against the pipes. */
        const json_t *rt = json_object_get(json_object_get(find(results, *b, "roundtrip"), "metrics"),
                                           "roundtrip");
        assert_non_null(rt);
        const json_t *fl = json_object_get(rt, "floor");
        if (!strcmp(*b, "thread") || !strcmp(*b, "fork")) {
            bool thread = !strcmp(*b, "thread");
            assert_non_null(fl);
            assert_string_equal(str(fl, "scenario"), thread ? "spin_pingpong" : "pipe_pingpong");
            assert_string_equal(str(fl, "kind"), thread ? "spinning" : "sleeping");
            if (thread)
                assert_string_equal(str(json_object_get(fl, "params"), "between"), "threads");
            assert_true(json_number_value(json_object_get(rt, "ratio_to_floor")) > 0);
        }
    }
    const char *floor[] = {"clock", "futex_pingpong", "pipe_pingpong", "spin_pingpong",
                           "thread_start", "spawn", "timedwait"};
    for (size_t i = 0; i < sizeof floor / sizeof floor[0]; i++) {
        const json_t *c = find(results, "floor", floor[i]);
        if (!c || strcmp(str(c, "outcome"), "ok"))
            fail_msg("floor %s missing or not ok", floor[i]);
        assert_null(json_object_get(c, "binding"));
    }
    json_decref(doc);

    /* The independent check: the JSON Schema, when it can be run. */
    if (*PB_PYTHON) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' >&2", PB_PYTHON, PB_CHECK_SCHEMA, PB_SCHEMA, out);
        int ws = system(cmd);
        int st = exit_status(ws);
        if (st == 77)
            fprintf(stderr, "schema check skipped: python3-jsonschema missing\n");
        else
            assert_int_equal(st, 0);
    }
}

/* ---- Interruption ---- */

static void interrupt_with(int sig)
{
    char out[256];
    snprintf(out, sizeof out, "%s/interrupted-%d.json", tmpdir, sig);
    const char *argv[] = {POOLBENCH, "run", "--suite", PB_HARNESS_TEST_DATA "/interrupt.json",
                          "--out", out, NULL};
    int errpipe[2];
    assert_int_equal(pipe(errpipe), 0);
    char out_path[256];
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, errpipe[1], 2);
    posix_spawn_file_actions_addclose(&fa, errpipe[0]);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, POOLBENCH, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(errpipe[1]);

    /* stderr is a pipe, so progress comes as one plain line per case:
     * signal once the second case has begun (the first is finished). */
    FILE *err = fdopen(errpipe[0], "r");
    char line[1024];
    bool sent = false;
    char *log = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&log, &loglen);
    while (fgets(line, sizeof line, err)) {
        fputs(line, logf);
        if (!sent && strstr(line, "case 2/")) {
            assert_int_equal(kill(pid, sig), 0);
            sent = true;
        }
    }
    fclose(err);
    fclose(logf);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        assert_int_equal(errno, EINTR);
    if (!sent || exit_status(ws) != 130)
        fail_msg("signal %d: sent %d, exit %d, stderr:\n%s", sig, sent, exit_status(ws), log);
    assert_non_null(strstr(log, "interrupted; writing the 2 finished cases"));
    free(log);

    char msg[512] = "";
    json_t *doc = pbr_read(out, msg, sizeof msg);
    if (!doc)
        fail_msg("pbr_read: %s", msg);
    assert_true(json_is_false(json_object_get(json_object_get(doc, "run"), "complete")));
    const json_t *results = json_object_get(doc, "results");
    /* The first case (roundtrip on both backends) finished; the second,
     * cut short, is not written at all. */
    assert_int_equal(json_array_size(results), 2);
    assert_non_null(find(results, "thread", "roundtrip"));
    assert_non_null(find(results, "fork", "roundtrip"));
    assert_null(find(results, "thread", "timeout"));
    json_decref(doc);
}

static void test_interrupt(void **state)
{
    (void)state;
    interrupt_with(SIGINT);
    interrupt_with(SIGTERM);
}

/* ---- A backend loaded from a plugin ---- */

static void test_plugin(void **state)
{
    (void)state;
    const char *list[] = {"list", "--load", PLUGIN, NULL};
    outcome o = run_poolbench(list);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "inline"));
    assert_non_null(strstr(o.out, "test plugin: every task runs inside pb_submit"));
    outcome_free(&o);

    /* Without --load it is unknown. */
    const char *unknown[] = {"run", "--backend", "inline", NULL};
    o = run_poolbench(unknown);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.err, "unknown backend 'inline'"));
    outcome_free(&o);

    char out[256];
    snprintf(out, sizeof out, "%s/plugin.json", tmpdir);
    const char *args[] = {"run", "--load", PLUGIN, "--suite", PB_HARNESS_TEST_DATA "/tiny.json",
                          "--backend", "thread,inline", "--scenario", "roundtrip,errors,map,faults",
                          "--out", out, "--quiet", NULL};
    o = run_poolbench(args);
    if (o.status != 0) {
        fprintf(stderr, "stdout:\n%s\nstderr:\n%s\n", o.out, o.err);
        fail_msg("poolbench run --load exited %d (its output is above)", o.status);
    }
    assert_string_equal(o.err, ""); /* --quiet */
    outcome_free(&o);

    char err[512] = "";
    json_t *doc = pbr_read(out, err, sizeof err);
    if (!doc)
        fail_msg("pbr_read: %s", err);
    const json_t *results = json_object_get(doc, "results");
    const char *ok[] = {"roundtrip", "errors", "map"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *c = find(results, "inline", ok[i]);
        assert_non_null(c);
        assert_string_equal(str(c, "outcome"), "ok");
        assert_non_null(find(results, "thread", ok[i]));
    }
    /* Its tasks run in poolbench's process: held against the futex floor,
     * and never given the crash scenario. */
    const json_t *rt =
        json_object_get(json_object_get(find(results, "inline", "roundtrip"), "metrics"), "roundtrip");
    assert_string_equal(str(json_object_get(rt, "floor"), "scenario"), "futex_pingpong");
    const json_t *faults = find(results, "inline", "faults");
    assert_string_equal(str(faults, "outcome"), "skipped");
    /* It cannot say where its worker is bound. */
    const json_t *binding = json_object_get(find(results, "inline", "roundtrip"), "binding");
    assert_true(json_is_null(json_object_get(binding, "tasks_on_binding")));
    json_decref(doc);
}

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "";
    if (!strcmp(group, "cli")) {
        const struct CMUnitTest t[] = {cmocka_unit_test_setup_teardown(test_cli, setup, teardown)};
        return cmocka_run_group_tests_name("cli", t, NULL, NULL);
    }
    if (!strcmp(group, "e2e")) {
        const struct CMUnitTest t[] = {cmocka_unit_test_setup_teardown(test_e2e, setup, teardown)};
        return cmocka_run_group_tests_name("e2e", t, NULL, NULL);
    }
    if (!strcmp(group, "interrupt")) {
        const struct CMUnitTest t[] = {cmocka_unit_test_setup_teardown(test_interrupt, setup, teardown)};
        return cmocka_run_group_tests_name("interrupt", t, NULL, NULL);
    }
    if (!strcmp(group, "plugin")) {
        const struct CMUnitTest t[] = {cmocka_unit_test_setup_teardown(test_plugin, setup, teardown)};
        return cmocka_run_group_tests_name("plugin", t, NULL, NULL);
    }
    fprintf(stderr, "usage: test_program cli|e2e|interrupt|plugin\n");
    return 2;
}
