/* What a test process holds right now; see census.h. */
#include "census.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

int pbt_count_fds(void)
{
    return count_dir("/proc/self/fd");
}

int pbt_count_threads(void)
{
    return count_dir("/proc/self/task");
}

int pbt_threads_quiet(void)
{
    int n = pbt_count_threads();
    for (int i = 0; i < 200; i++) {
        pause_ms(10);
        int again = pbt_count_threads();
        if (again == n)
            break;
        n = again;
    }
    return n;
}

int pbt_threads_settled(int expect)
{
    int n = pbt_count_threads();
    for (int i = 0; i < 5000 && n > expect; i++) {
        pause_ms(1);
        n = pbt_count_threads();
    }
    return n;
}

bool pbt_has_children(void)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int rc = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
    return !(rc == -1 && errno == ECHILD);
}
