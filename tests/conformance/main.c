/*
 * main.c — the conformance runner: one backend, every case, each isolated.
 *
 *   conformance --backend NAME [--case GLOB]... [--load PLUGIN.so]...
 *               [--timeout SECONDS] [--slow] [--no-fork] [--departures FILE]
 *   conformance --list [--case GLOB]...
 *   conformance --check-coverage NAME...
 *   conformance --self-test --backend NAME
 *
 * DESIGN
 *   The cases (case_*.c) are written once against pb/pool.h and run for the
 *   backend named on the command line; CMake registers one ctest per backend.
 *   As in libuv's test runner, every case runs in its own forked child, in a
 *   process group of its own, with a timeout: a hang or a crash fails that
 *   case and the runner goes on. When a child ends (or is killed at its
 *   timeout) the runner kills its process group before reaping it, so worker
 *   processes a broken case left behind cannot outlive it, and removes the
 *   case's scratch directory (where gates live).
 *
 *   Each case is one cmocka test whose body forks, waits and translates the
 *   child's end into cmocka's verdict: status 0 passes, PBC_EXIT_SKIP skips
 *   (with the reason printed: a backend lacking a capability is never
 *   silently passed), anything else fails with the child's message, or with
 *   the signal and the last STEP() of a child that crashed or hung. The
 *   child's own output goes straight to the runner's stdout/stderr.
 *
 *   The runner is a child subreaper (PR_SET_CHILD_SUBREAPER): worker
 *   processes orphaned by a case become its children, so it can reap them
 *   after killing them instead of leaving zombies to an init that may not
 *   reap. A case that passed but left any process in its group behind fails:
 *   no worker may outlive the pool that started it.
 *
 *   The child inherits the signal handlers cmocka installs while a test runs
 *   (it catches SIGSEGV and friends and longjmps back into its runner), which
 *   in a child would resume the runner's loop in the wrong process. So the
 *   runner saves every handler before cmocka starts and the child restores
 *   them first thing (keeping, e.g., a sanitizer's own handlers).
 *
 *   main() calls pb_worker_main_if_requested() first, so the exec backend
 *   can re-run this program as a worker; the tasks (tasks.c) are registered
 *   at load time and are therefore known to such workers.
 *
 *   --self-test runs the runner's own cases (selftest.c) instead, each of
 *   which declares the verdict it must get: this checks that failures,
 *   crashes, hangs and leftover processes are caught.
 *
 *   Departures. A backend that breaks the contract in known ways (Python's
 *   pools) has a table, departures/<backend>.md (departures.c describes
 *   it): each row names a case, the failure it must show and why. The
 *   runner judges such a case against its row — DEPARTS when it fails as
 *   documented, a failure when it passes or fails otherwise — and prints,
 *   at the end, the backend's summary: passed, skipped with their reasons,
 *   departures with theirs, failures. The table is published as it is; the
 *   runner keeps it true.
 *
 *   The Python twins of the suite's tasks (conformance_twins.py) are added
 *   to POOLBENCH_PYTHON_TWINS, so the py-* backends can run every case.
 *
 *   --check-coverage is the test that keeps a new backend from skipping
 *   conformance: it fails unless every name pb_backend_names() reports is in
 *   the list CMake registered a conformance test for.
 */
#include "conformance.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define DEFAULT_TIMEOUT_S 20

/* ---- The case registry ---- */

static pbc_case *g_case_list;
static size_t g_case_count;

void pbc__case_register(pbc_case *c)
{
    c->next = g_case_list;
    g_case_list = c;
    g_case_count++;
}

static int case_cmp(const void *a, const void *b)
{
    const pbc_case *const *x = a;
    const pbc_case *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

pbc_case **pbc_cases(size_t *n)
{
    static pbc_case **sorted;
    if (sorted == NULL) {
        sorted = calloc(g_case_count ? g_case_count : 1, sizeof *sorted);
        if (sorted == NULL) {
            fprintf(stderr, "conformance: out of memory\n");
            exit(1);
        }
        size_t i = 0;
        for (pbc_case *c = g_case_list; c != NULL; c = c->next)
            sorted[i++] = c;
        qsort(sorted, g_case_count, sizeof *sorted, case_cmp);
    }
    *n = g_case_count;
    return sorted;
}

/* ---- Options ---- */

static const char *g_backend;
static const char **g_globs;
static size_t g_nglobs;
static int g_timeout_s = DEFAULT_TIMEOUT_S;
static bool g_no_fork;
static bool g_self_test;
static bool g_slow;
static char g_departures_path[PATH_MAX]; /* the table in use, "" if none */

bool pbc_slow(void)
{
    return g_slow;
}
static struct sigaction g_saved_actions[NSIG];

static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "conformance: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try --help)\n");
    va_end(ap);
    exit(2);
}

