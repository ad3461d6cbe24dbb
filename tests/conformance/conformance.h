/*
 * conformance.h — the conformance suite's case framework, checks and helpers.
 *
 * The suite checks the futures contract of pb/pool.h against one backend at a
 * time, through the installed headers only (pb/pool.h; pb/backend.h just to
 * read the limits a backend declares): nothing here includes a pools/
 * internal header, so a pool plugged in from outside (--load) is held to
 * exactly the same test.
 *
 * CASES
 *   A case is a function registered with PBC_CASE(group, what) (named
 *   "group.what"). main.c runs each case in its own forked child process, in
 *   its own process group, with a timeout, so a hang or a crash fails one case
 *   and not the suite; the parent reports every case as one cmocka test.
 *   Inside the child, a case talks back only through the checks below:
 *     CHECK*  a failed check prints "file:line: what" and ends the child with
 *             status 1 at once (pools are left as they are: the parent kills
 *             the child's process group, so stuck workers cannot hang it);
 *     SKIP    the backend lacks a capability the case needs (pb_pool_create
 *             said PB_ENOTSUP): the case is reported SKIPPED with the reason;
 *     STEP    names what the case is doing now; when the child hangs or
 *             crashes, the parent prints the last step.
 *   A case that returns has passed. Checks may be used from helper threads.
 *   selftest.c holds cases that test the runner itself (--self-test).
 *
 * BLOCKING ON SOMETHING THE TEST CONTROLS
 *   Process workers share no memory with the test, so a task that must stay
 *   running until the test says so waits for a file to appear: a "gate"
 *   (pbc_gate) is a path in the case's scratch directory, and opening it
 *   creates the file. This works the same for threads, forked and exec'd
 *   workers, and needs no clock: tests check behaviour, never durations.
 *   Each gate task also leaves a "started" marker, so a case can count the
 *   tasks that really began (pbc_gate_started).
 *   Timeouts in cases are hang guards or the behaviour under test (a short
 *   timeout that must expire because a gate is closed), never measurements.
 *   Where a case looks for something that must NOT happen (a waiter returning
 *   early, a task starting on a blocked pool), it looks after a short grace:
 *   such a check can miss a bug on a slow day but never fails a correct pool.
 *
 * PENDING FUTURES
 *   "RUNNING" includes a task queued in a worker's own queue, so a future
 *   submitted behind a busy worker is not necessarily PENDING. Cases that need
 *   a PENDING future block every worker on a gate, submit a backlog of
 *   PBC_BACKLOG echo tasks and use the last one (or later ones): a
 *   work-conserving backend cannot have handed 256 tasks to workers that are
 *   all blocked. The pbc_blocked fixture sets that up and tears it down.
 */
#ifndef PBC_CONFORMANCE_H
#define PBC_CONFORMANCE_H

#include <pb/pool.h>

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- Cases ---- */

typedef void (*pbc_case_fn)(const char *backend);

/* The verdict the runner must reach. Only the runner's self-test cases
 * (group "selftest", run by --self-test alone) expect anything but a pass;
 * PBC_EXPECT_DEPART: a failure the departures table documents. */
typedef enum { PBC_EXPECT_PASS, PBC_EXPECT_FAIL, PBC_EXPECT_SKIP, PBC_EXPECT_DEPART } pbc_expect;

typedef struct pbc_case {
    const char *name;        /* "group.what" */
    pbc_case_fn fn;
    int timeout_s;           /* 0: the runner's default */
    pbc_expect expect;
    const char *expect_text; /* self-test: the runner's verdict must contain it */
    struct pbc_case *next;
} pbc_case;

void pbc__case_register(pbc_case *c);

#define PBC__CASE(group, what, timeout, expect, text)                         \
    static void pbc__case_fn_##group##__##what(const char *backend);          \
    static pbc_case pbc__case_##group##__##what = {                           \
        #group "." #what, pbc__case_fn_##group##__##what, (timeout), (expect), \
        (text), NULL};                                                        \
    __attribute__((constructor)) static void pbc__reg_##group##__##what(void) \
    {                                                                         \
        pbc__case_register(&pbc__case_##group##__##what);                     \
    }                                                                         \
    static void pbc__case_fn_##group##__##what(                               \
        const char *backend __attribute__((unused)))

