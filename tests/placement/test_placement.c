/*
 * test_placement.c — pin policies on hwloc synthetic topologies, and binding
 * on the real machine.
 *
 * The synthetic cases check exact PU orders, so they do not depend on the
 * machine the tests run on. The real-machine cases only assume at least one
 * allowed PU: they pick PUs from what the process may use.
 *
 * Run with the argument "notsup" (and HWLOC_THISSYSTEM=0 in the environment)
 * to check that binding reports PB_ENOTSUP when hwloc cannot bind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "placement-int.h"
#include "pb/pool.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static hwloc_topology_t synthetic(const char *desc)
{
    hwloc_topology_t t;

    assert_int_equal(hwloc_topology_init(&t), 0);
    assert_int_equal(hwloc_topology_set_synthetic(t, desc), 0);
    assert_int_equal(hwloc_topology_load(t), 0);
    return t;
}

static hwloc_bitmap_t *sets_new(int n)
{
    hwloc_bitmap_t *sets = calloc((size_t)n, sizeof *sets);

    assert_non_null(sets);
    for (int i = 0; i < n; i++) {
        assert_non_null(sets[i] = hwloc_bitmap_alloc());
        /* Start non-empty so "none" is seen to clear them. */
        hwloc_bitmap_set(sets[i], 63);
    }
    return sets;
}

static void sets_free(hwloc_bitmap_t *sets, int n)
{
    for (int i = 0; i < n; i++)
        hwloc_bitmap_free(sets[i]);
    free(sets);
}

/* Computes pin for n workers and checks that worker i got exactly PU want[i]. */
static void expect_order(hwloc_topology_t t, hwloc_const_cpuset_t allowed,
                         const char *pin, const unsigned *want, int n)
{
    hwloc_bitmap_t *sets = sets_new(n);

    assert_int_equal(pb__placement_compute(t, allowed, pin, n, sets), 0);
    for (int i = 0; i < n; i++) {
        if (hwloc_bitmap_weight(sets[i]) != 1 ||
            (unsigned)hwloc_bitmap_first(sets[i]) != want[i]) {
            char got[64];
            hwloc_bitmap_list_snprintf(got, sizeof got, sets[i]);
            fail_msg("pin \"%s\": worker %d got {%s}, want %u", pin, i, got, want[i]);
        }
    }
    sets_free(sets, n);
}

static void expect_invalid(hwloc_topology_t t, hwloc_const_cpuset_t allowed, const char *pin)
{
    hwloc_bitmap_t *sets = sets_new(2);
    int err = pb__placement_compute(t, allowed, pin, 2, sets);

    if (err != PB_EINVAL)
        fail_msg("pin \"%s\": got %d, want PB_EINVAL", pin, err);
    /* Validation alone (no sets) must agree. */
    assert_int_equal(pb__placement_compute(t, allowed, pin, 0, NULL), PB_EINVAL);
    sets_free(sets, 2);
}

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------------------
 * Synthetic topologies
 * ------------------------------------------------------------------------ */

static void test_compact_pack2_core4_pu2(void **state)
{
    hwloc_topology_t t = synthetic("pack:2 core:4 pu:2");
    /* 20 workers on 16 PUs: the last four wrap to the start. */
    const unsigned want[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                             0, 1, 2, 3};

    expect_order(t, NULL, "compact", want, N(want));
    hwloc_topology_destroy(t);
}

static void test_scatter_pack2_core4_pu2(void **state)
{
    hwloc_topology_t t = synthetic("pack:2 core:4 pu:2");
    /* Alternate packages, then the cores of each, then the second PU of each
     * core; then wrap around. */
    const unsigned want[] = {0, 8, 2, 10, 4, 12, 6, 14, 1, 9, 3, 11, 5, 13, 7, 15,
                             0, 8};

    expect_order(t, NULL, "scatter", want, N(want));
    hwloc_topology_destroy(t);
}

