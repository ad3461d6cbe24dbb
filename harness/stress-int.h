/*
 * stress-int.h — what the pieces of the stress engine share.
 *
 *   stress-engine.c  one run: pool, actors, watchdog, the end sequence, the
 *                    final checks and the report
 *   stress-ops.c     the operations a submitter draws and how each outcome
 *                    is checked
 *   stress-probe.c   the task every operation submits, and the table in
 *                    which workers record which process ran which task
 *   stress-sys.c     looking at this process from outside: threads, fds,
 *                    children, RSS; killing a worker; stacks for the watchdog
 *   stress.c         the `poolbench stress` command
 */
#ifndef PB_HARNESS_STRESS_INT_H
#define PB_HARNESS_STRESS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pb/pool.h>

#include "stress.h"

/* ------------------------------------------------------------------------
 * The probe task (stress-probe.c)
 * ------------------------------------------------------------------------ */

/* What a probe does after recording its worker: one of the workloads of
 * bench/workloads.c, run by name. */
typedef enum {
    PBH_INNER_CHECKSUM, /* returns the FNV-1a of the payload */
    PBH_INNER_ECHO,     /* returns the payload */
    PBH_INNER_FAIL,     /* fails with a code */
    PBH_INNER_SEGV,     /* crash "segv" */
    PBH_INNER_ABORT,    /* crash "abort" */
    PBH_INNER_EXIT,     /* crash "exit" */
    PBH_INNER_HANG,     /* hang */
    PBH_INNER_COUNT
} pbh_inner;

typedef enum { PBH_DELAY_NONE, PBH_DELAY_SLEEP, PBH_DELAY_SPIN } pbh_delay;

#define PBH_PROBE_MAGIC 0x50425354u /* "PBST" */

/* The argument header; the table's path, then the inner workload's
 * argument, follow it. */
typedef struct pbh_probe_arg {
    uint32_t magic;
    uint8_t inner;      /* pbh_inner */
    uint8_t delay_kind; /* pbh_delay */
    uint16_t path_len;
    uint64_t id;
    int64_t delay_ns;
} pbh_probe_arg;

/* What a probe returns ahead of the inner workload's result. */
typedef struct pbh_probe_result {
    uint32_t magic;
    int32_t pid;
    int32_t tid;
    uint32_t reserved;
    uint64_t id;
} pbh_probe_result;

/* The registered probe task. */
const pb_task *pbh__probe_task(void);

/* Creates (host side) the shared table workers write to, maps it and
 * remembers its path. Returns 0 or a negative errno with err. */
int pbh__probe_table_open(char *err, size_t errlen);
/* Unmaps and removes it. */
void pbh__probe_table_close(void);
/* The table's path ("" when none is open). Safe to call from a watchdog. */
const char *pbh__probe_table_path(void);

/* The pid of the process that started the probe with this id, as the probe
 * recorded it, or 0 when it did not (yet) start or the slot was reused. */
pid_t pbh__probe_pid(uint64_t id);

/* All the probe recorded: its pid, when it started and when its work ended
 * (0: not yet), in pb_now_ns() time. 0, or -1 when it has no record. */
int pbh__probe_record(uint64_t id, pid_t *pid, int64_t *started, int64_t *ended);

/* Writes a probe argument into buf (of size cap): header, path, then
 * payload[0..len). Returns the length, or 0 if it does not fit. */
size_t pbh__probe_build(void *buf, size_t cap, uint64_t id, pbh_inner inner, pbh_delay delay,
                        int64_t delay_ns, const void *payload, size_t len);

/* ------------------------------------------------------------------------
 * This process from outside (stress-sys.c)
 * ------------------------------------------------------------------------ */

typedef struct pbh_fdinfo {
    int fd;
    char target[96];
} pbh_fdinfo;

typedef struct pbh_snapshot {
    int threads;          /* entries of /proc/self/task */
    int children;         /* processes whose parent is this one (zombies included) */
    int zombies;          /* ... of which zombies */
    pid_t child_pids[16]; /* the first few */
    pbh_fdinfo *fds;      /* open fds, by number (malloc'd) */
    size_t nfds;
    long rss_kb;          /* VmRSS */
} pbh_snapshot;

