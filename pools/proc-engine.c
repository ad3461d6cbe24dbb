/*
 * proc-engine.c — the process-worker engine behind the fork and exec backends.
 *
 * A pool of worker processes that survives crashes, hangs and bad workers:
 * a crashed worker fails exactly the task it was executing and is replaced,
 * an overdue task's worker is killed, a worker that talks nonsense is
 * killed, and nothing — no child, zombie, fd, mapping or thread — outlives
 * pb_pool_destroy(). fork.c and exec.c only say how one worker process
 * begins.
 *
 * DESIGN
 *
 * Processes and channels. Each worker slot holds one process (a `proc`),
 * one AF_UNIX stream socket to it, a pidfd that becomes readable when the
 * process exits, and a region of shared memory (wire-int.h): a control page
 * and rings. Results always come back through the region's result ring, so
 * a result the worker wrote survives its crash, and a worker wakes the pool
 * with a BELL on the socket only when the pool asked for one because it was
 * going to sleep. Tasks go out over the socket (transport "socket", the
 * default: nothing spins; every hand-off to an idle worker is a write and a
 * wake-up) or through the task ring (transport "shm": an idle worker spins
 * for a few µs — one worker of the pool at a time — then sleeps on a futex
 * in the region; a waiting caller spins on the result rings likewise).
 * Death is detected through the pidfd, never through the socket alone, and
 * never by reaping anyone else's children. The library installs no signal
 * handler (no SIGCHLD) and sends with MSG_NOSIGNAL, so a dying worker never
 * raises SIGPIPE in the host.
 *
 * Prefetch. A worker holds up to 1 + prefetch tasks: the one it runs and
 * the ones waiting in its own queue (its socket or ring and receive
 * buffer). A task is RUNNING from the moment it is handed over, as
 * DESIGN.md says. Dispatch gives each task to the worker holding the fewest,
 * so an idle worker is always served first; a task already handed to a busy
 * worker stays there (prefetch 0 keeps dispatch strictly work-conserving).
 * Handing over several tasks at once is one write, and a worker's results
 * reach the pool without a syscall each: the pool reads them from the ring
 * whenever it looks, and a worker only writes a BELL when the pool sleeps.
 * The exact promises:
 *   - a crash fails exactly the task that was executing: before running a
 *     task the worker stores its id in the control page (`running`), and
 *     clears it after its result is in the ring. When the worker dies the
 *     pool first takes every result from the ring, then fails the task
 *     `running` names, and puts the tasks it had handed over but that never
 *     started back at the front of the queue, for other workers — once, and
 *     never failed for a crash they had no part in;
 *   - task_timeout counts from the task's real start, which the worker
 *     stores beside `running`. The collector looks at a busy worker when its
 *     earliest possible deadline passes; an overdue task is condemned with a
 *     compare-and-swap on `running` (so a worker that finished just then
 *     keeps its result, and a condemned worker never starts another task),
 *     fails with PB_EKILLED, and the worker is killed; its other tasks go
 *     back to the queue;
 *   - max_tasks_per_worker: a worker is never handed more tasks than it may
 *     still run; after the last result it is retired.
 *
 * Who reads. One thread at a time holds the reader role (`role`) and may
 * read sockets and result rings, complete futures from what it reads, and
 * free procs. It is normally the collector thread; but a thread that waits
 * for a result (pb_future_result, pb_map_next: the core calls
 * pb__proc_help) takes the role when it is free and reads for itself,
 * sleeping in its own epoll set (`ep_rx`) over the sockets. So a result
 * reaches a waiting caller in two wake-ups — the worker's, then the
 * caller's — instead of three through the collector. The sockets are in
 * both epoll sets with EPOLLEXCLUSIVE, the waiter's first, so that while a
 * waiter sleeps in ep_rx a BELL wakes only it. The collector asks for the
 * role when it needs it (a worker died, a deadline passed) by setting
 * `rd_want` and writing `kickfd`, which is in ep_rx; a waiter then hands
 * the role over and sleeps on its future as usual. A socket event the
 * collector cannot handle because the role is taken is recorded
 * (`rd_missed`, set before it tries) and handled by the holder before it
 * leaves. A waiter never runs the user's done-callbacks: a future it
 * completes that has callbacks is handed to the collector thread, which
 * runs them (DESIGN.md: callbacks run in the collector thread).
 *
 * Looks. A worker tells of its results in batches while it holds more work
 * (proc-worker.c), so a result may sit in its ring unannounced while the
 * worker runs the next task it already holds — for as long as that task
 * runs, and for ever if that task waits for the caller to see the earlier
 * result. So a reader does not sleep for long while that may be: it looks
 * at the rings LOOK_MIN_NS after it went to sleep, then twice as long after
 * each look that found nothing, up to LOOK_MAX_NS (a pool whose tasks run
 * for seconds wakes a few dozen times a second), and from LOOK_MIN_NS again
 * once something came. A waiter holding the role looks for itself while it
 * waits. The collector looks while some worker holds a task beyond the one
 * it runs (`looks`, under mu: dispatch sets it and wakes the collector when
 * a worker comes to hold one, the collector's turn clears it when none
 * does), and only if the role is free; a pool that runs one task at a time
 * per worker never wakes it for looks.
 *
 * Threads and locks. One mutex `mu` per pool guards the queue, the slots'
 * contents, every proc's state, tasks in flight and outgoing bytes. The
 * reader role is not a mutex of libpthread but an atomic word, so that its
 * release and `rd_missed` are ordered (sequentially consistent). Lock
 * order: role, then mu, then a future's own lock (pb_future_set_running
 * under mu). No callback ever runs with mu held, and futures are completed
 * only after mu is released, because completion runs done-callbacks that
 * may submit to this very pool. Submitters (any thread) queue the future
 * and hand it to a worker at once when one has room, writing to its socket
 * or ring without blocking; bytes that do not fit wait in the proc until
 * the worker makes room and BELLs (`tx_blocked`, or the task ring's
 * want_space).
 *
 * Faults, all seen by the collector:
 *   - pidfd readable while a proc is in its slot: the socket and the result
 *     ring are drained first (results written just before dying still
 *     count), then the executing task, if any, fails with PB_EBROKEN "worker
 *     N killed by signal S (...)" or "exited with status S", and the tasks
 *     it had not started go back to the queue; an idle worker is replaced
 *     silently.
 *   - task_timeout (above): PB_EKILLED, the worker gets SIGTERM, then
 *     SIGKILL after a short grace, and is replaced at once (the dying
 *     process is tracked apart until reaped).
 *   - a malformed or unexpected frame, or nonsense in the shared region:
 *     SIGKILL; the oldest task it held fails with PB_EBROKEN "worker N sent
 *     a malformed frame: <why>", the others go back to the queue.
 *   - the initializer runs in every worker (INIT frame) before its first
 *     task. If it fails, crashes or overruns task_timeout, the pool is
 *     broken: queued futures fail with PB_EBROKEN "initializer failed: ...",
 *     submit returns PB_EBROKEN, no worker is started again.
 *   - a worker that cannot be started (fork/spawn failing with EAGAIN or
 *     EMFILE, an exec worker dying before its HELLO, a HELLO reporting that
 *     a start step failed): retried with a backoff; while no worker at all
 *     is alive, queued futures fail with PB_EBROKEN saying why, rather than
 *     waiting forever. At create, any such failure fails pb_pool_create.
 *   - the handshake's time limit measures a worker's silence: a worker whose
 *     HELLO deadline passed has its socket read first, so one that spoke
 *     while the pool was busy starting thousands of others still counts;
 *     and create reads handshakes between starts.
 *
 * Shutdown. `inflight` counts the futures the engine holds (until their
 * callbacks ran). shutdown(wait) sleeps until it is 0; cancel_futures
 * cancels the queued ones in the calling thread first. destroy then tells
 * the collector to stop: it closes every socket and sets `closing` (idle
 * workers exit), SIGKILLs what has not exited after a grace period, reaps
 * every process and returns; destroy joins it and closes the last fds.
 *
 * Fds and fork. Every fd the engine opens is close-on-exec (exec'd workers
 * and the host's own children inherit none) and recorded in a process-wide
 * registry that pthread_atfork keeps consistent, so a forked worker can close
 * every other pool's and worker's fds: otherwise a worker holding a copy of
 * another worker's socket would keep it from ever seeing end of file. The
 * registry is kept sorted, so a child closes runs of them with close_range.
 * Shared regions are mapped MADV_DONTFORK: no worker inherits another's.
 */
#include "proc-int.h"
#include "wire-int.h"
#include "core-int.h"

#include <pb/backend.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELLO_TIMEOUT_NS (10 * 1000000000LL) /* a worker must say HELLO by then */
#define TERM_GRACE_NS (100 * 1000000LL)      /* SIGTERM → SIGKILL */
#define EXIT_GRACE_NS (2 * 1000000000LL)     /* socket closed → SIGKILL */
#define RETRY_MIN_NS (10 * 1000000LL)        /* first respawn retry */
#define RETRY_MAX_NS (1000 * 1000000LL)
#define START_FAILURES_MAX 3 /* consecutive failed starts before queued work fails */
#define READ_SLACK 65536     /* read this much beyond a known frame size */
/* A ring's size: big enough that a large result (a map's chunk) crosses it
 * in few pieces, small enough that a pool of thousands of workers stays
 * small (every page of a ring is touched in time): 64 MiB for the pool's
 * rings of each kind, each between 64 KiB and 1 MiB. */
#define RING_BUDGET (64u << 20)
#define RING_MIN (64u << 10)
#define RING_MAX (1u << 20)
#define PREFETCH_MAX 32
#define PREFETCH_DEFAULT "32"
#define PREFETCH_WINDOW_NS (100 * 1000LL) /* prefetch covers about this much work */
#define START_PUMP 16        /* at create, read handshakes after every this many starts */
#define ROLE_WAIT_NS 5000    /* transport "socket": how long a waiter waits for the reader role */
#define LOOK_MIN_NS (500 * 1000LL)    /* a sleeping reader looks at the rings this soon, */
#define LOOK_MAX_NS (32 * 1000000LL)  /* backing off to this while nothing comes ("Looks") */

/* Marks a queued future that already went RUNNING (its worker died before
 * running it, so it goes round again): pb_future_set_running is not
 * repeated and cancel_futures leaves it alone. */
#define SLOT_CLAIMED ((void *)1)

