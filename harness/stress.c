/*
 * stress.c — `poolbench stress`: randomized load and fault injection with
 * invariant checks, on one or more backends (the engine is stress-engine.c).
 *
 * Prints the seed first, so any run can be replayed; prints each violation
 * as it is found (seed, thread, operation, what was expected); writes the
 * results document (run.kind "stress", one case per backend) when --out is
 * given. Exit status: 0 no violation, 1 a violation (or a backend that could
 * not be stress-tested, or a hang found by the watchdog), 2 bad arguments,
 * 130 interrupted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <pb/backend.h>
#include <pb/pool.h>

#include "cli.h"
#include "commands.h"
#include "results.h"
#include "stress.h"

#define CMD "stress"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: poolbench stress [--backend LIST] [--duration S] [--seed N] [--workers N]\n"
            "                        [--threads N] [--ops N] [--faults LIST] [--out FILE]\n"
            "                        [--fault-rate X] [--tolerance MS] [--watchdog S]\n"
            "                        [--load PLUGIN.so]... [--quiet]\n"
            "\n"
            "Drives each backend's pool with a random mix of operations from several threads\n"
            "— submits of checksummed payloads, maps with random chunk sizes, wait and\n"
            "as_completed over random subsets, results with short timeouts, cancels,\n"
            "done-callbacks, failing tasks — and, where workers are processes, injects\n"
            "faults: crashes, kills from outside, hangs past task_timeout, recycling. Then it\n"
            "shuts the pool down and destroys it, and checks that every future was done\n"
            "exactly once with the right result, that only injected faults failed anything,\n"
            "that callbacks ran once, that waits kept their deadlines, and that no thread,\n"
            "child process, zombie or fd was left and memory came back. A hung operation\n"
            "ends the run with a report of what was waiting (and the stacks, with gdb).\n"
            "\n"
            "  --backend LIST   backends to stress, comma-separated (default: all)\n"
            "  --duration S     seconds per backend (default 10)\n"
            "  --seed N         seed of the schedule (default: random, printed); the same\n"
            "                   seed replays the same operations in each submitter thread\n"
            "  --workers N      pool workers (default 0: one per CPU)\n"
            "  --threads N      submitter threads (default 4)\n"
            "  --ops N          stop each submitter after N operations (default: no limit)\n"
            "  --faults LIST    fail, segv, abort, exit (crash = all three), kill, hang,\n"
            "                   recycle; all (default) or none. Backends whose tasks run in\n"
            "                   this process get only fail and recycle.\n"
            "  --fault-rate X   make failing, crashing and hanging tasks X times as frequent\n"
            "                   (default 1; 0.1 to 100)\n"
            "  --out FILE       write the results document (run.kind \"stress\") to FILE\n"
            "  --tolerance MS   how late a wait may return past its deadline or the\n"
            "                   completion it waited for (default 200, plus 50%% of the timeout)\n"
            "  --watchdog S     an operation not done after S seconds is a hang (default 90)\n"
            "  --load PLUGIN.so load a shared object that registers backends (repeatable)\n"
            "  --quiet          print only violations and the verdict\n"
            "  --help           this help\n"
            "\n"
            "Exit status: 0 no violation, 1 violations (or a hang), 2 bad arguments,\n"
            "130 interrupted.\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static bool stop_requested(void *ud)
{
    (void)ud;
    return interrupted != 0;
}

/* Parses a number in [lo, hi] (in (0, hi] when lo is 0); `what` names it
 * in the message ("a number of seconds"). */
