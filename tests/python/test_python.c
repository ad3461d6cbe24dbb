/*
 * test_python.c — the py-* backends (Python's pools, pools/adapters/python.c)
 * beyond what the conformance suite checks for every backend:
 *   - each twin of a scenario workload returns the bytes, and fails with the
 *     code and message, of its C twin (the scenarios' checks depend on it);
 *   - a task without a twin is refused with PB_ENOTSUP naming it;
 *   - a Python exception is PB_ETASK "TypeName: message", timed inside;
 *   - the GIL wait and the switch interval are kept (pb_pool_stat);
 *   - Python's threads in this process block the host's signals, and worker
 *     processes take them again;
 *   - worker processes started afresh run the real interpreter, not this
 *     program (fork, forkserver and spawn each as they should);
 *   - options Python's pools lack are refused, and the ones they have work;
 *   - a crashed worker is reported as Python reports it: ProcessPoolExecutor
 *     breaks (BrokenProcessPool), multiprocessing.Pool never completes the
 *     task, until the pool is shut down.
 * Run as `test_python py-thread|py-process|py-mp`.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <pb/pool.h>

#include "workloads.h"

static const char *backend;

static bool processes(void)
{
    return strcmp(backend, "py-thread") != 0;
}

/* Tasks with Python twins in test_twins.py (the C bodies are never run by a
 * Python pool), and one without. */
PB_TASK(pyt_raise)
{
    pb_task_fail(ctx, 1, "the C side of pyt_raise");
}
PB_TASK(pyt_exe)
{
}
PB_TASK(pyt_sigblk)
{
}
PB_TASK(pyt_no_twin)
{
}

static pb_pool *make_pool(const char *spec, int workers)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = workers;
    pb_pool *pool = NULL;
    int rc = pb_pool_create(spec, &o, &pool);
    if (rc)
        fail_msg("pb_pool_create(%s): %s: %s", spec, pb_strerror(rc), pb_pool_last_error());
    return pool;
}

typedef struct outcome {
    int rc;
    pb_error err;
    char message[4096];
    unsigned char data[70000];
    size_t len;
    pb_times times;
} outcome;

static void run(pb_pool *pool, const char *task, const void *arg, size_t len, outcome *o)
{
    pb_future *f = NULL;
    int rc = pb_submit(pool, pb_task_find(task), arg, len, &f);
    if (rc)
        fail_msg("pb_submit(%s): %s: %s", task, pb_strerror(rc), pb_pool_last_error());
    const void *data = NULL;
    o->rc = pb_future_result(f, PB_FOREVER, &data, &o->len);
    assert_int_equal(pb_future_error(f, 0, &o->err), 0);
    snprintf(o->message, sizeof o->message, "%s", o->err.message);
    o->err.message = o->message;
    if (o->rc == 0 && o->len) {
        assert_true(o->len <= sizeof o->data);
        memcpy(o->data, data, o->len);
    }
    pb_future_times(f, &o->times);
    pb_future_release(f);
}

/* ---- Twins ---- */

static void same_outcome(pb_pool *c, pb_pool *py, const char *task, const void *arg, size_t len)
{
    static outcome a, b;
    run(c, task, arg, len, &a);
    run(py, task, arg, len, &b);
    if (a.rc != b.rc || a.err.task_code != b.err.task_code || strcmp(a.message, b.message) ||
        a.len != b.len || memcmp(a.data, b.data, a.len))
        fail_msg("%s (%zu-byte argument): C twin gave %s, code %d, \"%s\", %zu bytes; Python "
                 "twin gave %s, code %d, \"%s\", %zu bytes",
                 task, len, pb_strerror(a.rc), a.err.task_code, a.message, a.len,
                 pb_strerror(b.rc), b.err.task_code, b.message, b.len);
}

/* Every workload a scenario submits, run by the C twin on the thread
 * backend and by the Python twin: same bytes, same failures. */
