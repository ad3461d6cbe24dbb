/*
 * faults.c — a worker crashes or hangs: how long until the pool works again.
 *
 * On a pool of one worker with `task_timeout`, a faulty task F is submitted
 * and right behind it a no-op P:
 *   segv, abort, exit  F kills its worker (SIGSEGV, SIGABRT, _exit(3));
 *   hang               F never returns; task_timeout must kill the worker.
 * The pool must fail F alone (PB_EBROKEN with the signal or exit status, or
 * PB_EKILLED), replace the worker, and run P. One worker makes P wait for
 * the replacement, so the recovery is measured rather than hidden by a
 * second, healthy worker.
 *   detection  F's completion - F's start: how long the pool took to notice
 *              (for hang, about task_timeout);
 *   recovery   P's completion - F's completion: from the failure being
 *              reported to the pool's next result (the replacement worker's
 *              start-up and P's round trip).
 * Check exactly_one_failed: F failed with the expected code and cause, P
 * succeeded. A pool that breaks instead (Python's ProcessPoolExecutor fails
 * every pending future with BrokenProcessPool and refuses more work) fails
 * the check with its own error; one that never notices the crash (Python's
 * multiprocessing.Pool: F stays RUNNING forever, while a replacement worker
 * runs P) fails it when F is still not done a second after P's result came
 * (on one worker, F is reported before P can run). Either ends the
 * repetition: the pool is not fit for another fault.
 * A crashing F that the pool killed for running past task_timeout before it
 * got to crash (a loaded machine can hold a worker off the CPU that long)
 * also failed alone, as the pool promises: it is counted in the check's
 * evidence, not as a failure, so the check fails only on unambiguous
 * evidence (a wrong code or cause, or P failing).
 *
 * Needs workers in other processes (a crashing task would take poolbench
 * down with a thread pool), and task_timeout for hang: a backend that cannot
 * honour it answers PB_ENOTSUP and that case is skipped with its reason. The
 * crash faults set task_timeout too where the backend has it (a guard), and
 * run without it where it does not.
 */
#include <signal.h>
#include <stdio.h>

#include "common.h"

