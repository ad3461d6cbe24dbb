/*
 * ab.c — `poolbench ab BASE NEW`: a paired, interleaved A/B session, the
 * regression gate that does not cry wolf on a shared machine.
 *
 * DESIGN
 *
 * Two runs made apart cannot tell a slower machine from slower code: on a
 * shared 2-CPU runner the same revision's figures move by tens of percent
 * between runs minutes apart. So BASE and NEW are measured in one session,
 * in pairs, alternating which goes first (A B, B A, A B, ...: the ABBA order
 * of randomised multiple interleaved trials, Abedi & Brecht, ICPE 2017), so
 * that what drifts — another job, a thermal change, a noisy neighbour — hits
 * both members of a pair alike and cancels in their ratio. The closer in
 * time the two members, the more cancels: by default a pair is made of one
 * run per scenario and side, BASE's and NEW's run of a scenario back to
 * back, alternating which goes first from scenario to scenario (on a loaded
 * 2-CPU machine the round trips of two runs a second apart differ by 1-9%,
 * of two runs ten seconds apart by 5-70%: results/CI.md). --interleave
 * suite makes a pair of one run of the whole suite a side. A run is a
 * `poolbench run` with few repetitions (default 1 and no warm-up: the pairs
 * are the repetitions); each pair adds one value per side
 * to every metric (ab.c in results/ keeps them), and the verdict comes from
 * the distribution of the pairs' ratios (compare.c: Wilcoxon signed-rank
 * test, median ratio with its confidence interval, a minimum effect). Nine
 * pairs by default: with fewer than eight no result can reach p < 0.01.
 *
 * --duet runs the two at once, each confined to its own half of the CPUs
 * (swapped every pair), as Bulej et al. (ICPE 2020) propose for clouds:
 * both see the same moment of the machine. Each then has half the CPUs, so
 * it measures a smaller pool; whether it helps depends on the machine, and
 * results/CI.md says what it did on ours.
 *
 * BASE and NEW are programs: a poolbench executable, a build or install
 * folder holding one (harness/poolbench, bin/poolbench), or modules
 * (M.so[,M2.so]) this program loads with --load — two module sets of one
 * pool. Each run writes its results file into a working folder beside the
 * session file (or --keep DIR), which is removed at the end unless kept.
 *
 * Nothing measured is lost: the session file is rewritten atomically after
 * every pair, marked incomplete until the end. SIGINT, SIGTERM and SIGHUP
 * stop the session after the runs under way end (they are asked to stop
 * too); the finished pairs are judged and written (signals.c).
 *
 * Exit status: 0 no regression, 1 a regression or a newly failing check,
 * 2 bad usage or input (or a run that failed to run), 130 interrupted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ab.h"
#include "cli.h"
#include "commands.h"
#include "results.h"
#include "runner.h"
#include "signals.h"
#include "suite.h"

/* ------------------------------------------------------------------------
 * The programs
 * ------------------------------------------------------------------------ */

static bool is_exec_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static void program_free(pbh_ab_program *p)
{
    free(p->storage);
    memset(p, 0, sizeof *p);
}