const pb_backend_option pb__proc_options[] = {
    {"transport", "socket|shm", "socket",
     "how tasks reach a worker: socket (nothing spins) or shm (rings in shared memory; a "
     "worker and a waiting caller spin a few us first)"},
    {"prefetch", "0..32", PREFETCH_DEFAULT,
     "tasks a worker may hold beyond the one it runs, at most: as many as cover about 100 us "
     "of its recent tasks (0: one task at a time)"},
    {NULL, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------------
 * The fd registry (see "Fds and fork" above)
 * ------------------------------------------------------------------------ */

static pthread_mutex_t fdreg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fdreg_once = PTHREAD_ONCE_INIT;
static int *fdreg; /* sorted */
static size_t fdreg_n, fdreg_cap;

static void fdreg_prepare(void)
{
    pthread_mutex_lock(&fdreg_mu);
}

static void fdreg_after(void)
{
    pthread_mutex_unlock(&fdreg_mu);
}

static void fdreg_init(void)
{
    pthread_atfork(fdreg_prepare, fdreg_after, fdreg_after);
}

/* Records fd (the caller holds fdreg_mu). On failure closes fd. */
static int fdreg_add_locked(int fd)
{
    if (fdreg_n == fdreg_cap) {
        size_t cap = fdreg_cap ? fdreg_cap * 2 : 64;
        int *a = realloc(fdreg, cap * sizeof *a);
        if (!a) {
            close(fd);
            return PB_ENOMEM;
        }
        fdreg = a;
        fdreg_cap = cap;
    }
    size_t i = fdreg_n;
    while (i > 0 && fdreg[i - 1] > fd)
        i--;
    memmove(fdreg + i + 1, fdreg + i, (fdreg_n - i) * sizeof *fdreg);
    fdreg[i] = fd;
    fdreg_n++;
    return 0;
}

static void fdreg_del_locked(int fd)
{
    for (size_t i = 0; i < fdreg_n; i++)
        if (fdreg[i] == fd) {
            memmove(fdreg + i, fdreg + i + 1, (fdreg_n - i - 1) * sizeof *fdreg);
            fdreg_n--;
            return;
        }
}

static void fdreg_close(int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&fdreg_mu);
    fdreg_del_locked(fd);
    close(fd); /* under the lock: no fork sees the number freed but recorded */
    pthread_mutex_unlock(&fdreg_mu);
}

static bool kept(const pb__proc_fds *keep, int fd)
{
    return fd == keep->sock || fd == keep->shm;
}

void pb__proc_close_engine_fds(const pb__proc_fds *keep)
{
    /* Only the forking thread exists here, and the atfork handlers left the
     * registry consistent and unlocked. Consecutive numbers go in one
     * close_range: a pool's fds are mostly allocated in a row. */
    size_t kept_n = 0;
    for (size_t i = 0; i < fdreg_n;) {
        if (kept(keep, fdreg[i])) {
            fdreg[kept_n++] = fdreg[i++];
            continue;
        }
        size_t j = i + 1;
        while (j < fdreg_n && fdreg[j] == fdreg[j - 1] + 1 && !kept(keep, fdreg[j]))
            j++;
        if (syscall(SYS_close_range, (unsigned)fdreg[i], (unsigned)fdreg[j - 1], 0) != 0)
            for (size_t k = i; k < j; k++)
                close(fdreg[k]);
        i = j;
    }
    fdreg_n = kept_n;
}

static int fdreg_socketpair(int sv[2])
{
    pthread_once(&fdreg_once, fdreg_init);
    pthread_mutex_lock(&fdreg_mu);
    int r = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        r = -errno;
    } else if ((r = fdreg_add_locked(sv[0])) < 0) {
        close(sv[1]);
    } else if ((r = fdreg_add_locked(sv[1])) < 0) {
        fdreg_del_locked(sv[0]);
        close(sv[0]);
    }
    pthread_mutex_unlock(&fdreg_mu);
    return r;
}

enum { FD_EPOLL, FD_EVENT, FD_PIDFD, FD_MEMFD };

static int fdreg_open(int kind, pid_t pid)
{
    pthread_once(&fdreg_once, fdreg_init);
    pthread_mutex_lock(&fdreg_mu);
    int fd = kind == FD_EPOLL   ? epoll_create1(EPOLL_CLOEXEC)
             : kind == FD_EVENT ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
             : kind == FD_MEMFD ? memfd_create("poolbench-worker", MFD_CLOEXEC)
                                : (int)syscall(SYS_pidfd_open, pid, 0); /* always CLOEXEC */
    int r = fd < 0 ? -errno : fdreg_add_locked(fd);
    pthread_mutex_unlock(&fdreg_mu);
    return r < 0 ? r : fd;
}

/* ------------------------------------------------------------------------
 * Pools and their processes
 * ------------------------------------------------------------------------ */

/* P_GONE: still in its slot but known to be dead or dying (a write found its
 * socket closed, or it hung up); nothing is handed to it until its pidfd
 * reports. */
enum { P_STARTING, P_INIT, P_READY, P_GONE, P_DYING };
enum { T_WAKE, T_KICK, T_SOCK, T_PID };

typedef struct proc proc;
typedef struct ppool ppool;

typedef struct tag {
    int kind;
    proc *p;
} tag;

typedef struct flight {
    pb_future *f;
    uint64_t id;
    uint64_t seq; /* the n-th task frame sent to this worker (its claim) */
} flight;

struct proc {
    int slot;  /* index in slots, or -1 once detached (dying) */
    int state; /* P_*, guarded by mu */
    pid_t pid;
    int pidfd;
    int sock;  /* -1 once closed */
    bool eof;  /* the socket said end of file */
    pb__shm *shm;          /* its region of the pool's shared memory */
    unsigned region;       /* which one */
    unsigned char *task_bytes, *result_bytes;

    /* Under mu: the tasks handed over and not yet answered, oldest first (a
     * ring of pp->depth), how many it was handed in its life, and what is
     * still to be written to it. */
    flight *fl;
    unsigned fl_head, fl_n;
    unsigned handed;   /* tasks handed over in its life, taken back ones too */
    int64_t run_avg;   /* how long its tasks ran lately (ns, a moving average) */
    uint64_t seq;      /* task frames sent (the next one's claim number) */
    struct iovec *iov; /* frames not yet (wholly) written */
    int iov_first, iov_end;
    unsigned char (*heads)[PB__WIRE_TASK_HEAD_MAX]; /* a frame's fixed part, per flight */
    unsigned char init_head[PB__WIRE_TASK_HEAD_MAX];
    bool tx_wait;  /* bytes wait for the worker to make room (it BELLs) */
    bool dirty;    /* gained bytes in this dispatch round */
    proc *dirty_next;

    /* P_STARTING: the HELLO deadline; P_INIT: task_timeout of the
     * initializer (0: none). P_READY with tasks and a task_timeout: when to
     * look at `running` next (check_at). */
    int64_t deadline;
    int64_t check_at;

    /* The reader role's: bytes received from the socket and the ring. */
    pb__rxbuf rx, rrx;
    uint64_t need, rneed;
    bool sock_ready;          /* epoll said the socket is readable */
    _Atomic bool sock_missed; /* ... while the role was taken */
    uint64_t condemned;       /* the task condemned for its time limit */

    /* Dying: when to send kill_sig next (0: nothing scheduled), and what to
     * say if it was killed on purpose while still in its slot. */
    int64_t kill_at;
    int kill_sig;
    char why[96];

    tag tsock, tpid;
    proc *next; /* dying list, or the collector's graveyard */
};

/* A future the reader completes: with a frame's outcome (has_frame; its
 * bytes stay in the proc's buffer until then), or with err. */
typedef struct done {
    pb_future *f;
    bool has_frame;
    pb__frame fr;
    pb_error err;
    char msg[200];
} done;

struct ppool {
    const pb__proc_ops *ops;
    int workers;
    unsigned depth;      /* 1 + prefetch: tasks a worker may hold */
    bool shm_transport;

    pthread_mutex_t mu;
    pthread_cond_t idle_cv; /* inflight reached 0 */
    _Atomic(proc *) *slots; /* [workers]; NULL while empty; written under mu */
    proc *dying;            /* detached procs not yet reaped */
    pb_future **q;          /* ring of queued futures */
    size_t qhead, qlen, qcap;
    /* Futures the engine holds. Changed under mu when it grows (submit);
     * it shrinks without mu where a future completes, and the one that
     * brings it to 0 broadcasts idle_cv under mu. */
    _Atomic size_t inflight;
    uint64_t next_id;
    bool shut, stop, starting;
    char *broken;           /* "initializer failed: ...", once broken */
    bool broken_static;     /* broken is a string literal (not freed) */
    pb_future **deferred;   /* completed by a waiter; callbacks for the collector */
    size_t ndeferred, capdeferred;
    int64_t timer_at;       /* when the collector will look at timers next (-1: never) */
    bool looks;             /* the collector looks at the rings while it sleeps ("Looks") */

    /* Start-up failures and respawn backoff. */
    int start_failures;     /* consecutive, reset by a HELLO */
    int64_t retry_at, retry_delay;
    int start_code;         /* at create: the first failure */
    char start_err[512];

    /* Options. */
    char *program;
    char *initializer;
    void *init_arg;
    size_t init_len;
    unsigned max_tasks;
    int64_t timeout;
    pb__placement *placement;

    /* The reader role (see "Who reads"). */
    _Atomic uint32_t role;   /* 0 free, 1 taken, 2 taken and the collector waits */
    _Atomic bool rd_want;    /* the collector waits for the role */
    _Atomic bool rd_missed;  /* a socket event came while the role was taken */
    _Atomic bool leading;    /* a waiting caller holds the role */
    done *scratch;           /* [depth + 1]: the role's completions of one drain */

    int ep, ep_rx, evfd, kickfd;
    /* The shared memory (wire-int.h): the pool's page, then the regions,
     * of which those in free_regions (under mu) belong to no process. */
    int shm_fd;
    unsigned char *area;
    size_t area_len, region_len;
    uint32_t ring; /* bytes of each ring (RING_BUDGET) */
    pb__shm_pool *pool_shm;
    unsigned *free_regions;
    unsigned nfree;
    tag twake, tkick;
    pthread_t collector;
    bool collector_started;
    proc *graveyard; /* procs to free at the end of an event batch (role held) */
};

static void dispatch_locked(ppool *pp);
static void detach_locked(ppool *pp, proc *p, int sig_now, int64_t grace, int sig_later);
static void start_failed_locked(ppool *pp, int code, const char *why);
static void break_locked(ppool *pp, const char *why);
static bool read_proc(ppool *pp, proc *p);

/* ---- small helpers ---- */

static inline proc *slot_get(const ppool *pp, int i)
{
    return atomic_load_explicit(&pp->slots[i], memory_order_acquire);
}

static inline void slot_set(ppool *pp, int i, proc *p)
{
    atomic_store_explicit(&pp->slots[i], p, memory_order_release);
}

static void event_write(int fd)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(fd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, so it is readable anyway. */
}

static void event_drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

/* Wakes the collector. */
static void wake(ppool *pp)
{
    event_write(pp->evfd);
}

/* Wakes a waiter that reads for itself, if there is one: it looks again at
 * what it waits for. */
static void kick_leader(ppool *pp)
{
    if (atomic_load(&pp->leading))
        event_write(pp->kickfd);
}

static int send_signal(proc *p, int sig)
{
    if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) == 0)
        return 0;
    return -errno;
}

static void format_duration(char *buf, size_t size, int64_t ns)
{
    if (ns % 1000000000 == 0)
        snprintf(buf, size, "%lld s", (long long)(ns / 1000000000));
    else if (ns % 1000000 == 0)
        snprintf(buf, size, "%lld ms", (long long)(ns / 1000000));
    else if (ns % 1000 == 0)
        snprintf(buf, size, "%lld us", (long long)(ns / 1000));
    else
        snprintf(buf, size, "%lld ns", (long long)ns);
}

/* How a reaped worker ended, as the pb_error of its future. */
static void describe_exit(char *buf, size_t size, pid_t pid, bool known, int status,
                          pb_error *err)
{
    if (!known) {
        snprintf(buf, size, "worker %d died (its exit status was collected elsewhere)",
                 (int)pid);
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = strsignal(sig);
        snprintf(buf, size, "worker %d killed by signal %d (%s)", (int)pid, sig,
                 name ? name : "unknown signal");
        err->signal = sig;
    } else {
        snprintf(buf, size, "worker %d exited with status %d", (int)pid, WEXITSTATUS(status));
        err->exit_status = WEXITSTATUS(status);
    }
}

/* One future fewer in the engine's hands: without mu (the common case after
 * a result arrives, so that the submitter of the next task does not meet the
 * reader on the lock), or with it. */
static void settle(ppool *pp)
{
    if (atomic_fetch_sub(&pp->inflight, 1) == 1) {
        pthread_mutex_lock(&pp->mu);
        pthread_cond_broadcast(&pp->idle_cv);
        pthread_mutex_unlock(&pp->mu);
    }
}

static void settle_locked(ppool *pp)
{
    if (atomic_fetch_sub(&pp->inflight, 1) == 1)
        pthread_cond_broadcast(&pp->idle_cv);
}

/* Completes f with d (a result frame, or d->err), releases the engine's
 * reference and settles it. Call without mu. A waiter reading for itself
 * (`leading`, which only the role's holder reads here) leaves the future's
 * callbacks to the collector thread. */
