/*
 * ops.h — the operations of a stress run (ops.c): what a submitter thread
 * does until told to stop, and the main thread's batches at the end.
 */
#ifndef PB_STRESS_OPS_H
#define PB_STRESS_OPS_H

#include <stddef.h>

#include "actor.h"

/* A submitter thread: draws and runs operations until the run is stopping
 * (or its operation count is reached, or the pool is found shut down),
 * then drains what it holds and marks itself finished. */
void *pbs__submitter_main(void *actor);

/* Main thread: a batch of plain tasks that must all succeed, proof that
 * the pool survived the faults. */
void pbs__op_health(pbs_actor *a);

/* Main thread: n slow tasks (at most PBS_LIVE_MAX) left live for shutdown
 * to act on. */
void pbs__op_tail(pbs_actor *a, size_t n);

#endif /* PB_STRESS_OPS_H */
