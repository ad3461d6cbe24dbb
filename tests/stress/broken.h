/*
 * broken.h — the "broken" backend of the stress tests (broken.c).
 */
#ifndef PBT_BROKEN_H
#define PBT_BROKEN_H

/* One task in this many is mistreated once a breakage is on: rare enough
 * that a pool "mostly works", often enough that a two-second run hits it. */
#define PBT_BROKEN_EVERY 500

typedef enum {
    PBT_BROKEN_NONE,
    PBT_BROKEN_DROP,        /* the result is dropped (success with no bytes) */
    PBT_BROKEN_LOSE,        /* one future is taken by a worker and never completed */
    PBT_BROKEN_SPURIOUS,    /* the future fails with PB_EBROKEN for no reason */
    PBT_BROKEN_WRONG_ID,    /* the future gets another task's result */
    PBT_BROKEN_LEAK_FD,     /* destroy leaves an fd open */
    PBT_BROKEN_LEAK_THREAD, /* destroy leaves a thread running */
    PBT_BROKEN_HANG,        /* shutdown(wait) never returns */
} pbt_breakage;

/* Registers the backend as "broken" (once). Returns 0 or a PB_E* code. */
int pbt_broken_register(void);

/* Switches the breakage for pools created from now on (and running ones). */
void pbt_broken_set(pbt_breakage m);

#endif