static void finish(ppool *pp, pb_future *f, const done *d, bool leader)
{
    const pb__frame *fr = d->has_frame ? &d->fr : NULL;
    pb_error err = d->err;
    char small[256], *msg = NULL;
    if (fr && fr->code) {
        msg = fr->body_len < sizeof small ? small : malloc(fr->body_len + 1);
        err = (pb_error){ .code = PB_ETASK, .task_code = fr->task_code, .message = "" };
        if (msg) {
            memcpy(msg, fr->body, fr->body_len);
            msg[fr->body_len] = '\0';
            err.message = msg;
        }
    }
    int later;
    if (fr && !fr->code)
        later = pb__future_set_result_ex(f, fr->body, fr->body_len, fr->started, fr->ended,
                                         leader);
    else
        later = pb__future_set_error_ex(f, &err, fr ? fr->started : 0, fr ? fr->ended : 0,
                                        leader);
    if (msg && msg != small)
        free(msg);
    if (later == 1) {
        /* Its callbacks wait for the collector, which settles it after. */
        pthread_mutex_lock(&pp->mu);
        if (pp->ndeferred == pp->capdeferred) {
            size_t cap = pp->capdeferred ? pp->capdeferred * 2 : 16;
            pb_future **a = realloc(pp->deferred, cap * sizeof *a);
            if (!a) {
                /* Nowhere to keep it: run the callbacks here rather than
                 * never. */
                pthread_mutex_unlock(&pp->mu);
                pb__future_run_callbacks(f);
                pb_future_release(f);
                settle(pp);
                return;
            }
            pp->deferred = a;
            pp->capdeferred = cap;
        }
        pp->deferred[pp->ndeferred++] = f;
        pthread_mutex_unlock(&pp->mu);
        wake(pp);
        return;
    }
    pb_future_release(f);
    settle(pp);
}

/* Fails f with code and message (the collector, or the creator: never a
 * waiter), releases the engine's reference and settles it. Call without
 * mu. */
static void fail_future(ppool *pp, pb_future *f, int code, const pb_error *how,
                        const char *message)
{
    done d = { .f = f, .err = { .code = code, .message = message } };
    if (how) {
        d.err.signal = how->signal;
        d.err.exit_status = how->exit_status;
    }
    finish(pp, f, &d, false);
    kick_leader(pp); /* a waiter reading for itself may wait for this one */
}

/* ---- the queue ---- */

static int q_push_locked(ppool *pp, pb_future *f, bool front)
{
    if (pp->qlen == pp->qcap) {
        size_t cap = pp->qcap ? pp->qcap * 2 : 64;
        pb_future **q = malloc(cap * sizeof *q);
        if (!q)
            return PB_ENOMEM;
        for (size_t i = 0; i < pp->qlen; i++)
            q[i] = pp->q[(pp->qhead + i) % pp->qcap];
        free(pp->q);
        pp->q = q;
        pp->qcap = cap;
        pp->qhead = 0;
    }
    if (front) {
        pp->qhead = (pp->qhead + pp->qcap - 1) % pp->qcap;
        pp->q[pp->qhead] = f;
    } else {
        pp->q[(pp->qhead + pp->qlen) % pp->qcap] = f;
    }
    pp->qlen++;
    return 0;
}

static pb_future *q_pop_locked(ppool *pp)
{
    pb_future *f = pp->q[pp->qhead];
    pp->qhead = (pp->qhead + 1) % pp->qcap;
    pp->qlen--;
    return f;
}

/* ---- tasks in flight (under mu) ---- */

static flight *fl_at(const ppool *pp, proc *p, unsigned k)
{
    return &p->fl[(p->fl_head + k) % pp->depth];
}

static flight fl_pop(ppool *pp, proc *p)
{
    flight x = p->fl[p->fl_head];
    p->fl_head = (p->fl_head + 1) % pp->depth;
    p->fl_n--;
    return x;
}

/* Puts every task p holds back at the front of the queue, in order: none of
 * them started (the caller took the one that did). They are RUNNING
 * already (SLOT_CLAIMED). The pushes cannot fail for want of room: the
 * queue grows, and if it cannot, the future fails instead. Returns the
 * futures that could not be queued, for the caller to fail: none unless
 * memory ran out. */
static size_t requeue_locked(ppool *pp, proc *p, pb_future **lost)
{
    size_t nlost = 0;
    while (p->fl_n) {
        flight x = *fl_at(pp, p, p->fl_n - 1);
        p->fl_n--;
        if (q_push_locked(pp, x.f, true) < 0)
            lost[nlost++] = x.f;
    }
    p->fl_head = 0;
    p->iov_first = p->iov_end = 0; /* what was not written never will be */
    p->tx_wait = false;
    return nlost;
}

/* ---- writing to workers (under mu) ---- */

/* Wakes a worker sleeping for tasks (transport "shm"), or for room in its
 * result ring. */
static void bell_worker(proc *p)
{
    atomic_fetch_add(&p->shm->bell, 1);
    pb__futex_wake_shared(&p->shm->bell, 1);
}

/* Writes what it can of p's pending frames without blocking. */
static void tx_flush_locked(ppool *pp, proc *p)
{
    if (p->sock < 0 || p->state == P_GONE || p->state == P_DYING)
        return;
    bool retried = false;
    while (p->iov_first < p->iov_end) {
        struct iovec *iov = p->iov + p->iov_first;
        int n = p->iov_end - p->iov_first;
        if (pp->shm_transport) {
            size_t copied;
            p->iov_first += pb__ring_putv(&p->shm->tasks, p->task_bytes, p->shm->task_cap, iov, n,
                                          &copied);
            if (copied && atomic_load(&p->shm->tasks.want_data) &&
                atomic_exchange(&p->shm->tasks.want_data, 0))
                bell_worker(p);
            if (copied)
                continue;
            if (retried)
                break;
            /* Full: ask for a BELL when room is made, then look again
             * (the worker may have made room meanwhile). */
            atomic_store(&p->shm->tasks.want_space, 1);
            retried = true;
            continue;
        }
        struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(p->sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (retried)
                    break;
                atomic_store(&p->shm->tx_blocked, 1);
                retried = true;
                continue;
            }
            /* The worker is gone (EPIPE, ECONNRESET): its pidfd will say
             * how; its tasks are sorted out then. */
            p->iov_first = p->iov_end = 0;
            p->state = P_GONE;
            return;
        }
        p->iov_first += pb__wire_iov_consume(iov, n, (size_t)w);
    }
    p->tx_wait = p->iov_first < p->iov_end;
    if (!p->tx_wait)
        p->iov_first = p->iov_end = 0;
}

/* Adds a frame (its fixed part at head, n bytes, then arg) to p's pending
 * bytes. */
static void tx_add_locked(ppool *pp, proc *p, unsigned char *head, size_t n, const void *arg,
                          size_t len)
{
    int cap = 2 * (int)pp->depth + 2;
    if (p->iov_end + 2 > cap) {
        memmove(p->iov, p->iov + p->iov_first, (size_t)(p->iov_end - p->iov_first) * sizeof *p->iov);
        p->iov_end -= p->iov_first;
        p->iov_first = 0;
    }
    p->iov[p->iov_end++] = (struct iovec){ head, n };
    if (len)
        p->iov[p->iov_end++] = (struct iovec){ (void *)arg, len };
}

/* How many more tasks p may be handed now. */
static unsigned room_locked(const ppool *pp, const proc *p)
{
    if (p->state != P_READY)
        return 0;
    /* A claim number is not reused while the task holding it may still
     * run (wire-int.h). */
    if (p->fl_n && p->seq - p->fl[p->fl_head].seq >= PB__SHM_CLAIMS - 1)
        return 0;
    /* Beyond the one it runs, enough tasks to keep it busy for about
     * PREFETCH_WINDOW_NS, at most prefetch: none for long tasks, whose
     * hand-off costs next to nothing and which had better stay cancellable
     * in the pool's queue; many for short ones. */
    int64_t avg = p->run_avg > 0 ? p->run_avg : 1;
    unsigned extra = avg >= PREFETCH_WINDOW_NS ? 0 : (unsigned)(PREFETCH_WINDOW_NS / avg);
    unsigned depth = 1 + (extra < pp->depth - 1 ? extra : pp->depth - 1);
    if (p->fl_n >= depth)
        return 0;
    unsigned room = depth - p->fl_n;
    if (pp->max_tasks && pp->max_tasks - p->handed < room)
        room = pp->max_tasks - p->handed;
    return room;
}

/* The worker to hand the next task to: one with room that holds the fewest
 * (an idle one first); among idle ones the one spinning for work, if any
 * (transport "shm": it answers without a wake-up), else the first. */
static proc *pick_locked(ppool *pp)
{
    proc *best = NULL;
    int32_t spinner = pp->pool_shm ? atomic_load_explicit(&pp->pool_shm->spinner,
                                                          memory_order_relaxed)
                                   : 0;
    for (int i = 0; i < pp->workers; i++) {
        proc *p = slot_get(pp, i);
        if (!p || !room_locked(pp, p) || (best && p->fl_n >= best->fl_n))
            continue;
        best = p;
        if (!p->fl_n && (!spinner || p->pid == spinner))
            break;
    }
    if (best && !best->fl_n && spinner && best->pid != spinner) {
        /* Idle, but another idle one spins: that one, if it has room. */
        for (int i = best->slot + 1; i < pp->workers; i++) {
            proc *p = slot_get(pp, i);
            if (p && p->pid == spinner && !p->fl_n && room_locked(pp, p))
                return p;
        }
    }
    return best;
}

/* Takes back the youngest task of a worker that holds one it has not
 * started behind another (transport-independent: the claim in its control
 * page), into the front of the queue, so that an idle worker gets it.
 * Returns whether it took one. */
static bool take_back_locked(ppool *pp)
{
    for (int i = 0; i < pp->workers; i++) {
        proc *p = slot_get(pp, i);
        /* Not while bytes wait to be written to it: the frame must be whole
         * in its socket or ring (the worker skips it there), and its head
         * buffer is reused by the next task handed over. */
        if (!p || p->state != P_READY || p->fl_n < 2 || p->iov_first < p->iov_end)
            continue;
        flight *x = fl_at(pp, p, p->fl_n - 1);
        uint64_t id = x->id;
        if (!atomic_compare_exchange_strong(&p->shm->claim[x->seq % PB__SHM_CLAIMS], &id,
                                            PB__SHM_REVOKED))
            continue; /* it started meanwhile: the worker holds fewer than it seems */
        p->fl_n--;
        if (q_push_locked(pp, x->f, true) < 0) {
            /* No room to queue it: give the claim back. */
            atomic_store(&p->shm->claim[x->seq % PB__SHM_CLAIMS], x->id);
            p->fl_n++;
            return false;
        }
        return true;
    }
    return false;
}

/* Whether a worker is idle and ready while the queue is empty. */
static bool idle_worker_locked(const ppool *pp)
{
    for (int i = 0; i < pp->workers; i++) {
        proc *p = slot_get(pp, i);
        if (p && !p->fl_n && room_locked(pp, p))
            return true;
    }
    return false;
}

/* Hands queued futures to workers with room, oldest first, then writes to
 * each worker that got some, once. Dispatch stays work-conserving with
 * prefetch: while a worker is idle and another holds a task it has not
 * started, that task is taken back and handed to the idle one. */
