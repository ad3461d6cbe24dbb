/*
 * test_core.c — unit tests of the futures core: the task registry, error
 * names, and the future state machine driven by a backend the test controls
 * by hand (the "manual" backend queues futures and does nothing until the
 * test completes them), so every transition happens exactly when the test
 * says, with no worker thread involved.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <pb/backend.h>
#include <pb/pool.h>

#include "scenarios/common.h" /* the as_completed order check */

/* ---- A backend driven by the test ---- */

#define MANUAL_MAX 4096

typedef struct manual {
    pthread_mutex_t lock;
    pb_future *queued[MANUAL_MAX];
    size_t n;
    int hints;
    bool shut;
} manual;

static manual *the_manual;

static char manual_options[256]; /* the options the last create() saw */

static int manual_asked; /* the workers the core passed to the last create() */

static int manual_create(const pb_pool_opts *opts, void **state, int *workers)
{
    manual_asked = opts->workers;
    snprintf(manual_options, sizeof manual_options, "%s", opts->options ? opts->options : "");
    char speed[8];
    if (pb_pool_option(opts, "speed", speed, sizeof speed) == PB_EINVAL ||
        (strcmp(speed, "slow") && strcmp(speed, "fast")))
        return pb_backend_error(PB_EINVAL, "manual backend: speed must be slow or fast");
    manual *m = calloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    the_manual = m;
    *state = m;
    *workers = 1;
    return 0;
}

static int manual_submit(void *state, pb_future *f)
{
    manual *m = state;
    pthread_mutex_lock(&m->lock);
    int r = m->shut ? PB_ESHUTDOWN : 0;
    if (!r)
        m->queued[m->n++] = f;
    pthread_mutex_unlock(&m->lock);
    return r;
}

static void manual_cancel(void *state, pb_future *f)
{
    (void)f;
    manual *m = state;
    pthread_mutex_lock(&m->lock);
    m->hints++;
    pthread_mutex_unlock(&m->lock);
}

/* Runs every queued future in this thread (as a worker would). */
static void manual_run_all(manual *m)
{
    for (;;) {
        pthread_mutex_lock(&m->lock);
        pb_future *f = m->n ? m->queued[0] : NULL;
        if (f)
            memmove(m->queued, m->queued + 1, --m->n * sizeof m->queued[0]);
        pthread_mutex_unlock(&m->lock);
        if (!f)
            return;
        pb_future_run(f); /* skips a future cancelled while queued */
        pb_future_release(f);
    }
}

static void manual_shutdown(void *state, bool wait, bool cancel_futures)
{
    manual *m = state;
    pthread_mutex_lock(&m->lock);
    m->shut = true;
    pthread_mutex_unlock(&m->lock);
    if (cancel_futures) {
        pthread_mutex_lock(&m->lock);
        size_t n = m->n;
        pb_future *fs[MANUAL_MAX];
        memcpy(fs, m->queued, n * sizeof fs[0]);
        m->n = 0;
        pthread_mutex_unlock(&m->lock);
        for (size_t i = 0; i < n; i++) {
            pb_future_cancel(fs[i]);
            pb_future_release(fs[i]);
        }
    }
    if (wait)
        manual_run_all(m);
}

static void manual_destroy(void *state)
{
    manual *m = state;
    manual_run_all(m);
    pthread_mutex_destroy(&m->lock);
    free(m);
    the_manual = NULL;
}

static const pb_backend manual_backend = {
    .name = "manual",
    .summary = "driven by the test",
    .create = manual_create,
    .submit = manual_submit,
    .cancel = manual_cancel,
    .shutdown = manual_shutdown,
    .destroy = manual_destroy,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "the test cannot stop a task"},
        {"pin", "the test has no threads"},
        {NULL, NULL},
    },
    .options = (const pb_backend_option[]){
        {"speed", "slow|fast", "slow", "how the test drives it"},
        {"label", "word", NULL, "a word recorded by create"},
        {NULL, NULL, NULL, NULL},
    },
};

/* The same backend, as a pool whose own futures tell wait() about a cancel
 * only when it takes them off its queue (Python's concurrent.futures), and
 * that keeps one figure for pb_pool_stat(). */
