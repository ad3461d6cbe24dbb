/*
 * expect.c — what a probe must produce, and the judgement of an outcome.
 *
 * WHAT IS EXPECTED OF A PROBE
 *
 * Every probe knows what it was told to do, so its outcome is predicted
 * exactly: a checksum or echo probe succeeds with its own id, pid and the
 * right bytes; a fail probe fails with PB_ETASK, its code and the workload's
 * message; a crash probe fails with PB_EBROKEN and its signal (SIGSEGV,
 * SIGABRT) or exit status; a hang probe fails with PB_EKILLED. The same
 * rules hold for a future and for an item of a map. Four things may
 * legitimately change that:
 *   - our own pb_future_cancel returned true: PB_ECANCELED, and nothing else;
 *   - shutdown with cancel_futures has begun: a pending future may end
 *     PB_ECANCELED;
 *   - an earlier item of the same map chunk crashed or hung: the chunk's
 *     worker is gone, and the items after it fail the same way;
 *   - a worker was SIGKILLed from outside by a KILL operation: the one unit
 *     of work it was running (a future, or one chunk of a map) may fail with
 *     PB_EBROKEN, signal SIGKILL, charged to that kill (workers.c).
 * Anything else is a violation of only_injected_failures (or of
 * right_results, for a plain probe whose result is wrong). A plain task
 * killed for running past task_timeout is excused only when the CPU was
 * saturated during that time limit (pressure.c).
 *
 * WAITS
 *
 * A timed wait that times out must not return before its timeout, nor later
 * than timeout * 1.5 + tolerance. One that returns because futures completed
 * must return within the tolerance of the completion it waited for (the
 * future's `completed` time), which catches wake-ups lost until a timeout.
 * "Until done" waits are bounded by the patience: a future not done by then
 * is lost (no_lost_result). Lateness is excused while the CPU was saturated.
 */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "workloads.h"

void pbs__tally_free(pbs_tally *t)
{
    free(t->fault_done);
    t->fault_done = NULL;
    t->nfault_done = t->capfault_done = 0;
}

const char *pbs__code_name(int code)
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

const char *pbs__state_name(pb_state s)
{
    switch (s) {
    case PB_PENDING: return "PENDING";
    case PB_RUNNING: return "RUNNING";
    case PB_CANCELLED: return "CANCELLED";
    case PB_FINISHED: return "FINISHED";
    }
    return "?";
}

/* ------------------------------------------------------------------------
 * The rules
 * ------------------------------------------------------------------------ */

/* Whether a probe's successful result is what x was told to produce; says
 * what is wrong in why. */
static bool result_ok(const pbs_expect *x, const void *data, size_t len, pbs_probe_result *pr,
                      char *why, size_t whylen)
{
    if (len < sizeof *pr) {
        snprintf(why, whylen, "a result of %zu bytes, shorter than the probe's header", len);
        return false;
    }
    memcpy(pr, data, sizeof *pr);
    if (pr->magic != PBS_PROBE_MAGIC) {
        snprintf(why, whylen, "a result that is not a probe's (magic %08x)", pr->magic);
        return false;
    }
    if (pr->id != x->id) {
        snprintf(why, whylen, "the result of another task (#%llx)", (unsigned long long)pr->id);
        return false;
    }
    const uint8_t *body = (const uint8_t *)data + sizeof *pr;
    size_t blen = len - sizeof *pr;
    if (x->inner == PBS_INNER_CHECKSUM) {
        uint64_t got;
        if (blen != sizeof got) {
            snprintf(why, whylen, "a checksum of %zu bytes", blen);
            return false;
        }
        memcpy(&got, body, sizeof got);
        if (got != x->sum) {
            snprintf(why, whylen, "checksum %016llx, expected %016llx", (unsigned long long)got,
                     (unsigned long long)x->sum);
            return false;
        }
    } else if (x->inner == PBS_INNER_ECHO) {
        if (blen != x->len || (x->len && memcmp(body, x->payload, x->len))) {
            snprintf(why, whylen, "an echo of %zu bytes that differs from the %u sent", blen,
                     x->len);
            return false;
        }
    } else {
        snprintf(why, whylen, "success, but the task was told to %s", pbs__inner_text(x->inner));
        return false;
    }
    return true;
}

