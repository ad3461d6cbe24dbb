/*
 * test_faults.c — the process backends under faults (ctest label `faults`).
 *
 *   test_faults fork|exec      every fault case against one backend
 *   test_faults leaks          fd, thread and child checks over repeated
 *                              create/destroy cycles of both backends
 *
 * Each case asserts which future failed with which code and message, and
 * that the pool still works afterwards. Nothing here measures time: timeouts
 * are the behaviour under test or hang guards, and tasks that must stay
 * running wait for a gate file the test creates.
 */
#include "faults.h"
#include "census.h"

#include <pb/pool.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire-int.h" /* to start a worker by hand as the pool does */

static const char *g_backend;
static char g_dir[PATH_MAX];    /* scratch directory for gate and pid files */
static char g_helper[PATH_MAX]; /* the exec worker helper program */
static int g_seq;

#define MS (1000000LL)
#define HANG_GUARD (60000 * MS) /* a result that takes this long is a hang */

static const pb_task *task(const char *name)
{
    const pb_task *t = pb_task_find(name);
    if (!t)
        fail_msg("task %s is not registered", name);
    return t;
}

static pb_pool *make_pool(int workers, unsigned max_tasks, int64_t timeout, const char *init)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = workers;
    o.max_tasks_per_worker = max_tasks;
    o.task_timeout = timeout;
    o.initializer = init;
    o.init_arg = "the test";
    o.init_len = init ? 8 : 0;
    pb_pool *p = NULL;
    int r = pb_pool_create(g_backend, &o, &p);
    if (r)
        fail_msg("pb_pool_create(%s): %s: %s", g_backend, pb_strerror(r), pb_pool_last_error());
    return p;
}

static pb_future *submit(pb_pool *p, const char *name, const void *arg, size_t len)
{
    pb_future *f = NULL;
    int r = pb_submit(p, task(name), arg, len, &f);
    if (r)
        fail_msg("pb_submit(%s): %s", name, pb_strerror(r));
    return f;
}

/* Waits for f (with a hang guard) and returns its pid result. */
static int pid_of(pb_future *f)
{
    const void *d;
    size_t n;
    int r = pb_future_result(f, HANG_GUARD, &d, &n);
    if (r) {
        pb_error e;
        pb_future_error(f, 0, &e);
        fail_msg("expected a pid, got %s: %s", pb_strerror(r), e.message);
    }
    assert_int_equal(n, sizeof(int));
    int pid;
    memcpy(&pid, d, sizeof pid);
    return pid;
}

static int run_pid(pb_pool *p)
{
    pb_future *f = submit(p, "f_pid", NULL, 0);
    int pid = pid_of(f);
    pb_future_release(f);
    return pid;
}

/* The error of a failed future, asserting its code. */
static pb_error expect_error(pb_future *f, int code)
{
    pb_error e;
    int r = pb_future_result(f, HANG_GUARD, NULL, NULL);
    assert_int_equal(pb_future_error(f, 0, &e), 0);
    if (r != code)
        fail_msg("expected %s, got %s (%s)", pb_strerror(code), pb_strerror(r), e.message);
    assert_int_equal(e.code, code);
    return e;
}