static int parse_double(const char *opt, const char *text, const char *what, double lo, double hi,
                        double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    bool low = lo > 0 ? !(v >= lo) : !(v > 0);
    if (!*text || *end || errno || low || !(v <= hi)) {
        fprintf(stderr, "poolbench " CMD ": %s: expected %s %s %g %s %g, got '%s'\n", opt, what,
                lo > 0 ? "from" : "above", lo, lo > 0 ? "to" : "and up to", hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_u64(const char *opt, const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-' || text[0] == '+' || text[0] == ' ' ||
        v > max) {
        fprintf(stderr, "poolbench " CMD ": %s: expected a whole number from 0 to %llu, got '%s'\n",
                opt, (unsigned long long)max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* What the watchdog's last report goes into. */
typedef struct doc_ctx {
    json_t *doc;
    const char *out;
} doc_ctx;

static json_t *new_document(const char *command, int workers, double started_unix,
                            const char *started)
{
    json_t *run = json_object();
    if (!run)
        return NULL;
    json_object_set_new(run, "kind", json_string("stress"));
    json_object_set_new(run, "command", json_string(command));
    json_object_set_new(run, "suite", json_string(""));
    json_object_set_new(run, "started", json_string(started));
    json_object_set_new(run, "started_unix", json_real(started_unix));
    json_object_set_new(run, "duration_s", json_real(0));
    json_object_set_new(run, "complete", json_false());
    json_object_set_new(run, "repetitions", json_integer(1));
    json_object_set_new(run, "warmup", json_integer(0));
    json_object_set_new(run, "workers", json_integer(workers));
    json_object_set_new(run, "pin", json_string("none"));
    json_object_set_new(run, "poolbench_version", json_string(PB_VERSION_STRING));
    json_t *env = pbr_environment_new();
    if (!env) {
        json_decref(run);
        return NULL;
    }
    return pbr_document_new(run, env);
}

static int write_doc(json_t *doc, const char *path, double duration, bool complete)
{
    json_t *run = json_object_get(doc, "run");
    json_object_set_new(run, "duration_s", json_real(duration));
    json_object_set_new(run, "complete", json_boolean(complete));
    char err[512];
    if (pbr_write_atomic(path, doc, err, sizeof err) != 0) {
        fprintf(stderr, "poolbench " CMD ": %s\n", err);
        return -1;
    }
    return 0;
}

static double started_unix_g;

static void on_hang(void *ud, json_t *case_json)
{
    doc_ctx *d = ud;
    if (!d->out || !d->doc)
        return;
    json_array_append(json_object_get(d->doc, "results"), case_json);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = ts.tv_sec + ts.tv_nsec / 1e9;
    if (write_doc(d->doc, d->out, now - started_unix_g, false) == 0)
        fprintf(stderr, "poolbench " CMD ": wrote %s (incomplete: the run hung)\n", d->out);
}

int pb_cmd_stress(int argc, char **argv)
{
    pbh_stress_opts o;
    pbh_stress_opts_init(&o);
    const char *backends_arg = NULL, *out = NULL;
    bool have_seed = false;
    uint64_t seed = 0;

    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r, ms;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            o.quiet = true;
            continue;
        }
        if ((r = pbh_opt_value(CMD, argc, argv, &i, "--backend", &v)) != 0) {
            if (r < 0)
                return 2;
            backends_arg = v;
        } else if ((r = pbh_opt_value(CMD, argc, argv, &i, "--duration", &v)) != 0) {
            if (r < 0 || parse_double("--duration", v, "a number of seconds", 0, 7 * 24 * 3600.0, &o.duration_s))
                return 2;
        } else if ((r = pbh_opt_value(CMD, argc, argv, &i, "--seed", &v)) != 0) {
            /* JSON numbers are doubles to most readers: keep seeds exact. */
            if (r < 0 || parse_u64("--seed", v, (1ull << 53) - 1, &seed))
                return 2;
            have_seed = true;
        } else if ((r = pbh_opt_int(CMD, argc, argv, &i, "--workers", 0, 1024, &o.workers)) != 0) {
            if (r < 0)
                return 2;
        } else if ((r = pbh_opt_int(CMD, argc, argv, &i, "--threads", 1, 64, &o.threads)) != 0) {
            if (r < 0)
                return 2;
        } else if ((r = pbh_opt_value(CMD, argc, argv, &i, "--ops", &v)) != 0) {
            if (r < 0 || parse_u64("--ops", v, 1ull << 40, &o.ops))
                return 2;
        } else if ((r = pbh_opt_value(CMD, argc, argv, &i, "--faults", &v)) != 0) {
            char err[256];
            if (r < 0)
                return 2;
            if (pbh_stress_parse_faults(v, &o.faults, err, sizeof err)) {
                fprintf(stderr, "poolbench " CMD ": --faults: %s\n", err);
                return 2;
            }
        } else if ((r = pbh_opt_value(CMD, argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0)
                return 2;
            if (!*v) {
                fprintf(stderr, "poolbench " CMD ": --out: empty file name\n");
                return 2;
            }
            out = v;
        } else if ((r = pbh_opt_value(CMD, argc, argv, &i, "--fault-rate", &v)) != 0) {
            if (r < 0 || parse_double("--fault-rate", v, "a number", 0.1, 100, &o.fault_rate))
                return 2;
        } else if ((r = pbh_opt_int(CMD, argc, argv, &i, "--tolerance", 1, 3600000, &ms)) != 0) {
            if (r < 0)
                return 2;
            o.tolerance = (int64_t)ms * 1000000;
        } else if ((r = pbh_opt_value(CMD, argc, argv, &i, "--watchdog", &v)) != 0) {
            double s;
            if (r < 0 || parse_double("--watchdog", v, "a number of seconds", 0, 24 * 3600.0, &s))
                return 2;
            o.watchdog = (int64_t)(s * 1e9);
        } else if ((r = pbh_opt_load(CMD, argc, argv, &i)) != 0) {
            if (r < 0)
                return 2;
        } else {
            fprintf(stderr, "poolbench " CMD ": unknown argument '%s' (try poolbench stress --help)\n",
                    argv[i]);
            return 2;
        }
    }

    /* The backends, checked before anything runs. */
    char **names = NULL;
    int nnames = 0;
    const char *const *known = pb_backend_names();
    if (backends_arg && strcmp(backends_arg, "all")) {
        names = pbh_split_list(CMD, "--backend", backends_arg, &nnames);
        if (!names)
            return 2;
        for (int i = 0; i < nnames; i++) {
            if (pb_backend_summary(names[i]))
                continue;
            if (pb_backend_find(names[i])) { /* known, but not usable here (mpi) */
                fprintf(stderr, "poolbench " CMD ": --backend: %s\n", pb_pool_last_error());
                free(names);
                return 2;
            }
            char list[256] = "";
            size_t used = 0;
            for (size_t k = 0; known[k]; k++)
                used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0,
                                         "%s%s", k ? ", " : "", known[k]);
            fprintf(stderr, "poolbench " CMD ": --backend: unknown backend '%s' (known: %s)\n",
                    names[i], list);
            free(names);
            return 2;
        }
    } else {
        size_t n = 0;
        while (known[n])
            n++;
        names = malloc((n + 1) * sizeof *names);
        if (!names) {
            fprintf(stderr, "poolbench " CMD ": out of memory\n");
            return 1;
        }
        /* Every backend that can run here; one that cannot (a module that
         * does not load, mpi outside mpiexec) is left out with a note. */
        for (size_t k = 0; k < n; k++) {
            if (pb_backend_summary(known[k]))
                names[nnames++] = (char *)known[k];
            else
                fprintf(stderr, "poolbench " CMD ": left out: %s\n", pb_pool_last_error());
        }
        names[nnames] = NULL;
    }

    if (!have_seed) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        seed = r % 1000000000ull; /* short enough to type back */
    }
    o.seed = seed;

    /* The command line, for the report and for replaying. */
    char command[1024];
    size_t used = (size_t)snprintf(command, sizeof command, "poolbench");
    for (int i = 0; i < argc && used < sizeof command; i++)
        used += (size_t)snprintf(command + used, sizeof command - used, " %s", argv[i]);
    o.command = command;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    started_unix_g = ts.tv_sec + ts.tv_nsec / 1e9;
    char started[32];
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);

    fprintf(stderr, "poolbench stress: seed %llu (replay with --seed %llu)\n",
            (unsigned long long)seed, (unsigned long long)seed);

    doc_ctx dc = {.doc = NULL, .out = out};
    if (out) {
        dc.doc = new_document(command, o.workers, started_unix_g, started);
        if (!dc.doc) {
            fprintf(stderr, "poolbench " CMD ": out of memory\n");
            free(names);
            return 1;
        }
    }
    o.on_hang = on_hang;
    o.on_hang_ud = &dc;
    o.stop_requested = stop_requested;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    uint64_t violations = 0;
    int failed_backends = 0;
    for (int i = 0; i < nnames && !interrupted; i++) {
        o.backend = names[i];
        pbh_stress_result res;
        char err[512];
        int rc = pbh_stress_run(&o, &res, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "poolbench " CMD ": %s: not stress-tested: %s\n", names[i], err);
            failed_backends++;
        }
        violations += res.violations;
        if (dc.doc && res.case_json)
            json_array_append(json_object_get(dc.doc, "results"), res.case_json);
        json_decref(res.case_json);
    }

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    clock_gettime(CLOCK_REALTIME, &ts);
    double duration = ts.tv_sec + ts.tv_nsec / 1e9 - started_unix_g;
    int status = interrupted ? 130 : (violations || failed_backends) ? 1 : 0;
    if (dc.doc) {
        if (write_doc(dc.doc, out, duration, !interrupted) != 0 && status == 0)
            status = 1;
        json_decref(dc.doc);
        dc.doc = NULL;
    }
    if (violations)
        fprintf(stderr,
                "poolbench stress: FAILED: %llu violation%s (seed %llu; replay with --seed %llu)\n",
                (unsigned long long)violations, violations == 1 ? "" : "s",
                (unsigned long long)seed, (unsigned long long)seed);
    else if (failed_backends)
        fprintf(stderr, "poolbench stress: FAILED: %d backend%s could not be stress-tested\n",
                failed_backends, failed_backends == 1 ? "" : "s");
    else if (!interrupted)
        fprintf(stderr, "poolbench stress: passed (seed %llu)\n", (unsigned long long)seed);
    free(names);
    return status;
}
