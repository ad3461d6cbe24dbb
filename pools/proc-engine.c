/*
 * proc-engine.c — the process-worker engine behind the fork and exec backends.
 *
 * A pool of worker processes that survives crashes, hangs and bad workers:
 * a crashed worker fails exactly the task it held and is replaced, an overdue
 * task's worker is killed, a worker that talks nonsense is killed, and
 * nothing — no child, zombie, fd or thread — outlives pb_pool_destroy().
 * fork.c and exec.c only say how one worker process begins.
 *
 * DESIGN
 *
 * Processes and sockets. Each worker slot holds one process (a `proc`) and
 * one AF_UNIX stream socket to it, plus a pidfd that becomes readable when
 * the process exits. Death is detected through the pidfd, never through the
 * socket alone, and never by reaping anyone else's children: only our own
 * pids are waited for, and only after their pidfd says they exited. The
 * library installs no signal handler (no SIGCHLD) and sends with
 * MSG_NOSIGNAL, so a dying worker never raises SIGPIPE in the host.
 *
 * One task per worker. A worker is handed its next task only after it sent
 * the result of the previous one. That makes dispatch work-conserving (a
 * ready task never sits in a busy worker's socket while another worker is
 * idle), keeps RUNNING exact ("handed to a worker"), and means a crash
 * fails one known future. Chunks from pb_map carry many items in one frame,
 * which is where throughput comes from.
 *
 * Threads and locks. One mutex `mu` per pool guards the queue, the slots and
 * every proc's state, its current future and its outgoing frame. Two kinds
 * of thread take it:
 *   - submitters (any thread): pb__proc_submit queues the future and, if a
 *     worker is idle, writes the task frame to that worker's socket right
 *     away, without blocking (MSG_DONTWAIT). A frame that does not fit in the
 *     socket buffer stays in the proc, and EPOLLOUT tells the collector to
 *     write the rest. The submitter never waits for a worker.
 *   - the collector (one thread per pool) waits in epoll on every socket,
 *     every pidfd and an eventfd for wake-ups. It alone reads sockets, reaps,
 *     kills, respawns and closes fds. It reads and decodes frames without the
 *     lock (the receive buffers are its own), takes the lock to update a
 *     proc and dispatch the next queued task to it, and completes futures
 *     only after releasing it, because completion runs done-callbacks that
 *     may submit to this very pool.
 * Lock order: mu, then a future's own lock (pb_future_set_running under mu).
 * No callback ever runs with mu held.
 *
 * The pool never waits for a slow worker anywhere but in shutdown(wait):
 * sockets are written without blocking, the collector never blocks except in
 * epoll_wait, and each worker process is single-minded.
 *
 * Faults, all seen by the collector:
 *   - pidfd readable while a proc is in its slot: the socket is drained first
 *     (a result written just before dying still counts), then the future it
 *     held, if any, fails with PB_EBROKEN "worker N killed by signal S (...)"
 *     or "exited with status S"; an idle worker is replaced silently.
 *   - task_timeout: the deadline counts from the moment the task was handed
 *     to the worker. When it passes the future fails with PB_EKILLED, the
 *     worker gets SIGTERM, then SIGKILL after a short grace, and is replaced
 *     at once (the dying process is tracked apart until reaped).
 *   - a malformed or unexpected frame: SIGKILL, its future fails with
 *     PB_EBROKEN "worker N sent a malformed frame: <why>".
 *   - max_tasks_per_worker: after the Nth result the worker's socket is
 *     closed (it exits on end of file) and a replacement starts at once; the
 *     backlog goes to the other workers meanwhile, so nothing waits on the
 *     old worker's exit.
 *   - the initializer runs in every worker (INIT frame) before its first
 *     task. If it fails, crashes or overruns task_timeout, the pool is
 *     broken: queued futures fail with PB_EBROKEN "initializer failed: ...",
 *     submit returns PB_EBROKEN, no worker is started again.
 *   - a worker that cannot be started (fork/spawn failing with EAGAIN or
 *     EMFILE, an exec worker dying before its HELLO, a HELLO reporting that
 *     binding to its CPUs failed): retried with a backoff;
 *     while no worker at all is alive, queued futures fail with PB_EBROKEN
 *     saying why, rather than waiting forever. At create, any such failure
 *     fails pb_pool_create with the error.
 *
 * Shutdown. `inflight` counts the futures the engine holds. shutdown(wait)
 * sleeps until it is 0; cancel_futures cancels the queued ones in the
 * calling thread first. destroy then tells the collector to stop: it closes
 * every socket (idle workers exit on end of file), SIGKILLs what has not
 * exited after a grace period, reaps every process and returns; destroy
 * joins it and closes the last fds.
 *
 * Fds and fork. Every fd the engine opens is close-on-exec (exec'd workers
 * and the host's own children inherit none) and recorded in a process-wide
 * registry that pthread_atfork keeps consistent, so a forked worker can close
 * every other pool's and worker's fds: otherwise a worker holding a copy of
 * another worker's socket would keep it from ever seeing end of file.
 */
