/*
 * proc-worker.c — the loop a worker process of the fork and exec backends runs.
 *
 * A worker is a plain loop: say HELLO, then take the next frame the pool
 * sent, run the task it names, put the result into the result ring, and
 * again, until the pool says goodbye. The pool may have handed it several
 * tasks at once (prefetch): they wait in the worker's receive buffer, or in
 * the socket or the task ring, and run one after the other, in the order
 * they came.
 *
 * Channels (wire-int.h). Frames from the pool arrive over the socket
 * (transport "socket": a blocking recv, end of file means goodbye) or in the
 * task ring (transport "shm": the worker spins for a few µs if no other
 * worker of the pool is spinning, then sleeps on the futex word `bell`;
 * `closing` means goodbye). Frames to the pool always go into the result
 * ring; a BELL over the socket wakes the pool when it asked for one — once
 * per batch of results while the worker has more queued work, and when it
 * runs dry (ring_results). A result of a batch not told of yet is found by
 * the pool's own looks at the ring while the worker runs its next task
 * (proc-engine.c, "Looks"). When the ring is full the worker sleeps on
 * `bell` until the pool made room.
 *
 * What the pool learns from the control page, and why. Before running a
 * task the worker stores its start time, then its id in `running`; after
 * publishing the result it swaps the id back to 0 with a compare-and-swap.
 * So the pool can tell, after the worker died, which task was executing
 * (it fails that one only; the others it had handed over never started and
 * go to other workers), and it can count task_timeout from the task's real
 * start. An overdue task is condemned by the pool's own compare-and-swap on
 * `running`; if the worker's swap then fails it stops at once, without
 * starting anything else (the pool kills it anyway).
 *
 * What this code may touch, and why it is safe in a forked child
 *   A fork worker starts as a copy of a process that may have had other
 *   threads, which are gone in the child along with whatever locks they held.
 *   This loop therefore uses only: read/write on its socket, mmap of its
 *   shared region, futex, malloc (glibc resets its arenas' locks across
 *   fork), pthread_create for the orphan watch below (glibc resets its
 *   thread-stack cache lock across fork too), pb_task_find (the registry's
 *   lookup takes no lock) and pb_task_run. It never touches stdio, the
 *   pool's mutexes or the placement topology lock. Tasks themselves are the
 *   user's business: a task that takes a lock some other parent thread held
 *   at fork time deadlocks in any fork-based pool (fork.c's header says
 *   more).
 *
 * Nested tasks: a task here has no pool to submit subtasks to.
 * pb_task_pool() is NULL (pb_task_run is called outside any pool), and a
 * fork worker's copy of a pool its parent created refuses pb_submit with
 * PB_ENOTSUP (pool.c counts forks), instead of queueing where no worker
 * will ever look. A task may still create and use a pool of its own.
 *
 * Exit: end of file on the socket, or `closing` once the task ring is empty
 * (the pool is done with it: shutdown, recycling) is a normal exit, status 0.
 * A malformed frame from the pool or a failed write is not supposed to
 * happen; the worker exits with status 70 (EX_SOFTWARE) or 74 (EX_IOERR) so
 * the pool's message says so.
 *
 * Orphans. The pool never closes a worker's socket while the worker runs a
 * task (destroy waits for running work; a task over task_timeout is killed),
 * so a hang-up during a task means the pool's process is gone — killed,
 * crashed, or exited without pb_pool_destroy(). A worker must not run on
 * for hours after that, so a watch thread waits in poll(POLLRDHUP) on the
 * socket and ends the process (_exit: nobody is left to read a status or
 * stdio) when the hang-up comes while a task runs; while idle it leaves the
 * end of file to the loop's normal exit (a worker sleeping on its futex
 * looks at the socket every half second). The flag handshake (task_running
 * set before looking at watch_gone, watch_gone set before looking at
 * task_running, both sequentially consistent) means a hang-up is acted on by
 * one side or the other however the two interleave. PR_SET_PDEATHSIG is not
 * used: it fires when the *thread* that forked the worker exits, and the
 * pool's creator thread may end long before the pool does. The watch thread
 * blocks every signal, so signals meant for the task reach the task's thread.
 * ThreadSanitizer builds go without it (TSan refuses threads started in the
 * child of a multi-threaded fork).
 */