/* Resolves a BASE or NEW operand. 0, or 2 (told). */
static int resolve_program(const char *what, const char *operand, pbh_ab_program *p)
{
    memset(p, 0, sizeof *p);
    size_t len = strlen(operand);
    bool modules = len > 3 && (!strcmp(operand + len - 3, ".so") || strstr(operand, ".so,"));
    struct stat st;
    char path[PATH_MAX] = "";
    if (modules) {
        /* This very program, loading the modules. */
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0) {
            fprintf(stderr, "poolbench ab: %s %s: cannot find this program to load it into\n",
                    what, operand);
            return 2;
        }
        path[n] = '\0';
    } else if (stat(operand, &st) == 0 && S_ISDIR(st.st_mode)) {
        static const char *const inside[] = {"harness/poolbench", "bin/poolbench", "poolbench"};
        for (size_t i = 0; i < sizeof inside / sizeof inside[0] && !*path; i++) {
            char c[PATH_MAX];
            snprintf(c, sizeof c, "%s/%s", operand, inside[i]);
            if (is_exec_file(c))
                snprintf(path, sizeof path, "%s", c);
        }
        if (!*path) {
            fprintf(stderr,
                    "poolbench ab: %s %s: a folder without a poolbench program (looked for "
                    "harness/poolbench, bin/poolbench, poolbench)\n",
                    what, operand);
            return 2;
        }
    } else if (is_exec_file(operand)) {
        snprintf(path, sizeof path, "%s", operand);
    } else {
        fprintf(stderr,
                "poolbench ab: %s %s: not a poolbench program, a build folder holding one, "
                "or modules (M.so[,M2.so])\n",
                what, operand);
        return 2;
    }
    p->storage = malloc(strlen(path) + 1 + (modules ? len + 1 : 0));
    if (!p->storage) {
        fprintf(stderr, "poolbench ab: out of memory\n");
        return 2;
    }
    strcpy(p->storage, path);
    p->argv[p->argc++] = p->storage;
    if (modules) {
        char *m = p->storage + strlen(path) + 1;
        strcpy(m, operand);
        for (char *tok = strtok(m, ","); tok && p->argc < 60; tok = strtok(NULL, ",")) {
            p->argv[p->argc++] = "--load";
            p->argv[p->argc++] = tok;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Runs
 * ------------------------------------------------------------------------ */

typedef struct run_slot {
    pid_t pid;
    char out[PATH_MAX], log[PATH_MAX];
    int status; /* exit status, 128 + signal */
    bool done;
} run_slot;

/* Starts `PROGRAM [--load M] run --suite ... --out slot->out` with stdout
 * discarded and stderr into slot->log, on cpus when not NULL. */
static int start_run(const pbh_ab_cli *cli, const pbh_ab_program *prog, const char *scenario,
                     run_slot *slot, const cpu_set_t *cpus)
{
    char reps[16], warm[16], workers[16];
    snprintf(reps, sizeof reps, "%d", cli->repetitions);
    snprintf(warm, sizeof warm, "%d", cli->warmup);
    snprintf(workers, sizeof workers, "%d", cli->workers);
    const char *argv[96];
    int n = 0;
    argv[n++] = prog->argv[0];
    argv[n++] = "run";
    for (int i = 1; i < prog->argc; i++)
        argv[n++] = prog->argv[i];
    const char *fixed[] = {"--suite", cli->suite, "--repetitions", reps, "--warmup", warm,
                           "--quiet", "--out", slot->out};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = fixed[i];
    if (cli->backend)
        argv[n++] = "--backend", argv[n++] = cli->backend;
    if (scenario)
        argv[n++] = "--scenario", argv[n++] = scenario;
    if (cli->workers >= 0)
        argv[n++] = "--workers", argv[n++] = workers;
    if (cli->pin)
        argv[n++] = "--pin", argv[n++] = cli->pin;
    argv[n] = NULL;

    unlink(slot->out);
    slot->done = false;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        int log = open(slot->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (devnull >= 0)
            dup2(devnull, 1);
        if (log >= 0)
            dup2(log, 2);
        if (cpus)
            sched_setaffinity(0, sizeof *cpus, cpus);
        /* The session's handlers are not the run's: it installs its own. */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        dprintf(2, "poolbench ab: cannot start %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    slot->pid = pid;
    return 0;
}

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits for the runs in slots[0..n) to end. A stop request is passed on
 * to them once (they stop after their current repetition). */
static void wait_runs(run_slot *slots, int n)
{
    bool forwarded = false;
    for (;;) {
        int left = 0;
        for (int i = 0; i < n; i++) {
            if (slots[i].done)
                continue;
            int ws;
            pid_t r = waitpid(slots[i].pid, &ws, WNOHANG);
            if (r == slots[i].pid) {
                slots[i].done = true;
                slots[i].status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            } else if (r < 0 && errno != EINTR) {
                slots[i].done = true;
                slots[i].status = 127;
            } else {
                left++;
            }
        }
        if (!left)
            return;
        if (pbh_stop && !forwarded) {
            for (int i = 0; i < n; i++)
                if (!slots[i].done)
                    kill(slots[i].pid, SIGTERM);
            forwarded = true;
        }
        nap(20);
    }
}

/* The last line a run wrote on stderr, for a message. */
static void last_line(const char *log, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (line[0] != '\n')
            snprintf(buf, len, "%s", line);
    fclose(f);
    size_t l = strlen(buf);
    while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
        buf[--l] = '\0';
}

/* Reads a finished run's results. NULL with a message told when it did not
 * run through (*stop: it was interrupted, or asked to stop). */
static json_t *take_results(const char *what, const run_slot *s, bool *stop)
{
    if (s->status == 130 || pbh_stop) {
        *stop = true;
        return NULL;
    }
    if (s->status != 0 && s->status != 1) {
        char why[1024];
        last_line(s->log, why, sizeof why);
        if (s->status > 128)
            fprintf(stderr, "poolbench ab: the %s run was killed by signal %d (%s)%s%s\n", what,
                    s->status - 128, strsignal(s->status - 128), *why ? ": " : "", why);
        else
            fprintf(stderr, "poolbench ab: the %s run failed (exit status %d)%s%s\n", what,
                    s->status, *why ? ": " : "", why);
        return NULL;
    }
    char err[1024];
    json_t *doc = pbr_read(s->out, err, sizeof err);
    if (!doc)
        fprintf(stderr, "poolbench ab: the %s run's results: %s\n", what, err);
    return doc;
}

/* ------------------------------------------------------------------------
 * The session
 * ------------------------------------------------------------------------ */

/* The halves of the CPUs this process may use, for --duet. 0, or 2 (told). */
static int split_cpus(cpu_set_t halves[2])
{
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) != 0) {
        fprintf(stderr, "poolbench ab: --duet: cannot read the CPUs this process may use: %s\n",
                strerror(errno));
        return 2;
    }
    int n = CPU_COUNT(&all), k = 0;
    if (n < 2) {
        fprintf(stderr, "poolbench ab: --duet needs at least 2 CPUs; this process may use %d\n",
                n);
        return 2;
    }
    CPU_ZERO(&halves[0]);
    CPU_ZERO(&halves[1]);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all))
            CPU_SET(c, &halves[k++ < n / 2 ? 0 : 1]);
    return 0;
}

