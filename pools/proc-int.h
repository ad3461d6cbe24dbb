/*
 * proc-int.h — the process-worker engine shared by the fork and exec backends.
 *
 * proc-engine.c owns everything about a pool of worker processes except how
 * one worker process begins: the socket to each worker, the collector thread,
 * dispatch, crash detection, respawn, recycling, time limits and shutdown.
 * A backend (fork.c, exec.c) supplies one function that starts a worker
 * process given the worker's end of its socket; the started process runs
 * pb__proc_worker_main() (proc-worker.c), directly after fork or from
 * pb_worker_main_if_requested() after exec.
 */
#ifndef PB_PROC_INT_H
#define PB_PROC_INT_H

#include <pb/backend.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "placement-int.h"

typedef struct pb__proc_start {
    int index;                         /* the worker slot, 0..workers-1 */
    int fd;                            /* the worker's end of its socket */
    const pb__placement *placement;    /* NULL: no binding */
    const char *program;               /* exec: the program to run */
} pb__proc_start;

typedef struct pb__proc_ops {
    /* Starts one worker process that speaks the wire protocol on st->fd
     * (which the engine closes in the parent afterwards) and sets *pid.
     * Returns 0 or a negative errno, with a message in err (such as
     * "posix_spawn /opt/w: No such file or directory"). Called from the
     * pool's creator at create and from the collector thread later. */
    int (*start)(const pb__proc_start *st, pid_t *pid, char *err, size_t errsize);
    /* The default program when opts->worker_program is NULL (NULL: none). */
    const char *default_program;
} pb__proc_ops;

/* The engine's halves of a pb_backend table. */
int pb__proc_create(const pb__proc_ops *ops, const pb_pool_opts *opts, void **state,
                    int *workers);
int pb__proc_submit(void *state, pb_future *f);
void pb__proc_shutdown(void *state, bool wait, bool cancel_futures);
void pb__proc_destroy(void *state);
int pb__proc_binding(void *state, int worker, char *buf, size_t size);
int pb__proc_worker_pids(void *state, pid_t *pids, int max);

/* In a freshly forked child: closes every fd the engine holds in this process
 * (the sockets, pidfds, epoll and event fds of every pool) except keep. The
 * set of those fds stays consistent across fork (pthread_atfork), so a worker
 * never holds another worker's socket open, which would hide that worker's
 * end of file from it. */
void pb__proc_close_engine_fds(int keep);

/* The worker side: sends HELLO (status 0, or a negative errno from a failed
 * start step explained by message), then runs tasks from fd until end of
 * file, then exits the process with _exit(0) (after flushing stdio when
 * flush_stdio; a forked child must not flush buffers it inherited). */
_Noreturn void pb__proc_worker_main(int fd, int status, const char *message, bool flush_stdio);

#endif /* PB_PROC_INT_H */
