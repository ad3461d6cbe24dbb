/*
 * proc-worker.c — the loop a worker process of the fork and exec backends runs.
 *
 * A worker is a plain blocking loop over its one socket: say HELLO, then read
 * a frame, run the task it names, write the result, and again, until the pool
 * closes the socket. It holds at most one task at a time (the pool hands out
 * the next one only after the result), so there is nothing to schedule here.
 *
 * What this code may touch, and why it is safe in a forked child
 *   A fork worker starts as a copy of a process that may have had other
 *   threads, which are gone in the child along with whatever locks they held.
 *   This loop therefore uses only: read/write on its socket, malloc (glibc
 *   resets its arenas' locks across fork), pthread_create for the orphan
 *   watch below (glibc resets its thread-stack cache lock across fork too),
 *   pb_task_find (the registry's lookup takes no lock) and pb_task_run. It
 *   never touches stdio, the pool's mutexes or the placement topology lock. Tasks themselves are the user's
 *   business: a task that takes a lock some other parent thread held at fork
 *   time deadlocks in any fork-based pool (fork.c's header says more).
 *
 * Nested tasks: a task here has no pool to submit subtasks to.
 * pb_task_pool() is NULL (pb_task_run is called outside any pool), and a
 * fork worker's copy of a pool its parent created refuses pb_submit with
 * PB_ENOTSUP (pool.c counts forks), instead of queueing where no worker
 * will ever look. A task may still create and use a pool of its own.
 *
 * Exit: end of file on the socket (the pool closed it: shutdown, recycling)
 * is a normal exit, status 0. A malformed frame from the pool or a failed
 * write is not supposed to happen; the worker exits with status 70
 * (EX_SOFTWARE) or 74 (EX_IOERR) so the pool's message says so.
 *
 * Orphans. The pool never closes a worker's socket while the worker runs a
 * task (destroy waits for running work; a task over task_timeout is killed),
 * so a hang-up during a task means the pool's process is gone — killed,
 * crashed, or exited without pb_pool_destroy(). A worker must not run on
 * for hours after that, so a watch thread waits in poll(POLLRDHUP) on the
 * socket and ends the process (_exit: nobody is left to read a status or
 * stdio) when the hang-up comes while a task runs; while idle it leaves the
 * end of file to the loop's normal exit. The flag handshake (task_running
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

#include <pb/backend.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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

static _Noreturn void leave(int status, bool flush_stdio)
{
    if (flush_stdio)
        fflush(NULL);
    _exit(status);
}

/* The pool sent something this worker cannot follow: say what on stderr
 * (with writev: no stdio in a forked child) and exit with EXIT_PROTOCOL. */
static _Noreturn void protocol_error(const char *what, bool flush_stdio)
{
    static const char prefix[] = "poolbench worker: ";
    struct iovec iov[3] = { { (void *)prefix, sizeof prefix - 1 },
                            { (void *)what, strlen(what) },
                            { (void *)"\n", 1 } };
    ssize_t ignored = writev(2, iov, 3);
    (void)ignored;
    leave(EXIT_PROTOCOL, flush_stdio);
}

/* Reads until rx holds the next whole frame, which *fr describes (*need is
 * its size); exits the process on end of file or a malformed frame. */
static void next_frame(int fd, pb__rxbuf *rx, pb__frame *fr, uint64_t *need, bool flush_stdio)
{
    char why[200] = "malformed frame from the pool: ";
    size_t at = strlen(why);
    for (;;) {
        int r = pb__wire_decode(rx->data + rx->off, rx->len - rx->off, PB__WIRE_MAX_PAYLOAD, fr,
                                need, why + at, sizeof why - at);
        if (r == PB__WIRE_FRAME)
            return;
        if (r == PB__WIRE_BAD)
            protocol_error(why, flush_stdio);
        /* Room for the whole frame if its size is known, and some slack so
         * that small frames arrive in one read. */
        uint64_t want = rx->len - rx->off + 65536;
        if (*need > want)
            want = *need;
        if (pb__rxbuf_reserve(rx, want) < 0)
            leave(EXIT_IO, flush_stdio);
        ssize_t n = recv(fd, rx->data + rx->len, rx->cap - rx->len, 0);
        if (n > 0)
            rx->len += (size_t)n;
        else if (n == 0)
            leave(0, flush_stdio);
        else if (errno != EINTR)
            leave(errno == ECONNRESET ? 0 : EXIT_IO, flush_stdio);
    }
}

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

/* Whether the pool's end of the socket is closed (a look, no wait). */
static bool pool_hung_up(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
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

_Noreturn void pb__proc_worker_main(int fd, int status, const char *message, bool flush_stdio)
{
    unsigned char hello[PB__WIRE_HELLO_HEAD + 512];
    size_t n = pb__wire_put_hello(hello, sizeof hello, (int32_t)getpid(), status, message);
    struct iovec iov[2] = { { hello, n } };
    if (pb__wire_send_all(fd, iov, 1) < 0)
        leave(EXIT_IO, flush_stdio);

    start_orphan_watch(fd);

    pb__rxbuf rx = { 0 };
    char name[PB__WIRE_NAME_MAX + 1] = "";
    const pb_task *task = NULL; /* the task called name: most frames repeat it */
    for (;;) {
        pb__frame fr;
        uint64_t need;
        next_frame(fd, &rx, &fr, &need, flush_stdio);
        if (fr.type != PB__WIRE_TASK && fr.type != PB__WIRE_INIT)
            protocol_error("unexpected frame from the pool (not TASK or INIT)", flush_stdio);
        if (!task || fr.name_len != strlen(name) || memcmp(name, fr.name, fr.name_len) != 0) {
            memcpy(name, fr.name, fr.name_len);
            name[fr.name_len] = '\0';
            task = pb_task_find(name);
        }

        pb_outcome out;
        char unknown[PB__WIRE_NAME_MAX + 96];
        const void *body;
        size_t body_len;
        if (task) {
            atomic_store(&task_running, true);
            if (atomic_load(&watch_gone) && pool_hung_up(fd))
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
        int type = fr.type == PB__WIRE_INIT ? PB__WIRE_INIT_DONE : PB__WIRE_RESULT;
        iov[0].iov_base = head;
        iov[0].iov_len = pb__wire_put_result(head, type, fr.id, out.started, out.ended, out.code,
                                             out.code ? out.task_code : 0, body_len);
        iov[1].iov_base = (void *)body;
        iov[1].iov_len = body_len;
        /* The frame is done with: consume it before running anything that
         * could move rx (nothing below does, but keep the order obvious). */
        rx.off += (size_t)need;
        int r = pb__wire_send_all(fd, iov, body_len ? 2 : 1);
        if (task)
            pb_outcome_clear(&out);
        if (r < 0)
            leave(r == -EPIPE || r == -ECONNRESET ? 0 : EXIT_IO, flush_stdio);
    }
}