#include "proc-int.h"
#include "wire-int.h"

#include <pb/backend.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

/* Marks a queued future that already went RUNNING (its worker died before
 * receiving it, so it goes round again): pb_future_set_running is not
 * repeated and cancel_futures leaves it alone. */
#define SLOT_CLAIMED ((void *)1)

/* ------------------------------------------------------------------------
 * The fd registry (see "Fds and fork" above)
 * ------------------------------------------------------------------------ */

static pthread_mutex_t fdreg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fdreg_once = PTHREAD_ONCE_INIT;
static int *fdreg;
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
    fdreg[fdreg_n++] = fd;
    return 0;
}

static void fdreg_close(int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&fdreg_mu);
    for (size_t i = 0; i < fdreg_n; i++)
        if (fdreg[i] == fd) {
            fdreg[i] = fdreg[--fdreg_n];
            break;
        }
    close(fd); /* under the lock: no fork sees the number freed but recorded */
    pthread_mutex_unlock(&fdreg_mu);
}

void pb__proc_close_engine_fds(int keep)
{
    /* Only the forking thread exists here, and the atfork handlers left the
     * registry consistent and unlocked. */
    size_t kept = 0;
    for (size_t i = 0; i < fdreg_n; i++) {
        if (fdreg[i] == keep)
            fdreg[kept++] = keep;
        else
            close(fdreg[i]);
    }
    fdreg_n = kept;
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
        fdreg[--fdreg_n] = -1;
        close(sv[0]);
    }
    pthread_mutex_unlock(&fdreg_mu);
    return r;
}

enum { FD_EPOLL, FD_EVENT, FD_PIDFD };

static int fdreg_open(int kind, pid_t pid)
{
    pthread_once(&fdreg_once, fdreg_init);
    pthread_mutex_lock(&fdreg_mu);
    int fd = kind == FD_EPOLL   ? epoll_create1(EPOLL_CLOEXEC)
             : kind == FD_EVENT ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
                                : (int)syscall(SYS_pidfd_open, pid, 0); /* always CLOEXEC */
    int r = fd < 0 ? -errno : fdreg_add_locked(fd);
    pthread_mutex_unlock(&fdreg_mu);
    return r < 0 ? r : fd;
}

/* ------------------------------------------------------------------------
 * Pools and their processes
 * ------------------------------------------------------------------------ */

/* P_GONE: still in its slot but known to be dead or dying (a write found its
 * socket closed); nothing is dispatched to it until its pidfd reports. */
enum { P_STARTING, P_INIT, P_IDLE, P_BUSY, P_GONE, P_DYING };
enum { T_WAKE, T_SOCK, T_PID };

typedef struct proc proc;
typedef struct ppool ppool;

typedef struct tag {
    int kind;
    proc *p;
} tag;

struct proc {
    int slot;  /* index in slots, or -1 once detached (dying) */
    int state; /* P_*, guarded by mu */
    pid_t pid;
    int pidfd;
    int sock;  /* -1 once closed */
    bool want_out; /* EPOLLOUT is registered */
    bool eof;      /* the socket said end of file */

    /* The task it holds (P_BUSY) and when it must be done (P_STARTING: the
     * HELLO deadline; P_INIT, P_BUSY: task_timeout; 0: none). */
    pb_future *cur;
    uint64_t cur_id;
    int64_t deadline;
    unsigned tasks;

