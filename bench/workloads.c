/*
 * workloads.c — the task functions scenarios submit. See workloads.h.
 *
 * These run inside workers, possibly in another process, so they touch no
 * harness state and report everything through pb_task_return/pb_task_fail.
 * A malformed argument is reported as a task failure (code EINVAL) rather
 * than guessed at: a scenario that sends the wrong bytes should see it.
 *
 * Memory work streams over one buffer per process, made (and faulted in)
 * by the first memory task and kept for the life of the process: a fork
 * worker shares its parent's pages until either writes, and nobody does.
 * Each thread keeps its own place in it, so a thread's next task streams on
 * from where its last one stopped instead of re-reading what the cache
 * still holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "workloads.h"

/* ---- The stop flag (workloads.h: Interruption) ---- */

#define STOP_ENV "POOLBENCH_WORKLOAD_STOP_FD"
#define STOP_NAME "poolbench-workload-stop"
#define STOP_SLICE_NS (50 * 1000000LL) /* how often a long sleep looks at it */

static atomic_int own_stop;
/* The flag: this process's own, or the shared page once there is one. Set
 * before any worker runs a task (share) or at load (attach). */
static atomic_int *_Atomic stop_flag = &own_stop;

bool pb_workloads_interrupted(void)
{
    return atomic_load_explicit(atomic_load_explicit(&stop_flag, memory_order_relaxed),
                                memory_order_relaxed) != 0;
}

void pb_workloads_interrupt(void)
{
    atomic_store_explicit(atomic_load_explicit(&stop_flag, memory_order_relaxed), 1,
                          memory_order_relaxed);
}

void pb_workloads_resume(void)
{
    atomic_store_explicit(atomic_load_explicit(&stop_flag, memory_order_relaxed), 0,
                          memory_order_relaxed);
}

