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
 *
 * NOTHING MEASURED IS LOST
 *
 * The results file is rewritten, atomically (pbr_write_atomic), after every
 * finished case, marked incomplete until the last write. So whatever ends
 * the program — a signal it handles, SIGKILL, a power cut — the file on disk
 * holds every case finished before it, and is never half written.
 *
 * Signals (signals.c). SIGINT, SIGTERM and SIGHUP ask the run to stop: the
 * current repetition is finished or cut short, the unfinished case
 * discarded, the file written once more (incomplete), the summary printed,
 * exit 130. Several at once are one request; one that insists, a second or
 * more later, ends the program at once (status 130), after the write under
 * way if there is one.
 *
 * Interruption is prompt however long the suite's durations: the first
 * SIGINT or SIGTERM sets pbh_stop, which scenarios poll between waits, and
 * interrupts the workloads (bench/workloads.h), so a task asked to spin or
 * sleep for an hour — in a thread, a forked or an exec'd worker — ends
 * within a slice and every wait on it returns.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "runner.h"
#include "signals.h"
#include "suite.h"
#include "workloads.h"

/* Where results go by default: results/runs/ under the current folder
 * (`make run` in the source tree writes there too), wherever the program
 * is installed. */
#define PB_RESULTS_DEFAULT_DIR "results/runs"

