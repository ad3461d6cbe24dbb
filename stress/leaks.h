/*
 * leaks.h — what must be gone once a pool is destroyed: threads, child
 * processes and zombies, fds, and (roughly) memory, compared with a
 * snapshot taken before the pool was created (leaks.c).
 */
#ifndef PB_STRESS_LEAKS_H
#define PB_STRESS_LEAKS_H

#include "journal.h"
#include "sys.h"

/* Compares this process now with base and reports what is left as
 * violations of no_thread_left, no_child_left, no_fd_left and
 * memory_returned. Sets *rss_end_kb (-1 when /proc could not be read). */
void pbs__check_leaks(pbs_journal *j, const pbs_snapshot *base, long *rss_end_kb);

#endif /* PB_STRESS_LEAKS_H */