static int manual_stat(void *state, const char *name, int64_t *value)
{
    manual *m = state;
    if (strcmp(name, "queued"))
        return PB_ENOTSUP;
    pthread_mutex_lock(&m->lock);
    *value = (int64_t)m->n;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static const pb_backend manual_late_backend = {
    .name = "manual-late",
    .summary = "driven by the test; notices cancels late",
    .create = manual_create,
    .submit = manual_submit,
    .cancel = manual_cancel,
    .shutdown = manual_shutdown,
    .destroy = manual_destroy,
    .options = (const pb_backend_option[]){
        {"speed", "slow|fast", "slow", "how the test drives it"},
        {NULL, NULL, NULL, NULL},
    },
    .stat = manual_stat,
    .cancel_noticed_late = true,
};

PB_TASK(unit_echo)
{
    pb_task_return(ctx, arg, len);
}

PB_TASK(unit_fail)
{
    pb_task_fail(ctx, 42, "failed on %zu bytes", len);
}

PB_TASK(unit_pick)
{
    /* Fails items whose first byte is 'x', echoes the others. */
    if (len && ((const char *)arg)[0] == 'x')
        pb_task_fail(ctx, 9, "item %.*s", (int)len, (const char *)arg);
    else
        pb_task_return(ctx, arg, len);
}

static pb_pool *manual_pool(void)
{
    pb_pool *p = NULL;
    assert_int_equal(pb_pool_create("manual", NULL, &p), 0);
    return p;
}

/* ---- Registry and names ---- */

static void noop_fn(pb_task_ctx *ctx, const void *arg, size_t len)
{
    (void)ctx, (void)arg, (void)len;
}

static void test_registry(void **state)
{
    (void)state;
    assert_non_null(pb_task_find("unit_echo"));
    assert_string_equal(pb_task_name(pb_task_find("unit_echo")), "unit_echo");
    assert_null(pb_task_find("no_such_task"));
    assert_null(pb_task_find(NULL));
    assert_int_equal(pb_task_register("unit_dynamic", noop_fn), 0);
    assert_non_null(pb_task_find("unit_dynamic"));
    assert_int_equal(pb_task_register("unit_dynamic", noop_fn), PB_EINVAL);
    assert_int_equal(pb_task_register("unit_echo", noop_fn), PB_EINVAL);
    assert_int_equal(pb_task_register("", noop_fn), PB_EINVAL);
    assert_int_equal(pb_task_register(NULL, noop_fn), PB_EINVAL);
    assert_int_equal(pb_task_register("x", NULL), PB_EINVAL);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(pb_task_register(longname, noop_fn), PB_EINVAL);
}

static void test_registry_many(void **state)
{
    (void)state;
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "unit_many_%d", i);
        assert_int_equal(pb_task_register(name, noop_fn), 0);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "unit_many_%d", i);
        const pb_task *t = pb_task_find(name);
        assert_non_null(t);
        assert_string_equal(pb_task_name(t), name);
    }
}

static void test_strerror(void **state)
{
    (void)state;
    int codes[] = {0,          PB_EINVAL,    PB_ENOMEM,  PB_ENOENT,  PB_ETIMEDOUT, PB_ECANCELED,
                   PB_ESHUTDOWN, PB_ETASK,   PB_EBROKEN, PB_EKILLED, PB_EOF,       PB_ENOTSUP};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = pb_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, pb_strerror(codes[j]));
    }
    assert_string_equal(pb_strerror(-EPIPE), strerrordesc_np(EPIPE));
    assert_string_equal(pb_strerror(12345), "unknown error");
}

static void test_backend_register(void **state)
{
    (void)state;
    pb_backend bad = manual_backend;
    bad.submit = NULL;
    assert_int_equal(pb_backend_register(&bad), PB_EINVAL);
    assert_int_equal(pb_backend_register(NULL), PB_EINVAL);
    assert_int_equal(pb_backend_register(&manual_backend), PB_EINVAL); /* already there */
    bool found = false;
    for (const char *const *n = pb_backend_names(); *n; n++)
        found |= !strcmp(*n, "manual");
    assert_true(found);
    assert_string_equal(pb_backend_summary("manual"), "driven by the test");
    assert_null(pb_backend_summary("nope"));
    pb_pool *p = NULL;
    assert_int_equal(pb_pool_create("nope", NULL, &p), PB_ENOENT);
    assert_non_null(strstr(pb_pool_last_error(), "nope"));
}

/* A declared unsupported option is refused by the core, quoting the table,
 * before create() runs; options not declared reach create(). */
static void test_backend_unsupported(void **state)
{
    (void)state;
    assert_string_equal(pb_backend_unsupported("manual", "pin"), "the test has no threads");
    assert_null(pb_backend_unsupported("manual", "initializer"));
    assert_null(pb_backend_unsupported("nope", "pin"));
    assert_null(pb_backend_unsupported("manual", NULL));
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.task_timeout = 1000000;
    pb_pool *p = NULL;
    assert_int_equal(pb_pool_create("manual", &o, &p), PB_ENOTSUP);
    assert_null(the_manual);
    assert_string_equal(pb_pool_last_error(),
                        "manual backend: task_timeout is not supported (the test cannot stop a task)");
    pb_pool_opts_init(&o);
    o.pin = "compact";
    assert_int_equal(pb_pool_create("manual", &o, &p), PB_ENOTSUP);
    assert_string_equal(pb_pool_last_error(),
                        "manual backend: pin=compact is not supported (the test has no threads)");
    pb_pool_opts_init(&o);
    o.max_tasks_per_worker = 3;
    assert_int_equal(pb_pool_create("manual", &o, &p), 0);
    pb_pool_destroy(p);
}

/* A backend that cannot run in this process (as mpi outside mpiexec) says
 * why through its table, which stays visible; one with a count of its own
 * gets it for workers=0; one that describes its pools is asked through
 * pb_pool_describe(). */
static const char *elsewhere_why;

static const char *elsewhere_unavailable(void)
{
    return elsewhere_why;
}

