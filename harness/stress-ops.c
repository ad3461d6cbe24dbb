/*
 * stress-ops.c — the operations a stress submitter draws, and how the
 * outcome of each is checked.
 *
 * SCHEDULE
 *
 * A submitter draws an operation kind from a weighted table, then every
 * random parameter of that operation (sizes, payload bytes, timeouts, which
 * of its futures to wait on, ...) from its own PRNG, before calling the
 * pool. No draw depends on what the pool did or how long it took: the
 * futures a submitter holds change only through its own operations (a
 * future leaves the list only when it is retired, whatever its state), so
 * operation N of thread T is the same for a given seed on every run.
 *
 * WHAT IS EXPECTED OF A FUTURE
 *
 * Every probe knows what it was told to do, so its outcome is predicted
 * exactly: a checksum or echo probe succeeds with its own id, pid and the
 * right bytes; a fail probe fails with PB_ETASK, its code and the workload's
 * message; a crash probe fails with PB_EBROKEN and its signal (SIGSEGV,
 * SIGABRT) or exit status; a hang probe fails with PB_EKILLED. Three things
 * may legitimately change that:
 *   - our own pb_future_cancel returned true: PB_ECANCELED, and nothing else;
 *   - shutdown with cancel_futures has begun: a pending future may end
 *     PB_ECANCELED;
 *   - a worker was SIGKILLed from outside by a KILL operation: the one unit
 *     of work it was running (a future, or one chunk of a map) may fail with
 *     PB_EBROKEN, signal SIGKILL. The probe recorded which pid started it;
 *     the kill log says which pids were killed; a failure is charged to the
 *     kill of its pid, and a kill may be charged with one unit only.
 * Anything else is a violation of only_injected_failures.
 *
 * WAITS
 *
 * A timed wait that times out must not return before its timeout, nor later
 * than timeout * 1.5 + tolerance. One that returns because futures completed
 * must return within the tolerance of the completion it waited for (the
 * future's `completed` time), which catches wake-ups lost until a timeout.
 * "Until done" waits are bounded by the patience: a future not done by then
 * is lost (no_lost_result) and is looked at again after destroy.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stress-int.h"
#include "workloads.h"


#define MS (1000000LL)
#define US (1000LL)

static const char *const when_names[] = {"FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"};

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

static const char *code_name(int code)
{
    switch (code) {
    case 0: return "success";
    case PB_ETASK: return "PB_ETASK";
    case PB_EBROKEN: return "PB_EBROKEN";
    case PB_EKILLED: return "PB_EKILLED";
    case PB_ECANCELED: return "PB_ECANCELED";
    case PB_ETIMEDOUT: return "PB_ETIMEDOUT";
    case PB_EOF: return "PB_EOF";
    case PB_ESHUTDOWN: return "PB_ESHUTDOWN";
    case PB_EINVAL: return "PB_EINVAL";
    case PB_ENOMEM: return "PB_ENOMEM";
    default: return pb_strerror(code);
    }
}

static const char *state_name(pb_state s)
{
    switch (s) {
    case PB_PENDING: return "PENDING";
    case PB_RUNNING: return "RUNNING";
    case PB_CANCELLED: return "CANCELLED";
    case PB_FINISHED: return "FINISHED";
    }
    return "?";
}

static const char *inner_text(int inner)
{
    static const char *const t[PBH_INNER_COUNT] = {"checksum", "echo", "fail", "crash segv",
                                                   "crash abort", "crash exit", "hang"};
    return inner >= 0 && inner < PBH_INNER_COUNT ? t[inner] : "?";
}

static bool inner_is_crash(int inner)
{
    return inner == PBH_INNER_SEGV || inner == PBH_INNER_ABORT || inner == PBH_INNER_EXIT;
}

/* The fault bit an inner kind injects (0 for plain work). */
static unsigned inner_fault(int inner)
{
    switch (inner) {
    case PBH_INNER_FAIL: return PBH_FAULT_FAIL;
    case PBH_INNER_SEGV: return PBH_FAULT_SEGV;
    case PBH_INNER_ABORT: return PBH_FAULT_ABORT;
    case PBH_INNER_EXIT: return PBH_FAULT_EXIT;
    case PBH_INNER_HANG: return PBH_FAULT_HANG;
    default: return 0;
    }
}

static int fault_index(unsigned bit)
{
    return __builtin_ctz(bit);
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* How late a timed wait that timed out may return. */
static int64_t late_limit(const pbh_run *run, int64_t timeout)
{
    return timeout + timeout / 2 + run->o.tolerance;
}

static uint64_t next_id(pbh_actor *a)
{
    return ((uint64_t)a->index << 40) | ++a->seq;
}

static uint8_t *scratch(pbh_actor *a, size_t n)
{
    if (n > a->bufcap) {
        size_t cap = a->bufcap ? a->bufcap : 4096;
        while (cap < n)
            cap *= 2;
        uint8_t *b = realloc(a->buf, cap);
        if (!b)
            return NULL;
        a->buf = b;
        a->bufcap = cap;
    }
    return a->buf;
}

static void fill_random(pbh_rng *rng, uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t v = pbh__rng_next(rng);
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = pbh__rng_next(rng);
        memcpy(p, &v, n);
    }
}

static void record_fault_done(pbh_actor *a, int64_t when)
{
    if (a->nfault_done == a->capfault_done) {
        size_t cap = a->capfault_done ? 2 * a->capfault_done : 64;
        int64_t *m = realloc(a->fault_done, cap * sizeof *m);
        if (!m)
            return; /* counted as not survived: the report errs on the safe side */
        a->fault_done = m;
        a->capfault_done = cap;
    }
    a->fault_done[a->nfault_done++] = when;
}

static void note_success(pbh_run *run, int64_t completed)
{
    int64_t cur = atomic_load(&run->last_success);
    while (completed > cur && !atomic_compare_exchange_weak(&run->last_success, &cur, completed))
        ;
}

/* ------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------ */

int pbh__actor_init(pbh_actor *a, pbh_run *run, int index)
{
    memset(a, 0, sizeof *a);
    a->run = run;
    a->index = index;
    pbh__rng_seed(&a->rng, run->o.seed, (uint64_t)index);
    a->ring = calloc(PBH_RING, sizeof *a->ring);
    if (!a->ring)
        return PB_ENOMEM;
    return 0;
}

void pbh__actor_free(pbh_actor *a)
{
    if (a->ring)
        for (size_t i = 0; i < PBH_RING; i++)
            free(a->ring[i].payload);
    free(a->ring);
    free(a->lost);
    free(a->fault_done);
    free(a->buf);
    a->ring = NULL;
    a->lost = NULL;
    a->fault_done = NULL;
    a->buf = NULL;
}

/* The next ring slot that holds nothing still tracked. Slots are reused
 * only PBH_RING allocations later, long after their future was retired. */
static pbh_rec *rec_alloc(pbh_actor *a)
{
    for (size_t tries = 0; tries < PBH_RING; tries++) {
        pbh_rec *r = &a->ring[a->ring_next++ & (PBH_RING - 1)];
        if (r->live || r->lost)
            continue;
        free(r->payload);
        atomic_store(&r->f, NULL);
        r->payload = NULL;
        r->id = 0;
        r->op = a->op;
        r->ncb = 0;
        r->cancelled = r->lost = r->seen = false;
        r->seen_code = 0;
        r->fail_code = 0;
        r->len = 0;
        r->sum = 0;
        atomic_store(&r->cb_seq, 0);
        atomic_store(&r->cb_bad, 0);
        for (int i = 0; i < PBH_CALLBACKS_MAX; i++) {
            r->cbs[i].rec = r;
            r->cbs[i].idx = (uint8_t)i;
            atomic_store(&r->cbs[i].runs, 0);
            atomic_store(&r->cbs[i].seq, 0);
        }
        return r;
    }
    return NULL;
}

static void live_remove(pbh_actor *a, size_t i)
{
    a->live[i] = a->live[--a->nlive];
}

static void lost_add(pbh_actor *a, pbh_rec *r)
{
    if (a->nlost == a->caplost) {
        size_t cap = a->caplost ? 2 * a->caplost : 16;
        pbh_rec **m = realloc(a->lost, cap * sizeof *m);
        if (!m) {
            /* Cannot track it further: drop our reference now (the future
             * stays valid for whoever else holds it). */
            r->lost = false;
            r->live = false;
            pb_future_release(atomic_load(&r->f));
            return;
        }
        a->lost = m;
        a->caplost = cap;
    }
    a->lost[a->nlost++] = r;
}

/* ------------------------------------------------------------------------
 * Callbacks
 * ------------------------------------------------------------------------ */