static void test_twins_match(void **unused)
{
    (void)unused;
    pb_pool *c = make_pool("thread", 2), *py = make_pool(backend, 2);
    same_outcome(c, py, "noop", NULL, 0);
    unsigned char buf[65536];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 13 + i / 256);
    const size_t sizes[] = {0, 1, 8, 4096, sizeof buf};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        same_outcome(c, py, "echo", buf, sizes[i]);
        same_outcome(c, py, "checksum", buf, sizes[i] < 4096 ? sizes[i] : 4096);
    }
    int64_t ns[] = {0, 1000, 2000000, -5};
    for (size_t i = 0; i < 4; i++) {
        same_outcome(c, py, "spin", &ns[i], sizeof ns[i]);
        same_outcome(c, py, "sleep", &ns[i], sizeof ns[i]);
    }
    same_outcome(c, py, "spin", buf, 3);
    same_outcome(c, py, "sleep", buf, 9);
    int32_t codes[] = {7, -3, 0, INT32_MAX};
    same_outcome(c, py, "fail", NULL, 0);
    for (size_t i = 0; i < 4; i++)
        same_outcome(c, py, "fail", &codes[i], sizeof codes[i]);
    same_outcome(c, py, "fail", buf, 3);
    if (processes())
        same_outcome(c, py, "crash", "none", 4); /* a bad argument: fails, kills nothing */

    /* report: its own pid and thread, and the clock of this process. */
    static outcome r;
    int64_t before = pb_now_ns();
    run(py, "report", NULL, 0, &r);
    int64_t after = pb_now_ns();
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.len, sizeof(pb_report));
    pb_report rep;
    memcpy(&rep, r.data, sizeof rep);
    assert_true(rep.cpu >= 0);
    assert_true(rep.now >= before && rep.now <= after);
    assert_true(rep.tid > 0);
    if (processes())
        assert_int_not_equal(rep.pid, getpid());
    else
        assert_int_equal(rep.pid, getpid());
    pb_pool_destroy(c);
    pb_pool_destroy(py);
}

/* Timestamps are taken inside the callable: they bracket what the twin
 * did, between submit and completion. */
static void test_times_inside(void **unused)
{
    (void)unused;
    pb_pool *py = make_pool(backend, 1);
    static outcome o;
    int64_t ns = 3000000;
    run(py, "spin", &ns, sizeof ns, &o);
    assert_int_equal(o.rc, 0);
    assert_true(o.times.submitted <= o.times.started);
    assert_true(o.times.started + ns <= o.times.ended);
    assert_true(o.times.ended <= o.times.completed);
    run(py, "pyt_raise", "abcdefg", 7, &o); /* a failure is timed too */
    assert_true(o.times.submitted <= o.times.started);
    assert_true(o.times.started <= o.times.ended && o.times.started > 0);
    assert_true(o.times.ended <= o.times.completed);
    pb_pool_destroy(py);
}

/* ---- Refusals and errors ---- */

static void test_no_twin(void **unused)
{
    (void)unused;
    pb_pool *py = make_pool(backend, 1);
    pb_future *f = NULL;
    assert_int_equal(pb_submit(py, pb_task_find("pyt_no_twin"), NULL, 0, &f), PB_ENOTSUP);
    assert_null(f);
    assert_non_null(strstr(pb_pool_last_error(), "'pyt_no_twin' has no Python twin"));
    pb_bytes items[4] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}};
    pb_map *m = NULL;
    for (size_t chunk = 1; chunk <= 2; chunk++) {
        assert_int_equal(pb_map_new(py, pb_task_find("pyt_no_twin"), items, 4, chunk, PB_FOREVER,
                                    &m),
                         PB_ENOTSUP);
        assert_non_null(strstr(pb_pool_last_error(), "pyt_no_twin"));
    }
    /* The pool is unharmed. */
    static outcome o;
    run(py, "echo", "x", 1, &o);
    assert_int_equal(o.rc, 0);
    pb_pool_destroy(py);
}

