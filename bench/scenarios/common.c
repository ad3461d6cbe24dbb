/*
 * common.c — helpers shared by the scenario files. See common.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* What pbs_destroy_within shares with the thread destroying the pool: the
 * last of the two to let go frees it. */
typedef struct reaper {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
    pb_pool *pool;
} reaper;

static void reaper_free(reaper *r)
{
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void *reap(void *arg)
{
    reaper *r = arg;
    pb_pool_destroy(r->pool);
    pthread_mutex_lock(&r->mu);
    r->done = true;
    bool alone = r->abandoned;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (alone)
        reaper_free(r);
    return NULL;
}

int pbs_destroy_within(pb_pool *pool, int64_t limit)
{
    reaper *r = calloc(1, sizeof *r);
    pthread_condattr_t ca;
    if (!r || pthread_condattr_init(&ca) != 0) {
        free(r);
        pb_pool_destroy(pool); /* no room to do better */
        return 0;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&r->mu, NULL);
    r->pool = pool;
    /* The destroying thread takes no signal: SIGINT stays the harness's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int started = pthread_create(&t, NULL, reap, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started != 0) {
        reaper_free(r);
        pb_pool_destroy(pool);
        return 0;
    }
    int64_t end = pb_now_ns() + limit;
    struct timespec ts = {.tv_sec = end / 1000000000, .tv_nsec = end % 1000000000};
    pthread_mutex_lock(&r->mu);
    while (!r->done && pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
        ;
    bool done = r->done;
    r->abandoned = !done;
    pthread_mutex_unlock(&r->mu);
    if (!done) {
        pthread_detach(t);
        return PB_ETIMEDOUT;
    }
    pthread_join(t, NULL);
    reaper_free(r);
    return 0;
}

/* ---- Task shapes ---- */

/* The index of word among names (NULL-terminated); 0 if absent. */
static int word_index(const char *const *names, const char *word)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], word))
            return i;
    return 0;
}

void pbs_shape(pb_sc *sc, int64_t mean, int workers, pb_shape *out)
{
    *out = (pb_shape){
        .dist = (pb_dist)word_index(pb_dist_names, pb_sc_word(sc, "dist")),
        .mean = mean,
        .kind = (pb_work_kind)word_index(pb_work_names, pb_sc_word(sc, "kind")),
        .imbalance = pb_sc_num(sc, "imbalance"),
        .workers = workers > 0 ? workers : 1,
        .seed = (uint64_t)pb_sc_num(sc, "seed"),
    };
}

int pbs_shape_check(const pb_scenario *s, const pb_param_value *v, char *err, size_t errlen)
{
    int64_t k = pb_param_num(s, v, "imbalance");
    if (k <= PBS_IMBALANCE_MAX)
        return 0;
    snprintf(err, errlen, "parameter imbalance (%lld) is above %d", (long long)k,
             PBS_IMBALANCE_MAX);
    return PB_EINVAL;
}

uint64_t pbs_stream(const pb_sc *sc, unsigned purpose)
{
    /* Repetitions count from -warmup: shift them clear of 0. */
    return ((uint64_t)(uint32_t)(pb_sc_repetition(sc) + 1000000) << 32) | purpose;
}

int pbs_tasks_draw(pb_sc *sc, const pb_shape *shape, size_t n, uint64_t stream, pbs_tasks *t)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    if (pb_shape_plain(shape)) {
        t->task = pb_workload(shape->mean ? "spin" : "noop");
        t->g = shape->mean;
        t->total = (double)n * (double)shape->mean;
        return 0;
    }
    t->task = pb_workload("work");
    if (!(t->works = pbs_calloc(sc, n, sizeof *t->works)))
        return PB_ENOMEM;
    pb_shaper shaper;
    pb_shaper_init(&shaper, shape, stream);
    for (size_t i = 0; i < n; i++) {
        t->works[i] = pb_shaper_next(&shaper);
        t->total += (double)t->works[i].ns;
    }
    return 0;
}

void pbs_tasks_free(pbs_tasks *t)
{
    free(t->works);
    t->works = NULL;
}

int pbs_burst(pb_sc *sc, pb_pool *pool, const pbs_tasks *t, bool many, pb_future **fs,
              int64_t *elapsed)
{
    pb_bytes *args = NULL;
    if (many && (t->g || t->works)) {
        args = pbs_calloc(sc, t->n, sizeof *args);
        if (!args)
            return PB_ENOMEM;
        for (size_t i = 0; i < t->n; i++)
            args[i].data = pbs_task_arg(t, i, &args[i].len);
    }
    int rc = 0;
    size_t k = 0, n = t->n;
    pbs_outcomes o = {0};
    int64_t t0 = pb_now_ns();
    if (many) {
        rc = pb_submit_many(pool, t->task, args, n, fs);
        for (; k < n && fs[k]; k++) /* all, or none (or a prefix: see pb/pool.h) */
            ;
    } else {
        for (; k < n; k++) {
            size_t len;
            const void *arg = pbs_task_arg(t, k, &len);
            rc = pb_submit(pool, t->task, arg, len, &fs[k]);
            if (rc)
                break;
        }
    }
    for (size_t i = 0; i < k; i++)
        pbs_tally(&o, pb_future_result(fs[i], PB_FOREVER, NULL, NULL));
    int64_t t1 = pb_now_ns();
    pbs_release_all(fs, k);
    free(args);
    *elapsed = t1 - t0;
    if (rc == PB_ENOTSUP) /* a task this backend cannot run (a Python pool: no twin) */
        return pb_sc_skip(sc, "%s", pb_pool_last_error());
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

bool pbs_io(int fd, void *buf, size_t len, bool write_it)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = write_it ? write(fd, (char *)buf + done, len - done)
                             : read(fd, (char *)buf + done, len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        done += (size_t)r;
    }
    return true;
}

