/*
 * workloads.h — the task functions scenarios submit (bench/workloads.c).
 *
 * Every workload is a PB_TASK, registered by name when the program loads, so
 * the same function runs in a thread worker, a forked worker and an exec'd
 * copy of poolbench. Arguments and results are raw bytes in this machine's
 * byte order (every worker runs on this machine).
 *
 *   noop      does nothing; empty result.
 *   spin      busy for N ns (argument: int64_t N), looping on the monotonic
 *             clock — the clock is the calibration, so N ns of CPU time are
 *             spent whatever the CPU's speed. Returns its argument.
 *   sleep     sleeps N ns (argument: int64_t N) to an absolute deadline.
 *             Returns its argument.
 *   echo      returns its argument.
 *   checksum  returns the 64-bit FNV-1a hash of its argument (uint64_t).
 *   fail      fails with the int32_t code in its argument (1 when empty) and
 *             the message pb_workload_fail_message() formats.
 *   report    returns a pb_report: the CPU it ran on, its pid and thread id.
 *   crash     kills its worker: argument "segv" (a real invalid access),
 *             "abort", or "exit" (_exit(3)). Core dumps are disabled first.
 *             Only for workers in another process.
 *   hang      never returns (blocks in pause()); for task_timeout.
 *
 * Interruption. A run must end soon after Ctrl-C or SIGTERM, yet `spin`,
 * `sleep` (and the spin of `report`) may be asked for up to an hour, and
 * `hang` for ever. So they watch a stop flag, and end early — failing with
 * code EINTR, "interrupted" — once pb_workloads_interrupt() was called. The
 * flag must reach tasks wherever they run: in this process (threads), in
 * workers forked from it, and in exec'd workers, which are fresh images. So
 * pb_workloads_share_stop() puts it in a shared memory page (a memfd, mapped
 * shared) before any pool exists: forked workers inherit the mapping, and an
 * exec'd worker — told the fd's number in POOLBENCH_WORKLOAD_STOP_FD, the fd
 * being inherited — maps it read-only at load time, after checking that the
 * fd is that memfd, then closes it and drops the variable, so nothing it
 * starts inherits either. (Other programs the process starts meanwhile
 * inherit the fd too; it holds one flag.) Without sharing, the flag is this
 * process's alone.
 */
#ifndef PB_BENCH_WORKLOADS_H
#define PB_BENCH_WORKLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pb/pool.h>

/* The registered workload called name. An unknown name is a programming
 * error: the program aborts with a message. Referencing this function is
 * also what links workloads.c (and its PB_TASK registrations) into a
 * program. */
const pb_task *pb_workload(const char *name);

/* What the `report` task returns. */
typedef struct pb_report {
    int32_t cpu; /* sched_getcpu(), or -1 */
    int32_t pid;
    int32_t tid;
    int32_t reserved;
    int64_t now; /* pb_now_ns() in the task */
} pb_report;

/* What `spin` does: busy on the monotonic clock for ns (the `native`
 * scenario's tasks spin the same way outside any future). false when the
 * run is being interrupted, which ends the spin early. */
bool pb_workload_spin(int64_t ns);

/* 64-bit FNV-1a over data[0..len): what `checksum` returns. */
uint64_t pb_workload_checksum(const void *data, size_t len);

/* The message `fail` reports for code, written into buf. */
void pb_workload_fail_message(int32_t code, char *buf, size_t size);

/* Exit status of `crash exit`. */
#define PB_WORKLOAD_EXIT_STATUS 3

/* Puts the stop flag where worker processes started from now on see it
 * (see above). Call once, before any pool is created, while this process
 * has one thread (it sets an environment variable). Returns 0, or a
 * negative errno (the flag then stays this process's own). */
int pb_workloads_share_stop(void);

/* Asks every spin, sleep and hang running or starting from now on to end
 * early. Async-signal-safe: a signal handler may call it. */
void pb_workloads_interrupt(void);

/* Clears the request (a new run in the same process). */
void pb_workloads_resume(void);

/* Whether pb_workloads_interrupt() was called (and not resumed since). */
bool pb_workloads_interrupted(void);

#endif /* PB_BENCH_WORKLOADS_H */
