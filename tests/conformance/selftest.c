/*
 * selftest.c — cases that test the runner, not a backend.
 *
 * `conformance --self-test` runs only these, each in its own child like any
 * case, and checks that the runner reaches the verdict the case declares: a
 * failed check, a crash, a hang, an unexpected exit status and a process left
 * behind must all fail; a skip must be reported as one, with its reason. The
 * suite is only as good as this machinery, so it is tested like the rest.
 */
#include "conformance.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

PBC_SELFTEST(passes, PBC_EXPECT_PASS, NULL)
{
    CHECK_CODE(0, 0);
    CHECK_INT(1, <, 2);
    CHECK_STR("a", "a");
}

PBC_SELFTEST(failed_check, PBC_EXPECT_FAIL, "returned -110 (")
{
    CHECK_CODE(PB_ETIMEDOUT, 0);
}

static void *fail_in_thread(void *arg)
{
    FAIL("from a helper thread");
}

PBC_SELFTEST(failed_check_in_a_thread, PBC_EXPECT_FAIL, "from a helper thread")
{
    pbc_thread t;
    pbc_thread_start(&t, fail_in_thread, NULL);
    pbc_thread_join(&t);
}

/* Reported as "killed by signal 11", or, under a sanitizer that catches the
 * signal, as its exit status: both name the last step. */
PBC_SELFTEST(crash, PBC_EXPECT_FAIL, "last step: selftest.c:")
{
    STEP("about to crash");
    raise(SIGSEGV);
}

PBC_SELFTEST(hang, PBC_EXPECT_FAIL, "timed out after")
{
    STEP("sleeping forever");
    for (;;)
        pause();
}

PBC_SELFTEST(exit_status, PBC_EXPECT_FAIL, "exited with status 3")
{
    exit(3);
}

PBC_SELFTEST(skip, PBC_EXPECT_SKIP, "the reason given")
{
    SKIP("the reason given");
}

PBC_SELFTEST(leaves_a_process, PBC_EXPECT_FAIL, "left processes behind")
{
    /* A process in the case's group that outlives the case, as a worker a
     * pool failed to stop would. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
}

/* The departures table (departures/selftest.md documents the next four):
 * a case failing as its row says departs; failing otherwise, passing, or
 * hanging past its row's limit without the documented step each get the
 * verdict the table implies. */

PBC_SELFTEST(departs_as_documented, PBC_EXPECT_DEPART, "the row's reason")
{
    STEP("failing on purpose");
    FAIL("the documented failure, with %d details", 3);
}

PBC_SELFTEST(departs_differently, PBC_EXPECT_FAIL, "departs differently from its row")
{
    FAIL("some other failure");
}

PBC_SELFTEST(no_longer_departs, PBC_EXPECT_FAIL, "no longer departs")
{
    CHECK_INT(1, ==, 1);
}

PBC_SELFTEST(departs_by_hanging, PBC_EXPECT_DEPART, "a documented hang")
{
    STEP("waiting for what never comes");
    for (;;)
        pause();
}