/* Whether e is what an injected inner kind must produce. */
static bool fault_matches(int inner, const pb_error *e, int32_t fail_code)
{
    switch (inner) {
    case PBS_INNER_FAIL: {
        if (e->code != PB_ETASK || e->task_code != fail_code)
            return false;
        char msg[128];
        pb_workload_fail_message(fail_code, msg, sizeof msg);
        return e->message && !strcmp(e->message, msg);
    }
    case PBS_INNER_SEGV: return e->code == PB_EBROKEN && e->signal == SIGSEGV;
    case PBS_INNER_ABORT: return e->code == PB_EBROKEN && e->signal == SIGABRT;
    case PBS_INNER_EXIT:
        return e->code == PB_EBROKEN && e->signal == 0 &&
               e->exit_status == PB_WORKLOAD_EXIT_STATUS;
    case PBS_INNER_HANG: return e->code == PB_EKILLED;
    default: return false;
    }
}

static const char *expected_text(int inner, int32_t fail_code, char *buf, size_t size)
{
    switch (inner) {
    case PBS_INNER_CHECKSUM: return "success with the payload's checksum";
    case PBS_INNER_ECHO: return "success with the payload echoed";
    case PBS_INNER_FAIL:
        snprintf(buf, size, "PB_ETASK with task code %d", (int)fail_code);
        return buf;
    case PBS_INNER_SEGV: return "PB_EBROKEN by signal 11 (SIGSEGV)";
    case PBS_INNER_ABORT: return "PB_EBROKEN by signal 6 (SIGABRT)";
    case PBS_INNER_EXIT:
        snprintf(buf, size, "PB_EBROKEN with exit status %d", PB_WORKLOAD_EXIT_STATUS);
        return buf;
    case PBS_INNER_HANG: return "PB_EKILLED (past task_timeout)";
    }
    return "?";
}

static void describe_error(const pb_error *e, char *buf, size_t size)
{
    snprintf(buf, size, "%s (task code %d, signal %d, exit status %d, \"%s\")",
             pbs__code_name(e->code), e->task_code, e->signal, e->exit_status,
             e->message ? e->message : "");
}

/* What the probe with this id recorded, as the end of a failure's message:
 * where and when it ran, relative to when it was submitted. */
static void probe_story(uint64_t id, int64_t submitted, char *buf, size_t size)
{
    pid_t pid = 0;
    int64_t st = 0, en = 0;
    if (pbs__probe_record(id, &pid, &st, &en) != 0)
        snprintf(buf, size, "; the task never started");
    else if (!en)
        snprintf(buf, size, "; the task started in process %d %.1f ms after submission and did "
                            "not finish",
                 (int)pid, (st - submitted) / 1e6);
    else
        snprintf(buf, size, "; the task ran in process %d from %.1f to %.1f ms after submission",
                 (int)pid, (st - submitted) / 1e6, (en - submitted) / 1e6);
}

/* The worker that ran the unit: the first probe of it that recorded its
 * pid, else the pid in "worker 4242 ..." of a process backend's message;
 * 0 when neither says. */
static pid_t unit_pid(const pbs_unit *u, const pb_error *e)
{
    pid_t pid = 0;
    for (size_t i = 0; i < u->nids && !pid; i++)
        pid = pbs__probe_pid(u->ids[i]);
    const char *p = pid || !e->message ? NULL : strstr(e->message, "worker ");
    if (p) {
        long v = strtol(p + 7, NULL, 10);
        pid = v > 0 ? (pid_t)v : 0;
    }
    return pid;
}

/* Whether a PB_EBROKEN failure by SIGKILL is explained by one of our kills.
 * A kill explains one unit only; charging a second is itself a violation
 * (reported here; true is returned so the caller does not report it again). */
static bool explain_kill(pbs_world *w, pbs_tally *t, const pbs_unit *u, pid_t pid,
                         const pb_error *e, int64_t failed_at)
{
    if (!(w->faults & PBS_FAULT_KILL) || e->code != PB_EBROKEN || e->signal != SIGKILL)
        return false;
    pbs_kill other;
    pbs_kill_charge c = pbs__kills_charge(&w->workers, pid, failed_at, u->id, u->chunk, &other);
    if (c == PBS_KILL_NONE)
        return false;
    t->counts.kill_failures++;
    if (c == PBS_KILL_TWICE)
        pbs__violation(&w->journal, t->log, PBS_CHECK_FAILURES,
                       "one kill of worker %d failed two units of work: #%llx%s and #%llx%s "
                       "(a worker runs one task or chunk at a time)",
                       (int)other.pid, (unsigned long long)other.unit,
                       other.chunk ? " (a map chunk)" : "", (unsigned long long)u->id,
                       u->chunk ? " (a map chunk)" : "");
    return true;
}