static void test_numa_groups(void **state)
{
    /* hwloc 2 puts each NUMA node under a Group between package and cores;
     * scatter alternates those groups too. */
    hwloc_topology_t t = synthetic("pack:2 numa:2 core:2 pu:2");
    const unsigned compact[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const unsigned scatter[] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

    expect_order(t, NULL, "compact", compact, N(compact));
    expect_order(t, NULL, "scatter", scatter, N(scatter));
    hwloc_topology_destroy(t);
}

static void test_small_machine(void **state)
{
    hwloc_topology_t t = synthetic("pack:1 core:2 pu:1");
    const unsigned want[] = {0, 1, 0, 1, 0};

    expect_order(t, NULL, "compact", want, N(want));
    expect_order(t, NULL, "scatter", want, N(want));
    expect_order(t, NULL, "0-1", want, N(want));
    hwloc_topology_destroy(t);
}

static void test_explicit_lists(void **state)
{
    hwloc_topology_t t = synthetic("pack:2 core:4 pu:2");
    const unsigned a[] = {0, 2, 3, 0, 2, 3, 0};
    const unsigned b[] = {15, 1, 7, 8, 9, 15};
    const unsigned c[] = {5, 5, 4};
    const unsigned d[] = {3, 3};
    const unsigned e[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0};

    expect_order(t, NULL, "0,2-3", a, N(a));
    expect_order(t, NULL, "15,1,7-9", b, N(b)); /* the order given, not sorted */
    expect_order(t, NULL, "5,5,4", c, N(c));    /* duplicates kept */
    expect_order(t, NULL, "3-3", d, N(d));
    expect_order(t, NULL, "0-15", e, N(e));
    hwloc_topology_destroy(t);
}

static void test_restricted_allowed_set(void **state)
{
    hwloc_topology_t t = synthetic("pack:2 core:4 pu:2");
    hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
    /* Package 0: core 0 whole, one PU of core 1; package 1: one PU of core 4
     * and one of core 7. */
    const unsigned compact[] = {0, 1, 2, 9, 15, 0};
    const unsigned scatter[] = {0, 9, 2, 15, 1, 0};
    const unsigned list[] = {9, 0, 1, 2};

    assert_int_equal(hwloc_bitmap_list_sscanf(allowed, "0-2,9,15"), 0);
    expect_order(t, allowed, "compact", compact, N(compact));
    expect_order(t, allowed, "scatter", scatter, N(scatter));
    expect_order(t, allowed, "9,0-2", list, N(list));
    expect_invalid(t, allowed, "3");    /* exists, but not allowed */
    expect_invalid(t, allowed, "0-3");  /* one CPU of the range not allowed */
    expect_invalid(t, allowed, "9,10"); /* the second item not allowed */

    /* PUs in allowed that the topology does not have do not count. */
    assert_int_equal(hwloc_bitmap_list_sscanf(allowed, "1,40-50"), 0);
    const unsigned one[] = {1, 1, 1};
    expect_order(t, allowed, "compact", one, N(one));
    expect_order(t, allowed, "scatter", one, N(one));
    expect_invalid(t, allowed, "40");

    /* Nothing allowed: nothing to place on. */
    hwloc_bitmap_zero(allowed);
    expect_invalid(t, allowed, "compact");
    expect_invalid(t, allowed, "scatter");
    expect_invalid(t, allowed, "0");

    hwloc_bitmap_free(allowed);
    hwloc_topology_destroy(t);
}

static void test_invalid_strings(void **state)
{
    hwloc_topology_t t = synthetic("pack:2 core:4 pu:2");
    static const char *const bad[] = {
        "",           /* empty */
        "3-",         /* open range */
        "-3",         /* open range / negative */
        "3-1",        /* reversed */
        "abc",        /* garbage */
        "Compact",    /* policy names are exact */
        "compact ",   /* trailing blank */
        " 0",         /* leading blank */
        "0 ,1",       /* inner blank */
        "0,",         /* trailing comma */
        ",0",         /* leading comma */
        "0,,1",       /* empty item */
        "-1",         /* negative */
        "+1",         /* sign */
        "1--2",       /* negative range end */
        "0-1-2",      /* two dashes */
        "0x1",        /* not decimal */
        "1.5",        /* not an integer */
        "16",         /* beyond the topology's PUs */
        "0-16",       /* range running past them */
        "4294967296", /* overflows 32 bits */
        "99999999999999999999999", /* overflows 64 bits */
        "0-4294967295",            /* huge range end */
        "1048577",                 /* above any CPU index accepted */
    };

    for (int i = 0; i < N(bad); i++)
        expect_invalid(t, NULL, bad[i]);
    hwloc_topology_destroy(t);
}

static void test_none_leaves_sets_empty(void **state)
{
    hwloc_topology_t t = synthetic("pack:2 core:4 pu:2");
    hwloc_bitmap_t *sets = sets_new(3);

    assert_int_equal(pb__placement_compute(t, NULL, "none", 3, sets), 0);
    for (int i = 0; i < 3; i++)
        assert_true(hwloc_bitmap_iszero(sets[i]));

    /* NULL means the default, "none"; no topology is needed for it. */
    hwloc_bitmap_set(sets[1], 5);
    assert_int_equal(pb__placement_compute(NULL, NULL, NULL, 3, sets), 0);
    assert_true(hwloc_bitmap_iszero(sets[1]));

    sets_free(sets, 3);
    hwloc_topology_destroy(t);
}

static void test_bad_arguments(void **state)
{
    hwloc_topology_t t = synthetic("pack:1 core:2 pu:1");
    hwloc_bitmap_t *sets = sets_new(1);

    assert_int_equal(pb__placement_compute(t, NULL, "compact", -1, sets), PB_EINVAL);
    assert_int_equal(pb__placement_compute(t, NULL, "compact", 1, NULL), PB_EINVAL);
    assert_int_equal(pb__placement_compute(NULL, NULL, "compact", 1, sets), PB_EINVAL);
    /* A good string with workers 0 only validates. */
    assert_int_equal(pb__placement_compute(t, NULL, "1,0", 0, NULL), 0);

    sets_free(sets, 1);
    hwloc_topology_destroy(t);
}

static void test_cpuset_format(void **state)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    char buf[32];

    assert_int_equal(hwloc_bitmap_list_sscanf(set, "0,2-3,7"), 0);
    assert_int_equal(pb__cpuset_format(set, buf, sizeof buf), 0);
    assert_string_equal(buf, "0,2-3,7");

    /* Too short: truncated, still NUL-terminated. */
    assert_int_equal(pb__cpuset_format(set, buf, 4), 0);
    assert_string_equal(buf, "0,2");

    hwloc_bitmap_zero(set);
    assert_int_equal(pb__cpuset_format(set, buf, sizeof buf), 0);
    assert_string_equal(buf, "");

    assert_int_equal(pb__cpuset_format(set, NULL, 8), PB_EINVAL);
    assert_int_equal(pb__cpuset_format(set, buf, 0), PB_EINVAL);
    assert_int_equal(pb__cpuset_format(NULL, buf, sizeof buf), PB_EINVAL);
    hwloc_bitmap_free(set);
}

