/*
 * workloads.c — the task functions scenarios submit. See workloads.h.
 *
 * These run inside workers, possibly in another process, so they touch no
 * harness state and report everything through pb_task_return/pb_task_fail.
 * A malformed argument is reported as a task failure (code EINVAL) rather
 * than guessed at: a scenario that sends the wrong bytes should see it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "workloads.h"

/* ---- The stop flag (workloads.h: Interruption) ---- */

#define STOP_ENV "POOLBENCH_WORKLOAD_STOP_FD"
#define STOP_NAME "poolbench-workload-stop"
#define STOP_SLICE_NS (50 * 1000000LL) /* how often a long sleep looks at it */

static atomic_int own_stop;
/* The flag: this process's own, or the shared page once there is one. Set
 * before any worker runs a task (share) or at load (attach). */
static atomic_int *_Atomic stop_flag = &own_stop;

bool pb_workloads_interrupted(void)
{
    return atomic_load_explicit(atomic_load_explicit(&stop_flag, memory_order_relaxed),
                                memory_order_relaxed) != 0;
}

void pb_workloads_interrupt(void)
{
    atomic_store_explicit(atomic_load_explicit(&stop_flag, memory_order_relaxed), 1,
                          memory_order_relaxed);
}

void pb_workloads_resume(void)
{
    atomic_store_explicit(atomic_load_explicit(&stop_flag, memory_order_relaxed), 0,
                          memory_order_relaxed);
}