static void usage(void)
{
    printf("usage: conformance --backend NAME [--case GLOB]... [--load PLUGIN.so]...\n"
           "                   [--timeout SECONDS] [--slow] [--no-fork]\n"
           "       conformance --list [--case GLOB]...\n"
           "       conformance --check-coverage NAME...\n"
           "\n"
           "Runs the futures-contract conformance cases against one pool backend,\n"
           "each case in its own process with a timeout (default %d s).\n"
           "  --case GLOB      run only cases whose name matches (fnmatch); repeatable\n"
           "  --load PLUGIN    dlopen a shared object that registers a backend\n"
           "  --departures F   the table of cases the backend fails as documented\n"
           "                   (default: departures/NAME.md of the source tree, if\n"
           "                   there is one; \"none\": every failure counts)\n"
           "  --slow           full volume in cases that otherwise do less\n"
           "  --no-fork        run cases in this process, stopping at the first\n"
           "                   failure (for debuggers)\n"
           "  --check-coverage succeed only if every backend the library knows is\n"
           "                   among NAME...\n"
           "  --self-test      run the runner's own tests instead of the cases\n",
           DEFAULT_TIMEOUT_S);
}

static bool selected(const pbc_case *c)
{
    if ((strncmp(c->name, "selftest.", 9) == 0) != g_self_test)
        return false;
    if (g_nglobs == 0)
        return true;
    for (size_t i = 0; i < g_nglobs; i++) {
        if (fnmatch(g_globs[i], c->name, 0) == 0)
            return true;
    }
    return false;
}

/* Whether name, or the backend a spec "name:key=value,..." names, exists
 * (the settings themselves are checked when the cases create pools). */
static bool backend_known(const char *name)
{
    size_t n = strcspn(name, ":");
    const char *const *names = pb_backend_names();
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        if (strlen(names[i]) == n && strncmp(names[i], name, n) == 0)
            return true;
    }
    return false;
}

static void print_backends(FILE *out)
{
    const char *const *names = pb_backend_names();
    for (size_t i = 0; names != NULL && names[i] != NULL; i++)
        fprintf(out, "%s%s", i ? ", " : "", names[i]);
}

/* ---- Coverage: every backend has a conformance test ---- */

static int check_coverage(char **covered, int n)
{
    const char *const *names = pb_backend_names();
    int missing = 0, total = 0;
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        total++;
        bool found = false;
        for (int k = 0; k < n && !found; k++)
            found = strcmp(covered[k], names[i]) == 0;
        if (!found) {
            fprintf(stderr,
                    "conformance: backend \"%s\" has no conformance test; add it to "
                    "PB_CONFORMANCE_BACKENDS in tests/conformance/CMakeLists.txt\n",
                    names[i]);
            missing++;
        }
    }
    if (total == 0) {
        fprintf(stderr, "conformance: pb_backend_names() lists no backend at all\n");
        return 1;
    }
    printf("%d of %d backends (", total - missing, total);
    print_backends(stdout);
    printf(") have a conformance test\n");
    return missing ? 1 : 0;
}

/* ---- Running one case in a child ---- */

typedef enum { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_SKIP, OUTCOME_DEPART } outcome;

static void make_scratch(void)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(pbc__scratch, sizeof pbc__scratch, "%s/pbconf.XXXXXX", tmp);
    if (mkdtemp(pbc__scratch) == NULL) {
        fprintf(stderr, "conformance: cannot create a directory in %s: %s\n", tmp,
                strerror(errno));
        exit(1);
    }
}

