/*
 * test_large_pool.c — a pool of thousands of workers starts beside CPU hogs.
 *
 *   test_large_pool [BACKEND [WORKERS [HOGS]]]     (default: fork 4096 2)
 *
 * Creating a pool waits for every worker's handshake, with a time limit per
 * worker. On a loaded machine starting thousands of processes takes longer
 * than that limit in all, so the limit must measure each worker's silence,
 * not the pool's start-up: a worker that spoke while the pool was busy
 * starting others counts as heard. This starts HOGS processes that spin on
 * the CPUs meanwhile, creates the pool (as large as this machine's limits on
 * processes and file descriptors allow, at most WORKERS), runs one task per
 * worker and destroys it, and fails if any step fails or a child is left.
 * It checks behaviour only; how long the start takes is printed, not judged.
 * Public API only, so the same test runs against an older library.
 */
#include <pb/pool.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

PB_TASK(large_pid)
{
    int pid = getpid();
    pb_task_return(ctx, &pid, sizeof pid);
}

/* The most workers this process may start: each costs the pool a few file
 * descriptors (its socket and pidfd; its child a few more while starting)
 * and one process. */
static int affordable(int want)
{
    struct rlimit fds, procs;
    int n = want;
    if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur != RLIM_INFINITY &&
        (rlim_t)n > (fds.rlim_cur - 64) / 3)
        n = (int)((fds.rlim_cur - 64) / 3);
    if (getrlimit(RLIMIT_NPROC, &procs) == 0 && procs.rlim_cur != RLIM_INFINITY &&
        (rlim_t)n > procs.rlim_cur / 2)
        n = (int)(procs.rlim_cur / 2);
    return n;
}

int main(int argc, char **argv)
{
    pb_worker_main_if_requested(argc, argv);
    const char *backend = argc > 1 ? argv[1] : "fork";
    int want = argc > 2 ? atoi(argv[2]) : 4096;
    int nhogs = argc > 3 ? atoi(argv[3]) : 2;
    int workers = affordable(want);
    if (workers < 2) {
        fprintf(stderr, "test_large_pool: this machine's limits allow too few processes\n");
        return 77;
    }

    pid_t hogs[16];
    int started = 0;
    for (int i = 0; i < nhogs && i < 16; i++) {
        pid_t h = fork();
        if (h == 0) {
            for (volatile unsigned long spin = 0;; spin++)
                ;
        }
        if (h > 0)
            hogs[started++] = h;
    }

    int rc = 1;
    pb_future **fs = NULL;
    pb_pool_opts o;
    pb_pool_opts_init(&o);
    o.workers = workers;
    pb_pool *pool = NULL;
    int64_t t0 = pb_now_ns();
    int r = pb_pool_create(backend, &o, &pool);
    int64_t t1 = pb_now_ns();
    if (r) {
        fprintf(stderr, "test_large_pool: %s pool of %d workers beside %d CPU hogs: "
                        "pb_pool_create failed after %.1f s: %s: %s\n",
                backend, workers, started, (double)(t1 - t0) / 1e9, pb_strerror(r),
                pb_pool_last_error());
        goto out;
    }
    printf("test_large_pool: %s pool of %d workers beside %d CPU hogs started in %.1f s\n",
           backend, workers, started, (double)(t1 - t0) / 1e9);
    fs = calloc((size_t)workers, sizeof *fs);
    for (int i = 0; fs && i < workers; i++)
        if (pb_submit(pool, pb_task_find("large_pid"), NULL, 0, &fs[i])) {
            fprintf(stderr, "test_large_pool: cannot submit task %d\n", i);
            for (int k = 0; k < i; k++)
                pb_future_release(fs[k]);
            goto destroy;
        }
    if (!fs)
        goto destroy;
    int ok = 0;
    for (int i = 0; i < workers; i++) {
        const void *data;
        size_t len;
        if (pb_future_result(fs[i], PB_FOREVER, &data, &len) == 0 && len == sizeof(int))
            ok++;
        pb_future_release(fs[i]);
    }
    if (ok != workers)
        fprintf(stderr, "test_large_pool: %d of %d tasks failed\n", workers - ok, workers);
    else
        rc = 0;
destroy:
    free(fs);
    pb_pool_destroy(pool);
out:
    for (int i = 0; i < started; i++) {
        kill(hogs[i], SIGKILL);
        waitpid(hogs[i], NULL, 0);
    }
    /* Nothing of the pool is left: no child of ours at all. */
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        fprintf(stderr, "test_large_pool: a child process outlived the pool\n");
        rc = 1;
    }
    return rc;
}
