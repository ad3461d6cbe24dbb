/*
 * test_own_program.c — a program of its own (not poolbench) on the mpi
 * backend, started as `mpiexec -n 3 test_own_program [--own-mpi]`.
 *
 * It does what the README tells a program to do: pb_worker_main_if_requested
 * first thing in main(), then pools of "mpi". Ranks 1.. never return from
 * that call; rank 0 runs the tests. With --own-mpi the program initialises
 * MPI itself first (as a program that uses MPI for its own work would) and
 * calls MPI_Finalize at the end, which must release the worker ranks: if it
 * did not, the job would never end and ctest's timeout would fail it.
 */
#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <pb/backend.h>
#include <pb/mpi.h>
#include <pb/pool.h>

typedef struct whoami {
    int32_t pid, rank;
    int64_t value;
} whoami;

/* Runs in a worker rank: which rank and process it is, and arg squared. */
PB_TASK(own_whoami)
{
    int64_t x = 0;
    if (len == sizeof x)
        memcpy(&x, arg, sizeof x);
    whoami w = {.pid = (int32_t)getpid(), .value = x * x};
    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    pb_task_return(ctx, &w, sizeof w);
}

static int world_size(void)
{
    int n = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

static void test_tasks_run_in_worker_ranks(void **state)
{
    (void)state;
    pb_pool *pool = NULL;
    int rc = pb_pool_create("mpi", NULL, &pool);
    if (rc)
        fail_msg("pb_pool_create(mpi): %s: %s", pb_strerror(rc), pb_pool_last_error());
    assert_int_equal(pb_pool_workers(pool), world_size() - 1);
    enum { N = 200 };
    pb_future *fs[N];
    for (int64_t i = 0; i < N; i++)
        assert_int_equal(pb_submit(pool, pb_task_find("own_whoami"), &i, sizeof i, &fs[i]), 0);
    int32_t pid_of[64] = {0};
    for (int i = 0; i < N; i++) {
        const void *data;
        size_t len;
        assert_int_equal(pb_future_result(fs[i], PB_FOREVER, &data, &len), 0);
        assert_int_equal(len, sizeof(whoami));
        whoami w;
        memcpy(&w, data, sizeof w);
        assert_int_equal(w.value, (int64_t)i * i);
        assert_true(w.rank >= 1 && w.rank < world_size() && w.rank < 64);
        assert_int_not_equal(w.pid, (int32_t)getpid());
        if (!pid_of[w.rank])
            pid_of[w.rank] = w.pid;
        assert_int_equal(pid_of[w.rank], w.pid); /* one process per rank, for good */
        pb_future_release(fs[i]);
    }
    char info[4096];
    assert_true(pb_pool_describe(pool, info, sizeof info) > 0);
    char want[64];
    snprintf(want, sizeof want, "\"ranks\": %d", world_size());
    assert_non_null(strstr(info, want));
    pb_pool_destroy(pool);
}

static void test_floors_only_between_pools(void **state)
{
    (void)state;
    pb_mpi_floor_fn floor_run;
    *(void **)&floor_run = pb_backend_symbol("mpi", PB_MPI_FLOOR_SYMBOL);
    assert_non_null(floor_run);
    int64_t times[10];
    pb_mpi_floor f = {.kind = PB_MPI_FLOOR_PINGPONG, .peer = 1, .count = 10, .bytes = 8,
                      .times = times};
    assert_int_equal(floor_run(&f), 0);
    for (int i = 0; i < 10; i++)
        assert_true(times[i] > 0);

    pb_pool *pool = NULL;
    assert_int_equal(pb_pool_create("mpi", NULL, &pool), 0);
    assert_int_not_equal(floor_run(&f), 0); /* its ranks are the pool's now */
    assert_non_null(strstr(f.error, "pool"));
    pb_pool_destroy(pool);

    f.peer = world_size(); /* no such rank */
    assert_int_equal(floor_run(&f), PB_EINVAL);
}

int main(int argc, char **argv)
{
    bool own = argc > 1 && !strcmp(argv[1], "--own-mpi");
    if (own) {
        int provided;
        MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    }
    if (pb_worker_main_if_requested(argc, argv) != 0) {
        fprintf(stderr, "test_own_program: %s\n", pb_pool_last_error());
        return 1;
    }
    /* Rank 0 only from here. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks_run_in_worker_ranks),
        cmocka_unit_test(test_floors_only_between_pools),
    };
    int failed = cmocka_run_group_tests_name(own ? "mpi.own_mpi" : "mpi.own_program", tests,
                                             NULL, NULL);
    if (own) {
        /* The program's own MPI, still usable beside the backend's. */
        int one = 1, sum = 0;
        MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_SELF);
        if (sum != 1)
            failed++;
        MPI_Finalize(); /* releases the worker ranks */
    }
    return failed;
}
