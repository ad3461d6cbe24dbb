/*
 * run.c — `poolbench run`: the command line, the suite, signals, and where
 * the results go. The measuring is runner.c's.
 *
 * Everything that can be wrong with the request is checked before the first
 * measurement — options, the suite, backend and scenario names, plugins, the
 * pin policy (by creating one pool per backend), and whether the results
 * file can be written where asked — so a mistake costs a second, not a run.
 *
 * Exit status: 0 every check passed; 1 a check failed or a case failed;
 * 2 bad usage or input (nothing is measured); 130 interrupted (the cases
 * finished so far are written, with run.complete = false).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pb/backend.h>

#include "cli.h"
#include "commands.h"
#include "runner.h"
#include "suite.h"

#ifndef PB_RESULTS_DEFAULT_DIR
#define PB_RESULTS_DEFAULT_DIR "results/runs"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: poolbench run [OPTIONS]\n"
            "\n"
            "Runs a suite of scenarios over pool backends, next to this machine's floor,\n"
            "prints a summary table and writes a results file (JSON).\n"
            "\n"
            "  --suite NAME|FILE   the suite to run (default: quick); a name is looked up\n"
            "                      in the suite folders (poolbench list shows them)\n"
            "  --backend LIST      comma-separated backends (default: the suite's, or all)\n"
            "  --scenario LIST     only these scenarios: the suite's entries for them, or\n"
            "                      their defaults when the suite has none\n"
            "  --workers N         workers per pool (0: one per usable CPU; default 0)\n"
            "  --pin POLICY        none, compact, scatter, or a CPU list like 0,2-3\n"
            "                      (default: none)\n"
            "  --repetitions N     measured repetitions per case (default: the suite's)\n"
            "  --warmup N          warm-up repetitions per case, discarded (default: the suite's)\n"
            "  --out FILE          where to write the results (default:\n"
            "                      " PB_RESULTS_DEFAULT_DIR "/<UTC time>-<suite>.json)\n"
            "  --quiet             no progress on stderr\n"
            "  --load PLUGIN.so    load a shared object that registers backends (repeatable)\n"
            "  --help              this help\n"
            "\n"
            "Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or input,\n"
            "130 interrupted (finished cases are written, marked incomplete).\n");
}

static void on_signal(int sig)
{
    (void)sig;
    pbh_stop = 1;
}

/* mkdir -p. Returns 0 or -errno. */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -errno;
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* Whether the folder that will hold path exists and is writable. */
static int check_out_dir(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--out %.400s: folder '%.400s' does not exist", path, dir);
        return -1;
    }
    if (access(dir, W_OK) != 0) {
        snprintf(err, errlen, "--out %.400s: folder '%.400s' is not writable", path, dir);
        return -1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--out %.400s: is a folder, not a file", path);
        return -1;
    }
    return 0;
}

static char *join_command(int argc, char **argv)
{
    size_t len = strlen("poolbench") + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "poolbench");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

/* results/runs/20261121T080000Z-quick.json */
static void default_out(const char *suite, char *buf, size_t size)
{
    char base[128] = "";
    const char *b = strrchr(suite, '/');
    b = b ? b + 1 : suite;
    size_t k = 0;
    for (; *b && k + 1 < sizeof base; b++) {
        if (!strcmp(b, ".json"))
            break;
        char c = *b;
        base[k++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_'
                        ? c
                        : '_';
    }
    base[k] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, size, "%s/%s-%s.json", PB_RESULTS_DEFAULT_DIR, stamp, *base ? base : "run");
}