static int elsewhere_default_workers(void)
{
    return 7;
}

static int elsewhere_describe(void *state, char *buf, size_t size)
{
    (void)state;
    int n = snprintf(buf, size, "{\"kind\": \"manual\"}");
    return n >= 0 && (size_t)n < size ? n : PB_EINVAL;
}

static void test_backend_elsewhere(void **state)
{
    (void)state;
    static pb_backend elsewhere;
    elsewhere = manual_backend;
    elsewhere.name = "elsewhere";
    elsewhere.unavailable = elsewhere_unavailable;
    elsewhere.default_workers = elsewhere_default_workers;
    elsewhere.describe = elsewhere_describe;
    assert_int_equal(pb_backend_register(&elsewhere), 0);

    elsewhere_why = "elsewhere backend: runs only under its launcher: launch it";
    assert_null(pb_backend_summary("elsewhere"));
    assert_string_equal(pb_pool_last_error(), elsewhere_why);
    assert_ptr_equal(pb_backend_find("elsewhere"), &elsewhere);
    pb_pool *p = NULL;
    assert_int_equal(pb_pool_create("elsewhere", NULL, &p), PB_ENOTSUP);
    assert_string_equal(pb_pool_last_error(), elsewhere_why);
    assert_null(the_manual); /* create() never ran */

    elsewhere_why = NULL;
    assert_string_equal(pb_backend_summary("elsewhere"), "driven by the test");
    assert_int_equal(pb_pool_create("elsewhere", NULL, &p), 0);
    assert_int_equal(manual_asked, 7);
    char buf[64];
    assert_int_equal(pb_pool_describe(p, buf, sizeof buf), (int)strlen("{\"kind\": \"manual\"}"));
    assert_string_equal(buf, "{\"kind\": \"manual\"}");
    assert_int_equal(pb_pool_describe(p, buf, 4), PB_EINVAL);
    assert_int_equal(pb_pool_describe(p, NULL, 0), PB_EINVAL);
    pb_pool_destroy(p);

    assert_int_equal(pb_pool_create("manual", NULL, &p), 0);
    cpu_set_t allowed;
    assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    assert_int_equal(manual_asked, CPU_COUNT(&allowed)); /* the PUs, as ever */
    assert_int_equal(pb_pool_describe(p, buf, sizeof buf), PB_ENOTSUP);
    pb_pool_destroy(p);
    assert_null(pb_backend_symbol("manual", "manual_backend")); /* not a module */
    assert_null(pb_backend_symbol("nope", "x"));
}

/* Settings arrive from opts->options and the name's ':' part, checked
 * against the table, with declared defaults filled in. */
