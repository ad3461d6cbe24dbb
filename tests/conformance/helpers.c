/*
 * helpers.c — checks, pools, gates, threads and resource counts for cases.
 *
 * Everything here runs in a case's child process (see main.c). A failed check
 * writes its message both to stderr (so the child's output shows it where it
 * happened) and into the report shared with the parent (so the cmocka test
 * fails with it), then ends the child with _exit: no destructor, no pool
 * teardown that could hang on a broken pool.
 */
#include "conformance.h"

#include <pb/backend.h>
#include "census.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pbc_report *pbc__report;
char pbc__scratch[PATH_MAX];

/* ---- Checks ---- */

static void report_message(const char *prefix, const char *text)
{
    fflush(stdout);
    fprintf(stderr, "%s%s\n", prefix, text);
    if (pbc__report != NULL && pbc__report->step[0] != '\0')
        fprintf(stderr, "  (last step: %s)\n", pbc__report->step);
    fflush(stderr);
    if (pbc__report != NULL)
        snprintf(pbc__report->message, sizeof pbc__report->message, "%s", text);
}

void pbc__fail(const char *file, int line, const char *fmt, ...)
{
    char msg[sizeof pbc__report->message];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    report_message("FAILED: ", msg);
    _exit(PBC_EXIT_FAIL);
}

void pbc__skip(const char *fmt, ...)
{
    char msg[sizeof pbc__report->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "SKIPPED: %s\n", msg);
    fflush(stderr);
    if (pbc__report != NULL)
        snprintf(pbc__report->message, sizeof pbc__report->message, "%s", msg);
    _exit(PBC_EXIT_SKIP);
}

/* Steps come from helper threads too; one at a time into the report. */
static pthread_mutex_t step_lock = PTHREAD_MUTEX_INITIALIZER;

void pbc__step(const char *file, int line, const char *fmt, ...)
{
    if (pbc__report == NULL)
        return;
    char msg[sizeof pbc__report->step];
    const char *base = strrchr(file, '/');
    int n = snprintf(msg, sizeof msg, "%s:%d: ", base ? base + 1 : file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    /* One copy, so that a reader (the parent after a kill) sees a whole
     * string or the previous one with a NUL inside the buffer. */
    pthread_mutex_lock(&step_lock);
    memcpy(pbc__report->step, msg, sizeof msg);
    pthread_mutex_unlock(&step_lock);
}

const char *pbc_state_name(pb_state s)
{
    switch (s) {
    case PB_PENDING: return "PENDING";
    case PB_RUNNING: return "RUNNING";
    case PB_CANCELLED: return "CANCELLED";
    case PB_FINISHED: return "FINISHED";
    }
    return "(not a pb_state)";
}

void pbc__check_state_consistent(const char *file, int line, const pb_future *f,
                                 pb_state want)
{
    pb_state st = pb_future_state(f);
    if (st != want)
        pbc__fail(file, line, "state is %s, expected %s", pbc_state_name(st),
                  pbc_state_name(want));
    bool done = want == PB_FINISHED || want == PB_CANCELLED;
    if (pb_future_done(f) != done)
        pbc__fail(file, line, "pb_future_done() is %d in state %s", !done,
                  pbc_state_name(want));
    if (pb_future_running(f) != (want == PB_RUNNING))
        pbc__fail(file, line, "pb_future_running() is %d in state %s",
                  want != PB_RUNNING, pbc_state_name(want));
    if (pb_future_cancelled(f) != (want == PB_CANCELLED))
        pbc__fail(file, line, "pb_future_cancelled() is %d in state %s",
                  want != PB_CANCELLED, pbc_state_name(want));
}

/* ---- Pools and tasks ---- */

pb_pool *pbc_pool(const char *backend, int workers, const pb_pool_opts *opts)
{
    pb_pool_opts o;
    if (opts == NULL) {
        pb_pool_opts_init(&o);
        o.workers = workers;
        opts = &o;
    }
    STEP("pb_pool_create(\"%s\", workers=%d)", backend, opts->workers);
    pb_pool *pool = NULL;
    int rc = pb_pool_create(backend, opts, &pool);
    if (rc == PB_ENOTSUP)
        SKIP("backend %s cannot do this: %s", backend, pb_pool_last_error());
    if (rc != 0)
        FAIL("pb_pool_create(\"%s\") returned %d (%s): %s", backend, rc,
             pb_strerror(rc), pb_pool_last_error());
    CHECK_MSG(pool != NULL, "pb_pool_create returned 0 without a pool");
    return pool;
}

const char *pbc_backend_name(const char *backend)
{
    static char name[128];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(backend, ":"), backend);
    return name;
}

