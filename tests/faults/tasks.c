/*
 * tasks.c — the tasks the fault tests run, linked into both the test program
 * and the exec worker helper.
 *
 * Blocking tasks wait for a "gate" file to appear, so tests need no clock.
 */
#include "faults.h"

#include <pb/pool.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void faults_tasks_linked(void)
{
}

static int g_inits; /* per worker process: how often the initializer ran */

PB_TASK(f_pid)
{
    int pid = getpid();
    pb_task_return(ctx, &pid, sizeof pid);
}

PB_TASK(f_echo)
{
    pb_task_return(ctx, arg, len);
}

PB_TASK(f_segv)
{
    raise(SIGSEGV);
}

PB_TASK(f_abort)
{
    abort();
}

PB_TASK(f_exit3)
{
    _exit(3);
}

PB_TASK(f_sleep_forever)
{
    for (;;)
        pause();
}

PB_TASK(f_ignore_term_forever)
{
    signal(SIGTERM, SIG_IGN);
    for (;;)
        pause();
}

/* arg: "pidfile|gatefile". Writes its pid to pidfile, then waits for the
 * gate to exist and returns its pid. */
PB_TASK(f_hold)
{
    char buf[4096];
    if (len >= sizeof buf) {
        pb_task_fail(ctx, 1, "argument too long");
        return;
    }
    memcpy(buf, arg, len);
    buf[len] = '\0';
    char *gate = strchr(buf, '|');
    if (!gate) {
        pb_task_fail(ctx, 1, "want pidfile|gatefile");
        return;
    }
    *gate++ = '\0';
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", buf);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 || rename(tmp, buf) != 0) {
        pb_task_fail(ctx, 1, "cannot write %s", buf);
        return;
    }
    while (access(gate, F_OK) != 0)
        usleep(1000);
    int pid = getpid();
    pb_task_return(ctx, &pid, sizeof pid);
}

/* The worker's socket: the only socket a worker process has. */
static int worker_socket(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
            return fd;
    }
    return -1;
}

/* Writes garbage where its result should go, then waits to be killed. */
PB_TASK(f_bad_magic)
{
    int fd = worker_socket();
    static const char junk[] = "this is not a frame at all";
    if (fd < 0 || write(fd, junk, sizeof junk) < 0)
        return;
    for (;;)
        pause();
}

/* Sends a RESULT header announcing 2^40 bytes. */
PB_TASK(f_oversized)
{
    int fd = worker_socket();
    unsigned char h[16];
    unsigned magic = 0x31574250u;
    unsigned short type = 5, zero = 0;
    unsigned long long n = 1ull << 40;
    memcpy(h, &magic, 4);
    memcpy(h + 4, &type, 2);
    memcpy(h + 6, &zero, 2);
    memcpy(h + 8, &n, 8);
    if (fd < 0 || write(fd, h, sizeof h) < 0)
        return;
    for (;;)
        pause();
}

PB_TASK(f_big)
{
    size_t n = 16u << 20;
    unsigned char *b = malloc(n);
    if (!b) {
        pb_task_fail(ctx, 1, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 131 + (i >> 16));
    pb_task_return(ctx, b, n);
    free(b);
}

/* Returns the sum of its argument's bytes and its length (checks a big
 * argument arrived intact). */
PB_TASK(f_sum)
{
    unsigned long long s = 0;
    for (size_t i = 0; i < len; i++)
        s += ((const unsigned char *)arg)[i];
    unsigned long long out[2] = { s, len };
    pb_task_return(ctx, out, sizeof out);
}

PB_TASK(f_init_ok)
{
    g_inits++;
}

PB_TASK(f_init_fail)
{
    pb_task_fail(ctx, 5, "no configuration in %.*s", (int)len, (const char *)arg);
}

PB_TASK(f_init_crash)
{
    raise(SIGSEGV);
}

PB_TASK(f_inits)
{
    int v[2] = { g_inits, getpid() };
    pb_task_return(ctx, v, sizeof v);
}

PB_TASK(f_malloc_churn)
{
    size_t total = 0;
    for (int i = 0; i < 200; i++) {
        void *p = malloc((size_t)(i * 37 % 4000) + 1);
        if (p)
            total += 1;
        free(p);
    }
    pb_task_return(ctx, &total, sizeof total);
}
