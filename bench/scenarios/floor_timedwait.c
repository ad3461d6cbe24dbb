/*
 * floor_timedwait.c — the floor of waiting with a deadline.
 *
 * pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable nobody
 * signals, with the deadline T after the call: the sample is the overshoot,
 * t(return) - (t(call) + T), as in the timeout scenario — what any blocking
 * wait with a timeout pays for the timer and the wake-up, with the thread's
 * default timer slack (50 us on Linux), as a pool's caller has it. The
 * values of T follow the timeout scenario's in the same run;
 * timedwait_tight measures the same with 1 ns of slack beside it.
 */
#include "common.h"

static int run(pb_sc *sc)
{
    return pbs_timedwait_floor(sc, 0);
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
