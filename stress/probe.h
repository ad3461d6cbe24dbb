/*
 * probe.h — the task every stress operation submits, and the table in which
 * workers record which process ran which probe (probe.c explains why).
 */
#ifndef PB_STRESS_PROBE_H
#define PB_STRESS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pb/pool.h>

/* What a probe does after recording its worker: one of the workloads of
 * bench/workloads.c, run by name. */
typedef enum {
    PBS_INNER_CHECKSUM, /* returns the FNV-1a of the payload */
    PBS_INNER_ECHO,     /* returns the payload */
    PBS_INNER_FAIL,     /* fails with a code */
    PBS_INNER_SEGV,     /* crash "segv" */
    PBS_INNER_ABORT,    /* crash "abort" */
    PBS_INNER_EXIT,     /* crash "exit" */
    PBS_INNER_HANG,     /* hang */
    PBS_INNER_COUNT
} pbs_inner;

typedef enum { PBS_DELAY_NONE, PBS_DELAY_SLEEP, PBS_DELAY_SPIN } pbs_delay;

#define PBS_PROBE_MAGIC 0x50425354u /* "PBST" */

/* The argument header; the table's path, then the inner workload's
 * argument, follow it. */
typedef struct pbs_probe_arg {
    uint32_t magic;
    uint8_t inner;      /* pbs_inner */
    uint8_t delay_kind; /* pbs_delay */
    uint16_t path_len;
    uint64_t id;
    int64_t delay_ns;
} pbs_probe_arg;

/* What a probe returns ahead of the inner workload's result. */
typedef struct pbs_probe_result {
    uint32_t magic;
    int32_t pid;
    int32_t tid;
    uint32_t reserved;
    uint64_t id;
} pbs_probe_result;

/* For people: "checksum", "echo", "fail", "crash segv", ..., or "?". */
const char *pbs__inner_text(int inner);

/* Whether the inner kind crashes its worker (segv, abort, exit). */
bool pbs__inner_is_crash(int inner);

/* The PBS_FAULT_* bit an inner kind injects (0 for plain work). */
unsigned pbs__inner_fault(int inner);

/* The registered probe task. */
const pb_task *pbs__probe_task(void);

/* Creates (host side) the shared table workers write to, maps it and
 * remembers its path. Returns 0 or a negative errno with err. */
int pbs__probe_table_open(char *err, size_t errlen);
/* Unmaps and removes it. */
void pbs__probe_table_close(void);
/* The table's path ("" when none is open). Safe to call from a watchdog. */
const char *pbs__probe_table_path(void);

/* The pid of the process that started the probe with this id, as the probe
 * recorded it, or 0 when it did not (yet) start or the slot was reused. */
pid_t pbs__probe_pid(uint64_t id);

/* All the probe recorded: its pid, when it started and when its work ended
 * (0: not yet), in pb_now_ns() time. 0, or -1 when it has no record. */
int pbs__probe_record(uint64_t id, pid_t *pid, int64_t *started, int64_t *ended);

/* Writes a probe argument into buf (of size cap): header, path, then
 * payload[0..len). Returns the length, or 0 if it does not fit. */
size_t pbs__probe_build(void *buf, size_t cap, uint64_t id, pbs_inner inner, pbs_delay delay,
                        int64_t delay_ns, const void *payload, size_t len);

/* The length of a probe argument with an inner argument of len bytes. */
size_t pbs__probe_size(size_t len);

#endif /* PB_STRESS_PROBE_H */