/* The working folder of a session: --keep DIR, or a hidden one beside the
 * session file (removed at the end). 0, or 2 (told). */
static int work_dir(const pbh_ab_cli *cli, char *dir, size_t len)
{
    if (cli->keep) {
        snprintf(dir, len, "%s", cli->keep);
    } else {
        const char *slash = strrchr(cli->out, '/');
        if (slash)
            snprintf(dir, len, "%.*s/.%s.runs", (int)(slash - cli->out), cli->out, slash + 1);
        else
            snprintf(dir, len, ".%s.runs", cli->out);
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "poolbench ab: cannot create %s: %s\n", dir, strerror(errno));
        return 2;
    }
    return 0;
}

static void remove_work_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[PATH_MAX];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p)
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One unit of a pair: BASE's and NEW's run of the suite (scenario NULL) or
 * of one scenario, first `first` (0 BASE, 1 NEW) or both at once. Returns
 * 0 with both documents, 1 when the session is to stop (interrupted), or 2
 * (told). */
static int run_unit(const pbh_ab_cli *cli, const pbh_ab_program progs[2], const char *dir,
                    int pair, const char *scenario, int first, const cpu_set_t *halves,
                    json_t *docs[2])
{
    run_slot slots[2];
    static const char *const names[2] = {"base", "new"};
    memset(slots, 0, sizeof slots);
    for (int s = 0; s < 2; s++) {
        if ((size_t)snprintf(slots[s].out, sizeof slots[s].out, "%s/pair-%02d-%s%s%s.json", dir,
                             pair + 1, scenario ? scenario : "", scenario ? "-" : "",
                             names[s]) >= sizeof slots[s].out ||
            (size_t)snprintf(slots[s].log, sizeof slots[s].log, "%s/pair-%02d-%s%s%s.log", dir,
                             pair + 1, scenario ? scenario : "", scenario ? "-" : "",
                             names[s]) >= sizeof slots[s].log) {
            fprintf(stderr, "poolbench ab: %s: path too long\n", dir);
            return 2;
        }
    }
    if (cli->duet) {
        for (int s = 0; s < 2; s++) {
            int rc = start_run(cli, &progs[s], scenario, &slots[s], &halves[(s + pair) % 2]);
            if (rc) {
                fprintf(stderr, "poolbench ab: cannot start the %s run: %s\n", names[s],
                        strerror(-rc));
                if (s)
                    wait_runs(slots, 1);
                return 2;
            }
        }
        wait_runs(slots, 2);
    } else {
        for (int k = 0; k < 2 && !pbh_stop; k++) {
            int s = k == 0 ? first : 1 - first;
            int rc = start_run(cli, &progs[s], scenario, &slots[s], NULL);
            if (rc) {
                fprintf(stderr, "poolbench ab: cannot start the %s run: %s\n", names[s],
                        strerror(-rc));
                return 2;
            }
            wait_runs(&slots[s], 1);
            if (slots[s].status != 0 && slots[s].status != 1)
                break;
        }
    }
    /* In the order they ran: a run that failed is told, even when it kept
     * the other from starting. */
    bool stop = false;
    int status = 0;
    for (int k = 0; k < 2 && status == 0 && !stop; k++) {
        int s = k == 0 ? first : 1 - first;
        if (!slots[s].done) { /* never started: the session is stopping */
            stop = true;
            break;
        }
        docs[s] = take_results(names[s], &slots[s], &stop);
        if (!docs[s] && !stop)
            status = 2;
    }
    if (stop || status) {
        json_decref(docs[0]);
        json_decref(docs[1]);
        docs[0] = docs[1] = NULL;
        return stop && !status ? 1 : 2;
    }
    return 0;
}