static void remove_scratch(void)
{
    DIR *d = opendir(pbc__scratch);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[PATH_MAX + 256];
            snprintf(path, sizeof path, "%s/%s", pbc__scratch, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(pbc__scratch);
}

static void save_signal_actions(void)
{
    for (int s = 1; s < NSIG; s++)
        sigaction(s, NULL, &g_saved_actions[s]);
}

static void restore_signal_actions(void)
{
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &g_saved_actions[s], NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The pids (but pgid itself) of live processes in process group pgid, as a
 * list into buf; "" when there are none. */
static void group_members(pid_t pgid, char *buf, size_t size)
{
    buf[0] = '\0';
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end = NULL;
        long p = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || p == pgid)
            continue;
        char path[300], stat[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = '\0';
        /* "pid (comm) state ppid pgrp ...": comm may hold spaces and parens. */
        char *rp = strrchr(stat, ')');
        char state = 0;
        long ppid = 0, pgrp = 0;
        if (rp == NULL || sscanf(rp + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
            continue;
        if (pgrp != pgid || state == 'Z' || state == 'X')
            continue;
        int w = snprintf(buf + used, size - used, "%s%ld", used ? ", " : "", p);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
    closedir(d);
}

/* Reaps workers a case left behind (and that were killed with its group):
 * as the subreaper they are our children now. Bounded, in case one escaped
 * the group and is not dying. */
static void reap_orphans(void)
{
    for (int i = 0; i < 2000; i++) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return; /* ECHILD: none left */
        if (r == 0) {
            struct timespec nap = {0, 1000 * 1000};
            nanosleep(&nap, NULL);
        }
    }
}

static _Noreturn void child_main(const pbc_case *c, pid_t runner)
{
    setpgid(0, 0);
    /* In its own process group the child is out of reach of a Ctrl-C or of
     * ctest killing the runner at its timeout: die with the runner instead.
     * Worker processes it started notice their closed pipes once their
     * current task ends (a gate task gives up after two minutes). */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != runner)
        _exit(PBC_EXIT_FAIL);
    restore_signal_actions();
    c->fn(g_backend);
    fflush(NULL);
    /* exit, not _exit: library destructors and a leak sanitizer get their say. */
    exit(PBC_EXIT_PASS);
}

static outcome run_case(const pbc_case *c, char *why, size_t whysize, int limit_s)
{
    /* A case's own timeout is written for the default; a longer --timeout (a
     * sanitizer build, a slow pool) stretches it alike. */
    int64_t own = (int64_t)c->timeout_s * (g_timeout_s > DEFAULT_TIMEOUT_S ? g_timeout_s
                                                                            : DEFAULT_TIMEOUT_S) /
                  DEFAULT_TIMEOUT_S;
    int timeout_s = own > g_timeout_s ? (int)own : g_timeout_s;
    if (limit_s > 0) /* a documented hang: it only has to reach the step it hangs in */
        timeout_s = limit_s;
    memset(pbc__report, 0, sizeof *pbc__report);
    make_scratch();
    fflush(NULL);
    pid_t runner = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whysize, "fork: %s", strerror(errno));
        remove_scratch();
        return OUTCOME_FAIL;
    }
    if (pid == 0)
        child_main(c, runner);
    setpgid(pid, pid); /* also done by the child: whichever runs first wins */

    int64_t deadline = pb_now_ns() + (int64_t)timeout_s * 1000000000;
    bool timed_out = false, passed = false;
    for (unsigned i = 0;; i++) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        /* WNOWAIT: the zombie keeps its pid (and so its process group id)
         * until the group has been checked and killed below. */
        int rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
        if (rc == 0 && info.si_pid == pid) {
            passed = info.si_code == CLD_EXITED && info.si_status == PBC_EXIT_PASS;
            break;
        }
        if (rc != 0 && errno != EINTR) {
            snprintf(why, whysize, "waitid: %s", strerror(errno));
            break;
        }
        if (pb_now_ns() >= deadline) {
            timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            break;
        }
        struct timespec nap = {0, (i < 100 ? 1 : 10) * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    char left[256] = "";
    if (passed)
        group_members(pid, left, sizeof left);
    kill(-pid, SIGKILL); /* whatever the case left running in its group */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reap_orphans();
    remove_scratch();

    if (left[0] != '\0') {
        snprintf(why, whysize, "the case passed but left processes behind in its "
                 "process group (pids %s): a pool's workers outlived it", left);
        return OUTCOME_FAIL;
    }
    const char *msg = pbc__report->message;
    const char *step = pbc__report->step;
    if (timed_out) {
        snprintf(why, whysize, "timed out after %d s and was killed; last step: %s",
                 timeout_s, step[0] ? step : "(none recorded)");
        return OUTCOME_FAIL;
    }
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (code == PBC_EXIT_PASS)
            return OUTCOME_PASS;
        if (code == PBC_EXIT_SKIP) {
            snprintf(why, whysize, "%s", msg[0] ? msg : "(no reason given)");
            return OUTCOME_SKIP;
        }
        if (code == PBC_EXIT_FAIL && msg[0] != '\0')
            snprintf(why, whysize, "%s", msg);
        else
            snprintf(why, whysize,
                     "exited with status %d (see its output above)%s%s%s%s", code,
                     msg[0] ? ": " : "", msg, step[0] ? "; last step: " : "", step);
        return OUTCOME_FAIL;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whysize, "killed by signal %d (%s); last step: %s",
                 WTERMSIG(status), strsignal(WTERMSIG(status)),
                 step[0] ? step : "(none recorded)");
        return OUTCOME_FAIL;
    }
    snprintf(why, whysize, "ended with wait status 0x%x", status);
    return OUTCOME_FAIL;
}

