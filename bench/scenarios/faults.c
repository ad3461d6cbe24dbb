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
 * succeeded. A crashing F that the pool killed for running past
 * task_timeout before it got to crash (a loaded machine can hold a worker
 * off the CPU that long) also failed alone, as the pool promises: it is
 * counted in the check's evidence, not as a failure, so the check fails
 * only on unambiguous evidence (a wrong code or cause, or P failing).
 *
 * Needs workers in other processes (a crashing task would take poolbench
 * down with a thread pool) and task_timeout: a backend that cannot honour it
 * answers PB_ENOTSUP and the case is skipped with its reason.
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
    opts.task_timeout = pb_sc_num(sc, "task_timeout");
    pb_pool *pool;
    int rc = pb_sc_pool_create(sc, &opts, &pool);
    if (rc)
        return pb_sc_outcome(rc);
    pb_samples *det = pb_sc_metric(sc, "detection", "ns", PBR_LOWER, n);
    pb_samples *rec = pb_sc_metric(sc, "recovery", "ns", PBR_LOWER, n);
    bool hang = !strcmp(fault, "hang");
    const pb_task *bad = pb_workload(hang ? "hang" : "crash");
    const pb_task *noop = pb_workload("noop");
    int expect = hang ? PB_EKILLED : PB_EBROKEN;
    int expect_signal = !strcmp(fault, "segv") ? SIGSEGV : !strcmp(fault, "abort") ? SIGABRT : 0;
    int expect_status = !strcmp(fault, "exit") ? PB_WORKLOAD_EXIT_STATUS : 0;

    size_t wrong = 0, killed_first = 0;
    char first_wrong[256] = "";
    if ((rc = pbs_warm(sc, pool, 3)))
        goto out;
    for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
        pb_future *f, *p;
        if ((rc = pbs_submit(sc, pool, bad, fault, hang ? 0 : strlen(fault), &f)))
            break;
        if ((rc = pbs_submit(sc, pool, noop, NULL, 0, &p))) {
            pb_future_release(f);
            break;
        }
        int rf = pb_future_result(f, PB_FOREVER, NULL, NULL);
        int rp = pb_future_result(p, PB_FOREVER, NULL, NULL);
        pb_error e;
        pb_future_error(f, PB_FOREVER, &e);
        bool ok = rf == expect && rp == 0;
        if (ok && !hang)
            ok = expect_signal ? e.signal == expect_signal : e.exit_status == expect_status;
        if (!ok && !hang && rf == PB_EKILLED && rp == 0) {
            killed_first++;
            ok = true;
        }
        if (!ok && !wrong++)
            snprintf(first_wrong, sizeof first_wrong,
                     "faulty task got %s (signal %d, exit status %d: %s), next task got %s",
                     pb_strerror(rf), e.signal, e.exit_status, e.message ? e.message : "",
                     pb_strerror(rp));
        pb_times tf, tp;
        pb_future_times(f, &tf);
        pb_future_times(p, &tp);
        if (tf.started && tf.completed)
            pb_samples_add(det, (double)(tf.completed - tf.started));
        if (tf.completed && tp.completed)
            pb_samples_add(rec, (double)(tp.completed - tf.completed));
        pb_future_release(f);
        pb_future_release(p);
    }
    if (!rc) {
        char how[32];
        snprintf(how, sizeof how, "exit status %d", expect_status);
        pb_sc_check(sc, "exactly_one_failed", wrong == 0,
                    "%zu of %zu faults not contained as expected (%s with %s; %zu killed by "
                    "task_timeout before they crashed, accepted)%s%s",
                    wrong, n, pb_strerror(expect),
                    hang ? "task_timeout" : expect_signal ? "the signal" : how, killed_first,
                    wrong ? "; first: " : "", first_wrong);
        /* The replacement worker must be bound like the one it replaced. */
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
    .needs = "workers in other processes, and task_timeout",
    .run = run,
};
