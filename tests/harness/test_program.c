/*
 * test_program.c — the poolbench program end to end.
 *
 *   test_program cli        bad command lines and suites: exit 2, one line
 *                           on stderr naming what was wrong, no results file;
 *                           the conventions every command keeps (-h, -V, --,
 *                           -, --opt=value and --opt value)
 *   test_program e2e        a tiny suite with every scenario over every
 *                           backend: exit 0, a file pbr_read accepts (and the
 *                           JSON Schema, when python3-jsonschema is there)
 *                           holding a case per backend and scenario, floor
 *                           ratios, bindings, skips with reasons
 *   test_program interrupt  SIGINT, SIGTERM, SIGHUP (once, or several at
 *                           once) and SIGKILL after the first case: the
 *                           finished case is on disk before the signal;
 *                           afterwards the file holds it, complete=false,
 *                           exit 130 (137 for SIGKILL), no temporary left
 *   test_program hosts      two runs named as two hosts (--host), merged:
 *                           compared host by host, across hosts only when
 *                           asked, one history series per host
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
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
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
        {{"run", "--suite", tiny, "--out", tmpdir}, "is a folder, not a results file"},
        {{"run", "--suite", tiny, "--pin", "", "--out", out}, "--pin: expected none, compact, scatter or a CPU list, got ''"},
        {{"run", "--suite", tiny, "--pin", "0-", "--out", out}, "refuses this pool (--pin '0-'"},
        {{"run", "--suite", tiny, "--pin", "garbage", "--out", out}, "refuses this pool (--pin 'garbage'"},
        {{"run", "--suite", tiny, "--backend", "thread,fork:x=1,y=2", "--out", out},
         "backend 'fork:x=1,y=2' refuses this pool (--pin 'none', --workers 0): fork backend: "
         "unknown option 'x' (it takes: transport, prefetch)"},
        {{"run", "--suite", tiny, "--backend", "thread:=", "--out", out}, "'=' is not key=value"},
        {{"run", "--load", "/nonexistent/plugin.so"}, "poolbench run: --load: /nonexistent/plugin.so:"},
        {{"list", "--bogus"}, "poolbench list: unknown option '--bogus'"},
        {{"list", "--load", "/nonexistent/plugin.so"}, "poolbench list: --load: /nonexistent/plugin.so:"},
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

/* Where Python's pools are weak, the case must be recorded as failed with
 * Python's own story, never as a pass: a crashed worker breaks a
 * ProcessPoolExecutor and is never reported by multiprocessing.Pool, which
 * cannot cancel either. Returns whether c is such a case (checked here). */
static bool python_departure_case(const char *backend, const char *scenario, const json_t *c)
{
    if (!strcmp(scenario, "cancel") && !strcmp(backend, "py-mp")) {
        assert_string_equal(str(c, "outcome"), "failed");
        assert_non_null(strstr(str(c, "reason"), "could be cancelled"));
        return true;
    }
    if (strcmp(scenario, "faults") ||
        (strcmp(backend, "py-process") && strcmp(backend, "py-mp")))
        return false;
    if (!strcmp(str(json_object_get(c, "params"), "fault"), "hang")) {
        assert_string_equal(str(c, "outcome"), "skipped"); /* no task_timeout */
        return true;
    }
    const char *says = !strcmp(backend, "py-process") ? "BrokenProcessPool"
                                                     : "the pool never noticed its worker died";
    assert_string_equal(str(c, "outcome"), "failed");
    if (!strstr(str(c, "reason"), says))
        fail_msg("%s/faults: \"%s\" does not say \"%s\"", backend, str(c, "reason"), says);
    return true;
}