static const char *outcome_name(outcome o)
{
    return o == OUTCOME_PASS     ? "pass"
           : o == OUTCOME_SKIP   ? "skip"
           : o == OUTCOME_DEPART ? "departs as documented"
                                 : "fail";
}

/* Holds a case's outcome to its row in the departures table, if it has one:
 * failing as documented is OUTCOME_DEPART (why becomes the row's reason);
 * anything else is a failure saying how the table and the case disagree. */
static outcome judge(const pbc_departure *d, outcome got, char *why, size_t whysize)
{
    if (d == NULL)
        return got;
    if (got == OUTCOME_FAIL && pbc_departure_matches(d, why)) {
        snprintf(why, whysize, "%s", d->because);
        return OUTCOME_DEPART;
    }
    char was[sizeof pbc__report->message + sizeof pbc__report->step + 512];
    snprintf(was, sizeof was, "%s", why);
    if (got == OUTCOME_FAIL)
        snprintf(why, whysize, "departs differently from its row in %.300s: it failed with "
                 "\"%.2500s\", the row says \"%.500s\"", g_departures_path, was, d->fails_with);
    else
        snprintf(why, whysize, "no longer departs as %.300s documents (\"%.500s\"): it %s%s%.2500s; "
                 "update the row", g_departures_path, d->fails_with,
                 got == OUTCOME_PASS ? "passed" : "was skipped", was[0] ? ": " : "", was);
    return OUTCOME_FAIL;
}

/* What each case came to, for the summary at the end. */
typedef struct verdict {
    const char *name;
    outcome got;
    char *why;
} verdict;
static verdict *g_verdicts;
static size_t g_nverdicts;

static void note_verdict(const pbc_case *c, outcome got, const char *why)
{
    verdict *v = realloc(g_verdicts, (g_nverdicts + 1) * sizeof *v);
    if (v == NULL)
        return;
    g_verdicts = v;
    g_verdicts[g_nverdicts++] = (verdict){c->name, got, strdup(why)};
}

static void print_summary(void)
{
    size_t count[4] = {0};
    for (size_t i = 0; i < g_nverdicts; i++)
        count[g_verdicts[i].got]++;
    printf("\nconformance.%s: %zu cases: %zu passed, %zu skipped, %zu depart as documented, "
           "%zu failed\n", g_backend, g_nverdicts, count[OUTCOME_PASS], count[OUTCOME_SKIP],
           count[OUTCOME_DEPART], count[OUTCOME_FAIL]);
    static const struct {
        outcome o;
        const char *label;
    } lists[] = {{OUTCOME_DEPART, "departs"}, {OUTCOME_SKIP, "skipped"}, {OUTCOME_FAIL, "FAILED"}};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++)
        for (size_t i = 0; i < g_nverdicts; i++)
            if (g_verdicts[i].got == lists[k].o)
                printf("  %-8s %s: %s\n", lists[k].label, g_verdicts[i].name,
                       g_verdicts[i].why ? g_verdicts[i].why : "");
    if (g_departures_path[0] && count[OUTCOME_DEPART])
        printf("  (the departures are documented in %s)\n", g_departures_path);
    fflush(stdout);
}

