/*
 * worker_helper.c — a separate exec worker program for the fault tests
 * (opts.worker_program): it links the shared test tasks, but not the tasks
 * defined in test_faults.c itself, and can fail its start step on request.
 */
#include "faults.h"

#include <pb/pool.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    /* FAULTS_BAD_CPUS set: start as a worker told to bind to CPUs that do not
     * exist, so that its HELLO reports a failed start. */
    char *bad[] = { argv[0], argc > 1 ? argv[1] : NULL, "--pb-cpus=1000000", NULL };
    if (getenv("FAULTS_BAD_CPUS") && argc > 1) {
        argc = 3;
        argv = bad;
    }
    pb_worker_main_if_requested(argc, argv);
    faults_tasks_linked();
    fprintf(stderr, "%s: a poolbench exec worker; it is started by the exec backend\n", argv[0]);
    return 2;
}