/* Whether a timing check over [t0, t1] that failed is not to be judged
 * because the CPU was saturated then (contended at least half the time);
 * counts it if so. */
static bool timing_excused(pbs_world *w, pbs_tally *t, int64_t t0, int64_t t1)
{
    if (pbs__pressure_share(&w->pressure, t0, t1) < 0.5)
        return false;
    t->counts.timing_excused++;
    return true;
}

/* A task that is not a hang, killed for running past task_timeout: plain
 * tasks take at most a few milliseconds, so this is a violation — unless
 * the CPU was saturated during the time limit, when a worker may not have
 * run at all. */
static bool overdue_excused(pbs_world *w, pbs_tally *t, const pb_error *e, int64_t failed_at)
{
    if (e->code != PB_EKILLED || !w->task_timeout)
        return false;
    return timing_excused(w, t, failed_at - w->task_timeout, failed_at);
}

static void record_fault_done(pbs_tally *t, int64_t when)
{
    if (t->nfault_done == t->capfault_done) {
        size_t cap = t->capfault_done ? 2 * t->capfault_done : 64;
        int64_t *m = realloc(t->fault_done, cap * sizeof *m);
        if (!m)
            return; /* counted as not survived: the report errs on the safe side */
        t->fault_done = m;
        t->capfault_done = cap;
    }
    t->fault_done[t->nfault_done++] = when;
}

static void note_success(pbs_world *w, int64_t completed)
{
    int64_t cur = atomic_load(&w->last_success);
    while (completed > cur && !atomic_compare_exchange_weak(&w->last_success, &cur, completed))
        ;
}

/* ------------------------------------------------------------------------
 * Judgements
 * ------------------------------------------------------------------------ */

static void judge_success(pbs_world *w, pbs_tally *t, const pbs_expect *x, const char *what,
                          const void *data, size_t len, int64_t completed)
{
    t->counts.ok++;
    pbs_probe_result pr;
    char why[160], exp[64];
    if (!result_ok(x, data, len, &pr, why, sizeof why)) {
        pbs__violation(&w->journal, t->log,
                       x->inner <= PBS_INNER_ECHO ? PBS_CHECK_RESULT : PBS_CHECK_FAILURES,
                       "%s: expected %s, got %s", what,
                       expected_text(x->inner, x->fail_code, exp, sizeof exp), why);
        return;
    }
    pbs__workers_remember(&w->workers, pr.pid, pr.tid);
    note_success(w, completed);
}

void pbs__judge(pbs_world *w, pbs_tally *t, const pbs_expect *x, const pbs_unit *u,
                const char *what, int code, const pb_error *err, const void *data, size_t len,
                int64_t submitted, int64_t completed)
{
    /* Only outcomes come here: the callers refuse any other code first. */
    assert(code == 0 || code == PB_ETASK || code == PB_EBROKEN || code == PB_EKILLED ||
           code == PB_ECANCELED);
    pb_error e = *err;
    e.code = code; /* the outcome is the code; err tells the details */
    if (code == PB_ECANCELED) {
        t->counts.cancelled++;
        if (!x->cancelled && !atomic_load(&w->cancel_begun))
            pbs__violation(&w->journal, t->log, PBS_CHECK_FAILURES,
                           "%s was cancelled, but nobody cancelled it", what);
        return;
    }
    if (x->cancelled)
        pbs__violation(&w->journal, t->log, PBS_CHECK_CANCEL,
                       "pb_future_cancel(#%llx) returned true, yet it finished with %s",
                       (unsigned long long)x->id, pbs__code_name(code));
    if (code == 0) {
        judge_success(w, t, x, what, data, len, completed);
        return;
    }
    if (code == PB_ETASK)
        t->counts.task_failed++;
    else if (code == PB_EBROKEN)
        t->counts.broken++;
    else if (code == PB_EKILLED)
        t->counts.killed++;

    /* The fault happened as injected: counted once per unit it ended, and
     * survived if the pool completes work after it. */
    unsigned fault = pbs__inner_fault(x->inner);
    if (fault && fault_matches(x->inner, &e, x->fail_code)) {
        if (fault == PBS_FAULT_FAIL || u->first_cause) {
            t->counts.injected[__builtin_ctz(fault)]++;
            record_fault_done(t, completed);
        }
        return;
    }
    if (u->cause >= 0 && fault_matches(u->cause, &e, 0))
        return; /* its chunk's worker crashed or hung on an earlier item */
    pid_t pid = unit_pid(u, &e);
    if (explain_kill(w, t, u, pid, &e, completed))
        return; /* the kill is the fault; it was counted when sent */
    if (overdue_excused(w, t, &e, completed))
        return;
    char got[512], exp[64], story[160];
    describe_error(&e, got, sizeof got);
    probe_story(x->id, submitted, story, sizeof story);
    pbs__violation(&w->journal, t->log, PBS_CHECK_FAILURES, "%s: expected %s, got %s%s%s", what,
                   expected_text(x->inner, x->fail_code, exp, sizeof exp), got,
                   e.code == PB_EBROKEN && e.signal == SIGKILL
                       ? (pid ? "; its worker was never killed by this run"
                              : "; no kill of this run explains it")
                       : "",
                   story);
}

