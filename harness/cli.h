/*
 * cli.h — what the harness's commands share beyond the option parser
 * (results/command.h): plugins (--load), lists of names, and the backends a
 * command runs over. Every error is one line on stderr naming the command
 * and what was wrong; the command then exits with status 2.
 */
#ifndef PB_HARNESS_CLI_H
#define PB_HARNESS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "command.h"

/* The --load option, for a command whose options struct has an int
 * `plugins`: each --load PLUGIN.so is loaded as it is read (so the
 * backends it registers are known to what follows) and counted. */
int pbh_load_option(const char *path, void *plugins, char *err, size_t errlen);
#define PBH_LOAD_OPTION(type)                                                        \
    {.name = "load", PBR_CALL(type, plugins, pbh_load_option), .arg = "PLUGIN.so", \
     .help = "load a shared object that registers backends (repeatable)"}

/* Splits a comma-separated list into a NULL-terminated array of strings
 * (one allocation; free the array). Empty items are an error: returns NULL
 * with a message printed, as on ENOMEM. An item that is key=value continues
 * the one before it: "thread,fork:a=1,b=2" is "thread" and "fork:a=1,b=2". */
char **pbh_split_list(const char *cmd, const char *opt, const char *text, int *n);

/* Whether spec ("fork" or "fork:transport=shm") names backend name. */
bool pbh_backend_is(const char *name, const char *spec);

/* The backends a command runs over: those named in arg (--backend: a
 * comma-separated list, each known and named once; "all" or NULL: not
 * named), else dflt[0..ndflt) (a suite's), else every backend registered,
 * where one that cannot be loaded (a module) is left out with a note. One
 * that loads but cannot run in this process (mpi outside mpiexec) is left
 * out of every one with a note appended to later[0..later_size), for the
 * caller to tell once its work is done (it is not a fault, and must not read
 * as one before an error line). Returns a NULL-terminated array of *n names
 * (free the array; the names point into it, dflt or the registry), or NULL
 * with one line told. */
char **pbh_choose_backends(const char *cmd, const char *arg, char *const *dflt, size_t ndflt,
                           char *later, size_t later_size, int *n);

/* "poolbench ARGV..." as one string (malloc'd), for a results file's
 * run.command; NULL on ENOMEM. (ab.c) */
char *pbh_join_args(int argc, char **argv);

#endif /* PB_HARNESS_CLI_H */