    /* The frame being written: head, then the argument. */
    unsigned char head[PB__WIRE_TASK_HEAD_MAX];
    struct iovec iov[2];
    int iov_first, iov_end;

    /* Received bytes (collector only). */
    pb__rxbuf rx;
    uint64_t need;

    /* Dying: when to send kill_sig next (0: nothing scheduled), and what to
     * say if it was killed on purpose while still in its slot. */
    int64_t kill_at;
    int kill_sig;
    char why[96];

    tag tsock, tpid;
    proc *next; /* dying list, or the collector's graveyard */
};

struct ppool {
    const pb__proc_ops *ops;
    int workers;

    pthread_mutex_t mu;
    pthread_cond_t idle_cv; /* inflight reached 0 */
    proc **slots;           /* [workers]; NULL while empty */
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

    int ep, evfd;
    tag twake;
    pthread_t collector;
    bool collector_started;
    proc *graveyard; /* procs to free at the end of an event batch */
    struct expired *expired; /* [workers]: run_timers' scratch */
};

/* ---- small helpers ---- */

static void wake(ppool *pp)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(pp->evfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, so the collector is awake anyway. */
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
 * collector on the lock), or with it. */
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

/* Fails f with code and message, releases the engine's reference and
 * settles it. Call without mu. */
static void fail_future(ppool *pp, pb_future *f, int code, const pb_error *how,
                        const char *message)
{
    pb_error err = { .code = code, .message = message };
    if (how) {
        err.signal = how->signal;
        err.exit_status = how->exit_status;
    }
    pb_future_set_error(f, &err, 0, 0);
    pb_future_release(f);
    settle(pp);
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

/* ---- writing to workers (under mu) ---- */

static void set_out_locked(ppool *pp, proc *p, bool on)
{
    if (p->want_out == on || p->sock < 0)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &p->tsock };
    if (epoll_ctl(pp->ep, EPOLL_CTL_MOD, p->sock, &ev) == 0)
        p->want_out = on;
}

/* Writes what is left of p's frame without blocking. Returns 0, or -EPIPE
 * when the worker's end is gone with nothing of the frame written. */
static int tx_flush_locked(ppool *pp, proc *p)
{
    bool untouched = p->iov_first == 0 && p->iov_end > 0;
    while (p->iov_first < p->iov_end) {
        struct msghdr m = { .msg_iov = p->iov + p->iov_first,
                            .msg_iovlen = (size_t)(p->iov_end - p->iov_first) };
        ssize_t w = sendmsg(p->sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out_locked(pp, p, true);
                return 0;
            }
            /* The worker is gone (EPIPE, ECONNRESET): its pidfd will say
             * how. Drop the rest of the frame. */
            p->iov_first = p->iov_end = 0;
            set_out_locked(pp, p, false);
            return untouched ? -EPIPE : 0;
        }
        untouched = false;
        p->iov_first += pb__wire_iov_consume(p->iov + p->iov_first,
                                             p->iov_end - p->iov_first, (size_t)w);
    }
    set_out_locked(pp, p, false);
    return 0;
}

/* Starts writing a TASK or INIT frame to p. */
static int send_frame_locked(ppool *pp, proc *p, int type, uint64_t id, const char *name,
                             const void *arg, size_t len)
{
    size_t n = pb__wire_put_task(p->head, type, id, name, len);
    if (!n)
        abort(); /* the registry guarantees names of 1..255 bytes */
    p->iov[0].iov_base = p->head;
    p->iov[0].iov_len = n;
    p->iov[1].iov_base = (void *)arg;
    p->iov[1].iov_len = len;
    p->iov_first = 0;
    p->iov_end = len ? 2 : 1;
    return tx_flush_locked(pp, p);
}

static proc *idle_proc_locked(ppool *pp)
{
    for (int i = 0; i < pp->workers; i++) {
        proc *p = pp->slots[i];
        if (p && p->state == P_IDLE)
            return p;
    }
    return NULL;
}

