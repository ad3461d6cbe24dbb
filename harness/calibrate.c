/*
 * calibrate.c — `poolbench calibrate`: how far each metric moves on this
 * machine when nothing changed, so a gate's threshold comes from measured
 * noise rather than one fixed percentage.
 *
 * It runs an A/A session — a program against itself, interleaved exactly as
 * `poolbench ab` runs BASE and NEW (ab.c) — or takes sessions already run
 * (--from: A/A sessions, pooled), and writes a noise calibration
 * (results/ab.c): per metric, the robust standard deviation sigma of the
 * log ratio of a pair's two values. `ab --noise` and `compare --noise` then
 * hold each metric to the larger of --threshold and the change its noise
 * alone rarely reaches (three standard deviations: of one run against one
 * run for compare, of the median of the session's pairs for ab).
 *
 * Calibrate on the machine that will gate, under the load it usually has:
 * the bands are that machine's.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ab.h"
#include "cli.h"
#include "commands.h"
#include "results.h"
#include "runner.h"
#include "signals.h"

typedef struct calibrate_cli {
    pbh_ab_cli s; /* first: the session options' rows point into it */
    const char *session;
} calibrate_cli;

static const calibrate_cli calibrate_defaults = {
    .s = {.suite = "ci", .pairs = 9, .repetitions = 1, .warmup = 0, .workers = -1,
          .interleave = "scenario"}};

static const pbr_option calibrate_options[] = {
    {.name = "out", .key = 'o', PBR_STRING(pbh_ab_cli, out), .arg = "FILE",
     .expect = "a file name", .required = true, .help = "where to write the noise calibration"},
    {.name = "from", PBR_FLAG(pbh_ab_cli, from),
     .help = "the operands are A/A sessions already run (poolbench ab X X)"},
    PBH_AB_SESSION_OPTIONS,
    {.name = "session", PBR_STRING(calibrate_cli, session), .arg = "FILE",
     .expect = "a file name",
     .help = "where the A/A session goes (default: OUT with -aa before .json)"},
    {0},
};

static int run_calibrate(const pbr_args *a);

const pbr_command pbh_calibrate_command = {
    .name = "calibrate",
    .summary = "measure each metric's noise band (A/A session) for ab/compare --noise",
    .synopsis = "PROGRAM --out NOISE.json [OPTIONS] | --from AB.json... --out NOISE.json",
    .about =
        "Runs PROGRAM against itself in an A/A session, interleaved as `poolbench ab`\n"
        "runs BASE and NEW, or reads A/A sessions already run (--from), and writes\n"
        "each metric's noise: the robust standard deviation of the log ratio of a\n"
        "pair's two values. With --noise NOISE.json, ab and compare hold each metric\n"
        "to the change its noise alone rarely reaches (3 standard deviations) when\n"
        "that is larger than --threshold. PROGRAM is as BASE for ab: a poolbench\n"
        "program, a build folder, or modules M.so.",
    .epilogue = "exit status: 0 written, 2 bad usage or input, or a run that failed;\n"
                "130 interrupted (nothing written but the session's finished pairs)",
    .options = calibrate_options,
    .opts_size = sizeof(calibrate_cli),
    .defaults = &calibrate_defaults,
    .operands = "a program (or, with --from, A/A session files)",
    .min_operands = 1,
    .max_operands = -1,
    .run = run_calibrate,
};

/* OUT with "-aa" before its ".json" (or after it). */
static void session_path(const char *out, char *buf, size_t len)
{
    size_t l = strlen(out);
    if (l > 5 && !strcmp(out + l - 5, ".json"))
        snprintf(buf, len, "%.*s-aa.json", (int)(l - 5), out);
    else
        snprintf(buf, len, "%s-aa.json", out);
}

