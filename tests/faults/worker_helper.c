/*
 * worker_helper.c — a separate exec worker program for the fault tests
 * (opts.worker_program): it links the shared test tasks, but not the tasks
 * defined in test_faults.c itself.
 */
#include "faults.h"

#include <pb/pool.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    pb_worker_main_if_requested(argc, argv);
    faults_tasks_linked();
    fprintf(stderr, "%s: a poolbench exec worker; it is started by the exec backend\n", argv[0]);
    return 2;
}