const pb_task *pbc_task(const char *name)
{
    const pb_task *t = pb_task_find(name);
    CHECK_MSG(t != NULL, "task %s is not registered", name);
    return t;
}

pb_future *pbc_submit(pb_pool *pool, const char *task, const void *arg, size_t len)
{
    pb_future *f = NULL;
    int rc = pb_submit(pool, pbc_task(task), arg, len, &f);
    CHECK_MSG(rc == 0, "pb_submit(%s) returned %d (%s)", task, rc, pb_strerror(rc));
    CHECK_MSG(f != NULL, "pb_submit(%s) returned 0 without a future", task);
    return f;
}

pb_future *pbc_submit_u64(pb_pool *pool, uint64_t v)
{
    return pbc_submit(pool, "conf_echo", &v, sizeof v);
}

void pbc__check_u64(const char *file, int line, pb_future *f, uint64_t want)
{
    const void *data = NULL;
    size_t len = 0;
    int rc = pb_future_result(f, PB_FOREVER, &data, &len);
    if (rc != 0) {
        pb_error err = {0};
        pb_future_error(f, 0, &err);
        pbc__fail(file, line, "result for %llu: %d (%s): %s", (unsigned long long)want,
                  rc, pb_strerror(rc), err.message ? err.message : "");
    }
    uint64_t got = 0;
    if (len != sizeof got || data == NULL)
        pbc__fail(file, line, "result for %llu has %zu bytes, expected 8",
                  (unsigned long long)want, len);
    memcpy(&got, data, sizeof got);
    if (got != want)
        pbc__fail(file, line, "result is %llu, expected %llu", (unsigned long long)got,
                  (unsigned long long)want);
}

void pbc__await_running(const char *file, int line, pb_future *f, bool finished_ok)
{
    pbc__step(file, line, "waiting for a future to leave PENDING");
    for (unsigned i = 0; pb_future_state(f) == PB_PENDING; i++)
        pbc_pause(i);
    pb_state st = pb_future_state(f);
    if (st != PB_RUNNING && !(finished_ok && st == PB_FINISHED))
        pbc__fail(file, line, "a future left PENDING for %s, expected RUNNING",
                  pbc_state_name(st));
}

void pbc_pause(unsigned iteration)
{
    if (iteration < 20) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, iteration < 200 ? 50 * 1000 : 1000 * 1000};
    nanosleep(&ts, NULL);
}

void pbc_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- Gates ---- */

void pbc_gate_init(pbc_gate *g)
{
    static int next;
    int n = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
    int w = snprintf(g->path, sizeof g->path, "%s/gate.%d", pbc__scratch, n);
    CHECK(w > 0 && (size_t)w < sizeof g->path);
    CHECK_MSG(access(g->path, F_OK) != 0, "gate %s exists already", g->path);
}

