/*
 * case_options.c — pool options: workers (0 = the allowed PUs), pinning and
 * the binding reported, the initializer (runs first in each worker; a failing
 * one breaks the pool instead of hanging it), max_tasks_per_worker (workers
 * replaced) and task_timeout (honoured or refused, never ignored).
 */
#include "conformance.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static pbc_whoami whoami_result(pb_future *f)
{
    const void *data = NULL;
    size_t len = 0;
    int rc = pb_future_result(f, PB_FOREVER, &data, &len);
    if (rc != 0) {
        pb_error err = {0};
        pb_future_error(f, 0, &err);
        FAIL("conf_whoami: %d (%s): %s", rc, pb_strerror(rc), err.message);
    }
    CHECK_INT(len, ==, sizeof(pbc_whoami));
    pbc_whoami w;
    memcpy(&w, data, sizeof w);
    return w;
}

static bool same_worker(const pbc_whoami *a, const pbc_whoami *b)
{
    return a->pid == b->pid && a->tid == b->tid;
}

PBC_CASE(options, workers)
{
    int ncpu = pbc_default_workers(backend);
    pb_pool *pool = pbc_pool(backend, 0, NULL);
    CHECK_MSG(pb_pool_workers(pool) == ncpu,
              "workers=0 gave %d workers; expected %d (%s)", pb_pool_workers(pool), ncpu,
              pbc_own_default_workers(backend) ? "the backend's own count"
                                               : "the CPUs this process may run on");
    pb_pool_destroy(pool);

    for (int w = 1; w <= 3; w++) {
        pool = pbc_pool(backend, w, NULL);
        CHECK_INT(pb_pool_workers(pool), ==, w);
        CHECK_STR(pb_pool_backend(pool), pbc_backend_name(backend));
        pb_future *f = pbc_submit_u64(pool, (uint64_t)w);
        CHECK_RESULT_U64(f, (uint64_t)w);
        pb_future_release(f);
        pb_pool_destroy(pool);
    }
}

/* workers=0 and pin lists follow the process's affinity mask as it is when
 * the pool is created, not as it was when the library first looked. */
PBC_CASE(options, workers_follow_affinity_mask)
{
    int first = -1;
    int ncpu = pbc_allowed_cpus(&first);
    if (ncpu < 2)
        SKIP("this process may run on one CPU only: cannot narrow its affinity mask");
    if (pbc_own_default_workers(backend))
        SKIP("%s: workers=0 is the backend's own count (%d), not this process's CPUs",
             backend, pbc_default_workers(backend));
    pb_pool *pool = pbc_pool(backend, 0, NULL);
    CHECK_INT(pb_pool_workers(pool), ==, ncpu);
    pb_pool_destroy(pool);

    STEP("narrowing the affinity mask to CPU %d", first);
    cpu_set_t all, one;
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0);
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    pool = pbc_pool(backend, 0, NULL);
    CHECK_MSG(pb_pool_workers(pool) == 1,
              "with an affinity mask of one CPU, workers=0 gave %d workers",
              pb_pool_workers(pool));
    pb_pool_destroy(pool);

    STEP("a pin naming a CPU outside the narrowed mask");
    int other = -1;
    for (int c = first + 1; c < CPU_SETSIZE && other < 0; c++) {
        if (CPU_ISSET(c, &all))
            other = c;
    }
    char pin[32];
    snprintf(pin, sizeof pin, "%d", other);
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.pin = pin;
    pool = NULL;
    int rc = pb_pool_create(backend, &o, &pool);
    if (rc == 0)
        pb_pool_destroy(pool);
    CHECK_MSG(rc == PB_EINVAL, "pin \"%s\" with an affinity mask of CPU %d only: "
              "pb_pool_create returned %d (%s), expected PB_EINVAL", pin, first, rc,
              pb_strerror(rc));

    STEP("widening the mask again");
    CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
    pool = pbc_pool(backend, 0, NULL);
    CHECK_MSG(pb_pool_workers(pool) == ncpu,
              "with the affinity mask restored to %d CPUs, workers=0 gave %d workers",
              ncpu, pb_pool_workers(pool));
    pb_pool_destroy(pool);
}

static void check_affinity(pb_pool *pool, const char *want, const char *what)
{
    pb_future *f = pbc_submit(pool, "conf_affinity", NULL, 0);
    const void *data = NULL;
    size_t len = 0;
    CHECK_OK(pb_future_result(f, PB_FOREVER, &data, &len));
    CHECK(len > 0 && ((const char *)data)[len - 1] == '\0');
    CHECK_MSG(strcmp(data, want) == 0, "%s: a task ran on CPUs \"%s\", expected \"%s\"",
              what, (const char *)data, want);
    pb_future_release(f);
}