static void on_done(pb_future *f, void *ud)
{
    pbh_cb *c = ud;
    pbh_rec *r = c->rec;
    if (atomic_load(&r->f) != f) {
        /* Its record was retired and reused: this callback ran twice, or
         * long after its future was done. */
        atomic_fetch_add(&pbh__stale_callbacks, 1);
        return;
    }
    if (!pb_future_done(f))
        atomic_fetch_add(&r->cb_bad, 1);
    uint32_t s = atomic_fetch_add(&r->cb_seq, 1);
    atomic_store(&c->seq, s);
    /* Last touch of the record: once runs is seen, it may be reused. */
    atomic_fetch_add_explicit(&c->runs, 1, memory_order_release);
}

static int add_callback(pbh_actor *a, pbh_rec *r)
{
    if (r->ncb >= PBH_CALLBACKS_MAX)
        return 0;
    pbh_cb *c = &r->cbs[r->ncb++];
    int rc = pb_future_add_done_callback(atomic_load(&r->f), on_done, c);
    if (rc) {
        r->ncb--;
        pbh__violation(a->run, a, PBH_CHECK_API,
                       "pb_future_add_done_callback on #%llx returned %s, expected 0",
                       (unsigned long long)r->id, code_name(rc));
    }
    return rc;
}

/* Waits (up to the patience) for every callback of r to have run, then
 * checks each ran exactly once, in the order added. */
static void check_callbacks(pbh_actor *a, pbh_rec *r)
{
    pbh_run *run = a->run;
    int64_t deadline = pb_now_ns() + run->o.patience;
    for (int i = 0; i < r->ncb; i++) {
        while (atomic_load_explicit(&r->cbs[i].runs, memory_order_acquire) == 0 &&
               pb_now_ns() < deadline)
            sleep_ns(50 * US);
        uint32_t runs = atomic_load_explicit(&r->cbs[i].runs, memory_order_acquire);
        if (runs != 1)
            pbh__violation(run, a, PBH_CHECK_CALLBACKS,
                           "callback %d of future #%llx (%s) ran %u times, expected once", i + 1,
                           (unsigned long long)r->id, inner_text(r->inner), runs);
        a->counts.callbacks += runs;
    }
    for (int i = 1; i < r->ncb; i++)
        if (atomic_load(&r->cbs[i].seq) < atomic_load(&r->cbs[i - 1].seq))
            pbh__violation(run, a, PBH_CHECK_CALLBACKS,
                           "callbacks of future #%llx ran out of order: callback %d before %d",
                           (unsigned long long)r->id, i + 1, i);
    if (atomic_load(&r->cb_bad))
        pbh__violation(run, a, PBH_CHECK_CALLBACKS,
                       "a callback of future #%llx found it not done while running",
                       (unsigned long long)r->id);
}

/* ------------------------------------------------------------------------
 * Kills and charging failures to them
 * ------------------------------------------------------------------------ */

/* Adds key to the run's set of workers seen (open addressing; 0 is the
 * empty slot, and no worker has pid 0). Returns true if it was new. Call
 * with seen_mu held. */