/* ------------------------------------------------------------------------
 * The real machine
 * ------------------------------------------------------------------------ */

static void *load_topology(void *arg)
{
    hwloc_topology_t *out = arg;

    return (void *)(intptr_t)pb__topology(out);
}

/* Runs first, so the threads race on the one-time load. */
static void test_topology_loaded_once(void **state)
{
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    hwloc_topology_t got[THREADS];
    hwloc_topology_t mine;

    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_topology, &got[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_int_equal((intptr_t)ret, 0);
    }
    assert_int_equal(pb__topology(&mine), 0);
    assert_non_null(mine);
    for (int i = 0; i < THREADS; i++)
        assert_ptr_equal(got[i], mine);
    assert_int_equal(pb__topology(NULL), PB_EINVAL);
}

static void test_cpu_count(void **state)
{
    cpu_set_t mask;
    int n = pb__cpu_count();

    assert_true(n >= 1);
    /* Never more than the kernel lets this process use. */
    assert_int_equal(sched_getaffinity(0, sizeof mask, &mask), 0);
    assert_true(n <= CPU_COUNT(&mask));
}

/* The first allowed PU, as a list string, found through the library itself. */
static void first_allowed_pu(char *buf, size_t size)
{
    pb__placement *p;

    assert_int_equal(pb__placement_new("compact", 1, &p), 0);
    assert_non_null(p);
    assert_int_equal(pb__placement_cpus(p, 0, buf, size), 0);
    assert_true(buf[0] >= '0' && buf[0] <= '9');
    pb__placement_free(p);
}

