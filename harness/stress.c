/*
 * stress.c — `poolbench stress`: randomized load and fault injection with
 * invariant checks, on one or more backends (the engine is stress/, stress.h).
 *
 * Prints the seed first, so any run can be replayed; prints each violation
 * as it is found (seed, thread, operation, what was expected); writes the
 * results document (run.kind "stress", one case per backend) when --out is
 * given; where it goes is checked before anything runs. Exit status: 0 no
 * violation, 1 a violation (or a backend that could not be stress-tested, or
 * a hang found by the watchdog), 2 bad arguments or a report that could not
 * be written, 130 interrupted.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <pb/pool.h>

#include "cli.h"
#include "commands.h"
#include "results.h"
#include "runner.h"
#include "signals.h"
#include "stress.h"

#define CMD "stress"

static bool stop_requested(void *ud)
{
    (void)ud;
    return pbh_stop != 0;
}

/* What the watchdog's last report goes into. */
typedef struct doc_ctx {
    json_t *doc;
    const char *out;
    double started_unix;
} doc_ctx;

static json_t *document_new(const char *command, int workers, const struct timespec *started)
{
    pbr_run_info info = {.kind = "stress", .command = command, .suite = "",
                         .started_unix = started->tv_sec + started->tv_nsec / 1e9,
                         .repetitions = 1, .workers = workers, .pin = "none"};
    return pbr_document_new(pbr_run_new(&info), pbr_environment_new());
}

static int write_doc(json_t *doc, const char *path, double duration, bool complete)
{
    json_t *run = json_object_get(doc, "run");
    json_object_set_new(run, "duration_s", json_real(duration));
    json_object_set_new(run, "complete", json_boolean(complete));
    char err[512];
    if (pbh_write_results(path, doc, err, sizeof err) != 0) {
        fprintf(stderr, "poolbench " CMD ": %s\n", err);
        return -1;
    }
    return 0;
}

static void on_hang(void *ud, json_t *case_json)
{
    doc_ctx *d = ud;
    if (!d->out || !d->doc)
        return;
    json_array_append(json_object_get(d->doc, "results"), case_json);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = ts.tv_sec + ts.tv_nsec / 1e9;
    if (write_doc(d->doc, d->out, now - d->started_unix, false) == 0)
        fprintf(stderr, "poolbench " CMD ": wrote %s (incomplete: the run hung)\n", d->out);
}

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

typedef struct stress_cli {
    const char *backend, *out;
    double duration, fault_rate, watchdog;
    uint64_t seed, ops;
    int workers, threads, tolerance_ms, plugins;
    unsigned faults;
    bool quiet;
} stress_cli;

#define NO_SEED UINT64_MAX /* not given: drawn at random */

static const stress_cli stress_defaults = {
    .duration = 10, .fault_rate = 1, .watchdog = 90, .seed = NO_SEED, .threads = 4,
    .tolerance_ms = 200, .faults = PBS_FAULT_ALL};

static int read_faults(const char *value, void *field, char *err, size_t errlen)
{
    return pbs_stress_parse_faults(value, field, err, errlen);
}

