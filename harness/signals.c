/*
 * signals.c — the signals that stop `poolbench run`, `stress` and `ab`, and
 * the results file written so that none of them is lost.
 *
 * DESIGN
 *
 * A command that measures writes its results file as it goes (after every
 * finished case, atomically: pbr_write_atomic), so that whatever ends it —
 * a signal it handles, SIGKILL, a power cut — the file on disk is whole and
 * holds every finished measurement. What remains is to stop well when
 * asked:
 *
 *   - SIGINT, SIGTERM and SIGHUP ask the command to stop (pbh_stop): it
 *     finishes or cuts short what it is doing, writes the file once more,
 *     marked incomplete, and exits 130. The handlers stay in place until the
 *     command is done, so no later signal finds the default action (which
 *     would end the program) in the middle of the last write.
 *   - The same request often arrives several times at once: `timeout`
 *     signals the program and then its whole process group, a terminal's
 *     Ctrl-C goes to every process of the foreground group. Signals within
 *     a second of the first are that one request.
 *   - A signal a second or more later is someone insisting (the command is
 *     stuck, or they will not wait): it ends the program at once with
 *     status 130. The file already holds every finished measurement, so
 *     nothing is lost — unless a write is under way: then the handler only
 *     records it, and the writer exits as soon as the file is renamed into
 *     place (pbh_signals_hold). No temporary file is left either way.
 *
 * The handler may run in any thread (a pool's worker included), so what it
 * shares with the writer is lock-free atomics, and it calls only
 * async-signal-safe functions (getpid, clock_gettime, signal, raise,
 * _exit) and pb_workloads_interrupt (one relaxed atomic store).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "results.h"
#include "runner.h"
#include "signals.h"
#include "workloads.h"

static atomic_int holding;              /* a results file is being written */
static atomic_int exit_pending;         /* insisted meanwhile: exit after it */
static _Atomic int64_t first_signal_ns; /* CLOCK_MONOTONIC of the first stop request */

/* Later signals of one request arrive within this of the first. */
#define PBH_INSIST_NS 1000000000LL

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSTOP (sizeof stop_signals / sizeof stop_signals[0])

/* The process the handlers are for. A process forked from it (a pool's
 * worker, or one a library forks, like multiprocessing's) inherits them
 * until it execs; told to stop (multiprocessing ends its workers with
 * SIGTERM), it dies as it would by default, rather than raise the shared
 * stop flag every worker of the run reads (bench/workloads.h). */
static pid_t owner;

static void on_signal(int sig)
{
    if (getpid() != owner) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    int saved = errno;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (!pbh_stop) {
        atomic_store(&first_signal_ns, now);
        pbh_stop = 1;
        pb_workloads_interrupt(); /* a task an hour long ends now too */
    } else if (now - atomic_load(&first_signal_ns) >= PBH_INSIST_NS) {
        atomic_store(&exit_pending, 1);
        if (!atomic_load(&holding))
            _exit(130);
    }
    errno = saved;
}

void pbh_signals_catch(pbh_signals_saved *saved)
{
    _Static_assert(sizeof saved->old / sizeof saved->old[0] == NSTOP, "one per signal");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSTOP; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    pbh_stop = 0;
    owner = getpid();
    pb_workloads_resume();
    atomic_store(&exit_pending, 0);
    for (size_t i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &sa, &saved->old[i]);
}

void pbh_signals_restore(const pbh_signals_saved *saved)
{
    for (size_t i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &saved->old[i], NULL);
}

void pbh_signals_hold(bool on)
{
    atomic_store(&holding, on ? 1 : 0);
    if (!on && atomic_load(&exit_pending))
        _exit(130);
}

int pbh_write_results(const char *path, const json_t *doc, char *err, size_t errlen)
{
    pbh_signals_hold(true);
    int rc = pbr_write_atomic(path, doc, err, errlen);
    pbh_signals_hold(false);
    return rc;
}
