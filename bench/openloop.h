/*
 * openloop.h — an open-loop generator: arrivals on a schedule computed
 * before anything runs, sent whether or not earlier ones have finished
 * (bench/openloop.c; the `load` scenario drives pools with it).
 *
 * A closed loop sends the next request only when the last one came back, so
 * when the service stalls the requests that should have arrived meanwhile
 * are never sent and their waiting is never measured: coordinated omission.
 * An open loop keeps to its schedule, and each request's latency counts
 * from when it was *due* (wrk2, TailBench), so a stall shows in every
 * request it delays.
 *
 * DESIGN
 *
 * The schedule: n arrival times, offsets in ns from the start, Poisson (gaps
 * drawn exponential from a seeded pb_rng, so a seed replays them) or evenly
 * spaced. The generator walks it in order in the calling thread: it sleeps
 * until the next arrival is due (or, with `spin`, sleeps until `spin` ns
 * before and spins the rest), then sends it, and when it is late — its wake
 * came late, or sending took longer than the gap — it sends what is due at
 * once, one after another, without sleeping: it never skips an arrival and
 * never sends one early. How late each send was is recorded (`sent_at`
 * against the due time: the generator's own lag), so a scenario can tell a
 * schedule that was kept from one that was not.
 *
 * A cap on outstanding work: before each send the generator asks whether
 * the cap is reached (`full`: as many sent arrivals not done yet as the
 * caller allows); then the policy decides —
 *   PB_OL_REJECT  the arrival is not sent (status PB_OL_REJECTED), as a
 *                 service with a full queue turns requests away;
 *   PB_OL_QUEUE   the generator waits until the cap has room, then sends it
 *                 (status PB_OL_HELD; `released` says when the cap let it
 *                 go), and later arrivals wait behind it.
 * A send the pool refuses is PB_OL_REFUSED.
 *
 * Time comes from a clock the caller may replace (now, sleep_until), so a
 * test can run the generator on a fake clock and check it keeps to its
 * schedule exactly, independent of the machine's speed.
 */
#ifndef PB_BENCH_OPENLOOP_H
#define PB_BENCH_OPENLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Fills at[0..n) with arrival offsets (ns from the start) at `rate`
 * arrivals per second: Poisson (exponential gaps drawn from rng) or evenly
 * spaced (rng unused). The first arrival is one gap after the start. rate
 * must be > 0. */
void pb_ol_schedule(int64_t *at, size_t n, double rate, bool poisson, pb_rng *rng);

typedef enum { PB_OL_REJECT, PB_OL_QUEUE } pb_ol_policy;

typedef enum {
    PB_OL_UNSENT,   /* not reached yet */
    PB_OL_SENT,     /* sent when due (or as soon as the generator could) */
    PB_OL_HELD,     /* sent after waiting for the cap (PB_OL_QUEUE) */
    PB_OL_REJECTED, /* not sent: the cap was reached (PB_OL_REJECT) */
    PB_OL_REFUSED   /* sent, and the pool refused it */
} pb_ol_status;

typedef struct pb_ol_clock {
    int64_t (*now)(void *ud);                /* CLOCK_MONOTONIC-like ns */
    void (*sleep_until)(void *ud, int64_t t); /* may return early or late */
    void *ud;
} pb_ol_clock;

/* The real clock: pb_now_ns() and clock_nanosleep to an absolute time. */
extern const pb_ol_clock pb_ol_real_clock;

typedef struct pb_openloop {
    /* In. */
    const int64_t *at;   /* the schedule: n non-decreasing offsets */
    size_t n;
    int64_t start;       /* the clock's time of offset 0 */
    int64_t spin;        /* ns before an arrival to stop sleeping and spin (0: never spin) */
    pb_ol_policy policy; /* what an arrival does when the cap is reached */
    /* Sends arrival i: 0, or a negative code when the pool refused it. */
    int (*send)(void *ud, size_t i);
    /* Whether the cap is reached: as many sent arrivals outstanding as may be. */
    bool (*full)(void *ud);
    void *ud;
    pb_ol_clock clock;
    /* Out: per arrival (n entries each, the caller's memory). */
    uint8_t *status;     /* pb_ol_status */
    int64_t *sent_at;    /* the clock just before send (or the rejection) */
    int64_t *released;   /* PB_OL_HELD: when the cap let it go; else the due time */
    /* Out: counts. sent: arrivals the pool accepted, held ones included. */
    size_t sent, held, rejected, refused;
    bool stopped;        /* `stop` returned true before the end */
    /* Optional: asked between arrivals; true ends the run early. */
    bool (*stop)(void *ud);
} pb_openloop;

/* Runs the schedule. Returns 0 (every arrival handled, or stopped). */
int pb_ol_run(pb_openloop *ol);

#endif /* PB_BENCH_OPENLOOP_H */