/* Hands queued futures to idle workers, oldest first. */
static void dispatch_locked(ppool *pp)
{
    while (pp->qlen) {
        proc *p = idle_proc_locked(pp);
        if (!p)
            return;
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
        size_t len;
        const void *arg = pb_future_arg(f, &len);
        p->state = P_BUSY;
        p->cur = f;
        p->cur_id = ++pp->next_id;
        p->deadline = pp->timeout ? pb_now_ns() + pp->timeout : 0;
        if (send_frame_locked(pp, p, PB__WIRE_TASK, p->cur_id, pb_task_name(pb_future_task(f)),
                              arg, len) == -EPIPE) {
            /* This worker died before a byte of the task reached it: the
             * task never started, so it goes back to the front of the queue
             * and the worker's pidfd will report the death. The push cannot
             * fail: the slot it came from is free. */
            p->cur = NULL;
            p->deadline = 0;
            p->state = P_GONE;
            q_push_locked(pp, f, true);
        }
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

static int spawn_proc(ppool *pp, int slot, proc **out, char *err, size_t errsize)
{
    proc *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errsize, "out of memory");
        return PB_ENOMEM;
    }
    p->slot = slot;
    p->pidfd = p->sock = -1;
    p->tsock = (tag){ T_SOCK, p };
    p->tpid = (tag){ T_PID, p };

    int sv[2];
    int r = fdreg_socketpair(sv);
    if (r < 0) {
        snprintf(err, errsize, "socketpair: %s", strerror(-r));
        free(p);
        return r;
    }
    pb__proc_start st = { .index = slot, .fd = sv[1], .placement = pp->placement,
                          .program = pp->program };
    pid_t pid = -1;
    err[0] = '\0';
    r = pp->ops->start(&st, &pid, err, errsize);
    fdreg_close(sv[1]);
    if (r < 0) {
        fdreg_close(sv[0]);
        free(p);
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
    struct epoll_event es = { .events = EPOLLIN, .data.ptr = &p->tsock };
    struct epoll_event ep = { .events = EPOLLIN, .data.ptr = &p->tpid };
    if (epoll_ctl(pp->ep, EPOLL_CTL_ADD, p->sock, &es) < 0 ||
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
    epoll_ctl(pp->ep, EPOLL_CTL_DEL, p->sock, NULL);
    fdreg_close(p->sock);
    free(p);
    return r;
}

static void close_sock_locked(ppool *pp, proc *p)
{
    if (p->sock < 0)
        return;
    epoll_ctl(pp->ep, EPOLL_CTL_DEL, p->sock, NULL);
    fdreg_close(p->sock);
    p->sock = -1;
    p->want_out = false;
    p->iov_first = p->iov_end = 0;
}

/* Takes p out of its slot (the collector starts a replacement) and ends its
 * process: sig_now at once (0: none; closing the socket asks an idle worker
 * to exit), then sig_later if it is still alive after grace. The caller has
 * taken p->cur. */
static void detach_locked(ppool *pp, proc *p, int sig_now, int64_t grace, int sig_later)
{
    if (p->slot >= 0)
        pp->slots[p->slot] = NULL;
    p->slot = -1;
    p->state = P_DYING;
    p->cur = NULL;
    p->deadline = 0;
    close_sock_locked(pp, p);
    if (sig_now)
        send_signal(p, sig_now);
    p->kill_at = pb_now_ns() + grace;
    p->kill_sig = sig_later;
    p->next = pp->dying;
    pp->dying = p;
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
    for (int i = 0; i < pp->workers; i++)
        n += pp->slots[i] && pp->slots[i]->state != P_GONE;
    return n;
}

/* p sent something it must not: kill it, fail what it held. */
static void kill_malformed(ppool *pp, proc *p, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "worker %d sent a malformed frame: %s", (int)p->pid, why);
    pthread_mutex_lock(&pp->mu);
    pb_future *f = p->state == P_BUSY ? p->cur : NULL;
    if (p->state == P_INIT)
        break_locked(pp, msg);
    else if (p->state == P_STARTING)
        start_failed_locked(pp, PB_EBROKEN, msg);
    detach_locked(pp, p, SIGKILL, EXIT_GRACE_NS, SIGKILL);
    pthread_mutex_unlock(&pp->mu);
    if (f)
        fail_future(pp, f, PB_EBROKEN, NULL, msg);
}

/* ------------------------------------------------------------------------
 * Reading from workers (collector, or the creator during the handshake)
 * ------------------------------------------------------------------------ */

/* Handles one frame from p. Returns false if p left its slot. */
static bool handle_frame(ppool *pp, proc *p, const pb__frame *fr)
{
    char why[256];
    pthread_mutex_lock(&pp->mu);
    switch (fr->type) {
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
            /* A start step failed (binding to its CPUs): a worker that runs
             * elsewhere than asked would skew what the pool measures, so it
             * is a failed start, at create as at a respawn (which backs off
             * and, failing for good, fails the queued work saying why). */
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
            if (send_frame_locked(pp, p, PB__WIRE_INIT, 0, pp->initializer, pp->init_arg,
                                  pp->init_len) == -EPIPE)
                p->state = P_GONE;
        } else {
            p->state = P_IDLE;
            p->deadline = 0;
            dispatch_locked(pp);
        }
        pthread_mutex_unlock(&pp->mu);
        return true;

    case PB__WIRE_INIT_DONE:
        if (p->state != P_INIT || fr->id != 0) {
            snprintf(why, sizeof why, "an INIT_DONE it was not asked for");
            break;
        }
        p->state = P_IDLE;
        p->deadline = 0;
        if (fr->code) {
            snprintf(why, sizeof why, "%.*s", (int)(fr->body_len > 200 ? 200 : fr->body_len),
                     (const char *)fr->body);
            break_locked(pp, why);
        } else {
            dispatch_locked(pp);
        }
        pthread_mutex_unlock(&pp->mu);
        return true;

    case PB__WIRE_RESULT: {
        if (p->state != P_BUSY || fr->id != p->cur_id) {
            snprintf(why, sizeof why, "a RESULT for task %llu, which it does not hold",
                     (unsigned long long)fr->id);
            break;
        }
        pb_future *f = p->cur;
        p->cur = NULL;
        p->deadline = 0;
        bool retire = pp->max_tasks && ++p->tasks >= pp->max_tasks;
        if (retire) {
            detach_locked(pp, p, 0, EXIT_GRACE_NS, SIGKILL);
        } else {
            p->state = P_IDLE;
            dispatch_locked(pp);
        }
        pthread_mutex_unlock(&pp->mu);

        if (fr->code == 0) {
            pb_future_set_result(f, fr->body, fr->body_len, fr->started, fr->ended);
        } else {
            char small[256], *msg = fr->body_len < sizeof small ? small : malloc(fr->body_len + 1);
            pb_error err = { .code = PB_ETASK, .task_code = fr->task_code, .message = "" };
            if (msg) {
                memcpy(msg, fr->body, fr->body_len);
                msg[fr->body_len] = '\0';
                err.message = msg;
            }
            pb_future_set_error(f, &err, fr->started, fr->ended);
            if (msg != small)
                free(msg);
        }
        pb_future_release(f);
        settle(pp);
        return !retire;
    }

    default:
        snprintf(why, sizeof why, "a frame of type %d, which only the pool sends", fr->type);
        break;
    }
    pthread_mutex_unlock(&pp->mu);
    kill_malformed(pp, p, why);
    return false;
}