static void test_backend_options(void **state)
{
    (void)state;
    pb_pool *p = NULL;
    assert_int_equal(pb_pool_create("manual", NULL, &p), 0);
    pb_pool_destroy(p);
    assert_string_equal(manual_options, "speed=slow");
    assert_int_equal(pb_pool_create("manual:label=x,speed=fast", NULL, &p), 0);
    pb_pool_destroy(p);
    assert_string_equal(manual_options, "label=x,speed=fast");
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.options = "label=y";
    assert_int_equal(pb_pool_create("manual:speed=fast", &o, &p), 0);
    pb_pool_destroy(p);
    assert_string_equal(manual_options, "label=y,speed=fast");
    assert_string_equal(pb_backend_summary("manual:speed=fast"), "driven by the test");

    const struct {
        const char *spec, *options, *message;
    } bad[] = {
        {"manual:colour=red", NULL, "manual backend: unknown option 'colour' (it takes: speed, label)"},
        {"manual:speed", NULL, "manual backend: 'speed' is not key=value"},
        {"manual:speed=", NULL, "manual backend: 'speed=' is not key=value"},
        {"manual:=x", NULL, "manual backend: '=x' is not key=value"},
        {"manual:speed=fast,", NULL, "manual backend: options end with ','"},
        {"manual:speed=fast", "speed=slow", "manual backend: option 'speed' given twice"},
        {"manual:speed=medium", NULL, "manual backend: speed must be slow or fast"},
        {"manual", "speed=fast,speed=slow", "manual backend: option 'speed' given twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.options = bad[i].options;
        p = NULL;
        assert_int_equal(pb_pool_create(bad[i].spec, &o, &p), PB_EINVAL);
        assert_null(p);
        assert_string_equal(pb_pool_last_error(), bad[i].message);
    }
    assert_ptr_equal(pb_backend_find("thread:x=1"), pb_backend_find("thread"));
    assert_int_equal(pb_pool_create("thread:x=1", NULL, &p), PB_EINVAL);
    assert_string_equal(pb_pool_last_error(), "thread backend: unknown option 'x' (it takes none)");
    char buf[4];
    o.options = "label=toolong";
    assert_int_equal(pb_pool_option(&o, "label", buf, sizeof buf), PB_EINVAL);
    assert_int_equal(pb_pool_option(&o, "lab", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

/* ---- The state machine ---- */

static int calls[8];
static int ncalls;

static void record_cb(pb_future *f, void *ud)
{
    (void)f;
    calls[ncalls++] = (int)(intptr_t)ud;
}

static void test_transitions(void **state)
{
    (void)state;
    pb_pool *p = manual_pool();
    pb_future *f;
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), "ab", 2, &f), 0);
    assert_int_equal(pb_future_state(f), PB_PENDING);
    assert_false(pb_future_done(f));

    const void *data = (void *)1;
    size_t len = 99;
    assert_int_equal(pb_future_result(f, 0, &data, &len), PB_ETIMEDOUT);
    assert_ptr_equal(data, (void *)1); /* untouched */
    assert_int_equal(len, 99);
    assert_int_equal(pb_future_result(f, -5, &data, &len), PB_EINVAL);

    ncalls = 0;
    assert_int_equal(pb_future_add_done_callback(f, record_cb, (void *)1), 0);
    assert_int_equal(pb_future_add_done_callback(f, record_cb, (void *)2), 0);
    assert_int_equal(pb_future_add_done_callback(f, record_cb, (void *)3), 0);
    assert_int_equal(ncalls, 0);

    manual_run_all(the_manual);
    assert_int_equal(pb_future_state(f), PB_FINISHED);
    assert_int_equal(ncalls, 3);
    assert_int_equal(calls[0], 1);
    assert_int_equal(calls[1], 2);
    assert_int_equal(calls[2], 3);
    assert_int_equal(pb_future_result(f, 0, &data, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(data, "ab", 2);
    assert_false(pb_future_cancel(f));

    /* On a done future the callback runs at once, here. */
    assert_int_equal(pb_future_add_done_callback(f, record_cb, (void *)4), 0);
    assert_int_equal(ncalls, 4);

    pb_times t;
    assert_int_equal(pb_future_times(f, &t), 0);
    assert_true(t.submitted > 0 && t.started >= t.submitted && t.ended >= t.started &&
                t.completed >= t.ended);
    pb_future_release(f);
    pb_pool_destroy(p);
}

static void test_cancel(void **state)
{
    (void)state;
    pb_pool *p = manual_pool();
    pb_future *f;
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &f), 0);
    ncalls = 0;
    pb_future_add_done_callback(f, record_cb, (void *)7);
    assert_true(pb_future_cancel(f));
    assert_int_equal(ncalls, 1); /* ran before cancel returned */
    assert_int_equal(the_manual->hints, 1);
    assert_true(pb_future_cancel(f)); /* already cancelled */
    assert_int_equal(ncalls, 1);
    assert_true(pb_future_cancelled(f));
    assert_true(pb_future_done(f));
    assert_int_equal(pb_future_result(f, PB_FOREVER, NULL, NULL), PB_ECANCELED);
    pb_error e;
    assert_int_equal(pb_future_error(f, 0, &e), 0);
    assert_int_equal(e.code, PB_ECANCELED);
    pb_times t;
    pb_future_times(f, &t);
    assert_true(t.submitted > 0 && t.completed >= t.submitted);
    assert_int_equal(t.started, 0);
    assert_int_equal(t.ended, 0);

    /* The backend skips it: set_running fails. */
    manual_run_all(the_manual);
    assert_int_equal(pb_future_state(f), PB_CANCELLED);
    pb_future_release(f);

    /* Running futures cannot be cancelled. */
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &f), 0);
    assert_true(pb_future_set_running(f));
    assert_true(pb_future_running(f));
    assert_false(pb_future_cancel(f));
    assert_int_equal(pb_future_set_result(f, "z", 1, 1, 2), 0);
    assert_int_equal(pb_future_set_result(f, "y", 1, 1, 2), PB_EINVAL); /* done already */
    pb_error bad = {.code = 12};
    assert_int_equal(pb_future_set_error(f, &bad, 0, 0), PB_EINVAL);
    pb_future_release(f);
    pb_pool_destroy(p);
}

static void test_errors_carried(void **state)
{
    (void)state;
    pb_pool *p = manual_pool();
    pb_future *f;
    assert_int_equal(pb_submit(p, pb_task_find("unit_fail"), "abc", 3, &f), 0);
    manual_run_all(the_manual);
    assert_int_equal(pb_future_result(f, 0, NULL, NULL), PB_ETASK);
    pb_error e;
    assert_int_equal(pb_future_error(f, 0, &e), 0);
    assert_int_equal(e.code, PB_ETASK);
    assert_int_equal(e.task_code, 42);
    assert_string_equal(e.message, "failed on 3 bytes");
    pb_future_release(f);

    /* A process backend's report: broken worker. */
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &f), 0);
    assert_true(pb_future_set_running(f));
    pb_error broken = {.code = PB_EBROKEN, .signal = 11, .message = "worker 1 killed by signal 11"};
    assert_int_equal(pb_future_set_error(f, &broken, 5, 6), 0);
    assert_int_equal(pb_future_error(f, 0, &e), 0);
    assert_int_equal(e.code, PB_EBROKEN);
    assert_int_equal(e.signal, 11);
    assert_string_equal(e.message, "worker 1 killed by signal 11");
    pb_future_release(f);
    manual_run_all(the_manual);
    pb_pool_destroy(p);
}

