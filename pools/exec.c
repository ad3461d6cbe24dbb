/*
 * exec.c — the `exec` backend: every worker is a fresh program image.
 *
 * Like Python's "spawn" start method: a worker shares nothing with the pool's
 * process but what it is told over its socket, so it is immune to the state
 * (threads, locks, open files) of the program that created the pool. The
 * rest is the shared process-worker engine (proc-engine.c).
 *
 * Starting a worker. posix_spawn runs the worker program (by default this
 * very program, /proc/self/exe) with arguments
 *     <argv0> --pb-worker=<sock>,<shm>,<offset> [--pb-cpus=<list>]
 * naming the worker's end of its socket and the pool's shared memory (two
 * fds that the spawn's file actions let through: dup2 of an fd onto itself
 * clears its close-on-exec flag; every other fd of the engine stays
 * close-on-exec) and where the worker's region lies in it, and the
 * environment variable
 * PB_EXEC_WORKER=1. The program's main() calls
 * pb_worker_main_if_requested(argc, argv) first thing, which recognises the
 * arguments, binds itself to its CPUs with the shared placement code, and
 * runs the worker loop until the pool says goodbye.
 *
 * Failures at create, never a hang:
 *   - the program cannot be executed (ENOENT, EACCES, ENOEXEC...): glibc's
 *     posix_spawn reports the child's exec errno as its own return value
 *     (it is built on clone(CLONE_VFORK) and a close-on-exec channel, the
 *     same idea as libuv's error pipe), and pb_pool_create fails with it;
 *   - the program runs but is not a poolbench worker (it exits, or never
 *     says HELLO within the engine's handshake timeout): create fails with
 *     PB_EBROKEN (or PB_ETIMEDOUT) saying so;
 *   - a program that forgot pb_worker_main_if_requested and creates an exec
 *     pool of its own would spawn itself without end: PB_EXEC_WORKER stops
 *     that (pb_pool_create refuses in such a process).
 *
 * The new image runs with an empty signal mask and SIGTERM at its default
 * action, so task_timeout's SIGTERM ends it.
 */
#include "core-int.h"
#include "proc-int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#define WORKER_ARG "--pb-worker="
#define CPUS_ARG "--pb-cpus="
#define ENV_MARK "PB_EXEC_WORKER"

int pb_worker_main_if_requested(int argc, char **argv)
{
    if (argc < 2 || !argv || !argv[1] || strncmp(argv[1], WORKER_ARG, strlen(WORKER_ARG)) != 0)
        return pb__module_worker_main(argc, argv); /* an MPI rank may be a worker */
    /* <socket fd>,<shared memory fd>,<offset of the worker's region> */
    const char *at = argv[1] + strlen(WORKER_ARG);
    unsigned long long v[3];
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        v[i] = strtoull(at, &end, 10);
        if (end == at || *end != (i < 2 ? ',' : '\0') || errno ||
            (i < 2 && (v[i] > 1 << 20 || fcntl((int)v[i], F_GETFD) < 0))) {
            static const char msg[] = "poolbench worker: bad or closed --pb-worker fds\n";
            ssize_t ignored = write(2, msg, sizeof msg - 1);
            (void)ignored;
            _exit(2);
        }
        at = end + 1;
    }
    pb__proc_fds fds = { (int)v[0], (int)v[1], v[2] };
    /* Neither the fds nor the mark reach programs a task may start. */
    fcntl(fds.sock, F_SETFD, FD_CLOEXEC);
    fcntl(fds.shm, F_SETFD, FD_CLOEXEC);
    unsetenv(ENV_MARK);

    int status = 0;
    char message[256] = "";
    if (argc >= 3 && argv[2] && strncmp(argv[2], CPUS_ARG, strlen(CPUS_ARG)) == 0) {
        const char *cpus = argv[2] + strlen(CPUS_ARG);
        pb__placement *p = NULL;
        status = pb__placement_new(cpus, 1, &p);
        if (status == 0)
            status = pb__placement_bind_process(p, 0);
        if (status < 0)
            snprintf(message, sizeof message, "cannot bind to CPUs %s: %s", cpus,
                     pb_strerror(status));
        pb__placement_free(p);
    }
    pb__proc_worker_main(&fds, status, message, true);
}

/* environ plus PB_EXEC_WORKER=1 (any earlier value dropped). */
static char **worker_environ(void)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    size_t mlen = strlen(ENV_MARK);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], ENV_MARK, mlen) != 0 || environ[i][mlen] != '=')
            env[k++] = environ[i];
    env[k++] = (char *)ENV_MARK "=1";
    env[k] = NULL;
    return env;
}

static int exec_start(const pb__proc_start *st, pid_t *pid, char *err, size_t errsize)
{
    char fdarg[64], cpusarg[300];
    snprintf(fdarg, sizeof fdarg, WORKER_ARG "%d,%d,%llu", st->fds.sock, st->fds.shm,
             (unsigned long long)st->fds.offset);
    char *argv[4];
    int argc = 0;
    const char *program = st->program;
    argv[argc++] = (char *)(strcmp(program, "/proc/self/exe") == 0 ? program_invocation_name
                                                                    : program);
    argv[argc++] = fdarg;
    if (st->placement) {
        char cpus[256];
        int r = pb__placement_cpus(st->placement, st->index, cpus, sizeof cpus);
        if (r < 0) {
            snprintf(err, errsize, "cannot describe worker %d's CPUs: %s", st->index,
                     pb_strerror(r));
            return r;
        }
        snprintf(cpusarg, sizeof cpusarg, CPUS_ARG "%s", cpus);
        argv[argc++] = cpusarg;
    }
    argv[argc] = NULL;

    char **env = worker_environ();
    if (!env) {
        snprintf(err, errsize, "out of memory");
        return PB_ENOMEM;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int r = posix_spawn_file_actions_init(&fa);
    if (r == 0) {
        r = posix_spawnattr_init(&attr);
        if (r)
            posix_spawn_file_actions_destroy(&fa);
    }
    if (r) {
        free(env);
        snprintf(err, errsize, "posix_spawn setup: %s", strerror(r));
        return -r;
    }
    sigset_t none, term;
    sigemptyset(&none);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    /* dup2 of an fd onto itself clears its close-on-exec flag (glibc, and
     * POSIX.1-2024): exactly these two reach the worker. */
    r = posix_spawn_file_actions_adddup2(&fa, st->fds.sock, st->fds.sock);
    if (!r)
        r = posix_spawn_file_actions_adddup2(&fa, st->fds.shm, st->fds.shm);
    if (!r)
        r = posix_spawnattr_setsigmask(&attr, &none);
    if (!r)
        r = posix_spawnattr_setsigdefault(&attr, &term);
    if (!r)
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!r)
        r = posix_spawn(pid, program, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    if (r) {
        snprintf(err, errsize, "cannot start worker program %s: %s", program, strerror(r));
        return -r;
    }
    return 0;
}

static int exec_create(const pb_pool_opts *opts, void **state, int *workers)
{
    static const pb__proc_ops ops = { .start = exec_start, .default_program = "/proc/self/exe" };
    return pb__proc_create(&ops, opts, state, workers);
}

const pb_backend pb__backend_exec = {
    .name = "exec",
    .summary = "worker processes that each run a fresh program image (spawn); crash-, "
               "hang- and timeout-safe",
    .create = exec_create,
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
};