/* Decodes and handles every whole frame received from p. Returns false if p
 * left its slot. */
static bool process_frames(ppool *pp, proc *p)
{
    char why[200];
    for (;;) {
        pb__frame fr;
        uint64_t need;
        int r = pb__wire_decode(p->rx.data + p->rx.off, p->rx.len - p->rx.off,
                                PB__WIRE_MAX_PAYLOAD, &fr, &need, why, sizeof why);
        if (r == PB__WIRE_MORE) {
            p->need = need;
            if (p->rx.off == p->rx.len) {
                p->rx.off = p->rx.len = 0;
                if (p->rx.cap > (1u << 20)) /* give back what a big result took */
                    pb__rxbuf_free(&p->rx);
            }
            return true;
        }
        if (r == PB__WIRE_BAD) {
            kill_malformed(pp, p, why);
            return false;
        }
        p->need = 0;
        bool stay = handle_frame(pp, p, &fr);
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
        if (p->state == P_IDLE)
            p->state = P_GONE;
        /* It normally exits right away; one that keeps running without its
         * connection is of no use and gets killed after a grace period. */
        if (!p->kill_at) {
            p->kill_at = pb_now_ns() + EXIT_GRACE_NS;
            p->kill_sig = SIGKILL;
        }
    }
    pthread_mutex_unlock(&pp->mu);
}

