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
 */
#ifndef PB_BENCH_WORKLOADS_H
#define PB_BENCH_WORKLOADS_H

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
 * scenario's tasks spin the same way outside any future). */
void pb_workload_spin(int64_t ns);

/* 64-bit FNV-1a over data[0..len): what `checksum` returns. */
uint64_t pb_workload_checksum(const void *data, size_t len);

/* The message `fail` reports for code, written into buf. */
void pb_workload_fail_message(int32_t code, char *buf, size_t size);

/* Exit status of `crash exit`. */
#define PB_WORKLOAD_EXIT_STATUS 3

#endif /* PB_BENCH_WORKLOADS_H */