static void expect_message(const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void expect_message(const char *msg, const char *fmt, ...)
{
    char want[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    if (!strstr(msg, want))
        fail_msg("message \"%s\" does not contain \"%s\"", msg, want);
}

/* Gate and pid files for f_hold. */
typedef struct hold {
    char pidfile[PATH_MAX + 32], gate[PATH_MAX + 32], arg[2 * PATH_MAX + 66];
} hold;

static void hold_init(hold *h)
{
    int n = ++g_seq;
    snprintf(h->pidfile, sizeof h->pidfile, "%s/pid.%d", g_dir, n);
    snprintf(h->gate, sizeof h->gate, "%s/gate.%d", g_dir, n);
    snprintf(h->arg, sizeof h->arg, "%s|%s", h->pidfile, h->gate);
}

/* The pid the held task wrote, waiting for it to appear. */
static int hold_pid(const hold *h)
{
    for (int i = 0; i < 60000; i++) {
        FILE *f = fopen(h->pidfile, "r");
        if (f) {
            int pid = 0;
            int ok = fscanf(f, "%d", &pid);
            fclose(f);
            if (ok == 1 && pid > 0)
                return pid;
        }
        usleep(1000);
    }
    fail_msg("the held task never wrote %s", h->pidfile);
    return -1;
}

static void hold_open(const hold *h)
{
    int fd = open(h->gate, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
}

/* Waits until pid (a worker: our child) has exited, without reaping it and
 * without opening a file (tests run it with no fd to spare). */
static void wait_dead(int pid)
{
    for (int i = 0; i < 60000; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if ((r < 0 && errno == ECHILD) || (r == 0 && si.si_pid == pid))
            return; /* reaped by the pool already, or a zombie */
        usleep(1000);
    }
    fail_msg("process %d did not die", pid);
}

/* ---- worker death while running ---- */

static void crash_case(const char *name, int sig, int status)
{
    pb_pool *p = make_pool(2, 0, 0, NULL);
    /* Others run beside and after the crash and all complete. */
    pb_future *before[4], *crash, *after[4];
    for (int i = 0; i < 4; i++)
        before[i] = submit(p, "f_pid", NULL, 0);
    crash = submit(p, name, NULL, 0);
    for (int i = 0; i < 4; i++)
        after[i] = submit(p, "f_pid", NULL, 0);
    pb_error e = expect_error(crash, PB_EBROKEN);
    int pid;
    if (sig) {
        assert_int_equal(e.signal, sig);
        assert_int_equal(sscanf(e.message, "worker %d killed by signal", &pid), 1);
        expect_message(e.message, "killed by signal %d (%s)", sig, strsignal(sig));
    } else {
        assert_int_equal(e.signal, 0);
        assert_int_equal(e.exit_status, status);
        assert_int_equal(sscanf(e.message, "worker %d exited", &pid), 1);
        expect_message(e.message, "exited with status %d", status);
    }
    assert_true(pid > 0);
    /* The dead worker ran nothing after the crash. (It may have run a task
     * submitted after the crashing one before that one reached it: a worker
     * that falls idle takes over tasks another holds and has not started.
     * Such a task ended before the pool saw the death.) */
    pb_times crash_times;
    pb_future_times(crash, &crash_times);
    for (int i = 0; i < 4; i++) {
        assert_true(pid_of(before[i]) != 0);
        if (pid_of(after[i]) == pid) {
            pb_times t;
            pb_future_times(after[i], &t);
            assert_true(t.ended <= crash_times.completed);
        }
        pb_future_release(before[i]);
        pb_future_release(after[i]);
    }
    pb_future_release(crash);
    /* Later submissions work, on both slots (the replacement is up). */
    pb_future *fs[8];
    for (int i = 0; i < 8; i++)
        fs[i] = submit(p, "f_pid", NULL, 0);
    for (int i = 0; i < 8; i++) {
        assert_true(pid_of(fs[i]) != pid);
        pb_future_release(fs[i]);
    }
    pb_pool_destroy(p);
}

static void test_crash_segv(void **s)
{
    (void)s;
    crash_case("f_segv", SIGSEGV, 0);
}

static void test_crash_abort(void **s)
{
    (void)s;
    crash_case("f_abort", SIGABRT, 0);
}

static void test_crash_exit3(void **s)
{
    (void)s;
    crash_case("f_exit3", 0, 3);
}

/* Killed from outside while running a task. */
static void test_killed_from_outside(void **s)
{
    (void)s;
    pb_pool *p = make_pool(2, 0, 0, NULL);
    hold h;
    hold_init(&h);
    pb_future *held = submit(p, "f_hold", h.arg, strlen(h.arg));
    int pid = hold_pid(&h);
    pb_future *other = submit(p, "f_pid", NULL, 0); /* the other worker */
    assert_true(pid_of(other) != pid);
    assert_int_equal(kill(pid, SIGKILL), 0);
    pb_error e = expect_error(held, PB_EBROKEN);
    assert_int_equal(e.signal, SIGKILL);
    expect_message(e.message, "worker %d killed by signal %d (%s)", pid, SIGKILL,
                   strsignal(SIGKILL));
    pb_future_release(held);
    pb_future_release(other);
    assert_true(run_pid(p) != pid);
    hold_open(&h);
    pb_pool_destroy(p);
}

/* The pool's process dies (SIGKILL: no destroy, no atexit) while a worker
 * runs a task that would never end: the worker exits rather than running on
 * as an orphan. The test process is the child subreaper, so the orphan
 * becomes its child and its exit can be waited for. */
static void test_orphaned_worker_exits(void **s)
{
    (void)s;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    hold h;
    hold_init(&h);
    pid_t host = fork();
    assert_true(host >= 0);
    if (host == 0) {
        pb_pool_opts o;
        pb_pool_opts_init(&o);
        o.workers = 1;
        pb_pool *p;
        pb_future *f;
        if (pb_pool_create(g_backend, &o, &p) ||
            pb_submit(p, pb_task_find("f_hold"), h.arg, strlen(h.arg), &f))
            _exit(3);
        for (;;)
            pause(); /* until killed */
    }
    int worker = hold_pid(&h); /* the task now runs in worker */
    assert_int_equal(kill(host, SIGKILL), 0);
    assert_int_equal(waitpid(host, NULL, 0), host);
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 30000 && r == 0; i++) { /* a hang guard, not a timing */
        r = waitpid(worker, &status, WNOHANG);
        if (r == 0)
            usleep(1000);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    if (r != worker) {
        kill(worker, SIGKILL);
        waitpid(worker, NULL, 0);
        hold_open(&h);
        fail_msg("worker %d still ran its task 30 s after the pool's process was killed", worker);
    }
    assert_true(WIFEXITED(status));
    hold_open(&h);
}

/* A worker that dies while idle is replaced and fails nothing. */
static void test_idle_death(void **s)
{
    (void)s;
    pb_pool *p = make_pool(1, 0, 0, NULL);
    for (int round = 0; round < 3; round++) {
        int pid = run_pid(p);
        assert_int_equal(kill(pid, SIGKILL), 0);
        wait_dead(pid);
        /* Submitted right after the death, before or after the pool noticed:
         * it must run on the replacement, not fail. */
        int again = run_pid(p);
        assert_true(again != pid);
    }
    pb_pool_destroy(p);
}

/* ---- time limits ---- */

static void timeout_case(const char *name)
{
    pb_pool *p = make_pool(2, 0, 200 * MS, NULL);
    pb_future *slow = submit(p, name, NULL, 0);
    pb_future *quick = submit(p, "f_pid", NULL, 0);
    pb_error e = expect_error(slow, PB_EKILLED);
    int pid = 0;
    assert_int_equal(sscanf(e.message, "ran past task_timeout of 200 ms; worker %d killed", &pid),
                     1);
    assert_true(pid > 0);
    assert_true(pid_of(quick) != pid);
    pb_future_release(slow);
    pb_future_release(quick);
    for (int i = 0; i < 4; i++)
        assert_true(run_pid(p) != pid);
    pb_pool_destroy(p);
}

static void test_timeout(void **s)
{
    (void)s;
    timeout_case("f_sleep_forever");
}

/* SIGTERM ignored: the grace period ends with SIGKILL. */
static void test_timeout_term_ignored(void **s)
{
    (void)s;
    timeout_case("f_ignore_term_forever");
}

/* ---- recycling ---- */

static void test_max_tasks_backlog(void **s)
{
    (void)s;
    pb_pool *p = make_pool(1, 2, 0, NULL);
    enum { N = 9 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++) /* a backlog behind the first worker */
        fs[i] = submit(p, "f_pid", NULL, 0);
    int pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = pid_of(fs[i]);
        pb_future_release(fs[i]);
    }
    /* One worker, two tasks each: a a b b c c d d e */
    for (int i = 0; i < N; i++) {
        if (i % 2 == 1)
            assert_int_equal(pids[i], pids[i - 1]);
        else if (i > 0)
            assert_true(pids[i] != pids[i - 1]);
    }
    pb_pool_destroy(p);
}

static void test_max_tasks_two_workers(void **s)
{
    (void)s;
    pb_pool *p = make_pool(2, 1, 0, NULL);
    enum { N = 40 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(p, "f_pid", NULL, 0);
    int pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = pid_of(fs[i]);
        pb_future_release(fs[i]);
        for (int j = 0; j < i; j++) /* each worker ran exactly one task */
            assert_true(pids[j] != pids[i]);
    }
    pb_pool_destroy(p);
}

/* ---- initializer ---- */

static void test_init_once_per_worker(void **s)
{
    (void)s;
    pb_pool *p = make_pool(2, 3, 0, "f_init_ok");
    enum { N = 24 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(p, "f_inits", NULL, 0);
    for (int i = 0; i < N; i++) {
        const void *d;
        size_t n;
        assert_int_equal(pb_future_result(fs[i], HANG_GUARD, &d, &n), 0);
        int v[2];
        memcpy(v, d, sizeof v);
        assert_int_equal(v[0], 1); /* ran once in this worker, before its tasks */
        pb_future_release(fs[i]);
    }
    pb_pool_destroy(p);
}

static void init_failure_case(const char *init, const char *expect)
{
    pb_pool *p = make_pool(2, 0, 0, init);
    /* Whether the failure is known at submit or only later, every future
     * fails with PB_EBROKEN and the initializer's story; and once it is
     * known, submit refuses. Never a hang. */
    bool refused = false;
    for (int i = 0; i < 20 && !refused; i++) {
        pb_future *f = NULL;
        int r = pb_submit(p, task("f_pid"), NULL, 0, &f);
        if (r == PB_EBROKEN) {
            refused = true;
            break;
        }
        assert_int_equal(r, 0);
        pb_error e = expect_error(f, PB_EBROKEN);
        expect_message(e.message, "initializer failed: ");
        expect_message(e.message, "%s", expect);
        pb_future_release(f);
    }
    assert_true(refused);
    pb_bytes items[3] = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
    pb_map *m = NULL;
    assert_int_equal(pb_map_new(p, task("f_pid"), items, 3, 1, PB_FOREVER, &m), PB_EBROKEN);
    pb_pool_destroy(p);
}

static void test_init_fails(void **s)
{
    (void)s;
    init_failure_case("f_init_fail", "no configuration in the test");
}

static void test_init_crashes(void **s)
{
    (void)s;
    init_failure_case("f_init_crash", "killed by signal 11");
}

/* ---- bad workers ---- */

static void malformed_case(const char *name, const char *expect)
{
    pb_pool *p = make_pool(2, 0, 0, NULL);
    pb_future *bad = submit(p, name, NULL, 0);
    pb_future *good = submit(p, "f_pid", NULL, 0);
    pb_error e = expect_error(bad, PB_EBROKEN);
    expect_message(e.message, "sent a malformed frame: ");
    expect_message(e.message, "%s", expect);
    int pid = 0;
    assert_int_equal(sscanf(e.message, "worker %d sent", &pid), 1);
    assert_true(pid_of(good) != pid);
    pb_future_release(bad);
    pb_future_release(good);
    for (int i = 0; i < 4; i++)
        assert_true(run_pid(p) != pid);
    pb_pool_destroy(p);
}

static void test_malformed_magic(void **s)
{
    (void)s;
    malformed_case("f_bad_magic", "bad magic");
}

static void test_malformed_oversized(void **s)
{
    (void)s;
    malformed_case("f_oversized", "exceeds the limit");
}

/* ---- sizes and signals ---- */

static void test_big_result_and_argument(void **s)
{
    (void)s;
    pb_pool *p = make_pool(2, 0, 0, NULL);
    pb_future *f = submit(p, "f_big", NULL, 0);
    const void *d;
    size_t n;
    assert_int_equal(pb_future_result(f, HANG_GUARD, &d, &n), 0);
    assert_int_equal(n, 16u << 20);
    const unsigned char *b = d;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 131 + (i >> 16)))
            fail_msg("byte %zu of the 16 MiB result differs", i);
    pb_future_release(f);

    size_t alen = 24u << 20;
    unsigned char *arg = malloc(alen);
    unsigned long long sum = 0;
    for (size_t i = 0; i < alen; i++) {
        arg[i] = (unsigned char)(i * 7 + 3);
        sum += arg[i];
    }
    f = submit(p, "f_sum", arg, alen);
    free(arg); /* submit copied it */
    assert_int_equal(pb_future_result(f, HANG_GUARD, &d, &n), 0);
    unsigned long long got[2];
    memcpy(got, d, sizeof got);
    assert_int_equal(got[1], alen);
    assert_true(got[0] == sum);
    pb_future_release(f);
    pb_pool_destroy(p);
}

/* A worker killed while the pool writes a large argument to it: no SIGPIPE
 * reaches this process (SIGPIPE is at its default action: it would kill us). */
static void test_no_sigpipe(void **s)
{
    (void)s;
    signal(SIGPIPE, SIG_DFL);
    pb_pool *p = make_pool(1, 0, 0, NULL);
    for (int round = 0; round < 3; round++) {
        int pid = run_pid(p);
        size_t alen = 64u << 20;
        unsigned char *arg = calloc(1, alen);
        pb_future *f = submit(p, "f_sum", arg, alen);
        free(arg);
        kill(pid, SIGKILL);
        int r = pb_future_result(f, HANG_GUARD, NULL, NULL);
        assert_true(r == 0 || r == PB_EBROKEN);
        pb_future_release(f);
        assert_true(run_pid(p) != pid);
    }
    pb_pool_destroy(p);
}

/* ---- shutdown ---- */

static void test_shutdown_cancel_with_held_worker(void **s)
{
    (void)s;
    pb_pool *p = make_pool(1, 0, 0, NULL);
    hold h;
    hold_init(&h);
    pb_future *held = submit(p, "f_hold", h.arg, strlen(h.arg));
    int pid = hold_pid(&h);
    /* The worker may hold a few of these in its own queue (prefetch): those
     * are RUNNING, so cancel_futures leaves them alone and they run. Enough
     * are submitted that the last ones wait in the pool's queue whatever the
     * prefetch (at most 32). */
    enum { Q = 40 };
    pb_future *queued[Q];
    for (int i = 0; i < Q; i++)
        queued[i] = submit(p, "f_pid", NULL, 0);
    assert_int_equal(pb_pool_shutdown(p, false, true), 0);
    int cancelled = 0;
    for (int i = 0; i < Q; i++) {
        if (pb_future_cancelled(queued[i])) {
            cancelled++;
        } else {
            assert_true(pb_future_running(queued[i]));
            assert_true(i < cancelled + 33); /* only the first ones can be held */
        }
    }
    assert_true(pb_future_cancelled(queued[Q - 1]));
    pb_future *late = NULL;
    assert_int_equal(pb_submit(p, task("f_pid"), NULL, 0, &late), PB_ESHUTDOWN);
    assert_true(pb_future_running(held));
    hold_open(&h);
    assert_int_equal(pid_of(held), pid);
    for (int i = 0; i < Q; i++) {
        if (!pb_future_cancelled(queued[i]))
            assert_int_equal(pid_of(queued[i]), pid);
        pb_future_release(queued[i]);
    }
    pb_future_release(held);
    pb_pool_destroy(p);
}

/* shutdown(wait=false) still runs what is queued; destroy with work in flight
 * finishes it (destroy is shutdown(wait) first). */
static void test_destroy_in_flight(void **s)
{
    (void)s;
    pb_pool *p = make_pool(2, 0, 0, NULL);
    enum { N = 50 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit(p, "f_malloc_churn", NULL, 0);
    assert_int_equal(pb_pool_shutdown(p, false, false), 0);
    pb_pool_destroy(p);
    for (int i = 0; i < N; i++) {
        assert_true(pb_future_done(fs[i]));
        assert_int_equal(pb_future_result(fs[i], 0, NULL, NULL), 0);
        pb_future_release(fs[i]);
    }
}

/* ---- resource exhaustion ---- */

static int lowest_free_fd(void)
{
    int fd = dup(0);
    assert_true(fd >= 0);
    close(fd);
    return fd;
}

static struct rlimit g_nofile; /* the limit to restore after a test lowered it */

static int save_nofile(void **state)
{
    (void)state;
    return getrlimit(RLIMIT_NOFILE, &g_nofile);
}

static int restore_nofile(void **state)
{
    (void)state;
    return setrlimit(RLIMIT_NOFILE, &g_nofile);
}

static void set_nofile(rlim_t soft)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = soft;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void test_emfile_at_create(void **s)
{
    (void)s;
    /* Room for the event loop and a worker or two, not for four. */
    set_nofile((rlim_t)lowest_free_fd() + 5);
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 4;
    pb_pool *p = NULL;
    int r = pb_pool_create(g_backend, &o, &p);
    restore_nofile(NULL);
    assert_int_equal(r, -EMFILE);
    assert_null(p);
    expect_message(pb_pool_last_error(), "%s", strerror(EMFILE));
    /* Nothing was left behind, and pools work again. */
    p = make_pool(4, 0, 0, NULL);
    assert_true(run_pid(p) > 0);
    pb_pool_destroy(p);
}

static void test_emfile_at_respawn(void **s)
{
    (void)s;
    pb_pool *p = make_pool(1, 0, 0, NULL);
    int pid = run_pid(p);
    /* No new fd at all (the fds already open stay usable; those the dead
     * worker frees must not be reusable either). */
    set_nofile(3);
    kill(pid, SIGKILL);
    wait_dead(pid);
    /* The replacement cannot start: queued work fails, saying why. */
    pb_future *f = submit(p, "f_pid", NULL, 0);
    pb_error e = expect_error(f, PB_EBROKEN);
    expect_message(e.message, "no worker process could be started: ");
    expect_message(e.message, "%s", strerror(EMFILE));
    pb_future_release(f);
    restore_nofile(NULL);
    /* The pool retries and recovers. */
    for (int i = 0; i < 200; i++) {
        f = submit(p, "f_pid", NULL, 0);
        int r = pb_future_result(f, HANG_GUARD, NULL, NULL);
        pb_future_release(f);
        if (r == 0)
            break;
        assert_int_equal(r, PB_EBROKEN);
        usleep(10000);
    }
    assert_true(run_pid(p) != pid);
    pb_pool_destroy(p);
}

/* ---- the exec backend's worker program ---- */

/* pb_pool_create(backend) of two workers running program: its return value;
 * *p is set only on success. */
static int create_with_program(const char *backend, const char *program, pb_pool **p)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;
    o.worker_program = program;
    *p = NULL;
    return pb_pool_create(backend, &o, p);
}

/* pb_pool_create(backend) with program fails with code, leaves no pool and
 * says why, naming `mentions`. */
static void expect_create_fails(const char *backend, const char *program, int code,
                                const char *mentions)
{
    pb_pool *p;
    int r = create_with_program(backend, program, &p);
    if (r != code)
        fail_msg("worker_program %s: expected %s, got %s (%s)", program, pb_strerror(code),
                 pb_strerror(r), pb_pool_last_error());
    assert_null(p);
    expect_message(pb_pool_last_error(), "%s", mentions);
}

static void test_exec_program_missing(void **s)
{
    (void)s;
    expect_create_fails("exec", "/nonexistent/poolbench-worker", PB_ENOENT,
                        "/nonexistent/poolbench-worker");
    expect_create_fails("exec", "/dev/null", -EACCES, "/dev/null"); /* not executable */
}

static void test_exec_program_not_a_worker(void **s)
{
    (void)s;
    expect_create_fails("exec", "/bin/true", PB_EBROKEN, "before its handshake");
    expect_message(pb_pool_last_error(), "pb_worker_main_if_requested");
}

static void test_exec_helper_program(void **s)
{
    (void)s;
    pb_pool *p;
    int r = create_with_program("exec", g_helper, &p);
    if (r)
        fail_msg("%s: %s", pb_strerror(r), pb_pool_last_error());
    /* Tasks both programs know run; a task only this program knows fails
     * with PB_ETASK/PB_ENOENT in the helper. */
    assert_true(run_pid(p) != getpid());
    pb_future *f = submit(p, "f_only_in_test", NULL, 0);
    pb_error e = expect_error(f, PB_ETASK);
    assert_int_equal(e.task_code, PB_ENOENT);
    expect_message(e.message, "f_only_in_test");
    pb_future_release(f);
    pb_pool_destroy(p);
}

/* A worker whose start step fails (its HELLO reports that it could not bind
 * to its CPUs) is a failed start, after create as at create: replacements
 * that keep failing fail the queued work saying why, instead of running it
 * on an unbound worker. */
static void test_exec_replacement_cannot_bind(void **s)
{
    (void)s;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.worker_program = g_helper;
    pb_pool *p = NULL;
    int r = pb_pool_create("exec", &o, &p);
    if (r)
        fail_msg("%s: %s", pb_strerror(r), pb_pool_last_error());
    int pid = run_pid(p);
    assert_int_equal(setenv("FAULTS_BAD_CPUS", "1", 1), 0);
    kill(pid, SIGKILL);
    wait_dead(pid);
    pb_future *f = submit(p, "f_pid", NULL, 0);
    pb_error e = expect_error(f, PB_EBROKEN);
    expect_message(e.message, "no worker process could be started: ");
    expect_message(e.message, "could not start: cannot bind to CPUs 1000000");
    pb_future_release(f);
    unsetenv("FAULTS_BAD_CPUS");
    pb_pool_destroy(p);

    /* At create, the same failure fails pb_pool_create. */
    assert_int_equal(setenv("FAULTS_BAD_CPUS", "1", 1), 0);
    r = create_with_program("exec", g_helper, &p);
    unsetenv("FAULTS_BAD_CPUS");
    assert_true(r < 0);
    assert_null(p);
    expect_message(pb_pool_last_error(), "could not start: cannot bind to CPUs 1000000");
}

static void test_fork_rejects_worker_program(void **s)
{
    (void)s;
    expect_create_fails("fork", "/bin/true", PB_ENOTSUP, "worker_program");
}

/* A worker that gets bytes it cannot read as a frame says why on stderr and
 * exits with status 70 (EX_SOFTWARE). Run as the exec backend starts it:
 * this program with --pb-worker=3,4,4096 (its socket, the pool's shared
 * memory and where its region lies in it, made here as the pool makes
 * them). */
static void test_worker_rejects_garbage(void **s)
{
    (void)s;
    int sv[2], err[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(err), 0);
    int shm = memfd_create("shm", 0);
    assert_true(shm >= 0);
    size_t region = pb__shm_size(0, 65536);
    void *area;
    assert_int_equal(pb__shm_area_init(shm, 4096 + region, &area), 0);
    pb__shm_format((char *)area + 4096, 0, 65536);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        /* Out of the way first, then into place. */
        int a = fcntl(sv[1], F_DUPFD, 10), b = fcntl(shm, F_DUPFD, 10);
        dup2(a, 3);
        dup2(b, 4);
        execl("/proc/self/exe", "faults-worker", "--pb-worker=3,4,4096", (char *)NULL);
        _exit(127);
    }
    close(shm);
    munmap(area, 4096 + region);
    close(sv[1]);
    close(err[1]);
    char buf[4096];
    assert_true(read(sv[0], buf, sizeof buf) > 0); /* its HELLO */
    static const char junk[] = "GET / HTTP/1.1\r\n\r\n";
    assert_int_equal(write(sv[0], junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(err[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(sv[0]);
    close(err[0]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 70);
    expect_message(buf, "poolbench worker: malformed frame from the pool: bad magic");
}

PB_TASK(f_only_in_test)
{
}

/* ---- forking while other threads hold locks ---- */

static _Atomic int g_stop_threads;
static pthread_mutex_t g_user_lock = PTHREAD_MUTEX_INITIALIZER;

static void *lock_holder(void *arg)
{
    (void)arg;
    while (!g_stop_threads) {
        pthread_mutex_lock(&g_user_lock);
        usleep(200); /* held most of the time */
        pthread_mutex_unlock(&g_user_lock);
    }
    return NULL;
}

static void *malloc_churner(void *arg)
{
    (void)arg;
    while (!g_stop_threads) {
        void *ps[64];
        for (int i = 0; i < 64; i++)
            ps[i] = malloc((size_t)(i * 97 % 5000) + 1);
        for (int i = 0; i < 64; i++)
            free(ps[i]);
    }
    return NULL;
}

static void *stdio_writer(void *arg)
{
    FILE *f = arg;
    while (!g_stop_threads) {
        flockfile(f);
        fprintf(f, "holding the FILE lock %d\n", 42);
        funlockfile(f);
    }
    return NULL;
}

static void test_fork_with_busy_threads(void **s)
{
    (void)s;
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    pthread_t th[4];
    g_stop_threads = 0;
    assert_int_equal(pthread_create(&th[0], NULL, lock_holder, NULL), 0);
    assert_int_equal(pthread_create(&th[1], NULL, malloc_churner, NULL), 0);
    assert_int_equal(pthread_create(&th[2], NULL, malloc_churner, NULL), 0);
    assert_int_equal(pthread_create(&th[3], NULL, stdio_writer, devnull), 0);
    for (int cycle = 0; cycle < 8; cycle++) {
        /* max_tasks 1: the collector forks replacements while the threads
         * run, besides the creator forking the first workers. */
        pb_pool *p = make_pool(2, 1, 0, NULL);
        pb_future *fs[10];
        for (int i = 0; i < 10; i++)
            fs[i] = submit(p, "f_malloc_churn", NULL, 0);
        for (int i = 0; i < 10; i++) {
            assert_int_equal(pb_future_result(fs[i], HANG_GUARD, NULL, NULL), 0);
            pb_future_release(fs[i]);
        }
        pb_pool_destroy(p);
    }
    g_stop_threads = 1;
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    fclose(devnull);
}

/* ---- leaks ---- */

/* Nothing of a pool is left: the fd count is back where it was, no thread
 * more than the baseline, no child (not even a zombie). */
static void nothing_left(int fds, int threads, const char *when)
{
    int now = pbt_count_fds();
    if (now != fds)
        fail_msg("%s: %d fds open, %d before", when, now, fds);
    now = pbt_threads_settled(threads);
    if (now > threads)
        fail_msg("%s: %d threads, %d before", when, now, threads);
    if (pbt_has_children())
        fail_msg("%s: a child process is left", when);
}

static void test_leaks(void **s)
{
    (void)s;
    static const char *const backends[] = { "fork", "exec" };
    /* One cycle first: runtimes may start a thread of their own on first
     * use (the thread sanitizer does), which is not ours to count. */
    pb_pool_destroy(make_pool(1, 0, 0, NULL));
    int fds = pbt_count_fds();
    int threads = pbt_threads_quiet();
    for (int cycle = 0; cycle < 12; cycle++) {
        g_backend = backends[cycle % 2];
        /* Plain, with crashes, with timeouts, with recycling. */
        pb_pool *p = make_pool(2, cycle % 3 == 0 ? 2 : 0, cycle % 4 == 1 ? 100 * MS : 0, NULL);
        pb_future *fs[6];
        fs[0] = submit(p, "f_segv", NULL, 0);
        fs[1] = submit(p, cycle % 4 == 1 ? "f_sleep_forever" : "f_exit3", NULL, 0);
        for (int i = 2; i < 6; i++)
            fs[i] = submit(p, "f_pid", NULL, 0);
        pb_pool_destroy(p);
        for (int i = 0; i < 6; i++) {
            assert_true(pb_future_done(fs[i]));
            pb_future_release(fs[i]);
        }
        char when[64];
        snprintf(when, sizeof when, "after destroy (cycle %d, %s)", cycle, g_backend);
        nothing_left(fds, threads, when);
    }
    /* A failed create leaves nothing either. */
    expect_create_fails("exec", "/bin/true", PB_EBROKEN, "before its handshake");
    nothing_left(fds, threads, "after a failed create");
}

static int setup_dir(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/pb-faults-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(g_dir);
}

int main(int argc, char **argv)
{
    pb_worker_main_if_requested(argc, argv);
    faults_tasks_linked();
    if (argc < 2) {
        fprintf(stderr, "usage: %s fork|exec|leaks [helper-program]\n"
                        "  (fork and exec may carry the backend's settings: "
                        "fork:transport=shm,prefetch=0)\n", argv[0]);
        return 2;
    }
    g_backend = argv[1];
    /* The backend's own name, without settings. */
    char base[16];
    snprintf(base, sizeof base, "%.*s", (int)strcspn(g_backend, ":"), g_backend);
    if (argc > 2)
        snprintf(g_helper, sizeof g_helper, "%s", argv[2]);
    if (setup_dir() < 0) {
        perror("mkdtemp");
        return 1;
    }
    int rc;
    if (strcmp(g_backend, "leaks") == 0) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_leaks),
            cmocka_unit_test(test_fork_with_busy_threads),
        };
        g_backend = "fork";
        rc = cmocka_run_group_tests_name("leaks", tests, NULL, NULL);
    } else if (strcmp(base, "fork") == 0 || strcmp(base, "exec") == 0) {
        const struct CMUnitTest common[] = {
            cmocka_unit_test(test_crash_segv),
            cmocka_unit_test(test_crash_abort),
            cmocka_unit_test(test_crash_exit3),
            cmocka_unit_test(test_killed_from_outside),
            cmocka_unit_test(test_orphaned_worker_exits),
            cmocka_unit_test(test_idle_death),
            cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_timeout_term_ignored),
            cmocka_unit_test(test_max_tasks_backlog),
            cmocka_unit_test(test_max_tasks_two_workers),
            cmocka_unit_test(test_init_once_per_worker),
            cmocka_unit_test(test_init_fails),
            cmocka_unit_test(test_init_crashes),
            cmocka_unit_test(test_malformed_magic),
            cmocka_unit_test(test_malformed_oversized),
            cmocka_unit_test(test_big_result_and_argument),
            cmocka_unit_test(test_no_sigpipe),
            cmocka_unit_test(test_shutdown_cancel_with_held_worker),
            cmocka_unit_test(test_destroy_in_flight),
            cmocka_unit_test_setup_teardown(test_emfile_at_create, save_nofile, restore_nofile),
            cmocka_unit_test_setup_teardown(test_emfile_at_respawn, save_nofile, restore_nofile),
        };
        rc = cmocka_run_group_tests_name(g_backend, common, NULL, NULL);
        if (strcmp(base, "exec") == 0) {
            const struct CMUnitTest exec_only[] = {
                cmocka_unit_test(test_exec_program_missing),
                cmocka_unit_test(test_exec_program_not_a_worker),
                cmocka_unit_test(test_exec_helper_program),
                cmocka_unit_test(test_worker_rejects_garbage),
                cmocka_unit_test(test_exec_replacement_cannot_bind),
            };
            rc |= cmocka_run_group_tests_name("exec program", exec_only, NULL, NULL);
        } else {
            const struct CMUnitTest fork_only[] = {
                cmocka_unit_test(test_fork_rejects_worker_program),
            };
            rc |= cmocka_run_group_tests_name("fork program", fork_only, NULL, NULL);
        }
    } else {
        fprintf(stderr, "%s: unknown mode '%s' (fork, exec or leaks)\n", argv[0], g_backend);
        remove_dir();
        return 2;
    }
    remove_dir();
    return rc;
}
