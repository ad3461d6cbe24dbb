/*
 * main.c — the `poolbench` program: dispatches to a subcommand.
 *
 * The first thing it does is give the exec backend its chance: when this
 * process was started as an exec-backend worker, pb_worker_main_if_requested()
 * runs the worker and never returns. Under mpiexec it does the same for the
 * mpi backend: ranks 1.. become workers, rank 0 runs the command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pb/pool.h>

#include "commands.h"
#include "scenario.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", pb_cmd_run, "run a suite of scenarios over backends and write a results file"},
    {"list", pb_cmd_list, "list backends, scenarios with their parameters, and suites"},
    {"env", pb_cmd_env, "print this machine's environment as JSON"},
    {"compare", pb_cmd_compare, "compare two results files; exit 1 on a significant regression"},
    {"export", pb_cmd_export, "convert a results file for CI tools (googlebench, bench-custom, csv)"},
    {"history", pb_cmd_history, "a metric across many results files, with step changes marked"},
    {"plot", pb_cmd_plot, "draw charts from results files with gnuplot"},
    {"stress", pb_cmd_stress, "randomized load and fault injection with invariant checks"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: poolbench COMMAND [OPTIONS]   (poolbench COMMAND --help for more)\n\n"
                 "A benchmark and stress-testing suite for worker pools.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n  --version  print the version\n  --help     print this help\n");
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

    /* libuv sizes its process-wide threadpool once, from the environment, at
     * first use (default 4): give it one thread per CPU before any thread of
     * ours starts, so the libuv backend can run as many workers as the
     * others on a larger machine. A value the user set is kept. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!getenv("UV_THREADPOOL_SIZE") && cpus > 4) {
        char n[16];
        snprintf(n, sizeof n, "%ld", cpus > 1024 ? 1024 : cpus);
        setenv("UV_THREADPOOL_SIZE", n, 0);
    }

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("poolbench %s\n", PB_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "poolbench: unknown command '%s' (try poolbench --help)\n", argv[1]);
    return 2;
}