static void test_new_none_and_workers(void **state)
{
    pb__placement *p = (pb__placement *)&p;
    char buf[64] = "x";
    int n = pb__cpu_count();

    assert_int_equal(pb__placement_new("none", 4, &p), 0);
    assert_null(p);
    assert_int_equal(pb__placement_new(NULL, 4, &p), 0);
    assert_null(p);
    assert_int_equal(pb__placement_bind_thread(NULL, 0), 0);
    assert_int_equal(pb__placement_bind_process(NULL, 0), 0);
    assert_int_equal(pb__placement_cpus(NULL, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    pb__placement_free(NULL);

    assert_int_equal(pb__placement_new("compact", -1, &p), PB_EINVAL);
    assert_int_equal(pb__placement_new("compact", 1, NULL), PB_EINVAL);
    assert_int_equal(pb__placement_new("3-", 1, &p), PB_EINVAL);
    assert_null(p);

    /* workers 0: one per allowed PU, each a single distinct PU. */
    assert_int_equal(pb__placement_new("scatter", 0, &p), 0);
    assert_non_null(p);
    for (int i = 0; i < n; i++) {
        assert_int_equal(pb__placement_cpus(p, i, buf, sizeof buf), 0);
        assert_non_null(strchr("0123456789", buf[0]));
        assert_null(strchr(buf, ','));
        assert_null(strchr(buf, '-'));
    }
    assert_int_equal(pb__placement_cpus(p, n, buf, sizeof buf), PB_EINVAL);
    assert_int_equal(pb__placement_cpus(p, -1, buf, sizeof buf), PB_EINVAL);
    assert_int_equal(pb__placement_bind_thread(p, n), PB_EINVAL);
    assert_int_equal(pb__placement_bind_process(p, -1), PB_EINVAL);
    pb__placement_free(p);
}

static void test_check(void **state)
{
    char pu[64];

    first_allowed_pu(pu, sizeof pu);
    assert_int_equal(pb__placement_check(NULL), 0);
    assert_int_equal(pb__placement_check("none"), 0);
    assert_int_equal(pb__placement_check("compact"), 0);
    assert_int_equal(pb__placement_check("scatter"), 0);
    assert_int_equal(pb__placement_check(pu), 0);
    assert_int_equal(pb__placement_check(""), PB_EINVAL);
    assert_int_equal(pb__placement_check("3-1"), PB_EINVAL);
    assert_int_equal(pb__placement_check("1048576"), PB_EINVAL);
    assert_int_equal(pb__placement_check("0,"), PB_EINVAL);
}

/* Binding is the expected list, or "" when that list is every allowed PU. */
static const char *expected_binding(const char *cpus)
{
    return pb__cpu_count() == 1 ? "" : cpus;
}

typedef struct bind_job {
    const pb__placement *p;
    int worker;
    int err;
    char before[64], after[64];
} bind_job;

static void *bind_thread_main(void *arg)
{
    bind_job *j = arg;

    j->err = pb__binding_of_self_thread(j->before, sizeof j->before);
    if (j->err == 0)
        j->err = pb__placement_bind_thread(j->p, j->worker);
    if (j->err == 0)
        j->err = pb__binding_of_self_thread(j->after, sizeof j->after);
    return NULL;
}

static void test_bind_thread(void **state)
{
    char pu[64];
    pb__placement *p;
    pthread_t th;
    bind_job job = {0};

    first_allowed_pu(pu, sizeof pu);
    assert_int_equal(pb__placement_new(pu, 2, &p), 0);

    /* In a thread of its own, so the test's main thread stays unbound. */
    job.p = p;
    job.worker = 1;
    assert_int_equal(pthread_create(&th, NULL, bind_thread_main, &job), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(job.err, 0);
    assert_string_equal(job.before, "");
    assert_string_equal(job.after, expected_binding(pu));

    /* The main thread was not touched. */
    char mine[64];
    assert_int_equal(pb__binding_of_self_thread(mine, sizeof mine), 0);
    assert_string_equal(mine, "");
    assert_int_equal(pb__binding_of_self_thread(NULL, 8), PB_EINVAL);
    pb__placement_free(p);
}

/* What a process engine does: fork, bind the child right away, and read the
 * child's binding from the parent. A helper thread is running during fork()
 * so the child really is the child of a multi-threaded parent. */
static void *idle_thread(void *arg)
{
    int *fd = arg;
    char c;

    /* Blocks until the test closes the pipe. */
    while (read(*fd, &c, 1) > 0)
        ;
    return NULL;
}

static void test_bind_process_after_fork(void **state)
{
    int n = pb__cpu_count();
    int w = n - 1; /* the last worker: a PU other than the first when n > 1 */
    pb__placement *p;
    char want[64], got[64], child_view[64] = "";
    int report[2], hold[2], idle[2];
    pthread_t th;

    assert_int_equal(pb__placement_new("scatter", n, &p), 0);
    assert_int_equal(pb__placement_cpus(p, w, want, sizeof want), 0);
    assert_int_equal(pipe(report), 0);
    assert_int_equal(pipe(hold), 0);
    assert_int_equal(pipe(idle), 0);
    assert_int_equal(pthread_create(&th, NULL, idle_thread, &idle[0]), 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        int err = pb__placement_bind_process(p, w);
        char view[64] = "";

        close(hold[1]); /* so the parent's close reaches us as EOF */
        close(report[0]);
        if (err == 0)
            err = pb__binding_of_self_thread(view, sizeof view);
        if (err != 0)
            snprintf(view, sizeof view, "error %d", err);
        if (write(report[1], view, strlen(view) + 1) < 0)
            _exit(3);
        /* Stay alive until the parent has read our binding from outside. */
        (void)read(hold[0], &c, 1);
        _exit(0);
    }

    /* No assertion until the child is reaped, so a failure cannot leave it
     * waiting forever. */
    close(report[1]);
    close(hold[0]);
    ssize_t got_len = read(report[0], child_view, sizeof child_view - 1);
    int err = pb__binding_of_pid(pid, got, sizeof got);
    close(hold[1]);
    int status;
    pid_t reaped = waitpid(pid, &status, 0);

    assert_int_equal(reaped, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(got_len > 0);
    assert_int_equal(err, 0);
    assert_string_equal(child_view, expected_binding(want));
    assert_string_equal(got, expected_binding(want));

    close(idle[1]);
    assert_int_equal(pthread_join(th, NULL), 0);
    close(idle[0]);
    close(report[0]);
    pb__placement_free(p);

    assert_int_equal(pb__binding_of_pid(0, got, sizeof got), PB_EINVAL);
    assert_int_equal(pb__binding_of_pid(getpid(), got, sizeof got), 0);
    assert_string_equal(got, "");
}

/* ------------------------------------------------------------------------
 * No binding support (HWLOC_THISSYSTEM=0)
 * ------------------------------------------------------------------------ */

static void test_notsup(void **state)
{
    pb__placement *p;
    char buf[64];
    hwloc_topology_t t;

    assert_int_equal(pb__topology(&t), 0);
    if (hwloc_topology_is_thissystem(t))
        fail_msg("run with HWLOC_THISSYSTEM=0 in the environment");

    /* Placement still resolves; only binding is refused. */
    assert_true(pb__cpu_count() >= 1);
    assert_int_equal(pb__placement_new("compact", 2, &p), 0);
    assert_int_equal(pb__placement_cpus(p, 1, buf, sizeof buf), 0);
    assert_int_equal(pb__placement_bind_thread(p, 0), PB_ENOTSUP);
    assert_int_equal(pb__placement_bind_process(p, 1), PB_ENOTSUP);
    assert_int_equal(pb__binding_of_self_thread(buf, sizeof buf), PB_ENOTSUP);
    assert_int_equal(pb__binding_of_pid(getpid(), buf, sizeof buf), PB_ENOTSUP);
    /* "none" binds nothing, so it still works. */
    assert_int_equal(pb__placement_bind_thread(NULL, 0), 0);
    pb__placement_free(p);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "notsup") == 0) {
        const struct CMUnitTest notsup[] = {cmocka_unit_test(test_notsup)};
        return cmocka_run_group_tests_name("placement without binding support",
                                           notsup, NULL, NULL);
    }
    if (argc > 1) {
        fprintf(stderr, "test_placement: unknown argument \"%s\" (only \"notsup\")\n", argv[1]);
        return 2;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topology_loaded_once),
        cmocka_unit_test(test_compact_pack2_core4_pu2),
        cmocka_unit_test(test_scatter_pack2_core4_pu2),
        cmocka_unit_test(test_numa_groups),
        cmocka_unit_test(test_small_machine),
        cmocka_unit_test(test_explicit_lists),
        cmocka_unit_test(test_restricted_allowed_set),
        cmocka_unit_test(test_invalid_strings),
        cmocka_unit_test(test_none_leaves_sets_empty),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_cpuset_format),
        cmocka_unit_test(test_cpu_count),
        cmocka_unit_test(test_new_none_and_workers),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_bind_thread),
        cmocka_unit_test(test_bind_process_after_fork),
    };
    return cmocka_run_group_tests_name("placement", tests, NULL, NULL);
}
