/*
 * floor_pipe_pingpong.c — the floor of a hand-off between two processes.
 *
 * A child process (forked, bound where the pools' worker 0 is bound) echoes
 * 8-byte messages from one pipe to another; the caller writes one and reads
 * the answer. Each exchange is two pipe writes, two reads and two wake-ups
 * across processes — what a process pool's round trip costs at least when
 * both sides sleep (the sleeping floor; spin_pingpong is the spinning one).
 *   roundtrip  caller → child → caller (ns), one sample per exchange;
 *   rate       exchanges per second, one value per repetition.
 * Process backends' round trips are held against this when they sleep.
 *
 * The child only calls read, write, sched_setaffinity and _exit (see
 * pbs_child_start() in common.c for the rest).
 */
#include <unistd.h>

#include "common.h"

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "samples");
    pb_samples *rt = pb_sc_metric(sc, "roundtrip", "ns", PBR_LOWER, n);
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);

    pbs_child child;
    int rc = pbs_child_start(sc, &child);
    if (rc)
        return rc;
    if (child.pid == 0) {
        uint64_t msg;
        while (pbs_io(child.in, &msg, sizeof msg, false) && pbs_io(child.out, &msg, sizeof msg, true))
            ;
        _exit(0);
    }
    uint64_t msg = 0;
    bool ok = true;
    for (int i = 0; i < 100 && ok; i++)
        ok = pbs_io(child.out, &msg, sizeof msg, true) && pbs_io(child.in, &msg, sizeof msg, false);
    int64_t sum = 0;
    for (size_t i = 0; i < n && ok; i++) {
        msg = i;
        int64_t t0 = pb_now_ns();
        ok = pbs_io(child.out, &msg, sizeof msg, true) && pbs_io(child.in, &msg, sizeof msg, false);
        int64_t dt = pb_now_ns() - t0;
        ok = ok && msg == i;
        if (ok) {
            pb_samples_add(rt, (double)dt);
            sum += dt;
        }
    }
    if (!ok)
        rc = pb_sc_fail(sc, PB_EBROKEN, "the echo child stopped answering");
    if (!rc && sum > 0)
        pb_samples_add(rate, (double)n * 1e9 / (double)sum);
    pbs_child_end(&child);
    return rc;
}

static const pb_param params[] = {
    {"samples", PB_PARAM_COUNT, "2000", "exchanges per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_pipe_pingpong = {
    .name = "pipe_pingpong",
    .summary = "hand-off between two processes through a pair of pipes: round trip and rate",
    .headline = "roundtrip",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
    .kept = "samples",
};