/* Defines and registers a case "group.what" whose body sees `backend`. */
#define PBC_CASE(group, what) PBC__CASE(group, what, 0, PBC_EXPECT_PASS, NULL)
/* The same, for a case that needs more than the default time. */
#define PBC_CASE_TIMEOUT(group, what, timeout)                                \
    PBC__CASE(group, what, timeout, PBC_EXPECT_PASS, NULL)
/* A self-test of the runner: the case must end with verdict expect, and the
 * runner's explanation must contain text. */
#define PBC_SELFTEST(what, expect, text) PBC__CASE(selftest, what, 0, expect, text)

/* The registered cases, sorted by name. */
pbc_case **pbc_cases(size_t *n);

/* ---- Documented departures (departures.c says what and why) ---- */

typedef struct pbc_departure {
    char *case_name;
    char *fails_with; /* pieces of the failure message, in order, between " … " */
    int timeout_s;    /* 0: the runner's; else how long the case may hang */
    char *because;
} pbc_departure;

/* Loads a backend's table (departures/<backend>.md). Returns 0, or -1 with
 * one line in err (a file that cannot be read, a malformed row, a case name
 * that does not exist). */
int pbc_departures_load(const char *path, char *err, size_t errlen);
/* The row of a case, or NULL. */
const pbc_departure *pbc_departure_find(const char *case_name);
/* Whether a failure message is the one the row documents. */
bool pbc_departure_matches(const pbc_departure *d, const char *message);

/* What a case child tells its parent, in memory shared between them (the
 * runner maps it before forking; NULL when a case runs in-process). */
typedef struct pbc_report {
    char step[512];     /* the last STEP() */
    char message[4096]; /* why it failed, or why it was skipped */
} pbc_report;
extern pbc_report *pbc__report;
extern char pbc__scratch[PATH_MAX]; /* the current case's scratch directory */
enum { PBC_EXIT_PASS = 0, PBC_EXIT_FAIL = 1, PBC_EXIT_SKIP = 77 };

/* ---- Checks (child side) ---- */

_Noreturn void pbc__fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void pbc__skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pbc__step(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *pbc_state_name(pb_state s);

#define FAIL(...) pbc__fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) pbc__skip(__VA_ARGS__)
#define STEP(...) pbc__step(__FILE__, __LINE__, __VA_ARGS__)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            pbc__fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);         \
    } while (0)

#define CHECK_MSG(cond, ...)                                                  \
    do {                                                                      \
        if (!(cond))                                                          \
            pbc__fail(__FILE__, __LINE__, __VA_ARGS__);                       \
    } while (0)