#include "proc-int.h"
#include "wire-int.h"
#ifdef PB_TEST_KNOBS
#include "core-int.h"
#endif

#include <pb/backend.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXIT_PROTOCOL 70 /* EX_SOFTWARE: the pool sent something we cannot read */
#define EXIT_IO 74       /* EX_IOERR: the socket failed other than by end of file */
#define EXIT_ORPHANED 0  /* the pool is gone: nobody reads this status */
#define NAP_NS (500 * 1000000LL) /* a sleeping worker looks at its socket this often */
#define BELL_GRACE_NS 5000       /* transport "shm": how long a result may wait for a
                                    spinning waiter before the worker BELLs */
#define RING_BATCH 16            /* tell the pool of results at least this often */

#if defined(__SANITIZE_THREAD__)
#define PB__ORPHAN_WATCH 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PB__ORPHAN_WATCH 0
#endif
#endif
#ifndef PB__ORPHAN_WATCH
#define PB__ORPHAN_WATCH 1
#endif

static atomic_bool task_running, watch_gone;

typedef struct worker {
    int fd;               /* the socket */
    pb__shm *shm;         /* this worker's region */
    pb__shm_pool *pool;   /* the pool's page */
    bool ring_tasks;      /* transport "shm": tasks come through the task ring */
    unsigned char *tasks, *results; /* the rings' bytes */
    int32_t pid;
    bool flush_stdio;
    pb__rxbuf rx;         /* bytes received from the pool, not yet used */
    unsigned unrung;      /* results put in the ring since the last look at want_data */
} worker;

static _Noreturn void leave(const worker *w, int status)
{
    if (w->flush_stdio)
        fflush(NULL);
    _exit(status);
}

/* The pool sent something this worker cannot follow: say what on stderr
 * (with writev: no stdio in a forked child) and exit with EXIT_PROTOCOL. */
static _Noreturn void protocol_error(const worker *w, const char *what)
{
    static const char prefix[] = "poolbench worker: ";
    struct iovec iov[3] = { { (void *)prefix, sizeof prefix - 1 },
                            { (void *)what, strlen(what) },
                            { (void *)"\n", 1 } };
    ssize_t ignored = writev(2, iov, 3);
    (void)ignored;
    leave(w, EXIT_PROTOCOL);
}