static void dispatch_locked(ppool *pp)
{
    proc *dirty = NULL;
    int64_t now = 0;
    bool new_timer = false;
    if (pp->broken)
        return; /* the collector fails what is queued */
    for (;;) {
        if (!pp->qlen) {
            if (pp->depth == 1 || !idle_worker_locked(pp) || !take_back_locked(pp))
                break;
        }
        proc *p = pick_locked(pp);
        if (!p)
            break;
        pb_future *f = q_pop_locked(pp);
        void **slot = pb_future_slot(f);
        if (*slot != SLOT_CLAIMED) {
            if (!pb_future_set_running(f)) { /* cancelled while queued */
                pb_future_release(f);
                settle_locked(pp);
                continue;
            }
            *slot = SLOT_CLAIMED;
        }
        unsigned k = (p->fl_head + p->fl_n) % pp->depth;
        p->fl[k] = (flight){ f, ++pp->next_id, p->seq };
        atomic_store_explicit(&p->shm->claim[p->seq++ % PB__SHM_CLAIMS], p->fl[k].id,
                              memory_order_release);
        if (p->fl_n++ == 0 && pp->timeout) {
            if (!now)
                now = pb_now_ns();
            /* It cannot be overdue before this; the collector looks then. */
            p->check_at = now + pp->timeout;
            new_timer |= pp->timer_at < 0 || p->check_at < pp->timer_at;
        }
        if (p->fl_n >= 2 && !pp->looks) {
            /* A task ahead: results may now wait unannounced ("Looks"). */
            pp->looks = true;
            new_timer = true;
        }
        p->handed++;
        size_t len;
        const void *arg = pb_future_arg(f, &len);
        size_t n = pb__wire_put_task(p->heads[k], PB__WIRE_TASK, p->fl[k].id,
                                     pb_task_name(pb_future_task(f)), len);
        if (!n)
            abort(); /* the registry guarantees names of 1..255 bytes */
        tx_add_locked(pp, p, p->heads[k], n, arg, len);
        if (!p->dirty) {
            p->dirty = true;
            p->dirty_next = dirty;
            dirty = p;
        }
    }
    for (proc *p = dirty; p; p = p->dirty_next) {
        p->dirty = false;
        tx_flush_locked(pp, p);
    }
    if (new_timer)
        wake(pp);
}

/* ------------------------------------------------------------------------
 * The reader role
 * ------------------------------------------------------------------------ */

static bool role_try(ppool *pp)
{
    uint32_t free_ = 0;
    return atomic_compare_exchange_strong(&pp->role, &free_, 1);
}

/* The collector's way: asks a waiter holding the role to hand it over and
 * waits for it. */
static void role_take(ppool *pp)
{
    if (role_try(pp))
        return;
    atomic_store(&pp->rd_want, true);
    kick_leader(pp);
    for (;;) {
        uint32_t c = atomic_load(&pp->role);
        if (c == 0) {
            if (atomic_compare_exchange_strong(&pp->role, &c, 1))
                break;
            continue;
        }
        if (c == 1 && !atomic_compare_exchange_strong(&pp->role, &c, 2))
            continue;
        pb__futex_wait(&pp->role, 2, -1);
    }
    atomic_store(&pp->rd_want, false);
}

static void role_drop(ppool *pp)
{
    if (atomic_exchange(&pp->role, 0) == 2)
        pb__futex_wake(&pp->role, 1);
}

/* Asks every worker for a BELL when it puts something in its ring (on), or
 * not (off: the reader is looking anyway). */
static void arm_all(ppool *pp, bool on)
{
    for (int i = 0; i < pp->workers; i++) {
        proc *p = slot_get(pp, i);
        if (p)
            atomic_store(&p->shm->results.want_data, on);
    }
}

/* Reads every worker in its slot whose socket is known to be readable, and
 * every result ring. Returns whether anything was read. Role held. */
static bool read_all(ppool *pp)
{
    bool any = false;
    for (int i = 0; i < pp->workers; i++) {
        proc *p = slot_get(pp, i);
        if (p)
            any |= read_proc(pp, p);
    }
    return any;
}

/* Frees the procs buried meanwhile, then gives the role up, leaving every
 * worker asked for a BELL and its ring looked at once more; then takes care
 * of socket events that came meanwhile (rd_missed). */
static void bury(ppool *pp);

static void role_leave(ppool *pp)
{
    for (;;) {
        bury(pp);
        arm_all(pp, true);
        read_all(pp);
        atomic_store(&pp->leading, false);
        role_drop(pp);
        if (!atomic_exchange(&pp->rd_missed, false))
            return;
        if (atomic_load(&pp->rd_want) || !role_try(pp))
            return; /* whoever holds it now sees the events */
    }
}

/* ------------------------------------------------------------------------
 * Starting, detaching and ending processes
 * ------------------------------------------------------------------------ */

static void reap_blocking(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void proc_free(ppool *pp, proc *p)
{
    pb__rxbuf_free(&p->rx);
    pb__rxbuf_free(&p->rrx);
    if (p->shm) { /* its process is gone: the region is free again */
        pthread_mutex_lock(&pp->mu);
        pp->free_regions[pp->nfree++] = p->region;
        pthread_mutex_unlock(&pp->mu);
    }
    free(p->fl);
    free(p->iov);
    free(p->heads);
    free(p);
}

static int spawn_proc(ppool *pp, int slot, proc **out, char *err, size_t errsize)
{
    proc *p = calloc(1, sizeof *p);
    if (p) {
        p->fl = calloc(pp->depth, sizeof *p->fl);
        p->iov = calloc(2 * pp->depth + 2, sizeof *p->iov);
        p->heads = calloc(pp->depth, sizeof *p->heads);
    }
    if (!p || !p->fl || !p->iov || !p->heads) {
        if (p)
            proc_free(pp, p);
        snprintf(err, errsize, "out of memory");
        return PB_ENOMEM;
    }
    p->slot = slot;
    p->pidfd = p->sock = -1;
    p->run_avg = PREFETCH_WINDOW_NS * 2 / 3; /* unknown: one task beyond the first */
    p->tsock = (tag){ T_SOCK, p };
    p->tpid = (tag){ T_PID, p };

    pthread_mutex_lock(&pp->mu);
    bool region = pp->nfree > 0;
    if (region)
        p->region = pp->free_regions[--pp->nfree];
    pthread_mutex_unlock(&pp->mu);
    if (!region) { /* every one is held by a dying process: after it is reaped */
        snprintf(err, errsize, "every region of shared memory is held by a dying worker");
        proc_free(pp, p);
        return -EAGAIN;
    }
    uint64_t offset = PB__SHM_CONTROL + (uint64_t)p->region * pp->region_len;
    p->shm = pb__shm_format(pp->area + offset, pp->shm_transport ? pp->ring : 0, pp->ring);
    p->task_bytes = pb__shm_task_bytes(p->shm);
    p->result_bytes = pb__shm_result_bytes(p->shm);
    atomic_store(&p->shm->results.want_data, 1); /* nobody reads yet: BELL */

    int sv[2];
    int r = fdreg_socketpair(sv);
    if (r < 0) {
        snprintf(err, errsize, "socketpair: %s", strerror(-r));
        proc_free(pp, p);
        return r;
    }
    pb__proc_start st = { .index = slot, .fds = { sv[1], pp->shm_fd, offset },
                          .placement = pp->placement, .program = pp->program };
    pid_t pid = -1;
    err[0] = '\0';
    r = pp->ops->start(&st, &pid, err, errsize);
    fdreg_close(sv[1]);
    if (r < 0) {
        fdreg_close(sv[0]);
        proc_free(pp, p);
        return r;
    }
    p->pid = pid;
    p->sock = sv[0];
    p->pidfd = fdreg_open(FD_PIDFD, pid);
    if (p->pidfd < 0) {
        r = p->pidfd;
        snprintf(err, errsize, "pidfd_open: %s%s", strerror(-r),
                 r == -ENOSYS ? " (Linux 5.3 or later is needed)" : "");
        goto fail;
    }
    /* The waiters' set first: while one sleeps there, a BELL wakes only it
     * (EPOLLEXCLUSIVE wakes the first set with a sleeper). */
    struct epoll_event ex = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &p->tsock };
    struct epoll_event es = { .events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLET, .data.ptr = &p->tsock };
    struct epoll_event ep = { .events = EPOLLIN, .data.ptr = &p->tpid };
    if (epoll_ctl(pp->ep_rx, EPOLL_CTL_ADD, p->sock, &ex) < 0 ||
        epoll_ctl(pp->ep, EPOLL_CTL_ADD, p->sock, &es) < 0 ||
        epoll_ctl(pp->ep, EPOLL_CTL_ADD, p->pidfd, &ep) < 0) {
        r = -errno;
        snprintf(err, errsize, "epoll_ctl: %s", strerror(-r));
        goto fail;
    }
    p->state = P_STARTING;
    p->deadline = pb_now_ns() + HELLO_TIMEOUT_NS;
    *out = p;
    return 0;

fail:
    kill(pid, SIGKILL); /* not reaped yet, so the pid is still ours */
    reap_blocking(pid);
    if (p->pidfd >= 0) {
        epoll_ctl(pp->ep, EPOLL_CTL_DEL, p->pidfd, NULL);
        fdreg_close(p->pidfd);
    }
    epoll_ctl(pp->ep_rx, EPOLL_CTL_DEL, p->sock, NULL);
    epoll_ctl(pp->ep, EPOLL_CTL_DEL, p->sock, NULL);
    fdreg_close(p->sock);
    proc_free(pp, p);
    return r;
}

static void close_sock_locked(ppool *pp, proc *p)
{
    if (p->sock < 0)
        return;
    epoll_ctl(pp->ep_rx, EPOLL_CTL_DEL, p->sock, NULL);
    epoll_ctl(pp->ep, EPOLL_CTL_DEL, p->sock, NULL);
    fdreg_close(p->sock);
    p->sock = -1;
    p->iov_first = p->iov_end = 0;
    p->tx_wait = false;
}

/* Takes p out of its slot (the collector starts a replacement) and ends its
 * process: sig_now at once (0: none; closing the socket and setting
 * `closing` asks an idle worker to exit), then sig_later if it is still
 * alive after grace. The caller has sorted out the tasks p held. */
static void detach_locked(ppool *pp, proc *p, int sig_now, int64_t grace, int sig_later)
{
    if (p->slot >= 0)
        slot_set(pp, p->slot, NULL);
    p->slot = -1;
    p->state = P_DYING;
    p->fl_n = 0;
    p->deadline = p->check_at = 0;
    close_sock_locked(pp, p);
    atomic_store(&p->shm->closing, 1);
    bell_worker(p);
    if (sig_now)
        send_signal(p, sig_now);
    p->kill_at = pb_now_ns() + grace;
    p->kill_sig = sig_later;
    p->next = pp->dying;
    pp->dying = p;
    wake(pp); /* the collector starts a replacement and reaps this one */
}

/* Marks the pool broken by its initializer. The collector fails what is
 * queued; submit refuses from now on. */
static void break_locked(ppool *pp, const char *why)
{
    if (pp->broken)
        return;
    size_t n = strlen("initializer failed: ") + strlen(why) + 1;
    char *b = malloc(n);
    if (b)
        snprintf(b, n, "initializer failed: %s", why);
    pp->broken = b ? b : (char *)"initializer failed (out of memory to say how)";
    pp->broken_static = !b;
    wake(pp); /* the collector fails what is queued */
}

/* A worker could not be started, or died or misbehaved before its HELLO. */
static void start_failed_locked(ppool *pp, int code, const char *why)
{
    if (pp->starting) {
        if (!pp->start_code) {
            pp->start_code = code;
            snprintf(pp->start_err, sizeof pp->start_err, "%s", why);
        }
        return;
    }
    pp->start_failures++;
    snprintf(pp->start_err, sizeof pp->start_err, "%s", why);
    pp->retry_delay = pp->retry_delay ? pp->retry_delay * 2 : RETRY_MIN_NS;
    if (pp->retry_delay > RETRY_MAX_NS)
        pp->retry_delay = RETRY_MAX_NS;
    pp->retry_at = pb_now_ns() + pp->retry_delay;
}