static bool seen_add_locked(pbh_run *run, uint64_t key)
{
    if (2 * (run->nseen + 1) > run->capseen) {
        size_t cap = run->capseen ? 2 * run->capseen : 256;
        uint64_t *m = calloc(cap, sizeof *m);
        if (!m)
            return false;
        for (size_t i = 0; i < run->capseen; i++) {
            uint64_t k = run->seen_workers[i];
            if (!k)
                continue;
            size_t j = (size_t)((k * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
            while (m[j])
                j = (j + 1) & (cap - 1);
            m[j] = k;
        }
        free(run->seen_workers);
        run->seen_workers = m;
        run->capseen = cap;
    }
    size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (run->capseen - 1);
    while (run->seen_workers[j]) {
        if (run->seen_workers[j] == key)
            return false;
        j = (j + 1) & (run->capseen - 1);
    }
    run->seen_workers[j] = key;
    run->nseen++;
    return true;
}

void pbh__remember_worker(pbh_run *run, pid_t pid, pid_t tid)
{
    uint64_t key = ((uint64_t)(uint32_t)pid << 32) | (uint32_t)tid;
    pthread_mutex_lock(&run->seen_mu);
    bool fresh = seen_add_locked(run, key);
    pthread_mutex_unlock(&run->seen_mu);
    if (!fresh || run->in_process)
        return;
    pthread_mutex_lock(&run->pids_mu);
    /* A ring in the order workers were first seen: kills pick recent ones. */
    size_t cap = sizeof run->pids / sizeof run->pids[0];
    run->pids[run->pids_next++ % cap] = pid;
    if (run->npids < cap)
        run->npids++;
    pthread_mutex_unlock(&run->pids_mu);
}

/* The pid in "worker 4242 ..." of a process backend's message, or 0. */
static pid_t message_pid(const char *msg)
{
    const char *p = msg ? strstr(msg, "worker ") : NULL;
    if (!p)
        return 0;
    long v = strtol(p + 7, NULL, 10);
    return v > 0 ? (pid_t)v : 0;
}

/* Whether a PB_EBROKEN failure by SIGKILL is explained by one of our kills:
 * unit is the future's id (or the map's, with chunk = chunk index + 1),
 * ids[0..nids) the probe ids that may have recorded the worker's pid. A
 * kill explains one unit only; charging a second is itself a violation
 * (reported here; true is returned so the caller does not report it again). */
static bool explain_kill(pbh_actor *a, uint64_t unit, uint32_t chunk, const uint64_t *ids,
                         size_t nids, const pb_error *e, int64_t failed_at)
{
    pbh_run *run = a->run;
    if (!(run->faults & PBH_FAULT_KILL) || e->code != PB_EBROKEN || e->signal != SIGKILL)
        return false;
    pid_t pid = 0;
    for (size_t i = 0; i < nids && !pid; i++)
        pid = pbh__probe_pid(ids[i]);
    if (!pid)
        pid = message_pid(e->message);
    bool ok = false;
    pthread_mutex_lock(&run->kills_mu);
    pbh_kill *k = NULL;
    for (size_t i = run->nkills; i-- > 0;) {
        pbh_kill *c = &run->kills[i];
        if (c->withdrawn || c->at > failed_at)
            continue; /* never sent, or sent after the failure: not its cause */
        if (pid ? c->pid == pid : !c->claimed) {
            k = c;
            if (pid)
                break;
        }
    }
    if (k) {
        ok = true;
        a->counts.kill_failures++;
        if (!k->claimed) {
            k->claimed = true;
            k->unit = unit;
            k->chunk = chunk;
        } else if (k->unit != unit || k->chunk != chunk) {
            pthread_mutex_unlock(&run->kills_mu);
            pbh__violation(run, a, PBH_CHECK_FAILURES,
                           "one kill of worker %d failed two units of work: #%llx%s and #%llx%s "
                           "(a worker runs one task or chunk at a time)",
                           (int)k->pid, (unsigned long long)k->unit,
                           k->chunk ? " (a map chunk)" : "", (unsigned long long)unit,
                           chunk ? " (a map chunk)" : "");
            return true;
        }
    }
    pthread_mutex_unlock(&run->kills_mu);
    return ok;
}

/* ------------------------------------------------------------------------
 * Checking a done future
 * ------------------------------------------------------------------------ */

/* Whether a probe's successful result is right; says what is wrong in why. */
static bool result_ok(const pbh_rec *r, int inner, uint64_t id, uint64_t sum, const void *payload,
                      size_t plen, const void *data, size_t len, pbh_probe_result *pr, char *why,
                      size_t whylen)
{
    (void)r;
    if (len < sizeof *pr) {
        snprintf(why, whylen, "a result of %zu bytes, shorter than the probe's header", len);
        return false;
    }
    memcpy(pr, data, sizeof *pr);
    if (pr->magic != PBH_PROBE_MAGIC) {
        snprintf(why, whylen, "a result that is not a probe's (magic %08x)", pr->magic);
        return false;
    }
    if (pr->id != id) {
        snprintf(why, whylen, "the result of another task (#%llx)", (unsigned long long)pr->id);
        return false;
    }
    const uint8_t *body = (const uint8_t *)data + sizeof *pr;
    size_t blen = len - sizeof *pr;
    if (inner == PBH_INNER_CHECKSUM) {
        uint64_t got;
        if (blen != sizeof got) {
            snprintf(why, whylen, "a checksum of %zu bytes", blen);
            return false;
        }
        memcpy(&got, body, sizeof got);
        if (got != sum) {
            snprintf(why, whylen, "checksum %016llx, expected %016llx", (unsigned long long)got,
                     (unsigned long long)sum);
            return false;
        }
    } else if (inner == PBH_INNER_ECHO) {
        if (blen != plen || (plen && memcmp(body, payload, plen))) {
            snprintf(why, whylen, "an echo of %zu bytes that differs from the %zu sent", blen,
                     plen);
            return false;
        }
    } else {
        snprintf(why, whylen, "success, but the task was told to %s", inner_text(inner));
        return false;
    }
    return true;
}

/* Whether err is what an injected inner kind must produce. */
static bool fault_matches(int inner, const pb_error *e, int32_t fail_code)
{
    switch (inner) {
    case PBH_INNER_FAIL: {
        if (e->code != PB_ETASK || e->task_code != fail_code)
            return false;
        char msg[128];
        pb_workload_fail_message(fail_code, msg, sizeof msg);
        return e->message && !strcmp(e->message, msg);
    }
    case PBH_INNER_SEGV: return e->code == PB_EBROKEN && e->signal == SIGSEGV;
    case PBH_INNER_ABORT: return e->code == PB_EBROKEN && e->signal == SIGABRT;
    case PBH_INNER_EXIT:
        return e->code == PB_EBROKEN && e->signal == 0 &&
               e->exit_status == PB_WORKLOAD_EXIT_STATUS;
    case PBH_INNER_HANG: return e->code == PB_EKILLED;
    default: return false;
    }
}

static const char *expected_text(int inner, int32_t fail_code, char *buf, size_t size)
{
    switch (inner) {
    case PBH_INNER_CHECKSUM: return "success with the payload's checksum";
    case PBH_INNER_ECHO: return "success with the payload echoed";
    case PBH_INNER_FAIL:
        snprintf(buf, size, "PB_ETASK with task code %d", (int)fail_code);
        return buf;
    case PBH_INNER_SEGV: return "PB_EBROKEN by signal 11 (SIGSEGV)";
    case PBH_INNER_ABORT: return "PB_EBROKEN by signal 6 (SIGABRT)";
    case PBH_INNER_EXIT:
        snprintf(buf, size, "PB_EBROKEN with exit status %d", PB_WORKLOAD_EXIT_STATUS);
        return buf;
    case PBH_INNER_HANG: return "PB_EKILLED (past task_timeout)";
    }
    return "?";
}

static void describe_error(const pb_error *e, char *buf, size_t size)
{
    snprintf(buf, size, "%s (task code %d, signal %d, exit status %d, \"%s\")", code_name(e->code),
             e->task_code, e->signal, e->exit_status, e->message ? e->message : "");
}

/* What the probe with this id recorded, as the end of a failure's message:
 * where and when it ran, relative to when it was submitted. */
static void probe_story(uint64_t id, int64_t submitted, char *buf, size_t size)
{
    pid_t pid = 0;
    int64_t st = 0, en = 0;
    if (pbh__probe_record(id, &pid, &st, &en) != 0)
        snprintf(buf, size, "; the task never started");
    else if (!en)
        snprintf(buf, size, "; the task started in process %d %.1f ms after submission and did "
                            "not finish",
                 (int)pid, (st - submitted) / 1e6);
    else
        snprintf(buf, size, "; the task ran in process %d from %.1f to %.1f ms after submission",
                 (int)pid, (st - submitted) / 1e6, (en - submitted) / 1e6);
}

/* A task that is not a hang, killed for running past task_timeout: plain
 * tasks take at most a few milliseconds, so this is a violation — unless
 * the CPU was saturated during the time limit, when a worker may not have
 * run at all (see "CPU pressure" in stress-engine.c). */
static bool overdue_excused(pbh_actor *a, const pb_error *e, int64_t failed_at)
{
    pbh_run *run = a->run;
    if (e->code != PB_EKILLED || !run->task_timeout)
        return false;
    return pbh__timing_excused(a, failed_at - run->task_timeout, failed_at);
}

/* Counts and checks a done future's outcome. code is what
 * pb_future_result returned; data/len its result. */
static void check_outcome(pbh_actor *a, pbh_rec *r, int code, const void *data, size_t len)
{
    pbh_run *run = a->run;
    pb_future *f = atomic_load(&r->f);
    pb_error e;
    int er = pb_future_error(f, 0, &e);
    if (er != 0) {
        pbh__violation(run, a, PBH_CHECK_DONE,
                       "pb_future_error(0) on done future #%llx returned %s, expected 0",
                       (unsigned long long)r->id, code_name(er));
        return;
    }
    if (e.code != code)
        pbh__violation(run, a, PBH_CHECK_DONE,
                       "future #%llx: pb_future_result says %s but pb_future_error says %s",
                       (unsigned long long)r->id, code_name(code), code_name(e.code));
    pb_state st = pb_future_state(f);
    pb_state want = code == PB_ECANCELED ? PB_CANCELLED : PB_FINISHED;
    if (st != want || !pb_future_done(f) || pb_future_running(f) ||
        pb_future_cancelled(f) != (code == PB_ECANCELED))
        pbh__violation(run, a, PBH_CHECK_DONE, "future #%llx ended with %s but its state is %s",
                       (unsigned long long)r->id, code_name(code), state_name(st));
    if (r->seen && r->seen_code != code)
        pbh__violation(run, a, PBH_CHECK_DONE,
                       "future #%llx was seen done with %s, later with %s: done twice",
                       (unsigned long long)r->id, code_name(r->seen_code), code_name(code));
    pb_times t;
    if (pb_future_times(f, &t) == 0) {
        if (t.submitted <= 0 || t.completed < t.submitted)
            pbh__violation(run, a, PBH_CHECK_DONE,
                           "future #%llx: times submitted %lld, completed %lld are not in order",
                           (unsigned long long)r->id, (long long)t.submitted,
                           (long long)t.completed);
        if (code == PB_ECANCELED && t.started != 0)
            pbh__violation(run, a, PBH_CHECK_DONE,
                           "future #%llx was cancelled after it started running",
                           (unsigned long long)r->id);
    }

    char got[512], exp[64];
    describe_error(&e, got, sizeof got);
    if (code == PB_ECANCELED) {
        a->counts.cancelled++;
        if (!r->cancelled && !atomic_load(&run->cancel_begun))
            pbh__violation(run, a, PBH_CHECK_FAILURES,
                           "future #%llx (%s) was cancelled, but nobody cancelled it",
                           (unsigned long long)r->id, inner_text(r->inner));
        return;
    }
    if (r->cancelled)
        pbh__violation(run, a, PBH_CHECK_CANCEL,
                       "pb_future_cancel(#%llx) returned true, yet it finished with %s",
                       (unsigned long long)r->id, code_name(code));

    unsigned fault = inner_fault(r->inner);
    if (code == 0) {
        a->counts.ok++;
        pbh_probe_result pr;
        char why[160];
        if (!result_ok(r, r->inner, r->id, r->sum, r->payload, r->len, data, len, &pr, why,
                       sizeof why)) {
            pbh__violation(run, a,
                           r->inner <= PBH_INNER_ECHO ? PBH_CHECK_RESULT : PBH_CHECK_FAILURES,
                           "future #%llx (%s of %u bytes): expected %s, got %s",
                           (unsigned long long)r->id, inner_text(r->inner), r->len,
                           expected_text(r->inner, r->fail_code, exp, sizeof exp), why);
            return;
        }
        pbh__remember_worker(run, pr.pid, pr.tid);
        note_success(run, t.completed);
        return;
    }
    if (code == PB_ETASK)
        a->counts.task_failed++;
    else if (code == PB_EBROKEN)
        a->counts.broken++;
    else if (code == PB_EKILLED)
        a->counts.killed++;
    if (fault && fault_matches(r->inner, &e, r->fail_code)) {
        /* The fault happened as injected: counted, and survived if the
         * pool completes work after it. */
        a->counts.injected[fault_index(fault)]++;
        record_fault_done(a, t.completed);
        return;
    }
    if (explain_kill(a, r->id, 0, &r->id, 1, &e, t.completed ? t.completed : pb_now_ns()))
        return; /* the kill is the fault; it was counted when sent */
    if (overdue_excused(a, &e, t.completed ? t.completed : pb_now_ns()))
        return;
    pid_t pid = pbh__probe_pid(r->id);
    char story[160];
    probe_story(r->id, t.submitted, story, sizeof story);
    pbh__violation(run, a, PBH_CHECK_FAILURES, "future #%llx (%s): expected %s, got %s%s%s",
                   (unsigned long long)r->id, inner_text(r->inner),
                   expected_text(r->inner, r->fail_code, exp, sizeof exp), got,
                   e.code == PB_EBROKEN && e.signal == SIGKILL
                       ? (pid ? "; its worker was never killed by this run"
                              : "; no kill of this run explains it")
                       : "",
                   story);
}

/* Waits for r (up to the patience), checks everything about it, releases
 * it. The record leaves the live list (the caller removes it). */
static void retire(pbh_actor *a, pbh_rec *r)
{
    pbh_run *run = a->run;
    pb_future *f = atomic_load(&r->f);
    const void *data = NULL;
    size_t len = 0;
    int code = pb_future_result(f, run->o.patience, &data, &len);
    if (code == PB_ETIMEDOUT) {
        pbh__violation(run, a, PBH_CHECK_LOST,
                       "future #%llx (%s) is not done %.1f s after it was waited for (state %s): "
                       "its result was lost",
                       (unsigned long long)r->id, inner_text(r->inner), run->o.patience / 1e9,
                       state_name(pb_future_state(f)));
        r->live = false;
        r->lost = true;
        lost_add(a, r);
        pbh__op_progress(a);
        return;
    }
    if (code != 0 && code != PB_ETASK && code != PB_EBROKEN && code != PB_EKILLED &&
        code != PB_ECANCELED)
        pbh__violation(run, a, PBH_CHECK_API, "pb_future_result(#%llx) returned %s",
                       (unsigned long long)r->id, code_name(code));
    else
        check_outcome(a, r, code, data, len);
    check_callbacks(a, r);
    r->live = false;
    free(r->payload);
    r->payload = NULL;
    pb_future_release(f);
    pbh__op_progress(a);
}

/* ------------------------------------------------------------------------
 * Submitting
 * ------------------------------------------------------------------------ */

/* Draws a probe's kind among those the run injects. */
static pbh_inner draw_inner(pbh_actor *a, uint32_t fail, uint32_t crash, uint32_t hang)
{
    unsigned f = a->run->faults;
    uint64_t x = pbh__rng_below(&a->rng, 1000000);
    uint64_t edge = 0;
    if (x < (edge += (f & PBH_FAULT_FAIL) ? fail : 0))
        return PBH_INNER_FAIL;
    if (x < (edge += (f & PBH_FAULT_SEGV) ? crash : 0))
        return PBH_INNER_SEGV;
    if (x < (edge += (f & PBH_FAULT_ABORT) ? crash : 0))
        return PBH_INNER_ABORT;
    if (x < (edge += (f & PBH_FAULT_EXIT) ? crash : 0))
        return PBH_INNER_EXIT;
    if (x < (edge += (f & PBH_FAULT_HANG) ? hang : 0))
        return PBH_INNER_HANG;
    return (x & 7) < 3 ? PBH_INNER_ECHO : PBH_INNER_CHECKSUM;
}

typedef struct probe_plan {
    pbh_inner inner;
    uint32_t len;
    pbh_delay delay;
    int64_t delay_ns;
    int32_t fail_code;
    int ncb;
} probe_plan;

static void draw_plan(pbh_actor *a, probe_plan *p, bool quick)
{
    p->inner = draw_inner(a, a->run->rate_fail, a->run->rate_crash, a->run->rate_hang);
    uint64_t s = pbh__rng_below(&a->rng, 100);
    p->len = s < 70 ? (uint32_t)pbh__rng_below(&a->rng, 257)
           : s < 95 ? (uint32_t)pbh__rng_range(&a->rng, 257, 8192)
                    : (uint32_t)pbh__rng_range(&a->rng, 8193, 65536);
    uint64_t d = pbh__rng_below(&a->rng, 100);
    if (quick || d < 50) {
        p->delay = PBH_DELAY_NONE;
        p->delay_ns = 0;
    } else if (d < 80) {
        p->delay = PBH_DELAY_SLEEP;
        p->delay_ns = pbh__rng_range(&a->rng, 1 * US, 500 * US);
    } else if (d < 99) {
        p->delay = PBH_DELAY_SPIN;
        p->delay_ns = pbh__rng_range(&a->rng, 1 * US, 200 * US);
    } else {
        p->delay = PBH_DELAY_SLEEP;
        p->delay_ns = pbh__rng_range(&a->rng, 1 * MS, 5 * MS);
    }
    p->fail_code = (int32_t)pbh__rng_range(&a->rng, 1, 1000);
    p->ncb = pbh__rng_below(&a->rng, 100) < 40
                 ? (int)pbh__rng_range(&a->rng, 1, PBH_CALLBACKS_MAX)
                 : 0;
}

/* Submits one probe by plan; on success it is live in a's list. Returns 0,
 * PB_ESHUTDOWN (the run is ending), or another code (violation reported). */
static int submit_probe(pbh_actor *a, const probe_plan *p)
{
    pbh_run *run = a->run;
    pbh_rec *r = rec_alloc(a);
    uint64_t id = next_id(a);
    /* Payload bytes are drawn even if the submission then fails, so the
     * schedule does not depend on it. */
    uint8_t *payload = scratch(a, p->len ? p->len : 1);
    if (!payload || !r) {
        pbh__violation(run, a, PBH_CHECK_API, "out of memory in the harness");
        return PB_ENOMEM;
    }
    const void *inner_arg = payload;
    size_t inner_len = p->len;
    if (p->inner == PBH_INNER_FAIL) {
        inner_arg = &p->fail_code;
        inner_len = sizeof p->fail_code;
    }
    fill_random(&a->rng, payload, p->len);
    r->id = id;
    r->inner = (uint8_t)p->inner;
    r->len = p->len;
    r->fail_code = p->fail_code;
    if (p->inner == PBH_INNER_CHECKSUM)
        r->sum = pb_workload_checksum(payload, p->len);
    if (p->inner == PBH_INNER_ECHO) {
        r->payload = malloc(p->len ? p->len : 1);
        if (r->payload)
            memcpy(r->payload, payload, p->len);
    }
    size_t hdr = sizeof(pbh_probe_arg) + strlen(pbh__probe_table_path());
    uint8_t *arg = malloc(hdr + inner_len + 1);
    size_t alen = arg ? pbh__probe_build(arg, hdr + inner_len + 1, id, p->inner, p->delay,
                                         p->delay_ns, inner_arg, inner_len)
                      : 0;
    if (!alen) {
        free(arg);
        free(r->payload);
        r->payload = NULL;
        pbh__violation(run, a, PBH_CHECK_API, "out of memory in the harness");
        return PB_ENOMEM;
    }
    pb_future *f = NULL;
    int rc = pb_submit(run->pool, run->probe, arg, alen, &f);
    free(arg);
    if (rc) {
        free(r->payload);
        r->payload = NULL;
        if (rc == PB_ESHUTDOWN) {
            if (!atomic_load(&run->shutdown_begun))
                pbh__violation(run, a, PBH_CHECK_SHUTDOWN,
                               "pb_submit returned PB_ESHUTDOWN, but the pool was not shut down");
            return rc;
        }
        pbh__violation(run, a, PBH_CHECK_API, "pb_submit returned %s, expected 0", code_name(rc));
        return rc;
    }
    atomic_store(&r->f, f);
    r->live = true;
    a->live[a->nlive++] = r;
    a->counts.futures++;
    for (int i = 0; i < p->ncb; i++)
        add_callback(a, r);
    return 0;
}

/* Retires futures until at least room are free in the live list. The ones
 * retired are drawn, like everything else. */
static void make_room(pbh_actor *a, size_t room)
{
    while (a->nlive + room > PBH_LIVE_MAX) {
        size_t i = (size_t)pbh__rng_below(&a->rng, a->nlive);
        pbh_rec *r = a->live[i];
        live_remove(a, i);
        retire(a, r);
    }
}

static bool op_submit(pbh_actor *a)
{
    probe_plan p;
    draw_plan(a, &p, false);
    pbh_opdesc d = {.kind = PBH_OP_SUBMIT,
                    .op = a->op,
                    .id = ((uint64_t)a->index << 40) | (a->seq + 1),
                    .n = p.len,
                    .m = (uint32_t)p.ncb,
                    .when = (uint8_t)p.inner,
                    .timeout = p.delay_ns};
    pbh__op_begin(a, &d);
    make_room(a, 1);
    int rc = submit_probe(a, &p);
    pbh__op_end(a);
    return rc != PB_ESHUTDOWN;
}

/* Cancels one future held and checks what cancel says against its state:
 * true means it is CANCELLED and done, its callbacks have run and its result
 * is PB_ECANCELED; false means it had already started (RUNNING or FINISHED). */
static void cancel_and_check(pbh_actor *a, pbh_rec *r)
{
    pb_future *f = atomic_load(&r->f);
    bool ok = pb_future_cancel(f);
    pb_state st = pb_future_state(f);
    if (ok) {
        r->cancelled = true;
        if (st != PB_CANCELLED || !pb_future_done(f))
            pbh__violation(a->run, a, PBH_CHECK_CANCEL,
                           "pb_future_cancel(#%llx) returned true but the state is %s",
                           (unsigned long long)r->id, state_name(st));
        for (int c = 0; c < r->ncb; c++)
            if (atomic_load(&r->cbs[c].runs) != 1)
                pbh__violation(a->run, a, PBH_CHECK_CALLBACKS,
                               "pb_future_cancel(#%llx) returned before its callback %d ran",
                               (unsigned long long)r->id, c + 1);
        int code = pb_future_result(f, 0, NULL, NULL);
        if (code != PB_ECANCELED)
            pbh__violation(a->run, a, PBH_CHECK_CANCEL,
                           "future #%llx was cancelled but pb_future_result says %s",
                           (unsigned long long)r->id, code_name(code));
    } else if (st == PB_PENDING || st == PB_CANCELLED) {
        pbh__violation(a->run, a, PBH_CHECK_CANCEL,
                       "pb_future_cancel(#%llx) returned false but the state is %s",
                       (unsigned long long)r->id, state_name(st));
    }
}

/* A burst of quick tasks, then cancels of some of them: the later ones are
 * likely still pending, which is the case cancel is about. */
static bool op_burst_cancel(pbh_actor *a)
{
    uint32_t n = (uint32_t)pbh__rng_range(&a->rng, 4, 24);
    probe_plan plans[24];
    for (uint32_t i = 0; i < n; i++) {
        draw_plan(a, &plans[i], true);
        plans[i].delay = PBH_DELAY_SLEEP;
        plans[i].delay_ns = pbh__rng_range(&a->rng, 20 * US, 300 * US);
    }
    uint32_t ncancel = (uint32_t)pbh__rng_range(&a->rng, 1, n);
    uint32_t which[24];
    for (uint32_t i = 0; i < ncancel; i++) /* mostly the last ones: likely still pending */
        which[i] = n - 1 - (uint32_t)pbh__rng_below(&a->rng, n < 8 ? n : 8);
    pbh_opdesc d = {.kind = PBH_OP_BURST_CANCEL, .op = a->op,
                    .id = ((uint64_t)a->index << 40) | (a->seq + 1), .n = n, .m = ncancel};
    pbh__op_begin(a, &d);
    make_room(a, n);
    size_t first = a->nlive;
    uint32_t submitted = 0;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        if ((rc = submit_probe(a, &plans[i])) == 0)
            submitted++;
    for (uint32_t i = 0; i < ncancel; i++) {
        if (which[i] >= submitted)
            continue;
        pbh_rec *r = a->live[first + which[i]];
        cancel_and_check(a, r);
    }
    pbh__op_end(a);
    return rc != PB_ESHUTDOWN;
}

static void op_cancel(pbh_actor *a)
{
    if (!a->nlive) {
        pbh_opdesc d = {.kind = PBH_OP_CANCEL, .op = a->op};
        pbh__op_begin(a, &d);
        pbh__op_end(a);
        return;
    }
    pbh_rec *r = a->live[pbh__rng_below(&a->rng, a->nlive)];
    pbh_opdesc d = {.kind = PBH_OP_CANCEL, .op = a->op, .id = r->id, .n = 1};
    pbh__op_begin(a, &d);
    cancel_and_check(a, r);
    pbh__op_end(a);
}

/* Adds a callback to one of the futures held, pending or done. On a done
 * future it may run here and now, or — when the completing thread is still
 * running the earlier callbacks — there, after them (the order is kept);
 * either way it must run exactly once, in order, which retire checks. */
static void op_callback(pbh_actor *a)
{
    pbh_rec *r = a->nlive ? a->live[pbh__rng_below(&a->rng, a->nlive)] : NULL;
    pbh_opdesc d = {.kind = PBH_OP_CALLBACK, .op = a->op, .id = r ? r->id : 0, .n = r != NULL};
    pbh__op_begin(a, &d);
    if (r && r->ncb < PBH_CALLBACKS_MAX)
        add_callback(a, r);
    pbh__op_end(a);
}

/* ------------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------------ */

static int64_t draw_timeout(pbh_actor *a)
{
    uint64_t k = pbh__rng_below(&a->rng, 100);
    if (k < 25)
        return 0;
    if (k < 65)
        return pbh__rng_range(&a->rng, 1 * US, 2 * MS);
    if (k < 95)
        return pbh__rng_range(&a->rng, 2 * MS, 30 * MS);
    return a->run->o.patience;
}

static int64_t completed_at(pb_future *f)
{
    pb_times t;
    return pb_future_times(f, &t) == 0 ? t.completed : 0;
}

static void op_result(pbh_actor *a)
{
    pbh_run *run = a->run;
    pbh_rec *r = a->nlive ? a->live[pbh__rng_below(&a->rng, a->nlive)] : NULL;
    int64_t timeout = draw_timeout(a);
    if (timeout == run->o.patience)
        timeout = 20 * MS; /* a patient wait here is a retire's job */
    pbh_opdesc d = {.kind = PBH_OP_RESULT, .op = a->op, .id = r ? r->id : 0, .n = r != NULL,
                    .timeout = timeout};
    pbh__op_begin(a, &d);
    if (r) {
        pb_future *f = atomic_load(&r->f);
        const void *data = NULL;
        size_t len = 0;
        int64_t t0 = pb_now_ns();
        int code = pb_future_result(f, timeout, &data, &len);
        int64_t t1 = pb_now_ns();
        if (code == PB_ETIMEDOUT) {
            a->counts.timeouts_seen++;
            if (t1 - t0 < timeout)
                pbh__violation(run, a, PBH_CHECK_WAIT,
                               "pb_future_result(#%llx, %.3f ms) timed out after only %.3f ms",
                               (unsigned long long)r->id, timeout / 1e6, (t1 - t0) / 1e6);
            else if (t1 - t0 > late_limit(run, timeout) && !pbh__timing_excused(a, t0, t1))
                pbh__violation(run, a, PBH_CHECK_WAIT,
                               "pb_future_result(#%llx, %.3f ms) timed out only after %.3f ms",
                               (unsigned long long)r->id, timeout / 1e6, (t1 - t0) / 1e6);
        } else if (code == 0 || code == PB_ETASK || code == PB_EBROKEN || code == PB_EKILLED ||
                   code == PB_ECANCELED) {
            if (r->seen && r->seen_code != code)
                pbh__violation(run, a, PBH_CHECK_DONE,
                               "future #%llx was seen done with %s, now with %s",
                               (unsigned long long)r->id, code_name(r->seen_code), code_name(code));
            r->seen = true;
            r->seen_code = code;
            int64_t c = completed_at(f);
            if (c > t0 && t1 - c > run->o.tolerance && !pbh__timing_excused(a, c, t1))
                pbh__violation(run, a, PBH_CHECK_WAIT,
                               "pb_future_result(#%llx) returned %.3f ms after the future completed",
                               (unsigned long long)r->id, (t1 - c) / 1e6);
        } else {
            pbh__violation(run, a, PBH_CHECK_API, "pb_future_result(#%llx) returned %s",
                           (unsigned long long)r->id, code_name(code));
        }
    }
    pbh__op_end(a);
}

/* Draws a subset of the live futures (with repeats) into fs; returns its
 * size (0 when nothing is live). */
static size_t draw_subset(pbh_actor *a, pbh_rec **rs, size_t max)
{
    if (!a->nlive)
        return 0;
    size_t k = (size_t)pbh__rng_range(&a->rng, 1, (int64_t)(a->nlive < max ? a->nlive : max));
    for (size_t i = 0; i < k; i++)
        rs[i] = a->live[pbh__rng_below(&a->rng, a->nlive)];
    return k;
}

/* The futures of rs[0..k) into fs; returns how many distinct ones there are
 * (the subset may name a future more than once). */
static size_t subset_futures(pbh_rec **rs, size_t k, pb_future **fs)
{
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++) {
        fs[i] = atomic_load(&rs[i]->f);
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = fs[j] == fs[i];
        distinct += !dup;
    }
    return distinct;
}

static bool is_exception(pb_future *f)
{
    pb_error e;
    return pb_future_done(f) && pb_future_error(f, 0, &e) == 0 &&
           (e.code == PB_ETASK || e.code == PB_EBROKEN || e.code == PB_EKILLED);
}

static void op_wait(pbh_actor *a)
{
    pbh_run *run = a->run;
    pbh_rec *rs[16];
    size_t k = draw_subset(a, rs, 16);
    pb_return_when when = (pb_return_when)pbh__rng_below(&a->rng, 3);
    int64_t timeout = draw_timeout(a);
    pbh_opdesc d = {.kind = PBH_OP_WAIT, .op = a->op, .id = k ? rs[0]->id : 0, .n = (uint32_t)k,
                    .when = (uint8_t)when, .timeout = timeout};
    pbh__op_begin(a, &d);
    pb_future *fs[16];
    size_t distinct = subset_futures(rs, k, fs);
    int64_t t0 = pb_now_ns();
    int n = pb_wait(fs, k, when, timeout);
    int64_t t1 = pb_now_ns();
    if (k == 0) {
        if (n != 0)
            pbh__violation(run, a, PBH_CHECK_API, "pb_wait on no futures returned %d", n);
        pbh__op_end(a);
        return;
    }
    if (n < 0 || (size_t)n > distinct) {
        pbh__violation(run, a, PBH_CHECK_API,
                       "pb_wait(%s, %zu futures) returned %d (of %zu distinct)", when_names[when], k,
                       n, distinct);
        pbh__op_end(a);
        return;
    }
    /* What is done now is a superset of what was done at the return. */
    size_t done_now = 0;
    bool exception = false;
    int64_t first_c = INT64_MAX, last_c = 0, first_exc = INT64_MAX;
    for (size_t i = 0; i < k; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = fs[j] == fs[i];
        if (dup || !pb_future_done(fs[i]))
            continue;
        done_now++;
        int64_t c = completed_at(fs[i]);
        if (c < first_c)
            first_c = c;
        if (c > last_c)
            last_c = c;
        if (is_exception(fs[i])) {
            exception = true;
            if (c < first_exc)
                first_exc = c;
        }
    }
    if ((size_t)n > done_now)
        pbh__violation(run, a, PBH_CHECK_WAIT,
                       "pb_wait(%s) counted %d futures done, but only %zu are", when_names[when], n,
                       done_now);
    bool all = (size_t)n == distinct;
    bool satisfied = when == PB_ALL_COMPLETED     ? all
                     : when == PB_FIRST_COMPLETED ? n >= 1
                                                  : (all || (n >= 1 && exception));
    if (!satisfied) {
        a->counts.timeouts_seen++;
        if (t1 - t0 < timeout)
            pbh__violation(run, a, PBH_CHECK_WAIT,
                           "pb_wait(%s, %zu futures, %.3f ms) returned %d after only %.3f ms",
                           when_names[when], distinct, timeout / 1e6, n, (t1 - t0) / 1e6);
        else if (timeout == run->o.patience)
            pbh__violation(run, a, PBH_CHECK_LOST,
                           "pb_wait(%s, %zu futures) found only %d done after %.1f s",
                           when_names[when], distinct, n, timeout / 1e9);
        else if (t1 - t0 > late_limit(run, timeout) && !pbh__timing_excused(a, t0, t1))
            pbh__violation(run, a, PBH_CHECK_WAIT,
                           "pb_wait(%s, %.3f ms) timed out only after %.3f ms", when_names[when],
                           timeout / 1e6, (t1 - t0) / 1e6);
    } else {
        /* When did the condition become true? */
        int64_t c = when == PB_ALL_COMPLETED     ? last_c
                    : when == PB_FIRST_COMPLETED ? first_c
                    : exception                  ? first_exc
                                                 : last_c;
        if (c > t0 && c != INT64_MAX && t1 - c > run->o.tolerance &&
            !pbh__timing_excused(a, c, t1))
            pbh__violation(run, a, PBH_CHECK_WAIT,
                           "pb_wait(%s) returned %.3f ms after its condition was met",
                           when_names[when], (t1 - c) / 1e6);
    }
    pbh__op_end(a);
}

static void op_as_completed(pbh_actor *a)
{
    pbh_run *run = a->run;
    pbh_rec *rs[16];
    size_t k = draw_subset(a, rs, 16);
    int64_t timeout = draw_timeout(a);
    pbh_opdesc d = {.kind = PBH_OP_AS_COMPLETED, .op = a->op, .id = k ? rs[0]->id : 0,
                    .n = (uint32_t)k, .timeout = timeout};
    pbh__op_begin(a, &d);
    pb_future *fs[16];
    bool yielded[16] = {false};
    size_t distinct = subset_futures(rs, k, fs);
    int64_t t0 = pb_now_ns();
    pb_as_completed *it = NULL;
    int rc = pb_as_completed_new(fs, k, timeout, &it);
    if (rc) {
        pbh__violation(run, a, PBH_CHECK_API, "pb_as_completed_new returned %s", code_name(rc));
        pbh__op_end(a);
        return;
    }
    size_t got = 0;
    for (;;) {
        pb_future *f = NULL;
        rc = pb_as_completed_next(it, &f);
        int64_t t1 = pb_now_ns();
        if (rc == 0) {
            size_t i = 0;
            while (i < k && fs[i] != f)
                i++;
            if (i == k) {
                pbh__violation(run, a, PBH_CHECK_ITERATORS,
                               "as_completed yielded a future it was not given");
                break;
            }
            if (yielded[i])
                pbh__violation(run, a, PBH_CHECK_ITERATORS,
                               "as_completed yielded future #%llx twice",
                               (unsigned long long)rs[i]->id);
            yielded[i] = true;
            got++;
            if (!pb_future_done(f))
                pbh__violation(run, a, PBH_CHECK_ITERATORS,
                               "as_completed yielded future #%llx before it was done",
                               (unsigned long long)rs[i]->id);
            int64_t c = completed_at(f);
            if (c > t0 && t1 - c > run->o.tolerance && !pbh__timing_excused(a, c, t1))
                pbh__violation(run, a, PBH_CHECK_WAIT,
                               "as_completed yielded #%llx %.3f ms after it completed",
                               (unsigned long long)rs[i]->id, (t1 - c) / 1e6);
            continue;
        }
        if (rc == PB_EOF) {
            if (got != distinct)
                pbh__violation(run, a, PBH_CHECK_ITERATORS,
                               "as_completed ended after %zu of %zu distinct futures", got,
                               distinct);
            break;
        }
        if (rc == PB_ETIMEDOUT) {
            a->counts.timeouts_seen++;
            if (t1 - t0 < timeout)
                pbh__violation(run, a, PBH_CHECK_WAIT,
                               "as_completed (%.3f ms) timed out after only %.3f ms",
                               timeout / 1e6, (t1 - t0) / 1e6);
            else if (timeout == run->o.patience)
                pbh__violation(run, a, PBH_CHECK_LOST,
                               "as_completed yielded only %zu of %zu futures in %.1f s", got,
                               distinct, timeout / 1e9);
            else if (t1 - t0 > late_limit(run, timeout) && !pbh__timing_excused(a, t0, t1))
                pbh__violation(run, a, PBH_CHECK_WAIT,
                               "as_completed (%.3f ms) timed out only after %.3f ms",
                               timeout / 1e6, (t1 - t0) / 1e6);
            int again = pb_as_completed_next(it, &f);
            if (again != PB_ETIMEDOUT)
                pbh__violation(run, a, PBH_CHECK_ITERATORS,
                               "as_completed returned %s after it had timed out",
                               code_name(again));
            break;
        }
        pbh__violation(run, a, PBH_CHECK_API, "pb_as_completed_next returned %s", code_name(rc));
        break;
    }
    pb_as_completed_free(it);
    pbh__op_end(a);
}

static void op_retire(pbh_actor *a)
{
    size_t k = 0;
    if (a->nlive)
        k = pbh__rng_below(&a->rng, 10) == 0
                ? a->nlive
                : (size_t)pbh__rng_range(&a->rng, 1, a->nlive < 6 ? (int64_t)a->nlive : 6);
    pbh_opdesc d = {.kind = PBH_OP_RETIRE, .op = a->op, .n = (uint32_t)k};
    size_t picks[PBH_LIVE_MAX];
    for (size_t i = 0; i < k; i++)
        picks[i] = (size_t)pbh__rng_below(&a->rng, a->nlive - i);
    d.id = k ? a->live[picks[0]]->id : 0;
    pbh__op_begin(a, &d);
    for (size_t i = 0; i < k; i++) {
        pbh_rec *r = a->live[picks[i]];
        live_remove(a, picks[i]);
        retire(a, r);
    }
    pbh__op_end(a);
}

/* ------------------------------------------------------------------------
 * Kills
 * ------------------------------------------------------------------------ */

/* The k-th most recently started worker pid still on record (0: none). */
static pid_t recent_pid(pbh_run *run, uint64_t k)
{
    size_t cap = sizeof run->pids / sizeof run->pids[0];
    pid_t pid = 0;
    pthread_mutex_lock(&run->pids_mu);
    size_t n = run->npids, lim = (size_t)(run->workers > 0 ? run->workers : 1);
    if (n) {
        size_t want = (size_t)(k % (n < lim ? n : lim));
        for (size_t i = 0, seen = 0; i < n && !pid; i++) {
            size_t slot = (run->pids_next + cap - 1 - i) % cap;
            if (run->pids[slot] && seen++ == want) {
                pid = run->pids[slot];
                run->pids[slot] = 0; /* it will be gone either way */
            }
        }
    }
    pthread_mutex_unlock(&run->pids_mu);
    return pid;
}

/* Kills a worker with SIGKILL, from outside, as a user's OOM killer would.
 * Half the time the victim is a worker caught running a probe submitted for
 * the purpose (found through the pid the probe records as it starts), so
 * the kill surely lands on a busy worker and must fail exactly that probe;
 * otherwise it is the most recently started worker, busy or idle. */
static void op_kill(pbh_actor *a)
{
    pbh_run *run = a->run;
    bool targeted = pbh__rng_below(&a->rng, 2) == 0;
    uint64_t pick = pbh__rng_next(&a->rng);
    probe_plan victim;
    draw_plan(a, &victim, true);
    victim.inner = PBH_INNER_CHECKSUM;
    victim.delay = PBH_DELAY_SLEEP;
    victim.delay_ns = pbh__rng_range(&a->rng, 2 * MS, 10 * MS);
    pbh_opdesc d = {.kind = PBH_OP_KILL, .op = a->op, .n = targeted,
                    .id = targeted ? ((uint64_t)a->index << 40) | (a->seq + 1) : 0};
    pbh__op_begin(a, &d);
    make_room(a, 1);
    pid_t pid = 0;
    if (targeted) {
        uint64_t id = ((uint64_t)a->index << 40) | (a->seq + 1);
        if (submit_probe(a, &victim) == 0) {
            int64_t until = pb_now_ns() + 200 * MS;
            while (!(pid = pbh__probe_pid(id)) && pb_now_ns() < until)
                sleep_ns(100 * US);
        }
    }
    if (!pid)
        pid = recent_pid(run, pick);
    /* The kill is on record before the signal goes: the failure it causes
     * can be completed, and seen by another thread's retire, before
     * kill returns. If the signal cannot be sent, the entry is withdrawn. */
    size_t slot = SIZE_MAX;
    if (pid && pid != run->self) {
        pthread_mutex_lock(&run->kills_mu);
        if (run->nkills == run->capkills) {
            size_t cap = run->capkills ? 2 * run->capkills : 64;
            pbh_kill *m = realloc(run->kills, cap * sizeof *m);
            if (m) {
                run->kills = m;
                run->capkills = cap;
            }
        }
        if (run->nkills < run->capkills) {
            slot = run->nkills++;
            run->kills[slot] = (pbh_kill){.pid = pid, .sig = SIGKILL, .at = pb_now_ns(),
                                          .actor = a->index, .op = a->op};
        }
        pthread_mutex_unlock(&run->kills_mu);
    }
    int rc = slot != SIZE_MAX ? pbh__kill_child(pid, SIGKILL) : -ESRCH;
    if (rc == 0) {
        a->counts.injected[fault_index(PBH_FAULT_KILL)]++;
    } else if (slot != SIZE_MAX) {
        pthread_mutex_lock(&run->kills_mu);
        run->kills[slot].withdrawn = true;
        pthread_mutex_unlock(&run->kills_mu);
    }
    if (rc == 0) {
    } else {
        a->counts.kills_missed++;
        if (rc == -EPERM) {
            static _Atomic bool told;
            if (!atomic_exchange(&told, true))
                pbh__note(run, "worker %d is not a child of this process: it cannot be killed "
                               "safely, so that kill was skipped", (int)pid);
        }
    }
    pbh__op_end(a);
}

/* ------------------------------------------------------------------------
 * map
 * ------------------------------------------------------------------------ */

typedef struct map_item {
    uint64_t id;
    uint64_t sum;
    int32_t fail_code;
    uint8_t inner;
} map_item;

static bool op_map(pbh_actor *a)
{
    pbh_run *run = a->run;
    size_t n = pbh__rng_below(&a->rng, 5) == 0 ? (size_t)pbh__rng_range(&a->rng, 1, 256)
                                                : (size_t)pbh__rng_range(&a->rng, 1, 64);
    size_t cs =
        pbh__rng_below(&a->rng, 3) == 0 ? 1 : (size_t)pbh__rng_range(&a->rng, 1, (int64_t)n);
    int64_t timeout = pbh__rng_below(&a->rng, 100) < 15 ? pbh__rng_range(&a->rng, 1 * MS, 20 * MS)
                                                         : run->o.patience;
    size_t stop = pbh__rng_below(&a->rng, 100) < 15 ? (size_t)pbh__rng_below(&a->rng, n + 1) : n;
    size_t hdr = sizeof(pbh_probe_arg) + strlen(pbh__probe_table_path());
    map_item *items = malloc(n * sizeof *items);
    pb_bytes *args = malloc(n * sizeof *args);
    uint8_t *space = malloc(n * (hdr + 128 + 8));
    uint64_t map_id = ((uint64_t)a->index << 40) | (a->seq + 1);
    if (!items || !args || !space) {
        free(items);
        free(args);
        free(space);
        pbh__violation(run, a, PBH_CHECK_API, "out of memory in the harness");
        return true;
    }
    uint8_t *p = space;
    uint8_t payload[128];
    for (size_t i = 0; i < n; i++) {
        map_item *it = &items[i];
        it->id = next_id(a);
        it->inner =
            (uint8_t)draw_inner(a, run->map_rate_fail, run->map_rate_crash, run->map_rate_hang);
        if (it->inner == PBH_INNER_ECHO)
            it->inner = PBH_INNER_CHECKSUM;
        size_t len = (size_t)pbh__rng_below(&a->rng, sizeof payload + 1);
        fill_random(&a->rng, payload, len);
        it->fail_code = (int32_t)pbh__rng_range(&a->rng, 1, 1000);
        it->sum = pb_workload_checksum(payload, len);
        const void *inner_arg =
            it->inner == PBH_INNER_FAIL ? (const void *)&it->fail_code : payload;
        size_t inner_len = it->inner == PBH_INNER_FAIL ? sizeof it->fail_code : len;
        size_t alen = pbh__probe_build(p, hdr + 128 + 8, it->id, (pbh_inner)it->inner,
                                       PBH_DELAY_NONE, 0, inner_arg, inner_len);
        args[i].data = p;
        args[i].len = alen;
        p += alen;
    }
    pbh_opdesc d = {.kind = PBH_OP_MAP, .op = a->op, .id = map_id, .n = (uint32_t)n,
                    .m = (uint32_t)cs, .timeout = timeout};
    pbh__op_begin(a, &d);
    int64_t t0 = pb_now_ns();
    pb_map *m = NULL;
    int rc = pb_map_new(run->pool, run->probe, args, n, cs, timeout, &m);
    free(args);
    free(space);
    if (rc) {
        free(items);
        if (rc == PB_ESHUTDOWN) {
            if (!atomic_load(&run->shutdown_begun))
                pbh__violation(run, a, PBH_CHECK_SHUTDOWN,
                               "pb_map_new returned PB_ESHUTDOWN, but the pool was not shut down");
        } else {
            pbh__violation(run, a, PBH_CHECK_API, "pb_map_new returned %s", code_name(rc));
        }
        pbh__op_end(a);
        return rc != PB_ESHUTDOWN;
    }
    a->counts.maps++;
    a->counts.map_items += n;
    a->counts.futures += n;
    bool timed_out = false;
    for (size_t i = 0; i < stop; i++) {
        const void *data = NULL;
        size_t len = 0;
        pb_error e;
        memset(&e, 0, sizeof e);
        rc = pb_map_next(m, &data, &len, &e);
        map_item *it = &items[i];
        size_t chunk = i / cs, c0 = chunk * cs, c1 = c0 + cs < n ? c0 + cs : n;
        /* The first crash or hang of the chunk ends the chunk's worker. */
        size_t fpos = c1;
        for (size_t j = c0; j < c1 && fpos == c1; j++)
            if (inner_is_crash(items[j].inner) || items[j].inner == PBH_INNER_HANG)
                fpos = j;
        int fk = fpos < c1 ? items[fpos].inner : -1;
        if (rc == PB_ETIMEDOUT) {
            int64_t el = pb_now_ns() - t0;
            a->counts.timeouts_seen++;
            if (el < timeout)
                pbh__violation(run, a, PBH_CHECK_WAIT,
                               "pb_map_next timed out %.3f ms into a %.3f ms map", el / 1e6,
                               timeout / 1e6);
            else if (timeout == run->o.patience)
                pbh__violation(run, a, PBH_CHECK_LOST,
                               "map #%llx: item %zu of %zu not done after %.1f s",
                               (unsigned long long)map_id, i, n, timeout / 1e9);
            int again = pb_map_next(m, &data, &len, NULL);
            if (again != PB_ETIMEDOUT)
                pbh__violation(run, a, PBH_CHECK_ITERATORS,
                               "pb_map_next returned %s after the map had timed out",
                               code_name(again));
            timed_out = true;
            break;
        }
        if (rc == PB_EOF) {
            pbh__violation(run, a, PBH_CHECK_ITERATORS, "map #%llx ended after %zu of %zu items",
                           (unsigned long long)map_id, i, n);
            timed_out = true;
            break;
        }
        if (rc == PB_ECANCELED) {
            a->counts.cancelled++;
            if (!atomic_load(&run->cancel_begun))
                pbh__violation(run, a, PBH_CHECK_FAILURES,
                               "map #%llx item %zu was cancelled, but nobody cancelled it",
                               (unsigned long long)map_id, i);
            continue;
        }
        if (rc != 0 && rc != PB_ETASK && rc != PB_EBROKEN && rc != PB_EKILLED) {
            pbh__violation(run, a, PBH_CHECK_API, "pb_map_next returned %s", code_name(rc));
            break;
        }
        unsigned fault = inner_fault(it->inner);
        if (rc == 0) {
            a->counts.ok++;
            pbh_probe_result pr;
            char why[160], exp[64];
            if (!result_ok(NULL, it->inner, it->id, it->sum, NULL, 0, data, len, &pr, why,
                           sizeof why))
                pbh__violation(run, a, it->inner == PBH_INNER_CHECKSUM ? PBH_CHECK_RESULT
                                                                       : PBH_CHECK_FAILURES,
                               "map #%llx item %zu (chunk %zu of size %zu): expected %s, got %s",
                               (unsigned long long)map_id, i, chunk, cs,
                               expected_text(it->inner, it->fail_code, exp, sizeof exp), why);
            else {
                pbh__remember_worker(run, pr.pid, pr.tid);
                note_success(run, pb_now_ns());
            }
            continue;
        }
        if (rc == PB_ETASK)
            a->counts.task_failed++;
        else if (rc == PB_EBROKEN)
            a->counts.broken++;
        else
            a->counts.killed++;
        e.code = rc; /* the item's code, whatever err says */
        if (fault && fault_matches(it->inner, &e, it->fail_code)) {
            if (fault == PBH_FAULT_FAIL || i == fpos) {
                a->counts.injected[fault_index(fault)]++;
                record_fault_done(a, pb_now_ns());
            }
            continue;
        }
        if (fk >= 0 && fault_matches(fk, &e, 0))
            continue; /* its chunk's worker crashed or hung on an earlier item */
        uint64_t ids[256];
        size_t nids = 0;
        for (size_t j = c0; j < c1 && nids < 256; j++)
            ids[nids++] = items[j].id;
        if (explain_kill(a, map_id, (uint32_t)chunk + 1, ids, nids, &e, pb_now_ns()))
            continue;
        if (overdue_excused(a, &e, pb_now_ns()))
            continue;
        char got[512], exp[64], story[160];
        describe_error(&e, got, sizeof got);
        probe_story(it->id, t0, story, sizeof story);
        pbh__violation(run, a, PBH_CHECK_FAILURES,
                       "map #%llx item %zu (chunk %zu of size %zu, %s): expected %s, got %s%s",
                       (unsigned long long)map_id, i, chunk, cs, inner_text(it->inner),
                       expected_text(it->inner, it->fail_code, exp, sizeof exp), got, story);
    }
    if (!timed_out && stop == n) {
        int end = pb_map_next(m, NULL, NULL, NULL);
        if (end != PB_EOF)
            pbh__violation(run, a, PBH_CHECK_ITERATORS,
                           "map #%llx: after its %zu items pb_map_next returned %s, expected PB_EOF",
                           (unsigned long long)map_id, n, code_name(end));
    }
    pb_map_free(m);
    free(items);
    pbh__op_end(a);
    return true;
}

/* ------------------------------------------------------------------------
 * The submitter loop and the end
 * ------------------------------------------------------------------------ */

typedef struct weight {
    pbh_opkind kind;
    unsigned w;
} weight;

static const weight weights[] = {
    {PBH_OP_SUBMIT, 330}, {PBH_OP_BURST_CANCEL, 40}, {PBH_OP_RESULT, 110},
    {PBH_OP_WAIT, 80},    {PBH_OP_AS_COMPLETED, 60}, {PBH_OP_CANCEL, 50},
    {PBH_OP_CALLBACK, 40}, {PBH_OP_MAP, 40},         {PBH_OP_RETIRE, 230},
    {PBH_OP_KILL, 2},
};

static pbh_opkind draw_kind(pbh_actor *a)
{
    bool kills = a->run->faults & PBH_FAULT_KILL;
    unsigned total = 0;
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++)
        if (weights[i].kind != PBH_OP_KILL || kills)
            total += weights[i].w;
    uint64_t x = pbh__rng_below(&a->rng, total);
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++) {
        if (weights[i].kind == PBH_OP_KILL && !kills)
            continue;
        if (x < weights[i].w)
            return weights[i].kind;
        x -= weights[i].w;
    }
    return PBH_OP_RETIRE;
}

