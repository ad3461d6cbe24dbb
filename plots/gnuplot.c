/*
 * gnuplot.c — finding the chart scripts and gnuplot, and running it.
 *
 * gnuplot runs as a child with posix_spawn: argv is
 *     gnuplot -e "<assignments>" DIR/SCRIPT.gp
 * so the script reads the data file's path, the output path and the format
 * from variables, and nothing of gnuplot's language is built here beyond
 * those assignments. Its stdin is /dev/null (a script that waits for input
 * fails instead of hanging) and its stderr goes to a file the caller shows
 * when the chart fails; a successful run's chatter stays out of our output.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plot-int.h"
#include "results.h"

extern char **environ;

static bool has_common_gp(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/common.gp", dir) >= (int)sizeof path)
        return false;
    return access(path, R_OK) == 0;
}

const char *pb__plot_scripts_dir(char *err, size_t errlen)
{
    const char *env = getenv("POOLBENCH_PLOTS_DIR");
    if (env && *env) {
        if (has_common_gp(env))
            return env;
        snprintf(err, errlen, "POOLBENCH_PLOTS_DIR=%s holds no common.gp (the chart scripts)",
                 env);
        return NULL;
    }
    /* An installed program's own scripts, relative to it (results/paths.c),
     * shadow any source tree; a program in its build tree has none. */
    static char installed[PATH_MAX];
    if (pbr_install_dir("plots", installed, sizeof installed) == 0) {
        if (has_common_gp(installed))
            return installed;
        snprintf(err, errlen, "%s holds no common.gp (the chart scripts): reinstall poolbench, "
                              "or set POOLBENCH_PLOTS_DIR", installed);
        return NULL;
    }
#ifdef PB_PLOTS_SOURCE_DIR
    if (has_common_gp(PB_PLOTS_SOURCE_DIR))
        return PB_PLOTS_SOURCE_DIR;
#endif
    snprintf(err, errlen, "chart scripts not found (no share/poolbench/plots beside this "
                          "program, nor %s); set POOLBENCH_PLOTS_DIR to the folder holding "
                          "common.gp",
#ifdef PB_PLOTS_SOURCE_DIR
             PB_PLOTS_SOURCE_DIR
#else
             "a source tree"
#endif
    );
    return NULL;
}

char *pb__plot_find_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return NULL;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *found = NULL, *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char cand[PATH_MAX];
        struct stat st;
        /* An empty PATH element means the current directory, as in execvp. */
        if (snprintf(cand, sizeof cand, "%s/gnuplot", *dir ? dir : ".") >= (int)sizeof cand)
            continue;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
            found = strdup(cand);
    }
    free(copy);
    return found;
}

int pb__plot_run_gnuplot(const char *gnuplot, const char *dir, const char *script,
                         const char *assignments, const char *errfile)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, script) >= (int)sizeof path)
        return -ENAMETOOLONG;

    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (rc = posix_spawn_file_actions_addopen(&fa, 2, errfile,
                                               O_WRONLY | O_CREAT | O_TRUNC, 0600)) ||
        (rc = posix_spawn_file_actions_adddup2(&fa, 2, 1))) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    char *argv[] = {(char *)"gnuplot", (char *)"-e", (char *)assignments, path, NULL};
    pid_t pid;
    rc = posix_spawn(&pid, gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -rc;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