/* Adds the cases of part to whole that whole does not have yet (a floor
 * case measured again for another scenario's run is kept once). */
static int merge_cases(json_t *whole, const json_t *part)
{
    json_t *results = json_object_get(whole, "results");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(part, "results"), i, c)
    {
        char *key = pbr_params_key(json_object_get(c, "params"));
        if (!key)
            return -ENOMEM;
        bool have = pbr_find_case(whole, pbr_json_str(c, "backend", ""),
                                  pbr_json_str(c, "scenario", ""), key) != NULL;
        free(key);
        if (!have && json_array_append(results, c))
            return -ENOMEM;
    }
    return 0;
}

/* One pair: BASE's and NEW's runs of every unit (the suite, or each of its
 * scenarios), each unit's two runs back to back, alternating which goes
 * first from unit to unit and pair to pair (ABBA). *step counts units
 * across the session. Returns 0 with the pair's documents, 1 (stop) or 2. */
static int run_pair(const pbh_ab_cli *cli, const pbh_ab_program progs[2], const char *dir,
                    int pair, char *const *units, int nunits, int *step,
                    const cpu_set_t *halves, json_t *docs[2], const char **order)
{
    docs[0] = docs[1] = NULL;
    *order = cli->duet ? "duet" : *step % 2 == 0 ? "AB" : "BA";
    for (int u = 0; u < (nunits ? nunits : 1); u++) {
        json_t *part[2] = {NULL, NULL};
        int first = (*step)++ % 2;
        int rc = run_unit(cli, progs, dir, pair, nunits ? units[u] : NULL, first, halves, part);
        for (int s = 0; rc == 0 && s < 2; s++) {
            if (!docs[s])
                docs[s] = json_incref(part[s]);
            else if (merge_cases(docs[s], part[s]) < 0) {
                fprintf(stderr, "poolbench ab: out of memory\n");
                rc = 2;
            }
        }
        json_decref(part[0]);
        json_decref(part[1]);
        if (rc) {
            json_decref(docs[0]);
            json_decref(docs[1]);
            docs[0] = docs[1] = NULL;
            return rc;
        }
    }
    return 0;
}

/* The units of a pair (--interleave scenario): the scenarios of --scenario,
 * or of the suite as this program finds it. NULL with *n 0 for a run of
 * the whole suite; NULL with *n -1 on a bad suite (told). */
static char **session_units(const pbh_ab_cli *cli, int *n)
{
    *n = 0;
    if (!strcmp(cli->interleave, "suite"))
        return NULL;
    if (cli->scenario)
        return pbh_split_list("ab", "--scenario", cli->scenario, n);
    char err[1024];
    pbh_suite *suite;
    if (pbh_suite_load(cli->suite, &suite, err, sizeof err)) {
        fprintf(stderr, "poolbench ab: %s\n", err);
        *n = -1;
        return NULL;
    }
    /* One name per scenario, in the suite's order; the strings after the
     * pointers, as pbh_split_list lays them out. */
    size_t len = 0;
    for (size_t i = 0; i < suite->nentries; i++)
        len += strlen(suite->entries[i].scenario->name) + 1;
    char **v = malloc((suite->nentries + 1) * sizeof *v + len);
    if (!v) {
        pbh_suite_free(suite);
        *n = -1;
        fprintf(stderr, "poolbench ab: out of memory\n");
        return NULL;
    }
    char *p = (char *)(v + suite->nentries + 1);
    for (size_t i = 0; i < suite->nentries; i++) {
        const char *name = suite->entries[i].scenario->name;
        bool seen = false;
        for (int k = 0; k < *n && !seen; k++)
            seen = !strcmp(v[k], name);
        if (seen)
            continue;
        strcpy(p, name);
        v[(*n)++] = p;
        p += strlen(name) + 1;
    }
    v[*n] = NULL;
    pbh_suite_free(suite);
    return v;
}

