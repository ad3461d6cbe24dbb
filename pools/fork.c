/*
 * fork.c — the `fork` backend: worker processes forked from the pool's creator.
 *
 * A worker is a fork() of this process that runs the worker loop directly
 * (proc-worker.c) on its end of a socketpair and its shared region;
 * everything else is the shared process-worker engine (proc-engine.c),
 * settings included (transport, prefetch). Tasks are found by name in the
 * registry, which the child inherits as it was at fork time.
 *
 * LOCKS ACROSS FORK
 *
 * The pool's creator may have other threads, and any of them may hold a lock
 * at the moment of fork(): in the child only the forking thread exists, and a
 * lock held by another thread stays held forever. How each lock is handled:
 *
 *   - When: the first workers are forked in pb_pool_create, by the creating
 *     thread, before the pool's own collector thread exists. Replacements
 *     (after a crash, a timeout, a recycle) are forked later by the
 *     collector, necessarily while other threads run.
 *   - The engine's fd registry is the only lock the child takes. Its mutex
 *     is held across fork by a pthread_atfork handler (taken in prepare,
 *     released in parent and child), so the child sees a consistent list of
 *     every pool's fds and closes all but its own socket.
 *   - The pool's mutex and the futures' locks may be held by a submitting
 *     thread at fork time; the child never touches them.
 *   - malloc: glibc takes and resets its arena locks around fork(), so the
 *     worker loop and tasks may allocate.
 *   - The task registry: lookups take no lock.
 *   - stdio: the child never touches a FILE (its locks may be held by a
 *     parent thread, and flushing would write the parent's buffered output a
 *     second time); a worker ends with _exit().
 *   - Placement: binding uses the topology the parent loaded (no lock) and
 *     sched_setaffinity.
 *   - Signals: the child unblocks every signal (the collector forks with all
 *     blocked) and resets every handler the host installed to the default
 *     action, as exec would, and SIGTERM even if ignored: a host's SIGSEGV
 *     handler (a crash reporter, a test framework that longjmps back into
 *     its runner) must not run inside a worker, a crashing task must end
 *     its worker, and task_timeout's SIGTERM must end it.
 * What remains the user's business: a task that takes a lock of its own
 * program which another parent thread held at fork time will deadlock in the
 * child, in this pool as in any fork-based one; use `exec` for such
 * programs (or task_timeout, which kills the stuck worker).
 */
#include "proc-int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fork_start(const pb__proc_start *st, pid_t *pid, char *err, size_t errsize)
{
    pid_t child = fork();
    if (child < 0) {
        int e = errno;
        snprintf(err, errsize, "fork: %s", strerror(e));
        return -e;
    }
    if (child > 0) {
        *pid = child;
        return 0;
    }

    /* The child: async-signal-safe steps until the worker loop. */
    pb__proc_close_engine_fds(&st->fds);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Handlers the host installed are not the worker's: reset them, as
     * exec would (ignored signals stay ignored, as across exec). */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction old;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &old) != 0)
            continue;
        if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
            sigaction(sig, &dfl, NULL);
    }
    sigaction(SIGTERM, &dfl, NULL);

    int status = 0;
    const char *message = "";
    if (st->placement) {
        status = pb__placement_bind_process(st->placement, st->index);
        if (status < 0)
            message = "cannot bind the worker to its CPUs";
    }
    pb__proc_worker_main(&st->fds, status, message, false);
}

static int fork_create(const pb_pool_opts *opts, void **state, int *workers)
{
    static const pb__proc_ops ops = { .start = fork_start, .default_program = NULL };
    return pb__proc_create(&ops, opts, state, workers);
}

const pb_backend pb__backend_fork = {
    .name = "fork",
    .summary = "worker processes forked from the pool's creator; crash-, hang- and "
               "timeout-safe",
    .create = fork_create,
    .submit = pb__proc_submit,
    .cancel = pb__proc_cancel,
    .shutdown = pb__proc_shutdown,
    .destroy = pb__proc_destroy,
    .binding = pb__proc_binding,
    .worker_pids = pb__proc_worker_pids,
    .waiter_sleeps = true, /* a waiter reads results itself (help), or sleeps */
    .help = pb__proc_help,
    .submit_many = pb__proc_submit_many,
    .spins = pb__proc_spins,
    .options = pb__proc_options,
    .unsupported = (const pb_unsupported[]){
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
};
