/*
 * journal.c — what happened in a stress run: operations, violations, notes.
 * See journal.h.
 *
 * Printing violations: all are counted, the first max_printed are printed
 * in full, and after that only the first of each check, so a flood of one
 * kind (every item of a broken chunk) can neither drown the log nor hide
 * another kind.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <pb/pool.h>

#include "journal.h"
#include "probe.h"

#define MS (1000000LL)

static const char *const check_names[PBS_CHECK_COUNT] = {
    [PBS_CHECK_DONE] = "every_future_done",
    [PBS_CHECK_LOST] = "no_lost_result",
    [PBS_CHECK_RESULT] = "right_results",
    [PBS_CHECK_FAILURES] = "only_injected_failures",
    [PBS_CHECK_CALLBACKS] = "callbacks_once",
    [PBS_CHECK_CANCEL] = "cancel_only_pending",
    [PBS_CHECK_WAIT] = "waits_in_time",
    [PBS_CHECK_ITERATORS] = "iterators_complete",
    [PBS_CHECK_SHUTDOWN] = "shutdown_semantics",
    [PBS_CHECK_API] = "api_codes",
    [PBS_CHECK_THREADS] = "no_thread_left",
    [PBS_CHECK_CHILDREN] = "no_child_left",
    [PBS_CHECK_FDS] = "no_fd_left",
    [PBS_CHECK_MEMORY] = "memory_returned",
    [PBS_CHECK_HANG] = "no_hang",
};

const char *pbs__check_name(pbs_check c)
{
    return c < PBS_CHECK_COUNT ? check_names[c] : "?";
}

static const char *const op_names[PBS_OP_COUNT] = {
    [PBS_OP_SUBMIT] = "submit",     [PBS_OP_BURST_CANCEL] = "burst+cancel",
    [PBS_OP_RESULT] = "result",     [PBS_OP_WAIT] = "wait",
    [PBS_OP_AS_COMPLETED] = "as_completed", [PBS_OP_CANCEL] = "cancel",
    [PBS_OP_CALLBACK] = "add_callback", [PBS_OP_MAP] = "map",
    [PBS_OP_RETIRE] = "retire",     [PBS_OP_KILL] = "kill",
    [PBS_OP_HEALTH] = "health",     [PBS_OP_TAIL] = "tail",
    [PBS_OP_SHUTDOWN] = "shutdown", [PBS_OP_DESTROY] = "destroy",
    [PBS_OP_DRAIN] = "drain",       [PBS_OP_WARMUP] = "warm-up",
    [PBS_OP_CREATE] = "create",
};

const char *pbs__op_name(pbs_opkind k)
{
    return k < PBS_OP_COUNT ? op_names[k] : "?";
}

static void fmt_ns(int64_t ns, char *buf, size_t size)
{
    if (ns >= 1000 * MS)
        snprintf(buf, size, "%.1f s", ns / 1e9);
    else if (ns >= MS)
        snprintf(buf, size, "%.3g ms", ns / 1e6);
    else
        snprintf(buf, size, "%.3g us", ns / 1e3);
}

void pbs__op_format(const pbs_opdesc *d, char *buf, size_t size)
{
    static const char *const whens[] = {"FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"};
    char t[32];
    fmt_ns(d->timeout, t, sizeof t);
    unsigned long long id = (unsigned long long)d->id;
    switch ((pbs_opkind)d->kind) {
    case PBS_OP_SUBMIT:
        snprintf(buf, size, "submit #%llx: %s of %u bytes, delay %s, %u callbacks", id,
                 pbs__inner_text(d->when), d->n, t, d->m);
        break;
    case PBS_OP_BURST_CANCEL:
        snprintf(buf, size, "burst of %u from #%llx, then %u cancels", d->n, id, d->m);
        break;
    case PBS_OP_RESULT:
        snprintf(buf, size, "result of #%llx with timeout %s", id, t);
        break;
    case PBS_OP_WAIT:
        snprintf(buf, size, "wait %s on %u futures from #%llx, timeout %s",
                 d->when < 3 ? whens[d->when] : "?", d->n, id, t);
        break;
    case PBS_OP_AS_COMPLETED:
        snprintf(buf, size, "as_completed over %u futures from #%llx, timeout %s", d->n, id, t);
        break;
    case PBS_OP_CANCEL:
    case PBS_OP_CALLBACK:
        snprintf(buf, size, "%s #%llx", op_names[d->kind], id);
        break;
    case PBS_OP_MAP:
        snprintf(buf, size, "map #%llx of %u items in chunks of %u, timeout %s", id, d->n, d->m, t);
        break;
    case PBS_OP_RETIRE:
    case PBS_OP_DRAIN:
        snprintf(buf, size, "%s %u futures (first #%llx)", op_names[d->kind], d->n, id);
        break;
    case PBS_OP_KILL:
        if (d->n)
            snprintf(buf, size, "kill with SIGKILL the worker running #%llx", id);
        else
            snprintf(buf, size, "kill with SIGKILL the most recent worker");
        break;
    case PBS_OP_HEALTH:
    case PBS_OP_TAIL:
        snprintf(buf, size, "%s: %u tasks from #%llx", op_names[d->kind], d->n, id);
        break;
    case PBS_OP_SHUTDOWN:
        snprintf(buf, size, "pb_pool_shutdown(wait=%s, cancel_futures=%s)%s",
                 d->n ? "true" : "false", d->m ? "true" : "false",
                 d->when ? " racing the submitters" : "");
        break;
    case PBS_OP_DESTROY:
        snprintf(buf, size, "pb_pool_destroy");
        break;
    case PBS_OP_WARMUP:
        snprintf(buf, size, "warm-up: create a pool, run one task, destroy the pool");
        break;
    case PBS_OP_CREATE:
        snprintf(buf, size, "pb_pool_create");
        break;
    default:
        snprintf(buf, size, "?");
    }
}

void pbs__journal_init(pbs_journal *j, const pbs_stress_opts *o)
{
    memset(j, 0, sizeof *j);
    j->o = o;
    pthread_mutex_init(&j->mu, NULL);
}

void pbs__journal_destroy(pbs_journal *j)
{
    for (int i = 0; i < PBS_CHECK_COUNT; i++) {
        free(j->check_first[i]);
        j->check_first[i] = NULL;
    }
    pthread_mutex_destroy(&j->mu);
}

FILE *pbs__journal_out(const pbs_journal *j)
{
    return j->o->log ? j->o->log : stderr;
}

void pbs__op_begin(pbs_journal *j, pbs_oplog *l, const pbs_opdesc *d)
{
    /* Operations do not nest: each thread does one thing at a time. */
    assert(atomic_load_explicit(&l->op_started, memory_order_relaxed) == 0);
    l->cur = *d;
    l->cur.op = l->op;
    l->cur.started = pb_now_ns();
    uint64_t k = atomic_load_explicit(&l->nlog, memory_order_relaxed);
    l->log[k % PBS_LOG] = l->cur;
    atomic_store_explicit(&l->nlog, k + 1, memory_order_release);
    atomic_store_explicit(&l->op_started, l->cur.started, memory_order_release);
    if (d->kind < PBS_OP_COUNT)
        l->ops[d->kind]++;
    if (j->o->trace) {
        char what[256];
        pbs__op_format(&l->cur, what, sizeof what);
        j->o->trace(j->o->trace_ud, l->index, l->op, what);
    }
}

