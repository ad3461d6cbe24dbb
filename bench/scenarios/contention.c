/*
 * contention.c — S submitter threads sharing one pool.
 *
 * `tasks` no-ops in all, split evenly over S threads; each thread submits
 * its share as fast as it can (timing each submit), then collects its
 * results. All start together when a gate opens; the time runs from the
 * gate opening to after the last thread is joined.
 *   throughput  tasks / time (tasks/s), one value per repetition;
 *   submit      each pb_submit call (ns), from every thread: what a
 *               producer pays when others submit at the same time.
 */
#include <pthread.h>
#include <stdio.h>

#include "common.h"

/* All submitters start together when the gate opens. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
} gate;

typedef struct worker_arg {
    pb_pool *pool;
    gate *start;
    size_t n;
    pb_future **fs;
    int64_t *dt;
    size_t submitted;
    pbs_outcomes outcomes;
    int rc;
} worker_arg;

static void *submitter(void *p)
{
    worker_arg *a = p;
    const pb_task *noop = pb_workload("noop");
    pthread_mutex_lock(&a->start->lock);
    while (!a->start->open)
        pthread_cond_wait(&a->start->cond, &a->start->lock);
    pthread_mutex_unlock(&a->start->lock);
    for (size_t i = 0; i < a->n; i++) {
        int64_t t0 = pb_now_ns();
        a->rc = pb_submit(a->pool, noop, NULL, 0, &a->fs[i]);
        a->dt[i] = pb_now_ns() - t0;
        if (a->rc)
            break;
        a->submitted++;
    }
    for (size_t i = 0; i < a->submitted; i++)
        pbs_tally(&a->outcomes, pb_future_result(a->fs[i], PB_FOREVER, NULL, NULL));
    return NULL;
}

/* A thread per submitter: a few hundred are contention; many thousands are
 * a machine out of threads. */
#define SUBMITTERS_MAX 1024

static int check(const pb_scenario *sc, const pb_param_value *v, char *err, size_t errlen)
{
    if (pb_param_num(sc, v, "submitters") > SUBMITTERS_MAX) {
        snprintf(err, errlen, "parameter submitters (%lld) must be at most %d (one thread each)",
                 (long long)pb_param_num(sc, v, "submitters"), SUBMITTERS_MAX);
        return PB_EINVAL;
    }
    return pb_param_not_above(sc, v, "submitters", "tasks", err, errlen);
}

static int run(pb_sc *sc)
{
    pb_pool *pool = pbs_pool(sc);
    if (!pool)
        return PB_EINVAL;
    size_t s = (size_t)pb_sc_num(sc, "submitters");
    size_t total = (size_t)pb_sc_num(sc, "tasks"); /* >= s: check() */
    size_t per = total / s;
    int rc = pbs_warm(sc, pool, 20);
    if (rc)
        return rc;
    worker_arg *args = pbs_calloc(sc, s, sizeof *args);
    pthread_t *threads = pbs_calloc(sc, s, sizeof *threads);
    if (!args || !threads) {
        free(args);
        free(threads);
        return PB_ENOMEM;
    }
    pb_samples *sub = pb_sc_metric(sc, "submit", "ns", PBR_LOWER, per * s);
    pb_samples *tp = pb_sc_metric(sc, "throughput", "tasks/s", PBR_HIGHER, 1);
    gate start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    size_t started = 0;
    for (size_t i = 0; i < s; i++) {
        args[i] = (worker_arg){.pool = pool, .start = &start, .n = per};
        args[i].fs = calloc(per, sizeof *args[i].fs);
        args[i].dt = calloc(per, sizeof *args[i].dt);
        if (!args[i].fs || !args[i].dt) {
            rc = pb_sc_fail(sc, PB_ENOMEM, "out of memory");
            break;
        }
    }
    for (size_t i = 0; i < s && !rc; i++) {
        int e = pthread_create(&threads[i], NULL, submitter, &args[i]);
        if (e) {
            rc = pb_sc_fail(sc, -e, "cannot start submitter thread %zu: %s", i, pb_strerror(-e));
            break;
        }
        started++;
    }
    /* Give the threads a moment to reach the gate, so the clock starts
     * with every submitter ready rather than with thread creation. */
    pbs_nap(2000000);
    int64_t t0 = pb_now_ns();
    pthread_mutex_lock(&start.lock);
    start.open = true;
    pthread_cond_broadcast(&start.cond);
    pthread_mutex_unlock(&start.lock);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    int64_t t1 = pb_now_ns();

    size_t done = 0;
    pbs_outcomes o = {0};
    int sub_rc = 0;
    for (size_t i = 0; i < s; i++) {
        for (size_t j = 0; j < args[i].submitted; j++)
            pb_samples_add(sub, (double)args[i].dt[j]);
        done += args[i].submitted;
        pbs_tally_merge(&o, &args[i].outcomes);
        sub_rc = args[i].rc ? args[i].rc : sub_rc;
        pbs_release_all(args[i].fs, args[i].submitted);
        free(args[i].fs);
        free(args[i].dt);
    }
    free(args);
    free(threads);
    if (rc)
        return rc;
    if (sub_rc)
        return pb_sc_fail(sc, sub_rc, "pb_submit failed in a submitter thread: %s", pb_strerror(sub_rc));
    if (t1 > t0)
        pb_samples_add(tp, (double)done * 1e9 / (double)(t1 - t0));
    pbs_check_completed(sc, &o);
    return 0;
}

static const pb_param params[] = {
    {"submitters", PB_PARAM_COUNT, "1,2,4", "threads submitting to the pool at once", 1, NULL},
    {"tasks", PB_PARAM_COUNT, "20000", "tasks in all, split over the submitters", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_contention = {
    .name = "contention",
    .summary = "S submitter threads sharing one pool: tasks/s and the cost of each submit",
    .headline = "throughput",
    .params = params,
    .run = run,
    .kept = "tasks",
    .check = check,
};
