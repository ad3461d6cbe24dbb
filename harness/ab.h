/*
 * ab.h — a paired A/B session (ab.c): two poolbench programs run the same
 * suite in interleaved pairs, or side by side on their own CPUs. `ab` judges
 * the session; `calibrate` runs a program against itself to measure noise.
 */
#ifndef PB_HARNESS_AB_H
#define PB_HARNESS_AB_H

#include <jansson.h>
#include <stdbool.h>

#include "command.h"

/* The options of a session, shared by `ab` and `calibrate`. */
typedef struct pbh_ab_cli {
    const char *suite, *backend, *scenario, *pin, *out, *keep, *interleave;
    int pairs, repetitions, warmup, workers;
    bool duet, quiet;
    /* ab: how the session is judged */
    double threshold, alpha;
    const char *noise, *format, *metric, *gate;
    /* calibrate: sessions already run */
    bool from;
} pbh_ab_cli;

/* The table rows of the session options (ab.c), for each command's table. */
#define PBH_AB_SESSION_OPTIONS                                                                \
    {.name = "suite", PBR_STRING(pbh_ab_cli, suite), .arg = "NAME|FILE",                    \
     .expect = "a suite name or file",                                                       \
     .help = "the suite both run (default: ci); a name is looked up by each\n"               \
             "program in its own suites, a file is the same for both"},                      \
        {.name = "pairs", PBR_INT(pbh_ab_cli, pairs, 1, 1000), .arg = "N",                   \
         .help = "pairs of runs (default 9: a verdict at alpha 0.01 needs 8)"},             \
        {.name = "repetitions", PBR_INT(pbh_ab_cli, repetitions, 1, 1000000), .arg = "N",    \
         .help = "repetitions per case in each run (default 1)"},                             \
        {.name = "warmup", PBR_INT(pbh_ab_cli, warmup, 0, 1000000), .arg = "N",              \
         .help = "warm-up repetitions per case in each run (default 0)"},                     \
        {.name = "backend", PBR_STRING(pbh_ab_cli, backend), .arg = "LIST",                  \
         .help = "comma-separated backends (default: the suite's)"},                           \
        {.name = "scenario", PBR_STRING(pbh_ab_cli, scenario), .arg = "LIST",                \
         .help = "only these scenarios"},                                                      \
        {.name = "workers", PBR_INT(pbh_ab_cli, workers, 0, 4096), .arg = "N",               \
         .help = "workers per pool (default: the suite's)"},                                  \
        {.name = "pin", PBR_STRING(pbh_ab_cli, pin), .arg = "POLICY",                        \
         .expect = "none, compact, scatter or a CPU list",                                   \
         .help = "pin policy of both (default: the suite's)"},                                \
        {.name = "interleave", PBR_CHOICE(pbh_ab_cli, interleave, "scenario", "suite"),      \
         .arg = "UNIT",                                                                        \
         .help = "what BASE and NEW alternate on: a run per scenario (default:\n"              \
                 "the two runs of a scenario a second apart) or of the suite"},               \
        {.name = "duet", PBR_FLAG(pbh_ab_cli, duet),                                         \
         .help = "run BASE and NEW at once, each on its own half of the CPUs\n"              \
                 "(swapped every pair), instead of one after the other"},                    \
        {.name = "keep", PBR_STRING(pbh_ab_cli, keep), .arg = "DIR", .expect = "a folder",   \
         .help = "keep every run's results file in DIR"},                                      \
        {.name = "quiet", .key = 'q', PBR_FLAG(pbh_ab_cli, quiet),                           \
         .help = "no progress on stderr"}

/* A BASE or NEW operand, as a command line: a poolbench program, a build or
 * install folder holding one, or modules (M.so[,M2.so...]) loaded by this
 * program. */
typedef struct pbh_ab_program {
    char *argv[64]; /* the program and the options before "run" ... */
    int argc;       /* ... up to here; "run" and its options follow */
    char *storage;  /* what argv points into */
} pbh_ab_program;

/* Runs a session of BASE against NEW as the options say, writing the
 * session file (cli->out) after every pair. Returns 0 with *ab (the
 * session; caller owns it) and *interrupted, or 2 (told). */
int pbh_ab_run(const pbh_ab_cli *cli, const char *base, const char *now, const char *command,
               json_t **ab, bool *interrupted);

#endif /* PB_HARNESS_AB_H */