/* Workers in their slots that are, or may become, able to run tasks. */
static int live_locked(const ppool *pp)
{
    int n = 0;
    for (int i = 0; i < pp->workers; i++) {
        proc *p = slot_get(pp, i);
        n += p && p->state != P_GONE;
    }
    return n;
}

/* Sorts out the tasks p held when it leaves its slot (mu held): those up to
 * id fail_upto (ids grow in the order tasks were handed over, which is the
 * order a worker runs them) fail with code and msg; the others never
 * started and go back to the front of the queue, in order. The futures to
 * fail are returned in d[0..*nd). */
static void sort_out_locked(ppool *pp, proc *p, uint64_t fail_upto, int code, const char *msg,
                            const pb_error *how, done *d, size_t *nd)
{
    *nd = 0;
    pb_future *lost[PREFETCH_MAX + 1];
    while (p->fl_n && fl_at(pp, p, 0)->id <= fail_upto) {
        flight x = fl_pop(pp, p);
        d[*nd] = (done){ .f = x.f, .err = { .code = code } };
        if (how) {
            d[*nd].err.signal = how->signal;
            d[*nd].err.exit_status = how->exit_status;
        }
        snprintf(d[*nd].msg, sizeof d[*nd].msg, "%s", msg);
        ++*nd;
    }
    size_t nlost = requeue_locked(pp, p, lost);
    for (size_t i = 0; i < nlost; i++) {
        d[*nd] = (done){ .f = lost[i], .err = { .code = PB_EBROKEN } };
        snprintf(d[*nd].msg, sizeof d[*nd].msg, "out of memory to queue it again after: %s", msg);
        ++*nd;
    }
    for (size_t i = 0; i < *nd; i++)
        d[i].err.message = d[i].msg;
}

/* The id of the task p was executing when it died, if it is one p holds;
 * else 0 (it was between tasks, or its control page is garbled). */
static uint64_t executing_locked(ppool *pp, proc *p)
{
    uint64_t id = atomic_load(&p->shm->running);
    for (unsigned k = 0; k < p->fl_n; k++)
        if (fl_at(pp, p, k)->id == id)
            return id;
    return 0;
}

/* p sent something it must not (role held): kill it; the oldest task it
 * held fails, the others go back to the queue. */
static void kill_malformed(ppool *pp, proc *p, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "worker %d sent a malformed frame: %s", (int)p->pid, why);
    size_t nd = 0;
    pthread_mutex_lock(&pp->mu);
    if (p->state == P_INIT)
        break_locked(pp, msg);
    else if (p->state == P_STARTING)
        start_failed_locked(pp, PB_EBROKEN, msg);
    if (p->slot >= 0) {
        /* The oldest task it held was the one it answered about. */
        sort_out_locked(pp, p, p->fl_n ? fl_at(pp, p, 0)->id : 0, PB_EBROKEN, msg, NULL,
                        pp->scratch, &nd);
        detach_locked(pp, p, SIGKILL, EXIT_GRACE_NS, SIGKILL);
        dispatch_locked(pp);
    }
    bool leader = atomic_load(&pp->leading);
    pthread_mutex_unlock(&pp->mu);
    for (size_t i = 0; i < nd; i++)
        finish(pp, pp->scratch[i].f, &pp->scratch[i], leader);
}

/* ------------------------------------------------------------------------
 * Reading from workers (the role's holder)
 * ------------------------------------------------------------------------ */

/* Handles one frame from p's socket (HELLO, BELL). Returns false if p left
 * its slot. */
static bool sock_frame(ppool *pp, proc *p, const pb__frame *fr)
{
    char why[256];
    pthread_mutex_lock(&pp->mu);
    switch (fr->type) {
    case PB__WIRE_BELL:
        if (p->state == P_STARTING) {
            snprintf(why, sizeof why, "a BELL before its HELLO");
            break;
        }
        if (p->tx_wait)
            tx_flush_locked(pp, p);
        pthread_mutex_unlock(&pp->mu);
        return true; /* the caller reads the ring next */

    case PB__WIRE_HELLO:
        if (p->state != P_STARTING) {
            snprintf(why, sizeof why, "a second HELLO");
            break;
        }
        if (fr->pid != p->pid) {
            snprintf(why, sizeof why, "HELLO from pid %d, but it was started as pid %d",
                     (int)fr->pid, (int)p->pid);
            break;
        }
        if (fr->status < 0) {
            /* A start step failed (binding to its CPUs, mapping its region):
             * a worker that runs elsewhere than asked would skew what the
             * pool measures, so it is a failed start, at create as at a
             * respawn (which backs off and, failing for good, fails the
             * queued work saying why). */
            char msg[400];
            snprintf(msg, sizeof msg, "worker %d (pid %d) could not start: %.*s", p->slot,
                     (int)p->pid, (int)(fr->body_len > 300 ? 300 : fr->body_len),
                     (const char *)fr->body);
            start_failed_locked(pp, fr->status, msg);
            detach_locked(pp, p, SIGKILL, EXIT_GRACE_NS, SIGKILL);
            pthread_mutex_unlock(&pp->mu);
            return false;
        }
        pp->start_failures = 0;
        pp->retry_delay = 0;
        if (pp->initializer) {
            p->state = P_INIT;
            p->deadline = pp->timeout ? pb_now_ns() + pp->timeout : 0;
            size_t n = pb__wire_put_task(p->init_head, PB__WIRE_INIT, 0, pp->initializer,
                                         pp->init_len);
            if (!n)
                abort(); /* the registry guarantees names of 1..255 bytes */
            tx_add_locked(pp, p, p->init_head, n, pp->init_arg, pp->init_len);
            tx_flush_locked(pp, p);
        } else {
            p->state = P_READY;
            p->deadline = 0;
            dispatch_locked(pp);
        }
        pthread_mutex_unlock(&pp->mu);
        return true;

    default:
        snprintf(why, sizeof why, "a %s frame on its socket",
                 fr->type == PB__WIRE_RESULT || fr->type == PB__WIRE_INIT_DONE
                     ? "result"
                     : "pool's");
        break;
    }
    pthread_mutex_unlock(&pp->mu);
    kill_malformed(pp, p, why);
    return false;
}

/* Decodes and handles the frames in p's socket buffer. Returns false if p
 * left its slot. */
static bool sock_frames(ppool *pp, proc *p)
{
    char why[200];
    for (;;) {
        pb__frame fr;
        uint64_t need;
        int r = pb__wire_decode(p->rx.data + p->rx.off, p->rx.len - p->rx.off,
                                PB__WIRE_MAX_PAYLOAD, &fr, &need, why, sizeof why);
        if (r == PB__WIRE_MORE) {
            p->need = need;
            if (p->rx.off == p->rx.len)
                p->rx.off = p->rx.len = 0;
            return true;
        }
        if (r == PB__WIRE_BAD) {
            kill_malformed(pp, p, why);
            return false;
        }
        p->need = 0;
        bool stay = sock_frame(pp, p, &fr);
        p->rx.off += (size_t)need;
        if (!stay)
            return false;
    }
}

static void on_eof(ppool *pp, proc *p)
{
    pthread_mutex_lock(&pp->mu);
    p->eof = true;
    close_sock_locked(pp, p);
    if (p->slot >= 0) {
        if (p->state == P_READY)
            p->state = P_GONE; /* (P_INIT stays: its death breaks the pool) */
        /* It normally exits right away; one that keeps running without its
         * connection is of no use and gets killed after a grace period. */
        if (!p->kill_at) {
            p->kill_at = pb_now_ns() + EXIT_GRACE_NS;
            p->kill_sig = SIGKILL;
        }
    }
    pthread_mutex_unlock(&pp->mu);
}

/* Reads what p's socket holds. Returns false if p left its slot. */
static bool read_sock(ppool *pp, proc *p)
{
    while (p->sock >= 0) {
        uint64_t want = p->rx.len - p->rx.off + 4096;
        if (p->need > want)
            want = p->need;
        if (want > 1 << 20 || pb__rxbuf_reserve(&p->rx, want) < 0) {
            kill_malformed(pp, p, "a frame too large for its socket");
            return false;
        }
        size_t space = p->rx.cap - p->rx.len;
        ssize_t n = recv(p->sock, p->rx.data + p->rx.len, space, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            n = 0; /* ECONNRESET and the like: as end of file */
        }
        if (n == 0) {
            on_eof(pp, p);
            return true;
        }
        p->rx.len += (size_t)n;
        if (!sock_frames(pp, p))
            return false;
        if ((size_t)n < space)
            return true; /* drained; epoll says when there is more */
    }
    return true;
}

/* Handles the frames read from p's result ring: under mu, takes each one's
 * future off p's tasks in flight and hands out more; then completes them.
 * Returns false if p left its slot. */
static bool ring_frames(ppool *pp, proc *p)
{
    char why[256] = "";
    size_t nd = 0;
    bool stay = true, ready = false;
    pthread_mutex_lock(&pp->mu);
    bool mine = p->slot >= 0 && p->state != P_DYING;
    for (;;) {
        pb__frame fr;
        uint64_t need;
        int r = pb__wire_decode(p->rrx.data + p->rrx.off, p->rrx.len - p->rrx.off,
                                PB__WIRE_MAX_PAYLOAD, &fr, &need, why, sizeof why);
        if (r == PB__WIRE_MORE) {
            p->rneed = need;
            why[0] = '\0';
            break;
        }
        if (r == PB__WIRE_BAD)
            break;
        p->rneed = 0;
        done *d = &pp->scratch[nd];
        if (!mine) {
            /* Detached (condemned, retired): its tasks were sorted out. */
        } else if (fr.type == PB__WIRE_INIT_DONE && p->state == P_INIT && fr.id == 0) {
            p->state = P_READY;
            p->deadline = 0;
            ready = true;
            if (fr.code) {
                char msg[256];
                snprintf(msg, sizeof msg, "%.*s", (int)(fr.body_len > 200 ? 200 : fr.body_len),
                         (const char *)fr.body);
                break_locked(pp, msg);
            }
        } else if (fr.type != PB__WIRE_RESULT) {
            snprintf(why, sizeof why, "a %s frame in its result ring",
                     fr.type == PB__WIRE_INIT_DONE ? "INIT_DONE it was not asked for" : "non-result");
            break;
        } else if (!p->fl_n || fl_at(pp, p, 0)->id != fr.id) {
            snprintf(why, sizeof why, "a RESULT for task %llu, which it does not hold next",
                     (unsigned long long)fr.id);
            break;
        } else {
            flight x = fl_pop(pp, p);
            if (x.id == p->condemned)
                *d = (done){ .f = x.f, .err = { .code = PB_EKILLED } };
            else
                *d = (done){ .f = x.f, .has_frame = true, .fr = fr }; /* bytes stay in rrx */
            nd++;
            /* Its times come from the worker: bounded so nonsense cannot
             * overflow the average. */
            int64_t ran = fr.ended - fr.started;
            ran = ran < 0 ? 0 : ran > 1000000000 ? 1000000000 : ran;
            p->run_avg += (ran - p->run_avg) / 8;
            /* The next task started after this one ended: it cannot be
             * overdue before then. */
            if (pp->timeout)
                p->check_at = p->fl_n ? fr.ended + pp->timeout : 0;
        }
        p->rrx.off += (size_t)need;
    }
    bool retire = mine && !why[0] && p->state == P_READY && pp->max_tasks &&
                  p->handed >= pp->max_tasks && !p->fl_n;
    if (retire) {
        detach_locked(pp, p, 0, EXIT_GRACE_NS, SIGKILL);
        stay = false;
    }
    if (nd || retire || ready)
        dispatch_locked(pp);
    bool leader = atomic_load(&pp->leading);
    pthread_mutex_unlock(&pp->mu);
    for (size_t i = 0; i < nd; i++) {
        done *d = &pp->scratch[i];
        if (d->err.code == PB_EKILLED) {
            char limit[48];
            format_duration(limit, sizeof limit, pp->timeout);
            snprintf(d->msg, sizeof d->msg, "ran past task_timeout of %s; worker %d killed", limit,
                     (int)p->pid);
            d->err.message = d->msg;
        }
        finish(pp, d->f, d, leader);
    }
    if (p->rrx.off == p->rrx.len) {
        p->rrx.off = p->rrx.len = 0;
        if (p->rrx.cap > (1u << 20)) /* give back what a big result took */
            pb__rxbuf_free(&p->rrx);
    }
    if (why[0]) {
        kill_malformed(pp, p, why);
        return false;
    }
    return stay;
}

