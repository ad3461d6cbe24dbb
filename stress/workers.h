/*
 * workers.h — the worker processes of a stress run, as the run learns of
 * them: the workers seen in results (for counting them, and for picking one
 * to kill), and the kills sent, so that a failure a kill caused is charged
 * to that kill and to nothing else (workers.c).
 */
#ifndef PB_STRESS_WORKERS_H
#define PB_STRESS_WORKERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pbs_kill {
    pid_t pid;
    int sig;
    int64_t at;      /* pb_now_ns() as it was put on record, just before it was sent */
    int actor;       /* who sent it, and in which operation */
    uint64_t op;
    bool withdrawn;  /* the signal could not be sent after all */
    bool claimed;    /* a failure was charged to it */
    uint64_t unit;   /* ... the future's id, or the map's */
    uint32_t chunk;  /* ... map chunk + 1, or 0 */
} pbs_kill;

typedef struct pbs_workers {
    /* Distinct workers seen: (pid << 32 | tid) keys, open addressing. */
    pthread_mutex_t seen_mu;
    uint64_t *seen;
    size_t nseen, capseen;
    /* Worker pids in the order first seen (a ring), for kills; kept only
     * when workers are processes of their own. */
    bool track_pids;
    pthread_mutex_t pids_mu;
    pid_t pids[32];
    size_t npids, pids_next;
    /* Kills sent. */
    pthread_mutex_t kills_mu;
    pbs_kill *kills;
    size_t nkills, capkills;
} pbs_workers;

void pbs__workers_init(pbs_workers *w);
void pbs__workers_destroy(pbs_workers *w);

/* A worker learned from a probe's result. */
void pbs__workers_remember(pbs_workers *w, pid_t pid, pid_t tid);

/* How many distinct workers (pid, thread) ran a probe. */
size_t pbs__workers_seen(pbs_workers *w);

/* The k-th (modulo the number on record, at most `workers`) most recently
 * seen worker pid, taken off the record since it is about to die; 0 when
 * none is known. */
pid_t pbs__workers_take_recent(pbs_workers *w, uint64_t k, int workers);

/* Puts a kill on record before its signal goes: the failure it causes can
 * complete, and be judged by another thread, before kill() returns. Returns
 * its slot, or SIZE_MAX without memory (then it must not be sent). */
size_t pbs__kills_add(pbs_workers *w, const pbs_kill *k);

/* The kill in slot could not be sent after all. */
void pbs__kills_withdraw(pbs_workers *w, size_t slot);

typedef enum {
    PBS_KILL_NONE,    /* no kill on record explains the failure */
    PBS_KILL_CHARGED, /* a kill of that worker explains it */
    PBS_KILL_TWICE,   /* ... but it was already charged with another unit of work */
} pbs_kill_charge;

/* Charges a failure of `unit` (chunk: map chunk + 1, or 0) at failed_at to
 * the kill of pid (0: unknown; then the oldest kill not yet charged) sent
 * before it. On PBS_KILL_TWICE, *other is the kill as charged before. */
pbs_kill_charge pbs__kills_charge(pbs_workers *w, pid_t pid, int64_t failed_at, uint64_t unit,
                                  uint32_t chunk, pbs_kill *other);

/* Kills sent (not withdrawn) before `t`, and at or after it. */
void pbs__kills_split(pbs_workers *w, int64_t t, uint64_t *before, uint64_t *after);

#endif /* PB_STRESS_WORKERS_H */