static void read_proc(ppool *pp, proc *p)
{
    while (p->sock >= 0) {
        uint64_t want = p->rx.len - p->rx.off + READ_SLACK;
        if (p->need > want)
            want = p->need;
        if (pb__rxbuf_reserve(&p->rx, want) < 0) {
            char why[128];
            snprintf(why, sizeof why, "a frame of %llu bytes, which does not fit in memory",
                     (unsigned long long)p->need);
            kill_malformed(pp, p, why);
            return;
        }
        size_t space = p->rx.cap - p->rx.len;
        ssize_t n = recv(p->sock, p->rx.data + p->rx.len, space, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            n = 0; /* ECONNRESET and the like: as end of file */
        }
        if (n == 0) {
            on_eof(pp, p);
            return;
        }
        p->rx.len += (size_t)n;
        if (!process_frames(pp, p))
            return;
        if ((size_t)n < space)
            return; /* drained; epoll says when there is more */
    }
}

/* p's pidfd is readable: it exited. */
static void proc_exited(ppool *pp, proc *p)
{
    if (p->pidfd < 0)
        return;
    if (p->slot >= 0 && p->sock >= 0)
        read_proc(pp, p); /* what it wrote before dying still counts */
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

    pb_future *f = NULL;
    pthread_mutex_lock(&pp->mu);
    if (p->slot >= 0) {
        if (p->why[0])
            snprintf(msg, sizeof msg, "%s", p->why);
        if (p->state == P_BUSY) {
            f = p->cur;
        } else if (p->state == P_INIT) {
            break_locked(pp, msg);
        } else if (p->state == P_STARTING) {
            char why[700];
            snprintf(why, sizeof why, "%s before its handshake%s", msg,
                     pp->program ? " (does the worker program's main() call "
                                   "pb_worker_main_if_requested() first?)"
                                 : "");
            start_failed_locked(pp, PB_EBROKEN, why);
        }
        pp->slots[p->slot] = NULL;
        p->slot = -1;
        p->cur = NULL;
        close_sock_locked(pp, p);
    } else {
        for (proc **pp_ = &pp->dying; *pp_; pp_ = &(*pp_)->next)
            if (*pp_ == p) {
                *pp_ = p->next;
                break;
            }
    }
    pthread_mutex_unlock(&pp->mu);
    if (f)
        fail_future(pp, f, PB_EBROKEN, &how, msg);
    p->next = pp->graveyard;
    pp->graveyard = p;
}

static void bury(ppool *pp)
{
    while (pp->graveyard) {
        proc *p = pp->graveyard;
        pp->graveyard = p->next;
        pb__rxbuf_free(&p->rx);
        free(p);
    }
}

static void handle_events(ppool *pp, struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        tag *t = ev[i].data.ptr;
        if (t->kind == T_WAKE) {
            uint64_t v;
            while (read(pp->evfd, &v, sizeof v) < 0 && errno == EINTR)
                ;
            continue;
        }
        proc *p = t->p;
        if (t->kind == T_PID) {
            proc_exited(pp, p);
            continue;
        }
        if (p->sock < 0)
            continue;
        if (ev[i].events & EPOLLOUT) {
            pthread_mutex_lock(&pp->mu);
            if (p->sock >= 0)
                tx_flush_locked(pp, p);
            pthread_mutex_unlock(&pp->mu);
        }
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            read_proc(pp, p);
    }
    bury(pp);
}

