/*
 * suite.h — suite files: which scenarios, parameters, backends and how many
 * repetitions a run takes (format: bench/suites/README.md).
 *
 * A suite is plain JSON a user can copy and edit. The parser is strict —
 * unknown fields, unknown scenarios or parameters, values of the wrong type
 * or out of range are errors — and every error is one line naming the file,
 * the field (as a JSON path such as scenarios[2].params.timeout) and the
 * problem, because a typo that silently changed what was measured would be
 * worse than a run that did not start.
 */
#ifndef PB_HARNESS_SUITE_H
#define PB_HARNESS_SUITE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "scenario.h"

/* A parameter a suite entry sets: one value, or several (a sweep). */
typedef struct pbh_override {
    const pb_param *param;
    pb_param_value *values;
    size_t nvalues;
} pbh_override;

typedef struct pbh_entry {
    const pb_scenario *scenario;
    pbh_override *overrides;
    size_t noverrides;
} pbh_entry;

typedef struct pbh_suite {
    char *name;        /* "quick" for bench/suites/quick.json, else the path given */
    char *path;        /* the file read ("" for a suite built in memory) */
    char *description; /* "" when absent */
    char **backends;   /* NULL: every backend */
    size_t nbackends;
    pbh_entry *entries;
    size_t nentries;
    int repetitions;   /* >= 1 */
    int warmup;        /* >= 0 */
    int workers;       /* -1: not set by the suite */
    char *pin;         /* NULL: not set by the suite */
    bool floor;        /* measure the floor group (default true) */
} pbh_suite;

/* Finds a suite: "-" is standard input; name_or_path is a file if it contains a '/' or names an
 * existing file; otherwise NAME.json is looked up in $POOLBENCH_SUITES_DIR,
 * then PB_SUITES_SOURCE_DIR (the source tree), then PB_SUITES_INSTALL_DIR.
 * Returns 0 with the path in buf, or PB_ENOENT with err saying where it
 * looked. */
int pbh_suite_locate(const char *name_or_path, char *buf, size_t size, char *err,
                     size_t errlen);

/* The folders searched for suites by name, in order (NULL entries skipped):
 * fills dirs[0..3). */
void pbh_suite_dirs(const char *dirs[3]);

/* Locates and parses a suite. Returns 0, PB_ENOENT / PB_EINVAL with one line
 * in err ("bench/suites/x.json: scenarios[1].name: unknown scenario 'rondtrip'"),
 * or PB_ENOMEM. */
int pbh_suite_load(const char *name_or_path, pbh_suite **out, char *err, size_t errlen);

/* Parses a suite from JSON text; file names it in messages. */
int pbh_suite_parse(const char *text, const char *file, pbh_suite **out, char *err,
                    size_t errlen);

/* Checks the suite's backends against the registered ones (after plugins are
 * loaded). Returns 0 or PB_EINVAL with err naming the file and field. */
int pbh_suite_check_backends(const pbh_suite *s, char *err, size_t errlen);

/* An empty suite (no entries; repetitions 5, warmup 1), for runs that name
 * their scenarios on the command line. NULL on ENOMEM. */
pbh_suite *pbh_suite_new_empty(const char *name);

/* Appends an entry for scenario with its default parameters. */
int pbh_suite_add_default(pbh_suite *s, const pb_scenario *scenario);

void pbh_suite_free(pbh_suite *s);

#endif /* PB_HARNESS_SUITE_H */