static void case_test(void **state)
{
    const pbc_case *c = *state;
    char why[sizeof pbc__report->message + sizeof pbc__report->step + 1024] = "";
    const pbc_departure *d = pbc_departure_find(c->name);
    int64_t start = pb_now_ns();
    outcome got = judge(d, run_case(c, why, sizeof why, d ? d->timeout_s : 0), why, sizeof why);
    double secs = (double)(pb_now_ns() - start) / 1e9;
    if (secs >= 1.0) /* keep slow cases visible: the suite must stay fast */
        print_message("[   TIME   ] %s: %.1f s\n", c->name, secs);
    note_verdict(c, got, why);
    if (g_self_test) {
        /* The runner's own test: the verdict must be the one declared. */
        outcome want = c->expect == PBC_EXPECT_FAIL     ? OUTCOME_FAIL
                       : c->expect == PBC_EXPECT_SKIP   ? OUTCOME_SKIP
                       : c->expect == PBC_EXPECT_DEPART ? OUTCOME_DEPART
                                                        : OUTCOME_PASS;
        if (got != want)
            fail_msg("%s: the runner's verdict is %s (%s), expected %s", c->name,
                     outcome_name(got), why, outcome_name(want));
        if (c->expect_text != NULL && strstr(why, c->expect_text) == NULL)
            fail_msg("%s: the runner's explanation \"%s\" does not contain \"%s\"",
                     c->name, why, c->expect_text);
        print_message("[  VERDICT ] %s: %s%s%s\n", c->name, outcome_name(got),
                      why[0] ? ": " : "", why);
        return;
    }
    switch (got) {
    case OUTCOME_PASS:
        return;
    case OUTCOME_DEPART:
        print_message("[  DEPARTS ] %s: %s\n", c->name, why);
        return;
    case OUTCOME_SKIP:
        print_message("[  SKIP    ] %s: %s\n", c->name, why);
        skip();
        return;
    case OUTCOME_FAIL:
        fail_msg("%s: %s", c->name, why);
        return;
    }
}