/* expr returns the PB_E* code want (0 for success). */
#define CHECK_CODE(expr, want)                                                \
    do {                                                                      \
        int pbc_got_ = (expr);                                                \
        int pbc_want_ = (want);                                               \
        if (pbc_got_ != pbc_want_)                                            \
            pbc__fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d (%s)", \
                      #expr, pbc_got_, pb_strerror(pbc_got_), pbc_want_,      \
                      pb_strerror(pbc_want_));                                \
    } while (0)
#define CHECK_OK(expr) CHECK_CODE(expr, 0)

#define CHECK_INT(a, op, b)                                                   \
    do {                                                                      \
        long long pbc_a_ = (long long)(a);                                    \
        long long pbc_b_ = (long long)(b);                                    \
        if (!(pbc_a_ op pbc_b_))                                              \
            pbc__fail(__FILE__, __LINE__, "CHECK(%s %s %s) failed: %lld vs %lld", \
                      #a, #op, #b, pbc_a_, pbc_b_);                           \
    } while (0)

#define CHECK_STR(a, b)                                                       \
    do {                                                                      \
        const char *pbc_sa_ = (a);                                            \
        const char *pbc_sb_ = (b);                                            \
        if (pbc_sa_ == NULL || pbc_sb_ == NULL || strcmp(pbc_sa_, pbc_sb_) != 0) \
            pbc__fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #a, \
                      pbc_sa_ ? pbc_sa_ : "(null)", pbc_sb_ ? pbc_sb_ : "(null)"); \
    } while (0)

#define CHECK_STATE(f, want)                                                  \
    do {                                                                      \
        pb_state pbc_st_ = pb_future_state(f);                                \
        if (pbc_st_ != (want))                                                \
            pbc__fail(__FILE__, __LINE__, "state of %s is %s, expected %s", #f, \
                      pbc_state_name(pbc_st_), pbc_state_name(want));         \
    } while (0)

/* state, done(), running() and cancelled() all agree with want. */
void pbc__check_state_consistent(const char *file, int line, const pb_future *f,
                                 pb_state want);
#define CHECK_STATE_ALL(f, want) pbc__check_state_consistent(__FILE__, __LINE__, f, want)

/* ---- Pools ---- */

/* Creates a pool: opts NULL means defaults with `workers` workers (opts given:
 * workers is ignored). PB_ENOTSUP skips the case with pb_pool_last_error();
 * any other error fails it. */
pb_pool *pbc_pool(const char *backend, int workers, const pb_pool_opts *opts);

/* The backend's own name: backend without the settings a spec may carry
 * ("fork" for "fork:prefetch=0"), as pb_pool_backend() and
 * pb_backend_names() say it. Static storage, valid until the next call. */
const char *pbc_backend_name(const char *backend);

/* The task called name, which the suite registered; fails the case if unknown. */
const pb_task *pbc_task(const char *name);

/* pb_submit that must succeed. */
pb_future *pbc_submit(pb_pool *pool, const char *task, const void *arg, size_t len);

/* Submits conf_echo with the 8 bytes of v. */
pb_future *pbc_submit_u64(pb_pool *pool, uint64_t v);

/* Waits (forever: the case timeout is the hang guard) for f's result and checks
 * it is exactly the 8 bytes of want. */
void pbc__check_u64(const char *file, int line, pb_future *f, uint64_t want);
#define CHECK_RESULT_U64(f, want) pbc__check_u64(__FILE__, __LINE__, f, want)

/* Waits until f leaves PENDING; checks it is then RUNNING (or, if finished_ok,
 * possibly already FINISHED). */
void pbc__await_running(const char *file, int line, pb_future *f, bool finished_ok);
#define AWAIT_RUNNING(f) pbc__await_running(__FILE__, __LINE__, f, false)

/* Polls until cond holds (the case timeout is the hang guard). */
#define AWAIT(cond)                                                           \
    do {                                                                      \
        STEP("waiting until %s", #cond);                                      \
        for (unsigned pbc_i_ = 0; !(cond); pbc_i_++)                          \
            pbc_pause(pbc_i_);                                                \
    } while (0)
void pbc_pause(unsigned iteration); /* a short sleep growing with iteration */
void pbc_sleep_ms(int ms);

/* ---- Gates: tasks that block until the test opens a file ---- */

typedef struct pbc_gate {
    char path[PATH_MAX];
} pbc_gate;

void pbc_gate_init(pbc_gate *g);          /* a new, closed gate */
void pbc_gate_open(pbc_gate *g);          /* every task waiting on it returns */
pb_future *pbc_submit_gate(pb_pool *pool, const pbc_gate *g);
/* How many tasks waiting on g have started so far (each leaves a marker). */
int pbc_gate_started(const pbc_gate *g);

void pbc_release_all(pb_future **fs, size_t n);

/* ---- A pool with every worker blocked ---- */

#define PBC_BACKLOG 256

/* The set-up most cases start from: each worker of the pool runs a gate task
 * (blockers[i], RUNNING until the gate opens), so anything submitted next
 * waits; with a backlog, PBC_BACKLOG echo tasks (backlog[i] returns i) are
 * queued behind them and `pending`, the last of them, is PENDING. */
typedef struct pbc_blocked {
    pb_pool *pool;
    pbc_gate gate;
    int workers;                     /* pb_pool_workers(pool) */
    pb_future **blockers;            /* workers entries */
    pb_future *backlog[PBC_BACKLOG]; /* all NULL without a backlog */
    pb_future *pending;              /* backlog[PBC_BACKLOG - 1], or NULL */
} pbc_blocked;

/* Takes pool over, blocks all its workers on a new gate (waiting until each
 * gate task has started) and, if backlog, queues the backlog. */
void pbc__blocked_setup(const char *file, int line, pbc_blocked *b, pb_pool *pool,
                        bool backlog);
#define BLOCKED_SETUP(b, pool, backlog)                                       \
    pbc__blocked_setup(__FILE__, __LINE__, b, pool, backlog)
/* Opens the gate, destroys the pool (a case that destroyed it already sets
 * pool to NULL) and releases the blockers and the backlog (entries a case
 * released itself must be NULL). b can then be set up again. */
void pbc_blocked_teardown(pbc_blocked *b);

/* ---- Threads, counters, resources ---- */

typedef struct pbc_thread {
    pthread_t id;
} pbc_thread;
void pbc_thread_start(pbc_thread *t, void *(*fn)(void *), void *arg);
void pbc_thread_join(pbc_thread *t);

/* A counter one can wait on from another thread. */
typedef struct pbc_counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long value;
} pbc_counter;
void pbc_counter_init(pbc_counter *c);
void pbc_counter_add(pbc_counter *c, long n);
long pbc_counter_get(pbc_counter *c);
void pbc_counter_wait_ge(pbc_counter *c, long n); /* hang guard: the case timeout */
void pbc_counter_destroy(pbc_counter *c);

/* Threads, fds and children of the case process, through tests/common's
 * census (census.h says why thread counts need care): a baseline thread
 * count is taken quiet, a later one settled; only more is a leak. */
int pbc_count_fds(void);                   /* entries of /proc/self/fd */
int pbc_count_threads_quiet(void);         /* entries of /proc/self/task */
int pbc_count_threads_settled(int expect);
bool pbc_has_children(void);   /* a child, exited or not, without reaping it */
long pbc_gettid(void);
int pbc_allowed_cpus(int *first); /* CPUs in this process's affinity mask */
/* How many workers workers=0 means for backend: the CPUs of the affinity
 * mask, unless the backend declares a count of its own (pb_backend's
 * default_workers: the mpi backend's worker ranks). */
int pbc_default_workers(const char *backend);
bool pbc_own_default_workers(const char *backend); /* it declares one */

/* Whether --slow was given: cases may then do their full volume where they
 * would otherwise do less. */
bool pbc_slow(void);

/* The case's scratch directory (exists, empty at the start of the case). */
const char *pbc_scratch_dir(void);

/* ---- Task arguments and results (tasks.c defines the tasks) ---- */

/* The argument of task conf_item (map cases). The task returns index as a
 * uint64_t, or fails with task_code = index and message "item <index> failed". */
typedef struct pbc_item {
    uint32_t index;
    uint32_t flags;
    uint32_t delay_us; /* CONF_ITEM_DELAY: sleep this long first */
} pbc_item;
enum { CONF_ITEM_FAIL = 1, CONF_ITEM_DELAY = 2 };

/* conf_fail: the argument is an int32_t code followed by the message bytes;
 * the task fails with exactly that code and message. */

/* The result of task conf_whoami: what a task sees of its worker. */
typedef struct pbc_whoami {
    int64_t pid;
    int64_t tid;
    int64_t init_runs;  /* times conf_init ran in this worker (thread) */
    uint64_t init_value; /* what conf_init stored, 0 if it did not run */
} pbc_whoami;

#endif /* PBC_CONFORMANCE_H */
