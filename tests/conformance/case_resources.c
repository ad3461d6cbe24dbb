/*
 * case_resources.c — what a pool leaves behind (no thread, fd or child after
 * destroy; no signal disposition or mask changed) and bad arguments answered
 * with a code, never a crash.
 */
#include "conformance.h"

#include <pb/backend.h>

#include <errno.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- Nothing left behind ---- */

/* "3 -> pipe:[1234], 5 -> socket:[99]": what is open now, for a message. */
static void describe_fds(char *buf, size_t size)
{
    buf[0] = '\0';
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && used + 1 < size) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        int w = snprintf(buf + used, size - used, "%s%s -> %s", used ? ", " : "",
                         e->d_name, target);
        if (w < 0)
            break;
        used += (size_t)w < size - used ? (size_t)w : size - used - 1;
    }
    closedir(d);
}

/* "3141 (conformance), 3150 (pb-thread-1)": the threads now, for a message. */
static void describe_threads(char *buf, size_t size)
{
    buf[0] = '\0';
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && used + 1 < size) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            if (fgets(comm, sizeof comm, f) == NULL)
                comm[0] = '\0';
            fclose(f);
        }
        comm[strcspn(comm, "\n")] = '\0';
        int w = snprintf(buf + used, size - used, "%s%s (%s)", used ? ", " : "", e->d_name,
                         comm);
        if (w < 0)
            break;
        used += (size_t)w < size - used ? (size_t)w : size - used - 1;
    }
    closedir(d);
}

static void check_nothing_left(int fds0, int threads0, const char *when)
{
    STEP("checking threads, fds and children %s", when);
    int threads = pbc_count_threads_settled(threads0);
    if (threads > threads0) {
        char now[1024];
        describe_threads(now, sizeof now);
        FAIL("%s: %d threads, %d before (now: %s)", when, threads, threads0, now);
    }
    int fds = pbc_count_fds();
    if (fds != fds0) {
        char open_now[1024];
        describe_fds(open_now, sizeof open_now);
        FAIL("%s: %d fds open, %d before (now: %s)", when, fds, fds0, open_now);
    }
    CHECK_MSG(!pbc_has_children(), "%s: a child process is left (waitpid(-1, WNOHANG) "
              "did not answer ECHILD)", when);
}

static void some_work(pb_pool *pool, int cycle)
{
    enum { N = 100 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = pbc_submit_u64(pool, (uint64_t)i);
    int32_t code = 1;
    pb_future *bad = pbc_submit(pool, "conf_fail", &code, sizeof code);
    uint64_t vals[50];
    pb_bytes args[50];
    for (int i = 0; i < 50; i++) {
        vals[i] = (uint64_t)i;
        args[i] = (pb_bytes){&vals[i], sizeof vals[i]};
    }
    pb_map *m = NULL;
    CHECK_OK(pb_map_new(pool, pbc_task("conf_echo"), args, 50, 7, PB_FOREVER, &m));
    for (int i = 0; i < 50; i++) {
        const void *data;
        size_t len;
        CHECK_OK(pb_map_next(m, &data, &len, NULL));
    }
    pb_map_free(m);
    for (int i = 0; i < N; i++)
        CHECK_RESULT_U64(fs[i], (uint64_t)i);
    CHECK_CODE(pb_future_result(bad, PB_FOREVER, NULL, NULL), PB_ETASK);
    pbc_release_all(fs, N);
    pb_future_release(bad);

    if (cycle % 2 == 1) {
        /* Leave work queued and cancelled for destroy to deal with. */
        pbc_blocked b;
        BLOCKED_SETUP(&b, pool, true);
        CHECK_OK(pb_pool_shutdown(pool, false, true));
        pbc_gate_open(&b.gate);
        b.pool = NULL; /* the caller destroys it */
        pbc_blocked_teardown(&b);
    }
}

static void *nothing(void *arg)
{
    return arg;
}

PBC_CASE(resources, nothing_left_after_destroy)
{
    const pb_backend *b = pb_backend_find(backend);
    if (b && b->keeps_threads)
        SKIP("backend %s keeps threads after destroy: %s", backend, b->keeps_threads);
    /* ThreadSanitizer starts a thread of its own at the first pthread_create
     * of a process: let that happen before counting. */
    pbc_thread warm;
    pbc_thread_start(&warm, nothing, NULL);
    pbc_thread_join(&warm);
    int fds0 = pbc_count_fds();
    int threads0 = pbc_count_threads_quiet();
    CHECK_MSG(!pbc_has_children(), "the case process has a child before any pool exists");
    for (int cycle = 0; cycle < 4; cycle++) {
        STEP("cycle %d", cycle);
        pb_pool *pool = pbc_pool(backend, 2, NULL);
        some_work(pool, cycle);
        pb_pool_destroy(pool);
        char when[64];
        snprintf(when, sizeof when, "after destroy (cycle %d)", cycle);
        check_nothing_left(fds0, threads0, when);
    }
    STEP("destroy right after create");
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    pb_pool_destroy(pool);
    check_nothing_left(fds0, threads0, "after create + destroy");

    STEP("default number of workers");
    pool = pbc_pool(backend, 0, NULL);
    some_work(pool, 0);
    pb_pool_destroy(pool);
    check_nothing_left(fds0, threads0, "after a default-sized pool");
}

/* Weaker than the case above, and telling where that one fails: whatever a
 * first pool left (a library's process-wide threads started on first use),
 * more pools add nothing. */
PBC_CASE(resources, no_growth_across_pools)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    some_work(pool, 0);
    pb_pool_destroy(pool);
    int fds1 = pbc_count_fds();
    int threads1 = pbc_count_threads_quiet();
    for (int cycle = 1; cycle < 6; cycle++) {
        STEP("cycle %d", cycle);
        pool = pbc_pool(backend, 2, NULL);
        some_work(pool, cycle);
        pb_pool_destroy(pool);
        char when[64];
        snprintf(when, sizeof when, "after pool %d (compared with after pool 0)", cycle);
        check_nothing_left(fds1, threads1, when);
    }
}