static const pbr_option stress_options[] = {
    {.name = "backend", PBR_STRING(stress_cli, backend), .arg = "LIST",
     .help = "backends to stress, comma-separated (default: all)"},
    {.name = "duration", PBR_REAL(stress_cli, duration, 0, 7 * 24 * 3600.0), .above = true,
     .arg = "S", .expect = "a number of seconds", .help = "seconds per backend (default 10)"},
    /* JSON numbers are doubles to most readers: seeds stay below 2^53. */
    {.name = "seed", PBR_U64(stress_cli, seed, 0, (double)((1ull << 53) - 1)), .arg = "N",
     .help = "seed of the schedule (default: random, printed); the same\n"
             "seed replays the same operations in each submitter thread"},
    {.name = "workers", PBR_INT(stress_cli, workers, 0, 1024), .arg = "N",
     .help = "pool workers (default 0: one per CPU)"},
    {.name = "threads", PBR_INT(stress_cli, threads, 1, 64), .arg = "N",
     .help = "submitter threads (default 4)"},
    {.name = "ops", PBR_U64(stress_cli, ops, 0, (double)(1ull << 40)), .arg = "N",
     .help = "stop each submitter after N operations (default: no limit)"},
    {.name = "faults", PBR_CALL(stress_cli, faults, read_faults), .arg = "LIST",
     .help = "fail, segv, abort, exit (crash = all three), kill, hang,\n"
             "recycle; all (default) or none. Backends whose tasks run in\n"
             "this process get only fail and recycle."},
    {.name = "fault-rate", PBR_REAL(stress_cli, fault_rate, 0.1, 100), .arg = "X",
     .help = "make failing, crashing and hanging tasks X times as frequent\n(default 1; 0.1 to 100)"},
    {.name = "out", .key = 'o', PBR_STRING(stress_cli, out), .arg = "FILE",
     .expect = "a file name",
     .help = "write the results document (run.kind \"stress\") to FILE:\n"
             "a new path or a regular file (- for standard output)"},
    {.name = "tolerance", PBR_INT(stress_cli, tolerance_ms, 1, 3600000), .arg = "MS",
     .help = "how late a wait may return past its deadline or the\n"
             "completion it waited for (default 200, plus 50% of the timeout)"},
    {.name = "watchdog", PBR_REAL(stress_cli, watchdog, 0, 24 * 3600.0), .above = true,
     .arg = "S", .expect = "a number of seconds",
     .help = "an operation not done after S seconds is a hang (default 90)"},
    PBH_LOAD_OPTION(stress_cli),
    {.name = "quiet", .key = 'q', PBR_FLAG(stress_cli, quiet),
     .help = "print only violations and the verdict"},
    {0},
};

static int run_stress(const pbr_args *a);

const pbr_command pbh_stress_command = {
    .name = "stress",
    .summary = "randomized load and fault injection with invariant checks",
    .synopsis = "[--backend LIST] [--duration S] [--seed N] [--workers N]\n"
                "                        [--threads N] [--ops N] [--faults LIST] [--out FILE]\n"
                "                        [--fault-rate X] [--tolerance MS] [--watchdog S]\n"
                "                        [--load PLUGIN.so]... [--quiet]",
    .about =
        "Drives each backend's pool with a random mix of operations from several threads\n"
        "— submits of checksummed payloads, maps with random chunk sizes, wait and\n"
        "as_completed over random subsets, results with short timeouts, cancels,\n"
        "done-callbacks, failing tasks — and, where workers are processes, injects\n"
        "faults: crashes, kills from outside, hangs past task_timeout, recycling. Then it\n"
        "shuts the pool down and destroys it, and checks that every future was done\n"
        "exactly once with the right result, that only injected faults failed anything,\n"
        "that callbacks ran once, that waits kept their deadlines, and that no thread,\n"
        "child process, zombie or fd was left and memory came back. A hung operation\n"
        "ends the run with a report of what was waiting (and the stacks, with gdb).",
    .epilogue = "Exit status: 0 no violation, 1 violations (or a hang), 2 bad arguments (or\n"
                "the report could not be written), 130 interrupted.",
    .options = stress_options,
    .opts_size = sizeof(stress_cli),
    .defaults = &stress_defaults,
    .run = run_stress,
};

/* The engine's options from the command line's. */
static void engine_opts(const stress_cli *cli, uint64_t seed, const char *command,
                        doc_ctx *dc, pbs_stress_opts *o)
{
    pbs_stress_opts_init(o);
    o->duration_s = cli->duration;
    o->seed = seed;
    o->workers = cli->workers;
    o->threads = cli->threads;
    o->ops = cli->ops;
    o->faults = cli->faults;
    o->fault_rate = cli->fault_rate;
    o->tolerance = (int64_t)cli->tolerance_ms * 1000000;
    o->watchdog = (int64_t)(cli->watchdog * 1e9);
    o->quiet = cli->quiet;
    o->command = command;
    o->on_hang = on_hang;
    o->on_hang_ud = dc;
    o->stop_requested = stop_requested;
}

/* The seed: the one given, else a random one short enough to type back. */
static uint64_t choose_seed(const stress_cli *cli)
{
    if (cli->seed != NO_SEED)
        return cli->seed;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return r % 1000000000ull;
}

/* Stresses each backend in turn until one is interrupted; adds each case
 * to dc's document. Counts violations and backends that could not be
 * stress-tested. */