/* ------------------------------------------------------------------------
 * Timers: HELLO and task deadlines, kill escalation, respawn backoff
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
        const proc *p = pp->slots[i];
        if (!p) {
            empty = true;
            continue;
        }
        CONSIDER(p->deadline);
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
        const proc *p = pp->slots[i];
        if (p && ((p->deadline && now >= p->deadline) || (p->kill_at && now >= p->kill_at)))
            return true;
    }
    for (const proc *p = pp->dying; p; p = p->next)
        if (p->kill_at && now >= p->kill_at)
            return true;
    return false;
}

typedef struct expired {
    pb_future *f;
    char msg[200];
} expired;

static void run_timers(ppool *pp)
{
    int64_t now = pb_now_ns();
    char limit[48] = "";
    int nx = 0;
    pthread_mutex_lock(&pp->mu);
    for (int i = 0; i < pp->workers; i++) {
        proc *p = pp->slots[i];
        if (!p)
            continue;
        if (p->deadline && now >= p->deadline) {
            char msg[200];
            if (!limit[0])
                format_duration(limit, sizeof limit, pp->timeout);
            if (p->state == P_STARTING) {
                snprintf(msg, sizeof msg, "worker %d sent no handshake within %lld s; killed",
                         (int)p->pid, HELLO_TIMEOUT_NS / 1000000000);
                start_failed_locked(pp, PB_ETIMEDOUT, msg);
                detach_locked(pp, p, SIGKILL, EXIT_GRACE_NS, SIGKILL);
            } else if (p->state == P_INIT) {
                snprintf(msg, sizeof msg, "ran past task_timeout of %s; worker %d killed", limit,
                         (int)p->pid);
                break_locked(pp, msg);
                detach_locked(pp, p, SIGTERM, TERM_GRACE_NS, SIGKILL);
            } else if (p->state == P_BUSY) {
                expired *x = &pp->expired[nx++];
                x->f = p->cur;
                snprintf(x->msg, sizeof x->msg, "ran past task_timeout of %s; worker %d killed",
                         limit, (int)p->pid);
                detach_locked(pp, p, SIGTERM, TERM_GRACE_NS, SIGKILL);
            } else {
                p->deadline = 0;
            }
        } else if (p->kill_at && now >= p->kill_at) {
            /* In its slot and past its grace: it closed its connection but
             * did not exit. */
            snprintf(p->why, sizeof p->why, "worker %d closed its connection without exiting; killed",
                     (int)p->pid);
            send_signal(p, p->kill_sig);
            p->kill_at = 0;
        }
    }
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
    for (int i = 0; i < nx; i++)
        fail_future(pp, pp->expired[i].f, PB_EKILLED, NULL, pp->expired[i].msg);
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
        bool need = !pp->slots[i] && want_respawn_locked(pp) && pb_now_ns() >= pp->retry_at;
        pthread_mutex_unlock(&pp->mu);
        if (!need)
            continue;
        proc *p;
        char err[512];
        int r = spawn_proc(pp, i, &p, err, sizeof err);
        pthread_mutex_lock(&pp->mu);
        if (r == 0)
            pp->slots[i] = p;
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
    for (int i = 0; i < pp->workers; i++) {
        pthread_mutex_lock(&pp->mu);
        proc *p = pp->slots[i];
        pb_future *f = NULL;
        if (p) {
            f = p->state == P_BUSY ? p->cur : NULL;
            detach_locked(pp, p, 0, EXIT_GRACE_NS, SIGKILL);
        }
        pthread_mutex_unlock(&pp->mu);
        if (f) /* cannot happen after shutdown(wait); never leave a future hanging */
            fail_future(pp, f, PB_EBROKEN, NULL, "the pool was destroyed while the task ran");
    }
}

static int epoll_timeout(int64_t next)
{
    if (next < 0)
        return -1;
    int64_t left = next - pb_now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > 1000000 ? 1000000 : (int)ms;
}