typedef struct sig_snapshot {
    struct sigaction act[NSIG];
    sigset_t mask;
} sig_snapshot;

static void snapshot(sig_snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, NULL, &s->act[sig]);
    pthread_sigmask(SIG_SETMASK, NULL, &s->mask);
}

static void compare(const sig_snapshot *a, const sig_snapshot *b, const char *when)
{
    for (int sig = 1; sig < NSIG; sig++) {
        const struct sigaction *x = &a->act[sig], *y = &b->act[sig];
        bool same = x->sa_handler == y->sa_handler && x->sa_flags == y->sa_flags;
        for (int k = 1; k < NSIG && same; k++)
            same = sigismember(&x->sa_mask, k) == sigismember(&y->sa_mask, k);
        CHECK_MSG(same, "%s: the disposition of signal %d (%s) changed: the library must "
                  "install no signal handlers in the host", when, sig, strsignal(sig));
    }
    for (int k = 1; k < NSIG; k++)
        CHECK_MSG(sigismember(&a->mask, k) == sigismember(&b->mask, k),
                  "%s: the calling thread's signal mask changed for signal %d (%s)", when,
                  k, strsignal(k));
}

PBC_CASE(resources, signals_untouched)
{
    static sig_snapshot before, now;
    snapshot(&before);
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    some_work(pool, 0);
    snapshot(&now);
    compare(&before, &now, "with a pool running");
    pb_pool_destroy(pool);
    snapshot(&now);
    compare(&before, &now, "after destroy");
}

/* ---- Bad arguments ---- */

static void expect_create(const char *backend, const pb_pool_opts *o, int want,
                          const char *what)
{
    STEP("pb_pool_create with %s", what);
    pb_pool *pool = NULL;
    int rc = pb_pool_create(backend, o, &pool);
    if (rc == 0)
        pb_pool_destroy(pool);
    CHECK_MSG(rc == want, "pb_pool_create with %s returned %d (%s), expected %d (%s)", what,
              rc, pb_strerror(rc), want, pb_strerror(want));
    const char *msg = pb_pool_last_error();
    CHECK_MSG(msg != NULL && msg[0] != '\0',
              "pb_pool_create with %s failed but pb_pool_last_error() explains nothing",
              what);
}