static int run(pb_sc *sc)
{
    const char *fault = pb_sc_word(sc, "fault");
    size_t n = (size_t)pb_sc_num(sc, "samples");
    pb_pool_opts opts;
    pb_sc_pool_opts(sc, &opts);
    opts.workers = 1;
    bool hang = !strcmp(fault, "hang");
    if (hang || !pb_backend_unsupported(pb_sc_backend(sc), "task_timeout"))
        opts.task_timeout = pb_sc_num(sc, "task_timeout");
    /* F is reported before P runs: once P is done, F has no reason to wait. */
    const int64_t grace = 1000000000;
    pb_pool *pool;
    int rc = pb_sc_pool_create(sc, &opts, &pool);
    if (rc)
        return pb_sc_outcome(rc);
    pb_samples *det = pb_sc_metric(sc, "detection", "ns", PBR_LOWER, n);
    pb_samples *rec = pb_sc_metric(sc, "recovery", "ns", PBR_LOWER, n);
    const pb_task *bad = pb_workload(hang ? "hang" : "crash");
    const pb_task *noop = pb_workload("noop");
    int expect = hang ? PB_EKILLED : PB_EBROKEN;
    int expect_signal = !strcmp(fault, "segv") ? SIGSEGV : !strcmp(fault, "abort") ? SIGABRT : 0;
    int expect_status = !strcmp(fault, "exit") ? PB_WORKLOAD_EXIT_STATUS : 0;

    size_t wrong = 0, tried = 0, killed_first = 0;
    char first_wrong[512] = "";
    if ((rc = pbs_warm(sc, pool, 3)))
        goto out;
    for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
        pb_future *f, *p = NULL;
        if ((rc = pbs_submit(sc, pool, bad, fault, hang ? 0 : strlen(fault), &f)))
            break;
        /* A pool the fault broke may refuse P already: that is the story. */
        int rs = pb_submit(pool, noop, NULL, 0, &p);
        if (rs && rs != PB_EBROKEN) {
            pb_future_release(f);
            rc = pb_sc_fail(sc, rs, "pb_submit(noop) failed: %s", pb_strerror(rs));
            break;
        }
        tried++;
        int rp = p ? pb_future_result(p, PB_FOREVER, NULL, NULL) : rs;
        int rf = pb_future_result(f, p ? grace : PB_FOREVER, NULL, NULL);
        pb_error e = {.message = ""};
        if (rf != PB_ETIMEDOUT)
            pb_future_error(f, 0, &e);
        bool ok = rf == expect && rp == 0;
        if (ok && !hang)
            ok = expect_signal ? e.signal == expect_signal : e.exit_status == expect_status;
        bool killed = !ok && !hang && rf == PB_EKILLED && rp == 0;
        if (killed) { /* contained, but no crash to time */
            killed_first++;
            ok = true;
        }
        if (!ok && !wrong++) {
            if (rf == PB_ETIMEDOUT)
                snprintf(first_wrong, sizeof first_wrong,
                         "faulty task still %s after the next one %s: the pool never noticed "
                         "its worker died",
                         pb_future_state(f) == PB_RUNNING ? "RUNNING" : "not done",
                         rp ? pb_strerror(rp) : "succeeded");
            else
                snprintf(first_wrong, sizeof first_wrong,
                         "faulty task got %s (signal %d, exit status %d: %s), next task %s %s",
                         pb_strerror(rf), e.signal, e.exit_status, e.message ? e.message : "",
                         p ? "got" : "refused at submit:", pb_strerror(rp));
        }
        pb_times tf, tp = {0};
        pb_future_times(f, &tf);
        if (p)
            pb_future_times(p, &tp);
        if (ok && !killed && tf.started && tf.completed) /* none in a broken pool */
            pb_samples_add(det, (double)(tf.completed - tf.started));
        if (ok && !killed && tf.completed && tp.completed)
            pb_samples_add(rec, (double)(tp.completed - tf.completed));
        pb_future_release(f);
        pb_future_release(p); /* NULL if it was refused */
        if (!ok)
            break; /* a broken pool, or one that lost a task: no second fault */
    }
    if (!rc) {
        char how[32];
        snprintf(how, sizeof how, "exit status %d", expect_status);
        pb_sc_check(sc, "exactly_one_failed", wrong == 0,
                    "%zu of %zu faults not contained as expected (%s with %s; %zu killed by "
                    "task_timeout before they crashed, accepted)%s%s",
                    wrong, tried, pb_strerror(expect),
                    hang ? "task_timeout" : expect_signal ? "the signal" : how, killed_first,
                    wrong ? "; first: " : "", first_wrong);
        /* The replacement worker must be bound like the one it replaced. */
        if (!wrong)
            rc = pb_sc_probe(sc, pool);
    }
out:
    pb_pool_destroy(pool);
    return rc;
}

static const char *const faults[] = {"segv", "abort", "exit", "hang", NULL};

static const pb_param params[] = {
    {"fault", PB_PARAM_WORD, "segv,abort,exit,hang", "how the worker fails", 0, faults},
    {"samples", PB_PARAM_COUNT, "5", "faults per repetition", 1, NULL},
    {"task_timeout", PB_PARAM_NS, "100ms", "the pool's task_timeout (ends a hang)", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_faults = {
    .name = "faults",
    .summary = "a worker crashes or hangs: time to detect it and until the next result",
    .headline = "recovery",
    .params = params,
    .flags = PB_SC_OWN_POOLS | PB_SC_NEEDS_PROCESS,
    .needs = "workers in other processes (and task_timeout for hang)",
    .run = run,
    .kept = "samples",
};
