/*
 * cost.h — what a pool spends: CPU time and memory, measured around the
 * intervals a scenario marks (harness/cost.c).
 *
 * A meter belongs to one repetition. The scenario's own thread opens and
 * closes windows (pb_sc_cost_begin/end in bench/scenario.h, or
 * pbh_meter_begin/end here); each window yields the CPU time the pool spent
 * in it — every thread of this process that is not the scenario's, every
 * process descending from this one — and, kept apart, the CPU time of the
 * threads that drive the pool (the one that opened the window and any the
 * scenario registered with pb_sc_thread_enter). cost.c's essay says how each
 * figure is read and why it is exact where it can be.
 *
 * Threads: begin, end, baseline, watch, hide and memory are called from the
 * thread that opens the windows; thread_enter and thread_leave from any
 * thread, concurrently with the rest.
 */
#ifndef PB_HARNESS_COST_H
#define PB_HARNESS_COST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pb/pool.h>

#include "scenario.h"

/* Most pool processes whose memory one snapshot reads. */
#define PBH_COST_MAX_MEMPROCS 256

/* CPU time in ns: user + sys = total. */
typedef struct pbh_cpu {
    double total, user, sys;
} pbh_cpu;

/* One window's figures. */
typedef struct pbh_window {
    double wall;       /* ns from begin to end */
    pbh_cpu pool;      /* the pool: its threads here, its processes */
    pbh_cpu submitter; /* the threads driving it */
    size_t tasks;      /* as the scenario counted them */
} pbh_window;

/* A snapshot of memory (bytes). */
typedef struct pbh_memory {
    double host_rss;        /* this process's resident set */
    bool has_growth;        /* a baseline was taken before the first pool */
    double host_rss_growth; /* host_rss minus the baseline's */
    size_t threads;         /* the pool's threads in this process */
    size_t nprocs;          /* the pool's processes (up to PBH_COST_MAX_MEMPROCS read) */
    double rss[PBH_COST_MAX_MEMPROCS], pss[PBH_COST_MAX_MEMPROCS];
} pbh_memory;

typedef struct pbh_meter pbh_meter;

/* A meter for the calling thread (the one that will open windows).
 * Returns 0 or PB_ENOMEM. */
int pbh_meter_new(pbh_meter **out);
void pbh_meter_free(pbh_meter *m);

/* The pool whose pb_pool_worker_pids() names processes of the pool beside
 * the descendants found in /proc (NULL: none). The pool must outlive the
 * meter's use of it (call again with NULL before destroying it). */
void pbh_meter_watch(pbh_meter *m, const pb_pool *pool);

/* Records what the process holds before the pool exists (its resident set,
 * its threads and child processes), so that a later snapshot can tell what
 * the pool added. Only the first call counts; a window's begin takes it
 * when none was taken. */
void pbh_meter_baseline(pbh_meter *m);

/* The pool's processes cannot be seen from here (an MPI rank): why, in a
 * phrase. The pool's CPU time and memory are then not reported; the
 * submitter's still is. */
void pbh_meter_hide(pbh_meter *m, const char *why);
const char *pbh_meter_hidden(const pbh_meter *m); /* NULL when nothing is hidden */

/* Opens a window (no window may be open). Returns 0, or PB_EINVAL when one
 * is open or the caller is not the meter's thread. */
int pbh_meter_begin(pbh_meter *m);

/* Closes the open window; *out gets its figures, with `tasks` as given.
 * Returns 0 or PB_EINVAL (no window open, or another thread). */
int pbh_meter_end(pbh_meter *m, size_t tasks, pbh_window *out);

/* Memory now: this process's resident set and its growth since the
 * baseline, and, for each of the pool's processes alive at the last
 * window's end (listed by the watched pool, started since the baseline, or
 * busy in that window), its RSS and PSS; the pool's threads here (started
 * since the baseline, or busy in the last window). Returns 0 or a negative
 * code (no window closed yet: PB_EINVAL). */
int pbh_meter_memory(pbh_meter *m, pbh_memory *out);

/* From a thread the scenario started to drive the pool: its CPU time from
 * enter to leave counts as the submitter's, not the pool's. */
void pbh_meter_thread_enter(pbh_meter *m);
void pbh_meter_thread_leave(pbh_meter *m);

/* Whether process pid is this process or descends from it. */
bool pbh_cost_descends(pid_t pid);

/* ---- The runner's side (runner.c calls these; cost.c implements) ---- */

/* The repetition's meter of a scenario context (runner.c). */
pbh_meter *pbh_sc_meter(pb_sc *sc);

/* After a repetition's run function: records the repetition's cost metrics
 * (every window summed; FORMAT.md names them) into sc's metrics. */
void pbh_cost_record(pb_sc *sc, pbh_meter *m);

/* The harness's own peak resident set, in bytes (getrusage ru_maxrss). */
double pbh_cost_peak_rss(void);

#endif /* PB_HARNESS_COST_H */
