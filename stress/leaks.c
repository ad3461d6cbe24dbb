/*
 * leaks.c — after pb_pool_destroy, nothing the pool made may be left.
 *
 * Threads and processes may take a moment to be gone from /proc after they
 * were joined or reaped, so the comparison looks again for up to 3 s before
 * it calls anything a leak. Memory is judged loosely: freed blocks go back
 * to the system only when malloc lets go of them, so it trims first, then
 * allows for what allocators keep (per-thread arenas of the submitter
 * threads that were joined, the library's own caches).
 */
#include <malloc.h>
#include <string.h>
#include <time.h>

#include <pb/pool.h>

#include "leaks.h"

#define MS (1000000LL)

static bool fd_in(const pbs_snapshot *s, const pbs_fdinfo *fi)
{
    for (size_t i = 0; i < s->nfds; i++)
        if (s->fds[i].fd == fi->fd && !strcmp(s->fds[i].target, fi->target))
            return true;
    return false;
}

static bool leaks_settled(const pbs_snapshot *base, const pbs_snapshot *now)
{
    if (now->threads > base->threads || now->children > base->children ||
        now->zombies > base->zombies)
        return false;
    for (size_t i = 0; i < now->nfds; i++)
        if (!fd_in(base, &now->fds[i]))
            return false;
    return true;
}

/* Why RSS cannot be compared in this build, or NULL. A sanitizer's
 * allocator keeps freed memory in quarantine and maps shadow memory as it
 * goes, so RSS does not come back there whatever the pool does. */
static const char *memory_check_off(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return "built with a sanitizer, whose allocator holds on to freed memory";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
    return "built with a sanitizer, whose allocator holds on to freed memory";
#endif
#endif
    return NULL;
}

static void report_left(pbs_journal *j, const pbs_snapshot *base, const pbs_snapshot *now)
{
    if (now->threads > base->threads)
        pbs__violation(j, NULL, PBS_CHECK_THREADS,
                       "%d thread%s left after pb_pool_destroy (%d before the pool was created)",
                       now->threads - base->threads, now->threads - base->threads == 1 ? "" : "s",
                       base->threads);
    if (now->children > base->children || now->zombies > base->zombies) {
        char pids[256] = "";
        size_t used = 0;
        int shown = now->children < 16 ? now->children : 16;
        for (int i = 0; i < shown; i++)
            used += (size_t)snprintf(pids + used, used < sizeof pids ? sizeof pids - used : 0,
                                     "%s%d", i ? ", " : "", (int)now->child_pids[i]);
        pbs__violation(j, NULL, PBS_CHECK_CHILDREN,
                       "%d child process%s (%d of them zombies) left after pb_pool_destroy: %s",
                       now->children, now->children == 1 ? "" : "es", now->zombies, pids);
    }
    for (size_t i = 0; i < now->nfds; i++)
        if (!fd_in(base, &now->fds[i]))
            pbs__violation(j, NULL, PBS_CHECK_FDS, "fd %d (%s) left open after pb_pool_destroy",
                           now->fds[i].fd, now->fds[i].target);
}

static void check_memory(pbs_journal *j, const pbs_snapshot *base, long *rss_end_kb)
{
    malloc_trim(0);
    *rss_end_kb = pbs__rss_kb();
    /* 32 MiB or half the starting RSS, whichever is more. */
    long allowed = base->rss_kb / 2 > 32768 ? base->rss_kb / 2 : 32768;
    const char *why_not = memory_check_off();
    if (why_not) {
        static bool told;
        if (!told)
            pbs__note(j, "RSS is not compared: %s", why_not);
        told = true;
    } else if (base->rss_kb > 0 && *rss_end_kb > base->rss_kb + allowed) {
        pbs__violation(j, NULL, PBS_CHECK_MEMORY,
                       "RSS is %ld kB after pb_pool_destroy, %ld kB at the start (allowed: +%ld kB)",
                       *rss_end_kb, base->rss_kb, allowed);
    }
}

void pbs__check_leaks(pbs_journal *j, const pbs_snapshot *base, long *rss_end_kb)
{
    pbs_snapshot now;
    memset(&now, 0, sizeof now);
    int64_t deadline = pb_now_ns() + 3000 * MS;
    for (;;) {
        pbs__snapshot_free(&now);
        int r = pbs__snapshot(&now);
        if (r != 0) {
            pbs__note(j, "cannot inspect /proc/self for leaks: %s", strerror(-r));
            pbs__snapshot_free(&now);
            *rss_end_kb = -1;
            return;
        }
        if (leaks_settled(base, &now) || pb_now_ns() > deadline)
            break;
        struct timespec ts = {0, 50 * MS};
        nanosleep(&ts, NULL);
    }
    report_left(j, base, &now);
    pbs__snapshot_free(&now);
    check_memory(j, base, rss_end_kb);
}