/* What the calibration says, in a few lines. */
static void summarise(const json_t *noise, size_t pairs)
{
    const json_t *m = json_object_get(noise, "metrics");
    size_t n = json_array_size(m), quiet = 0, loud = 0;
    for (size_t i = 0; i < n; i++) {
        double band = pbr_noise_band_pct(pbr_json_num(json_array_get(m, i), "sigma", 0), 0);
        quiet += band <= PBR_THRESHOLD_SEPARATE;
        loud += band > 25;
    }
    printf("%zu metrics calibrated from %zu pairs: %zu within %g%% run against run, %zu beyond "
           "25%%\n",
           n, pairs, quiet, PBR_THRESHOLD_SEPARATE, loud);
}

static int run_calibrate(const pbr_args *a)
{
    const calibrate_cli *c = a->opts;
    const pbh_ab_cli *cli = &c->s;
    json_t **sessions = calloc((size_t)a->nargs + 1, sizeof *sessions);
    size_t nsessions = 0;
    int status = sessions ? 0 : 2;
    char *command = pbh_join_args(a->argc, a->argv);
    if (!command)
        status = 2;
    if (status == 0 && cli->from) {
        for (int i = 0; i < a->nargs && status == 0; i++) {
            char err[1024];
            pbr_file_kind kind;
            json_t *d = pbr_read_any(a->args[i], &kind, err, sizeof err);
            if (!d || kind != PBR_FILE_AB) {
                if (d)
                    fprintf(stderr, "poolbench calibrate: %s: not an A/B session (poolbench ab "
                                    "writes one)\n",
                            a->args[i]);
                else
                    fprintf(stderr, "poolbench calibrate: %s\n", err);
                json_decref(d);
                status = 2;
                break;
            }
            const char *bp = pbr_json_str(json_object_get(d, "base"), "program", "");
            const char *np = pbr_json_str(json_object_get(d, "new"), "program", "");
            if (strcmp(bp, np))
                fprintf(stderr, "poolbench calibrate: note: %s compares %s with %s, not a "
                                "program with itself: its differences count as noise\n",
                        a->args[i], bp, np);
            sessions[nsessions++] = d;
        }
    } else if (status == 0) {
        if (a->nargs != 1) {
            fprintf(stderr, "poolbench calibrate: needs one program (or --from and A/A "
                            "session files)\n");
            status = 2;
        } else {
            char path[4096];
            if (c->session)
                snprintf(path, sizeof path, "%s", c->session);
            else
                session_path(cli->out, path, sizeof path);
            pbh_ab_cli s = *cli;
            s.out = path;
            bool interrupted = false;
            json_t *ab;
            status = pbh_ab_run(&s, a->args[0], a->args[0], command, &ab, &interrupted);
            if (status == 0 && interrupted) {
                fprintf(stderr, "poolbench calibrate: interrupted; the finished pairs are in "
                                "%s (calibrate --from it)\n",
                        path);
                json_decref(ab);
                status = 130;
            } else if (status == 0) {
                sessions[nsessions++] = ab;
            }
        }
    }
    json_t *noise = NULL;
    if (status == 0 && !(noise = pbr_noise_new((const json_t *const *)sessions, nsessions,
                                                command))) {
        fprintf(stderr, "poolbench calibrate: out of memory\n");
        status = 2;
    }
    if (status == 0) {
        char err[1024], out[PATH_MAX];
        if (pbr_out_check("--out", cli->out, NULL, 0, out, sizeof out, err, sizeof err) ||
            pbh_write_results(out, noise, err, sizeof err) < 0) {
            fprintf(stderr, "poolbench calibrate: %s\n", err);
            status = 2;
        } else {
            size_t pairs = 0;
            for (size_t i = 0; i < nsessions; i++)
                pairs += json_array_size(json_object_get(sessions[i], "pairs"));
            summarise(noise, pairs);
            printf("noise: %s\n", cli->out);
        }
    }
    json_decref(noise);
    for (size_t i = 0; i < nsessions; i++)
        json_decref(sessions[i]);
    free(sessions);
    free(command);
    return status;
}