static void test_e2e(void **state)
{
    (void)state;
    char out[256];
    snprintf(out, sizeof out, "%s/tiny-results.json", tmpdir);
    const char *args[] = {"run", "--suite", PB_HARNESS_TEST_DATA "/tiny.json", "--out", out, NULL};
    outcome o = run_poolbench(args);
    /* 1: a check failed, which Python's process pools must (below). */
    bool python = pb_backend_summary("py-process") != NULL;
    if (o.status != 0 && !(o.status == 1 && python)) {
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
    size_t ci;
    const json_t *cc;
    json_array_foreach(results, ci, cc)
    {
        if (!strcmp(str(cc, "outcome"), "failed") &&
            !python_departure_case(str(cc, "backend"), str(cc, "scenario"), cc))
            fail_msg("%s/%s failed: %s", str(cc, "backend"), str(cc, "scenario"), str(cc, "reason"));
    }

    const char *scenarios[] = {"submit", "roundtrip", "retrieval", "timeout", "throughput",
                               "granularity", "scaling", "map", "as_completed", "cancel",
                               "callbacks", "errors", "faults", "contention", "startup",
                               "idle", "payload", "load", "nested"};
    for (const char *const *b = pb_backend_names(); *b; b++) {
        if (!pb_backend_summary(*b))
            continue; /* it cannot run here (mpi outside mpiexec): left out of the run */
        for (size_t s = 0; s < sizeof scenarios / sizeof scenarios[0]; s++) {
            const json_t *c = find(results, *b, scenarios[s]);
            if (!c)
                fail_msg("no case for %s/%s", *b, scenarios[s]);
            const char *result = str(c, "outcome");
            if (python_departure_case(*b, scenarios[s], c))
                continue;
            if (!strcmp(result, "failed"))
                fail_msg("%s/%s failed: %s", *b, scenarios[s], str(c, "reason"));
            if (!strcmp(result, "skipped")) {
                assert_true(*str(c, "reason"));
                continue;
            }
            /* A pool whose waiting tasks block deadlocks on nested tasks:
             * a finding, with its depth, not a failure of the run. */
            if (!strcmp(result, "deadlock") && !strcmp(scenarios[s], "nested") &&
                strcmp(*b, "thread")) {
                assert_true(json_is_integer(json_object_get(c, "deadlock_depth")));
                continue;
            }
            assert_string_equal(result, "ok");
            /* Where the workers were bound is recorded for pool cases. */
            const json_t *binding = json_object_get(c, "binding");
            assert_non_null(binding);
            assert_string_equal(str(binding, "policy"), "none");
            assert_true(json_array_size(json_object_get(binding, "workers")) >= 1);
            assert_true(json_object_size(json_object_get(c, "metrics")) >= 1);
            /* What the pool spent: every scenario marks its interval. */
            const json_t *metrics = json_object_get(c, "metrics");
            const char *cost[] = {"cores_busy", "submitter_cores_busy", "pool_threads",
                                  "cpu_per_task", "cpu_user_per_task", "cpu_sys_per_task",
                                  "submitter_cpu_per_task"};
            size_t ncost = !strcmp(scenarios[s], "idle") ? 3 : 7; /* no task in idle's */
            for (size_t k = 0; k < ncost; k++)
                if (!json_object_get(metrics, cost[k]))
                    fail_msg("%s/%s has no %s", *b, scenarios[s], cost[k]);
            /* Each of a process pool's processes, with its memory. */
            if (!strcmp(*b, "fork") || !strcmp(*b, "exec")) {
                assert_true(json_number_value(json_object_get(
                                json_object_get(metrics, "pool_processes"), "p50")) >= 1);
                assert_non_null(json_object_get(metrics, "worker_rss"));
                assert_non_null(json_object_get(metrics, "worker_pss"));
            }
            assert_null(json_object_get(c, "unmeasured"));
        }
        /* Nested tasks: the thread backend helps while waiting; a worker
         * process has no pool to submit to. */
        const json_t *nested = find(results, *b, "nested");
        if (!strcmp(*b, "thread"))
            assert_string_equal(str(nested, "outcome"), "ok");
        if (!strcmp(*b, "fork") || !strcmp(*b, "exec"))
            assert_string_equal(str(nested, "outcome"), "skipped");
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
    /* The scaling sweep: 1 and 2 workers, speedup against 1. */
    const json_t *sc = json_object_get(find(results, "thread", "scaling"), "metrics");
    assert_true(json_number_value(json_object_get(json_object_get(sc, "speedup_w1"), "p50")) == 1.0);
    assert_non_null(json_object_get(sc, "speedup_w2"));
    assert_non_null(json_object_get(sc, "cpu_per_task_w2"));
    assert_non_null(json_object_get(sc, "peak_workers"));
    assert_true(json_number_value(json_object_get(json_object_get(doc, "environment"),
                                                  "harness_peak_rss")) > 0);
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

/* The files in tmpdir whose names start with prefix or a dot followed by
 * it (a writer's temporary). */
static int files_like(const char *prefix)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c -e '^%s' -e '^\\.%s' > '%s/count'", tmpdir,
             prefix, prefix, tmpdir);
    if (system(cmd) < 0)
        return -1;
    char path[300];
    snprintf(path, sizeof path, "%s/count", tmpdir);
    char *c = slurp(path);
    int n = atoi(c);
    free(c);
    return n;
}

/* Checks the results file of an interrupted run: valid, incomplete, and
 * holding exactly the first case (roundtrip on both backends). */
static void expect_first_case_only(const char *out)
{
    char msg[512] = "";
    json_t *doc = pbr_read(out, msg, sizeof msg);
    if (!doc)
        fail_msg("pbr_read: %s", msg);
    assert_true(json_is_false(json_object_get(json_object_get(doc, "run"), "complete")));
    const json_t *results = json_object_get(doc, "results");
    assert_int_equal(json_array_size(results), 2);
    assert_non_null(find(results, "thread", "roundtrip"));
    assert_non_null(find(results, "fork", "roundtrip"));
    assert_null(find(results, "thread", "timeout"));
    json_decref(doc);
}

/* Runs the interrupt suite and, once the second case has begun (the first
 * is finished and written), sends sig `times` times in a row. */
static void interrupt_with(int sig, int times)
{
    char name[64], out[256];
    snprintf(name, sizeof name, "interrupted-%d-%d.json", sig, times);
    snprintf(out, sizeof out, "%s/%s", tmpdir, name);
    const char *argv[] = {POOLBENCH, "run", "--suite", PB_HARNESS_TEST_DATA "/interrupt.json",
                          "--out", out, NULL};
    int errpipe[2];
    assert_int_equal(pipe(errpipe), 0);
    char out_path[256];
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
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
            /* The first case is on disk before the second begins. */
            expect_first_case_only(out);
            for (int i = 0; i < times; i++)
                assert_int_equal(kill(pid, sig), 0);
            sent = true;
        }
    }
    fclose(err);
    fclose(logf);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        assert_int_equal(errno, EINTR);
    int want = sig == SIGKILL ? 128 + SIGKILL : 130;
    if (!sent || exit_status(ws) != want)
        fail_msg("signal %d x%d: sent %d, exit %d, stderr:\n%s", sig, times, sent,
                 exit_status(ws), log);
    if (sig != SIGKILL)
        assert_non_null(strstr(log, "interrupted; writing the 2 finished cases"));
    free(log);
    expect_first_case_only(out);
    /* The results file, and no temporary beside it. */
    assert_int_equal(files_like(name), 1);
}

