/*
 * watchdog.h — the thread that notices a hung operation (watchdog.c).
 */
#ifndef PB_STRESS_WATCHDOG_H
#define PB_STRESS_WATCHDOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "world.h"

typedef struct pbs_watchdog {
    pbs_world *w;
    pbs_oplog *const *logs; /* the threads watched */
    _Atomic int nlogs;
    /* Called from the watchdog's thread when it fires, after the
     * diagnostics are printed and before the process exits: the run's last
     * words (its report so far). */
    void (*last_words)(void *ud, const char *why);
    void *ud;
    _Atomic long rss_peak_kb; /* the highest RSS sampled */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, started;
} pbs_watchdog;

/* Starts watching logs[0..n) (n may grow later: pbs__watchdog_watch).
 * Returns 0 or -errno. */
int pbs__watchdog_start(pbs_watchdog *wd, pbs_world *w, pbs_oplog *const *logs, int n,
                        void (*last_words)(void *ud, const char *why), void *ud);

/* Changes how many of the logs are watched (threads that did start). */
void pbs__watchdog_watch(pbs_watchdog *wd, int n);

void pbs__watchdog_stop(pbs_watchdog *wd);

#endif /* PB_STRESS_WATCHDOG_H */
