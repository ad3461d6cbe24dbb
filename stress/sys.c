/*
 * sys.c — looking at this process from outside: its threads, open
 * fds, child processes and RSS, read from /proc; the machine's CPU pressure;
 * killing one worker process safely; and the stacks the watchdog prints.
 *
 * Killing a worker: the pid came from a task's result, so by the time the
 * harness acts on it the worker may have exited and — once reaped — its pid
 * may belong to someone else. Signals therefore go through a pidfd opened
 * first and checked second: the pidfd names one process for good, and the
 * check that the pid's parent is this process runs after it is open, so a
 * pid that was recycled in between names a process we do not signal (its
 * pidfd says ESRCH) or one of our own children. A worker is our child until
 * we reap it, and its pid cannot be reused before that.
 *
 * Reading /proc: the watchdog samples RSS and CPU pressure while the run
 * may be taking a snapshot; proc_mu serialises them so that a snapshot
 * never lists the fd the sampler has open for a moment.
 */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static pthread_mutex_t proc_mu = PTHREAD_MUTEX_INITIALIZER;

/* The parent pid and state letter of pid from /proc/PID/stat; 0 or -errno. */
static int proc_stat(pid_t pid, pid_t *ppid, char *state)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -e : -EIO;
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses, so
     * parse from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %c %d", state, ppid) != 2)
        return -EIO;
    return 0;
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Calls fn(pid, state, ud) for every child of this process. */
static void for_each_child(void (*fn)(pid_t pid, char state, void *ud), void *ud)
{
    pid_t self = getpid();
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        pid_t ppid;
        char state;
        if (proc_stat((pid_t)pid, &ppid, &state) == 0 && ppid == self)
            fn((pid_t)pid, state, ud);
    }
    closedir(d);
}

static void count_child(pid_t pid, char state, void *ud)
{
    pbs_snapshot *s = ud;
    if (s->children < (int)(sizeof s->child_pids / sizeof s->child_pids[0]))
        s->child_pids[s->children] = pid;
    s->children++;
    if (state == 'Z')
        s->zombies++;
}

long long pbs__psi_cpu_some_us(void)
{
    pthread_mutex_lock(&proc_mu);
    FILE *f = fopen("/proc/pressure/cpu", "re");
    if (!f) {
        pthread_mutex_unlock(&proc_mu);
        return -1;
    }
    char line[256];
    long long total = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "some ", 5)) {
            const char *t = strstr(line, "total=");
            if (t)
                total = strtoll(t + 6, NULL, 10);
            break;
        }
    fclose(f);
    pthread_mutex_unlock(&proc_mu);
    return total;
}

static long rss_kb_locked(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

long pbs__rss_kb(void)
{
    pthread_mutex_lock(&proc_mu);
    long kb = rss_kb_locked();
    pthread_mutex_unlock(&proc_mu);
    return kb;
}

static int snapshot_locked(pbs_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->threads = count_dir("/proc/self/task");
    if (s->threads < 0)
        return s->threads;
    for_each_child(count_child, s);
    s->rss_kb = rss_kb_locked();

    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int self_fd = dirfd(d);
    size_t cap = 64;
    s->fds = malloc(cap * sizeof *s->fds);
    struct dirent *e;
    while (s->fds && (e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || e->d_name[0] == '.' || fd == self_fd)
            continue;
        if (s->nfds == cap) {
            pbs_fdinfo *more = realloc(s->fds, 2 * cap * sizeof *more);
            if (!more)
                break;
            s->fds = more;
            cap *= 2;
        }
        pbs_fdinfo *fi = &s->fds[s->nfds++];
        fi->fd = (int)fd;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
        ssize_t n = readlink(path, fi->target, sizeof fi->target - 1);
        fi->target[n > 0 ? n : 0] = '\0';
    }
    closedir(d);
    if (!s->fds)
        return -ENOMEM;
    return 0;
}

int pbs__snapshot(pbs_snapshot *s)
{
    pthread_mutex_lock(&proc_mu);
    int r = snapshot_locked(s);
    pthread_mutex_unlock(&proc_mu);
    return r;
}

void pbs__snapshot_free(pbs_snapshot *s)
{
    free(s->fds);
    s->fds = NULL;
    s->nfds = 0;
}

int pbs__kill_child(pid_t pid, int sig)
{
    if (pid <= 0 || pid == getpid())
        return -EPERM;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0)
        return -errno;
    pid_t ppid;
    char state;
    int r = proc_stat(pid, &ppid, &state);
    if (r == 0 && ppid != getpid())
        r = -EPERM;
    else if (r == 0 && state == 'Z')
        r = -ESRCH; /* already dead: a signal would change nothing */
    if (r == 0 && syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) != 0)
        r = -errno;
    close(pfd);
    return r;
}

static void kill_one(pid_t pid, char state, void *ud)
{
    (void)ud;
    if (state != 'Z')
        pbs__kill_child(pid, SIGKILL);
}

void pbs__kill_all_children(void)
{
    for_each_child(kill_one, NULL);
}

static bool have_program(const char *name, char *path, size_t size)
{
    const char *p = getenv("PATH");
    if (!p)
        p = "/usr/bin:/bin";
    while (*p) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n && (size_t)snprintf(path, size, "%.*s/%s", (int)n, p, name) < size &&
            access(path, X_OK) == 0)
            return true;
        p += n + (c != NULL);
    }
    return false;
}

int pbs__print_stacks(int out_fd, int limit_s)
{
    char gdb[512];
    if (!have_program("gdb", gdb, sizeof gdb))
        return -ENOENT;
    /* The child waits on a pipe until it may attach: with Yama's ptrace
     * scope 1 a child may trace its parent only once the parent says so. */
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0)
        return -errno;
    char pidtext[24];
    snprintf(pidtext, sizeof pidtext, "%d", (int)getpid());
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        close(go[0]);
        close(go[1]);
        return -e;
    }
    if (child == 0) {
        char c;
        close(go[1]);
        while (read(go[0], &c, 1) < 0 && errno == EINTR)
            ;
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execl(gdb, "gdb", "-nx", "-batch", "-p", pidtext, "-ex", "info threads", "-ex",
              "thread apply all bt", (char *)NULL);
        _exit(127);
    }
    close(go[0]);
    prctl(PR_SET_PTRACER, (unsigned long)child, 0, 0, 0);
    if (write(go[1], "g", 1) < 0) {
        /* the child then reads end of file and goes ahead anyway */
    }
    close(go[1]);
    for (int waited_ms = 0;; waited_ms += 50) {
        int status;
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (waited_ms >= limit_s * 1000) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            return -ETIMEDOUT;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}