static void *collector_main(void *arg)
{
    ppool *pp = arg;
    struct epoll_event ev[64];
    bool stopped = false;
    for (;;) {
        /* One look at the pool per turn, under one lock: right after a
         * result the submitter of the next task wants mu too. */
        pthread_mutex_lock(&pp->mu);
        int64_t now = pb_now_ns();
        bool stop = pp->stop && !stopped;
        bool any = pp->dying != NULL, empty = false;
        for (int i = 0; i < pp->workers; i++) {
            any |= pp->slots[i] != NULL;
            empty |= pp->slots[i] == NULL;
        }
        int64_t next = next_timer_locked(pp);
        bool respawn_due = empty && want_respawn_locked(pp) && now >= pp->retry_at;
        bool timers_due = deadline_passed_locked(pp, now);
        bool hopeless = hopeless_locked(pp);
        pthread_mutex_unlock(&pp->mu);

        /* Each action changes what the next turn sees, so it starts over. */
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

        int n = epoll_wait(pp->ep, ev, 64, epoll_timeout(next));
        if (n < 0 && errno != EINTR)
            abort(); /* EBADF/EINVAL: our own fds are broken */
        if (n > 0)
            handle_events(pp, ev, n);
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * The backend functions
 * ------------------------------------------------------------------------ */

/* Frees a pool whose collector is not running: kills and reaps whatever
 * process is left (none after a normal stop), closes every fd. */
static void teardown(ppool *pp)
{
    for (int i = 0; i < pp->workers && pp->slots; i++) {
        proc *p = pp->slots[i];
        if (p) {
            pp->slots[i] = NULL;
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
    fdreg_close(pp->evfd);
    pb__placement_free(pp->placement);
    free(pp->slots);
    free(pp->expired);
    free(pp->q);
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
    pp->ep = pp->evfd = -1;
    pp->twake.kind = T_WAKE;
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
    pp->expired = calloc((size_t)pp->workers, sizeof *pp->expired);
    if (oom || !pp->slots || !pp->expired) {
        teardown(pp);
        return pb_backend_error(PB_ENOMEM, "out of memory");
    }

    int r = pb__placement_new(opts->pin, pp->workers, &pp->placement);
    if (r < 0) {
        teardown(pp);
        return pb_backend_error(r, "cannot place %d workers with pin \"%s\": %s", opts->workers,
                                opts->pin, pb_strerror(r));
    }
    pp->ep = fdreg_open(FD_EPOLL, 0);
    pp->evfd = pp->ep < 0 ? -1 : fdreg_open(FD_EVENT, 0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &pp->twake };
    if (pp->ep < 0 || pp->evfd < 0 || epoll_ctl(pp->ep, EPOLL_CTL_ADD, pp->evfd, &ev) < 0) {
        r = pp->ep < 0 ? pp->ep : pp->evfd < 0 ? pp->evfd : -errno;
        teardown(pp);
        return pb_backend_error(r, "cannot set up the collector's event loop: %s", strerror(-r));
    }

    /* Start every worker now, from the creator, before the collector thread
     * exists: fork then copies one thread fewer. */
    pp->starting = true;
    char err[512];
    for (int i = 0; i < pp->workers; i++) {
        r = spawn_proc(pp, i, &pp->slots[i], err, sizeof err);
        if (r < 0) {
            teardown(pp);
            return pb_backend_error(r, "starting worker %d of %d: %s", i + 1, opts->workers, err);
        }
    }

    /* The handshake: every worker says HELLO (an exec worker thereby proves
     * it is a poolbench program), or create fails saying why. */
    for (;;) {
        pthread_mutex_lock(&pp->mu);
        int waiting = 0;
        for (int i = 0; i < pp->workers; i++)
            waiting += pp->slots[i] && pp->slots[i]->state == P_STARTING;
        int64_t next = next_timer_locked(pp);
        r = pp->start_code;
        pthread_mutex_unlock(&pp->mu);
        if (r < 0 || !waiting)
            break;
        struct epoll_event evs[64];
        int n = epoll_wait(pp->ep, evs, 64, epoll_timeout(next));
        if (n > 0)
            handle_events(pp, evs, n);
        run_timers(pp);
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

int pb__proc_submit(void *state, pb_future *f)
{
    ppool *pp = state;
    pthread_mutex_lock(&pp->mu);
    int r = pp->shut ? PB_ESHUTDOWN : pp->broken ? PB_EBROKEN : q_push_locked(pp, f, false);
    if (r == 0) {
        atomic_fetch_add(&pp->inflight, 1);
        dispatch_locked(pp);
    }
    pthread_mutex_unlock(&pp->mu);
    /* A task with a deadline may have gone straight to a worker: the
     * collector must take the deadline into its next wait. */
    if (r == 0 && pp->timeout)
        wake(pp);
    return r;
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
    proc *p = pp->slots[worker];
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
