/*
 * floor_spawn.c — the floor of starting a worker process.
 *
 * posix_spawn of this very program with PB_FLOOR_CHILD_ARG, which makes it
 * exit at once (pb_floor_child_main_if_requested(), called first thing in
 * main), then waitpid: loading the same image with the same shared
 * libraries an exec worker loads, minus the worker's own work. Process
 * backends' start-up is held against this.
 */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

void pb_floor_child_main_if_requested(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], PB_FLOOR_CHILD_ARG))
        _exit(0);
}

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return pb_sc_skip(sc, "cannot find this program's file (/proc/self/exe): %s", strerror(errno));
    exe[len] = '\0';
    char *argv[] = {exe, (char *)PB_FLOOR_CHILD_ARG, NULL};
    pb_samples *m = pb_sc_metric(sc, "startup", "ns", PBR_LOWER, n);
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        int status;
        int64_t t0 = pb_now_ns();
        int e = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
        if (e)
            return pb_sc_fail(sc, -e, "posix_spawn %s: %s", exe, strerror(e));
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                return pb_sc_fail(sc, -errno, "waitpid: %s", strerror(errno));
        int64_t t1 = pb_now_ns();
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return pb_sc_fail(sc, PB_EBROKEN,
                              "%s %s did not exit at once with status 0 (does its main() call "
                              "pb_floor_child_main_if_requested()?)",
                              exe, PB_FLOOR_CHILD_ARG);
        pb_samples_add(m, (double)(t1 - t0));
    }
    return 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "20", "processes started per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_spawn = {
    .name = "spawn",
    .summary = "posix_spawn of this program, which exits at once, then waitpid",
    .headline = "startup",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
