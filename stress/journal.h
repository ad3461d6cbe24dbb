/*
 * journal.h — what happened in a stress run: each thread's operations (the
 * one in progress and the last few), the violations of each check, and
 * notes for the user (journal.c).
 *
 * Every thread of a run (the main thread and each submitter) keeps a
 * pbs_oplog; only its owner writes it, except that the watchdog reads the
 * operation in progress and the recent ones. Violations of all threads go
 * to the run's one pbs_journal, which counts them, keeps the first message
 * of each check and prints what it is allowed to.
 */
#ifndef PB_STRESS_JOURNAL_H
#define PB_STRESS_JOURNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "stress.h"

/* The invariants; each is one check in the report. */
typedef enum {
    PBS_CHECK_DONE,       /* every_future_done: each future done exactly once, state stable */
    PBS_CHECK_LOST,       /* no_lost_result: nothing stays undone */
    PBS_CHECK_RESULT,     /* right_results: checksums, ids, payloads */
    PBS_CHECK_FAILURES,   /* only_injected_failures: every failure has its injected cause */
    PBS_CHECK_CALLBACKS,  /* callbacks_once: each callback once, in order */
    PBS_CHECK_CANCEL,     /* cancel_only_pending */
    PBS_CHECK_WAIT,       /* waits_in_time: no early or late return */
    PBS_CHECK_ITERATORS,  /* iterators_complete: as_completed and map yield each item once */
    PBS_CHECK_SHUTDOWN,   /* shutdown_semantics */
    PBS_CHECK_API,        /* api_codes: calls return only documented codes */
    PBS_CHECK_THREADS,    /* no_thread_left */
    PBS_CHECK_CHILDREN,   /* no_child_left: children and zombies */
    PBS_CHECK_FDS,        /* no_fd_left */
    PBS_CHECK_MEMORY,     /* memory_returned: RSS back near the start */
    PBS_CHECK_HANG,       /* no_hang: the watchdog did not fire */
    PBS_CHECK_COUNT
} pbs_check;

/* The check's name in the report ("every_future_done"). */
const char *pbs__check_name(pbs_check c);

/* Operation kinds. */
typedef enum {
    PBS_OP_SUBMIT,
    PBS_OP_BURST_CANCEL,
    PBS_OP_RESULT,
    PBS_OP_WAIT,
    PBS_OP_AS_COMPLETED,
    PBS_OP_CANCEL,
    PBS_OP_CALLBACK,
    PBS_OP_MAP,
    PBS_OP_RETIRE,
    PBS_OP_KILL,
    PBS_OP_HEALTH,   /* main thread: a batch that must all succeed */
    PBS_OP_TAIL,     /* main thread: a batch submitted just before shutdown */
    PBS_OP_SHUTDOWN, /* main thread */
    PBS_OP_DESTROY,  /* main thread */
    PBS_OP_DRAIN,    /* a submitter retiring all it holds at the end */
    PBS_OP_WARMUP,   /* main thread: a throwaway pool runs one probe */
    PBS_OP_CREATE,   /* main thread: the pool under test is created */
    PBS_OP_COUNT
} pbs_opkind;

const char *pbs__op_name(pbs_opkind k);

/* One operation, as it is described to people. */
typedef struct pbs_opdesc {
    uint8_t kind; /* pbs_opkind */
    uint8_t when; /* wait: pb_return_when; submit: pbs_inner; shutdown: racing */
    uint32_t n;   /* futures or items involved */
    uint32_t m;   /* second count (chunk size, cancels, callbacks, early stop) */
    uint64_t op;  /* its index in its thread's schedule */
    uint64_t id;  /* first future's id */
    int64_t timeout;
    int64_t started; /* pb_now_ns() when it began */
} pbs_opdesc;

/* Formats an operation for people. */
void pbs__op_format(const pbs_opdesc *d, char *buf, size_t size);

#define PBS_LOG 16 /* recent operations kept per thread */

/* One thread's operations. The owner writes cur, then op_started
 * (release); the watchdog reads op_started (acquire), then cur. */
typedef struct pbs_oplog {
    int index;    /* 0: main thread; 1..threads: submitters */
    uint64_t op;  /* operations started */
    pbs_opdesc cur;
    _Atomic int64_t op_started; /* 0: none in progress */
    pbs_opdesc log[PBS_LOG];
    _Atomic uint64_t nlog;
    uint64_t ops[PBS_OP_COUNT]; /* operations by kind */
} pbs_oplog;

typedef struct pbs_journal {
    const pbs_stress_opts *o; /* backend, seed, log, max_printed, quiet, trace */
    pthread_mutex_t mu;
    uint64_t violations;
    uint64_t check_fails[PBS_CHECK_COUNT];
    char *check_first[PBS_CHECK_COUNT]; /* "where: message" of the first violation */
} pbs_journal;

void pbs__journal_init(pbs_journal *j, const pbs_stress_opts *o);
void pbs__journal_destroy(pbs_journal *j);

/* Where the journal prints (the run's log, or stderr). */
FILE *pbs__journal_out(const pbs_journal *j);

/* Marks the start and end of an operation of l's thread (the watchdog, the
 * log, the trace). */
void pbs__op_begin(pbs_journal *j, pbs_oplog *l, const pbs_opdesc *d);
void pbs__op_end(pbs_oplog *l);
/* Within a long operation (a drain): one blocking step finished. */
void pbs__op_progress(pbs_oplog *l);

/* Records a violation of check c by l's thread (NULL: the run itself)
 * during its current operation: prints it (seed, thread, operation,
 * message) and counts it. Thread-safe. */
void pbs__violation(pbs_journal *j, const pbs_oplog *l, pbs_check c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Counts a violation of c whose story was already told (the watchdog's
 * hang): msg becomes the check's first message if it has none. */
void pbs__violation_counted(pbs_journal *j, pbs_check c, const char *msg);

/* A note for the user (not a violation); silenced by quiet. */
void pbs__note(pbs_journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the recent operations of each of logs[0..n), the one in progress
 * marked. */
void pbs__journal_print_recent(FILE *out, pbs_oplog *const *logs, int n);

#endif /* PB_STRESS_JOURNAL_H */
