/*
 * floor_pipe_pingpong.c — the floor of a hand-off between two processes.
 *
 * A child process (forked, bound where the pools' worker 0 is bound) echoes
 * 8-byte messages from one pipe to another; the caller writes one and reads
 * the answer. Each exchange is two pipe writes, two reads and two wake-ups
 * across processes — what a process pool's round trip costs at least.
 *   roundtrip  caller → child → caller (ns), one sample per exchange;
 *   rate       exchanges per second, one value per repetition.
 * Process backends' round trips are held against this.
 *
 * The child only calls read, write, sched_setaffinity and _exit, all safe
 * after fork() in a process that has threads. SIGPIPE is blocked in this
 * thread while the child lives (a dying child must not kill poolbench) and
 * any pending one is consumed before the mask is restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static bool io(int fd, void *buf, size_t len, bool write_it)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = write_it ? write(fd, (char *)buf + done, len - done)
                             : read(fd, (char *)buf + done, len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        done += (size_t)r;
    }
    return true;
}

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    cpu_set_t cpus;
    bool bind = pb_sc_floor_cpus(sc, 0, &cpus) == 1;
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);

    int to_child[2], to_parent[2];
    if (pipe2(to_child, O_CLOEXEC) != 0)
        return pb_sc_fail(sc, -errno, "pipe: %s", pb_strerror(-errno));
    if (pipe2(to_parent, O_CLOEXEC) != 0) {
        int e = errno;
        close(to_child[0]);
        close(to_child[1]);
        return pb_sc_fail(sc, -e, "pipe: %s", pb_strerror(-e));
    }
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);

    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        if (bind)
            sched_setaffinity(0, sizeof cpus, &cpus);
        uint64_t msg;
        while (io(to_child[0], &msg, sizeof msg, false) && io(to_parent[1], &msg, sizeof msg, true))
            ;
        _exit(0);
    }
    int rc = 0;
    close(to_child[0]);
    close(to_parent[1]);
    if (pid < 0) {
        rc = pb_sc_fail(sc, -errno, "fork: %s", pb_strerror(-errno));
    } else {
        uint64_t msg = 0;
        bool ok = true;
        for (int i = 0; i < 100 && ok; i++)
            ok = io(to_child[1], &msg, sizeof msg, true) && io(to_parent[0], &msg, sizeof msg, false);
        int64_t sum = 0;
        for (size_t i = 0; i < n && ok; i++) {
            msg = i;
            int64_t t0 = pb_now_ns();
            ok = io(to_child[1], &msg, sizeof msg, true) && io(to_parent[0], &msg, sizeof msg, false);
            int64_t dt = pb_now_ns() - t0;
            ok = ok && msg == i;
            if (ok) {
                pb_samples_add(rt, (double)dt);
                sum += dt;
            }
        }
        if (!ok)
            rc = pb_sc_fail(sc, PB_EBROKEN, "the echo child stopped answering");
        if (!rc && sum > 0)
            pb_samples_add(rate, (double)n * 1e9 / (double)sum);
    }
    close(to_child[1]); /* EOF: the child exits */
    close(to_parent[0]);
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE)
        ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "2000", "exchanges per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_pipe_pingpong = {
    .name = "pipe_pingpong",
    .summary = "hand-off between two processes through a pair of pipes: round trip and rate",
    .headline = "roundtrip",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
