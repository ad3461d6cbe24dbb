/*
 * world.h — what every thread of one stress run shares: the options, the
 * pool, the faults injected and their rates, the run's phase, and the
 * shared records (journal, workers and kills, CPU pressure).
 *
 * Set up by run.c before any submitter starts; after that only the atomics
 * and the records (each behind its own lock) change. Nothing an actor owns
 * (actor.h) is in here, and nothing in here is owned by an actor.
 */
#ifndef PB_STRESS_WORLD_H
#define PB_STRESS_WORLD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <pb/pool.h>

#include "journal.h"
#include "pressure.h"
#include "stress.h"
#include "workers.h"

typedef struct pbs_world {
    pbs_stress_opts o;      /* with the defaults filled in */
    pb_pool *pool;          /* the pool under test */
    const pb_task *probe;
    pid_t self;
    bool in_process;        /* the backend runs tasks in this process */
    unsigned faults;        /* injected: requested minus what the backend cannot take */
    uint32_t rate_fail, rate_crash, rate_hang;             /* per million probes */
    uint32_t map_rate_fail, map_rate_crash, map_rate_hang; /* per million map items */
    unsigned max_tasks;     /* the pool's max_tasks_per_worker, 0: none */
    int64_t task_timeout;   /* the pool's task_timeout, 0: none */
    int nworkers;           /* the pool's workers */

    _Atomic bool stopping;       /* submitters: finish up */
    _Atomic bool shutdown_begun; /* pb_pool_shutdown was called (submit may say ESHUTDOWN) */
    _Atomic bool cancel_begun;   /* ... with cancel_futures (pending futures may be cancelled) */
    _Atomic int64_t last_success;/* completed time of the latest successful future */

    pbs_journal journal;
    pbs_workers workers;
    pbs_pressure pressure;
} pbs_world;

#endif /* PB_STRESS_WORLD_H */