/* Takes what p's result ring holds and handles it. Returns whether there
 * was anything; *stay false if p left its slot. */
static bool drain_ring(ppool *pp, proc *p, bool *stay)
{
    pb__shm *s = p->shm;
    int64_t avail = pb__ring_avail(&s->results, s->result_cap);
    if (avail == 0)
        return false;
    if (avail < 0) {
        kill_malformed(pp, p, "the counters of its result ring are out of range");
        *stay = false;
        return true;
    }
    if (pb__rxbuf_reserve(&p->rrx, p->rrx.len - p->rrx.off + (uint64_t)avail) < 0) {
        kill_malformed(pp, p, "a result that does not fit in memory");
        *stay = false;
        return true;
    }
    pb__ring_take(&s->results, p->result_bytes, s->result_cap, p->rrx.data + p->rrx.len,
                  (size_t)avail);
    p->rrx.len += (size_t)avail;
    if (atomic_load(&s->results.want_space) && atomic_exchange(&s->results.want_space, 0))
        bell_worker(p);
    *stay = ring_frames(pp, p);
    return true;
}

/* Reads p: its socket when epoll said so, then its ring. Returns whether
 * anything was read. */
static bool read_proc(ppool *pp, proc *p)
{
    bool any = false, stay = true;
    if (p->sock_ready || atomic_load_explicit(&p->sock_missed, memory_order_relaxed)) {
        p->sock_ready = false;
        atomic_store_explicit(&p->sock_missed, false, memory_order_relaxed);
        size_t before = p->rx.len;
        stay = read_sock(pp, p);
        any = p->rx.len != before || !stay;
    }
    if (stay && p->slot >= 0)
        any |= drain_ring(pp, p, &stay);
    return any;
}