int pb_cmd_run(int argc, char **argv)
{
    const char *suite_arg = NULL, *backend_arg = NULL, *scenario_arg = NULL, *pin = NULL,
               *out_arg = NULL;
    int workers = -1, reps = -1, warmup = -1;
    bool quiet = false;

    for (int i = 1; i < argc; i++) {
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = true;
            continue;
        }
        /* Each helper returns 1 for its option (value taken), 0 for another
         * argument, -1 with the message printed. */
        if ((m = pbh_opt_value("run", argc, argv, &i, "--suite", &suite_arg)) ||
            (m = pbh_opt_value("run", argc, argv, &i, "--backend", &backend_arg)) ||
            (m = pbh_opt_value("run", argc, argv, &i, "--scenario", &scenario_arg)) ||
            (m = pbh_opt_value("run", argc, argv, &i, "--pin", &pin)) ||
            (m = pbh_opt_value("run", argc, argv, &i, "--out", &out_arg)) ||
            (m = pbh_opt_int("run", argc, argv, &i, "--workers", 0, 4096, &workers)) ||
            (m = pbh_opt_int("run", argc, argv, &i, "--repetitions", 1, 1000000, &reps)) ||
            (m = pbh_opt_int("run", argc, argv, &i, "--warmup", 0, 1000000, &warmup)) ||
            (m = pbh_opt_load("run", argc, argv, &i))) {
            if (m < 0)
                return 2;
            continue;
        }
        if (argv[i][0] == '-')
            fprintf(stderr, "poolbench run: unknown option '%s' (try poolbench run --help)\n", argv[i]);
        else
            fprintf(stderr, "poolbench run: unexpected argument '%s' (try poolbench run --help)\n",
                    argv[i]);
        return 2;
    }
    if (pin && !*pin) {
        fprintf(stderr, "poolbench run: --pin: empty policy (none, compact, scatter or a CPU list)\n");
        return 2;
    }

    char err[1024];
    int status = 2;
    pbh_suite *suite = NULL;
    char **backends = NULL, **only = NULL;
    int nbackends = 0, nonly = 0;
    pbh_plan plan = {0};
    json_t *doc = NULL;
    char *command = NULL;
    char not_here[2048] = ""; /* notes on backends left out that run elsewhere */

    if (pbh_suite_load(suite_arg ? suite_arg : "quick", &suite, err, sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        goto out;
    }
    if (pbh_suite_check_backends(suite, err, sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        goto out;
    }

    /* Backends: --backend, else the suite's, else every one registered. */
    const char *const *known = pb_backend_names();
    bool every = false; /* not named: every backend registered */
    if (backend_arg && strcmp(backend_arg, "all")) {
        if (!(backends = pbh_split_list("run", "--backend", backend_arg, &nbackends)))
            goto out;
        for (int i = 0; i < nbackends; i++) {
            bool found = false;
            for (const char *const *k = known; k && *k; k++)
                found |= pbh_backend_is(*k, backends[i]);
            for (int j = 0; j < i; j++)
                if (!strcmp(backends[j], backends[i])) {
                    fprintf(stderr, "poolbench run: --backend: '%s' named twice\n", backends[i]);
                    goto out;
                }
            if (!found) {
                char list[256] = "";
                for (const char *const *k = known; k && *k; k++) {
                    size_t used = strlen(list);
                    snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *k);
                }
                fprintf(stderr, "poolbench run: --backend: unknown backend '%s' (known: %s)\n",
                        backends[i], list);
                goto out;
            }
        }
    } else if (!backend_arg && suite->nbackends) {
        nbackends = (int)suite->nbackends;
        backends = calloc((size_t)nbackends + 1, sizeof *backends);
        if (!backends)
            goto nomem;
        for (int i = 0; i < nbackends; i++)
            backends[i] = suite->backends[i];
    } else {
        every = true;
        for (const char *const *k = known; k && *k; k++)
            nbackends++;
        backends = calloc((size_t)nbackends + 1, sizeof *backends);
        if (!backends)
            goto nomem;
        for (int i = 0; i < nbackends; i++)
            backends[i] = (char *)known[i];
    }
    /* A module backend (glib, libuv) that cannot be loaded: an error when
     * asked for by name, a note when it was only part of every one. One
     * that cannot run in this process (mpi outside mpiexec) is an error when
     * named too; left out of every one, it is noted once the run is done
     * (it is not a fault of this run, and the note must not read as one). */
    for (int i = 0; i < nbackends;) {
        if (pb_backend_summary(backends[i])) {
            i++;
            continue;
        }
        bool elsewhere = every && pb_backend_find(backends[i]);
        if (elsewhere) {
            size_t used = strlen(not_here);
            snprintf(not_here + used, sizeof not_here - used, "poolbench run: left out: %s\n",
                     pb_pool_last_error());
        } else {
            fprintf(stderr, "poolbench run: %s%s\n", every ? "left out: " : "", pb_pool_last_error());
        }
        if (!every)
            goto out;
        memmove(&backends[i], &backends[i + 1], (size_t)(nbackends - i) * sizeof *backends);
        nbackends--;
    }
    if (nbackends == 0) {
        fprintf(stderr, "poolbench run: no backend to run (none is registered)\n");
        goto out;
    }

    if (scenario_arg && !(only = pbh_split_list("run", "--scenario", scenario_arg, &nonly)))
        goto out;
    if (pbh_plan_build(suite, (const char *const *)only, (size_t)nonly, &plan, err, sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        goto out;
    }

    /* Where the results go, checked now rather than after the run. */
    char out_path[PATH_MAX];
    if (out_arg) {
        if (!*out_arg) {
            fprintf(stderr, "poolbench run: --out: empty file name\n");
            goto out;
        }
        snprintf(out_path, sizeof out_path, "%s", out_arg);
    } else {
        int rc = make_dirs(PB_RESULTS_DEFAULT_DIR);
        if (rc) {
            fprintf(stderr, "poolbench run: cannot create %s: %s (use --out FILE)\n",
                    PB_RESULTS_DEFAULT_DIR, strerror(-rc));
            goto out;
        }
        default_out(suite->name, out_path, sizeof out_path);
    }
    if (check_out_dir(out_path, err, sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        goto out;
    }

    if (!(command = join_command(argc, argv)))
        goto nomem;
    pbh_config cfg = {
        .backends = (const char *const *)backends,
        .nbackends = (size_t)nbackends,
        .plan = &plan,
        .repetitions = reps >= 0 ? reps : suite->repetitions,
        .warmup = warmup >= 0 ? warmup : suite->warmup,
        .workers = workers >= 0 ? workers : suite->workers >= 0 ? suite->workers : 0,
        .pin = pin ? pin : suite->pin ? suite->pin : "none",
        .quiet = quiet,
        .suite = suite->name,
        .command = command,
    };

    /* Ctrl-C or SIGTERM: finish the current measurement, write what is
     * done. SA_RESETHAND: a second Ctrl-C ends the program at once. */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    pbh_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    pbh_outcome outcome;
    int rc = pbh_execute(&cfg, &doc, &outcome, err, sizeof err);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc) {
        fprintf(stderr, "poolbench run: %s\n", err);
        goto out;
    }

    if (!quiet && outcome.interrupted)
        fprintf(stderr, "poolbench run: interrupted; writing the %zu finished cases\n",
                outcome.cases_written);
    pbh_print_summary(stdout, doc);
    fflush(stdout);
    if (pbr_write_atomic(out_path, doc, err, sizeof err) != 0) {
        fprintf(stderr, "poolbench run: %s\n", err);
        status = 2;
        goto out;
    }
    printf("results: %s%s\n", out_path, outcome.interrupted ? " (incomplete: interrupted)" : "");
    if (!quiet && not_here[0]) {
        fflush(stdout);
        fputs(not_here, stderr);
    }
    status = outcome.interrupted ? 130 : outcome.cases_failed ? 1 : 0;
    goto out;

nomem:
    fprintf(stderr, "poolbench run: out of memory\n");
    status = 2;
out:
    json_decref(doc);
    free(command);
    pbh_plan_free(&plan);
    free(only);
    free(backends);
    pbh_suite_free(suite);
    return status;
}
