/*
 * workers.c — the workers a stress run has seen, and the kills it sent.
 *
 * Charging a failure to a kill: a worker SIGKILLed from outside fails the
 * one unit of work it was running (a future, or one chunk of a map) with
 * PB_EBROKEN, signal SIGKILL. The probe recorded which pid started it; the
 * kill log says which pids were killed and when. A failure is charged to
 * the kill of its pid sent before it failed; a kill may be charged with one
 * unit only, since a worker runs one task or chunk at a time. When the pid
 * is not known (the probe never started), the oldest kill not yet charged
 * takes it.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "workers.h"

void pbs__workers_init(pbs_workers *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->seen_mu, NULL);
    pthread_mutex_init(&w->pids_mu, NULL);
    pthread_mutex_init(&w->kills_mu, NULL);
}

void pbs__workers_destroy(pbs_workers *w)
{
    free(w->seen);
    free(w->kills);
    w->seen = NULL;
    w->kills = NULL;
    pthread_mutex_destroy(&w->seen_mu);
    pthread_mutex_destroy(&w->pids_mu);
    pthread_mutex_destroy(&w->kills_mu);
}

static size_t seen_slot(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

/* Adds key to the set of workers seen (0 is the empty slot, and no worker
 * has pid 0). Returns true if it was new. */
static bool seen_add_locked(pbs_workers *w, uint64_t key)
{
    if (2 * (w->nseen + 1) > w->capseen) {
        size_t cap = w->capseen ? 2 * w->capseen : 256;
        uint64_t *m = calloc(cap, sizeof *m);
        if (!m)
            return false;
        for (size_t i = 0; i < w->capseen; i++) {
            uint64_t k = w->seen[i];
            if (!k)
                continue;
            size_t j = seen_slot(k, cap);
            while (m[j])
                j = (j + 1) & (cap - 1);
            m[j] = k;
        }
        free(w->seen);
        w->seen = m;
        w->capseen = cap;
    }
    size_t j = seen_slot(key, w->capseen);
    while (w->seen[j]) {
        if (w->seen[j] == key)
            return false;
        j = (j + 1) & (w->capseen - 1);
    }
    w->seen[j] = key;
    w->nseen++;
    return true;
}

void pbs__workers_remember(pbs_workers *w, pid_t pid, pid_t tid)
{
    uint64_t key = ((uint64_t)(uint32_t)pid << 32) | (uint32_t)tid;
    pthread_mutex_lock(&w->seen_mu);
    bool fresh = seen_add_locked(w, key);
    pthread_mutex_unlock(&w->seen_mu);
    if (!fresh || !w->track_pids)
        return;
    pthread_mutex_lock(&w->pids_mu);
    size_t cap = sizeof w->pids / sizeof w->pids[0];
    w->pids[w->pids_next++ % cap] = pid;
    if (w->npids < cap)
        w->npids++;
    pthread_mutex_unlock(&w->pids_mu);
}

size_t pbs__workers_seen(pbs_workers *w)
{
    pthread_mutex_lock(&w->seen_mu);
    size_t n = w->nseen;
    pthread_mutex_unlock(&w->seen_mu);
    return n;
}

pid_t pbs__workers_take_recent(pbs_workers *w, uint64_t k, int workers)
{
    size_t cap = sizeof w->pids / sizeof w->pids[0];
    pid_t pid = 0;
    pthread_mutex_lock(&w->pids_mu);
    size_t n = w->npids, lim = (size_t)(workers > 0 ? workers : 1);
    if (n) {
        size_t want = (size_t)(k % (n < lim ? n : lim));
        for (size_t i = 0, seen = 0; i < n && !pid; i++) {
            size_t slot = (w->pids_next + cap - 1 - i) % cap;
            if (w->pids[slot] && seen++ == want) {
                pid = w->pids[slot];
                w->pids[slot] = 0;
            }
        }
    }
    pthread_mutex_unlock(&w->pids_mu);
    return pid;
}

size_t pbs__kills_add(pbs_workers *w, const pbs_kill *k)
{
    size_t slot = SIZE_MAX;
    pthread_mutex_lock(&w->kills_mu);
    if (w->nkills == w->capkills) {
        size_t cap = w->capkills ? 2 * w->capkills : 64;
        pbs_kill *m = realloc(w->kills, cap * sizeof *m);
        if (m) {
            w->kills = m;
            w->capkills = cap;
        }
    }
    if (w->nkills < w->capkills) {
        slot = w->nkills++;
        w->kills[slot] = *k;
        w->kills[slot].claimed = w->kills[slot].withdrawn = false;
    }
    pthread_mutex_unlock(&w->kills_mu);
    return slot;
}

void pbs__kills_withdraw(pbs_workers *w, size_t slot)
{
    pthread_mutex_lock(&w->kills_mu);
    assert(slot < w->nkills && !w->kills[slot].claimed);
    w->kills[slot].withdrawn = true;
    pthread_mutex_unlock(&w->kills_mu);
}

pbs_kill_charge pbs__kills_charge(pbs_workers *w, pid_t pid, int64_t failed_at, uint64_t unit,
                                  uint32_t chunk, pbs_kill *other)
{
    pbs_kill_charge verdict = PBS_KILL_NONE;
    pthread_mutex_lock(&w->kills_mu);
    pbs_kill *k = NULL;
    for (size_t i = w->nkills; i-- > 0;) {
        pbs_kill *c = &w->kills[i];
        if (c->withdrawn || c->at > failed_at)
            continue; /* never sent, or sent after the failure: not its cause */
        if (pid ? c->pid == pid : !c->claimed) {
            k = c;
            if (pid)
                break;
        }
    }
    assert(!k || (!k->withdrawn && k->at <= failed_at));
    if (k && !k->claimed) {
        k->claimed = true;
        k->unit = unit;
        k->chunk = chunk;
        verdict = PBS_KILL_CHARGED;
    } else if (k) {
        verdict = k->unit != unit || k->chunk != chunk ? PBS_KILL_TWICE : PBS_KILL_CHARGED;
        *other = *k;
    }
    pthread_mutex_unlock(&w->kills_mu);
    return verdict;
}

void pbs__kills_split(pbs_workers *w, int64_t t, uint64_t *before, uint64_t *after)
{
    *before = *after = 0;
    pthread_mutex_lock(&w->kills_mu);
    for (size_t k = 0; k < w->nkills; k++) {
        if (w->kills[k].withdrawn)
            continue;
        if (w->kills[k].at < t)
            (*before)++;
        else
            (*after)++;
    }
    pthread_mutex_unlock(&w->kills_mu);
}