/* Takes a snapshot (0 or -errno). */
int pbh__snapshot(pbh_snapshot *s);
void pbh__snapshot_free(pbh_snapshot *s);
/* VmRSS in kB, or -1. */
long pbh__rss_kb(void);

/* The "some" total of /proc/pressure/cpu: microseconds during which at
 * least one runnable task waited for a CPU, or -1 without PSI. */
long long pbh__psi_cpu_some_us(void);

/* Sends sig to pid only if it is a child of this process, through a pidfd so
 * that a recycled pid is never hit. Returns 0, -ESRCH (gone), -EPERM (not
 * our child) or another -errno. */
int pbh__kill_child(pid_t pid, int sig);

/* SIGKILLs every child of this process (watchdog: before exiting, so hung
 * workers do not outlive the harness). */
void pbh__kill_all_children(void);

/* Prints the stacks of every thread of this process to out with gdb, if gdb
 * is installed; waits at most limit_s seconds for it. Returns 0 when gdb ran. */
int pbh__print_stacks(int out_fd, int limit_s);

/* ------------------------------------------------------------------------
 * PRNG: xoshiro256**, seeded through splitmix64
 * ------------------------------------------------------------------------ */

typedef struct pbh_rng {
    uint64_t s[4];
} pbh_rng;

void pbh__rng_seed(pbh_rng *r, uint64_t seed, uint64_t stream);
uint64_t pbh__rng_next(pbh_rng *r);
/* Uniform in [0, n) (n > 0). */
uint64_t pbh__rng_below(pbh_rng *r, uint64_t n);
/* Uniform in [lo, hi]. */
int64_t pbh__rng_range(pbh_rng *r, int64_t lo, int64_t hi);
/* True with probability per_million / 1e6. */
bool pbh__rng_chance(pbh_rng *r, uint32_t per_million);

/* ------------------------------------------------------------------------
 * The run (stress-engine.c) and its operations (stress-ops.c)
 * ------------------------------------------------------------------------ */

/* The invariants; each is one check in the report. */
typedef enum {
    PBH_CHECK_DONE,       /* every_future_done: each future done exactly once, state stable */
    PBH_CHECK_LOST,       /* no_lost_result: nothing stays undone */
    PBH_CHECK_RESULT,     /* right_results: checksums, ids, payloads */
    PBH_CHECK_FAILURES,   /* only_injected_failures: every failure has its injected cause */
    PBH_CHECK_CALLBACKS,  /* callbacks_once: each callback once, in order */
    PBH_CHECK_CANCEL,     /* cancel_only_pending */
    PBH_CHECK_WAIT,       /* waits_in_time: no early or late return */
    PBH_CHECK_ITERATORS,  /* iterators_complete: as_completed and map yield each item once */
    PBH_CHECK_SHUTDOWN,   /* shutdown_semantics */
    PBH_CHECK_API,        /* api_codes: calls return only documented codes */
    PBH_CHECK_THREADS,    /* no_thread_left */
    PBH_CHECK_CHILDREN,   /* no_child_left: children and zombies */
    PBH_CHECK_FDS,        /* no_fd_left */
    PBH_CHECK_MEMORY,     /* memory_returned: RSS back near the start */
    PBH_CHECK_HANG,       /* no_hang: the watchdog did not fire */
    PBH_CHECK_COUNT
} pbh_check;

const char *pbh__check_name(pbh_check c);

/* Operation kinds. */
typedef enum {
    PBH_OP_SUBMIT,
    PBH_OP_BURST_CANCEL,
    PBH_OP_RESULT,
    PBH_OP_WAIT,
    PBH_OP_AS_COMPLETED,
    PBH_OP_CANCEL,
    PBH_OP_CALLBACK,
    PBH_OP_MAP,
    PBH_OP_RETIRE,
    PBH_OP_KILL,
    PBH_OP_HEALTH,   /* main thread: a batch that must all succeed */
    PBH_OP_TAIL,     /* main thread: a batch submitted just before shutdown */
    PBH_OP_SHUTDOWN, /* main thread */
    PBH_OP_DESTROY,  /* main thread */
    PBH_OP_DRAIN,    /* a submitter retiring all it holds at the end */
    PBH_OP_WARMUP,   /* main thread: a throwaway pool runs one probe */
    PBH_OP_CREATE,   /* main thread: the pool under test is created */
    PBH_OP_COUNT
} pbh_opkind;

