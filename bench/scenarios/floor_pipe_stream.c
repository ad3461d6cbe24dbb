/*
 * floor_pipe_stream.c — the floor of streaming tasks from one process to
 * another.
 *
 * The caller writes `messages` 8-byte messages into a pipe, one write(2) per
 * message — one hand-off per task, as a pool that sends each task on its own
 * would — and a child process (forked, bound where the pools' worker 0 is
 * bound) reads them in bulk; when it has them all it answers with one 8-byte
 * acknowledgement.
 *   rate  messages per second, from before the first write to the
 *         acknowledgement, one value per repetition.
 * Nobody waits for anybody per message: this is what a one-way stream
 * between two processes costs at least, and what process backends' bursts
 * (throughput of empty tasks, map) are held against.
 *
 * The child only calls read, write, sched_setaffinity and _exit, all safe
 * after fork() in a process that has threads. SIGPIPE is blocked in this
 * thread while the child lives (pb__floor_pipes() in common.c).
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "messages");
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);

    pbs_child child;
    int rc = pbs_child_start(sc, &child);
    if (rc)
        return rc;
    if (child.pid == 0) {
        static unsigned char buf[65536];
        uint64_t want = (uint64_t)n * 8, got = 0;
        while (got < want) {
            ssize_t r = read(child.in, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                _exit(1);
            got += (uint64_t)r;
        }
        uint64_t ack = got;
        _exit(pbs_io(child.out, &ack, sizeof ack, true) ? 0 : 1);
    }

    bool ok = true;
    uint64_t msg = 0;
    int64_t t0 = pb_now_ns();
    for (size_t i = 0; i < n && ok; i++) {
        msg = i;
        ok = write(child.out, &msg, sizeof msg) == (ssize_t)sizeof msg;
    }
    uint64_t ack = 0;
    ok = ok && pbs_io(child.in, &ack, sizeof ack, false) && ack == (uint64_t)n * 8;
    int64_t t1 = pb_now_ns();
    if (ok && t1 > t0)
        pb_samples_add(rate, (double)n * 1e9 / (double)(t1 - t0));
    pbs_child_end(&child);
    return ok ? 0 : pb_sc_fail(sc, PB_EBROKEN, "the reading child stopped before the end");
}

static const pb_param params[] = {
    {"messages", PB_PARAM_COUNT, "200000", "messages streamed per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_pipe_stream = {
    .name = "pipe_stream",
    .summary = "one-way stream of 8-byte messages from one process to another, a write each: rate",
    .headline = "rate",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
};