static void test_exception(void **unused)
{
    (void)unused;
    pb_pool *py = make_pool(backend, 1);
    static outcome o;
    run(py, "pyt_raise", "1234567", 7, &o);
    assert_int_equal(o.rc, PB_ETASK);
    assert_int_equal(o.err.code, PB_ETASK);
    assert_int_equal(o.err.task_code, 0);
    assert_string_equal(o.message, "ValueError: bad value 7");
    pb_pool_destroy(py);
}

static void expect_refused(const char *spec, const pb_pool_opts *o, int code, const char *says)
{
    pb_pool *pool = NULL;
    int rc = pb_pool_create(spec, o, &pool);
    if (rc == 0)
        pb_pool_destroy(pool);
    if (rc != code || !strstr(pb_pool_last_error(), says))
        fail_msg("%s: %s (%s), expected %s with \"%s\"", spec, pb_strerror(rc),
                 pb_pool_last_error(), pb_strerror(code), says);
}

static void test_options(void **unused)
{
    (void)unused;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.task_timeout = 1000000;
    expect_refused(backend, &o, PB_ENOTSUP, "task_timeout is not supported");
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.worker_program = "/bin/true";
    expect_refused(backend, &o, PB_ENOTSUP, "worker_program is not supported");
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.max_tasks_per_worker = 2;
    if (!strcmp(backend, "py-thread"))
        expect_refused(backend, &o, PB_ENOTSUP, "never retires a thread");
    else if (!strcmp(backend, "py-process"))
        expect_refused(backend, &o, PB_ENOTSUP, "with start_method=fork");
    char spec[64];
    snprintf(spec, sizeof spec, "%s:switch_interval=often", backend);
    expect_refused(spec, NULL, PB_EINVAL, "switch_interval must be a duration");
    if (processes()) {
        snprintf(spec, sizeof spec, "%s:start_method=vfork", backend);
        expect_refused(spec, NULL, PB_EINVAL, "start_method must be fork, forkserver or spawn");
    } else {
        expect_refused("py-thread:start_method=fork", NULL, PB_EINVAL, "unknown option");
    }
}

/* max_tasks_per_worker, where the pool has it: a worker process retires
 * after that many tasks (reported pids change every 2 tasks). */
static void test_max_tasks(void **unused)
{
    (void)unused;
    if (!processes())
        skip();
    char spec[64];
    snprintf(spec, sizeof spec, "%s:start_method=%s", backend,
             strcmp(backend, "py-process") ? "fork" : "spawn");
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.max_tasks_per_worker = 2;
    pb_pool *pool = NULL;
    int rc = pb_pool_create(spec, &o, &pool);
    if (rc)
        fail_msg("%s: %s", spec, pb_pool_last_error());
    int32_t pids[6];
    static outcome r;
    for (int i = 0; i < 6; i++) {
        run(pool, "report", NULL, 0, &r);
        assert_int_equal(r.rc, 0);
        pb_report rep;
        memcpy(&rep, r.data, sizeof rep);
        pids[i] = rep.pid;
    }
    for (int i = 0; i + 1 < 6; i++)
        if ((pids[i] == pids[i + 1]) != (i % 2 == 0))
            fail_msg("tasks %d and %d ran in workers %d and %d with max_tasks_per_worker 2", i,
                     i + 1, pids[i], pids[i + 1]);
    pb_pool_destroy(pool);
}

/* ---- The GIL ---- */