int pbh_ab_run(const pbh_ab_cli *cli, const char *base, const char *now, const char *command,
               json_t **abp, bool *interrupted)
{
    *abp = NULL;
    *interrupted = false;
    char err[1024], out[PATH_MAX];
    if (pbr_out_check("--out", cli->out, NULL, 0, out, sizeof out, err, sizeof err)) {
        fprintf(stderr, "poolbench ab: %s\n", err);
        return 2;
    }
    pbh_ab_program progs[2];
    if (resolve_program("BASE", base, &progs[0]))
        return 2;
    if (resolve_program("NEW", now, &progs[1])) {
        program_free(&progs[0]);
        return 2;
    }
    cpu_set_t halves[2];
    char dir[PATH_MAX];
    int nunits, step = 0;
    char **units = session_units(cli, &nunits);
    int status = nunits < 0 ? 2 : cli->duet ? split_cpus(halves) : 0;
    if (status == 0)
        status = work_dir(cli, dir, sizeof dir);
    double started = now_unix();
    pbr_ab_info info = {.command = command, .suite = cli->suite, .base_program = base,
                        .new_program = now, .started_unix = started, .duet = cli->duet,
                        .interleave = cli->interleave,
                        .pairs = cli->pairs, .repetitions = cli->repetitions,
                        .warmup = cli->warmup, .workers = cli->workers < 0 ? 0 : cli->workers,
                        .pin = cli->pin};
    json_t *ab = status == 0 ? pbr_ab_new(&info) : NULL;
    if (status == 0 && !ab) {
        fprintf(stderr, "poolbench ab: out of memory\n");
        status = 2;
    }
    pbh_signals_saved saved;
    pbh_signals_catch(&saved);
    for (int pair = 0; status == 0 && pair < cli->pairs && !pbh_stop; pair++) {
        if (!cli->quiet)
            fprintf(stderr, "poolbench ab: pair %d/%d, %.0f s so far\n", pair + 1, cli->pairs,
                    now_unix() - started);
        json_t *docs[2] = {NULL, NULL};
        const char *order;
        int rc = run_pair(cli, progs, dir, pair, units, nunits, &step, halves, docs, &order);
        if (rc == 1)
            break;
        if (rc) {
            status = 2;
            break;
        }
        if (pbr_ab_add_pair(ab, docs[0], docs[1], order) < 0) {
            fprintf(stderr, "poolbench ab: out of memory\n");
            status = 2;
        }
        json_decref(docs[0]);
        json_decref(docs[1]);
        pbr_ab_finish(ab, now_unix() - started, false);
        if (status == 0 && pbh_write_results(out, ab, err, sizeof err) < 0) {
            fprintf(stderr, "poolbench ab: %s\n", err);
            status = 2;
        }
    }
    size_t done = ab ? json_array_size(json_object_get(ab, "pairs")) : 0;
    *interrupted = pbh_stop != 0;
    if (ab) {
        /* The last write: complete only when every pair was run. */
        pbr_ab_finish(ab, now_unix() - started, status == 0 && done == (size_t)cli->pairs);
        if (pbh_write_results(out, ab, err, sizeof err) < 0) {
            fprintf(stderr, "poolbench ab: %s\n", err);
            status = 2;
        } else if (!cli->quiet) {
            fprintf(stderr, "poolbench ab: %zu of %d pairs in %s%s\n", done, cli->pairs,
                    cli->out, done < (size_t)cli->pairs ? " (incomplete)" : "");
        }
    }
    pbh_signals_restore(&saved);
    if (status == 0 && !cli->keep)
        remove_work_dir(dir);
    else if (status != 0 && !cli->keep && ab)
        fprintf(stderr, "poolbench ab: the runs' files and logs are kept in %s\n", dir);
    program_free(&progs[0]);
    program_free(&progs[1]);
    free(units);
    if (status) {
        json_decref(ab);
        return status;
    }
    *abp = ab;
    return 0;
}

/* ------------------------------------------------------------------------
 * The command
 * ------------------------------------------------------------------------ */