void pbc_gate_open(pbc_gate *g)
{
    STEP("opening %s", g->path);
    int fd = open(g->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK_MSG(fd >= 0, "cannot create %s: %s", g->path, strerror(errno));
    close(fd);
}

pb_future *pbc_submit_gate(pb_pool *pool, const pbc_gate *g)
{
    return pbc_submit(pool, "conf_gate", g->path, strlen(g->path));
}

int pbc_gate_started(const pbc_gate *g)
{
    const char *base = strrchr(g->path, '/');
    base = base ? base + 1 : g->path;
    char prefix[PATH_MAX + 16];
    snprintf(prefix, sizeof prefix, "%s.started.", base);
    DIR *d = opendir(pbc__scratch);
    CHECK_MSG(d != NULL, "opendir %s: %s", pbc__scratch, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* With every worker blocked: submits PBC_BACKLOG echo tasks (of their index)
 * into fs and checks that the last one is PENDING (see conformance.h). */
static void submit_backlog(const char *file, int line, pb_pool *pool, pb_future **fs)
{
    for (uint64_t i = 0; i < PBC_BACKLOG; i++)
        fs[i] = pbc_submit_u64(pool, i);
    pb_state st = pb_future_state(fs[PBC_BACKLOG - 1]);
    if (st != PB_PENDING)
        pbc__fail(file, line,
                  "the last of %d tasks queued behind blocked workers is %s, not "
                  "PENDING: the backend handed them all to busy workers",
                  PBC_BACKLOG, pbc_state_name(st));
}

void pbc_release_all(pb_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pb_future_release(fs[i]);
        fs[i] = NULL;
    }
}

/* ---- A pool with every worker blocked ---- */

void pbc__blocked_setup(const char *file, int line, pbc_blocked *b, pb_pool *pool,
                        bool backlog)
{
    memset(b, 0, sizeof *b);
    b->pool = pool;
    b->workers = pb_pool_workers(pool);
    if (b->workers < 1)
        pbc__fail(file, line, "pb_pool_workers() is %d", b->workers);
    b->blockers = calloc((size_t)b->workers, sizeof *b->blockers);
    CHECK(b->blockers != NULL);
    pbc_gate_init(&b->gate);
    for (int i = 0; i < b->workers; i++)
        b->blockers[i] = pbc_submit_gate(pool, &b->gate);
    pbc__step(file, line, "waiting for %d gate tasks to start (one per worker)",
              b->workers);
    for (unsigned k = 0; pbc_gate_started(&b->gate) < b->workers; k++)
        pbc_pause(k);
    for (int i = 0; i < b->workers; i++)
        pbc__await_running(file, line, b->blockers[i], false);
    if (backlog) {
        submit_backlog(file, line, pool, b->backlog);
        b->pending = b->backlog[PBC_BACKLOG - 1];
    }
}

void pbc_blocked_teardown(pbc_blocked *b)
{
    pbc_gate_open(&b->gate);
    pb_pool_destroy(b->pool);
    b->pool = NULL;
    pbc_release_all(b->blockers, (size_t)b->workers);
    free(b->blockers);
    b->blockers = NULL;
    b->workers = 0;
    pbc_release_all(b->backlog, PBC_BACKLOG);
    b->pending = NULL;
}

/* ---- Threads and counters ---- */

void pbc_thread_start(pbc_thread *t, void *(*fn)(void *), void *arg)
{
    int rc = pthread_create(&t->id, NULL, fn, arg);
    CHECK_MSG(rc == 0, "pthread_create: %s", strerror(rc));
}

void pbc_thread_join(pbc_thread *t)
{
    STEP("joining a helper thread");
    int rc = pthread_join(t->id, NULL);
    CHECK_MSG(rc == 0, "pthread_join: %s", strerror(rc));
}

void pbc_counter_init(pbc_counter *c)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->value = 0;
}

void pbc_counter_add(pbc_counter *c, long n)
{
    pthread_mutex_lock(&c->mu);
    c->value += n;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

long pbc_counter_get(pbc_counter *c)
{
    pthread_mutex_lock(&c->mu);
    long v = c->value;
    pthread_mutex_unlock(&c->mu);
    return v;
}

void pbc_counter_wait_ge(pbc_counter *c, long n)
{
    STEP("waiting for a counter to reach %ld", n);
    pthread_mutex_lock(&c->mu);
    while (c->value < n)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

void pbc_counter_destroy(pbc_counter *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* ---- Resources ---- */

/* Both fd counts include the descriptor that lists the directory; they are
 * only ever compared with each other. */
int pbc_count_fds(void)
{
    int n = pbt_count_fds();
    CHECK_MSG(n >= 0, "listing /proc/self/fd: %s", strerror(errno));
    return n;
}

int pbc_count_threads_quiet(void)
{
    int n = pbt_threads_quiet();
    CHECK_MSG(n >= 0, "listing /proc/self/task: %s", strerror(errno));
    return n;
}

int pbc_count_threads_settled(int expect)
{
    int n = pbt_threads_settled(expect);
    CHECK_MSG(n >= 0, "listing /proc/self/task: %s", strerror(errno));
    return n;
}

bool pbc_has_children(void)
{
    return pbt_has_children();
}

long pbc_gettid(void)
{
    return (long)syscall(SYS_gettid);
}

int pbc_allowed_cpus(int *first)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK_MSG(sched_getaffinity(0, sizeof set, &set) == 0, "sched_getaffinity: %s",
              strerror(errno));
    if (first != NULL) {
        *first = -1;
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (CPU_ISSET(c, &set)) {
                *first = c;
                break;
            }
        }
    }
    return CPU_COUNT(&set);
}

bool pbc_own_default_workers(const char *backend)
{
    const pb_backend *b = pb_backend_find(backend);
    return b != NULL && b->default_workers != NULL;
}

int pbc_default_workers(const char *backend)
{
    const pb_backend *b = pb_backend_find(backend);
    return b != NULL && b->default_workers != NULL ? b->default_workers()
                                                   : pbc_allowed_cpus(NULL);
}

const char *pbc_scratch_dir(void)
{
    return pbc__scratch;
}