static int run_forked(pbc_case **cases, size_t n)
{
    pbc__report = mmap(NULL, sizeof *pbc__report, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pbc__report == MAP_FAILED) {
        fprintf(stderr, "conformance: mmap: %s\n", strerror(errno));
        return 1;
    }
    struct CMUnitTest *tests = calloc(n ? n : 1, sizeof *tests);
    if (tests == NULL) {
        fprintf(stderr, "conformance: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        tests[i].name = cases[i]->name;
        tests[i].test_func = case_test;
        tests[i].initial_state = cases[i];
    }
    char group[256];
    snprintf(group, sizeof group, "conformance.%s", g_backend);
    /* Orphaned workers of a case are reparented to us, to be reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    save_signal_actions();
    int failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    if (!g_self_test) /* the self-test prints each verdict instead */
        print_summary();
    free(tests);
    munmap(pbc__report, sizeof *pbc__report);
    return failed ? 1 : 0;
}

static int run_in_process(pbc_case **cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("case %s ...\n", cases[i]->name);
        fflush(stdout);
        make_scratch();
        cases[i]->fn(g_backend); /* a failure _exits with its message */
        remove_scratch();
        printf("case %s ok\n", cases[i]->name);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = pb_worker_main_if_requested(argc, argv);
    if (rc != 0) {
        fprintf(stderr, "conformance: pb_worker_main_if_requested: %s\n",
                pb_strerror(rc));
        return 1;
    }

    bool list = false;
    const char *departures = NULL; /* --departures: a table, or "none" */
    int timeout_given = 0; /* 1: --timeout given; -1: self-test default pending */
    g_globs = calloc((size_t)argc, sizeof *g_globs);
    if (g_globs == NULL)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--check-coverage") == 0) {
            return check_coverage(argv + i + 1, argc - i - 1);
        } else if (strcmp(a, "--list") == 0) {
            list = true;
        } else if (strcmp(a, "--no-fork") == 0) {
            g_no_fork = true;
        } else if (strcmp(a, "--slow") == 0) {
            g_slow = true;
        } else if (strcmp(a, "--self-test") == 0) {
            g_self_test = true;
            timeout_given = timeout_given ? timeout_given : -1;
        } else if (strcmp(a, "--backend") == 0 || strcmp(a, "--case") == 0 ||
                   strcmp(a, "--load") == 0 || strcmp(a, "--timeout") == 0 ||
                   strcmp(a, "--departures") == 0) {
            if (i + 1 >= argc)
                usage_error("%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--backend") == 0) {
                g_backend = v;
            } else if (strcmp(a, "--departures") == 0) {
                departures = v;
            } else if (strcmp(a, "--case") == 0) {
                g_globs[g_nglobs++] = v;
            } else if (strcmp(a, "--load") == 0) {
                if (dlopen(v, RTLD_NOW | RTLD_GLOBAL) == NULL)
                    usage_error("--load %s: %s", v, dlerror());
            } else {
                char *end = NULL;
                errno = 0;
                long t = strtol(v, &end, 10);
                if (errno != 0 || end == v || *end != '\0' || t < 1 || t > 86400)
                    usage_error("--timeout %s: expected whole seconds, 1 to 86400", v);
                g_timeout_s = (int)t;
                timeout_given = 1;
            }
        } else {
            usage_error("unknown argument \"%s\"", a);
        }
    }

    if (timeout_given == -1)
        g_timeout_s = 2; /* the self-test's hang needs no longer */
    if (g_self_test && g_no_fork)
        usage_error("--self-test needs the forking runner; drop --no-fork");

    size_t all = 0;
    pbc_case **cases = pbc_cases(&all);
    pbc_case **chosen = calloc(all ? all : 1, sizeof *chosen);
    if (chosen == NULL)
        return 1;
    size_t n = 0;
    for (size_t i = 0; i < all; i++) {
        if (selected(cases[i]))
            chosen[n++] = cases[i];
    }
    if (n == 0)
        usage_error("no case matches the --case patterns given");

    if (list) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", chosen[i]->name);
        free(chosen);
        free(g_globs);
        return 0;
    }
    if (g_backend == NULL)
        usage_error("--backend NAME is required");
    if (!backend_known(g_backend)) {
        fprintf(stderr, "conformance: --backend %s: no such backend in this build (have: ",
                g_backend);
        print_backends(stderr);
        fprintf(stderr, ")\n");
        free(chosen);
        return 2;
    }
    /* The backend's documented departures: departures/<backend>.md (the
     * self-test's own table with --self-test) unless --departures says. */
    if (departures == NULL) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.md", PBC_DEPARTURES_DIR,
                 g_self_test ? "selftest" : g_backend);
        if (access(path, R_OK) == 0)
            snprintf(g_departures_path, sizeof g_departures_path, "%s", path);
    } else if (strcmp(departures, "none") != 0) {
        snprintf(g_departures_path, sizeof g_departures_path, "%s", departures);
    }
    char err[PATH_MAX + 256];
    if (g_departures_path[0] && pbc_departures_load(g_departures_path, err, sizeof err) != 0) {
        fprintf(stderr, "conformance: --departures: %s\n", err);
        free(chosen);
        return 2;
    }
    /* The Python twins of the suite's tasks, for the py-* backends. */
    const char *twins = getenv("POOLBENCH_PYTHON_TWINS");
    if (twins == NULL || strstr(twins, PBC_PYTHON_TWINS) == NULL) {
        char both[2 * PATH_MAX + 2];
        snprintf(both, sizeof both, "%s%s%s", twins ? twins : "", twins && *twins ? ":" : "",
                 PBC_PYTHON_TWINS);
        setenv("POOLBENCH_PYTHON_TWINS", both, 1);
    }
    rc = g_no_fork ? run_in_process(chosen, n) : run_forked(chosen, n);
    free(chosen);
    free(g_globs);
    return rc;
}
