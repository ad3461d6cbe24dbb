/*
 * tasks.c — the tasks the conformance cases submit.
 *
 * They are registered with PB_TASK at load time, so an exec worker (a fresh
 * image of this program) knows them as well as the thread backend does. They
 * share no memory with the test: everything a task needs travels in its
 * argument, and what the test must learn comes back in its result. State that
 * must survive from the initializer to later tasks of the same worker lives
 * in thread-local variables, which for a single-threaded worker process is the
 * same as process-local, and for the thread backend is per worker.
 */
#include "conformance.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a gate task waits for its file before giving up: longer than any
 * case's timeout, so it only matters when a case died and left it behind. */
#define GATE_GIVE_UP_NS (120LL * 1000 * 1000 * 1000)

static _Thread_local int64_t tl_init_runs;
static _Thread_local uint64_t tl_init_value;

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

PB_TASK(conf_noop)
{
}

PB_TASK(conf_echo)
{
    pb_task_return(ctx, arg, len);
}

/* Sleeps for the int64_t nanoseconds in arg, then echoes arg. */
PB_TASK(conf_sleep_ns)
{
    int64_t ns = 0;
    if (len != sizeof ns) {
        pb_task_fail(ctx, 1, "conf_sleep_ns: argument of %zu bytes", len);
        return;
    }
    memcpy(&ns, arg, sizeof ns);
    sleep_ns(ns);
    pb_task_return(ctx, arg, len);
}

/* Fails with the int32_t code and the message that follow it in arg. */
PB_TASK(conf_fail)
{
    int32_t code = 0;
    if (len < sizeof code) {
        pb_task_fail(ctx, 1, "conf_fail: argument of %zu bytes", len);
        return;
    }
    memcpy(&code, arg, sizeof code);
    pb_task_fail(ctx, code, "%.*s", (int)(len - sizeof code),
                 (const char *)arg + sizeof code);
}

PB_TASK(conf_whoami)
{
    pbc_whoami w = {
        .pid = getpid(),
        .tid = pbc_gettid(),
        .init_runs = tl_init_runs,
        .init_value = tl_init_value,
    };
    pb_task_return(ctx, &w, sizeof w);
}

/* The body of conf_gate: false when the task failed. */
static bool gate_wait(pb_task_ctx *ctx, const void *arg, size_t len)
{
    char path[PATH_MAX];
    if (len == 0 || len >= sizeof path) {
        pb_task_fail(ctx, 1, "conf_gate: argument of %zu bytes", len);
        return false;
    }
    memcpy(path, arg, len);
    path[len] = '\0';
    /* Say that this task started: the test counts these markers to see how
     * many tasks run at once (RUNNING alone cannot tell: it includes tasks
     * waiting in a worker's own queue). */
    static _Thread_local unsigned seq;
    char marker[PATH_MAX + 96];
    snprintf(marker, sizeof marker, "%s.started.%ld.%ld.%u", path, (long)getpid(),
             pbc_gettid(), seq++);
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    int64_t give_up = pb_now_ns() + GATE_GIVE_UP_NS;
    while (access(path, F_OK) != 0) {
        if (pb_now_ns() > give_up) {
            pb_task_fail(ctx, 2, "conf_gate: %s never opened", path);
            return false;
        }
        sleep_ns(200 * 1000);
    }
    return true;
}

/* Waits until the file named by arg exists (see pbc_gate in conformance.h). */
PB_TASK(conf_gate)
{
    gate_wait(ctx, arg, len);
}

/* As conf_gate, then kills its own worker (SIGKILL): only for backends whose
 * workers are processes of their own. */
PB_TASK(conf_gate_then_die)
{
    if (gate_wait(ctx, arg, len))
        kill(getpid(), SIGKILL);
}

PB_TASK(conf_item)
{
    pbc_item it;
    if (len != sizeof it) {
        pb_task_fail(ctx, 1, "conf_item: argument of %zu bytes", len);
        return;
    }
    memcpy(&it, arg, sizeof it);
    if (it.flags & CONF_ITEM_DELAY)
        sleep_ns((int64_t)it.delay_us * 1000);
    if (it.flags & CONF_ITEM_FAIL) {
        pb_task_fail(ctx, (int)it.index, "item %u failed", (unsigned)it.index);
        return;
    }
    uint64_t v = it.index;
    pb_task_return(ctx, &v, sizeof v);
}

/* Initializer: records that it ran in this worker and the uint64_t in arg. */
PB_TASK(conf_init)
{
    uint64_t v = 0;
    if (len != sizeof v) {
        pb_task_fail(ctx, 1, "conf_init: argument of %zu bytes", len);
        return;
    }
    memcpy(&v, arg, sizeof v);
    tl_init_runs++;
    tl_init_value = v;
}

/* Initializer that refuses to start the worker. */
PB_TASK(conf_init_fail)
{
    pb_task_fail(ctx, 77, "conf_init_fail refuses");
}

/* Returns twice: the later result must replace the earlier one. */
PB_TASK(conf_return_twice)
{
    pb_task_return(ctx, "first result", 12);
    pb_task_return(ctx, "second", 6);
}

/* Returns the uint64_t size in arg of bytes, byte i being (i * 31 + 7) & 0xff. */
PB_TASK(conf_big)
{
    uint64_t n = 0;
    if (len != sizeof n) {
        pb_task_fail(ctx, 1, "conf_big: argument of %zu bytes", len);
        return;
    }
    memcpy(&n, arg, sizeof n);
    unsigned char *buf = malloc(n ? n : 1);
    if (buf == NULL) {
        pb_task_fail(ctx, 2, "conf_big: out of memory");
        return;
    }
    for (uint64_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 31 + 7) & 0xff);
    pb_task_return(ctx, buf, n);
    free(buf);
}

/* Returns the CPUs the calling thread may run on, as a list like "0,2-3". */
PB_TASK(conf_affinity)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        pb_task_fail(ctx, errno, "sched_getaffinity: %s", strerror(errno));
        return;
    }
    char out[1024] = "";
    size_t used = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
            last++;
        int w = last > cpu ? snprintf(out + used, sizeof out - used, "%s%d-%d",
                                      used ? "," : "", cpu, last)
                           : snprintf(out + used, sizeof out - used, "%s%d",
                                      used ? "," : "", cpu);
        if (w < 0 || (size_t)w >= sizeof out - used)
            break;
        used += (size_t)w;
        cpu = last;
    }
    pb_task_return(ctx, out, strlen(out) + 1);
}
