/*
 * test_stress.c — the stress engine, driven as a library.
 *
 *   test_stress thread       a short run on the thread backend: no violation
 *   test_stress determinism  one seed replays the same operations per thread
 *   test_stress broken       each breakage of the "broken" backend (broken.c)
 *                            is caught by the check that should catch it
 *   test_stress watchdog     a pool whose shutdown hangs ends the run with
 *                            exit status 1 and names the stuck operation
 *   test_stress process      short runs on fork and exec with every fault:
 *                            faults injected, all survived, no violation
 *
 * The exec backend starts this very program as its workers, so main() hands
 * control to pb_worker_main_if_requested() first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <pb/pool.h>

#include "broken.h"
#include "results.h"
#include "stress.h"

#define MS (1000000LL)

static pbs_stress_opts base_opts(const char *backend, uint64_t seed, double duration)
{
    pbs_stress_opts o;
    pbs_stress_opts_init(&o);
    o.backend = backend;
    o.seed = seed;
    o.duration_s = duration;
    o.threads = 4;
    o.workers = 2;
    o.quiet = true;
    /* Tests share the machine with other tests: lateness is not what they
     * are about, so be lenient with it. */
    o.tolerance = 1000 * MS;
    return o;
}

static bool backend_exists(const char *name)
{
    return pb_backend_summary(name) != NULL;
}

/* The check called name in a case, or NULL. */
static json_t *find_check(json_t *c, const char *name)
{
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(c, "checks"), i, ch)
        if (!strcmp(json_string_value(json_object_get(ch, "name")), name))
            return ch;
    return NULL;
}

static bool check_passed(json_t *c, const char *name)
{
    json_t *ch = find_check(c, name);
    assert_non_null(ch);
    return json_is_true(json_object_get(ch, "passed"));
}

static double metric(json_t *c, const char *name)
{
    json_t *m = json_object_get(json_object_get(c, "metrics"), name);
    assert_non_null(m);
    return json_number_value(json_object_get(m, "p50"));
}

/* A case in a whole document passes the results library's validation. */
static void assert_valid_case(json_t *c)
{
    json_t *run = json_object();
    json_object_set_new(run, "kind", json_string("stress"));
    json_object_set_new(run, "command", json_string("test_stress"));
    json_object_set_new(run, "suite", json_string(""));
    json_object_set_new(run, "started", json_string("2026-01-01T00:00:00Z"));
    json_object_set_new(run, "started_unix", json_real(0));
    json_object_set_new(run, "duration_s", json_real(1));
    json_object_set_new(run, "complete", json_true());
    json_object_set_new(run, "repetitions", json_integer(1));
    json_object_set_new(run, "warmup", json_integer(0));
    json_object_set_new(run, "workers", json_integer(2));
    json_object_set_new(run, "pin", json_string("none"));
    json_object_set_new(run, "poolbench_version", json_string(PB_VERSION_STRING));
    json_t *doc = pbr_document_new(run, pbr_environment_new());
    assert_non_null(doc);
    json_array_append(json_object_get(doc, "results"), c);
    char err[512] = "";
    int r = pbr_validate(doc, "stress case", err, sizeof err);
    if (r)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(r, 0);
    json_decref(doc);
}

/* ------------------------------------------------------------------------
 * thread
 * ------------------------------------------------------------------------ */