PBC_CASE(options, pin_and_binding)
{
    int first = -1;
    int ncpu = pbc_allowed_cpus(&first);
    char pin[32];
    snprintf(pin, sizeof pin, "%d", first);
    /* The binding is reported as "" when it covers every allowed PU. */
    const char *want = ncpu == 1 ? "" : pin;

    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.pin = pin;
    pb_pool *pool = pbc_pool(backend, 0, &o);
    check_affinity(pool, pin, "pin to the first allowed CPU");
    char buf[256];
    int rc = pb_pool_binding(pool, 0, buf, sizeof buf);
    if (rc == PB_ENOTSUP) {
        pb_pool_destroy(pool);
        SKIP("%s pins its workers but pb_pool_binding cannot report it", backend);
    }
    CHECK_OK(rc);
    CHECK_MSG(strcmp(buf, want) == 0, "pin \"%s\": binding of worker 0 is \"%s\", "
              "expected \"%s\"", pin, buf, want);
    pb_pool_destroy(pool);

    STEP("more workers than CPUs in the pin list wrap around");
    o.workers = 3;
    pool = pbc_pool(backend, 0, &o);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(pb_pool_binding(pool, i, buf, sizeof buf));
        CHECK_MSG(strcmp(buf, want) == 0, "worker %d is bound to \"%s\", expected \"%s\"",
                  i, buf, want);
    }
    /* Every worker is on that CPU, whichever runs the task. */
    for (int i = 0; i < 6; i++)
        check_affinity(pool, pin, "three workers on one CPU");
    pb_pool_destroy(pool);

    STEP("pin \"none\" binds nothing");
    o.workers = 2;
    o.pin = "none";
    pool = pbc_pool(backend, 0, &o);
    for (int i = 0; i < 2; i++) {
        CHECK_OK(pb_pool_binding(pool, i, buf, sizeof buf));
        CHECK_STR(buf, "");
    }
    pb_pool_destroy(pool);

    STEP("compact and scatter bind each worker to one CPU");
    const char *policies[] = {"compact", "scatter"};
    for (int p = 0; p < 2; p++) {
        o.workers = 2;
        o.pin = policies[p];
        pool = pbc_pool(backend, 0, &o);
        for (int i = 0; i < 2; i++) {
            CHECK_OK(pb_pool_binding(pool, i, buf, sizeof buf));
            if (ncpu > 1)
                CHECK_MSG(buf[0] != '\0' && strchr(buf, ',') == NULL &&
                              strchr(buf, '-') == NULL,
                          "%s: worker %d is bound to \"%s\", not one CPU", policies[p], i,
                          buf);
        }
        pb_pool_destroy(pool);
    }
}

PBC_CASE(options, initializer_runs_first_in_each_worker)
{
    uint64_t value = 0xc0ffee15600dull;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;
    o.init_arg = &value;
    o.init_len = sizeof value;
    char name[] = "conf_init";
    o.initializer = name;
    pb_pool *pool = pbc_pool(backend, 0, &o);
    value = 0; /* init_arg and initializer were copied */
    memset(name, 'x', sizeof name - 1);

    enum { N = 40 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = pbc_submit(pool, "conf_whoami", NULL, 0);
    for (int i = 0; i < N; i++) {
        pbc_whoami w = whoami_result(fs[i]);
        CHECK_MSG(w.init_runs == 1,
                  "task %d ran in a worker where the initializer ran %lld times", i,
                  (long long)w.init_runs);
        CHECK_MSG(w.init_value == 0xc0ffee15600dull,
                  "task %d saw the initializer's value 0x%llx", i,
                  (unsigned long long)w.init_value);
    }
    pb_pool_destroy(pool);
    pbc_release_all(fs, N);
}

PBC_CASE(options, failing_initializer_breaks_the_pool)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;
    o.initializer = "conf_init_fail";
    pb_pool *pool = NULL;
    int rc = pb_pool_create(backend, &o, &pool);
    if (rc == PB_ENOTSUP)
        SKIP("%s: %s", backend, pb_pool_last_error());
    CHECK_MSG(rc == 0, "pb_pool_create with a failing initializer returned %d (%s): "
              "the pool should be created and then report itself broken", rc,
              pb_strerror(rc));

    bool refused = false;
    int accepted = 0;
    for (int i = 0; i < 500 && !refused; i++) {
        STEP("submit %d to a pool whose initializer fails", i);
        pb_future *f = NULL;
        rc = pb_submit(pool, pbc_task("conf_echo"), "x", 1, &f);
        if (rc == PB_EBROKEN) {
            refused = true;
            break;
        }
        CHECK_MSG(rc == 0, "submit: %d (%s)", rc, pb_strerror(rc));
        accepted++;
        CHECK_CODE(pb_future_result(f, PB_FOREVER, NULL, NULL), PB_EBROKEN);
        pb_error err;
        CHECK_OK(pb_future_error(f, 0, &err));
        CHECK_CODE(err.code, PB_EBROKEN);
        CHECK_MSG(err.message != NULL && strstr(err.message, "initializer") != NULL,
                  "the error of a future failed by the initializer does not say so: "
                  "\"%s\"", err.message ? err.message : "(null)");
        CHECK_STATE_ALL(f, PB_FINISHED);
        pb_future_release(f);
    }
    CHECK_MSG(refused, "after %d futures failed, pb_submit still accepts work for a pool "
              "whose initializer fails", accepted);

    STEP("map on a broken pool");
    uint64_t v = 1;
    pb_bytes arg = {&v, sizeof v};
    pb_map *m = NULL;
    CHECK_CODE(pb_map_new(pool, pbc_task("conf_echo"), &arg, 1, 1, PB_FOREVER, &m),
               PB_EBROKEN);
    pb_pool_destroy(pool);
}