/* ---- Map chunks through the core's packing ---- */

static void test_map_chunks(void **state)
{
    (void)state;
    const char *items[] = {"a", "x1", "bb", "", "x2", "ccc", "d"};
    size_t n = sizeof items / sizeof items[0];
    pb_bytes args[7];
    for (size_t i = 0; i < n; i++)
        args[i] = (pb_bytes){items[i], strlen(items[i])};
    for (size_t cs = 1; cs <= 8; cs++) {
        pb_pool *p = manual_pool();
        pb_map *m;
        assert_int_equal(pb_map_new(p, pb_task_find("unit_pick"), args, n, cs, PB_FOREVER, &m), 0);
        assert_int_equal(the_manual->n, n / cs + (n % cs != 0)); /* one unit per chunk */
        manual_run_all(the_manual);
        for (size_t i = 0; i < n; i++) {
            const void *d;
            size_t l;
            pb_error e;
            int r = pb_map_next(m, &d, &l, &e);
            if (items[i][0] == 'x') {
                assert_int_equal(r, PB_ETASK);
                assert_int_equal(e.code, PB_ETASK);
                assert_int_equal(e.task_code, 9);
                char want[16];
                snprintf(want, sizeof want, "item %s", items[i]);
                assert_string_equal(e.message, want);
            } else {
                assert_int_equal(r, 0);
                assert_int_equal(l, strlen(items[i]));
                assert_memory_equal(d, items[i], l);
            }
        }
        assert_int_equal(pb_map_next(m, NULL, NULL, NULL), PB_EOF);
        assert_int_equal(pb_map_next(m, NULL, NULL, NULL), PB_EOF);
        pb_map_free(m);
        pb_pool_destroy(p);
    }
}

static void test_map_timeout_and_free(void **state)
{
    (void)state;
    pb_bytes args[10] = {{0}};
    pb_pool *p = manual_pool();
    pb_map *m;
    assert_int_equal(pb_map_new(p, pb_task_find("unit_echo"), args, 10, 3, 0, &m), 0);
    /* Nothing ran: the deadline (0) has passed. */
    assert_int_equal(pb_map_next(m, NULL, NULL, NULL), PB_ETIMEDOUT);
    assert_int_equal(pb_map_next(m, NULL, NULL, NULL), PB_ETIMEDOUT);
    pb_map_free(m);
    /* Automatic chunks: 10 items over 4 x workers (1) chunks of 3. */
    assert_int_equal(pb_map_chunksize(p, 10), 3);
    assert_int_equal(pb_map_chunksize(p, 0), 1);
    assert_int_equal(pb_map_new(p, pb_task_find("unit_echo"), args, 10, PB_MAP_CHUNK_AUTO, 0, &m),
                     0);
    assert_int_equal(pb_map_next(m, NULL, NULL, NULL), PB_ETIMEDOUT);
    pb_map_free(m);
    assert_int_equal(pb_map_new(p, pb_task_find("unit_echo"), args, 0, 1, PB_FOREVER, &m), 0);
    assert_int_equal(pb_map_next(m, NULL, NULL, NULL), PB_EOF);
    pb_map_free(m);

    /* Freed early: pending chunks are cancelled, nothing runs later. */
    assert_int_equal(pb_map_new(p, pb_task_find("unit_echo"), args, 10, 2, PB_FOREVER, &m), 0);
    pb_map_free(m);
    pb_pool_shutdown(p, false, false);
    assert_int_equal(pb_map_new(p, pb_task_find("unit_echo"), args, 10, 2, PB_FOREVER, &m),
                     PB_ESHUTDOWN);
    pb_pool_destroy(p);
}

/* ---- wait and as_completed, deterministically ---- */

static void test_wait_modes(void **state)
{
    (void)state;
    pb_pool *p = manual_pool();
    pb_future *fs[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pb_submit(p, pb_task_find(i == 2 ? "unit_fail" : "unit_echo"), NULL, 0,
                                   &fs[i]),
                         0);
    assert_int_equal(pb_wait(fs, 4, PB_FIRST_COMPLETED, 0), 0);
    assert_int_equal(pb_wait(NULL, 0, PB_ALL_COMPLETED, PB_FOREVER), 0);
    assert_int_equal(pb_wait(fs, 4, PB_ALL_COMPLETED, -2), PB_EINVAL);
    pb_future_cancel(fs[0]);
    pb_future *dup[3] = {fs[0], fs[0], fs[1]};
    assert_int_equal(pb_wait(dup, 3, PB_FIRST_COMPLETED, PB_FOREVER), 1);
    /* A cancel is done but not an exception. */
    assert_int_equal(pb_wait(fs, 4, PB_FIRST_EXCEPTION, 1000000), 1);
    manual_run_all(the_manual);
    assert_int_equal(pb_wait(fs, 4, PB_FIRST_EXCEPTION, PB_FOREVER), 4);
    assert_int_equal(pb_wait(fs, 4, PB_ALL_COMPLETED, PB_FOREVER), 4);

    pb_future *order[6] = {fs[3], fs[1], fs[3], fs[0], fs[2], fs[1]};
    pb_as_completed *it;
    assert_int_equal(pb_as_completed_new(order, 6, PB_FOREVER, &it), 0);
    pb_future *got[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pb_as_completed_next(it, &got[i]), 0);
    assert_int_equal(pb_as_completed_next(it, &got[0]), PB_EOF);
    /* All were done: given order, duplicates once. */
    assert_ptr_equal(got[0], fs[3]);
    assert_ptr_equal(got[1], fs[1]);
    assert_ptr_equal(got[2], fs[0]);
    assert_ptr_equal(got[3], fs[2]);
    pb_as_completed_free(it);
    for (int i = 0; i < 4; i++)
        pb_future_release(fs[i]);
    pb_pool_destroy(p);
}

