/* What a test process holds right now: threads, descriptors, children.
 *
 * The leak checks of the conformance, faults and adapter tests compare a
 * count taken before pools existed with one taken after pb_pool_destroy.
 * A thread that has been joined can stay listed in /proc/self/task for a
 * moment (pthread_join returns when the thread clears its tid, a little
 * before the kernel releases the task), so a count taken right after a join
 * can be one too high. A baseline is therefore taken with pbt_threads_quiet()
 * and a later count with pbt_threads_settled(); only more threads than the
 * baseline is a leak. */
#ifndef PB_TESTS_CENSUS_H
#define PB_TESTS_CENSUS_H

#include <stdbool.h>

/* Entries of /proc/self/fd (including the one used to list it) and of
 * /proc/self/task; -1 with errno set when the directory cannot be read. */
int pbt_count_fds(void);
int pbt_count_threads(void);

/* The thread count once it has stayed the same across 10 ms (up to 2 s):
 * the baseline, with threads that were just joined gone from it. */
int pbt_threads_quiet(void);

/* The thread count, given up to 5 s to fall to `expect` or below. */
int pbt_threads_settled(int expect);

/* Whether the process has a child, exited or not (looked at without
 * reaping, so a leaked zombie stays visible). */
bool pbt_has_children(void);

#endif