static void test_gil_stat(void **unused)
{
    (void)unused;
    pb_pool *py = make_pool(backend, 1);
    int64_t g0 = -1, g1 = -1, si = -1;
    assert_int_equal(pb_pool_stat(py, "gil_wait_ns", &g0), 0);
    static outcome o;
    for (int i = 0; i < 20; i++)
        run(py, "noop", NULL, 0, &o);
    assert_int_equal(pb_pool_stat(py, "gil_wait_ns", &g1), 0);
    assert_true(g0 >= 0 && g1 > g0); /* taking the lock costs at least a clock tick */
    assert_int_equal(pb_pool_stat(py, "switch_interval_ns", &si), 0);
    assert_int_equal(si, 5000000); /* CPython's default */
    assert_int_equal(pb_pool_stat(py, "queued", &si), PB_ENOTSUP);
    pb_pool_destroy(py);

    char spec[64];
    snprintf(spec, sizeof spec, "%s:switch_interval=250us", backend);
    py = make_pool(spec, 1);
    assert_int_equal(pb_pool_stat(py, "switch_interval_ns", &si), 0);
    assert_int_equal(si, 250000);
    pb_pool_destroy(py);
}

/* ---- Signals ---- */

/* The SigBlk mask of thread tid of this process. */
static unsigned long long sigblk_of(const char *tid)
{
    char path[128], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "r");
    unsigned long long mask = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "SigBlk: %llx", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return mask;
}

static bool blocks(unsigned long long mask, int sig)
{
    return (mask >> (sig - 1)) & 1;
}

/* Every thread Python started in this process blocks the signals a host
 * handles; the thread that made the pool keeps its own mask. */
static void test_threads_block_signals(void **unused)
{
    (void)unused;
    pb_pool *py = make_pool(backend, 2);
    static outcome o;
    for (int i = 0; i < 10; i++)
        run(py, "noop", NULL, 0, &o);
    char self[32];
    snprintf(self, sizeof self, "%d", (int)getpid());
    assert_false(blocks(sigblk_of(self), SIGINT));
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int others = 0;
    struct dirent *e;
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGPIPE};
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, self))
            continue;
        others++;
        unsigned long long mask = sigblk_of(e->d_name);
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            if (!blocks(mask, sigs[i]))
                fail_msg("thread %s does not block signal %d (%s): SigBlk %llx", e->d_name,
                         sigs[i], strsignal(sigs[i]), mask);
        assert_false(blocks(mask, SIGSEGV)); /* faults stay deliverable */
    }
    closedir(d);
    assert_true(others >= 1); /* workers (py-thread) or the pool's own threads */
    if (!strcmp(backend, "py-thread")) {
        /* A worker thread says so itself, from inside. */
        run(py, "pyt_sigblk", NULL, 0, &o);
        o.data[o.len < sizeof o.data ? o.len : 0] = 0;
        unsigned long long mask = strtoull((const char *)o.data, NULL, 16);
        assert_true(blocks(mask, SIGINT) && blocks(mask, SIGTERM));
    }
    pb_pool_destroy(py);
}

/* ---- Worker processes ---- */

/* What pyt_exe says: the worker's program and its parent. */
static void worker_exe(const char *method, char *exe, size_t size, long *ppid, unsigned long long *blk)
{
    char spec[64];
    snprintf(spec, sizeof spec, "%s:start_method=%s", backend, method);
    pb_pool *pool = make_pool(spec, 1);
    static outcome o;
    run(pool, "pyt_exe", NULL, 0, &o);
    assert_int_equal(o.rc, 0);
    o.data[o.len < sizeof o.data ? o.len : sizeof o.data - 1] = 0;
    char *sp = strchr((char *)o.data, ' ');
    assert_non_null(sp);
    *sp = 0;
    snprintf(exe, size, "%.4000s", (char *)o.data);
    run(pool, "report", NULL, 0, &o);
    pb_report rep;
    memcpy(&rep, o.data, sizeof rep);
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", rep.pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = 0;
    char state;
    assert_int_equal(sscanf(strrchr(stat, ')') + 1, " %c %ld", &state, ppid), 2);
    run(pool, "pyt_sigblk", NULL, 0, &o);
    o.data[o.len < sizeof o.data ? o.len : 0] = 0;
    *blk = strtoull((const char *)o.data, NULL, 16);
    pb_pool_destroy(pool);
}

