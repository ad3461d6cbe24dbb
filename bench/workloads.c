/*
 * workloads.c — the task functions scenarios submit. See workloads.h.
 *
 * These run inside workers, possibly in another process, so they touch no
 * harness state and report everything through pb_task_return/pb_task_fail.
 * A malformed argument is reported as a task failure (code EINVAL) rather
 * than guessed at: a scenario that sends the wrong bytes should see it.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "workloads.h"

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
 * overruns by at most one read. */
void pb_workload_spin(int64_t ns)
{
    int64_t end = pb_now_ns() + ns;
    while (pb_now_ns() < end)
        ;
}

PB_TASK(noop)
{
}

PB_TASK(spin)
{
    int64_t ns = ns_arg(ctx, "spin", arg, len);
    if (ns < 0)
        return;
    pb_workload_spin(ns);
    pb_task_return(ctx, arg, len);
}

/* Registered by hand: PB_TASK(sleep) would define a function called sleep,
 * which <unistd.h> already declares. */
static void sleep_task(pb_task_ctx *ctx, const void *arg, size_t len)
{
    int64_t ns = ns_arg(ctx, "sleep", arg, len);
    if (ns < 0)
        return;
    int64_t end = pb_now_ns() + ns;
    struct timespec ts = {.tv_sec = end / 1000000000, .tv_nsec = end % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
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
        pb_workload_spin(ns);
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
    for (;;)
        pause();
}
