/*
 * report.h — a stress run as the CASE object of results/FORMAT.md
 * (report.c): parameters, counts as metrics, one check per invariant.
 */
#ifndef PB_STRESS_REPORT_H
#define PB_STRESS_REPORT_H

#include <jansson.h>

#include "expect.h"
#include "world.h"

/* Every thread's counts added up. */
typedef struct pbs_totals {
    pbs_counts c;
    uint64_t ops[PBS_OP_COUNT];
    uint64_t operations, injected, kills;
} pbs_totals;

/* Adds one thread's operations and counts to t (zero it first). */
void pbs__totals_add(pbs_totals *t, const pbs_oplog *l, const pbs_counts *c);

/* RSS in kB at the start, the peak and the end; -1 where not known. */
typedef struct pbs_rss {
    long start_kb, peak_kb, end_kb;
} pbs_rss;

/* The CASE object of the run so far. fail_reason: why the run could not
 * take place (NULL if it did); rss may be NULL; binding (stolen, may be
 * NULL) is the pool's binding object. NULL on ENOMEM. */
json_t *pbs__case_new(pbs_world *w, const pbs_totals *t, uint64_t survived, const pbs_rss *rss,
                      const char *fail_reason, json_t *binding);

/* The binding object of FORMAT.md for w's pool: where each worker is bound.
 * NULL when the pool cannot say. */
json_t *pbs__binding_new(pbs_world *w);

#endif /* PB_STRESS_REPORT_H */