int pb_workloads_share_stop(void)
{
    static int fd = -1;
    if (fd >= 0)
        return 0;
    /* Not close-on-exec: exec'd workers map it. Moved above the low fds a
     * spawner may dup2 its own onto in the child (the exec backend puts its
     * socket at 3 or 4). */
    int m = memfd_create(STOP_NAME, 0);
    if (m < 0)
        return -errno;
    int f = fcntl(m, F_DUPFD, 10);
    close(m);
    if (f < 0)
        return -errno;
    void *page = MAP_FAILED;
    if (ftruncate(f, (off_t)sizeof(atomic_int)) == 0)
        page = mmap(NULL, sizeof(atomic_int), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    char num[16];
    snprintf(num, sizeof num, "%d", f);
    if (page == MAP_FAILED || setenv(STOP_ENV, num, 1) != 0) {
        int e = errno;
        if (page != MAP_FAILED)
            munmap(page, sizeof(atomic_int));
        close(f);
        return -e;
    }
    atomic_store((atomic_int *)page, atomic_load(&own_stop));
    atomic_store(&stop_flag, (atomic_int *)page);
    fd = f;
    return 0;
}

/* In an exec'd worker (PB_EXEC_WORKER=1 until its main() runs): the parent's
 * flag, read-only, if the fd named is really that memfd. Runs before main. */
__attribute__((constructor)) static void attach_stop(void)
{
    const char *env = getenv(STOP_ENV);
    const char *worker = getenv("PB_EXEC_WORKER");
    if (!env)
        return;
    char *end;
    long f = strtol(env, &end, 10);
    unsetenv(STOP_ENV); /* nothing this process starts inherits it */
    if (!worker || strcmp(worker, "1") || *end || end == env || f < 0 || f > 1 << 20)
        return;
    char link[64], target[128];
    snprintf(link, sizeof link, "/proc/self/fd/%ld", f);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return;
    target[n] = '\0';
    struct stat st;
    if (strncmp(target, "/memfd:" STOP_NAME, strlen("/memfd:" STOP_NAME)) == 0 &&
        fstat((int)f, &st) == 0 && st.st_size >= (off_t)sizeof(atomic_int)) {
        void *page = mmap(NULL, sizeof(atomic_int), PROT_READ, MAP_SHARED, (int)f, 0);
        if (page != MAP_FAILED)
            atomic_store(&stop_flag, (atomic_int *)page);
        close((int)f);
    }
}

uint64_t pb_workload_checksum(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void pb_workload_fail_message(int32_t code, char *buf, size_t size)
{
    snprintf(buf, size, "workload 'fail' failed on purpose with code %d", (int)code);
}

const pb_task *pb_workload(const char *name)
{
    const pb_task *t = pb_task_find(name);
    if (!t) {
        /* A scenario naming a workload that does not exist is a bug in
         * poolbench itself, not bad input: say so and stop. */
        fprintf(stderr, "poolbench: internal error: workload '%s' is not registered\n", name);
        abort();
    }
    return t;
}

/* The int64_t argument of spin and sleep, or -1 after failing the task. */
static int64_t ns_arg(pb_task_ctx *ctx, const char *who, const void *arg, size_t len)
{
    int64_t ns;
    if (len != sizeof ns) {
        pb_task_fail(ctx, EINVAL, "%s: argument must be an int64_t of nanoseconds (%zu bytes given)",
                     who, len);
        return -1;
    }
    memcpy(&ns, arg, sizeof ns);
    if (ns < 0) {
        pb_task_fail(ctx, EINVAL, "%s: negative duration %lld ns", who, (long long)ns);
        return -1;
    }
    return ns;
}

/* Busy on the clock for ns: the vDSO clock read costs tens of ns, so this
 * overruns by at most one read. Ends early when interrupted (returns
 * false). */
bool pb_workload_spin(int64_t ns)
{
    int64_t end = pb_now_ns() + ns;
    while (pb_now_ns() < end)
        if (pb_workloads_interrupted())
            return false;
    return true;
}

/* Sleeps until the CLOCK_MONOTONIC time end (ns), in slices so that an
 * interruption is seen within one; the last slice ends at `end` itself, so
 * the sleep is as exact as one call. false when interrupted. */
static bool sleep_until(int64_t end)
{
    for (;;) {
        if (pb_workloads_interrupted())
            return false;
        int64_t now = pb_now_ns();
        if (now >= end)
            return true;
        int64_t to = end - now > STOP_SLICE_NS ? now + STOP_SLICE_NS : end;
        struct timespec ts = {.tv_sec = to / 1000000000, .tv_nsec = to % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
}

static void interrupted(pb_task_ctx *ctx, const char *who)
{
    pb_task_fail(ctx, EINTR, "%s: interrupted (the run is stopping)", who);
}

PB_TASK(noop)
{
}

PB_TASK(spin)
{
    int64_t ns = ns_arg(ctx, "spin", arg, len);
    if (ns < 0)
        return;
    if (!pb_workload_spin(ns)) {
        interrupted(ctx, "spin");
        return;
    }
    pb_task_return(ctx, arg, len);
}

/* Registered by hand: PB_TASK(sleep) would define a function called sleep,
 * which <unistd.h> already declares. */
static void sleep_task(pb_task_ctx *ctx, const void *arg, size_t len)
{
    int64_t ns = ns_arg(ctx, "sleep", arg, len);
    if (ns < 0)
        return;
    if (!sleep_until(pb_now_ns() + ns)) {
        interrupted(ctx, "sleep");
        return;
    }
    pb_task_return(ctx, arg, len);
}

__attribute__((constructor)) static void register_sleep(void)
{
    if (pb_task_register("sleep", sleep_task) != 0) {
        fprintf(stderr, "poolbench: cannot register the 'sleep' workload\n");
        abort();
    }
}

PB_TASK(echo)
{
    pb_task_return(ctx, arg, len);
}

PB_TASK(checksum)
{
    uint64_t h = pb_workload_checksum(arg, len);
    pb_task_return(ctx, &h, sizeof h);
}

PB_TASK(fail)
{
    int32_t code = 1;
    if (len == sizeof code)
        memcpy(&code, arg, sizeof code);
    else if (len != 0) {
        pb_task_fail(ctx, EINVAL, "fail: argument must be an int32_t code (%zu bytes given)", len);
        return;
    }
    char msg[128];
    pb_workload_fail_message(code, msg, sizeof msg);
    pb_task_fail(ctx, code, "%s", msg);
}

PB_TASK(report)
{
    pb_report r = {
        .cpu = sched_getcpu(),
        .pid = (int32_t)getpid(),
        .tid = (int32_t)syscall(SYS_gettid),
        .now = pb_now_ns(),
    };
    /* An optional int64_t argument: spin that long first, so a burst of
     * reports spreads over every worker instead of one fast worker taking
     * them all. The CPU is read again at the end. */
    if (len == sizeof(int64_t)) {
        int64_t ns;
        memcpy(&ns, arg, sizeof ns);
        if (!pb_workload_spin(ns)) {
            interrupted(ctx, "report");
            return;
        }
        r.cpu = sched_getcpu();
    }
    pb_task_return(ctx, &r, sizeof r);
}

/* A real invalid access. UndefinedBehaviorSanitizer would catch it first and
 * end the worker with exit status 1 instead of SIGSEGV, so it is told not
 * to look here: sanitizer builds must see the same crash as others. */
__attribute__((no_sanitize("undefined"))) static void store_to_null(void)
{
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
}

PB_TASK(crash)
{
    char how[16] = "";
    if (len > 0 && len < sizeof how)
        memcpy(how, arg, len);
    /* A crash report is expected, not a core file on the user's disk. */
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    if (!strcmp(how, "segv")) {
        signal(SIGSEGV, SIG_DFL);
        store_to_null();
        raise(SIGSEGV); /* not reached on Linux; keeps the promise if it were */
    } else if (!strcmp(how, "abort")) {
        signal(SIGABRT, SIG_DFL);
        abort();
    } else if (!strcmp(how, "exit")) {
        _exit(PB_WORKLOAD_EXIT_STATUS);
    }
    pb_task_fail(ctx, EINVAL, "crash: argument must be \"segv\", \"abort\" or \"exit\"");
}

PB_TASK(hang)
{
    /* Until task_timeout kills its worker; or the run stops. */
    while (sleep_until(INT64_MAX / 2))
        ;
    interrupted(ctx, "hang");
}
