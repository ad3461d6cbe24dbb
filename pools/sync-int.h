/*
 * sync-int.h — the few synchronisation primitives the pools are built on.
 *
 * Linux futexes directly, because the hot paths need what condition variables
 * cannot give cheaply: a 4-byte lock per future, waiting on a state word with
 * an absolute CLOCK_MONOTONIC deadline (FUTEX_WAIT_BITSET), and a wake that
 * costs nothing when nobody sleeps (the callers count sleepers themselves).
 *
 * pb__lock is Drepper's three-state mutex ("Futexes are tricky", mutex 2):
 * 0 unlocked, 1 locked, 2 locked with possible waiters. Unlock issues a
 * FUTEX_WAKE only in state 2, so an uncontended lock/unlock pair is two
 * atomic instructions and no syscall.
 */
#ifndef PB_SYNC_INT_H
#define PB_SYNC_INT_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <pb/pool.h>

/* How long a thread that expects an event soon busy-waits before it sleeps.
 * A worker spins for the next task (only one worker spins at a time, so
 * spinning never starves the submitter of a core); a waiter spins for a
 * result. Both bounded, so an idle pool costs nothing after a few µs. */
#define PB__SPIN_NS_WORKER 50000
#define PB__SPIN_NS_WAITER 20000

static inline void pb__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* The absolute CLOCK_MONOTONIC deadline of a relative timeout: -1 for
 * PB_FOREVER. The caller has rejected other negative timeouts. */
static inline int64_t pb__deadline(int64_t timeout)
{
    return timeout == PB_FOREVER ? -1 : pb_now_ns() + timeout;
}

static inline int pb__timeout_valid(int64_t timeout)
{
    return timeout >= 0 || timeout == PB_FOREVER;
}

/* Sleeps while *addr == val, until woken or until the absolute monotonic
 * deadline (-1: none). Returns 0 (woken, maybe spuriously), -EAGAIN (the
 * value had changed), -ETIMEDOUT or -EINTR. Callers always re-check.
 * flags: FUTEX_PRIVATE_FLAG within this process, 0 on memory shared with
 * others (pb__futex_wait / pb__futex_wake are the private ones). */
static inline int pb__futex_wait_flags(_Atomic uint32_t *addr, uint32_t val, int64_t deadline,
                                       int flags)
{
    struct timespec ts, *tp = NULL;
    if (deadline >= 0) {
        ts.tv_sec = deadline / 1000000000;
        ts.tv_nsec = deadline % 1000000000;
        tp = &ts;
    }
    long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET | flags, val, tp, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return r == 0 ? 0 : -errno;
}

static inline void pb__futex_wake_flags(_Atomic uint32_t *addr, int n, int flags)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE | flags, n, NULL, NULL, 0);
}

static inline int pb__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
    return pb__futex_wait_flags(addr, val, deadline, FUTEX_PRIVATE_FLAG);
}

static inline void pb__futex_wake(_Atomic uint32_t *addr, int n)
{
    pb__futex_wake_flags(addr, n, FUTEX_PRIVATE_FLAG);
}

/* Sleeping on a word with a count of sleepers, so that waking costs nothing
 * when nobody sleeps. The sleeper passes `seen`, the value the word had when
 * it last found its condition false; it counts itself, then sleeps only if
 * the word still holds that value. The waker changes the word first, then
 * wakes if anyone is counted. Both sides are sequentially consistent (Dekker),
 * so either the sleeper sees the new value or the waker sees the sleeper: a
 * wake-up is never lost. Returns what pb__futex_wait returned, or 0. */
static inline int pb__sleep(_Atomic uint32_t *word, _Atomic uint32_t *sleepers, uint32_t seen,
                            int64_t deadline)
{
    atomic_fetch_add(sleepers, 1);
    int r = 0;
    if (atomic_load(word) == seen)
        r = pb__futex_wait(word, seen, deadline);
    atomic_fetch_sub(sleepers, 1);
    return r;
}

/* The waker's half, after it changed *word. */
static inline void pb__wake(_Atomic uint32_t *word, _Atomic uint32_t *sleepers, int n)
{
    if (atomic_load(sleepers))
        pb__futex_wake(word, n);
}

typedef _Atomic uint32_t pb__lock;
#define PB__LOCK_INIT 0

static inline void pb__lock_acquire(pb__lock *l)
{
    uint32_t c = 0;
    if (atomic_compare_exchange_strong_explicit(l, &c, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    /* Brief spin: the holders of these locks never block while holding them. */
    for (int i = 0; i < 100; i++) {
        pb__cpu_relax();
        c = 0;
        if (atomic_load_explicit(l, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(l, &c, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    if (c != 2)
        c = atomic_exchange_explicit(l, 2, memory_order_acquire);
    while (c != 0) {
        pb__futex_wait(l, 2, -1);
        c = atomic_exchange_explicit(l, 2, memory_order_acquire);
    }
}

static inline void pb__lock_release(pb__lock *l)
{
    if (atomic_exchange_explicit(l, 0, memory_order_release) == 2)
        pb__futex_wake(l, 1);
}

#endif /* PB_SYNC_INT_H */
