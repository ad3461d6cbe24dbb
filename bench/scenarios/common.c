/*
 * common.c — helpers shared by the scenario files. See common.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common.h"

int pbs_submit(pb_sc *sc, pb_pool *pool, const pb_task *task, const void *arg, size_t len,
               pb_future **out)
{
    int rc = pb_submit(pool, task, arg, len, out);
    if (rc) {
        *out = NULL;
        if (rc == PB_ENOTSUP) /* a task this backend cannot run (a Python pool: no twin) */
            return pb_sc_skip(sc, "%s", pb_pool_last_error());
        return pb_sc_fail(sc, rc, "pb_submit(%s) failed: %s", pb_task_name(task), pb_strerror(rc));
    }
    return 0;
}

int pbs_result(pb_sc *sc, pb_future *f, const void **data, size_t *len)
{
    int rc = pb_future_result(f, PB_FOREVER, data, len);
    if (rc) {
        pb_error e;
        const char *why = pb_future_error(f, 0, &e) == 0 ? e.message : "";
        return pb_sc_fail(sc, rc, "a task failed: %s%s%s", pb_strerror(rc),
                          *why ? ": " : "", why);
    }
    return 0;
}

int pbs_warm(pb_sc *sc, pb_pool *pool, int n)
{
    const pb_task *noop = pb_workload("noop");
    for (int i = 0; i < n; i++) {
        pb_future *f;
        int rc = pbs_submit(sc, pool, noop, NULL, 0, &f);
        if (rc)
            return rc;
        rc = pbs_result(sc, f, NULL, NULL);
        pb_future_release(f);
        if (rc)
            return rc;
    }
    return 0;
}

pb_pool *pbs_pool(pb_sc *sc)
{
    pb_pool *p = pb_sc_pool(sc);
    if (!p)
        pb_sc_fail(sc, PB_EINVAL, "internal error: no pool for this scenario");
    return p;
}

void *pbs_calloc(pb_sc *sc, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        pb_sc_fail(sc, PB_ENOMEM, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void pbs_release_all(pb_future **fs, size_t n)
{
    for (size_t i = 0; fs && i < n; i++)
        pb_future_release(fs[i]);
}

void pbs_nap(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    nanosleep(&ts, NULL);
}

void pbs_tally_merge(pbs_outcomes *a, const pbs_outcomes *b)
{
    if (b->failed && !a->failed)
        a->first = b->first;
    a->total += b->total;
    a->failed += b->failed;
}

void pbs_check_completed(pb_sc *sc, const pbs_outcomes *o)
{
    pb_sc_check(sc, "completed", o->failed == 0, "%zu of %zu tasks failed (first: %s)", o->failed,
                o->total, pb_strerror(o->first));
}

int pbs_hold_workers(pb_sc *sc, pb_pool *pool, int64_t hold, pb_future **fs, size_t *k)
{
    const pb_task *sleep_task = pb_workload("sleep");
    size_t first = *k, workers = (size_t)pb_pool_workers(pool);
    for (size_t i = 0; i < workers; i++) {
        int rc = pbs_submit(sc, pool, sleep_task, &hold, sizeof hold, &fs[*k]);
        if (rc)
            return rc;
        ++*k;
    }
    int64_t deadline = pb_now_ns() + 10000000000LL;
    for (size_t i = first; i < *k && !pb_sc_stopping(sc); i++)
        while (pb_future_state(fs[i]) == PB_PENDING && !pb_sc_stopping(sc))
            if (pb_now_ns() > deadline)
                return pb_sc_fail(sc, PB_ETIMEDOUT,
                                  "%zu of %zu workers had not started a task after 10 s",
                                  *k - i, workers);
            else
                pbs_nap(20000);
    return 0;
}

int pbs_burst(pb_sc *sc, pb_pool *pool, size_t n, int64_t g, pb_future **fs, int64_t *elapsed)
{
    const pb_task *task = pb_workload(g ? "spin" : "noop");
    const void *arg = g ? &g : NULL;
    size_t len = g ? sizeof g : 0;
    int rc = 0;
    size_t k = 0;
    pbs_outcomes o = {0};
    int64_t t0 = pb_now_ns();
    for (; k < n; k++) {
        rc = pb_submit(pool, task, arg, len, &fs[k]);
        if (rc)
            break;
    }
    for (size_t i = 0; i < k; i++)
        pbs_tally(&o, pb_future_result(fs[i], PB_FOREVER, NULL, NULL));
    int64_t t1 = pb_now_ns();
    pbs_release_all(fs, k);
    *elapsed = t1 - t0;
    if (rc)
        return pb_sc_fail(sc, rc, "pb_submit failed after %zu tasks: %s", k, pb_strerror(rc));
    pbs_check_completed(sc, &o);
    return 0;
}

size_t pbs_burst_size(int64_t tasks, int64_t work, int workers, int64_t g)
{
    if (g <= 0)
        return (size_t)tasks;
    int64_t fill = work / g * (workers > 0 ? workers : 1);
    if (fill < 1)
        fill = 1;
    return (size_t)(fill < tasks ? fill : tasks);
}

double pbs_metg_point(size_t n, int64_t g, int workers, int64_t elapsed, double *best)
{
    if (elapsed <= 0 || n == 0 || workers <= 0)
        return 0;
    double eff = (double)n * (double)g / workers / (double)elapsed;
    double effective = (double)elapsed * workers / (double)n;
    if (eff >= 0.5 && (*best < 0 || effective < *best))
        *best = effective;
    return eff;
}

void pbs_metg_record(pb_sc *sc, size_t n, int64_t g, int workers, int64_t elapsed, double *best)
{
    if (elapsed <= 0)
        return;
    double eff = pbs_metg_point(n, g, workers, elapsed, best);
    char name[64];
    snprintf(name, sizeof name, "efficiency_g%lld", (long long)g);
    pb_samples_add(pb_sc_metric(sc, name, "ratio", PBR_HIGHER, 1), eff);
    snprintf(name, sizeof name, "throughput_g%lld", (long long)g);
    pb_samples_add(pb_sc_metric(sc, name, "tasks/s", PBR_HIGHER, 1),
                   (double)n * 1e9 / (double)elapsed);
}