int pbs_child_start(pb_sc *sc, pbs_child *c)
{
    int down[2], up[2]; /* caller -> child, child -> caller */
    if (pipe2(down, O_CLOEXEC) != 0)
        return pb_sc_fail(sc, -errno, "pipe: %s", pb_strerror(-errno));
    if (pipe2(up, O_CLOEXEC) != 0) {
        int e = errno;
        close(down[0]);
        close(down[1]);
        return pb_sc_fail(sc, -e, "pipe: %s", pb_strerror(-e));
    }
    cpu_set_t cpus;
    bool bind = pb_sc_floor_cpus(sc, 0, &cpus) == 1;
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &c->old_mask);
    c->pid = fork();
    if (c->pid == 0) {
        close(down[1]);
        close(up[0]);
        c->in = down[0];
        c->out = up[1];
        if (bind)
            sched_setaffinity(0, sizeof cpus, &cpus);
        return 0;
    }
    int e = errno;
    close(down[0]);
    close(up[1]);
    c->out = down[1];
    c->in = up[0];
    if (c->pid < 0) {
        c->pid = -1;
        pbs_child_end(c);
        return pb_sc_fail(sc, -e, "fork: %s", pb_strerror(-e));
    }
    return 0;
}

void pbs_child_end(pbs_child *c)
{
    close(c->out); /* end of file: the child exits */
    close(c->in);
    if (c->pid > 0)
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE)
        ;
    pthread_sigmask(SIG_SETMASK, &c->old_mask, NULL);
}

#define SLICE_NS (100 * 1000000LL) /* a longer wait looks at pb_sc_stopping() this often */

int pbs_timedwait_floor(pb_sc *sc, unsigned long slack_ns)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    int64_t T = pb_sc_num(sc, "timeout");
    int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    if (slack_ns && prctl(PR_SET_TIMERSLACK, slack_ns, 0, 0, 0) != 0)
        return pb_sc_fail(sc, -errno, "cannot set the timer slack: %s", pb_strerror(-errno));
    pthread_condattr_t attr;
    pthread_cond_t cond;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cond, &attr);
    pthread_condattr_destroy(&attr);
    pb_samples *m = pb_sc_metric(sc, "overshoot", "ns", PBR_LOWER, n);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n && !pb_sc_stopping(sc); i++) {
        int64_t t0 = pb_now_ns(), deadline = t0 + T;
        /* A long T is waited in slices so that an interruption is seen;
         * the last wait still ends at the deadline, which is what the
         * overshoot is measured from. */
        for (;;) {
            int64_t now = pb_now_ns();
            int64_t until = deadline - now > SLICE_NS ? now + SLICE_NS : deadline;
            struct timespec ts = {.tv_sec = until / 1000000000, .tv_nsec = until % 1000000000};
            while (pthread_cond_timedwait(&cond, &lock, &ts) != ETIMEDOUT)
                ; /* a spurious wake-up: the deadline stands */
            if (until == deadline || pb_sc_stopping(sc))
                break;
        }
        int64_t t1 = pb_now_ns();
        pb_samples_add(m, (double)(t1 - deadline));
    }
    pthread_mutex_unlock(&lock);
    pthread_cond_destroy(&cond);
    if (slack_ns && old_slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack, 0, 0, 0);
    return 0;
}

double pbs_metg_point(size_t n, double work, int workers, int64_t elapsed, double *best)
{
    if (elapsed <= 0 || n == 0 || workers <= 0)
        return 0;
    double eff = work / workers / (double)elapsed;
    double effective = (double)elapsed * workers / (double)n;
    if (eff >= 0.5 && (*best < 0 || effective < *best))
        *best = effective;
    return eff;
}

void pbs_metg_record(pb_sc *sc, size_t n, int64_t g, double work, int workers, int64_t elapsed,
                     double *best)
{
    if (elapsed <= 0)
        return;
    double eff = pbs_metg_point(n, work, workers, elapsed, best);
    char name[64];
    snprintf(name, sizeof name, "efficiency_g%lld", (long long)g);
    pb_samples_add(pb_sc_metric(sc, name, "ratio", PBR_HIGHER, 1), eff);
    snprintf(name, sizeof name, "throughput_g%lld", (long long)g);
    pb_samples_add(pb_sc_metric(sc, name, "tasks/s", PBR_HIGHER, 1),
                   (double)n * 1e9 / (double)elapsed);
}