typedef struct late_wait {
    pb_future *f;
    int rc;
    atomic_int returned;
} late_wait;

static void *late_wait_main(void *p)
{
    late_wait *w = p;
    w->rc = pb_wait(&w->f, 1, PB_ALL_COMPLETED, PB_FOREVER);
    atomic_store(&w->returned, 1);
    return NULL;
}

/* A backend that notices cancels late: the cancel is seen at once by the
 * state, result and callbacks, but pb_wait and as_completed count the future
 * only once the backend says it noticed. */
static void test_cancel_noticed_late(void **state)
{
    (void)state;
    pb_pool *p = NULL;
    assert_int_equal(pb_pool_create("manual-late", NULL, &p), 0);
    pb_future *fs[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &fs[i]), 0);
    ncalls = 0;
    assert_int_equal(pb_future_add_done_callback(fs[0], record_cb, (void *)7), 0);
    assert_true(pb_future_cancel(fs[0]));
    assert_int_equal(ncalls, 1);
    assert_true(pb_future_done(fs[0]));
    assert_int_equal(pb_future_result(fs[0], PB_FOREVER, NULL, NULL), PB_ECANCELED);
    assert_int_equal(pb_future_add_done_callback(fs[0], record_cb, (void *)7), 0);
    assert_int_equal(ncalls, 2); /* at once, as on any done future */

    /* Not counted by pb_wait or as_completed yet. */
    assert_int_equal(pb_wait(fs, 1, PB_FIRST_COMPLETED, 0), 0);
    assert_int_equal(pb_wait(fs, 1, PB_ALL_COMPLETED, 1000000), 0);
    pb_as_completed *it;
    pb_future *g = NULL;
    assert_int_equal(pb_as_completed_new(fs, 2, PB_FOREVER, &it), 0);

    /* A waiter blocked on it wakes when the backend notices. */
    late_wait w = {.f = fs[0], .rc = 12345};
    atomic_init(&w.returned, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_wait_main, &w), 0);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_false(atomic_load(&w.returned));
    pb_future_cancel_noticed(fs[1]); /* not cancelled: nothing happens */
    pb_future_cancel_noticed(fs[0]);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, 1);
    assert_int_equal(pb_as_completed_next(it, &g), 0);
    assert_ptr_equal(g, fs[0]);
    pb_future_cancel_noticed(fs[0]); /* again: nothing more */
    assert_int_equal(pb_wait(fs, 1, PB_ALL_COMPLETED, 0), 1);

    /* Finished futures are not held back. */
    manual_run_all(the_manual);
    assert_int_equal(pb_as_completed_next(it, &g), 0);
    assert_ptr_equal(g, fs[1]);
    assert_int_equal(pb_as_completed_next(it, &g), PB_EOF);
    pb_as_completed_free(it);
    assert_int_equal(pb_wait(fs, 3, PB_ALL_COMPLETED, PB_FOREVER), 3);

    /* A cancel noticed before anyone waits counts at once; one never
     * noticed leaves pb_wait to its timeout. */
    pb_future *h[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &h[i]), 0);
    assert_true(pb_future_cancel(h[0]));
    assert_true(pb_future_cancel(h[1]));
    pb_future_cancel_noticed(h[0]);
    assert_int_equal(pb_wait(h, 2, PB_FIRST_COMPLETED, PB_FOREVER), 1);
    assert_int_equal(pb_wait(h, 2, PB_ALL_COMPLETED, 1000000), 1);
    for (int i = 0; i < 3; i++)
        pb_future_release(fs[i]);
    for (int i = 0; i < 2; i++)
        pb_future_release(h[i]);
    pb_pool_destroy(p);
}