/* Runs n conf_whoami tasks one at a time on pool and checks that they come in
 * runs of `per` from one worker, each run from a new worker. */
static void check_recycling(pb_pool *pool, int n, int per, bool with_init)
{
    pbc_whoami ws[16];
    CHECK(n <= 16);
    for (int i = 0; i < n; i++) {
        pb_future *f = pbc_submit(pool, "conf_whoami", NULL, 0);
        ws[i] = whoami_result(f);
        pb_future_release(f);
        if (with_init)
            CHECK_MSG(ws[i].init_runs == 1 && ws[i].init_value == 7,
                      "task %d: the initializer ran %lld times in its worker", i,
                      (long long)ws[i].init_runs);
    }
    for (int i = 0; i + 1 < n; i++) {
        bool same = same_worker(&ws[i], &ws[i + 1]);
        bool want_same = (i + 1) % per != 0;
        CHECK_MSG(same == want_same,
                  "tasks %d and %d ran in %s workers (pid %lld tid %lld, pid %lld tid "
                  "%lld); with max_tasks_per_worker = %d they should not", i, i + 1,
                  same ? "the same" : "different", (long long)ws[i].pid,
                  (long long)ws[i].tid, (long long)ws[i + 1].pid, (long long)ws[i + 1].tid,
                  per);
    }
}

PBC_CASE(options, max_tasks_per_worker_replaces_workers)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.max_tasks_per_worker = 2;
    pb_pool *pool = pbc_pool(backend, 0, &o);
    STEP("one worker, two tasks each, one task at a time");
    check_recycling(pool, 8, 2, false);
    pb_pool_destroy(pool);

    STEP("two workers, three tasks each, a backlog of 90");
    o.workers = 2;
    o.max_tasks_per_worker = 3;
    pool = pbc_pool(backend, 0, &o);
    enum { M = 90 };
    pb_future *fs[M];
    pbc_whoami all[M];
    for (int i = 0; i < M; i++)
        fs[i] = pbc_submit(pool, "conf_whoami", NULL, 0);
    for (int i = 0; i < M; i++)
        all[i] = whoami_result(fs[i]);
    /* No worker ran more than 3, so at least M / 3 workers served them. */
    for (int i = 0; i < M; i++) {
        int count = 0;
        for (int k = 0; k < M; k++)
            count += same_worker(&all[i], &all[k]);
        CHECK_MSG(count <= 3, "one worker (pid %lld tid %lld) ran %d tasks with "
                  "max_tasks_per_worker = 3", (long long)all[i].pid,
                  (long long)all[i].tid, count);
    }
    pb_pool_destroy(pool);
    pbc_release_all(fs, M);
}

PBC_CASE(options, replaced_workers_run_the_initializer)
{
    uint64_t value = 7;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 1;
    o.max_tasks_per_worker = 2;
    o.initializer = "conf_init";
    o.init_arg = &value;
    o.init_len = sizeof value;
    pb_pool *pool = pbc_pool(backend, 0, &o);
    check_recycling(pool, 8, 2, true);
    pb_pool_destroy(pool);
}

PBC_CASE(options, task_timeout_honoured_or_refused)
{
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = 2;
    o.task_timeout = 200LL * 1000 * 1000;
    pb_pool *pool = pbc_pool(backend, 0, &o); /* PB_ENOTSUP: skipped, with the reason */

    pb_future *quick = pbc_submit_u64(pool, 5);
    CHECK_RESULT_U64(quick, 5);
    pbc_gate g;
    pbc_gate_init(&g); /* never opened: only the time limit can end the task */
    pb_future *stuck = pbc_submit_gate(pool, &g);
    CHECK_CODE(pb_future_result(stuck, PB_FOREVER, NULL, NULL), PB_EKILLED);
    pb_error err;
    CHECK_OK(pb_future_error(stuck, 0, &err));
    CHECK_CODE(err.code, PB_EKILLED);
    CHECK_MSG(strstr(err.message, "task_timeout") != NULL,
              "the PB_EKILLED message does not name the limit: \"%s\"", err.message);
    CHECK_STATE_ALL(stuck, PB_FINISHED);

    STEP("the pool goes on");
    pb_future *after = pbc_submit_u64(pool, 6);
    CHECK_RESULT_U64(after, 6);
    pb_pool_destroy(pool);
    pb_future_release(quick);
    pb_future_release(stuck);
    pb_future_release(after);
}
