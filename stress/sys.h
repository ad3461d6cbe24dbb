/*
 * sys.h — this process seen from outside, through /proc: threads, open fds,
 * child processes, RSS, the machine's CPU pressure; killing one worker
 * safely; the stacks the watchdog prints (sys.c).
 *
 * Reads of /proc/self are serialised among themselves, so a snapshot never
 * counts the fd another thread opened to sample RSS.
 */
#ifndef PB_STRESS_SYS_H
#define PB_STRESS_SYS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct pbs_fdinfo {
    int fd;
    char target[96];
} pbs_fdinfo;

typedef struct pbs_snapshot {
    int threads;          /* entries of /proc/self/task */
    int children;         /* processes whose parent is this one (zombies included) */
    int zombies;          /* ... of which zombies */
    pid_t child_pids[16]; /* the first few */
    pbs_fdinfo *fds;      /* open fds, by number (malloc'd) */
    size_t nfds;
    long rss_kb;          /* VmRSS */
} pbs_snapshot;

/* Takes a snapshot (0 or -errno). */
int pbs__snapshot(pbs_snapshot *s);
void pbs__snapshot_free(pbs_snapshot *s);
/* VmRSS in kB, or -1. */
long pbs__rss_kb(void);

/* The "some" total of /proc/pressure/cpu: microseconds during which at
 * least one runnable task waited for a CPU, or -1 without PSI. */
long long pbs__psi_cpu_some_us(void);

/* Sends sig to pid only if it is a child of this process, through a pidfd so
 * that a recycled pid is never hit. Returns 0, -ESRCH (gone), -EPERM (not
 * our child) or another -errno. */
int pbs__kill_child(pid_t pid, int sig);

/* SIGKILLs every child of this process (watchdog: before exiting, so hung
 * workers do not outlive the harness). */
void pbs__kill_all_children(void);

/* Prints the stacks of every thread of this process to out with gdb, if gdb
 * is installed; waits at most limit_s seconds for it. Returns 0 when gdb ran. */
int pbs__print_stacks(int out_fd, int limit_s);

#endif /* PB_STRESS_SYS_H */