bool pbs__judge_done_future(pbs_world *w, pbs_tally *t, uint64_t id, pb_future *f, int code,
                            bool seen, int seen_code, pb_error *err, pb_times *times)
{
    pbs_journal *j = &w->journal;
    unsigned long long idl = (unsigned long long)id;
    int er = pb_future_error(f, 0, err);
    if (er != 0) {
        pbs__violation(j, t->log, PBS_CHECK_DONE,
                       "pb_future_error(0) on done future #%llx returned %s, expected 0", idl,
                       pbs__code_name(er));
        return false;
    }
    if (err->code != code)
        pbs__violation(j, t->log, PBS_CHECK_DONE,
                       "future #%llx: pb_future_result says %s but pb_future_error says %s", idl,
                       pbs__code_name(code), pbs__code_name(err->code));
    pb_state st = pb_future_state(f);
    pb_state want = code == PB_ECANCELED ? PB_CANCELLED : PB_FINISHED;
    if (st != want || !pb_future_done(f) || pb_future_running(f) ||
        pb_future_cancelled(f) != (code == PB_ECANCELED))
        pbs__violation(j, t->log, PBS_CHECK_DONE, "future #%llx ended with %s but its state is %s",
                       idl, pbs__code_name(code), pbs__state_name(st));
    if (seen && seen_code != code)
        pbs__violation(j, t->log, PBS_CHECK_DONE,
                       "future #%llx was seen done with %s, later with %s: done twice", idl,
                       pbs__code_name(seen_code), pbs__code_name(code));
    memset(times, 0, sizeof *times);
    if (pb_future_times(f, times) == 0) {
        if (times->submitted <= 0 || times->completed < times->submitted)
            pbs__violation(j, t->log, PBS_CHECK_DONE,
                           "future #%llx: times submitted %lld, completed %lld are not in order",
                           idl, (long long)times->submitted, (long long)times->completed);
        if (code == PB_ECANCELED && times->started != 0)
            pbs__violation(j, t->log, PBS_CHECK_DONE,
                           "future #%llx was cancelled after it started running", idl);
    }
    return true;
}

void pbs__judge_timed_out(pbs_world *w, pbs_tally *t, const char *what, const char *lost,
                          int64_t timeout, int64_t t0, int64_t t1)
{
    t->counts.timeouts_seen++;
    int64_t took = t1 - t0;
    if (took < timeout)
        pbs__violation(&w->journal, t->log, PBS_CHECK_WAIT, "%s timed out after only %.3f ms",
                       what, took / 1e6);
    else if (lost && timeout == w->o.patience)
        pbs__violation(&w->journal, t->log, PBS_CHECK_LOST, "%s after %.1f s", lost,
                       timeout / 1e9);
    else if (took > timeout + timeout / 2 + w->o.tolerance && !timing_excused(w, t, t0, t1))
        pbs__violation(&w->journal, t->log, PBS_CHECK_WAIT, "%s timed out only after %.3f ms",
                       what, took / 1e6);
}

void pbs__judge_wakeup(pbs_world *w, pbs_tally *t, const char *what, const char *after,
                       int64_t met, int64_t t0, int64_t t1)
{
    if (met > t0 && met != INT64_MAX && t1 - met > w->o.tolerance &&
        !timing_excused(w, t, met, t1))
        pbs__violation(&w->journal, t->log, PBS_CHECK_WAIT, "%s %.3f ms after %s", what,
                       (t1 - met) / 1e6, after);
}
