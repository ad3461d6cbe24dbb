/*
 * paths.c — where an installed poolbench finds its own data.
 *
 * An install is relocatable: `cmake --install build --prefix DIR` works for
 * any DIR, and the whole prefix may be moved afterwards. So nothing is
 * looked up at a path fixed when the build was configured. The program
 * finds its data relative to its own executable (/proc/self/exe), as
 * libpbpools finds its modules relative to itself: <bindir>/poolbench and
 * <datadir>/poolbench/{suites,plots} keep the distance CMake computed
 * between bindir and datadir (PB_DATA_FROM_BIN, "../share/poolbench").
 *
 * An installed copy always wins over the source tree it was built from: the
 * source tree is only where a binary that is *not* installed (the build
 * tree's) finds its data, and a build tree has no <datadir> beside it. The
 * callers (suite lookup, chart scripts) order: the environment variable,
 * then this, then the source tree.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"

#ifndef PB_DATA_FROM_BIN
#define PB_DATA_FROM_BIN "../share/poolbench"
#endif

int pbr_install_dir(const char *sub, char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -ENOENT;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s/%s", exe, PB_DATA_FROM_BIN, sub) >=
        sizeof path)
        return -ENAMETOOLONG;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return -ENOENT;
    /* A clean path for messages and `poolbench list`. */
    char real[PATH_MAX];
    const char *shown = realpath(path, real) ? real : path;
    if ((size_t)snprintf(buf, len, "%s", shown) >= len)
        return -ENAMETOOLONG;
    return 0;
}
