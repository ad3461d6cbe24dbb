/*
 * stress.h — the stress engine behind `poolbench stress`, callable from a
 * program (the tests drive deliberately broken backends through it).
 *
 * One call runs one backend: several submitter threads drive a fresh pool
 * with a random mix of operations, the pool is shut down and destroyed, and
 * every invariant of the futures contract that can be observed from outside
 * is checked along the way (run.c tells the run step by step, expect.c what
 * each outcome must be). Everything goes through the public API of
 * pb/pool.h, so any registered backend can be stress-tested.
 *
 * Determinism: each submitter thread draws its operations from its own
 * stream of bench/rng.h seeded from (seed, thread index), and no draw
 * depends on timing, so one seed replays the same schedule of operations
 * per thread (what the pool does with them, and when, is up to the pool).
 * Violations name the seed, the thread, the operation's index in that
 * thread's schedule and what was expected.
 *
 * THE FILES, BOTTOM UP
 *
 * Each file uses only the ones listed above it, never one beside or below
 * it, so any of them can be read knowing only what comes before:
 *
 *   faults.c    fault names and lists (this header)
 *   probe.c     the task every operation submits, and the shared table in
 *               which it records which process ran it and when
 *   sys.c       this process from outside: threads, fds, children, RSS, CPU
 *               pressure; killing one worker safely; stacks
 *   pressure.c  CPU pressure over time, for excusing lateness on a
 *               saturated machine
 *   workers.c   the workers seen in results, and the kills sent to them
 *   journal.c   what happened: each thread's operations, violations, notes
 *   leaks.c     what must be gone once the pool is destroyed
 *   world.h     what every thread of a run shares
 *   expect.c    what a probe must produce, and the judgement of an outcome
 *   actor.c     one thread's futures: records, callbacks, submit, retire
 *   ops.c       the operations a submitter draws, and the end's batches
 *   report.c    the CASE object of the results file
 *   watchdog.c  the thread that notices a hung operation
 *   run.c       one run, in the numbered steps of its essay
 *
 * and harness/stress.c is the `poolbench stress` command on top.
 */
#ifndef PB_STRESS_STRESS_H
#define PB_STRESS_STRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Faults the run may inject. Which ones a backend gets is the requested set
 * minus what it cannot take: workers in this process cannot crash, hang or
 * be killed without taking the harness down, and a backend that refuses
 * task_timeout (or max_tasks_per_worker) gets no hangs (or no recycling). */
enum {
    PBS_FAULT_FAIL = 1u << 0,    /* tasks that report failure (pb_task_fail) */
    PBS_FAULT_SEGV = 1u << 1,    /* a task crashes its worker with SIGSEGV */
    PBS_FAULT_ABORT = 1u << 2,   /* ... with abort() */
    PBS_FAULT_EXIT = 1u << 3,    /* ... with _exit(3) */
    PBS_FAULT_KILL = 1u << 4,    /* a worker process is SIGKILLed from outside */
    PBS_FAULT_HANG = 1u << 5,    /* a task hangs past task_timeout */
    PBS_FAULT_RECYCLE = 1u << 6, /* workers are replaced by max_tasks_per_worker */
    PBS_FAULT_KINDS = 7,         /* how many there are */
    PBS_FAULT_ALL = (1u << PBS_FAULT_KINDS) - 1,
    PBS_FAULT_IN_PROCESS = PBS_FAULT_FAIL | PBS_FAULT_RECYCLE,
};

/* Parses a fault list: names from pbs_stress_fault_name(), "crash" (segv,
 * abort, exit), "all" or "none", comma-separated. Returns 0, or -1 with one
 * line in err. */
int pbs_stress_parse_faults(const char *text, unsigned *mask, char *err, size_t errlen);

/* The name of one fault bit ("segv"), or NULL. */
const char *pbs_stress_fault_name(unsigned bit);

/* A mask as a list ("fail,segv,recycle"), or "none", into buf. */
void pbs_stress_faults_text(unsigned mask, char *buf, size_t size);

typedef struct pbs_stress_opts {
    const char *backend;
    double duration_s;     /* how long the submitters run (default 10) */
    uint64_t ops;          /* also stop each submitter after this many operations (0: no limit) */
    uint64_t seed;
    int workers;           /* pool workers; 0: the pool's default */
    int threads;           /* submitter threads (default 4) */
    unsigned faults;       /* requested PBS_FAULT_* (default PBS_FAULT_ALL) */
    double fault_rate;     /* scales how often tasks fail, crash or hang (default 1) */
    int64_t task_timeout;  /* ns: the pool's task_timeout when hangs are injected (500 ms) */
    int64_t tolerance;     /* ns a wait may overrun its deadline (200 ms + 50% of the timeout) */
    int64_t patience;      /* ns a "wait until done" waits before declaring the future lost
                              (default 30 s; at most a third of the watchdog's bound) */
    int64_t watchdog;      /* ns one operation may take before the run is hung (default 90 s) */
    FILE *log;             /* seed, violations, notes (NULL: stderr) */
    int max_printed;       /* violations printed in full (default 20; after that only the
                              first of each check, the rest are counted) */
    bool quiet;            /* no notes, only violations */
    bool no_stacks;        /* the watchdog prints no gdb stacks (tests) */
    const char *command;   /* how the run was started, for the watchdog's report */

    /* Optional: called for every operation, in the thread that runs it, with
     * a description that depends only on the seed (for replay tests). */
    void (*trace)(void *ud, int thread, uint64_t op, const char *what);
    void *trace_ud;

    /* Optional: called by the watchdog, from its own thread, when an
     * operation did not return in time (after the diagnostics are printed,
     * before the process exits with status 1). case_json is the run's report
     * so far (borrowed), for a last results file. */
    void (*on_hang)(void *ud, json_t *case_json);
    void *on_hang_ud;

    /* Optional: polled between operations; true ends the run early (Ctrl-C). */
    bool (*stop_requested)(void *ud);
    void *stop_ud;
} pbs_stress_opts;

/* Fills opts with the defaults above (backend NULL, seed 0). */
void pbs_stress_opts_init(pbs_stress_opts *opts);

typedef struct pbs_stress_result {
    uint64_t operations;
    uint64_t futures;          /* futures submitted (map items included) */
    uint64_t faults_injected;
    uint64_t faults_survived;  /* injected, caused exactly the expected failure, and the
                                  pool went on: it completed a task afterwards or, for the
                                  last faults of the run, shut down and was destroyed
                                  cleanly */
    uint64_t violations;
    unsigned faults;           /* the faults actually injected (requested minus unsupported) */
    bool interrupted;          /* stop_requested ended it early */
    json_t *case_json;         /* the CASE object of FORMAT.md (caller owns it) */
} pbs_stress_result;

/* Runs one backend. Returns 0 when the run took place (out->violations says
 * how it went; out->case_json is always set), or a negative PB_E* code with
 * one line in err when it could not start (unknown backend, pool creation
 * failed, no memory); out->case_json then holds a failed case saying why. */
int pbs_stress_run(const pbs_stress_opts *opts, pbs_stress_result *out, char *err, size_t errlen);

/* Registers the stress engine's probe task ("stress_probe"). Automatic when
 * the engine is linked in; exported so that a test program can be sure the
 * object file is part of its image before it starts exec workers. */
void pbs_stress_link(void);

#endif /* PB_STRESS_STRESS_H */