int pb_workloads_share_stop(void)
{
    static int fd = -1;
    if (fd >= 0)
        return 0;
    /* Not close-on-exec: exec'd workers map it. Moved above the low fds a
     * spawner may dup2 its own onto in the child (the exec backend puts its
     * socket at 3 or 4). */
    int m = memfd_create(STOP_NAME, 0);
    if (m < 0)
        return -errno;
    int f = fcntl(m, F_DUPFD, 10);
    close(m);
    if (f < 0)
        return -errno;
    void *page = MAP_FAILED;
    if (ftruncate(f, (off_t)sizeof(atomic_int)) == 0)
        page = mmap(NULL, sizeof(atomic_int), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    char num[16];
    snprintf(num, sizeof num, "%d", f);
    if (page == MAP_FAILED || setenv(STOP_ENV, num, 1) != 0) {
        int e = errno;
        if (page != MAP_FAILED)
            munmap(page, sizeof(atomic_int));
        close(f);
        return -e;
    }
    atomic_store((atomic_int *)page, atomic_load(&own_stop));
    atomic_store(&stop_flag, (atomic_int *)page);
    fd = f;
    return 0;
}

/* In an exec'd worker (PB_EXEC_WORKER=1 until its main() runs): the parent's
 * flag, read-only, if the fd named is really that memfd. Runs before main. */
__attribute__((constructor)) static void attach_stop(void)
{
    const char *env = getenv(STOP_ENV);
    const char *worker = getenv("PB_EXEC_WORKER");
    if (!env)
        return;
    char *end;
    long f = strtol(env, &end, 10);
    unsetenv(STOP_ENV); /* nothing this process starts inherits it */
    if (!worker || strcmp(worker, "1") || *end || end == env || f < 0 || f > 1 << 20)
        return;
    char link[64], target[128];
    snprintf(link, sizeof link, "/proc/self/fd/%ld", f);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return;
    target[n] = '\0';
    struct stat st;
    if (strncmp(target, "/memfd:" STOP_NAME, strlen("/memfd:" STOP_NAME)) == 0 &&
        fstat((int)f, &st) == 0 && st.st_size >= (off_t)sizeof(atomic_int)) {
        void *page = mmap(NULL, sizeof(atomic_int), PROT_READ, MAP_SHARED, (int)f, 0);
        if (page != MAP_FAILED)
            atomic_store(&stop_flag, (atomic_int *)page);
        close((int)f);
    }
}

uint64_t pb_workload_checksum(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void pb_workload_fail_message(int32_t code, char *buf, size_t size)
{
    snprintf(buf, size, "workload 'fail' failed on purpose with code %d", (int)code);
}

const pb_task *pb_workload(const char *name)
{
    const pb_task *t = pb_task_find(name);
    if (!t) {
        /* A scenario naming a workload that does not exist is a bug in
         * poolbench itself, not bad input: say so and stop. */
        fprintf(stderr, "poolbench: internal error: workload '%s' is not registered\n", name);
        abort();
    }
    return t;
}

/* Copies a task's argument of `size` bytes, a `what` (a type's name), into
 * out; false after failing the task when it is another size. */
static bool arg_of(pb_task_ctx *ctx, const char *who, const char *what, const void *arg,
                   size_t len, void *out, size_t size)
{
    if (len != size) {
        pb_task_fail(ctx, EINVAL, "%s: argument must be a %s (%zu bytes given)", who, what, len);
        return false;
    }
    memcpy(out, arg, size);
    return true;
}

/* The int64_t argument of spin and sleep, or -1 after failing the task. */
static int64_t ns_arg(pb_task_ctx *ctx, const char *who, const void *arg, size_t len)
{
    int64_t ns;
    if (len != sizeof ns) {
        pb_task_fail(ctx, EINVAL, "%s: argument must be an int64_t of nanoseconds (%zu bytes given)",
                     who, len);
        return -1;
    }
    memcpy(&ns, arg, sizeof ns);
    if (ns < 0) {
        pb_task_fail(ctx, EINVAL, "%s: negative duration %lld ns", who, (long long)ns);
        return -1;
    }
    return ns;
}

/* Busy on the clock for ns: the vDSO clock read costs tens of ns, so this
 * overruns by at most one read. Ends early when interrupted (returns
 * false). */
bool pb_workload_spin(int64_t ns)
{
    int64_t end = pb_now_ns() + ns;
    while (pb_now_ns() < end)
        if (pb_workloads_interrupted())
            return false;
    return true;
}

/* Sleeps until the CLOCK_MONOTONIC time end (ns), in slices so that an
 * interruption is seen within one; the last slice ends at `end` itself, so
 * the sleep is as exact as one call. false when interrupted. */
static bool sleep_until(int64_t end)
{
    for (;;) {
        if (pb_workloads_interrupted())
            return false;
        int64_t now = pb_now_ns();
        if (now >= end)
            return true;
        int64_t to = end - now > STOP_SLICE_NS ? now + STOP_SLICE_NS : end;
        struct timespec ts = {.tv_sec = to / 1000000000, .tv_nsec = to % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
}

static void interrupted(pb_task_ctx *ctx, const char *who)
{
    pb_task_fail(ctx, EINTR, "%s: interrupted (the run is stopping)", who);
}

PB_TASK(noop)
{
}

PB_TASK(spin)
{
    int64_t ns = ns_arg(ctx, "spin", arg, len);
    if (ns < 0)
        return;
    if (!pb_workload_spin(ns)) {
        interrupted(ctx, "spin");
        return;
    }
    pb_task_return(ctx, arg, len);
}

/* Registered by hand: PB_TASK(sleep) would define a function called sleep,
 * which <unistd.h> already declares. */
static void sleep_task(pb_task_ctx *ctx, const void *arg, size_t len)
{
    int64_t ns = ns_arg(ctx, "sleep", arg, len);
    if (ns < 0)
        return;
    if (!sleep_until(pb_now_ns() + ns)) {
        interrupted(ctx, "sleep");
        return;
    }
    pb_task_return(ctx, arg, len);
}

__attribute__((constructor)) static void register_sleep(void)
{
    if (pb_task_register("sleep", sleep_task) != 0) {
        fprintf(stderr, "poolbench: cannot register the 'sleep' workload\n");
        abort();
    }
}

PB_TASK(echo)
{
    pb_task_return(ctx, arg, len);
}

PB_TASK(checksum)
{
    uint64_t h = pb_workload_checksum(arg, len);
    pb_task_return(ctx, &h, sizeof h);
}

PB_TASK(fail)
{
    int32_t code = 1;
    if (len == sizeof code)
        memcpy(&code, arg, sizeof code);
    else if (len != 0) {
        pb_task_fail(ctx, EINVAL, "fail: argument must be an int32_t code (%zu bytes given)", len);
        return;
    }
    char msg[128];
    pb_workload_fail_message(code, msg, sizeof msg);
    pb_task_fail(ctx, code, "%s", msg);
}

PB_TASK(report)
{
    pb_report r = {
        .cpu = sched_getcpu(),
        .pid = (int32_t)getpid(),
        .tid = (int32_t)syscall(SYS_gettid),
        .now = pb_now_ns(),
    };
    /* An optional int64_t argument: spin that long first, so a burst of
     * reports spreads over every worker instead of one fast worker taking
     * them all. The CPU is read again at the end. */
    if (len == sizeof(int64_t)) {
        int64_t ns;
        memcpy(&ns, arg, sizeof ns);
        if (!pb_workload_spin(ns)) {
            interrupted(ctx, "report");
            return;
        }
        r.cpu = sched_getcpu();
    }
    pb_task_return(ctx, &r, sizeof r);
}

/* A real invalid access. UndefinedBehaviorSanitizer would catch it first and
 * end the worker with exit status 1 instead of SIGSEGV, so it is told not
 * to look here: sanitizer builds must see the same crash as others. */
__attribute__((no_sanitize("undefined"))) static void store_to_null(void)
{
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
}

PB_TASK(crash)
{
    char how[16] = "";
    if (len > 0 && len < sizeof how)
        memcpy(how, arg, len);
    /* A crash report is expected, not a core file on the user's disk. */
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    if (!strcmp(how, "segv")) {
        signal(SIGSEGV, SIG_DFL);
        store_to_null();
        raise(SIGSEGV); /* not reached on Linux; keeps the promise if it were */
    } else if (!strcmp(how, "abort")) {
        signal(SIGABRT, SIG_DFL);
        abort();
    } else if (!strcmp(how, "exit")) {
        _exit(PB_WORKLOAD_EXIT_STATUS);
    }
    pb_task_fail(ctx, EINVAL, "crash: argument must be \"segv\", \"abort\" or \"exit\"");
}

PB_TASK(hang)
{
    /* Until task_timeout kills its worker; or the run stops. */
    while (sleep_until(INT64_MAX / 2))
        ;
    interrupted(ctx, "hang");
}

/* ---- Task shapes ---- */

const char *const pb_dist_names[] = {"fixed", "uniform", "exponential", "bimodal", "pareto", NULL};
const char *const pb_work_names[] = {"spin", "memory", "sleep", "mix", NULL};

/* Pareto with shape 1.5 and scale PARETO_SCALE * mean, clipped at
 * PARETO_CLIP * mean, has mean exactly `mean`: PARETO_SCALE solves
 * 3a - 0.2 a^1.5 = 1 (the clipped mean, a xm a/(a-1) - xm^a c^(1-a)/(a-1),
 * with a = 1.5 and c = 100). */
#define PARETO_SHAPE 1.5
#define PARETO_SCALE 0.3469579404504506
#define PARETO_CLIP 100.0
/* Bimodal: 1 in BIMODAL_ONE_IN is long, BIMODAL_RATIO times the short. */
#define BIMODAL_ONE_IN 10
#define BIMODAL_RATIO 10.0

void pb_shaper_init(pb_shaper *s, const pb_shape *shape, uint64_t stream)
{
    s->shape = *shape;
    if (s->shape.imbalance < 1)
        s->shape.imbalance = 1;
    if (s->shape.workers < 1)
        s->shape.workers = 1;
    pb_rng_seed(&s->rng, shape->seed, stream);
    s->index = 0;
}

/* Uniform in (0, 1): 53 random bits, never 0 (logarithms follow). */
static double unit_open(pb_rng *r)
{
    return ((double)(pb_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double draw(pb_shaper *s)
{
    double g = (double)s->shape.mean;
    switch (s->shape.dist) {
    case PB_DIST_FIXED:
        return g;
    case PB_DIST_UNIFORM:
        return 2 * g * unit_open(&s->rng);
    case PB_DIST_EXPONENTIAL:
        return -g * log(unit_open(&s->rng));
    case PB_DIST_BIMODAL: {
        double shortest = g * BIMODAL_ONE_IN / (BIMODAL_ONE_IN - 1 + BIMODAL_RATIO);
        return pb_rng_below(&s->rng, BIMODAL_ONE_IN) == 0 ? shortest * BIMODAL_RATIO : shortest;
    }
    case PB_DIST_PARETO: {
        double x = PARETO_SCALE * g * pow(unit_open(&s->rng), -1.0 / PARETO_SHAPE);
        return x < PARETO_CLIP * g ? x : PARETO_CLIP * g;
    }
    }
    return g;
}

pb_work pb_shaper_next(pb_shaper *s)
{
    pb_work w = {.kind = s->shape.kind};
    if (w.kind == PB_WORK_MIX)
        w.kind = (int32_t)pb_rng_below(&s->rng, 3); /* spin, memory or sleep */
    double ns = draw(s);
    if (s->shape.imbalance > 1 && s->index % (uint64_t)s->shape.workers == 0)
        ns *= (double)s->shape.imbalance;
    w.ns = ns < 9e18 ? llround(ns) : INT64_MAX;
    s->index++;
    return w;
}

bool pb_shape_plain(const pb_shape *shape)
{
    return shape->dist == PB_DIST_FIXED && shape->kind == PB_WORK_SPIN && shape->imbalance <= 1;
}

/* The last-level cache of CPU 0 from sysfs (the largest cache of the
 * highest level), else sysconf's L3, else 0. */
static size_t llc_size(void)
{
    size_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 16; i++) {
        char path[96], buf[64];
        int level = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        if (fscanf(f, "%d", &level) != 1)
            level = 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r")))
            continue;
        size_t size = 0;
        char unit = 0;
        if (fgets(buf, sizeof buf, f) && sscanf(buf, "%zu%c", &size, &unit) >= 1) {
            size *= unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1;
            if (level > best_level || (level == best_level && size > best)) {
                best_level = level;
                best = size;
            }
        }
        fclose(f);
    }
    if (!best) {
        long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
        best = l3 > 0 ? (size_t)l3 : 0;
    }
    return best;
}

size_t pb_workload_buffer_size(void)
{
    size_t size = 2 * llc_size();
    const size_t lo = (size_t)16 << 20, hi = (size_t)512 << 20;
    return size < lo ? lo : size > hi ? hi : size;
}

static const uint64_t *stream_buf;
static size_t stream_words;
static pthread_once_t stream_once = PTHREAD_ONCE_INIT;

static void stream_init(void)
{
    size_t size = pb_workload_buffer_size();
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    /* Distinct non-zero contents, so no page is the shared zero page. */
    uint64_t *w = p;
    for (size_t i = 0; i < size / sizeof *w; i += 512)
        w[i] = i | 1;
    stream_buf = w;
    stream_words = size / sizeof *w;
}

/* Reads one word per cache line of the buffer for ns; where this thread
 * stopped last time is where it goes on. Spins instead when the buffer
 * could not be made. */
static void stream_for(int64_t ns)
{
    static _Thread_local size_t at;
    pthread_once(&stream_once, stream_init);
    if (!stream_buf) {
        pb_workload_spin(ns);
        return;
    }
    int64_t end = pb_now_ns() + ns;
    uint64_t sum = 0;
    do {
        /* 64 KiB between clock reads: ~10 us at memory speed. */
        for (size_t k = 0; k < 8192; k += 8) {
            sum += stream_buf[at];
            at += 8; /* 64 bytes: the next cache line */
            if (at >= stream_words)
                at = 0;
        }
    } while (pb_now_ns() < end && !pb_workloads_interrupted());
    /* Keep the reads: the compiler may not drop what it cannot prove unused. */
    __asm__ volatile("" : : "r"(sum));
}

void pb_workload_run(const pb_work *w)
{
    switch (w->kind) {
    case PB_WORK_MEMORY:
        stream_for(w->ns);
        break;
    case PB_WORK_SLEEP:
        (void)sleep_until(pb_now_ns() + w->ns); /* ends early when interrupted */
        break;
    default:
        pb_workload_spin(w->ns);
        break;
    }
}

PB_TASK(work)
{
    pb_work w;
    if (!arg_of(ctx, "work", "pb_work", arg, len, &w, sizeof w))
        return;
    if (w.ns < 0 || w.kind < PB_WORK_SPIN || w.kind > PB_WORK_SLEEP) {
        pb_task_fail(ctx, EINVAL, "work: bad kind %d or duration %lld ns", (int)w.kind,
                     (long long)w.ns);
        return;
    }
    pb_workload_run(&w);
}

/* ---- Nested tasks ---- */

int64_t pb_nest_fib(int n)
{
    int64_t a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        int64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

/* fib the slow way: the work a leaf of the fib tree does. */
static int64_t fib_alone(int n)
{
    return n < 2 ? n : fib_alone(n - 1) + fib_alone(n - 2);
}

#define NEST_MAX_FANOUT 64

/* Waits for subtask i of fs[0..n) to the shared deadlines (workloads.h).
 * At the deadline, the subtasks from i on that have not started are
 * cancelled (*never counts them): if subtask i is one, this level is where
 * the pool stopped; if it runs, it is waited for until the grace, since a
 * deeper wait that gives up tells more. Returns 0 with the subtask's result
 * in *r, or fails the task and returns PB_ETASK. */
static int nest_wait(pb_task_ctx *ctx, const pb_nest_arg *a, pb_future *const *fs, int i, int n,
                     int *never, pb_nest_result *r)
{
    pb_future *f = fs[i];
    int64_t left = a->deadline - pb_now_ns();
    const void *data = NULL;
    size_t dlen = 0;
    int rc = pb_future_result(f, left > 0 ? left : 0, &data, &dlen);
    if (rc == PB_ETIMEDOUT) {
        for (int k = i; k < n; k++)
            if (pb_future_state(fs[k]) == PB_PENDING && pb_future_cancel(fs[k]))
                ++*never;
        if (!pb_future_cancelled(f)) {
            left = a->grace - pb_now_ns();
            rc = pb_future_result(f, left > 0 ? left : 0, &data, &dlen);
            if (rc == PB_ETIMEDOUT)
                return pb_task_fail(ctx, PB_NEST_TIMEOUT + a->level,
                                    "timed out at depth %d: a subtask was still running at the "
                                    "deadline and after the grace (slow, not stuck)",
                                    a->level);
        } else {
            rc = PB_ECANCELED;
        }
    }
    if (rc == PB_ECANCELED && *never)
        return pb_task_fail(ctx, PB_NEST_DEADLOCK + a->level,
                            "deadlock at depth %d: %d of the %d subtasks a task there waited for "
                            "had not started when the deadline passed (every worker waiting, "
                            "none left to run them)",
                            a->level, *never, n);
    if (rc == 0 && dlen == sizeof *r) {
        memcpy(r, data, sizeof *r);
        return 0;
    }
    pb_error e = {0};
    if (rc == PB_ETASK && pb_future_error(f, 0, &e) == 0)
        return pb_task_fail(ctx, e.task_code, "%s", e.message); /* the deepest says why */
    return pb_task_fail(ctx, EPROTO, "a subtask at depth %d failed: %s", a->level + 1,
                        rc ? pb_strerror(rc) : "its result is malformed");
}

PB_TASK(nest)
{
    pb_nest_arg a;
    if (!arg_of(ctx, "nest", "pb_nest_arg", arg, len, &a, sizeof a))
        return;
    pb_nest_result res = {.value = 0, .tasks = 1};
    bool leaf = a.shape == PB_NEST_FIB ? a.n <= a.cutoff || a.n < 2 : a.level >= a.depth;
    if (leaf) {
        if (a.shape == PB_NEST_FIB) {
            res.value = fib_alone(a.n);
        } else {
            pb_workload_spin(a.leaf);
            res.value = 1;
        }
        pb_task_return(ctx, &res, sizeof res);
        return;
    }
    pb_pool *pool = pb_task_pool(ctx);
    if (!pool) {
        pb_task_fail(ctx, ENOTSUP, "nested tasks need their pool inside the task, and this one "
                     "runs in a worker process, which has no handle to its pool");
        return;
    }
    int n = a.shape == PB_NEST_FIB ? 2 : a.fanout;
    if (n < 1 || n > NEST_MAX_FANOUT) {
        pb_task_fail(ctx, EINVAL, "nest: fanout %d is not in 1..%d", n, NEST_MAX_FANOUT);
        return;
    }
    pb_future *fs[NEST_MAX_FANOUT] = {0};
    const pb_task *self = pb_task_find("nest");
    int k = 0, rc = 0;
    for (; k < n; k++) {
        pb_nest_arg sub = a;
        sub.level = a.level + 1;
        sub.n = a.n - 1 - k; /* fib: n-1, n-2 */
        rc = pb_submit(pool, self, &sub, sizeof sub, &fs[k]);
        if (rc) {
            fs[k] = NULL;
            pb_task_fail(ctx, rc == PB_ENOTSUP ? ENOTSUP : EPROTO,
                         "nested submit at depth %d failed: %s: %s", a.level, pb_strerror(rc),
                         pb_pool_last_error());
            break;
        }
    }
    int never = 0;
    for (int i = 0; i < k && !rc; i++) {
        pb_nest_result sub;
        if (nest_wait(ctx, &a, fs, i, k, &never, &sub)) {
            rc = PB_ETASK;
            break;
        }
        res.value += sub.value;
        res.tasks += sub.tasks;
    }
    /* On failure, what has not started is not wanted any more. */
    for (int i = 0; i < k; i++) {
        if (rc)
            pb_future_cancel(fs[i]);
        pb_future_release(fs[i]);
    }
    if (!rc)
        pb_task_return(ctx, &res, sizeof res);
}