static void test_thread_clean(void **state)
{
    (void)state;
    /* A count of operations, not a time: a loaded machine (a sanitizer
     * build, other jobs) does fewer per second, and that is not the pool's
     * fault. The duration is only a bound. */
    pbs_stress_opts o = base_opts("thread", 11, 120.0);
    o.ops = 1000;
    pbs_stress_result r;
    char err[256];
    assert_int_equal(pbs_stress_run(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.violations, 0);
    assert_false(r.interrupted);
    assert_true(r.operations >= (uint64_t)o.threads * o.ops);
    assert_true(r.futures > 1000);
    /* Threads take only the faults that keep the harness alive. */
    assert_int_equal(r.faults & ~(unsigned)PBS_FAULT_IN_PROCESS, 0);
    assert_true(r.faults_injected > 0);
    assert_int_equal(r.faults_survived, r.faults_injected);
    assert_string_equal(json_string_value(json_object_get(r.case_json, "outcome")), "ok");
    assert_string_equal(json_string_value(json_object_get(r.case_json, "scenario")), "stress");
    assert_true(metric(r.case_json, "operations") == (double)r.operations);
    assert_true(metric(r.case_json, "violations") == 0);
    assert_valid_case(r.case_json);
    json_decref(r.case_json);
}

static void test_unknown_backend(void **state)
{
    (void)state;
    pbs_stress_opts o = base_opts("no-such-pool", 1, 1.0);
    pbs_stress_result r;
    char err[256] = "";
    assert_int_equal(pbs_stress_run(&o, &r, err, sizeof err), PB_ENOENT);
    assert_non_null(strstr(err, "no-such-pool"));
    assert_non_null(r.case_json);
    assert_string_equal(json_string_value(json_object_get(r.case_json, "outcome")), "failed");
    json_decref(r.case_json);
}

static void test_fault_lists(void **state)
{
    (void)state;
    unsigned m = 0;
    char err[256];
    assert_int_equal(pbs_stress_parse_faults("crash,kill", &m, err, sizeof err), 0);
    assert_int_equal(m, PBS_FAULT_SEGV | PBS_FAULT_ABORT | PBS_FAULT_EXIT | PBS_FAULT_KILL);
    assert_int_equal(pbs_stress_parse_faults("none", &m, err, sizeof err), 0);
    assert_int_equal(m, 0);
    assert_int_equal(pbs_stress_parse_faults("all", &m, err, sizeof err), 0);
    assert_int_equal(m, PBS_FAULT_ALL);
    assert_int_equal(pbs_stress_parse_faults("segv,bogus", &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(pbs_stress_parse_faults("segv,,hang", &m, err, sizeof err), -1);
    assert_int_equal(pbs_stress_parse_faults("", &m, err, sizeof err), -1);
    char text[128];
    pbs_stress_faults_text(PBS_FAULT_FAIL | PBS_FAULT_HANG, text, sizeof text);
    assert_string_equal(text, "fail,hang");
    pbs_stress_faults_text(0, text, sizeof text);
    assert_string_equal(text, "none");
}

/* ------------------------------------------------------------------------
 * determinism
 * ------------------------------------------------------------------------ */

#define MAX_THREADS 8

typedef struct trace {
    uint64_t hash[MAX_THREADS + 1];
    uint64_t count[MAX_THREADS + 1];
    char first_kill_or_map[MAX_THREADS + 1][160];
} trace;

static void on_trace(void *ud, int thread, uint64_t op, const char *what)
{
    trace *t = ud;
    if (thread < 0 || thread > MAX_THREADS)
        return;
    uint64_t h = t->hash[thread] ^ (op * 0x9E3779B97F4A7C15ull);
    for (const char *c = what; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    t->hash[thread] = h;
    t->count[thread]++;
    if (!t->first_kill_or_map[thread][0] && !strncmp(what, "map", 3))
        snprintf(t->first_kill_or_map[thread], sizeof t->first_kill_or_map[thread], "%s", what);
}

static void traced_run(uint64_t seed, trace *t)
{
    memset(t, 0, sizeof *t);
    pbs_stress_opts o = base_opts("thread", seed, 60.0);
    o.threads = 3;
    o.ops = 400;
    o.trace = on_trace;
    o.trace_ud = t;
    pbs_stress_result r;
    char err[256];
    assert_int_equal(pbs_stress_run(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.violations, 0);
    json_decref(r.case_json);
}

static void test_same_seed_same_schedule(void **state)
{
    (void)state;
    trace *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *c = calloc(1, sizeof *c);
    traced_run(4242, a);
    traced_run(4242, b);
    traced_run(4243, c);
    bool differs = false;
    for (int i = 0; i <= 3; i++) {
        assert_true(a->count[i] > 0);
        assert_int_equal(a->count[i], b->count[i]);
        assert_int_equal(a->hash[i], b->hash[i]);
        assert_string_equal(a->first_kill_or_map[i], b->first_kill_or_map[i]);
        differs |= a->hash[i] != c->hash[i];
    }
    /* Each submitter ran exactly its 400 operations, plus its drain. */
    for (int i = 1; i <= 3; i++)
        assert_int_equal(a->count[i], 401);
    assert_true(differs);
    free(a);
    free(b);
    free(c);
}

/* ------------------------------------------------------------------------
 * broken
 * ------------------------------------------------------------------------ */

/* Runs the broken backend with breakage m; returns the case (caller frees)
 * and the log in *log (caller frees). */
static json_t *broken_run(pbt_breakage m, pbs_stress_result *r, char **log)
{
    assert_int_equal(pbt_broken_register(), 0);
    pbt_broken_set(m);
    /* Counted, not timed: every breakage needs the pool to have run
     * PBT_BROKEN_EVERY tasks, however slow the machine. */
    pbs_stress_opts o = base_opts("broken", 7, 120.0);
    o.ops = 400;
    o.patience = 500 * MS; /* a lost future is declared lost quickly */
    size_t loglen = 0;
    FILE *f = open_memstream(log, &loglen);
    assert_non_null(f);
    o.log = f;
    o.quiet = false;
    char err[256];
    assert_int_equal(pbs_stress_run(&o, r, err, sizeof err), 0);
    fclose(f);
    pbt_broken_set(PBT_BROKEN_NONE);
    assert_non_null(r->case_json);
    assert_valid_case(r->case_json);
    return r->case_json;
}

static void expect_caught(pbt_breakage m, const char *check)
{
    pbs_stress_result r;
    char *log = NULL;
    json_t *c = broken_run(m, &r, &log);
    if (r.violations == 0 || check_passed(c, check))
        fprintf(stderr, "breakage %d: expected a violation of %s; log:\n%s", (int)m, check,
                log ? log : "");
    assert_true(r.violations > 0);
    assert_false(check_passed(c, check));
    assert_string_equal(json_string_value(json_object_get(c, "outcome")), "failed");
    /* The log names the check, the seed and where it happened. */
    char want[128];
    snprintf(want, sizeof want, "VIOLATION of %s [broken, seed 7, ", check);
    if (!strstr(log, want))
        fprintf(stderr, "breakage %d: no line \"%s\" in the log:\n%s", (int)m, want,
                log ? log : "");
    assert_non_null(strstr(log, want));
    free(log);
    json_decref(c);
}

static void test_broken_none_is_clean(void **state)
{
    (void)state;
    pbs_stress_result r;
    char *log = NULL;
    json_t *c = broken_run(PBT_BROKEN_NONE, &r, &log);
    if (r.violations)
        fprintf(stderr, "%s", log);
    assert_int_equal(r.violations, 0);
    assert_true(r.futures > 2 * PBT_BROKEN_EVERY);
    free(log);
    json_decref(c);
}

static void test_broken_drop(void **state)
{
    (void)state;
    expect_caught(PBT_BROKEN_DROP, "right_results");
}

static void test_broken_wrong_id(void **state)
{
    (void)state;
    expect_caught(PBT_BROKEN_WRONG_ID, "right_results");
}

static void test_broken_lose(void **state)
{
    (void)state;
    expect_caught(PBT_BROKEN_LOSE, "no_lost_result");
}

static void test_broken_spurious(void **state)
{
    (void)state;
    expect_caught(PBT_BROKEN_SPURIOUS, "only_injected_failures");
}

static void test_broken_leak_fd(void **state)
{
    (void)state;
    expect_caught(PBT_BROKEN_LEAK_FD, "no_fd_left");
}

static void test_broken_leak_thread(void **state)
{
    (void)state;
    expect_caught(PBT_BROKEN_LEAK_THREAD, "no_thread_left");
}

/* ------------------------------------------------------------------------
 * watchdog
 * ------------------------------------------------------------------------ */

/* The watchdog's last report: printed, for the parent to find. */
static void print_hang_case(void *ud, json_t *case_json)
{
    FILE *log = ud;
    json_t *ch = find_check(case_json, "no_hang");
    fprintf(log, "on_hang: outcome %s, no_hang %s\n",
            json_string_value(json_object_get(case_json, "outcome")),
            ch && json_is_false(json_object_get(ch, "passed")) ? "failed" : "passed");
    fflush(log);
}

static void test_watchdog_names_the_hang(void **state)
{
    (void)state;
    assert_int_equal(pbt_broken_register(), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(p[0]);
        FILE *log = fdopen(p[1], "w");
        pbt_broken_set(PBT_BROKEN_HANG);
        /* Enough work that the pool has run PBT_BROKEN_EVERY tasks before
         * the end, however slow the machine: counted, not timed. */
        pbs_stress_opts o = base_opts("broken", 99, 120.0);
        o.ops = 250;
        o.watchdog = 1500 * MS;
        o.no_stacks = false;
        o.log = log;
        o.on_hang = print_hang_case;
        o.on_hang_ud = log;
        pbs_stress_result r;
        char err[256];
        pbs_stress_run(&o, &r, err, sizeof err);
        _exit(0); /* not reached: the watchdog exits with status 1 */
    }
    close(p[1]);
    /* Read to the end (a child blocked on a full pipe would never exit),
     * keeping the first 256 KiB. */
    static char buf[1 << 18];
    char sink[4096];
    size_t n = 0;
    ssize_t k;
    for (;;) {
        if (n < sizeof buf - 1)
            k = read(p[0], buf + n, sizeof buf - 1 - n);
        else
            k = read(p[0], sink, sizeof sink);
        if (k <= 0)
            break;
        if (n < sizeof buf - 1)
            n += (size_t)k;
    }
    buf[n] = '\0';
    close(p[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || !strstr(buf, "HANG [broken, seed 99]"))
        fprintf(stderr, "watchdog child: status %d, output:\n%s\n", status, buf);
    if (getenv("PBT_SHOW"))
        fprintf(stderr, "%s", buf);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(buf, "HANG [broken, seed 99]"));
    assert_non_null(strstr(buf, "has not returned"));
    /* Shutdown hangs; which call hit it depends on the drawn end (shutdown
     * with wait, or destroy after a shutdown without). */
    assert_true(strstr(buf, "pb_pool_shutdown(wait=true") || strstr(buf, "pb_pool_destroy"));
    assert_non_null(strstr(buf, "<- in progress"));
    /* The report handed to on_hang says the run failed on no_hang. */
    assert_non_null(strstr(buf, "on_hang: outcome failed, no_hang failed"));
    /* The stacks show where it hangs — unless gdb is missing or may not
     * attach here, which the output then says. */
    bool stacks = strstr(buf, "b_shutdown") != NULL;
    if (!stacks)
        fprintf(stderr, "no stacks in the watchdog's report:\n%s\n", buf);
    assert_true(stacks || strstr(buf, "gdb is not available") || strstr(buf, "ptrace"));
}

/* ------------------------------------------------------------------------
 * process backends
 * ------------------------------------------------------------------------ */

/* Whether this build runs under AddressSanitizer. */
static bool under_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#endif
#endif
    return false;
}

static void process_run(const char *backend)
{
    if (!backend_exists(backend)) {
        fprintf(stderr, "backend %s is not built: skipped\n", backend);
        skip();
    }
    if (!strcmp(backend, "fork") && under_asan()) {
        /* A child forked while another thread holds AddressSanitizer's
         * allocator lock deadlocks at its first malloc (GCC 12's libasan
         * takes no lock across fork, as glibc's malloc does); with several
         * submitter threads that happens within seconds, and shows up as
         * lost or overdue tasks that are the sanitizer's, not the pool's. */
        fprintf(stderr, "fork under AddressSanitizer: skipped (forked children can deadlock in "
                        "the sanitizer's allocator)\n");
        skip();
    }
    /* A fixed number of operations per thread, not a duration: the faults
     * drawn are then the same on every run (a few of each kind at ten times
     * the usual rate), however fast the machine. */
    pbs_stress_opts o = base_opts(backend, 5, 60.0);
    o.ops = 1500;
    o.fault_rate = 10;
    pbs_stress_result r;
    char err[256];
    o.quiet = false;
    assert_int_equal(pbs_stress_run(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.violations, 0);
    assert_int_equal(r.faults, PBS_FAULT_ALL);
    assert_true(r.faults_injected > 0);
    assert_int_equal(r.faults_survived, r.faults_injected);
    json_t *c = r.case_json;
    assert_true(metric(c, "faults_fail") > 0);
    assert_true(metric(c, "faults_segv") + metric(c, "faults_abort") + metric(c, "faults_exit") > 0);
    assert_true(metric(c, "faults_kill") > 0);
    assert_true(metric(c, "faults_hang") > 0);
    /* Recycling and crashes replaced workers. */
    assert_true(metric(c, "workers_seen") > 2);
    assert_valid_case(c);
    json_decref(c);
}

static void test_fork(void **state)
{
    (void)state;
    process_run("fork");
}

static void test_exec(void **state)
{
    (void)state;
    process_run("exec");
}

int main(int argc, char **argv)
{
    pb_worker_main_if_requested(argc, argv);
    pbs_stress_link();
    const char *group = argc > 1 ? argv[1] : "thread";

    const struct CMUnitTest thread_tests[] = {
        cmocka_unit_test(test_fault_lists),
        cmocka_unit_test(test_unknown_backend),
        cmocka_unit_test(test_thread_clean),
    };
    const struct CMUnitTest determinism_tests[] = {
        cmocka_unit_test(test_same_seed_same_schedule),
    };
    const struct CMUnitTest broken_tests[] = {
        cmocka_unit_test(test_broken_none_is_clean), cmocka_unit_test(test_broken_drop),
        cmocka_unit_test(test_broken_wrong_id),      cmocka_unit_test(test_broken_lose),
        cmocka_unit_test(test_broken_spurious),      cmocka_unit_test(test_broken_leak_fd),
        cmocka_unit_test(test_broken_leak_thread),
    };
    const struct CMUnitTest watchdog_tests[] = {
        cmocka_unit_test(test_watchdog_names_the_hang),
    };
    const struct CMUnitTest process_tests[] = {
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_exec),
    };
    if (!strcmp(group, "thread"))
        return cmocka_run_group_tests_name("stress.thread", thread_tests, NULL, NULL);
    if (!strcmp(group, "determinism"))
        return cmocka_run_group_tests_name("stress.determinism", determinism_tests, NULL, NULL);
    if (!strcmp(group, "broken"))
        return cmocka_run_group_tests_name("stress.broken", broken_tests, NULL, NULL);
    if (!strcmp(group, "watchdog"))
        return cmocka_run_group_tests_name("stress.watchdog", watchdog_tests, NULL, NULL);
    if (!strcmp(group, "process"))
        return cmocka_run_group_tests_name("stress.process", process_tests, NULL, NULL);
    fprintf(stderr, "test_stress: unknown group '%s' (thread, determinism, broken, watchdog, process)\n",
            group);
    return 2;
}