/* One operation; false once the pool was found shut down. */
static bool one_op(pbh_actor *a)
{
    switch (draw_kind(a)) {
    case PBH_OP_SUBMIT: return op_submit(a);
    case PBH_OP_BURST_CANCEL: return op_burst_cancel(a);
    case PBH_OP_RESULT: op_result(a); return true;
    case PBH_OP_WAIT: op_wait(a); return true;
    case PBH_OP_AS_COMPLETED: op_as_completed(a); return true;
    case PBH_OP_CANCEL: op_cancel(a); return true;
    case PBH_OP_CALLBACK: op_callback(a); return true;
    case PBH_OP_MAP: return op_map(a);
    case PBH_OP_KILL: op_kill(a); return true;
    default: op_retire(a); return true;
    }
}

void pbh__drain(pbh_actor *a)
{
    pbh_opdesc d = {.kind = PBH_OP_DRAIN, .op = a->op, .n = (uint32_t)a->nlive,
                    .id = a->nlive ? a->live[0]->id : 0};
    pbh__op_begin(a, &d);
    while (a->nlive) {
        pbh_rec *r = a->live[a->nlive - 1];
        a->nlive--;
        retire(a, r);
    }
    pbh__op_end(a);
}

void *pbh__submitter_main(void *arg)
{
    pbh_actor *a = arg;
    pbh_run *run = a->run;
    while (!atomic_load(&run->stopping)) {
        if (run->o.ops && a->op >= run->o.ops)
            break;
        if (!one_op(a))
            break;
    }
    pbh__drain(a);
    __atomic_store_n(&a->finished, true, __ATOMIC_RELEASE);
    return NULL;
}

