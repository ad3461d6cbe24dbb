/*
 * main.c — the `poolbench` program: dispatches to a command.
 *
 * The first thing it does is give the exec backend its chance: when this
 * process was started as an exec-backend worker, pb_worker_main_if_requested()
 * runs the worker and never returns. Under mpiexec it does the same for the
 * mpi backend: ranks 1.. become workers, rank 0 runs the command.
 *
 * Every command is one entry of `commands` below, defined in its own file
 * (results/command.h says what an entry holds); the harness calls down into
 * the library that owns it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pb/pool.h>

#include "commands.h"
#include "plots.h"
#include "results.h"
#include "scenario.h"

static const pbr_command *const commands[] = {
    &pbh_run_command,     &pbh_list_command,    &pbh_env_command,  &pbr_compare_command,
    &pbr_export_command,  &pbr_history_command, &pb_plot_command,  &pbh_stress_command,
    &pbh_ab_command,      &pbh_calibrate_command, &pbr_merge_command,
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: poolbench COMMAND [OPTIONS]   (poolbench COMMAND --help for more)\n\n"
                 "A benchmark and stress-testing suite for worker pools.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n  -h, --help     print this help (help COMMAND: that command's)\n"
                 "  -V, --version  print the version\n");
}

static const pbr_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i]->name))
            return commands[i];
    return NULL;
}

/* libuv sizes its process-wide threadpool once, from the environment, at
 * first use (default 4): give it one thread per CPU before any thread of
 * ours starts, so the libuv backend can run as many workers as the others
 * on a larger machine. A value the user set is kept. */
static void size_libuv_threadpool(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!getenv("UV_THREADPOOL_SIZE") && cpus > 4) {
        char n[16];
        snprintf(n, sizeof n, "%ld", cpus > 1024 ? 1024 : cpus);
        setenv("UV_THREADPOOL_SIZE", n, 0);
    }
}

/* `poolbench help [COMMAND]`. */
static int help(int argc, char **argv)
{
    if (argc < 3) {
        usage(stdout);
        return 0;
    }
    const pbr_command *c = find_command(argv[2]);
    if (!c) {
        fprintf(stderr, "poolbench help: unknown command '%s' (try poolbench --help)\n", argv[2]);
        return 2;
    }
    pbr_command_help(c, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    /* Under mpiexec this also sets MPI up; if that fails every rank would
     * run the command as rank 0, so stop. */
    if (pb_worker_main_if_requested(argc, argv) != 0) {
        fprintf(stderr, "poolbench: %s\n", pb_pool_last_error());
        return 1;
    }
    pb_floor_child_main_if_requested(argc, argv);
    size_libuv_threadpool();

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *a = argv[1];
    if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help"))
        return help(argc, argv);
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
        pbr_print_version(stdout);
        return 0;
    }
    const pbr_command *c = find_command(a);
    if (c)
        return pbr_command_main(c, argc - 1, argv + 1);
    if (a[0] == '-')
        fprintf(stderr, "poolbench: unknown option '%s' (try poolbench --help)\n", a);
    else
        fprintf(stderr, "poolbench: unknown command '%s' (try poolbench --help)\n", a);
    return 2;
}
