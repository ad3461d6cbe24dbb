/*
 * floor_spin_pingpong.c — the spinning floor of a hand-off: between two
 * threads, or between two processes.
 *
 * The caller and a responder (a thread, or a forked process sharing one
 * MAP_SHARED page; bound where the pools' worker 0 is bound) pass a token
 * back and forth through one word. Each side waits for its turn as a
 * spinning pool does: it busy-waits on the word (a pause instruction per
 * look, a sched_yield every 64, so that it never keeps another runnable
 * thread off a shared core) for up to `spin`, then counts itself a sleeper
 * and sleeps in FUTEX_WAIT; the other side wakes it only when it counts one.
 * In a tight ping-pong the answer comes within the spin, so no side sleeps:
 * this is the fastest hand-off the machine allows between two parties that
 * still sleep when idle.
 *   roundtrip  caller → responder → caller (ns), one sample per exchange;
 *   rate       exchanges per second, one value per repetition.
 * Pools whose hand-offs spin (pb_pool_spins()) have their round trips held
 * against this (between=threads for in-process pools, processes for the
 * others); pools that only sleep are held against futex_pingpong and
 * pipe_pingpong. Both sides burn a core while they spin: compare CPU time
 * too, not only latency.
 *
 * The responder process only uses atomics, futex, sched_setaffinity,
 * sched_yield and _exit, all safe after fork() in a threaded process. The
 * caller's futex waits are bounded (100 ms) so that a responder process that
 * died is noticed rather than waited for.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

enum { PING = 1, PONG, QUIT };

typedef struct shared {
    _Atomic uint32_t word;
    _Atomic uint32_t sleepers;
    int64_t spin;
    int futex_flags; /* FUTEX_PRIVATE_FLAG between threads, 0 between processes */
    cpu_set_t cpus;
    bool bind;
} shared;

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Waits until word is `want` or QUIT and returns it; returns 0 instead when
 * the wait is `bounded` and a 100 ms sleep ran out (the caller then looks
 * whether the responder process still lives). */
static uint32_t await(shared *s, uint32_t want, bool bounded)
{
    int64_t end = pb_now_ns() + s->spin;
    uint32_t w;
    for (unsigned i = 1;; i++) {
        w = atomic_load(&s->word);
        if (w == want || w == QUIT)
            return w;
        relax();
        if ((i & 63) == 0) {
            if (pb_now_ns() >= end)
                break;
            sched_yield();
        }
    }
    struct timespec limit = {0, 100000000};
    for (;;) {
        atomic_fetch_add(&s->sleepers, 1);
        w = atomic_load(&s->word);
        long r = 0;
        if (w != want && w != QUIT)
            r = syscall(SYS_futex, (uint32_t *)&s->word, FUTEX_WAIT | s->futex_flags, w,
                        bounded ? &limit : NULL, NULL, 0);
        atomic_fetch_sub(&s->sleepers, 1);
        w = atomic_load(&s->word);
        if (w == want || w == QUIT)
            return w;
        if (r < 0 && errno == ETIMEDOUT && bounded)
            return 0;
    }
}

static void post(shared *s, uint32_t v)
{
    atomic_store(&s->word, v);
    if (atomic_load(&s->sleepers))
        syscall(SYS_futex, (uint32_t *)&s->word, FUTEX_WAKE | s->futex_flags, 1, NULL, NULL, 0);
}

static void respond(shared *s)
{
    if (s->bind)
        sched_setaffinity(0, sizeof s->cpus, &s->cpus);
    while (await(s, PING, false) == PING)
        post(s, PONG);
}

static void *responder_thread(void *p)
{
    respond(p);
    return NULL;
}

/* One exchange as the caller; false when the responder is gone. */
static bool ping(shared *s, pid_t child)
{
    post(s, PING);
    for (;;) {
        uint32_t w = await(s, PONG, child > 0);
        if (w == PONG)
            return true;
        if (child > 0 && waitpid(child, NULL, WNOHANG) != 0)
            return false;
    }
}

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    bool procs = !strcmp(pb_sc_word(sc, "between"), "processes");
    shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | (procs ? MAP_SHARED : MAP_PRIVATE), -1, 0);
    if (s == MAP_FAILED)
        return pb_sc_fail(sc, -errno, "mmap: %s", pb_strerror(-errno));
    s->spin = pb_sc_num(sc, "spin");
    s->futex_flags = procs ? 0 : FUTEX_PRIVATE_FLAG;
    s->bind = pb_sc_floor_cpus(sc, 0, &s->cpus) == 1;
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);

    pthread_t t;
    pid_t child = 0;
    int rc = 0;
    if (procs) {
        child = fork();
        if (child == 0) {
            respond(s);
            _exit(0);
        }
        if (child < 0)
            rc = pb_sc_fail(sc, -errno, "fork: %s", pb_strerror(-errno));
    } else {
        int e = pthread_create(&t, NULL, responder_thread, s);
        if (e)
            rc = pb_sc_fail(sc, -e, "cannot start the responder thread: %s", pb_strerror(-e));
    }
    if (rc) {
        munmap(s, sizeof *s);
        return rc;
    }
    bool ok = true;
    for (int i = 0; i < 100 && ok; i++)
        ok = ping(s, child);
    int64_t sum = 0;
    for (size_t i = 0; i < n && ok; i++) {
        int64_t t0 = pb_now_ns();
        ok = ping(s, child);
        int64_t dt = pb_now_ns() - t0;
        pb_samples_add(rt, (double)dt);
        sum += dt;
    }
    post(s, QUIT);
    if (procs) {
        if (ok) /* else it was reaped in ping() */
            while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
                ;
    } else {
        pthread_join(t, NULL);
    }
    munmap(s, sizeof *s);
    if (!ok)
        return pb_sc_fail(sc, PB_EBROKEN, "the responder process died");
    if (sum > 0)
        pb_samples_add(rate, (double)n * 1e9 / (double)sum);
    return 0;
}

static const char *const between_choices[] = {"threads", "processes", NULL};

static const pb_param params[] = {
    {"between", PB_PARAM_WORD, "threads,processes", "the two parties: two threads, or two processes",
     0, between_choices},
    {"spin", PB_PARAM_NS, "50us", "how long a side busy-waits before it sleeps", 0, NULL},
    {"samples", PB_PARAM_COUNT, "20000", "exchanges per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_spin_pingpong = {
    .name = "spin_pingpong",
    .summary = "hand-off through shared memory, spin then sleep (threads, processes): round trip and rate",
    .headline = "roundtrip",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
