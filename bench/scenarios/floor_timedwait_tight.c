/*
 * floor_timedwait_tight.c — the floor of waiting with a deadline, without
 * timer slack.
 *
 * As timedwait (pthread_cond_timedwait nobody signals, overshoot past the
 * deadline T), but with this thread's timer slack set to 1 ns for the
 * measurement (PR_SET_TIMERSLACK; restored after): what is left once the
 * kernel may no longer defer the wake-up to batch timers — the timer
 * interrupt and the wake-up itself. Beside the default-slack timedwait it
 * shows how much of a timeout's overshoot is slack, which a caller can
 * choose, and how much is the machine. T follows the timeout scenario's.
 */
#include "common.h"

static int run(pb_sc *sc)
{
    return pbs_timedwait_floor(sc, 1);
}

static const pb_param params[] = {
    {"timeout", PB_PARAM_NS, "0,100us,1ms,10ms", "the wait's timeout T", 0, NULL},
    {"samples", PB_PARAM_COUNT, "100", "timed waits per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_timedwait_tight = {
    .name = "timedwait_tight",
    .summary = "timed wait nobody signals, with 1 ns of timer slack: overshoot past the deadline",
    .headline = "overshoot",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
