/*
 * actor.h — one thread of a stress run and the futures it holds (actor.c).
 *
 * Actor 0 is the thread that called pbs_stress_run ("main"); actors
 * 1..threads are submitter threads. Each actor owns its PRNG stream, its
 * records, its journal slot and its tally; nothing an actor owns is touched
 * by another actor (the watchdog only reads the journal slot, and callbacks
 * only the fields of a record meant for them).
 */
#ifndef PB_STRESS_ACTOR_H
#define PB_STRESS_ACTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pb/pool.h>

#include "expect.h"
#include "rng.h"
#include "world.h"

#define PBS_CALLBACKS_MAX 3
#define PBS_RING 8192   /* records per actor (a power of two) */
#define PBS_LIVE_MAX 48 /* futures an actor holds at once */

typedef struct pbs_rec pbs_rec;

typedef struct pbs_cb {
    pbs_rec *rec;
    uint8_t idx;
    _Atomic uint32_t runs;
    _Atomic uint32_t seq; /* the rec's callback sequence number when it ran */
} pbs_cb;

/* One future the actor submitted and still tracks. Records live in a ring
 * per actor and are reused only long after they were retired, so a
 * callback that runs twice or late finds its record (and sees that the
 * future is not the one it belongs to) instead of freed memory. */
struct pbs_rec {
    _Atomic(pb_future *) f;
    pbs_expect x;      /* what its probe was told (x.id: (actor << 40) | sequence) */
    void *echo;        /* x.payload's bytes for an echo (malloc'd until retired) */
    uint64_t op;       /* the operation that submitted it */
    uint8_t ncb;       /* callbacks added */
    bool live;         /* submitted and not yet retired */
    bool lost;         /* not done within patience: checked again after destroy */
    bool seen;         /* a done outcome was observed before retiring */
    int seen_code;
    _Atomic uint32_t cb_seq;
    _Atomic uint32_t cb_bad; /* a callback saw its future not done */
    pbs_cb cbs[PBS_CALLBACKS_MAX];
};

typedef struct pbs_actor {
    pbs_world *w;
    pthread_t thread;
    pb_rng rng;
    uint64_t seq;      /* ids handed out */
    pbs_oplog log;     /* log.index: 0 main, 1..threads submitters */
    pbs_tally tally;
    pbs_rec *ring;
    size_t ring_next;
    pbs_rec *live[PBS_LIVE_MAX];
    size_t nlive;
    pbs_rec **lost;
    size_t nlost, caplost;
    _Atomic bool finished; /* a submitter has drained and is about to return */
    uint8_t *buf;          /* scratch */
    size_t bufcap;
} pbs_actor;

int pbs__actor_init(pbs_actor *a, pbs_world *w, int index);
void pbs__actor_free(pbs_actor *a);

/* The id the actor's next probe gets. */
uint64_t pbs__actor_next_id(const pbs_actor *a);

/* Random bytes from the actor's stream. */
void pbs__fill_random(pb_rng *rng, uint8_t *p, size_t n);

/* What one probe is to do. */
typedef struct pbs_plan {
    pbs_inner inner;
    uint32_t len;
    pbs_delay delay;
    int64_t delay_ns;
    int32_t fail_code;
    int ncb;
} pbs_plan;

/* Submits one probe by plan; on success it is live in a's list, with its
 * callbacks added. Returns 0, PB_ESHUTDOWN (the run is ending), or another
 * code (violation reported). The payload is drawn even when it fails, so
 * the schedule does not depend on the pool. */
int pbs__submit_probe(pbs_actor *a, const pbs_plan *p);

/* Adds a callback to r (at most PBS_CALLBACKS_MAX). */
void pbs__add_callback(pbs_actor *a, pbs_rec *r);

/* Cancels r and checks what cancel says against its state. */
void pbs__cancel_and_check(pbs_actor *a, pbs_rec *r);

/* Waits for r (up to the patience), judges everything about it, releases
 * it. The caller has taken it off the live list. */
void pbs__retire(pbs_actor *a, pbs_rec *r);

/* Takes live[i] off the live list and retires it. */
void pbs__retire_live(pbs_actor *a, size_t i);

/* Retires drawn futures until room are free in the live list. */
void pbs__make_room(pbs_actor *a, size_t room);

/* Retires everything the actor holds, as one operation. */
void pbs__drain(pbs_actor *a);

/* After destroy: every record still held is checked once more and freed. */
void pbs__actor_final(pbs_actor *a);

/* Callbacks that found their record retired and reused: they ran twice, or
 * long after their future was done. Reset at the start of each run. */
void pbs__stale_callbacks_reset(void);
uint64_t pbs__stale_callbacks(void);

#endif /* PB_STRESS_ACTOR_H */
