/*
 * floor_timedwait.c — the floor of waiting with a deadline.
 *
 * pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable nobody
 * signals, with the deadline T after the call: the sample is the overshoot,
 * t(return) - (t(call) + T), as in the timeout scenario — what any blocking
 * wait with a timeout pays for the timer and the wake-up. The values of T
 * follow the timeout scenario's in the same run.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "common.h"

#define SLICE_NS (100 * 1000000LL) /* a longer wait looks at pb_sc_stopping() this often */

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    int64_t T = pb_sc_num(sc, "timeout");
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
    return 0;
}

static const pb_param params[] = {
    {"timeout", PB_PARAM_NS, "0,100us,1ms,10ms", "the wait's timeout T", 0, NULL},
    {"samples", PB_PARAM_COUNT, "100", "timed waits per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_timedwait = {
    .name = "timedwait",
    .summary = "condition-variable timed wait nobody signals: overshoot past the deadline",
    .headline = "overshoot",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