void pbs__op_progress(pbs_oplog *l)
{
    if (atomic_load_explicit(&l->op_started, memory_order_relaxed))
        atomic_store_explicit(&l->op_started, pb_now_ns(), memory_order_release);
}

void pbs__op_end(pbs_oplog *l)
{
    assert(atomic_load_explicit(&l->op_started, memory_order_relaxed) != 0);
    atomic_store_explicit(&l->op_started, 0, memory_order_release);
    l->op++;
}

/* Counts a violation of c with "where: msg" as the check's first message if
 * it has none; returns whether it may be printed. Call with j->mu held. */
static bool count_locked(pbs_journal *j, pbs_check c, const char *where, const char *msg)
{
    assert(c < PBS_CHECK_COUNT);
    j->violations++;
    j->check_fails[c]++;
    if (!j->check_first[c]) {
        size_t n = (where ? strlen(where) + 2 : 0) + strlen(msg) + 1;
        j->check_first[c] = malloc(n);
        if (j->check_first[c])
            snprintf(j->check_first[c], n, "%s%s%s", where ? where : "", where ? ": " : "", msg);
    }
    return j->violations <= (uint64_t)j->o->max_printed || j->check_fails[c] == 1;
}

void pbs__violation(pbs_journal *j, const pbs_oplog *l, pbs_check c, const char *fmt, ...)
{
    char msg[768], where[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (l && atomic_load(&l->op_started)) {
        char what[256];
        pbs__op_format(&l->cur, what, sizeof what);
        snprintf(where, sizeof where, "thread %d, operation %llu (%s)", l->index,
                 (unsigned long long)l->cur.op, what);
    } else if (l) {
        snprintf(where, sizeof where, "thread %d, after operation %llu", l->index,
                 (unsigned long long)l->op);
    } else {
        snprintf(where, sizeof where, "end of run");
    }
    FILE *out = pbs__journal_out(j);
    pthread_mutex_lock(&j->mu);
    if (count_locked(j, c, where, msg))
        fprintf(out, "poolbench stress: VIOLATION of %s [%s, seed %llu, %s]: %s\n",
                check_names[c], j->o->backend, (unsigned long long)j->o->seed, where, msg);
    if (j->violations == (uint64_t)j->o->max_printed + 1)
        fprintf(out, "poolbench stress: more violations; from here only the first of each "
                     "check is printed\n");
    fflush(out);
    pthread_mutex_unlock(&j->mu);
}

void pbs__violation_counted(pbs_journal *j, pbs_check c, const char *msg)
{
    pthread_mutex_lock(&j->mu);
    count_locked(j, c, NULL, msg);
    pthread_mutex_unlock(&j->mu);
}

void pbs__note(pbs_journal *j, const char *fmt, ...)
{
    if (j->o->quiet)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    FILE *out = pbs__journal_out(j);
    fprintf(out, "poolbench stress: %s: %s\n", j->o->backend, msg);
    fflush(out);
}

void pbs__journal_print_recent(FILE *out, pbs_oplog *const *logs, int n)
{
    for (int i = 0; i < n; i++) {
        pbs_oplog *l = logs[i];
        uint64_t nlog = atomic_load_explicit(&l->nlog, memory_order_acquire);
        if (!nlog)
            continue;
        fprintf(out, "  thread %d%s, its last operations:\n", l->index,
                l->index == 0 ? " (main)" : "");
        uint64_t from = nlog > PBS_LOG ? nlog - PBS_LOG : 0;
        int64_t busy = atomic_load(&l->op_started);
        for (uint64_t k = from; k < nlog; k++) {
            pbs_opdesc d = l->log[k % PBS_LOG];
            char what[256];
            pbs__op_format(&d, what, sizeof what);
            bool current = k == nlog - 1 && busy;
            fprintf(out, "    #%llu %s%s\n", (unsigned long long)d.op, what,
                    current ? "   <- in progress" : "");
        }
    }
}