PBC_CASE(args, pool_create)
{
    pb_pool_opts o;
    memset(&o, 0x5a, sizeof o);
    pb_pool_opts_init(&o);
    CHECK(o.workers == 0 && o.initializer == NULL && o.init_arg == NULL &&
          o.init_len == 0 && o.max_tasks_per_worker == 0 && o.task_timeout == 0 &&
          o.worker_program == NULL);
    CHECK(o.pin == NULL || strcmp(o.pin, "none") == 0);

    expect_create("no-such-backend", NULL, PB_ENOENT, "an unknown backend");
    expect_create("", NULL, PB_ENOENT, "an empty backend name");

    pb_pool *pool = (pb_pool *)&o;
    int rc = pb_pool_create(NULL, NULL, &pool);
    CHECK_MSG(rc < 0, "pb_pool_create(NULL backend) returned %d", rc);
    CHECK_CODE(pb_pool_create(backend, NULL, NULL), PB_EINVAL);

    pb_pool_opts_init(&o);
    o.workers = -1;
    expect_create(backend, &o, PB_EINVAL, "workers = -1");

    pb_pool_opts_init(&o);
    o.task_timeout = -5;
    expect_create(backend, &o, PB_EINVAL, "task_timeout = -5");

    pb_pool_opts_init(&o);
    o.initializer = "no_such_task";
    expect_create(backend, &o, PB_ENOENT, "an unknown initializer");

    const char *bad_pins[] = {"",       "3-",   "3-1",   "abc",      "0,",  ",0",
                              "-1",     "0-",   "1 2",   "compactx", "0;1", "0,,1",
                              "999999", "4096", "0-99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_pins / sizeof bad_pins[0]; i++) {
        pb_pool_opts_init(&o);
        o.workers = 1;
        o.pin = bad_pins[i];
        char what[64];
        snprintf(what, sizeof what, "pin \"%s\"", bad_pins[i]);
        expect_create(backend, &o, PB_EINVAL, what);
    }

    STEP("opts NULL means defaults");
    pool = pbc_pool(backend, 0, NULL);
    CHECK_INT(pb_pool_workers(pool), ==, pbc_default_workers(backend));
    pb_pool_destroy(pool);
    pool = NULL;
    rc = pb_pool_create(backend, NULL, &pool);
    if (rc == PB_ENOTSUP)
        SKIP("%s cannot create a pool with default options: %s", backend,
             pb_pool_last_error());
    CHECK_OK(rc);
    CHECK_INT(pb_pool_workers(pool), ==, pbc_default_workers(backend));
    CHECK_STR(pb_pool_backend(pool), pbc_backend_name(backend));
    pb_pool_destroy(pool);
}

static void dummy_cb(pb_future *f, void *ud)
{
}

PBC_CASE(args, null_and_bad_values)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    const pb_task *echo = pbc_task("conf_echo");
    pb_future *f = NULL;

    STEP("pb_submit");
    CHECK_CODE(pb_submit(NULL, echo, NULL, 0, &f), PB_EINVAL);
    CHECK_CODE(pb_submit(pool, NULL, NULL, 0, &f), PB_EINVAL);
    CHECK_CODE(pb_submit(pool, echo, NULL, 0, NULL), PB_EINVAL);
    CHECK_CODE(pb_submit(pool, echo, NULL, 5, &f), PB_EINVAL);
    CHECK(f == NULL);

    pb_future *ok = pbc_submit_u64(pool, 1);
    CHECK_RESULT_U64(ok, 1);
    pbc_gate g;
    pbc_gate_init(&g);
    pb_future *run = pbc_submit_gate(pool, &g);

    STEP("result / error / times");
    const int64_t bad_timeouts[] = {-2, -1000, INT64_MIN};
    pb_error err;
    for (size_t i = 0; i < 3; i++) {
        CHECK_CODE(pb_future_result(ok, bad_timeouts[i], NULL, NULL), PB_EINVAL);
        CHECK_CODE(pb_future_result(run, bad_timeouts[i], NULL, NULL), PB_EINVAL);
        CHECK_CODE(pb_future_error(ok, bad_timeouts[i], &err), PB_EINVAL);
        CHECK_CODE(pb_future_error(run, bad_timeouts[i], &err), PB_EINVAL);
    }
    CHECK_CODE(pb_future_result(NULL, 0, NULL, NULL), PB_EINVAL);
    CHECK_CODE(pb_future_result(NULL, PB_FOREVER, NULL, NULL), PB_EINVAL);
    CHECK_CODE(pb_future_error(NULL, 0, &err), PB_EINVAL);
    CHECK_CODE(pb_future_error(ok, 0, NULL), PB_EINVAL);
    pb_times t;
    CHECK_CODE(pb_future_times(NULL, &t), PB_EINVAL);
    CHECK_CODE(pb_future_times(ok, NULL), PB_EINVAL);

    STEP("callbacks and references");
    CHECK_CODE(pb_future_add_done_callback(NULL, dummy_cb, NULL), PB_EINVAL);
    CHECK_CODE(pb_future_add_done_callback(ok, NULL, NULL), PB_EINVAL);
    pb_future_retain(NULL);
    pb_future_release(NULL);

    STEP("pb_wait");
    pb_future *with_null[] = {ok, NULL};
    CHECK_CODE(pb_wait(NULL, 2, PB_ALL_COMPLETED, 0), PB_EINVAL);
    CHECK_CODE(pb_wait(with_null, 2, PB_ALL_COMPLETED, 0), PB_EINVAL);
    CHECK_CODE(pb_wait(&ok, 1, (pb_return_when)42, 0), PB_EINVAL);
    CHECK_CODE(pb_wait(&ok, 1, (pb_return_when)-1, 0), PB_EINVAL);
    for (size_t i = 0; i < 3; i++)
        CHECK_CODE(pb_wait(&run, 1, PB_FIRST_COMPLETED, bad_timeouts[i]), PB_EINVAL);

    STEP("as_completed");
    pb_as_completed *it = NULL;
    CHECK_CODE(pb_as_completed_new(NULL, 2, PB_FOREVER, &it), PB_EINVAL);
    CHECK_CODE(pb_as_completed_new(with_null, 2, PB_FOREVER, &it), PB_EINVAL);
    CHECK_CODE(pb_as_completed_new(&ok, 1, PB_FOREVER, NULL), PB_EINVAL);
    for (size_t i = 0; i < 3; i++)
        CHECK_CODE(pb_as_completed_new(&ok, 1, bad_timeouts[i], &it), PB_EINVAL);
    CHECK(it == NULL);
    CHECK_OK(pb_as_completed_new(&ok, 1, PB_FOREVER, &it));
    CHECK_CODE(pb_as_completed_next(it, NULL), PB_EINVAL);
    pb_future *y = NULL;
    CHECK_CODE(pb_as_completed_next(NULL, &y), PB_EINVAL);
    CHECK_OK(pb_as_completed_next(it, &y));
    CHECK(y == ok);
    pb_as_completed_free(it);

    STEP("binding out of range");
    char buf[64];
    int rc = pb_pool_binding(pool, -1, buf, sizeof buf);
    CHECK_MSG(rc == PB_EINVAL || rc == PB_ENOTSUP, "pb_pool_binding(-1): %d (%s)", rc,
              pb_strerror(rc));
    rc = pb_pool_binding(pool, pb_pool_workers(pool), buf, sizeof buf);
    CHECK_MSG(rc == PB_EINVAL || rc == PB_ENOTSUP, "pb_pool_binding(workers): %d (%s)", rc,
              pb_strerror(rc));

    pbc_gate_open(&g);
    pb_pool_destroy(pool);
    pb_future_release(ok);
    pb_future_release(run);
}