static void test_real_interpreter(void **unused)
{
    (void)unused;
    if (!processes())
        skip();
    char self[PATH_MAX], python[PATH_MAX], exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    assert_non_null(realpath(PYT_PYTHON, python));
    long ppid;
    unsigned long long blk;

    worker_exe("fork", exe, sizeof exe, &ppid, &blk);
    assert_string_equal(exe, self); /* a fork of this program */
    assert_int_equal(ppid, getpid());
    assert_int_equal(blk, 0);

    worker_exe("spawn", exe, sizeof exe, &ppid, &blk);
    assert_string_equal(exe, python); /* the interpreter, started afresh */
    assert_int_equal(ppid, getpid());
    assert_int_equal(blk, 0); /* takes signals again */

    worker_exe("forkserver", exe, sizeof exe, &ppid, &blk);
    assert_string_equal(exe, python);
    assert_int_not_equal(ppid, getpid()); /* a child of the fork server */
    assert_int_equal(blk, 0);
}

/* A worker that dies: ProcessPoolExecutor breaks as a whole; Pool never
 * completes the task, until shutdown says it lost it. */
static void test_crash(void **unused)
{
    (void)unused;
    if (!processes())
        skip();
    pb_pool *pool = make_pool(backend, 1);
    pb_future *f = NULL, *p = NULL;
    assert_int_equal(pb_submit(pool, pb_workload("crash"), "segv", 4, &f), 0);
    assert_int_equal(pb_submit(pool, pb_workload("noop"), NULL, 0, &p), 0);
    pb_error e;
    if (!strcmp(backend, "py-process")) {
        assert_int_equal(pb_future_result(f, PB_FOREVER, NULL, NULL), PB_EBROKEN);
        assert_int_equal(pb_future_error(f, 0, &e), 0);
        if (strncmp(e.message, "BrokenProcessPool: ", 19))
            fail_msg("the crash says \"%s\"", e.message);
        assert_int_equal(pb_future_result(p, PB_FOREVER, NULL, NULL), PB_EBROKEN);
        pb_future *g = NULL;
        assert_int_equal(pb_submit(pool, pb_workload("noop"), NULL, 0, &g), PB_EBROKEN);
        assert_non_null(strstr(pb_pool_last_error(), "BrokenProcessPool"));
        pb_pool_destroy(pool);
    } else {
        /* The replacement worker runs the next task; the crashed one's
         * future is never completed by Pool. */
        assert_int_equal(pb_future_result(p, PB_FOREVER, NULL, NULL), 0);
        assert_int_equal(pb_future_result(f, 200 * 1000 * 1000, NULL, NULL), PB_ETIMEDOUT);
        assert_int_equal(pb_future_state(f), PB_RUNNING);
        pb_pool_destroy(pool); /* finds it lost, instead of waiting for ever */
        assert_int_equal(pb_future_result(f, 0, NULL, NULL), PB_EBROKEN);
        assert_int_equal(pb_future_error(f, 0, &e), 0);
        if (!strstr(e.message, "lost this task"))
            fail_msg("the lost task says \"%s\"", e.message);
    }
    pb_future_release(f);
    pb_future_release(p);
}

int main(int argc, char **argv)
{
    backend = argc > 1 ? argv[1] : "";
    if (strcmp(backend, "py-thread") && strcmp(backend, "py-process") && strcmp(backend, "py-mp")) {
        fprintf(stderr, "usage: test_python py-thread|py-process|py-mp\n");
        return 2;
    }
    setenv("POOLBENCH_PYTHON_TWINS", PYT_TWINS, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twins_match),
        cmocka_unit_test(test_times_inside),
        cmocka_unit_test(test_no_twin),
        cmocka_unit_test(test_exception),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_max_tasks),
        cmocka_unit_test(test_gil_stat),
        cmocka_unit_test(test_threads_block_signals),
        cmocka_unit_test(test_real_interpreter),
        cmocka_unit_test(test_crash),
    };
    return cmocka_run_group_tests_name(backend, tests, NULL, NULL);
}