static const pbh_ab_cli ab_defaults = {
    .suite = "ci", .pairs = 9, .repetitions = 1, .warmup = 0, .workers = -1,
    .interleave = "scenario",
    .threshold = -1, .alpha = 0.01, .format = "text", .metric = "*", .gate = "headline"};

static const pbr_option ab_options[] = {
    {.name = "out", .key = 'o', PBR_STRING(pbh_ab_cli, out), .arg = "FILE",
     .expect = "a file name", .required = true,
     .help = "the session file, rewritten after every pair"},
    PBH_AB_SESSION_OPTIONS,
    {.name = "threshold", PBR_REAL(pbh_ab_cli, threshold, 0, INFINITY), .arg = "PCT",
     .expect = "a percentage",
     .help = "minimum effect, in % (default 2); a metric's calibrated band\n"
             "(--noise) or its pairs' own noise band when that is larger"},
    {.name = "alpha", PBR_REAL(pbh_ab_cli, alpha, 0, 1), .above = true, .arg = "A",
     .help = "significance level (default 0.01)"},
    {.name = "noise", PBR_STRING(pbh_ab_cli, noise), .arg = "FILE", .expect = "a file name",
     .help = "noise bands from poolbench calibrate: each metric's threshold"},
    {.name = "metric", PBR_STRING(pbh_ab_cli, metric), .arg = "GLOB",
     .help = "judge only metrics whose name matches (default: all)"},
    {.name = "gate", PBR_CHOICE(pbh_ab_cli, gate, "headline", "all"), .arg = "WHICH",
     .help = "whose regressions set exit status 1: each case's headline\n"
             "metric (default), or all metrics"},
    {.name = "format", .key = 'f', PBR_CHOICE(pbh_ab_cli, format, "text", "markdown", "json"),
     .arg = "FMT", .help = "the verdict's report: text (default), markdown or json"},
    {0},
};

static int run_ab(const pbr_args *a);

const pbr_command pbh_ab_command = {
    .name = "ab",
    .summary = "paired A/B session of two builds; exit 1 on a regression (the CI gate)",
    .synopsis = "BASE NEW --out AB.json [OPTIONS]",
    .about =
        "Runs BASE and NEW over the same suite in one session, in interleaved pairs\n"
        "(BASE then NEW, NEW then BASE, ...), or side by side with --duet, and judges\n"
        "every metric by the ratios of its pairs: the median ratio NEW/BASE with its\n"
        "95% confidence interval, and a Wilcoxon signed-rank test. A regression is\n"
        "worse than the minimum effect (or, if larger, the metric's calibrated noise\n"
        "band, or its pairs' own) and significant at alpha; a check that never\n"
        "failed in BASE and fails in NEW is one too. BASE and NEW are each a poolbench program, a build or install\n"
        "folder holding one, or modules M.so[,M2.so] for this program to --load.\n"
        "The session file (`poolbench compare AB.json` judges it again) is rewritten\n"
        "after every pair.",
    .epilogue = "exit status: 0 no regression, 1 a regression or a newly failing check,\n"
                "2 bad usage or input, or a run that failed; 130 interrupted (the finished\n"
                "pairs are judged and written)",
    .options = ab_options,
    .opts_size = sizeof(pbh_ab_cli),
    .defaults = &ab_defaults,
    .operands = "two programs, BASE and NEW",
    .min_operands = 2,
    .max_operands = 2,
    .run = run_ab,
};

static int run_ab(const pbr_args *a)
{
    const pbh_ab_cli *cli = a->opts;
    json_t *noise = NULL;
    if (cli->noise && pbr_read_noise(cli->noise, &noise))
        return 2;
    char *command = pbh_join_args(a->argc, a->argv);
    json_t *ab = NULL;
    bool interrupted = false;
    int status = command ? pbh_ab_run(cli, a->args[0], a->args[1], command, &ab, &interrupted)
                         : 2;
    if (status == 0) {
        pbr_verdict_opts vo = {.threshold = cli->threshold, .alpha = cli->alpha,
                               .metric = cli->metric, .format = cli->format, .noise = noise,
                               .noise_path = cli->noise,
                               .gate_all = !strcmp(cli->gate, "all")};
        status = json_array_size(json_object_get(ab, "pairs"))
                     ? pbr_compare_session(ab, cli->out, &vo, stdout)
                     : 0;
        if (interrupted)
            status = 130;
    }
    json_decref(ab);
    json_decref(noise);
    free(command);
    return status;
}