void pbh__op_health(pbh_actor *a)
{
    pbh_run *run = a->run;
    size_t n = (size_t)(2 * run->workers + 2);
    if (n > PBH_LIVE_MAX)
        n = PBH_LIVE_MAX;
    pbh_opdesc d = {.kind = PBH_OP_HEALTH, .op = a->op, .n = (uint32_t)n,
                    .id = ((uint64_t)a->index << 40) | (a->seq + 1)};
    pbh__op_begin(a, &d);
    uint64_t ok_before = a->counts.ok;
    for (size_t i = 0; i < n; i++) {
        probe_plan p = {.inner = PBH_INNER_CHECKSUM, .len = 64, .delay = PBH_DELAY_NONE};
        if (submit_probe(a, &p))
            break;
    }
    while (a->nlive) {
        pbh_rec *r = a->live[--a->nlive];
        retire(a, r);
    }
    if (a->counts.ok == ok_before)
        pbh__violation(run, a, PBH_CHECK_FAILURES,
                       "after the faults the pool completed none of %zu plain tasks", n);
    pbh__op_end(a);
}

void pbh__op_tail(pbh_actor *a, size_t n)
{
    if (n > PBH_LIVE_MAX)
        n = PBH_LIVE_MAX;
    pbh_opdesc d = {.kind = PBH_OP_TAIL, .op = a->op, .n = (uint32_t)n,
                    .id = ((uint64_t)a->index << 40) | (a->seq + 1)};
    pbh__op_begin(a, &d);
    for (size_t i = 0; i < n; i++) {
        probe_plan p;
        draw_plan(a, &p, true);
        p.delay = PBH_DELAY_SLEEP;
        p.delay_ns = pbh__rng_range(&a->rng, 100 * US, 2 * MS);
        if (submit_probe(a, &p))
            break;
    }
    pbh__op_end(a);
}

void pbh__actor_final(pbh_actor *a)
{
    pbh_run *run = a->run;
    /* Futures still live (the main thread's tail) are done after destroy. */
    while (a->nlive) {
        pbh_rec *r = a->live[--a->nlive];
        pb_future *f = atomic_load(&r->f);
        if (!pb_future_done(f)) {
            pbh__violation(run, a, PBH_CHECK_DONE,
                           "future #%llx (%s) is not done after pb_pool_destroy (state %s)",
                           (unsigned long long)r->id, inner_text(r->inner),
                           state_name(pb_future_state(f)));
            r->live = false;
            pb_future_release(f);
            continue;
        }
        retire(a, r);
    }
    for (size_t i = 0; i < a->nlost; i++) {
        pbh_rec *r = a->lost[i];
        pb_future *f = atomic_load(&r->f);
        if (!pb_future_done(f))
            pbh__violation(run, a, PBH_CHECK_DONE,
                           "lost future #%llx (%s) is still not done after pb_pool_destroy "
                           "(state %s)",
                           (unsigned long long)r->id, inner_text(r->inner),
                           state_name(pb_future_state(f)));
        r->lost = false;
        free(r->payload);
        r->payload = NULL;
        pb_future_release(f);
    }
    a->nlost = 0;
}