/* The runner's on_case hook: the results so far, on disk. */
static int write_partial(void *ud, const json_t *doc, char *err, size_t errlen)
{
    return pbh_write_results(ud, doc, err, errlen) < 0 ? PB_EINVAL : 0;
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

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

typedef struct run_cli {
    const char *suite, *backend, *scenario, *pin, *out, *host;
    int workers, repetitions, warmup; /* -1: the suite's */
    bool quiet;
    int plugins;
} run_cli;

static const run_cli run_defaults = {.suite = "quick", .workers = -1, .repetitions = -1,
                                     .warmup = -1};

static const pbr_option run_options[] = {
    {.name = "suite", PBR_STRING(run_cli, suite), .arg = "NAME|FILE",
     .expect = "a suite name or file",
     .help = "the suite to run (default: quick); a name is looked up\n"
             "in the suite folders (poolbench list shows them)"},
    {.name = "backend", PBR_STRING(run_cli, backend), .arg = "LIST",
     .help = "comma-separated backends (default: the suite's, or all)"},
    {.name = "scenario", PBR_STRING(run_cli, scenario), .arg = "LIST",
     .help = "only these scenarios: the suite's entries for them, or\n"
             "their defaults when the suite has none"},
    {.name = "workers", PBR_INT(run_cli, workers, 0, 4096), .arg = "N",
     .help = "workers per pool (0: one per usable CPU; default 0)"},
    {.name = "pin", PBR_STRING(run_cli, pin), .arg = "POLICY",
     .expect = "none, compact, scatter or a CPU list",
     .help = "none, compact, scatter, or a CPU list like 0,2-3\n(default: none)"},
    {.name = "repetitions", PBR_INT(run_cli, repetitions, 1, 1000000), .arg = "N",
     .help = "measured repetitions per case (default: the suite's)"},
    {.name = "warmup", PBR_INT(run_cli, warmup, 0, 1000000), .arg = "N",
     .help = "warm-up repetitions per case, discarded (default: the suite's)"},
    {.name = "out", .key = 'o', PBR_STRING(run_cli, out), .arg = "FILE", .expect = "a file name",
     .help = "where to write the results: a new path or a regular file\n"
             "(- for standard output; default, under the current folder:\n"
             PB_RESULTS_DEFAULT_DIR "/<UTC time>-<suite>.json)"},
    {.name = "host", PBR_STRING(run_cli, host), .arg = "NAME", .expect = "a host name",
     .help = "the name this machine goes by in the results (default: its\n"
             "hostname): a runner of a CI matrix (poolbench merge)"},
    {.name = "quiet", .key = 'q', PBR_FLAG(run_cli, quiet), .help = "no progress on stderr"},
    PBH_LOAD_OPTION(run_cli),
    {0},
};

static int run_run(const pbr_args *a);

const pbr_command pbh_run_command = {
    .name = "run",
    .summary = "run a suite of scenarios over backends and write a results file",
    .synopsis = "[OPTIONS]",
    .about = "Runs a suite of scenarios over pool backends, next to this machine's floor,\n"
             "prints a summary table and writes a results file (JSON).",
    .epilogue = "Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or input,\n"
                "130 interrupted (finished cases are written, marked incomplete).",
    .options = run_options,
    .opts_size = sizeof(run_cli),
    .defaults = &run_defaults,
    .run = run_run,
};

/* One `poolbench run`: what it measures, and where the results go. */
typedef struct run_job {
    pbh_suite *suite;
    char **backends, **only;
    int nbackends, nonly;
    pbh_plan plan;
    char out_path[PATH_MAX];
    char *command;
    json_t *doc;
    char not_here[2048]; /* backends left out that run elsewhere, told at the end */
} run_job;

static void job_free(run_job *j)
{
    json_decref(j->doc);
    free(j->command);
    pbh_plan_free(&j->plan);
    free(j->only);
    free(j->backends);
    pbh_suite_free(j->suite);
}

/* The suite, and the backends and cases it comes to with the options.
 * 0, or 2 (told). */
static int plan_run(run_job *j, const run_cli *cli)
{
    char err[1024];
    if (pbh_suite_load(cli->suite, &j->suite, err, sizeof err) ||
        pbh_suite_check_backends(j->suite, err, sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        return 2;
    }
    j->backends = pbh_choose_backends("run", cli->backend, j->suite->backends, j->suite->nbackends,
                                      j->not_here, sizeof j->not_here, &j->nbackends);
    if (!j->backends)
        return 2;
    if (cli->scenario && !(j->only = pbh_split_list("run", "--scenario", cli->scenario, &j->nonly)))
        return 2;
    if (pbh_plan_build(j->suite, (const char *const *)j->only, (size_t)j->nonly, &j->plan, err,
                       sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        return 2;
    }
    return 0;
}

/* Where the results go, checked now rather than after the run. 0, or 2
 * (told). */
static int choose_out(run_job *j, const run_cli *cli)
{
    char err[1024];
    if (cli->out) {
        snprintf(j->out_path, sizeof j->out_path, "%s", cli->out);
    } else {
        int rc = make_dirs(PB_RESULTS_DEFAULT_DIR);
        if (rc) {
            fprintf(stderr, "poolbench run: cannot create %s: %s (use --out FILE)\n",
                    PB_RESULTS_DEFAULT_DIR, strerror(-rc));
            return 2;
        }
        default_out(j->suite->name, j->out_path, sizeof j->out_path);
    }
    /* Never over the suite it runs, a device, or anything but a results
     * file (results/files.c). */
    pbr_input suite = {j->suite->path, "the suite file"};
    char given[PATH_MAX];
    snprintf(given, sizeof given, "%s", j->out_path);
    if (pbr_out_check(cli->out ? "--out" : "results file", given, &suite, *j->suite->path ? 1 : 0,
                      j->out_path, sizeof j->out_path, err, sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        return 2;
    }
    return 0;
}

/* Measures, writing the results after every finished case. 0, or 2
 * (told). */
static int measure(run_job *j, const run_cli *cli, const pbr_args *a, pbh_outcome *outcome)
{
    if (!(j->command = pbh_join_args(a->argc, a->argv))) {
        fprintf(stderr, "poolbench run: out of memory\n");
        return 2;
    }
    const pbh_suite *s = j->suite;
    int reps = cli->repetitions >= 0 ? cli->repetitions : s->repetitions;
    char err[1024];
    if (pbh_plan_check_kept(&j->plan, s, reps, cli->repetitions >= 0 ? "--repetitions" : NULL,
                            err, sizeof err)) {
        fprintf(stderr, "poolbench run: %s\n", err);
        return 2;
    }
    pbh_config cfg = {
        .backends = (const char *const *)j->backends,
        .nbackends = (size_t)j->nbackends,
        .plan = &j->plan,
        .repetitions = reps,
        .warmup = cli->warmup >= 0 ? cli->warmup : s->warmup,
        .workers = cli->workers >= 0 ? cli->workers : s->workers >= 0 ? s->workers : 0,
        .pin = cli->pin ? cli->pin : s->pin ? s->pin : "none",
        .quiet = cli->quiet,
        .suite = s->name,
        .command = j->command,
        .host = cli->host,
        /* Standard output takes the file once, at the end. */
        .on_case = strcmp(j->out_path, "-") ? write_partial : NULL,
        .on_case_ud = j->out_path,
    };
    /* The stop flag (reset by pbh_signals_catch()) goes into shared memory
     * before any pool exists, so workers in other processes see it. */
    int src = pb_workloads_share_stop();
    if (src < 0 && !cli->quiet)
        fprintf(stderr, "poolbench run: note: tasks in worker processes will not see an "
                        "interruption: %s\n", strerror(-src));
    int rc = pbh_execute(&cfg, &j->doc, outcome, err, sizeof err);
    if (rc) {
        fprintf(stderr, "poolbench run: %s\n", err);
        return 2;
    }
    return 0;
}

/* The summary, then the results file, written the last time. Returns the
 * exit status. */
static int report(run_job *j, const run_cli *cli, const pbh_outcome *outcome)
{
    if (!cli->quiet && outcome->interrupted)
        fprintf(stderr, "poolbench run: interrupted; writing the %zu finished cases\n",
                outcome->cases_written);
    /* With --out -, standard output is the results file's alone. */
    bool to_stdout = !strcmp(j->out_path, "-");
    pbh_print_summary(to_stdout ? stderr : stdout, j->doc);
    fflush(stdout);
    char err[1024];
    if (pbh_write_results(j->out_path, j->doc, err, sizeof err) != 0) {
        fprintf(stderr, "poolbench run: %s\n", err);
        return 2;
    }
    if (!to_stdout)
        printf("results: %s%s\n", j->out_path,
               outcome->interrupted ? " (incomplete: interrupted)" : "");
    if (!cli->quiet && j->not_here[0]) {
        fflush(stdout);
        fputs(j->not_here, stderr);
    }
    return outcome->interrupted ? 130 : outcome->cases_failed ? 1 : 0;
}

static int run_run(const pbr_args *a)
{
    const run_cli *cli = a->opts;
    run_job j = {0};
    pbh_outcome outcome;
    int status = plan_run(&j, cli);
    if (status == 0)
        status = choose_out(&j, cli);
    if (status == 0) {
        pbh_signals_saved saved;
        pbh_signals_catch(&saved);
        status = measure(&j, cli, a, &outcome);
        if (status == 0)
            status = report(&j, cli, &outcome);
        pbh_signals_restore(&saved);
    }
    job_free(&j);
    return status;
}