static void test_interrupt(void **state)
{
    (void)state;
    interrupt_with(SIGINT, 1);
    interrupt_with(SIGTERM, 1);
    interrupt_with(SIGHUP, 1);
    /* As `timeout` does: the program, then its process group. */
    interrupt_with(SIGTERM, 2);
    interrupt_with(SIGINT, 3);
    /* Nothing to catch: what was written after the first case stays. */
    interrupt_with(SIGKILL, 1);
}

/* ---- Results of several hosts ---- */

/* Two runs that name different hosts (--host), merged: the merged file holds
 * both whole, compares with itself host by host, and the two runs are not
 * compared with each other unless --across-hosts says so. */
static void test_hosts(void **state)
{
    (void)state;
    char files[2][256], merged[256];
    const char *hosts[2] = {"alpha", "beta"};
    for (int i = 0; i < 2; i++) {
        snprintf(files[i], sizeof files[i], "%s/%s.json", tmpdir, hosts[i]);
        const char *args[] = {"run",       "--suite", PB_HARNESS_TEST_DATA "/tiny.json",
                              "--backend", "thread",  "--scenario", "roundtrip,errors",
                              "--host",    hosts[i],  "--out", files[i], "--quiet", NULL};
        outcome o = run_poolbench(args);
        if (o.status != 0)
            fail_msg("run --host %s: exit %d: %s", hosts[i], o.status, o.err);
        outcome_free(&o);
        char err[512];
        json_t *d = pbr_read(files[i], err, sizeof err);
        assert_non_null(d);
        assert_string_equal(pbr_doc_host(d), hosts[i]);
        json_decref(d);
    }
    snprintf(merged, sizeof merged, "%s/matrix.json", tmpdir);
    const char *merge[] = {"merge", files[0], files[1], "--out", merged, NULL};
    outcome o = run_poolbench(merge);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "merged 2 runs (hosts: alpha beta)"));
    outcome_free(&o);

    /* Each host against itself: nothing changed. */
    const char *same[] = {"compare", merged, merged, NULL};
    o = run_poolbench(same);
    if (o.status != 0)
        fail_msg("compare matrix matrix: exit %d: %s%s", o.status, o.err, o.out);
    assert_non_null(strstr(o.out, "Hosts: 2, each compared with itself."));
    assert_non_null(strstr(o.out, "alpha: thread/roundtrip"));
    assert_non_null(strstr(o.out, "beta: thread/roundtrip"));
    outcome_free(&o);
    /* One host's run against the merged file: that host only. */
    const char *one[] = {"compare", files[1], merged, NULL};
    o = run_poolbench(one);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "host 'alpha' only in new (not compared)"));
    outcome_free(&o);
    /* Two machines: refused, then compared when asked, and said so. */
    const char *machines[] = {"compare", files[0], files[1], NULL};
    o = run_poolbench(machines);
    assert_int_equal(o.status, 2);
    assert_non_null(strstr(o.err, "compares two machines, not two commits"));
    outcome_free(&o);
    const char *across[] = {"compare", files[0], files[1], "--across-hosts", NULL};
    o = run_poolbench(across);
    assert_true(o.status == 0 || o.status == 1); /* the machines' difference, whatever it is */
    assert_non_null(strstr(o.out, "poolbench compare: two machines, not two commits "
                                  "(--across-hosts): host 'alpha' (base) against host 'beta'"));
    outcome_free(&o);
    /* The history of the merged file: one series per host. */
    const char *hist[] = {"history", "--metric", "roundtrip", "--backend", "thread", merged, NULL};
    o = run_poolbench(hist);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "host alpha, suite"));
    assert_non_null(strstr(o.out, "host beta, suite"));
    outcome_free(&o);
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

