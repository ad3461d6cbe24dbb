/*
 * proc-int.h — the process-worker engine shared by the fork and exec backends.
 *
 * proc-engine.c owns everything about a pool of worker processes except how
 * one worker process begins: the socket and shared region of each worker,
 * the collector thread, dispatch, crash detection, respawn, recycling, time
 * limits and shutdown. A backend (fork.c, exec.c) supplies one function that
 * starts a worker process given the worker's file descriptors; the started
 * process runs pb__proc_worker_main() (proc-worker.c), directly after fork
 * or from pb_worker_main_if_requested() after exec.
 */
#ifndef PB_PROC_INT_H
#define PB_PROC_INT_H

#include <pb/backend.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "placement-int.h"
#include "sync-int.h"

/* What a worker process is given to talk to its pool. */
typedef struct pb__proc_fds {
    int sock;        /* the worker's end of its socket */
    int shm;         /* the pool's shared memory (a memfd; wire-int.h) */
    uint64_t offset; /* where the worker's own region begins in it */
} pb__proc_fds;

typedef struct pb__proc_start {
    int index;                      /* the worker slot, 0..workers-1 */
    pb__proc_fds fds;
    const pb__placement *placement; /* NULL: no binding */
    const char *program;            /* exec: the program to run */
} pb__proc_start;

typedef struct pb__proc_ops {
    /* Starts one worker process that speaks the wire protocol on st->fds
     * (which the engine closes in the parent afterwards) and sets *pid.
     * Returns 0 or a negative errno, with a message in err (such as
     * "posix_spawn /opt/w: No such file or directory"). Called from the
     * pool's creator at create and from the collector thread later. */
    int (*start)(const pb__proc_start *st, pid_t *pid, char *err, size_t errsize);
    /* The default program when opts->worker_program is NULL (NULL: none). */
    const char *default_program;
} pb__proc_ops;

/* The settings the fork and exec backends take (pb_backend.options). */
extern const pb_backend_option pb__proc_options[];

/* The engine's halves of a pb_backend table. */
int pb__proc_create(const pb__proc_ops *ops, const pb_pool_opts *opts, void **state,
                    int *workers);
int pb__proc_submit(void *state, pb_future *f);
int pb__proc_submit_many(void *state, pb_future *const *fs, size_t n);
void pb__proc_cancel(void *state, pb_future *f);
void pb__proc_shutdown(void *state, bool wait, bool cancel_futures);
void pb__proc_destroy(void *state);
int pb__proc_binding(void *state, int worker, char *buf, size_t size);
int pb__proc_worker_pids(void *state, pid_t *pids, int max);
int pb__proc_help(void *state, bool (*satisfied)(void *ud), void *ud, int64_t deadline);
bool pb__proc_spins(void *state);

/* In a freshly forked child: closes every fd the engine holds in this process
 * (the sockets, pidfds, epoll and event fds of every pool) except those of
 * keep. The set of those fds stays consistent across fork (pthread_atfork),
 * so a worker never holds another worker's socket open, which would hide
 * that worker's end of file from it. */
void pb__proc_close_engine_fds(const pb__proc_fds *keep);

/* The worker side: maps its shared region, sends HELLO (status 0, or a
 * negative errno from a failed start step explained by message), then runs
 * tasks until the pool says goodbye, then exits the process with _exit(0)
 * (after flushing stdio when flush_stdio; a forked child must not flush
 * buffers it inherited). Closes fds->shm once mapped. */
_Noreturn void pb__proc_worker_main(const pb__proc_fds *fds, int status, const char *message,
                                    bool flush_stdio);

/* Futexes on memory shared between processes (the private ones of
 * sync-int.h only work within one). */
static inline int pb__futex_wait_shared(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
    return pb__futex_wait_flags(addr, val, deadline, 0);
}

static inline void pb__futex_wake_shared(_Atomic uint32_t *addr, int n)
{
    pb__futex_wake_flags(addr, n, 0);
}

#endif /* PB_PROC_INT_H */