static void some_task(pb_task_ctx *ctx, const void *arg, size_t len)
{
}

PBC_CASE(args, registry_and_names)
{
    STEP("the task registry");
    CHECK_CODE(pb_task_register("conf_echo", some_task), PB_EINVAL);
    CHECK_CODE(pb_task_register(NULL, some_task), PB_EINVAL);
    CHECK_CODE(pb_task_register("", some_task), PB_EINVAL);
    CHECK_CODE(pb_task_register("conf_args_no_fn", NULL), PB_EINVAL);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_CODE(pb_task_register(longname, some_task), PB_EINVAL);
    CHECK(pb_task_find(longname) == NULL);
    CHECK(pb_task_find("no such task") == NULL);
    CHECK_OK(pb_task_register("conf_args_runtime", some_task));
    CHECK(pb_task_find("conf_args_runtime") != NULL);
    CHECK_CODE(pb_task_register("conf_args_runtime", some_task), PB_EINVAL);
    CHECK_STR(pb_task_name(pbc_task("conf_echo")), "conf_echo");

    STEP("error names");
    const int codes[] = {0,         PB_EINVAL,  PB_ENOMEM, PB_ENOENT,   PB_ETIMEDOUT,
                         PB_ECANCELED, PB_ESHUTDOWN, PB_ETASK, PB_EBROKEN, PB_EKILLED,
                         PB_EOF,    PB_ENOTSUP, -EPERM,    -9999,       12345};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = pb_strerror(codes[i]);
        CHECK_MSG(s != NULL && s[0] != '\0', "pb_strerror(%d) is empty", codes[i]);
    }
    CHECK_STR(pb_strerror(0), "success");
    for (size_t i = 1; i <= 11; i++) {
        for (size_t k = i + 1; k <= 11; k++)
            CHECK_MSG(strcmp(pb_strerror(codes[i]), pb_strerror(codes[k])) != 0,
                      "codes %d and %d have the same name", codes[i], codes[k]);
    }

    STEP("backend names");
    const char *const *names = pb_backend_names();
    CHECK(names != NULL);
    bool found = false;
    for (size_t i = 0; names[i] != NULL; i++)
        found = found || strcmp(names[i], pbc_backend_name(backend)) == 0;
    CHECK(found);
    const char *summary = pb_backend_summary(backend);
    CHECK(summary != NULL && summary[0] != '\0');
    CHECK(pb_backend_summary("no-such-backend") == NULL);
}