/* p's pidfd is readable: it exited (role held). */
static void proc_exited(ppool *pp, proc *p)
{
    if (p->pidfd < 0)
        return;
    if (p->slot >= 0) {
        /* What it wrote before dying still counts. */
        p->sock_ready = true;
        read_proc(pp, p);
    }
    int status = 0;
    pid_t r;
    do
        r = waitpid(p->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return; /* not exited after all; the pidfd will say again */
    char msg[512];
    pb_error how = { 0 };
    describe_exit(msg, sizeof msg, p->pid, r == p->pid, status, &how);
    epoll_ctl(pp->ep, EPOLL_CTL_DEL, p->pidfd, NULL);
    fdreg_close(p->pidfd);
    p->pidfd = -1;
    if (pp->pool_shm) { /* it may have died spinning */
        int32_t pid = p->pid;
        atomic_compare_exchange_strong(&pp->pool_shm->spinner, &pid, 0);
    }

    size_t nd = 0;
    pthread_mutex_lock(&pp->mu);
    if (p->slot >= 0) {
        if (p->why[0])
            snprintf(msg, sizeof msg, "%s", p->why);
        if (p->state == P_INIT) {
            break_locked(pp, msg);
        } else if (p->state == P_STARTING) {
            char why[700];
            snprintf(why, sizeof why, "%s before its handshake%s", msg,
                     pp->program ? " (does the worker program's main() call "
                                   "pb_worker_main_if_requested() first?)"
                                 : "");
            start_failed_locked(pp, PB_EBROKEN, why);
        }
        sort_out_locked(pp, p, executing_locked(pp, p), PB_EBROKEN, msg, &how, pp->scratch, &nd);
        slot_set(pp, p->slot, NULL);
        p->slot = -1;
        p->state = P_DYING;
        close_sock_locked(pp, p);
        dispatch_locked(pp);
    } else {
        for (proc **pp_ = &pp->dying; *pp_; pp_ = &(*pp_)->next)
            if (*pp_ == p) {
                *pp_ = p->next;
                break;
            }
    }
    pthread_mutex_unlock(&pp->mu);
    for (size_t i = 0; i < nd; i++)
        fail_future(pp, pp->scratch[i].f, pp->scratch[i].err.code, &pp->scratch[i].err,
                    pp->scratch[i].msg);
    p->next = pp->graveyard;
    pp->graveyard = p;
}

static void bury(ppool *pp)
{
    while (pp->graveyard) {
        proc *p = pp->graveyard;
        pp->graveyard = p->next;
        proc_free(pp, p);
    }
}

/* The collector's events (or the creator's during the handshake). */
static void handle_events(ppool *pp, struct epoll_event *ev, int n)
{
    bool role = false;
    for (int i = 0; i < n; i++) {
        tag *t = ev[i].data.ptr;
        if (t->kind == T_WAKE) {
            event_drain(pp->evfd);
            continue;
        }
        proc *p = t->p;
        if (t->kind == T_PID) {
            if (!role)
                role_take(pp);
            role = true;
            proc_exited(pp, p);
            continue;
        }
        /* A socket: read it if the role is free, else leave it to whoever
         * holds the role (it looks at rd_missed before it leaves). */
        if (!role) {
            atomic_store(&p->sock_missed, true);
            atomic_store(&pp->rd_missed, true);
            if (!role_try(pp))
                continue;
            atomic_store(&pp->rd_missed, false);
            role = true;
        }
        p->sock_ready = true;
        if (p->slot >= 0)
            read_proc(pp, p);
    }
    if (role)
        role_leave(pp);
}

/* ------------------------------------------------------------------------
 * Timers: HELLO, INIT and task deadlines, kill escalation, respawn backoff
 * ------------------------------------------------------------------------ */

static bool want_respawn_locked(const ppool *pp)
{
    return !pp->stop && !pp->starting && !pp->broken && (!pp->shut || pp->qlen);
}

static int64_t next_timer_locked(const ppool *pp)
{
    int64_t next = -1;
#define CONSIDER(t)                                                                            \
    do {                                                                                       \
        if ((t) > 0 && (next < 0 || (t) < next))                                               \
            next = (t);                                                                        \
    } while (0)
    bool empty = false;
    for (int i = 0; i < pp->workers; i++) {
        const proc *p = slot_get(pp, i);
        if (!p) {
            empty = true;
            continue;
        }
        CONSIDER(p->deadline);
        CONSIDER(p->check_at);
        CONSIDER(p->kill_at);
    }
    for (const proc *p = pp->dying; p; p = p->next)
        CONSIDER(p->kill_at);
    if (empty && want_respawn_locked(pp))
        CONSIDER(pp->retry_at > 0 ? pp->retry_at : 1);
#undef CONSIDER
    return next;
}

/* Whether some deadline or kill time (not the respawn backoff) has passed:
 * run_timers then clears or moves every one that has. */
static bool deadline_passed_locked(const ppool *pp, int64_t now)
{
    for (int i = 0; i < pp->workers; i++) {
        const proc *p = slot_get(pp, i);
        if (p && ((p->deadline && now >= p->deadline) || (p->check_at && now >= p->check_at) ||
                  (p->kill_at && now >= p->kill_at)))
            return true;
    }
    for (const proc *p = pp->dying; p; p = p->next)
        if (p->kill_at && now >= p->kill_at)
            return true;
    return false;
}

/* A busy worker's time is up for a look (role held, mu held): condemns
 * the task it executes if that is overdue. Returns true when it did; the
 * caller then sorts out p. */
static bool overdue_locked(ppool *pp, proc *p, int64_t now, uint64_t *which)
{
    uint64_t id = executing_locked(pp, p);
    int64_t started = atomic_load(&p->shm->started);
    if (!id) {
        /* Between tasks: the next one cannot be overdue before this. */
        p->check_at = now + pp->timeout;
        return false;
    }
    if (now < started + pp->timeout) {
        p->check_at = started + pp->timeout;
        return false;
    }
    if (!atomic_compare_exchange_strong(&p->shm->running, &id, PB__SHM_CONDEMNED)) {
        p->check_at = now; /* it finished just now: look again */
        return false;
    }
    *which = id;
    return true;
}

static void run_timers(ppool *pp)
{
    role_take(pp);
    int64_t now = pb_now_ns();
    char limit[48];
    format_duration(limit, sizeof limit, pp->timeout);
    for (int i = 0; i < pp->workers; i++) {
        proc *p = slot_get(pp, i);
        if (!p)
            continue;
        pthread_mutex_lock(&pp->mu);
        int state = p->state;
        bool hello = state == P_STARTING && p->deadline && now >= p->deadline;
        pthread_mutex_unlock(&pp->mu);
        if (hello) {
            /* Silent, or only not heard yet? Read what it said first. */
            p->sock_ready = true;
            read_proc(pp, p);
            if (slot_get(pp, i) != p)
                continue;
        }
        char msg[200];
        uint64_t which = 0;
        size_t nd = 0;
        pthread_mutex_lock(&pp->mu);
        if (p->state == P_STARTING && p->deadline && now >= p->deadline) {
            snprintf(msg, sizeof msg, "worker %d sent no handshake within %lld s; killed",
                     (int)p->pid, HELLO_TIMEOUT_NS / 1000000000);
            start_failed_locked(pp, PB_ETIMEDOUT, msg);
            detach_locked(pp, p, SIGKILL, EXIT_GRACE_NS, SIGKILL);
        } else if (p->state == P_INIT && p->deadline && now >= p->deadline) {
            snprintf(msg, sizeof msg, "ran past task_timeout of %s; worker %d killed", limit,
                     (int)p->pid);
            break_locked(pp, msg);
            detach_locked(pp, p, SIGTERM, TERM_GRACE_NS, SIGKILL);
        } else if (p->check_at && now >= p->check_at) {
            if (!p->fl_n || p->state != P_READY)
                p->check_at = 0;
            else if (overdue_locked(pp, p, now, &which))
                p->condemned = which;
        } else if (p->kill_at && now >= p->kill_at) {
            /* In its slot and past its grace: it closed its connection but
             * did not exit. */
            snprintf(p->why, sizeof p->why, "worker %d closed its connection without exiting; killed",
                     (int)p->pid);
            send_signal(p, p->kill_sig);
            p->kill_at = 0;
        }
        pthread_mutex_unlock(&pp->mu);
        if (!which)
            continue;
        /* Condemned: what it finished before still counts, then the
         * overdue task fails and the rest goes back to the queue. */
        bool stay = true;
        drain_ring(pp, p, &stay);
        snprintf(msg, sizeof msg, "ran past task_timeout of %s; worker %d killed", limit,
                 (int)p->pid);
        pthread_mutex_lock(&pp->mu);
        if (p->slot >= 0) {
            sort_out_locked(pp, p, which, PB_EKILLED, msg, NULL, pp->scratch, &nd);
            detach_locked(pp, p, SIGTERM, TERM_GRACE_NS, SIGKILL);
            dispatch_locked(pp);
        }
        pthread_mutex_unlock(&pp->mu);
        for (size_t k = 0; k < nd; k++)
            fail_future(pp, pp->scratch[k].f, pp->scratch[k].err.code, NULL, pp->scratch[k].msg);
    }
    pthread_mutex_lock(&pp->mu);
    for (proc *p = pp->dying; p; p = p->next) {
        if (p->kill_at && now >= p->kill_at) {
            send_signal(p, p->kill_sig);
            if (p->kill_sig == SIGKILL) {
                p->kill_at = 0;
            } else {
                p->kill_at = now + TERM_GRACE_NS;
                p->kill_sig = SIGKILL;
            }
        }
    }
    pthread_mutex_unlock(&pp->mu);
    role_leave(pp);
}

/* Whether queued futures cannot run: the pool is broken, or no worker is
 * alive and starting one keeps failing. */
static bool hopeless_locked(const ppool *pp)
{
    return pp->qlen &&
           (pp->broken || (pp->start_failures >= START_FAILURES_MAX && !live_locked(pp)));
}

/* Fails queued futures while hopeless_locked() says they cannot run. */
static void fail_hopeless(ppool *pp)
{
    char msg[700];
    for (;;) {
        pthread_mutex_lock(&pp->mu);
        if (!hopeless_locked(pp)) {
            pthread_mutex_unlock(&pp->mu);
            return;
        }
        if (pp->broken)
            snprintf(msg, sizeof msg, "%s", pp->broken);
        else
            snprintf(msg, sizeof msg, "no worker process could be started: %s", pp->start_err);
        pb_future *f = q_pop_locked(pp);
        pthread_mutex_unlock(&pp->mu);
        fail_future(pp, f, PB_EBROKEN, NULL, msg);
    }
}

static void respawn(ppool *pp)
{
    for (int i = 0; i < pp->workers; i++) {
        pthread_mutex_lock(&pp->mu);
        bool need = !slot_get(pp, i) && want_respawn_locked(pp) && pb_now_ns() >= pp->retry_at;
        pthread_mutex_unlock(&pp->mu);
        if (!need)
            continue;
        proc *p;
        char err[512];
        int r = spawn_proc(pp, i, &p, err, sizeof err);
        if (r == -EAGAIN) {
            /* No region free: again once a dying worker is reaped. */
            pthread_mutex_lock(&pp->mu);
            pp->retry_at = pb_now_ns() + RETRY_MIN_NS;
            pthread_mutex_unlock(&pp->mu);
            return;
        }
        pthread_mutex_lock(&pp->mu);
        if (r == 0)
            slot_set(pp, i, p);
        else
            start_failed_locked(pp, r, err);
        pthread_mutex_unlock(&pp->mu);
        if (r)
            return; /* back off before trying any slot again */
    }
}

/* destroy: every worker leaves its slot; idle ones exit on end of file. */
static void stop_all(ppool *pp)
{
    role_take(pp);
    for (int i = 0; i < pp->workers; i++) {
        pthread_mutex_lock(&pp->mu);
        proc *p = slot_get(pp, i);
        size_t nd = 0;
        if (p) {
            /* None held after shutdown(wait); never leave a future hanging. */
            sort_out_locked(pp, p, UINT64_MAX, PB_EBROKEN,
                            "the pool was destroyed while the task ran", NULL, pp->scratch, &nd);
            detach_locked(pp, p, 0, EXIT_GRACE_NS, SIGKILL);
        }
        pthread_mutex_unlock(&pp->mu);
        for (size_t k = 0; k < nd; k++)
            fail_future(pp, pp->scratch[k].f, PB_EBROKEN, NULL, pp->scratch[k].msg);
    }
    /* What went back to the queue cannot run any more. */
    for (;;) {
        pthread_mutex_lock(&pp->mu);
        pb_future *f = pp->qlen ? q_pop_locked(pp) : NULL;
        pthread_mutex_unlock(&pp->mu);
        if (!f)
            break;
        fail_future(pp, f, PB_EBROKEN, NULL, "the pool was destroyed while the task waited");
    }
    role_leave(pp);
}

/* Runs the callbacks of futures a waiter completed (collector). */
static void run_deferred(ppool *pp)
{
    for (;;) {
        pthread_mutex_lock(&pp->mu);
        pb_future *f = pp->ndeferred ? pp->deferred[--pp->ndeferred] : NULL;
        pthread_mutex_unlock(&pp->mu);
        if (!f)
            return;
        pb__future_run_callbacks(f);
        pb_future_release(f);
        settle(pp);
    }
}

static int64_t timeout_ns(int64_t next)
{
    if (next < 0)
        return -1;
    int64_t left = next - pb_now_ns();
    return left < 0 ? 0 : left;
}

static int wait_events(int ep, struct epoll_event *ev, int max, int64_t ns)
{
    struct timespec ts = { ns / 1000000000, ns % 1000000000 };
    return epoll_pwait2(ep, ev, max, ns < 0 ? NULL : &ts, NULL);
}

/* Whether a worker holds a task beyond the one it runs, so that a result
 * may wait in its ring unannounced ("Looks"). */
static bool holds_ahead_locked(const ppool *pp)
{
    for (int i = 0; i < pp->workers; i++) {
        const proc *p = slot_get(pp, i);
        if (p && p->fl_n >= 2)
            return true;
    }
    return false;
}

/* The next look's delay after one that found something (got) or not. */
static int64_t look_next(int64_t look, bool got)
{
    if (got)
        return LOOK_MIN_NS;
    return look * 2 < LOOK_MAX_NS ? look * 2 : LOOK_MAX_NS;
}

static void *collector_main(void *arg)
{
    ppool *pp = arg;
    struct epoll_event ev[64];
    bool stopped = false;
    int64_t look = LOOK_MIN_NS;
    for (;;) {
        run_deferred(pp);
        /* One look at the pool per turn, under one lock: right after a
         * result the submitter of the next task wants mu too. */
        pthread_mutex_lock(&pp->mu);
        int64_t now = pb_now_ns();
        bool stop = pp->stop && !stopped;
        bool any = pp->dying != NULL, empty = false;
        for (int i = 0; i < pp->workers; i++) {
            any |= slot_get(pp, i) != NULL;
            empty |= slot_get(pp, i) == NULL;
        }
        int64_t next = next_timer_locked(pp);
        pp->timer_at = next;
        pp->looks = holds_ahead_locked(pp);
        bool looks = pp->looks;
        bool respawn_due = empty && want_respawn_locked(pp) && now >= pp->retry_at;
        bool timers_due = deadline_passed_locked(pp, now);
        bool hopeless = hopeless_locked(pp);
        bool deferred = pp->ndeferred != 0;
        pthread_mutex_unlock(&pp->mu);

        /* Each action changes what the next turn sees, so it starts over. */
        if (deferred)
            continue;
        if (stop) {
            stop_all(pp);
            stopped = true;
            continue;
        }
        if (timers_due) {
            run_timers(pp);
            continue;
        }
        if (hopeless) {
            fail_hopeless(pp);
            continue;
        }
        if (respawn_due && !stopped) {
            respawn(pp);
            continue;
        }
        if (stopped && !any)
            break;

        int64_t ns = timeout_ns(next);
        bool looking = looks && (ns < 0 || ns > look);
        int n = wait_events(pp->ep, ev, 64, looking ? look : ns);
        if (n < 0 && errno != EINTR)
            abort(); /* EBADF/EINVAL: our own fds are broken */
        if (n > 0) {
            handle_events(pp, ev, n);
            look = LOOK_MIN_NS;
        } else if (n == 0 && looking) {
            /* Results a worker has not told of yet (see "Looks"); a waiter
             * holding the role looks for itself. */
            bool got = false;
            if (role_try(pp)) {
                got = read_all(pp);
                role_leave(pp);
            }
            look = look_next(look, got);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * A waiter reading for itself
 * ------------------------------------------------------------------------ */

/* Takes the role for a waiter: at once, or within a short wait while the
 * collector holds it for a moment (it reads a result that came before this
 * thread waited: its future may be the one, and sleeping on it would cost a
 * third wake-up) — the waiter's spin on transport "shm", ROLE_WAIT_NS on
 * "socket", as a mutex spins before it sleeps. */
static bool role_try_waiter(ppool *pp, bool (*satisfied)(void *ud), void *ud)
{
    if (!atomic_load(&pp->rd_want) && role_try(pp))
        return true;
    int64_t end = pb_now_ns() + (pp->shm_transport ? PB__SPIN_NS_WAITER : ROLE_WAIT_NS);
    for (unsigned i = 1; !satisfied(ud); i++) {
        pb__cpu_relax();
        if (!atomic_load_explicit(&pp->rd_want, memory_order_relaxed) &&
            !atomic_load_explicit(&pp->role, memory_order_relaxed) && role_try(pp))
            return true;
        if ((i & 63) == 0) {
            if (pb_now_ns() >= end)
                break;
            sched_yield();
        }
    }
    return false;
}

int pb__proc_help(void *state, bool (*satisfied)(void *ud), void *ud, int64_t deadline)
{
    ppool *pp = state;
    if (!role_try_waiter(pp, satisfied, ud))
        return 0;
    atomic_store(&pp->leading, true);
    int rc = 1;
    int64_t spin_end = 0, look = LOOK_MIN_NS;
    bool armed = true; /* as the role's last holder left them */
    struct epoll_event ev[64];
    for (unsigned turn = 0;; turn++) {
        bool got = read_all(pp);
        if (satisfied(ud))
            break;
        if (got)
            look = LOOK_MIN_NS;
        if (atomic_load_explicit(&pp->rd_want, memory_order_relaxed)) {
            rc = 0;
            break;
        }
        if (pp->shm_transport) {
            /* Spin on the rings a little (the one waiter that reads),
             * looking at the clock every 64 turns. */
            if (armed) {
                arm_all(pp, false);
                armed = false;
            }
            if (got || !spin_end || (turn & 63) == 0) {
                int64_t now = pb_now_ns();
                if (deadline >= 0 && now >= deadline)
                    break;
                if (got || !spin_end)
                    spin_end = now + PB__SPIN_NS_WAITER;
                else if (now >= spin_end)
                    goto sleep;
                else
                    sched_yield(); /* the worker may need this very core */
            }
            pb__cpu_relax();
            continue;
        }
        if (deadline >= 0 && pb_now_ns() >= deadline)
            break;
        if (got)
            continue;
    sleep:
        /* Sleep: ask for BELLs, look once more, then wait in ep_rx. */
        arm_all(pp, true);
        armed = true;
        if (read_all(pp)) {
            spin_end = 0;
            continue;
        }
        if (satisfied(ud))
            break;
        int64_t left = deadline < 0 ? -1 : deadline - pb_now_ns();
        if (deadline >= 0 && left <= 0)
            break;
        /* The future waited for is in flight: look (see "Looks"). */
        bool looking = left < 0 || left > look;
        int n = wait_events(pp->ep_rx, ev, 64, looking ? look : left);
        if (n == 0 && looking)
            look = look_next(look, false); /* the look is the loop's next read_all */
        for (int i = 0; i < n; i++) {
            tag *t = ev[i].data.ptr;
            if (t->kind == T_KICK)
                event_drain(pp->kickfd);
            else
                t->p->sock_ready = true;
        }
        /* Awake and looking: no BELLs while reading. */
        arm_all(pp, false);
        armed = false;
        spin_end = 0;
    }
    role_leave(pp);
    return rc;
}

/* ------------------------------------------------------------------------
 * The backend functions
 * ------------------------------------------------------------------------ */

/* Frees a pool whose collector is not running: kills and reaps whatever
 * process is left (none after a normal stop), closes every fd. */
static void teardown(ppool *pp)
{
    for (int i = 0; i < pp->workers && pp->slots; i++) {
        proc *p = slot_get(pp, i);
        if (p) {
            slot_set(pp, i, NULL);
            p->next = pp->dying;
            pp->dying = p;
        }
    }
    while (pp->dying) {
        proc *p = pp->dying;
        pp->dying = p->next;
        if (p->pidfd >= 0) {
            send_signal(p, SIGKILL);
            reap_blocking(p->pid);
            fdreg_close(p->pidfd);
        }
        if (p->sock >= 0)
            fdreg_close(p->sock);
        p->next = pp->graveyard;
        pp->graveyard = p;
    }
    bury(pp);
    fdreg_close(pp->ep);
    fdreg_close(pp->ep_rx);
    fdreg_close(pp->evfd);
    fdreg_close(pp->kickfd);
    fdreg_close(pp->shm_fd);
    if (pp->area)
        munmap(pp->area, pp->area_len);
    free(pp->free_regions);
    pb__placement_free(pp->placement);
    free(pp->slots);
    free(pp->scratch);
    free(pp->q);
    free(pp->deferred);
    free(pp->program);
    free(pp->initializer);
    free(pp->init_arg);
    if (!pp->broken_static)
        free(pp->broken);
    pthread_cond_destroy(&pp->idle_cv);
    pthread_mutex_destroy(&pp->mu);
    free(pp);
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

/* Reads the backend settings (pb__proc_options) into pp. */
static int read_options(ppool *pp, const pb_pool_opts *opts)
{
    char v[32];
    if (pb_pool_option(opts, "transport", v, sizeof v) < 0 ||
        (strcmp(v, "socket") && strcmp(v, "shm")))
        return pb_backend_error(PB_EINVAL, "transport must be socket or shm (got '%s')", v);
    pp->shm_transport = !strcmp(v, "shm");
    char *end;
    if (pb_pool_option(opts, "prefetch", v, sizeof v) < 0)
        v[0] = '\0';
    long n = strtol(v, &end, 10);
    if (!v[0] || *end || n < 0 || n > PREFETCH_MAX)
        return pb_backend_error(PB_EINVAL, "prefetch must be a count from 0 to %d (got '%s')",
                                PREFETCH_MAX, v);
    pp->depth = 1 + (unsigned)n;
    return 0;
}

/* The creator's turn at the events while no collector runs yet. */
static void pump(ppool *pp, int64_t ns)
{
    struct epoll_event evs[64];
    int n = wait_events(pp->ep, evs, 64, ns);
    if (n > 0)
        handle_events(pp, evs, n);
}

int pb__proc_create(const pb__proc_ops *ops, const pb_pool_opts *opts, void **state,
                    int *workers)
{
    const char *mark = getenv("PB_EXEC_WORKER"); /* exec.c sets exactly "1" */
    if (mark && !strcmp(mark, "1"))
        return pb_backend_error(PB_EINVAL,
                                "this process was started as an exec worker, but its main() did "
                                "not call pb_worker_main_if_requested() first");

    ppool *pp = calloc(1, sizeof *pp);
    if (!pp)
        return pb_backend_error(PB_ENOMEM, "out of memory");
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->idle_cv, NULL);
    pp->ops = ops;
    pp->workers = opts->workers;
    pp->max_tasks = opts->max_tasks_per_worker;
    pp->timeout = opts->task_timeout;
    pp->timer_at = -1;
    pp->ep = pp->ep_rx = pp->evfd = pp->kickfd = pp->shm_fd = -1;
    pp->twake.kind = T_WAKE;
    pp->tkick.kind = T_KICK;
    int r = read_options(pp, opts);
    if (r < 0) {
        teardown(pp);
        return r;
    }
    bool oom = false;
    pp->program = dup_or_null(opts->worker_program ? opts->worker_program : ops->default_program,
                              &oom);
    pp->initializer = dup_or_null(opts->initializer, &oom);
    if (opts->init_len) {
        pp->init_arg = malloc(opts->init_len);
        if (pp->init_arg)
            memcpy(pp->init_arg, opts->init_arg, opts->init_len);
        else
            oom = true;
        pp->init_len = opts->init_len;
    }
    pp->slots = calloc((size_t)pp->workers, sizeof *pp->slots);
    pp->scratch = calloc(PREFETCH_MAX + 2, sizeof *pp->scratch);
    if (oom || !pp->slots || !pp->scratch) {
        teardown(pp);
        return pb_backend_error(PB_ENOMEM, "out of memory");
    }

    r = pb__placement_new(opts->pin, pp->workers, &pp->placement);
    if (r < 0) {
        teardown(pp);
        return pb_backend_error(r, "cannot place %d workers with pin \"%s\": %s", opts->workers,
                                opts->pin, pb_strerror(r));
    }
    pp->ep = fdreg_open(FD_EPOLL, 0);
    pp->ep_rx = pp->ep < 0 ? -1 : fdreg_open(FD_EPOLL, 0);
    pp->evfd = pp->ep_rx < 0 ? -1 : fdreg_open(FD_EVENT, 0);
    pp->kickfd = pp->evfd < 0 ? -1 : fdreg_open(FD_EVENT, 0);
    pp->shm_fd = pp->kickfd < 0 ? -1 : fdreg_open(FD_MEMFD, 0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pp->twake };
    struct epoll_event kv = { .events = EPOLLIN, .data.ptr = &pp->tkick };
    r = pp->ep < 0 ? pp->ep : pp->ep_rx < 0 ? pp->ep_rx : pp->evfd < 0 ? pp->evfd
        : pp->kickfd < 0 ? pp->kickfd : pp->shm_fd < 0 ? pp->shm_fd : 0;
    if (!r && (epoll_ctl(pp->ep, EPOLL_CTL_ADD, pp->evfd, &ev) < 0 ||
               epoll_ctl(pp->ep_rx, EPOLL_CTL_ADD, pp->kickfd, &kv) < 0))
        r = -errno;
    /* A region for every worker and as many again for dying ones (a region
     * is only touched where used: the rest of the mapping costs address
     * space, not memory). */
    unsigned nregions = 2 * (unsigned)pp->workers + 16;
    pp->ring = RING_MAX;
    while (pp->ring > RING_MIN && (uint64_t)pp->ring * (unsigned)pp->workers > RING_BUDGET)
        pp->ring /= 2;
    pp->region_len = pb__shm_size(pp->shm_transport ? pp->ring : 0, pp->ring);
    pp->area_len = PB__SHM_CONTROL + (size_t)nregions * pp->region_len;
    pp->free_regions = calloc(nregions, sizeof *pp->free_regions);
    if (!r && !pp->free_regions)
        r = PB_ENOMEM;
    if (!r) {
        void *base;
        r = pb__shm_area_init(pp->shm_fd, pp->area_len, &base);
        if (!r) {
            pp->area = base;
            pp->pool_shm = base;
        }
    }
    for (unsigned i = 0; i < nregions && pp->free_regions; i++)
        pp->free_regions[pp->nfree++] = nregions - 1 - i; /* the lowest first */
    if (r < 0) {
        teardown(pp);
        return pb_backend_error(r, "cannot set up the collector's event loop and shared memory: %s",
                                strerror(-r));
    }

    /* Start every worker now, from the creator, before the collector thread
     * exists: fork then copies one thread fewer. Handshakes are read in
     * between, so a big pool's first workers are not left unheard. */
    pp->starting = true;
    char err[512];
    for (int i = 0; i < pp->workers; i++) {
        proc *p;
        r = spawn_proc(pp, i, &p, err, sizeof err);
        if (r < 0) {
            teardown(pp);
            return pb_backend_error(r, "starting worker %d of %d: %s", i + 1, opts->workers, err);
        }
        slot_set(pp, i, p);
        if (i % START_PUMP == START_PUMP - 1)
            pump(pp, 0);
    }

    /* The handshake: every worker says HELLO (an exec worker thereby proves
     * it is a poolbench program), or create fails saying why. */
    for (;;) {
        pthread_mutex_lock(&pp->mu);
        int waiting = 0;
        for (int i = 0; i < pp->workers; i++) {
            proc *p = slot_get(pp, i);
            waiting += p && p->state == P_STARTING;
        }
        int64_t next = next_timer_locked(pp);
        bool timers_due = deadline_passed_locked(pp, pb_now_ns());
        r = pp->start_code;
        pthread_mutex_unlock(&pp->mu);
        if (r < 0 || !waiting)
            break;
        if (timers_due)
            run_timers(pp);
        else
            pump(pp, timeout_ns(next));
    }
    if (r < 0) {
        pb_backend_error(r, "%s", pp->start_err); /* before teardown frees it */
        teardown(pp);
        return r;
    }
    pp->starting = false;

    /* The collector runs with every signal blocked: signals meant for the
     * host go to the host's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = -pthread_create(&pp->collector, NULL, collector_main, pp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        teardown(pp);
        return pb_backend_error(r, "cannot start the collector thread: %s", strerror(-r));
    }
    pp->collector_started = true;
    *state = pp;
    *workers = pp->workers;
    return 0;
}

int pb__proc_submit_many(void *state, pb_future *const *fs, size_t n)
{
    ppool *pp = state;
    pthread_mutex_lock(&pp->mu);
    int r = pp->shut ? PB_ESHUTDOWN : pp->broken ? PB_EBROKEN : 0;
    size_t pushed = 0;
    while (!r && pushed < n && !(r = q_push_locked(pp, fs[pushed], false)))
        pushed++;
    if (r) {
        pp->qlen -= pushed; /* all or nothing: take back what went in (at the tail) */
    } else {
        atomic_fetch_add(&pp->inflight, n);
        dispatch_locked(pp);
    }
    pthread_mutex_unlock(&pp->mu);
    return r;
}

int pb__proc_submit(void *state, pb_future *f)
{
    return pb__proc_submit_many(state, &f, 1);
}

void pb__proc_cancel(void *state, pb_future *f)
{
    (void)f;
    kick_leader(state); /* a waiter reading for itself may wait for this one */
}

void pb__proc_shutdown(void *state, bool wait, bool cancel_futures)
{
    ppool *pp = state;
    pthread_mutex_lock(&pp->mu);
    pp->shut = true;
    if (cancel_futures) {
        /* One at a time, unlocked around pb_future_cancel (its callbacks may
         * call into this pool). Futures that already went RUNNING and came
         * back to the queue cannot be cancelled: they rotate to the back. */
        for (size_t k = pp->qlen; k > 0 && pp->qlen; k--) {
            pb_future *f = q_pop_locked(pp);
            if (*pb_future_slot(f) == SLOT_CLAIMED) {
                q_push_locked(pp, f, false); /* cannot fail: a place just freed */
                continue;
            }
            pthread_mutex_unlock(&pp->mu);
            pb_future_cancel(f);
            pb_future_release(f);
            pthread_mutex_lock(&pp->mu);
            settle_locked(pp);
        }
    }
    pthread_mutex_unlock(&pp->mu);
    wake(pp); /* workers of an idle, shut pool need not be replaced any more */
    if (wait) {
        pthread_mutex_lock(&pp->mu);
        while (atomic_load(&pp->inflight))
            pthread_cond_wait(&pp->idle_cv, &pp->mu);
        pthread_mutex_unlock(&pp->mu);
    }
}

void pb__proc_destroy(void *state)
{
    ppool *pp = state;
    pthread_mutex_lock(&pp->mu);
    pp->stop = true;
    pthread_mutex_unlock(&pp->mu);
    wake(pp);
    if (pp->collector_started)
        pthread_join(pp->collector, NULL);
    teardown(pp);
}

int pb__proc_binding(void *state, int worker, char *buf, size_t size)
{
    ppool *pp = state;
    pthread_mutex_lock(&pp->mu);
    proc *p = slot_get(pp, worker);
    pid_t pid = p && p->state != P_GONE ? p->pid : 0;
    pthread_mutex_unlock(&pp->mu);
    if (pid > 0 && pb__binding_of_pid(pid, buf, size) == 0)
        return 0;
    /* Between two workers: the binding the next one gets. */
    return pb__placement_cpus(pp->placement, worker, buf, size);
}

int pb__proc_worker_pids(void *state, pid_t *pids, int max)
{
    ppool *pp = state;
    int n = 0;
    pthread_mutex_lock(&pp->mu);
    for (int i = 0; i < pp->workers && pp->slots; i++) {
        const proc *p = pp->slots[i];
        if (p && p->pid > 0 && n++ < max)
            pids[n - 1] = p->pid;
    }
    pthread_mutex_unlock(&pp->mu);
    return n;
}

bool pb__proc_spins(void *state)
{
    return ((ppool *)state)->shm_transport;
}