const char *pbh__op_name(pbh_opkind k);

#define PBH_CALLBACKS_MAX 3

typedef struct pbh_rec pbh_rec;

typedef struct pbh_cb {
    pbh_rec *rec;
    uint8_t idx;
    _Atomic uint32_t runs;
    _Atomic uint32_t seq; /* the rec's callback sequence number when it ran */
} pbh_cb;

/* One future the run submitted and still tracks. Records live in a ring per
 * actor and are reused only long after they were retired, so a callback
 * that runs twice or late finds its record (and sees that the future is
 * not the one it belongs to) instead of freed memory. */
struct pbh_rec {
    _Atomic(pb_future *) f;
    uint64_t id;       /* (actor << 40) | sequence: deterministic */
    uint64_t op;       /* the operation that submitted it */
    uint8_t inner;     /* pbh_inner */
    uint8_t ncb;       /* callbacks added */
    bool cancelled;    /* our pb_future_cancel returned true */
    bool live;         /* submitted and not yet retired */
    bool lost;         /* not done within patience: checked again after destroy */
    bool seen;         /* a done outcome was observed before retiring */
    int seen_code;
    int32_t fail_code;
    uint32_t len;
    uint64_t sum;      /* checksum of the payload */
    void *payload;     /* echo: the bytes (malloc'd until retired) */
    _Atomic uint32_t cb_seq;
    _Atomic uint32_t cb_bad; /* a callback saw its future not done */
    pbh_cb cbs[PBH_CALLBACKS_MAX];
};

typedef struct pbh_opdesc {
    uint8_t kind; /* pbh_opkind */
    uint8_t when; /* wait: pb_return_when */
    uint32_t n;   /* futures or items involved */
    uint32_t m;   /* second count (chunk size, cancels, callbacks, early stop) */
    uint64_t op;
    uint64_t id;  /* first future's id */
    int64_t timeout;
    int64_t started; /* pb_now_ns() when it began */
} pbh_opdesc;

#define PBH_LOG 16
#define PBH_RING 8192   /* records per actor (a power of two) */
#define PBH_LIVE_MAX 48 /* futures an actor holds at once */

typedef struct pbh_counts {
    uint64_t ops[PBH_OP_COUNT];
    uint64_t futures, map_items, maps;
    uint64_t ok, task_failed, broken, killed, cancelled;
    uint64_t timeouts_seen;   /* timed waits that timed out */
    uint64_t callbacks;
    uint64_t injected[8];     /* by fault bit index */
    uint64_t kills_missed;    /* no worker pid known, or it was gone */
    uint64_t kill_failures;   /* futures (or map items) failed by a kill, and charged to it */
    uint64_t timing_excused;  /* timing checks not judged: the CPU was saturated meanwhile */
} pbh_counts;

typedef struct pbh_run pbh_run;

typedef struct pbh_actor {
    pbh_run *run;
    int index; /* 0: main thread; 1..threads: submitters */
    pthread_t thread;
    pbh_rng rng;
    uint64_t op;  /* operations started */
    uint64_t seq; /* ids handed out */
    pbh_rec *ring;
    size_t ring_next;
    pbh_rec *live[PBH_LIVE_MAX];
    size_t nlive;
    pbh_rec **lost;
    size_t nlost, caplost;
    pbh_counts counts;
    /* For the watchdog: the operation in progress (op_started 0: none) and
     * the last few. The owner writes cur, then op_started (release). */
    pbh_opdesc cur;
    _Atomic int64_t op_started;
    pbh_opdesc log[PBH_LOG];
    _Atomic uint64_t nlog;
    /* Fault outcomes as they were observed, for faults_survived. */
    int64_t *fault_done;
    size_t nfault_done, capfault_done;
    bool finished;
    /* scratch */
    uint8_t *buf;
    size_t bufcap;
} pbh_actor;

typedef struct pbh_kill {
    pid_t pid;
    int sig;
    int64_t at;
    int actor;
    uint64_t op;
    bool claimed;
    bool withdrawn;  /* the signal could not be sent after all */
    uint64_t unit;   /* what its failure was charged to */
    uint32_t chunk;  /* map chunk + 1, or 0 */
} pbh_kill;

