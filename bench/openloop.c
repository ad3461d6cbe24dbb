/*
 * openloop.c — the open-loop generator. See openloop.h.
 *
 * Nothing here allocates or prints: the caller hands in the schedule and the
 * arrays the outcome goes into, and the loop only reads the clock, sleeps,
 * and sends.
 */
#include <errno.h>
#include <math.h>
#include <time.h>

#include <pb/pool.h>

#include "openloop.h"

/* While held by the cap, the generator looks again this often. */
#define HOLD_NAP 20000

void pb_ol_schedule(int64_t *at, size_t n, double rate, bool poisson, pb_rng *rng)
{
    double gap = 1e9 / rate, t = 0;
    for (size_t i = 0; i < n; i++) {
        if (poisson) {
            /* Uniform in (0, 1], never 0: its logarithm is finite. */
            double u = ((double)(pb_rng_next(rng) >> 11) + 1.0) / 9007199254740992.0;
            t += -gap * log(u);
        } else {
            t = gap * (double)(i + 1); /* no accumulated rounding */
        }
        at[i] = (int64_t)llround(t);
    }
}

static int64_t real_now(void *ud)
{
    (void)ud;
    return pb_now_ns();
}

static void real_sleep_until(void *ud, int64_t t)
{
    (void)ud;
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

const pb_ol_clock pb_ol_real_clock = {real_now, real_sleep_until, NULL};

/* Waits until due: sleeps, then spins the last ol->spin ns. Returns now. */
static int64_t wait_until(const pb_openloop *ol, int64_t due)
{
    const pb_ol_clock *c = &ol->clock;
    int64_t now = c->now(c->ud);
    while (now < due) {
        if (due - now > ol->spin)
            c->sleep_until(c->ud, due - ol->spin);
        now = c->now(c->ud);
    }
    return now;
}

int pb_ol_run(pb_openloop *ol)
{
    const pb_ol_clock *c = &ol->clock;
    ol->sent = ol->held = ol->rejected = ol->refused = 0;
    ol->stopped = false;
    for (size_t i = 0; i < ol->n; i++)
        ol->status[i] = PB_OL_UNSENT;
    for (size_t i = 0; i < ol->n; i++) {
        if (ol->stop && ol->stop(ol->ud)) {
            ol->stopped = true;
            break;
        }
        int64_t due = ol->start + ol->at[i];
        int64_t now = wait_until(ol, due);
        ol->released[i] = due;
        uint8_t status = PB_OL_SENT;
        if (ol->full(ol->ud)) {
            if (ol->policy == PB_OL_REJECT) {
                ol->status[i] = PB_OL_REJECTED;
                ol->sent_at[i] = now;
                ol->rejected++;
                continue;
            }
            while (ol->full(ol->ud) && !(ol->stop && ol->stop(ol->ud)))
                c->sleep_until(c->ud, c->now(c->ud) + HOLD_NAP);
            now = c->now(c->ud);
            ol->released[i] = now;
            status = PB_OL_HELD;
            ol->held++;
        }
        ol->sent_at[i] = now;
        if (ol->send(ol->ud, i) != 0) {
            status = PB_OL_REFUSED;
            ol->refused++;
        } else {
            ol->sent++;
        }
        ol->status[i] = status;
    }
    return 0;
}