static void test_stat(void **state)
{
    (void)state;
    pb_pool *p = NULL;
    assert_int_equal(pb_pool_create("manual-late", NULL, &p), 0);
    int64_t v = -1;
    assert_int_equal(pb_pool_stat(p, "queued", &v), 0);
    assert_int_equal(v, 0);
    pb_future *f;
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &f), 0);
    assert_int_equal(pb_pool_stat(p, "queued", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(pb_pool_stat(p, "gil_wait_ns", &v), PB_ENOTSUP);
    assert_int_equal(pb_pool_stat(p, NULL, &v), PB_EINVAL);
    assert_int_equal(pb_pool_stat(p, "queued", NULL), PB_EINVAL);
    assert_int_equal(pb_pool_stat(NULL, "queued", &v), PB_EINVAL);
    pb_pool_destroy(p);
    pb_future_release(f);
    p = manual_pool(); /* no stat hook */
    assert_int_equal(pb_pool_stat(p, "queued", &v), PB_ENOTSUP);
    pb_pool_destroy(p);
}

static void test_as_completed_order_and_deadline(void **state)
{
    (void)state;
    pb_pool *p = manual_pool();
    pb_future *fs[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &fs[i]), 0);
    pb_as_completed *it;
    assert_int_equal(pb_as_completed_new(fs, 3, 0, &it), 0);
    pb_future *g;
    assert_int_equal(pb_as_completed_next(it, &g), PB_ETIMEDOUT);
    /* Sticky, even once things are done. */
    manual_run_all(the_manual);
    assert_int_equal(pb_as_completed_next(it, &g), PB_ETIMEDOUT);
    pb_as_completed_free(it);

    /* Completion order: complete 2, then 0, then 1, by hand. */
    pb_future *gs[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &gs[i]), 0);
    /* Take them out of the manual queue to complete them in our order. */
    pthread_mutex_lock(&the_manual->lock);
    the_manual->n = 0;
    pthread_mutex_unlock(&the_manual->lock);
    assert_int_equal(pb_as_completed_new(gs, 3, PB_FOREVER, &it), 0);
    int seq[3] = {2, 0, 1};
    for (int k = 0; k < 3; k++) {
        pb_future_set_result(gs[seq[k]], NULL, 0, 0, 0);
        pb_future_release(gs[seq[k]]); /* the backend's reference */
        assert_int_equal(pb_as_completed_next(it, &g), 0);
        assert_ptr_equal(g, gs[seq[k]]);
    }
    assert_int_equal(pb_as_completed_next(it, &g), PB_EOF);
    pb_as_completed_free(it);
    for (int i = 0; i < 3; i++)
        pb_future_release(fs[i]), pb_future_release(gs[i]);
    pb_pool_destroy(p);
}

/* The completion order the core records (pb_future_completion_order), and
 * the benchmark's as_completed order check built on it: the real iterator
 * passes it, an iterator that yielded in submission order fails it. */
static void test_completion_order(void **state)
{
    (void)state;
    pb_pool *p = manual_pool();
    enum { N = 8 };
    pb_future *fs[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &fs[i]), 0);
    pthread_mutex_lock(&the_manual->lock);
    the_manual->n = 0; /* completed by hand below, in our order */
    pthread_mutex_unlock(&the_manual->lock);
    uint64_t a, b;
    assert_int_equal(pb_future_completion_order(fs[0], &a, &b), PB_EINVAL); /* not done */

    /* Two done before the iterator exists, the rest after, shuffled. */
    bool done_before[N] = {0};
    const int before[] = {5, 1}, after[] = {3, 0, 7, 2, 6, 4};
    for (size_t k = 0; k < 2; k++) {
        pb_future_set_result(fs[before[k]], NULL, 0, 0, 0);
        pb_future_release(fs[before[k]]);
    }
    for (int i = 0; i < N; i++)
        done_before[i] = pb_future_done(fs[i]);
    pb_as_completed *it;
    assert_int_equal(pb_as_completed_new(fs, N, PB_FOREVER, &it), 0);
    for (size_t k = 0; k < 6; k++) {
        pb_future_set_result(fs[after[k]], NULL, 0, 0, 0);
        pb_future_release(fs[after[k]]);
    }
    pbs_yield got[N], submitted[N];
    for (int k = 0; k < N; k++) {
        pb_future *g;
        assert_int_equal(pb_as_completed_next(it, &g), 0);
        int i = 0;
        while (fs[i] != g)
            i++;
        got[k].done_before = done_before[i];
        assert_int_equal(pb_future_completion_order(g, &got[k].first, &got[k].last), 0);
        /* Nobody waited on the early ones; the iterator waited on the rest. */
        if (done_before[i])
            assert_true(got[k].last == got[k].first);
        else
            assert_true(got[k].last > got[k].first);
    }
    pb_as_completed_free(it);
    for (int i = 0; i < N; i++) {
        submitted[i].done_before = done_before[i];
        assert_int_equal(pb_future_completion_order(fs[i], &submitted[i].first,
                                                    &submitted[i].last), 0);
    }
    /* Completions by hand in one thread: each one's counters come after
     * the one before. */
    for (size_t k = 1; k < 6; k++)
        assert_true(submitted[after[k]].first > submitted[after[k - 1]].last);

    pbs_order_evidence ev;
    pbs_completion_order_check(got, N, &ev);
    assert_int_equal(ev.early, 2);
    assert_int_equal(ev.notified, 6);
    assert_int_equal(ev.inversions, 0);
    assert_int_equal(ev.early_after, 0);

    /* Submission order: 1 comes after 0 (notified), and of the notified
     * 0 2 3 4 6 7 (completion ranks 1 3 0 5 4 2), 3, 6 and 7 follow a later
     * completion. */
    pbs_completion_order_check(submitted, N, &ev);
    assert_int_equal(ev.early, 2);
    assert_int_equal(ev.early_after, 2); /* 1 and 5 both after 0 */
    assert_int_equal(ev.notified, 6);
    assert_int_equal(ev.inversions, 3);

    for (int i = 0; i < N; i++)
        pb_future_release(fs[i]);
    pb_pool_destroy(p);
}