/* Whether the pool's end of the socket is closed (a look, no wait). */
static bool pool_hung_up(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Wakes the pool with a BELL if it asked for one through `flag`. With the
 * task ring (transport "shm") a waiter may be spinning on the result ring
 * just as it asked: give it a moment to take the result (head reaching what
 * was published), which saves the BELL and the wake-up of the pool's
 * collector it would cause. */
static void bell_pool(const worker *w, _Atomic uint32_t *flag)
{
    if (!atomic_load(flag) || !atomic_exchange(flag, 0))
        return;
    if (w->ring_tasks && flag == &w->shm->results.want_data) {
        uint64_t tail = atomic_load_explicit(&w->shm->results.tail, memory_order_relaxed);
        int64_t end = pb_now_ns() + BELL_GRACE_NS;
        for (unsigned i = 1; atomic_load(&w->shm->results.head) != tail; i++) {
            pb__cpu_relax();
            if ((i & 63) == 0 && pb_now_ns() >= end)
                break;
        }
        if (atomic_load(&w->shm->results.head) == tail) {
            /* Taken: nothing to ring for. But the request this worker took
             * may already be the pool's next one (it took the result and
             * went to sleep meanwhile): leave it in place, so that the next
             * result rings. At worst that is one BELL too many. */
            atomic_store(flag, 1);
            return;
        }
    }
    unsigned char bell[PB__WIRE_HEADER];
    struct iovec iov = { bell, pb__wire_put_bell(bell) };
    int r = pb__wire_send_all(w->fd, &iov, 1);
    if (r < 0)
        leave(w, r == -EPIPE || r == -ECONNRESET ? 0 : EXIT_IO);
}

/* Results are in the ring that the pool was not told of: tell it, if it
 * asked (it sleeps). Called when the worker is about to wait for more work
 * or for room, and every RING_BATCH results: a worker with more queued
 * work tells of its results in batches, so that a sleeping pool wakes once
 * per batch, not once per result (the adaptive prefetch keeps a batch to
 * about 100 us of work), and hears of the first ones while the others run. */
static void ring_results(worker *w)
{
    if (!w->unrung)
        return;
    w->unrung = 0;
    bell_pool(w, &w->shm->results.want_data);
}

/* Sleeps on `bell` while it still reads `seen` (the caller set its flag and
 * looked again after reading it), for at most NAP_NS; then, if the pool hung
 * up, leaves. */
static void nap(const worker *w, uint32_t seen)
{
    pb__futex_wait_shared(&w->shm->bell, seen, pb_now_ns() + NAP_NS);
    if (pool_hung_up(w->fd))
        leave(w, 0);
}

/* ---- Receiving ---- */

/* Moves what the task ring holds into rx; returns the byte count. */
static size_t take_tasks(worker *w)
{
    pb__shm *s = w->shm;
    int64_t avail = pb__ring_avail(&s->tasks, s->task_cap);
    if (avail <= 0)
        return 0;
    if (pb__rxbuf_reserve(&w->rx, w->rx.len - w->rx.off + (uint64_t)avail) < 0)
        leave(w, EXIT_IO);
    pb__ring_take(&s->tasks, w->tasks, s->task_cap, w->rx.data + w->rx.len, (size_t)avail);
    w->rx.len += (size_t)avail;
    bell_pool(w, &s->tasks.want_space); /* the pool waited for room */
    return (size_t)avail;
}

/* Busy-waits for the task ring, if no other worker of the pool does (one
 * spinner at a time, as in the thread backend: spinning must never take
 * the core the pool's own threads need). Returns true when bytes came. */
static bool spin_for_tasks(worker *w)
{
    int32_t none = 0;
    if (!atomic_compare_exchange_strong(&w->pool->spinner, &none, w->pid))
        return false;
    bool got = false;
    int64_t end = pb_now_ns() + PB__SPIN_NS_WORKER;
    for (unsigned i = 1;; i++) {
        if (take_tasks(w) || atomic_load_explicit(&w->shm->closing, memory_order_relaxed)) {
            got = true;
            break;
        }
        pb__cpu_relax();
        if ((i & 63) == 0) {
            if (pb_now_ns() >= end)
                break;
            sched_yield();
        }
    }
    atomic_store(&w->pool->spinner, 0);
    return got;
}

/* Transport "shm": waits until the task ring holds bytes (taking them), or
 * the pool says goodbye. */
static void wait_for_tasks(worker *w)
{
    pb__shm *s = w->shm;
    if (take_tasks(w))
        goto check;
    ring_results(w); /* ran dry: whatever it finished is all there is */
    if (spin_for_tasks(w))
        goto check;
    for (;;) {
        uint32_t seen = atomic_load(&s->bell);
        atomic_store(&s->tasks.want_data, 1);
        if (take_tasks(w) || atomic_load(&s->closing)) {
            atomic_store(&s->tasks.want_data, 0);
            break;
        }
        nap(w, seen);
        if (take_tasks(w))
            break;
    }
check:
    if (w->rx.len == w->rx.off && atomic_load(&s->closing))
        leave(w, 0);
}

/* Transport "socket": one blocking recv. */
static void recv_tasks(worker *w)
{
    ring_results(w); /* about to wait: whatever it finished is all there is */
    uint64_t want = w->rx.len - w->rx.off + 65536;
    if (pb__rxbuf_reserve(&w->rx, want) < 0)
        leave(w, EXIT_IO);
    ssize_t n = recv(w->fd, w->rx.data + w->rx.len, w->rx.cap - w->rx.len, 0);
    if (n > 0) {
        w->rx.len += (size_t)n;
        bell_pool(w, &w->shm->tx_blocked); /* the pool's writes would have blocked */
    } else if (n == 0) {
        leave(w, 0);
    } else if (errno != EINTR) {
        leave(w, errno == ECONNRESET ? 0 : EXIT_IO);
    }
}

/* Returns the next whole frame from the pool (*fr, *need its size in rx). */
static void next_frame(worker *w, pb__frame *fr, uint64_t *need)
{
    char why[200] = "malformed frame from the pool: ";
    size_t at = strlen(why);
    for (;;) {
        int r = pb__wire_decode(w->rx.data + w->rx.off, w->rx.len - w->rx.off,
                                PB__WIRE_MAX_PAYLOAD, fr, need, why + at, sizeof why - at);
        if (r == PB__WIRE_FRAME)
            return;
        if (r == PB__WIRE_BAD)
            protocol_error(w, why);
        if (*need > w->rx.len - w->rx.off && pb__rxbuf_reserve(&w->rx, *need) < 0)
            leave(w, EXIT_IO);
        if (w->ring_tasks)
            wait_for_tasks(w);
        else
            recv_tasks(w);
    }
}

/* ---- Sending ---- */

/* Puts iov[0..n) (one frame) into the result ring, waiting for room as
 * needed; the pool hears of it with the batch (ring_results). */
static void put_results(worker *w, struct iovec *iov, int n)
{
    pb__shm *s = w->shm;
    w->unrung++;
    while (n > 0) {
        size_t copied;
        int k = pb__ring_putv(&s->results, w->results, s->result_cap, iov, n, &copied);
        iov += k;
        n -= k;
        if (n == 0)
            break;
        /* Full: tell the pool (it must read to make room), then sleep
         * until it made room. The rest of this frame is news again. */
        ring_results(w);
        w->unrung = 1;
        uint32_t seen = atomic_load(&s->bell);
        atomic_store(&s->results.want_space, 1);
        if (pb__ring_room(&s->results, s->result_cap) > 0) {
            atomic_store(&s->results.want_space, 0);
            continue;
        }
        nap(w, seen);
    }
    if (w->unrung >= RING_BATCH)
        ring_results(w);
}

/* ---- Orphans ---- */

static void *orphan_watch(void *arg)
{
    struct pollfd pfd = { .fd = (int)(intptr_t)arg, .events = POLLRDHUP };
    for (;;) {
        int r = poll(&pfd, 1, -1);
        if (r > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            break;
        if (r < 0 && errno != EINTR)
            break; /* cannot watch: the loop's own end of file still works */
    }
    atomic_store(&watch_gone, true);
    if (atomic_load(&task_running))
        _exit(EXIT_ORPHANED);
    return NULL;
}

/* Starts the watch thread (see "Orphans"); without it (no thread could be
 * started) the worker still exits at its next read. */
static void start_orphan_watch(int fd)
{
    if (!PB__ORPHAN_WATCH)
        return;
    pthread_attr_t a;
    if (pthread_attr_init(&a) != 0)
        return;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN + 64 * 1024);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    if (pthread_create(&t, &a, orphan_watch, (void *)(intptr_t)fd) != 0)
        atomic_store(&watch_gone, true); /* nothing watches: the loop looks before each task */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
}

/* ---- The loop ---- */

/* Maps the pool's page and this worker's region. Returns 0, or a negative
 * errno with why[] saying what failed. */
static int attach(worker *w, const pb__proc_fds *fds, char *why, size_t whysize)
{
    int r = pb__shm_attach(fds->shm, fds->offset, &w->shm, &w->pool, why, whysize);
    close(fds->shm);
    if (r < 0)
        return r;
    w->ring_tasks = w->shm->task_cap != 0;
    w->tasks = pb__shm_task_bytes(w->shm);
    w->results = pb__shm_result_bytes(w->shm);
    return 0;
}

#ifdef PB_TEST_KNOBS
/* The planted slowdown (PB_TEST_SLOWDOWN, pool.c): before a task, spin pct%
 * of the worker's last cycle — from the end of its last spin to this task's
 * arrival — at most pct% of 1 ms. */
typedef struct knob {
    double pct;
    int64_t last, spun;
} knob;

static void knob_spin(knob *k)
{
    int64_t now = pb_now_ns();
    k->spun = 0;
    if (k->last) {
        int64_t cycle = now - k->last;
        if (cycle > 1000000)
            cycle = 1000000;
        int64_t end = now + (int64_t)((double)cycle * k->pct / 100.0);
        while (pb_now_ns() < end)
            ;
        k->spun = pb_now_ns() - now;
    }
    k->last = now + k->spun;
}
#endif

_Noreturn void pb__proc_worker_main(const pb__proc_fds *fds, int status, const char *message,
                                    bool flush_stdio)
{
    worker w = { .fd = fds->sock, .pid = (int32_t)getpid(), .flush_stdio = flush_stdio };
    char why[256];
    if (status == 0 && attach(&w, fds, why, sizeof why) < 0) {
        status = -EPROTO;
        message = why;
    }
    unsigned char hello[PB__WIRE_HELLO_HEAD + 512];
    size_t n = pb__wire_put_hello(hello, sizeof hello, w.pid, status, message);
    struct iovec iov[2] = { { hello, n } };
    if (pb__wire_send_all(w.fd, iov, 1) < 0 || status < 0)
        leave(&w, status < 0 ? 0 : EXIT_IO); /* a failed start: the pool says why */

    start_orphan_watch(w.fd);

    char name[PB__WIRE_NAME_MAX + 1] = "";
    const pb_task *task = NULL; /* the task called name: most frames repeat it */
    pb__shm *s = w.shm;
    uint64_t tasks_seen = 0;
#ifdef PB_TEST_KNOBS
    /* An exec worker is the one that flushes stdio at exit (exec.c). */
    knob slow = {.pct = pb__test_slowdown_of(flush_stdio ? "exec" : "fork")};
#endif
    for (;;) {
        pb__frame fr;
        uint64_t need;
        next_frame(&w, &fr, &need);
        if (fr.type != PB__WIRE_TASK && fr.type != PB__WIRE_INIT)
            protocol_error(&w, "unexpected frame from the pool (not TASK or INIT)");
        if (fr.type == PB__WIRE_TASK) {
            /* Ours to run, unless the pool took it back meanwhile. */
            uint64_t id = fr.id;
            if (!atomic_compare_exchange_strong(&s->claim[tasks_seen++ % PB__SHM_CLAIMS], &id, 0)) {
                w.rx.off += (size_t)need;
                continue;
            }
        }
        if (!task || fr.name_len != strlen(name) || memcmp(name, fr.name, fr.name_len) != 0) {
            memcpy(name, fr.name, fr.name_len);
            name[fr.name_len] = '\0';
            task = pb_task_find(name);
        }
        bool is_task = fr.type == PB__WIRE_TASK;

        pb_outcome out;
        char unknown[PB__WIRE_NAME_MAX + 96];
        const void *body;
        size_t body_len;
#ifdef PB_TEST_KNOBS
        if (is_task && slow.pct > 0)
            knob_spin(&slow);
#endif
        if (is_task) {
            /* No fence needed: the pool's compare-and-swap on `running` is
             * what decides, and `started` is published with it. */
            atomic_store_explicit(&s->started, pb_now_ns(), memory_order_relaxed);
            atomic_store_explicit(&s->running, fr.id, memory_order_release);
        }
        if (task) {
            atomic_store(&task_running, true);
            if (atomic_load(&watch_gone) && pool_hung_up(w.fd))
                _exit(EXIT_ORPHANED);
            pb_task_run(task, fr.body, fr.body_len, &out);
            atomic_store(&task_running, false);
            body = out.code ? (const void *)out.message : out.data;
            body_len = out.code ? (out.message ? strlen(out.message) : 0) : out.len;
        } else {
            /* A task linked into the pool's program but not into this one
             * (a different worker_program, or registered after main began). */
            memset(&out, 0, sizeof out);
            out.code = PB_ETASK;
            out.task_code = PB_ENOENT;
            out.started = out.ended = pb_now_ns();
            snprintf(unknown, sizeof unknown,
                     "task \"%s\" is not registered in the worker program", name);
            body = unknown;
            body_len = strlen(unknown);
        }
        unsigned char head[PB__WIRE_RESULT_HEAD];
        uint64_t id = fr.id;
        iov[0].iov_base = head;
        iov[0].iov_len = pb__wire_put_result(head, is_task ? PB__WIRE_RESULT : PB__WIRE_INIT_DONE,
                                             id, out.started, out.ended, out.code,
                                             out.code ? out.task_code : 0, body_len);
        iov[1].iov_base = (void *)body;
        iov[1].iov_len = body_len;
        /* The frame is done with: consume it (rx may move while the result
         * waits for room in its ring). */
        w.rx.off += (size_t)need;
        put_results(&w, iov, body_len ? 2 : 1);
        if (task)
            pb_outcome_clear(&out);
        uint64_t mine = id;
        if (is_task && !atomic_compare_exchange_strong(&s->running, &mine, 0))
            leave(&w, 0); /* condemned: the pool has failed the task and kills us */
    }
}
