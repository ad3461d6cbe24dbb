/*
 * expect.h — what a probe must produce, and the judgement of what it did
 * produce (expect.c tells the rules).
 *
 * Every operation that gets an outcome back — a future's result, a map
 * item, a timed wait that expired, a wake-up — hands it here with what the
 * probe was told to do, and is told nothing back: the outcome is counted in
 * the thread's tally, and anything that breaks the contract is reported to
 * the journal as a violation of the check it breaks.
 */
#ifndef PB_STRESS_EXPECT_H
#define PB_STRESS_EXPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pb/pool.h>

#include "journal.h"
#include "probe.h"
#include "world.h"

/* What one thread counted. */
typedef struct pbs_counts {
    uint64_t futures, map_items, maps;
    uint64_t ok, task_failed, broken, killed, cancelled;
    uint64_t timeouts_seen;   /* timed waits that timed out */
    uint64_t callbacks;
    uint64_t injected[PBS_FAULT_KINDS]; /* by fault bit index */
    uint64_t kills_missed;    /* no worker pid known, or it was gone */
    uint64_t kill_failures;   /* futures (or map items) failed by a kill, and charged to it */
    uint64_t timing_excused;  /* timing checks not judged: the CPU was saturated meanwhile */
} pbs_counts;

/* One thread's side of the judgement: where its violations are told, what
 * it counted, and when each injected fault was seen to do what it should
 * (for faults_survived). Owned by the thread. */
typedef struct pbs_tally {
    pbs_oplog *log;
    pbs_counts counts;
    int64_t *fault_done;
    size_t nfault_done, capfault_done;
} pbs_tally;

void pbs__tally_free(pbs_tally *t);

/* What a probe was told to do: its outcome is predicted from this alone. */
typedef struct pbs_expect {
    uint64_t id;
    uint8_t inner;        /* pbs_inner */
    int32_t fail_code;    /* PBS_INNER_FAIL: the task code */
    uint64_t sum;         /* PBS_INNER_CHECKSUM: the payload's checksum */
    const void *payload;  /* PBS_INNER_ECHO: the bytes sent */
    uint32_t len;         /* ... and how many */
    bool cancelled;       /* our own pb_future_cancel of it returned true */
} pbs_expect;

/* The unit of work a probe ran in: a future alone, or one chunk of a map,
 * whose items one worker runs one after another (so a crash or hang of one
 * item ends the items after it too). */
typedef struct pbs_unit {
    uint64_t id;             /* the future's id, or the map's */
    uint32_t chunk;          /* 0: a future; a map item: its chunk's index + 1 */
    const uint64_t *ids;     /* the probes of the unit, whose records may */
    size_t nids;             /* name the worker that ran them */
    int cause;               /* a chunk: inner kind of its first crash or hang, or -1 */
    bool first_cause;        /* the probe judged is that first crash or hang (or a future) */
} pbs_unit;

/* Judges a unit's outcome: code is what the call returned (0, PB_ETASK,
 * PB_EBROKEN, PB_EKILLED or PB_ECANCELED), err its details, data/len the
 * result bytes on success. what names it for messages ("future #1a
 * (checksum of 12 bytes)"); submitted and completed are when it was
 * submitted and when the caller's side saw it complete. */
void pbs__judge(pbs_world *w, pbs_tally *t, const pbs_expect *x, const pbs_unit *u,
                const char *what, int code, const pb_error *err, const void *data, size_t len,
                int64_t submitted, int64_t completed);

/* The consistency of a done future f (id), whose pb_future_result said
 * code: pb_future_error agrees, the state is final and matches, the times
 * are in order, a cancelled one never started; seen/seen_code: an earlier
 * look saw it done with that code. Fills *err and *times for pbs__judge.
 * False when pb_future_error itself failed (reported). */
bool pbs__judge_done_future(pbs_world *w, pbs_tally *t, uint64_t id, pb_future *f, int code,
                            bool seen, int seen_code, pb_error *err, pb_times *times);

/* A timed wait (what: "pb_wait(ALL_COMPLETED, 3 futures, 2.000 ms)") that
 * timed out after running over [t0, t1]: never before its timeout; with
 * the patience as timeout, something was lost (lost: "pb_wait(...) found
 * only 1 done"); never much later than asked (timeout * 1.5 + the
 * tolerance), unless the CPU was saturated meanwhile. */
void pbs__judge_timed_out(pbs_world *w, pbs_tally *t, const char *what, const char *lost,
                          int64_t timeout, int64_t t0, int64_t t1);

/* A wait that began at t0 and returned at t1 because something happened at
 * `met` (a completion): it must have returned within the tolerance of it,
 * unless the CPU was saturated. what: "pb_wait(FIRST_COMPLETED) returned",
 * after: "its condition was met". */
void pbs__judge_wakeup(pbs_world *w, pbs_tally *t, const char *what, const char *after,
                       int64_t met, int64_t t0, int64_t t1);

/* "PB_ETASK", "success", ... */
const char *pbs__code_name(int code);
const char *pbs__state_name(pb_state s);

#endif /* PB_STRESS_EXPECT_H */
