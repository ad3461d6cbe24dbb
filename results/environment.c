/*
 * environment.c — the `environment` object of a results file (FORMAT.md).
 *
 * A number from a benchmark means little without the machine and build that
 * produced it, and `poolbench compare` warns when two files come from
 * different ones. Everything here is read, never changed: the CPU model from
 * /proc/cpuinfo, topology counts and the CPUs this process may use from
 * hwloc, the cpufreq governor, ASLR, load average and timer slack from the
 * kernel, and the build's identity from compile definitions the build system
 * sets for this library (results/CMakeLists.txt) and its git revision from a
 * file written at every build (scripts/revision.cmake), so a rebuilt program
 * names the code it was built from, "-dirty" when that was not committed.
 *
 * Anything that cannot be read is recorded as "unknown" (strings) or null
 * (numbers) rather than failing: a run on a container without /sys still
 * deserves a results file. Only allocation failure returns NULL.
 */
#include <ctype.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "results-int.h"
#include "results.h"

#ifndef PB_BUILD_TYPE
#define PB_BUILD_TYPE "unknown"
#endif
#ifndef PB_C_FLAGS
#define PB_C_FLAGS ""
#endif
#ifndef PB_HWLOC_VERSION
#define PB_HWLOC_VERSION "unknown"
#endif

#if defined(__clang__)
#define PBR__COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define PBR__COMPILER "gcc " __VERSION__
#else
#define PBR__COMPILER "unknown"
#endif

/* Copies s into buf without leading/trailing whitespace and with inner
 * runs of whitespace collapsed to one space. */
static void squeeze(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    bool space = false;
    for (; *s && o + 1 < len; s++) {
        if (isspace((unsigned char)*s)) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < len)
            buf[o++] = ' ';
        space = false;
        buf[o++] = *s;
    }
    buf[o] = '\0';
}

/* The first line of a small file, without the newline; false if unreadable. */
static bool read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

/* The CPU model: x86 says "model name", arm64 may say nothing better than
 * "CPU implementer"/"CPU part", others use "cpu model", "Hardware" or "uarch". */
static void cpu_model(char *buf, size_t len)
{
    static const char *const keys[] = {"model name", "cpu model", "Model", "Hardware", "uarch",
                                       "cpu"};
    char best[256] = "";
    size_t best_rank = sizeof keys / sizeof keys[0];
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            *colon = '\0';
            char key[128];
            squeeze(line, key, sizeof key);
            for (size_t i = 0; i < best_rank; i++) {
                if (!strcmp(key, keys[i])) {
                    char val[256];
                    squeeze(colon + 1, val, sizeof val);
                    if (val[0]) {
                        snprintf(best, sizeof best, "%s", val);
                        best_rank = i;
                    }
                    break;
                }
            }
        }
        fclose(f);
    }
    snprintf(buf, len, "%s", best[0] ? best : "unknown");
}

/* topology: counts, the CPUs this process may run on, a one-line summary. */
static json_t *topology_new(void)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) < 0)
        goto unknown;
    if (hwloc_topology_load(topo) < 0) {
        hwloc_topology_destroy(topo);
        goto unknown;
    }
    int packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    int numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);

    /* The CPUs a worker could be placed on: hwloc's allowed set (cgroup
     * cpuset) narrowed by this process's own affinity mask (taskset). */
    char cpus[256] = "unknown";
    hwloc_bitmap_t set = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo));
    hwloc_bitmap_t bind = hwloc_bitmap_alloc();
    if (set && bind) {
        if (hwloc_get_cpubind(topo, bind, HWLOC_CPUBIND_PROCESS) == 0)
            hwloc_bitmap_and(set, set, bind);
        hwloc_bitmap_list_snprintf(cpus, sizeof cpus, set);
    }
    hwloc_bitmap_free(set);
    hwloc_bitmap_free(bind);
    hwloc_topology_destroy(topo);

    char summary[128];
    snprintf(summary, sizeof summary, "Package:%d Core:%d PU:%d", packages, cores, pus);
    return json_pack("{s:i,s:i,s:i,s:i,s:s,s:s}", "packages", packages, "numa_nodes",
                     numa > 0 ? numa : 1, "cores", cores, "pus", pus, "allowed_cpuset", cpus,
                     "summary", summary);
unknown:
    return json_pack("{s:n,s:n,s:n,s:n,s:s,s:s}", "packages", "numa_nodes", "cores", "pus",
                     "allowed_cpuset", "unknown", "summary", "unknown");
}

json_t *pbr_environment_new(void)
{
    struct utsname u;
    if (uname(&u) < 0) {
        memset(&u, 0, sizeof u);
        strcpy(u.nodename, "unknown");
        strcpy(u.sysname, "unknown");
        strcpy(u.release, "unknown");
        strcpy(u.machine, "unknown");
    }

    char model[256];
    cpu_model(model, sizeof model);

    char governor[64];
    if (!read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", governor,
                   sizeof governor) ||
        !governor[0])
        strcpy(governor, "unknown");

    char line[64];
    json_t *aslr = read_line("/proc/sys/kernel/randomize_va_space", line, sizeof line) &&
                           isdigit((unsigned char)line[0])
                       ? json_integer(atoi(line))
                       : json_null();

    double la[3];
    json_t *loadavg = getloadavg(la, 3) == 3 ? json_pack("[f,f,f]", la[0], la[1], la[2])
                                             : json_pack("[n,n,n]");

    int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    json_t *timer_slack = slack >= 0 ? json_integer(slack) : json_null();

    char cflags[512];
    squeeze(PB_C_FLAGS, cflags, sizeof cflags);

    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:s,s:s,s:s,"
                     "s:{s:s,s:s,s:s},s:s}",
                     "host", u.nodename, "os", u.sysname, "kernel", u.release, "arch", u.machine,
                     "cpu_model", model, "topology", topology_new(), "governor", governor, "aslr",
                     aslr, "loadavg", loadavg, "timer_slack_ns", timer_slack, "compiler",
                     PBR__COMPILER, "cflags", cflags, "build_type", PB_BUILD_TYPE, "libraries",
                     "hwloc", PB_HWLOC_VERSION, "jansson", jansson_version_str(), "glibc",
                     gnu_get_libc_version(), "git_revision", pbr__git_revision);
}