static void stress_all(char **names, int n, pbs_stress_opts *o, doc_ctx *dc,
                       uint64_t *violations, int *failed_backends)
{
    for (int i = 0; i < n && !pbh_stop; i++) {
        o->backend = names[i];
        pbs_stress_result res;
        char err[512];
        int rc = pbs_stress_run(o, &res, err, sizeof err);
        if (rc == PB_ENOTSUP) /* cannot run it at all, said why: skipped, not failed */
            fprintf(stderr, "poolbench " CMD ": %s: skipped: %s\n", names[i], err);
        else if (rc != 0) {
            fprintf(stderr, "poolbench " CMD ": %s: not stress-tested: %s\n", names[i], err);
            ++*failed_backends;
        }
        *violations += res.violations;
        if (dc->doc && res.case_json) {
            json_array_append(json_object_get(dc->doc, "results"), res.case_json);
            /* What is finished is on disk, whatever ends the run (standard
             * output takes the report once, at the end). */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            if (strcmp(dc->out, "-"))
                write_doc(dc->doc, dc->out, ts.tv_sec + ts.tv_nsec / 1e9 - dc->started_unix,
                          false);
        }
        json_decref(res.case_json);
    }
}

/* The verdict line; returns the exit status. */
static int verdict(uint64_t violations, int failed_backends, uint64_t seed)
{
    if (violations)
        fprintf(stderr,
                "poolbench stress: FAILED: %llu violation%s (seed %llu; replay with --seed %llu)\n",
                (unsigned long long)violations, violations == 1 ? "" : "s",
                (unsigned long long)seed, (unsigned long long)seed);
    else if (failed_backends)
        fprintf(stderr, "poolbench stress: FAILED: %d backend%s could not be stress-tested\n",
                failed_backends, failed_backends == 1 ? "" : "s");
    else if (!pbh_stop)
        fprintf(stderr, "poolbench stress: passed (seed %llu)\n", (unsigned long long)seed);
    return pbh_stop ? 130 : (violations || failed_backends) ? 1 : 0;
}

static int run_stress(const pbr_args *a)
{
    const stress_cli *cli = a->opts;
    int n = 0;
    /* Backends left out of every one are told of after the run (or not at
     * all when nothing runs), so that a refusal stays one line. */
    char later[2048];
    char **names = pbh_choose_backends(CMD, cli->backend, NULL, 0, later, sizeof later, &n);
    if (!names)
        return 2;
    /* Where the report goes, checked before anything runs. */
    char out[PATH_MAX], err[1024];
    if (cli->out && pbr_out_check("--out", cli->out, NULL, 0, out, sizeof out, err, sizeof err)) {
        fprintf(stderr, "poolbench " CMD ": %s\n", err);
        free(names);
        return 2;
    }
    uint64_t seed = choose_seed(cli);
    /* The command line, for the report and for replaying. */
    char command[1024];
    size_t used = (size_t)snprintf(command, sizeof command, "poolbench");
    for (int i = 0; i < a->argc && used < sizeof command; i++)
        used += (size_t)snprintf(command + used, sizeof command - used, " %s", a->argv[i]);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "poolbench stress: seed %llu (replay with --seed %llu)\n",
            (unsigned long long)seed, (unsigned long long)seed);
    doc_ctx dc = {.doc = NULL, .out = cli->out ? out : NULL,
                  .started_unix = ts.tv_sec + ts.tv_nsec / 1e9};
    if (cli->out && !(dc.doc = document_new(command, cli->workers, &ts))) {
        fprintf(stderr, "poolbench " CMD ": out of memory\n");
        free(names);
        return 1;
    }
    pbs_stress_opts o;
    engine_opts(cli, seed, command, &dc, &o);
    uint64_t violations = 0;
    int failed_backends = 0;
    pbh_signals_saved saved;
    pbh_signals_catch(&saved);
    stress_all(names, n, &o, &dc, &violations, &failed_backends);
    free(names);
    fputs(later, stderr);

    int status = verdict(violations, failed_backends, seed);
    if (dc.doc) {
        clock_gettime(CLOCK_REALTIME, &ts);
        double duration = ts.tv_sec + ts.tv_nsec / 1e9 - dc.started_unix;
        if (write_doc(dc.doc, dc.out, duration, !pbh_stop) != 0 && status == 0)
            status = 2;
        json_decref(dc.doc);
    }
    pbh_signals_restore(&saved);
    return status;
}