/* ---- The conventions every command keeps ---- */

/* A refusal: exit 2, one line on stderr holding want, nothing on stdout. */
static void expect_refused(const char **args, const char *want)
{
    outcome o = run_poolbench(args);
    const char *nl = strchr(o.err, '\n');
    if (o.status != 2 || !strstr(o.err, want) || !nl || nl[1] || *o.out)
        fail_msg("poolbench %s %s ...: status %d, stderr '%s', stdout '%.80s' (want 2 and one "
                 "line with '%s')",
                 args[0], args[1] ? args[1] : "", o.status, o.err, o.out, want);
    outcome_free(&o);
}

static void test_conventions(void **state)
{
    (void)state;
    static const char *const commands[] = {"run",     "list",    "env",  "compare", "export",
                                           "history", "plot",    "stress", "ab", "calibrate",
                                           "merge"};
    char version[64];
    snprintf(version, sizeof version, "poolbench %s\n", PB_VERSION_STRING);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *cmd = commands[i];
        char usage[64], unknown[128];
        snprintf(usage, sizeof usage, "usage: poolbench %s ", cmd);
        const char *helps[] = {"-h", "--help"};
        for (size_t k = 0; k < 2; k++) {
            const char *args[] = {cmd, helps[k], NULL};
            outcome o = run_poolbench(args);
            if (o.status != 0 || strncmp(o.out, usage, strlen(usage)) || *o.err)
                fail_msg("poolbench %s %s: status %d, stdout '%.60s', stderr '%s'", cmd,
                         helps[k], o.status, o.out, o.err);
            assert_non_null(strstr(o.out, "-V, --version"));
            outcome_free(&o);
        }
        const char *versions[] = {"-V", "--version"};
        for (size_t k = 0; k < 2; k++) {
            const char *args[] = {cmd, versions[k], NULL};
            outcome o = run_poolbench(args);
            if (o.status != 0 || strcmp(o.out, version) || *o.err)
                fail_msg("poolbench %s %s: status %d, stdout '%s', stderr '%s'", cmd,
                         versions[k], o.status, o.out, o.err);
            outcome_free(&o);
        }
        snprintf(unknown, sizeof unknown, "poolbench %s: unknown option '--bogus'", cmd);
        const char *bogus[] = {cmd, "--bogus", NULL};
        expect_refused(bogus, unknown);
        const char *bogus_value[] = {cmd, "--bogus=1", NULL};
        expect_refused(bogus_value, "unknown option '--bogus=1'");
        const char *bad_short[] = {cmd, "-Z", NULL};
        expect_refused(bad_short, "unknown option '-Z'");
        const char *flag_value[] = {cmd, "--help=yes", NULL};
        expect_refused(flag_value, "--help takes no value");
    }

    /* "-" and "--": an operand, never an unknown option. "-" is standard
     * input to a reader (here empty). */
    const char *dash_export[] = {"export", "--format=csv", "-", NULL};
    expect_refused(dash_export, "poolbench export: standard input: ");
    const char *dash_history[] = {"history", "-", NULL};
    expect_refused(dash_history, "poolbench history: standard input: ");
    const char *ddash_compare[] = {"compare", "--", "-a.json", "-b.json", NULL};
    expect_refused(ddash_compare, "poolbench compare: -a.json: ");
    const char *ddash_plot[] = {"plot", "--format", "svg", "--", "--help", NULL};
    expect_refused(ddash_plot, "poolbench plot: --help: ");
    const char *ddash_run[] = {"run", "--", "--quiet", NULL};
    expect_refused(ddash_run, "poolbench run: unexpected argument '--quiet'");

    /* --opt=value and --opt value say the same. */
    const char *eq[] = {"run", "--suite=/nonexistent/x.json", NULL};
    expect_refused(eq, "/nonexistent/x.json: no such suite file");
    const char *sp[] = {"run", "--suite", "/nonexistent/x.json", NULL};
    expect_refused(sp, "/nonexistent/x.json: no such suite file");
    const char *stress_eq[] = {"stress", "--duration=-1", NULL};
    expect_refused(stress_eq, "poolbench stress: --duration: expected a number of seconds above 0");

    /* The program itself. */
    const char *top_v[] = {"-V", NULL};
    outcome o = run_poolbench(top_v);
    assert_int_equal(o.status, 0);
    assert_string_equal(o.out, version);
    outcome_free(&o);
    const char *top_help[] = {"help", "compare", NULL};
    o = run_poolbench(top_help);
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "usage: poolbench compare AB.json | BASE.json NEW.json"));
    outcome_free(&o);
    const char *top_bad[] = {"--bogus", NULL};
    expect_refused(top_bad, "poolbench: unknown option '--bogus'");
    const char *top_unknown[] = {"frobnicate", NULL};
    expect_refused(top_unknown, "poolbench: unknown command 'frobnicate'");
}

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "";
    if (!strcmp(group, "cli")) {
        const struct CMUnitTest t[] = {
            cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
            cmocka_unit_test_setup_teardown(test_conventions, setup, teardown),
        };
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
    if (!strcmp(group, "hosts")) {
        const struct CMUnitTest t[] = {cmocka_unit_test_setup_teardown(test_hosts, setup, teardown)};
        return cmocka_run_group_tests_name("hosts", t, NULL, NULL);
    }
    if (!strcmp(group, "plugin")) {
        const struct CMUnitTest t[] = {cmocka_unit_test_setup_teardown(test_plugin, setup, teardown)};
        return cmocka_run_group_tests_name("plugin", t, NULL, NULL);
    }
    fprintf(stderr, "usage: test_program cli|e2e|interrupt|hosts|plugin\n");
    return 2;
}