static void test_shutdown_cancel_futures(void **state)
{
    (void)state;
    pb_pool *p = manual_pool();
    pb_future *fs[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &fs[i]), 0);
    /* fs[0] is in a worker's hands: out of the queue, RUNNING. */
    pthread_mutex_lock(&the_manual->lock);
    memmove(the_manual->queued, the_manual->queued + 1, --the_manual->n * sizeof fs[0]);
    pthread_mutex_unlock(&the_manual->lock);
    assert_true(pb_future_set_running(fs[0]));
    ncalls = 0;
    pb_future_add_done_callback(fs[3], record_cb, (void *)3);
    assert_int_equal(pb_pool_shutdown(p, false, true), 0);
    assert_int_equal(ncalls, 1); /* ran before shutdown returned */
    assert_int_equal(pb_future_state(fs[0]), PB_RUNNING);
    for (int i = 1; i < 5; i++)
        assert_true(pb_future_cancelled(fs[i]));
    pb_future *g;
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, &g), PB_ESHUTDOWN);
    assert_int_equal(pb_pool_shutdown(p, false, false), 0); /* repeatable */
    pb_future_set_result(fs[0], NULL, 0, 0, 0);
    pb_future_release(fs[0]); /* the backend's reference, taken out above */
    pb_pool_destroy(p);
    for (int i = 0; i < 5; i++) {
        assert_true(pb_future_done(fs[i]));
        pb_future_release(fs[i]);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    pb_pool *p = NULL;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = -1;
    assert_int_equal(pb_pool_create("manual", &o, &p), PB_EINVAL);
    pb_pool_opts_init(&o);
    o.pin = "";
    assert_int_equal(pb_pool_create("manual", &o, &p), PB_EINVAL);
    pb_pool_opts_init(&o);
    o.initializer = "no_such_init";
    assert_int_equal(pb_pool_create("manual", &o, &p), PB_ENOENT);
    assert_non_null(strstr(pb_pool_last_error(), "no_such_init"));
    pb_pool_opts_init(&o);
    o.task_timeout = -3;
    assert_int_equal(pb_pool_create("manual", &o, &p), PB_EINVAL);
    assert_int_equal(pb_pool_create(NULL, NULL, &p), PB_EINVAL);

    p = manual_pool();
    pb_future *f;
    assert_int_equal(pb_submit(NULL, pb_task_find("unit_echo"), NULL, 0, &f), PB_EINVAL);
    assert_int_equal(pb_submit(p, NULL, NULL, 0, &f), PB_EINVAL);
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 3, &f), PB_EINVAL);
    assert_int_equal(pb_submit(p, pb_task_find("unit_echo"), NULL, 0, NULL), PB_EINVAL);
    assert_int_equal(pb_future_result(NULL, 0, NULL, NULL), PB_EINVAL);
    assert_int_equal(pb_future_error(NULL, 0, NULL), PB_EINVAL);
    assert_int_equal(pb_future_add_done_callback(NULL, record_cb, NULL), PB_EINVAL);
    assert_false(pb_future_cancel(NULL));
    pb_future_release(NULL);
    pb_pool_destroy(NULL);
    pb_as_completed_free(NULL);
    pb_map_free(NULL);
    assert_int_equal(pb_as_completed_new(NULL, 2, 0, NULL), PB_EINVAL);
    pb_future *nulls[2] = {NULL, NULL};
    assert_int_equal(pb_wait(nulls, 2, PB_ALL_COMPLETED, 0), PB_EINVAL);
    assert_int_equal(pb_wait(nulls, 2, (pb_return_when)77, 0), PB_EINVAL);
    assert_int_equal(pb_pool_binding(p, 0, NULL, 0), PB_EINVAL);
    char buf[8];
    assert_int_equal(pb_pool_binding(p, 0, buf, sizeof buf), PB_ENOTSUP);
    assert_int_equal(pb_pool_binding(p, 5, buf, sizeof buf), PB_EINVAL);
    pb_pool_destroy(p);
}

int main(int argc, char **argv)
{
    pb_worker_main_if_requested(argc, argv);
    if (pb_backend_register(&manual_backend) || pb_backend_register(&manual_late_backend))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_registry_many),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_backend_register),
        cmocka_unit_test(test_backend_unsupported),
        cmocka_unit_test(test_backend_options),
        cmocka_unit_test(test_backend_elsewhere),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_errors_carried),
        cmocka_unit_test(test_map_chunks),
        cmocka_unit_test(test_map_timeout_and_free),
        cmocka_unit_test(test_wait_modes),
        cmocka_unit_test(test_cancel_noticed_late),
        cmocka_unit_test(test_stat),
        cmocka_unit_test(test_as_completed_order_and_deadline),
        cmocka_unit_test(test_completion_order),
        cmocka_unit_test(test_shutdown_cancel_futures),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
