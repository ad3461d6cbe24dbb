/*
 * floor_futex_pingpong.c — the floor of a hand-off between two threads.
 *
 * The caller (this thread, unpinned like a pool's caller) and a responder
 * thread (bound where the pools' worker 0 is bound) pass a token back and
 * forth through one futex word, each side sleeping in FUTEX_WAIT until the
 * other wakes it: no spinning, so every hand-off pays a wake-up — the cost
 * any thread pool pays at least once per round trip when its workers sleep.
 *   roundtrip  caller → responder → caller (ns), one sample per exchange;
 *   rate       exchanges per second, one value per repetition (the floor of
 *              throughput when hand-offs are paid one at a time).
 * Thread backends' round trips are held against this.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

enum { IDLE, PING, PONG, QUIT };

typedef struct shared {
    _Atomic uint32_t word;
    cpu_set_t cpus;
    bool bind;
} shared;

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *responder(void *p)
{
    shared *s = p;
    if (s->bind)
        pthread_setaffinity_np(pthread_self(), sizeof s->cpus, &s->cpus);
    for (;;) {
        uint32_t w = atomic_load(&s->word);
        if (w == QUIT)
            return NULL;
        if (w != PING) {
            futex_wait(&s->word, w);
            continue;
        }
        atomic_store(&s->word, PONG);
        futex_wake(&s->word);
    }
}

/* One exchange, as the caller. */
static void ping(shared *s)
{
    atomic_store(&s->word, PING);
    futex_wake(&s->word);
    uint32_t w;
    while ((w = atomic_load(&s->word)) != PONG)
        futex_wait(&s->word, w);
}

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    shared s = {.word = IDLE};
    s.bind = pb_sc_floor_cpus(sc, 0, &s.cpus) == 1;
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);
    pthread_t t;
    int e = pthread_create(&t, NULL, responder, &s);
    if (e)
        return pb_sc_fail(sc, -e, "cannot start the responder thread: %s", pb_strerror(-e));
    for (int i = 0; i < 100; i++)
        ping(&s);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t0 = pb_now_ns();
        ping(&s);
        int64_t dt = pb_now_ns() - t0;
        pb_samples_add(rt, (double)dt);
        sum += dt;
    }
    atomic_store(&s.word, QUIT);
    futex_wake(&s.word);
    pthread_join(t, NULL);
    if (sum > 0)
        pb_samples_add(rate, (double)n * 1e9 / (double)sum);
    return 0;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "2000", "exchanges per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_futex_pingpong = {
    .name = "futex_pingpong",
    .summary = "hand-off between two threads through a futex, no spinning: round trip and rate",
    .headline = "roundtrip",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
