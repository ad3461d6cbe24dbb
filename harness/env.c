/*
 * env.c — `poolbench env`: this machine's environment as JSON, exactly the
 * `environment` object that every results file records (results/FORMAT.md),
 * so a user can see what a run will write before running it.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "results.h"

static void env_usage(FILE *out)
{
    fprintf(out,
            "usage: poolbench env [--help]\n\n"
            "Prints this machine's environment as JSON: host, OS, kernel, CPU model,\n"
            "hwloc topology (packages, NUMA nodes, cores, PUs, the CPUs this process may\n"
            "use), cpufreq governor, ASLR, load average, timer slack, and the build's\n"
            "compiler, flags, build type, library versions and git revision. It is the\n"
            "`environment` object every results file records.\n");
}

int pb_cmd_env(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            env_usage(stdout);
            return 0;
        }
        fprintf(stderr, "poolbench env: unknown argument '%s' (try poolbench env --help)\n",
                argv[i]);
        return 2;
    }
    json_t *env = pbr_environment_new();
    if (!env) {
        fprintf(stderr, "poolbench env: out of memory\n");
        return 1;
    }
    int rc = json_dumpf(env, stdout, JSON_INDENT(2));
    json_decref(env);
    if (rc < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
        fprintf(stderr, "poolbench env: cannot write to standard output\n");
        return 1;
    }
    return 0;
}