struct pbh_run {
    pbh_stress_opts o;
    pb_pool *pool;
    const pb_task *probe;
    pid_t self;
    bool in_process;         /* the backend runs tasks in this process */
    unsigned faults;         /* effective */
    uint32_t rate_fail, rate_crash, rate_hang;             /* per million probes */
    uint32_t map_rate_fail, map_rate_crash, map_rate_hang; /* per million map items */
    unsigned max_tasks;      /* max_tasks_per_worker, 0: none */
    int64_t task_timeout;    /* 0: none */
    int workers;
    pbh_actor *actors;       /* [0] main, [1..threads] submitters */
    int nactors;

    _Atomic bool stopping;       /* submitters: finish up */
    _Atomic bool shutdown_begun; /* pb_pool_shutdown was called (submit may say ESHUTDOWN) */
    _Atomic bool cancel_begun;   /* ... with cancel_futures (pending futures may be cancelled) */
    _Atomic int64_t last_success;/* completed time of the latest successful future */

    /* Worker pids seen in results, for kills. */
    pthread_mutex_t pids_mu;
    pid_t pids[32];
    size_t npids, pids_next;

    /* Kills sent, for charging failures to them. */
    pthread_mutex_t kills_mu;
    pbh_kill *kills;
    size_t nkills, capkills;
    uint64_t unexplained_kills; /* failures by a kill signal with no worker pid known */

    /* Violations. */
    pthread_mutex_t viol_mu;
    uint64_t violations;
    uint64_t check_fails[PBH_CHECK_COUNT];
    char *check_first[PBH_CHECK_COUNT];

    /* Distinct workers seen (pid/tid pairs), for recycling counts. */
    pthread_mutex_t seen_mu;
    uint64_t *seen_workers;
    size_t nseen, capseen;

    _Atomic long rss_peak_kb;
    int64_t started_ns;

    /* CPU pressure, sampled by the watchdog every tick: (time, PSI some
     * total) pairs in a ring, for judging whether a late wait or an
     * overdue task happened while the machine was saturated. */
    pthread_mutex_t psi_mu;
    struct {
        int64_t at;
        long long some_us;
    } psi[1024];
    size_t npsi;
};

/* The share (0..1) of [t0, t1] during which the CPU was contended (some
 * runnable task waited), from the watchdog's samples; -1 if unknown. */
double pbh__contention(pbh_run *run, int64_t t0, int64_t t1);

/* Whether a timing violation over [t0, t1] is not to be judged because the
 * CPU was saturated (contention >= 50%) then; counts it if so. */
bool pbh__timing_excused(pbh_actor *a, int64_t t0, int64_t t1);

/* Callbacks that found their record retired and reused: they ran twice, or
 * long after their future was done. Reset at the start of each run. */
extern _Atomic uint64_t pbh__stale_callbacks;

/* Records a violation of check c by actor a (NULL: the run itself) during
 * its current operation: prints it (seed, thread, operation, message) and
 * counts it. Thread-safe. */
void pbh__violation(pbh_run *run, pbh_actor *a, pbh_check c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A note for the user (not a violation); silenced by quiet. */
void pbh__note(pbh_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats an operation for people. */
void pbh__op_format(const pbh_opdesc *d, char *buf, size_t size);

/* Marks the start and end of an operation (watchdog, log, trace). */
void pbh__op_begin(pbh_actor *a, const pbh_opdesc *d);
void pbh__op_end(pbh_actor *a);
/* Within a long operation (a drain): one blocking step finished. */
void pbh__op_progress(pbh_actor *a);

/* The submitter loop. */
void *pbh__submitter_main(void *actor);

/* Operations the main thread runs at the end (stress-ops.c). */
void pbh__op_health(pbh_actor *a);
void pbh__op_tail(pbh_actor *a, size_t n);
void pbh__drain(pbh_actor *a);
/* After destroy: every record still held is checked once more and freed. */
void pbh__actor_final(pbh_actor *a);
void pbh__actor_free(pbh_actor *a);
int pbh__actor_init(pbh_actor *a, pbh_run *run, int index);

/* A worker pid learned from a result (kills pick from these). */
void pbh__remember_worker(pbh_run *run, pid_t pid, pid_t tid);

#endif /* PB_HARNESS_STRESS_INT_H */
