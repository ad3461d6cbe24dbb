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

static int run_env(const pbr_args *a);

const pbr_command pbh_env_command = {
    .name = "env",
    .summary = "print this machine's environment as JSON",
    .synopsis = "[--help]",
    .about = "Prints this machine's environment as JSON: host, OS, kernel, CPU model,\n"
             "hwloc topology (packages, NUMA nodes, cores, PUs, the CPUs this process may\n"
             "use), cpufreq governor, ASLR, load average, timer slack, and the build's\n"
             "compiler, flags, build type, library versions and git revision. It is the\n"
             "`environment` object every results file records.",
    .run = run_env,
};

static int run_env(const pbr_args *a)
{
    (void)a;
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
